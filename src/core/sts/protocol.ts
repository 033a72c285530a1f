// The parts of AWS STS's Query protocol kirsa's local STS speaks: request parameters in, XML out, and the
// checks STS makes on a web-identity token's claims. Pure: time and randomness come in as arguments.
// Error codes, HTTP statuses and message openings follow the real service, so SDKs and scripts that
// branch on them behave as they would against AWS.

import { WEB_IDENTITY_TOKEN_LENGTH } from '../../consts.ts';
import { isRoleSessionName } from './session-name.ts';
import { audienceOf, isoSeconds, type TokenFinding, tokenChecks } from './token-checks.ts';

export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_API_VERSION = '2011-06-15';
/** DurationSeconds bounds of AssumeRoleWithWebIdentity, and its default when the caller sets none. */
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 43_200;
export const DEFAULT_SESSION_SECONDS = 3600;

export type StsErrorCode =
  | 'InvalidIdentityToken'
  | 'ExpiredTokenException'
  | 'IDPCommunicationError'
  | 'AccessDenied'
  | 'ValidationError'
  | 'InvalidAction'
  | 'MissingAuthenticationToken'
  | 'InvalidClientTokenId'
  | 'SignatureDoesNotMatch'
  | 'ExpiredToken'
  | 'InternalFailure';

export interface StsError {
  kind: 'sts-error';
  status: number;
  code: StsErrorCode;
  message: string;
  /** Sender: the caller's fault; Receiver: ours or the identity provider's. */
  type: 'Sender' | 'Receiver';
}

const STATUS: Record<StsErrorCode, number> = {
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  IDPCommunicationError: 400,
  AccessDenied: 403,
  ValidationError: 400,
  InvalidAction: 400,
  MissingAuthenticationToken: 403,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  ExpiredToken: 400,
  InternalFailure: 500,
};

export function stsError(code: StsErrorCode, message: string): StsError {
  return {
    kind: 'sts-error',
    status: STATUS[code],
    code,
    message,
    type: code === 'InternalFailure' ? 'Receiver' : 'Sender',
  };
}

export function isStsError(value: unknown): value is StsError {
  return (value as StsError | null)?.kind === 'sts-error';
}

// --- Requests -----------------------------------------------------------------------------------------------

/** Query-protocol parameters from a form body and/or the URL query (the body wins, as it carries the call). */
export function parseQueryParameters(body: string, urlQuery: string): Record<string, string> {
  return {
    ...Object.fromEntries(new URLSearchParams(urlQuery)),
    ...Object.fromEntries(new URLSearchParams(body)),
  };
}

export interface AssumeRoleWithWebIdentityInput {
  roleArn: string;
  roleSessionName: string;
  webIdentityToken: string;
  durationSeconds: number | undefined;
}

export function validateAssumeRoleWithWebIdentity(
  params: Record<string, string>,
): AssumeRoleWithWebIdentityInput | StsError {
  const missing = ['RoleArn', 'RoleSessionName', 'WebIdentityToken'].filter((name) => !params[name]);
  if (missing.length > 0) {
    return stsError(
      'ValidationError',
      `${missing.length} validation error(s) detected: ${missing.map((name) => `Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`).join('; ')}`,
    );
  }
  const roleArn = params.RoleArn!;
  const roleSessionName = params.RoleSessionName!;
  const webIdentityToken = params.WebIdentityToken!;
  if (roleArn.length < 20 || roleArn.length > 2048 || !roleArn.startsWith('arn:')) {
    return stsError('ValidationError', `${roleArn} is invalid`);
  }
  if (!isRoleSessionName(roleSessionName)) {
    return stsError(
      'ValidationError',
      "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*",
    );
  }
  if (
    webIdentityToken.length < WEB_IDENTITY_TOKEN_LENGTH.min ||
    webIdentityToken.length > WEB_IDENTITY_TOKEN_LENGTH.max
  ) {
    return stsError(
      'ValidationError',
      `1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between ${WEB_IDENTITY_TOKEN_LENGTH.min} and ${WEB_IDENTITY_TOKEN_LENGTH.max}`,
    );
  }
  let durationSeconds: number | undefined;
  if (params.DurationSeconds !== undefined) {
    // An integer in decimal digits, as the Query protocol's Integer type is read: Number() would also take
    // "1e3", "0x1000" and " 3600", which STS refuses.
    durationSeconds = /^[+-]?\d{1,10}$/.test(params.DurationSeconds)
      ? Number(params.DurationSeconds)
      : Number.NaN;
    if (
      !Number.isInteger(durationSeconds) ||
      durationSeconds < MIN_SESSION_SECONDS ||
      durationSeconds > MAX_SESSION_SECONDS
    ) {
      return stsError(
        'ValidationError',
        `1 validation error detected: Value '${params.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value between ${MIN_SESSION_SECONDS} and ${MAX_SESSION_SECONDS}`,
      );
    }
  }
  return { roleArn, roleSessionName, webIdentityToken, durationSeconds };
}

/** The session length: the caller's DurationSeconds (default 1 h), which may not exceed the role's maximum. */
export function decideSessionSeconds(requested: number | undefined, roleMaximum: number): number | StsError {
  const seconds = requested ?? DEFAULT_SESSION_SECONDS;
  if (seconds > roleMaximum) {
    return stsError(
      'ValidationError',
      `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${roleMaximum} seconds).`,
    );
  }
  return seconds;
}

// --- Token claims -------------------------------------------------------------------------------------------

export interface AcceptedClaims {
  issuer: string;
  subject: string;
  /** The audience STS matched and reports: the single aud, or azp when aud lists several. */
  audience: string;
  amr: string[] | undefined;
}

/**
 * The first failing token check as the error STS answers: ExpiredTokenException for an expired token,
 * InvalidIdentityToken with STS's message opening for the rest.
 */
export function stsErrorForFinding(
  finding: TokenFinding,
  context: { clientIds: readonly string[]; nowSeconds: number },
): StsError {
  const invalid = (message: string) => stsError('InvalidIdentityToken', message);
  switch (finding.problem) {
    case 'expired':
      return stsError(
        'ExpiredTokenException',
        `Token expired: current date/time ${isoSeconds(context.nowSeconds)} must be before the expiration date/time ${finding.seen}`,
      );
    case 'not-yet-valid':
      return invalid(`Token is not yet valid: it may be used from ${finding.seen}`);
    case 'issued-in-future':
      return invalid(`Token was issued in the future (iat ${finding.seen})`);
    case 'mismatch':
      if (finding.check === 'aud' || finding.check === 'azp')
        return invalid(
          `Incorrect token audience: "${finding.seen}" is not a client ID of the provider (${context.clientIds.join(', ')})`,
        );
      return invalid(finding.message);
    case 'unsupported':
    case 'invalid':
      return invalid(finding.message);
    default:
      return invalid(
        `Missing a required claim: ${finding.check}${finding.check === 'azp' ? ' (the token has several audiences)' : ''}`,
      );
  }
}

/** The claim checks STS makes after the signature (tokenChecks); the first failure is the STS error. */
export function acceptTokenClaims(
  claims: Record<string, unknown>,
  clientIds: readonly string[],
  nowSeconds: number,
): AcceptedClaims | StsError {
  const failure = tokenChecks({ payload: claims, clientIds, nowSeconds }).find(
    (finding) => finding.status === 'fail',
  );
  if (failure) return stsErrorForFinding(failure, { clientIds, nowSeconds });
  const amr = Array.isArray(claims.amr)
    ? claims.amr.filter((value): value is string => typeof value === 'string')
    : typeof claims.amr === 'string'
      ? [claims.amr]
      : undefined;
  return {
    issuer: claims.iss as string,
    subject: claims.sub as string,
    audience: audienceOf(claims)!,
    amr,
  };
}

// --- Identities ---------------------------------------------------------------------------------------------

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Random text from an alphabet, with bytes supplied by the caller (crypto in the shell, fixed in tests). */
export function randomText(
  alphabet: string,
  length: number,
  randomBytes: (size: number) => Uint8Array,
): string {
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Temporary credentials shaped like STS's: an ASIA key id, a 40-character secret, an opaque session token. */
export function mintCredentials(
  now: Date,
  seconds: number,
  randomBytes: (size: number) => Uint8Array,
): IssuedCredentials {
  return {
    accessKeyId: `ASIA${randomText(KEY_ALPHABET, 16, randomBytes)}`,
    secretAccessKey: randomText(SECRET_ALPHABET, 40, randomBytes),
    sessionToken: `KIRSA${Buffer.from(randomBytes(96)).toString('base64')}`,
    expiration: new Date(now.getTime() + seconds * 1000),
  };
}

/** A role's unique id as STS reports it (AROA...), stable per role ARN so repeated calls agree. */
export function roleUniqueId(roleArn: string, digest: (text: string) => Uint8Array): string {
  return `AROA${randomText(KEY_ALPHABET, 17, (size) => digest(roleArn).subarray(0, size))}`;
}

// --- Responses ----------------------------------------------------------------------------------------------

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (char) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[char]};`,
  );
}

function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

function text(name: string, value: string): string {
  return element(name, escapeXml(value));
}

function envelope(action: string, result: string, requestId: string): string {
  return `<${action}Response xmlns="${STS_XML_NAMESPACE}">${element(`${action}Result`, result)}${element('ResponseMetadata', text('RequestId', requestId))}</${action}Response>\n`;
}

export interface AssumeRoleWithWebIdentityOutput {
  credentials: IssuedCredentials;
  assumedRoleArn: string;
  assumedRoleId: string;
  subject: string;
  audience: string;
  provider: string;
}

export function renderAssumeRoleWithWebIdentity(
  output: AssumeRoleWithWebIdentityOutput,
  requestId: string,
): string {
  const c = output.credentials;
  return envelope(
    'AssumeRoleWithWebIdentity',
    text('SubjectFromWebIdentityToken', output.subject) +
      text('Audience', output.audience) +
      element(
        'AssumedRoleUser',
        text('Arn', output.assumedRoleArn) + text('AssumedRoleId', output.assumedRoleId),
      ) +
      element(
        'Credentials',
        text('AccessKeyId', c.accessKeyId) +
          text('SecretAccessKey', c.secretAccessKey) +
          text('SessionToken', c.sessionToken) +
          text('Expiration', c.expiration.toISOString()),
      ) +
      text('Provider', output.provider),
    requestId,
  );
}

export function renderGetCallerIdentity(
  identity: { arn: string; userId: string; account: string },
  requestId: string,
): string {
  return envelope(
    'GetCallerIdentity',
    text('Arn', identity.arn) + text('UserId', identity.userId) + text('Account', identity.account),
    requestId,
  );
}

export function renderError(error: StsError, requestId: string): string {
  return `<ErrorResponse xmlns="${STS_XML_NAMESPACE}">${element('Error', text('Type', error.type) + text('Code', error.code) + text('Message', error.message))}${text('RequestId', requestId)}</ErrorResponse>\n`;
}
