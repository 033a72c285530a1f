// What of a pod, a review or an error may reach the webhook's log: identifiers and codes, never content.
// Anything that reaches the webhook's port can send a review, so every string in it is the sender's: a label
// value, an annotation, an env value, a container name, and every error message built from them (V8's
// `Cannot use 'in' operator to search for 'x' in <the label value>` quotes the value). Logs are read by
// people and shipped to other systems with other access rules; what a pod carries must not travel there.
// So a log line carries a namespace, a name or generateName and a uid only when they have the shape of one
// (else their length), an outcome or reason by its code, and an error by its class, its code and the place
// it was thrown, never its message.

/**
 * Kubernetes names, namespaces, generateName prefixes, uids and service-account names all fit this (and the
 * API server enforces narrower rules). Anything else is not an identifier and is not logged as text.
 */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

/** The value when it has the shape of a Kubernetes identifier; else a placeholder saying what it was. */
export function loggableIdentifier(value: unknown): string {
  if (typeof value === 'string')
    return IDENTIFIER.test(value) ? value : `<not an identifier: ${value.length} chars>`;
  if (value === undefined || value === null) return '<none>';
  return `<not an identifier: ${typeof value}>`;
}

/** A code worth logging: an error catalogue code, a Node system error code (ECONNRESET), a Status reason. */
const CODE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * The first stack frame, where the error was thrown: a code location. The message, which heads the stack and
 * may hold newlines and text shaped like a frame, is cut off by its exact length first; a stack that does not
 * start with it (rewritten by someone) gives no location.
 */
function thrownAt(error: Error): string | undefined {
  const { stack } = error;
  if (typeof stack !== 'string') return undefined;
  const header = error.message === '' ? error.name : `${error.name}: ${error.message}`;
  if (!stack.startsWith(header)) return undefined;
  const frame = stack
    .slice(header.length)
    .split('\n')
    .find((line) => /^\s+at\s/.test(line));
  return frame?.trim().slice(0, 300);
}

export interface LoggableError {
  /** The error's class (TypeError, KubeApiError, KirsaError ...). */
  error: string;
  code?: string;
  /** The HTTP status an API error came with. */
  status?: number;
  at?: string;
}

/** An error as a log line may carry it: class, code, status and where it was thrown; never the message. */
export function loggableError(error: unknown): LoggableError {
  if (!(error instanceof Error)) return { error: typeof error };
  const name = CODE.test(error.name) ? error.name : 'Error';
  const fields: LoggableError = { error: name };
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'string' && CODE.test(code)) fields.code = code;
  if (typeof statusCode === 'number' && Number.isInteger(statusCode)) fields.status = statusCode;
  const at = thrownAt(error);
  if (at !== undefined) fields.at = at;
  return fields;
}
