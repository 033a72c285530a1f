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

/**
 * The level for klog's --v (the reference's verbosity): it logs each request at V(4) and its cache detail at
 * V(5), which kirsa logs at debug; above that, trace. Below 4 the reference logs what kirsa logs at info.
 */
export function levelForKlogVerbosity(verbosity: number): LevelWithSilent {
  if (verbosity >= 6) return 'trace';
  if (verbosity >= 4) return 'debug';
  return 'info';
}

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
