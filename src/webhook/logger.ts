// Structured JSON logs (pino) for the long-running webhook. Redaction is built in so that no token, key or
// credential reaches a log line even if one slips into a logged object (a kubeconfig user, a request header,
// an error carrying a response body): by field path, and in free text too, because an API server error that
// echoes the request's Authorization header arrives as a message string (the client's error message, a
// watch Status.message), which path redaction never sees.

import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';
import { utcIsoString } from './utc-time.ts';

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

const CENSOR = '[redacted]';
/** A JWS compact token (a service-account token, an OIDC token): three base64url parts, the first `eyJ`. */
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
/** An HTTP credential after its scheme (token68 characters, 8 or more, so prose such as "bearer of" stays). */
const SCHEME_CREDENTIAL = /\b(Bearer|Basic)(\s+|%20)(?!\[redacted\])[\w.~+/=-]{8,}/gi;
/** The value of an Authorization header or field, as text or as JSON: `Authorization: x`, `"authorization":["x"]`. */
const AUTHORIZATION_VALUE = /(authorization\\?["']?\s*[:=]\s*\[?\s*\\?["']?)[^"'\r\n,}\]\\]+/gi;

/** The text with bearer and basic credentials, Authorization values and JWTs replaced by [redacted]. */
export function redactSecrets(text: string): string {
  // Nearly every log string has none of these: test cheaply before any replace.
  if (!/eyJ|bearer|basic|authorization/i.test(text)) return text;
  // The whole Authorization value first (scheme included), then credentials and tokens met elsewhere.
  return text
    .replace(AUTHORIZATION_VALUE, `$1${CENSOR}`)
    .replace(SCHEME_CREDENTIAL, `$1$2${CENSOR}`)
    .replace(JWT, CENSOR);
}

/** A copy of a logged value with every string in it passed through redactSecrets; Errors as pino logs them. */
function redactDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (value instanceof Error) return redactDeep(pino.stdSerializers.err(value), depth + 1);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactDeep(item, depth + 1);
  return copy;
}

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
      // pino's isoTime, without toISOString's time-zone lookup (utc-time.ts).
      timestamp: () => `,"time":"${utcIsoString(Date.now())}"`,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
