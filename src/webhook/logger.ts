// Structured JSON logs (pino) for the long-running webhook. Redaction is built in so that no token, key or
// credential reaches a log line even if one slips into a logged object (a kubeconfig user, a request header,
// an error carrying a response body).

import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

const REDACTED_PATHS = [
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'key',
  '*.key',
  'privateKey',
  '*.privateKey',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'user.token',
  'user.password',
  'user.keyData',
  'user.certData',
  'err.body',
  'err.headers.authorization',
];

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'kirsa-webhook',
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
