// The one place an AWS SDK failure becomes a KirsaError. It classifies by the error's name (the service's
// error code, or a Node system error's code for network failures) and the HTTP status only: message text
// differs between AWS, moto and S3-compatible stores, and between SDK versions.

import { KirsaError, type KirsaErrorCode } from '../errors.ts';
import { networkFailure } from '../io/network-failure.ts';

/** Endpoint settings every AWS client of kirsa's takes. */
export interface AwsClientOptions {
  region?: string | undefined;
  /** Another endpoint (moto in tests, a private endpoint); S3 then uses path-style addressing. */
  endpointUrl?: string | undefined;
}

/** The service's error code (`NoSuchEntity`, `AccessDenied`) or, for a socket failure, its errno name. */
export function awsErrorName(error: unknown): string {
  const value = error as { name?: unknown; code?: unknown } | null;
  // Node's system errors are plain `Error`s whose code says what happened (ECONNREFUSED, EAI_AGAIN).
  if (typeof value?.code === 'string' && /^E[A-Z_]+$/.test(value.code)) return value.code;
  return typeof value?.name === 'string' ? value.name : '';
}

export function awsHttpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

const NO_CREDENTIALS = new Set(['CredentialsProviderError']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);
const NOT_FOUND = new Set(['NoSuchEntity', 'NoSuchEntityException', 'NoSuchBucket', 'NoSuchKey', 'NotFound']);
const REJECTED_INPUT = new Set([
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'MalformedPolicy',
  'InvalidInput',
  'InvalidInputException',
  'ValidationError',
]);
const LIMIT_EXCEEDED = new Set(['LimitExceeded', 'LimitExceededException']);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
]);

/** The catalogue code for an SDK failure. */
export function awsErrorCode(error: unknown): KirsaErrorCode {
  const name = awsErrorName(error);
  const status = awsHttpStatus(error);
  if (NO_CREDENTIALS.has(name)) return 'AWS_NO_CREDENTIALS';
  if (ACCESS_DENIED.has(name) || status === 403) return 'AWS_ACCESS_DENIED';
  if (NOT_FOUND.has(name) || status === 404) return 'AWS_NOT_FOUND';
  if (LIMIT_EXCEEDED.has(name)) return 'AWS_LIMIT_EXCEEDED';
  if (REJECTED_INPUT.has(name) || status === 400) return 'AWS_REJECTED_INPUT';
  if (NETWORK.has(name) || networkFailure(error)) return 'AWS_UNREACHABLE';
  return 'AWS_FAILED';
}

/** What to do next, per code; a caller may say it better for its own service (`hints`). */
const DEFAULT_HINTS: Partial<Record<KirsaErrorCode, string>> = {
  AWS_NO_CREDENTIALS:
    'set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the SDK default chain), as for the AWS CLI',
  AWS_ACCESS_DENIED: 'the credentials in use need this permission',
  AWS_NOT_FOUND: 'check the name, the region and the account',
  AWS_LIMIT_EXCEEDED: 'ask for a raised quota, or split the work (fewer service accounts per role)',
  AWS_UNREACHABLE: 'check this machine reaches AWS (network, DNS, proxy: HTTPS_PROXY) and any --endpoint-url',
};

/**
 * An SDK failure as the KirsaError a user can act on. `doing` names the call for the message
 * ("GetRole kirsa-default-app", "bucket my-bucket").
 */
export function awsError(
  error: unknown,
  doing: string,
  hints: Partial<Record<KirsaErrorCode, string>> = {},
): KirsaError {
  const code = awsErrorCode(error);
  const name = awsErrorName(error);
  const detail = (error as Error | null)?.message ?? String(error);
  const message =
    {
      AWS_NO_CREDENTIALS: `${doing}: no AWS credentials found`,
      AWS_ACCESS_DENIED: `${doing}: access denied (${detail})`,
      AWS_NOT_FOUND: `${doing}: not found`,
      AWS_LIMIT_EXCEEDED: `${doing}: over an AWS limit: ${detail}`,
      AWS_REJECTED_INPUT: `${doing}: AWS rejected it: ${detail}`,
      AWS_UNREACHABLE: `${doing}: cannot reach AWS: ${networkFailure(error)?.reason ?? detail}`,
    }[code as string] ?? `${doing}: ${name || 'error'}: ${detail}`;
  const hint = hints[code] ?? DEFAULT_HINTS[code];
  return new KirsaError(code, message, { cause: error, ...(hint ? { hint } : {}) });
}
