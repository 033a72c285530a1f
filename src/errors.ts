// The one error type that crosses module boundaries. Each error a user can meet carries a code (so callers
// branch on the code, never on message text), a message saying what went wrong, and a hint saying what to
// do next. The CLI prints message and hint on one line each, and a stack only with --debug.

/** Every way kirsa can fail on purpose. Add a code here rather than reusing an unrelated one. */
export type KirsaErrorCode =
  | 'USAGE' // the command line itself is wrong
  | 'INPUT_UNREADABLE' // a file could not be read or parsed
  | 'INPUT_INVALID' // a file parsed but its content is not what we need
  | 'ALREADY_EXISTS' // refusing to overwrite something
  | 'NOT_FOUND' // a named thing (file, bucket, role, pod) does not exist
  | 'PERMISSION' // the environment denied an operation (file mode, S3/IAM AccessDenied)
  | 'UNREACHABLE' // a network peer did not answer as needed
  | 'CHECK_FAILED' // a verification ran and found a problem
  | 'DENIED' // a policy evaluation said no
  | 'INTERNAL'; // a bug in kirsa

/** Exit code per error code: 2 for input the user must fix, 1 for everything else. */
const EXIT_CODES: Record<KirsaErrorCode, number> = {
  USAGE: 2,
  INPUT_UNREADABLE: 2,
  INPUT_INVALID: 2,
  ALREADY_EXISTS: 1,
  NOT_FOUND: 1,
  PERMISSION: 1,
  UNREACHABLE: 1,
  CHECK_FAILED: 1,
  DENIED: 1,
  INTERNAL: 1,
};

export interface KirsaErrorDetails {
  /** What the user can do next, in one sentence. */
  hint?: string;
  cause?: unknown;
}

export class KirsaError extends Error {
  readonly code: KirsaErrorCode;
  readonly hint: string | undefined;

  constructor(code: KirsaErrorCode, message: string, details: KirsaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KirsaError';
    this.code = code;
    this.hint = details.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

export function isKirsaError(value: unknown): value is KirsaError {
  return value instanceof KirsaError;
}
