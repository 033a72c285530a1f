// Structured JSON lines for kirsa's servers (the webhook, the local STS), written by kirsa's own code. pino
// did this before; it cost the webhook 1.1-1.3 MB of resident memory for the life of the pod, mostly for what
// it loads to start transports kirsa never starts (thread-stream, worker_threads, assert), against an idle
// target of 60 MB (docs/webhook.md). What kirsa used of it is small: levels, one synchronous line per call,
// Errors written as objects, and redaction.
//
// A line is one JSON object: level (its name), time, pid, hostname, name, then the logged fields, then msg
// (left out when there is none). A field named like one of the first five is written with a leading `_`, so
// logged content can neither hide nor fake them.
//
// Redaction is built in so that no token, key or credential reaches a log line even if one slips into a
// logged object (a kubeconfig user, a request header, an error carrying a response body):
//   - by key name, at any depth, in any case: the value of a key named token, accessToken, key, privateKey,
//     password, secret, authorization, cookie, keyData or certData is written as [redacted], whatever it is;
//   - the body of a logged Error (a client's error carries the API server's whole answer) likewise;
//   - in free text: every string (field values, messages, an Error's message and stack) goes through
//     redactSecrets, because an API server error that echoes the request's Authorization header arrives as a
//     message string (the client's error message, a watch Status.message), which no key name catches.
// An object nested deeper than 6 levels is written as [too deep], a cycle as [circular]. Nothing logged makes
// the logger throw: a bigint is written as a string; undefined, functions and symbols are left out, as
// JSON.stringify leaves them out.

import type { LOG_LEVELS } from '../consts.ts';
import { utcIsoString } from './utc-time.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { writeSync } = process.getBuiltinModule('node:fs');
const { hostname } = process.getBuiltinModule('node:os');

/** A --log-level: the least severe level written, or silent for none. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One level's method: a message, fields with an optional message, or an Error (its message is the default). */
export interface LogMethod {
  (message: string): void;
  (error: Error, message?: string): void;
  (fields: object, message?: string): void;
}

export interface Logger {
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  /** Whether a line at this level is written (for work done only to build a line). */
  isLevelEnabled(level: LogLevel): boolean;
}

/** Where lines go: each call gets one whole line, its "\n" included. */
export interface LogDestination {
  write(line: string): void;
}

/** Severity by level; silent is above every level a line can have. */
const SEVERITY: Readonly<Record<LogLevel, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};
const METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

const CENSOR = '[redacted]';
/** Key names whose values are never written, compared in lower case. */
const SECRET_KEYS = new Set([
  'token',
  'accesstoken',
  'key',
  'privatekey',
  'password',
  'secret',
  'authorization',
  'cookie',
  'keydata',
  'certdata',
]);
/** Keys every line starts with; a field of the same name is written as `_name`. */
const HEADER_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name']);
/** How deep a logged object is followed: the fields are level 0, an Error as first argument level 1. */
const MAX_DEPTH = 6;

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

/**
 * The level for klog's --v (the reference's verbosity): it logs each request at V(4) and its cache detail at
 * V(5), which kirsa logs at debug; above that, trace. Below 4 the reference logs what kirsa logs at info.
 */
export function levelForKlogVerbosity(verbosity: number): LogLevel {
  if (verbosity >= 6) return 'trace';
  if (verbosity >= 4) return 'debug';
  return 'info';
}

function isError(value: unknown): value is Error {
  // The tag too: an Error made in another realm (node:vm) is not an instance of this one's Error.
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/** A copy of a logged value that JSON.stringify writes as it is: redacted, bounded, without cycles. */
function clean(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
      return redactSecrets(value);
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return undefined; // undefined, a function, a symbol: left out, as JSON.stringify does
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return '[circular]';
  if (depth > MAX_DEPTH) return '[too deep]';
  ancestors.push(value);
  try {
    if (isError(value)) return cleanError(value, depth, ancestors);
    // Not toJSON: it calls toISOString (utc-time.ts says what that costs).
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : utcIsoString(value.getTime());
    if (Array.isArray(value)) return value.map((item) => clean(item, depth + 1, ancestors) ?? null);
    const { toJSON } = value as { toJSON?: unknown };
    if (typeof toJSON === 'function') return clean(toJSON.call(value), depth + 1, ancestors);
    const copy: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value)) copy[key] = cleanField(key, value, depth, ancestors);
    return copy;
  } finally {
    ancestors.pop();
  }
}

/** The value of `owner[key]` as written: [redacted] for a secret key's, else cleaned one level down. */
function cleanField(key: string, owner: object, depth: number, ancestors: object[]): unknown {
  const value = (owner as Record<string, unknown>)[key];
  if (value !== undefined && SECRET_KEYS.has(key.toLowerCase())) return CENSOR;
  return clean(value, depth + 1, ancestors);
}

/** An Error as { type, message, stack, its own properties (code, statusCode, ...), cause }. */
function cleanError(error: Error, depth: number, ancestors: object[]): Record<string, unknown> {
  const copy: Record<string, unknown> = Object.create(null);
  copy.type = typeof error.constructor === 'function' ? error.constructor.name : error.name;
  copy.message = redactSecrets(String(error.message));
  if (typeof error.stack === 'string') copy.stack = redactSecrets(error.stack);
  for (const key of Object.keys(error)) {
    if (key in copy) continue;
    copy[key] =
      key === 'body' && (error as { body?: unknown }).body !== undefined
        ? CENSOR
        : cleanField(key, error, depth, ancestors);
  }
  // cause and AggregateError's errors are own properties but not enumerable ones.
  if (!('cause' in copy) && error.cause !== undefined) copy.cause = clean(error.cause, depth + 1, ancestors);
  if (error instanceof AggregateError && !('errors' in copy))
    copy.errors = clean(error.errors, depth + 1, ancestors);
  return copy;
}

let pause: Int32Array | undefined;

/**
 * Lines written whole and synchronously to a file descriptor, as pino wrote them with `sync: true`: a line
 * logged just before the process exits (a start-up failure, the end of a shutdown) is not left in a buffer,
 * and lines keep their order. When the descriptor is a pipe in non-blocking mode (the mode belongs to the
 * pipe, shared with every process that holds it, and libuv sets it on the pipes it opens), writeSync can
 * write part of a line, or nothing and fail with EAGAIN, while the reader (the container runtime) is behind.
 * The rest is then written after a 1 ms pause, as often as it takes, so no line is lost or cut in half; only
 * a reader that stopped reading keeps the caller waiting. Any other failure (EPIPE, EBADF: nobody can read
 * it) drops the line, because logging must never throw into the code that logs.
 */
export function fileDescriptorDestination(fd: number): LogDestination {
  return {
    write(line) {
      const bytes = Buffer.from(line, 'utf8');
      let written = 0;
      while (written < bytes.length) {
        try {
          written += writeSync(fd, bytes, written);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
          pause ??= new Int32Array(new SharedArrayBuffer(4));
          Atomics.wait(pause, 0, 0, 1);
        }
      }
    },
  };
}

/** A logger writing lines at `level` and above to `destination` (stdout, synchronously, by default). */
export function createLogger(
  level: LogLevel,
  destination: LogDestination = fileDescriptorDestination(1),
  name = 'kirsa-webhook',
): Logger {
  const threshold = SEVERITY[level];
  const fixed = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"name":${JSON.stringify(name)}`;

  function write(label: (typeof METHODS)[number], first: unknown, message: unknown) {
    let fields: object | undefined;
    let text: unknown = message;
    if (isError(first)) {
      // As pino: the Error under err, its message the line's unless one is given.
      fields = { err: first };
      text ??= first.message;
    } else if (first !== null && typeof first === 'object') fields = first;
    else text = first;
    const head = `{"level":"${label}","time":"${utcIsoString(Date.now())}"${fixed}`;
    let line = head;
    try {
      if (fields !== undefined) {
        const ancestors = [fields];
        for (const key of Object.keys(fields)) {
          if (key === 'msg') {
            text ??= (fields as { msg?: unknown }).msg;
            continue;
          }
          const value = cleanField(key, fields, 0, ancestors);
          if (value === undefined) continue;
          line += `,${JSON.stringify(HEADER_KEYS.has(key) ? `_${key}` : key)}:${JSON.stringify(value)}`;
        }
      }
      if (text !== undefined) line += `,"msg":${JSON.stringify(redactSecrets(String(text)))}`;
    } catch (error) {
      // A getter or a toJSON that throws: the line still says that something was logged, and where.
      line = `${head},"msg":${JSON.stringify(redactSecrets(String(text ?? '')))},"logError":${JSON.stringify(
        redactSecrets(String((error as Error)?.message)),
      )}`;
    }
    destination.write(`${line}}\n`);
  }

  const logger = {
    isLevelEnabled: (wanted: LogLevel) => wanted !== 'silent' && SEVERITY[wanted] >= threshold,
  } as Logger;
  const skip = () => {};
  for (const label of METHODS) {
    // A level below the logger's is a function that does nothing: no fields are looked at, no time is read.
    logger[label] =
      SEVERITY[label] >= threshold
        ? (first: unknown, message?: string) => write(label, first, message)
        : skip;
  }
  return logger;
}
