// The checks STS makes on a web-identity token's header and claims, in one place: the local STS renders the
// first failing finding as the STS error AWS would answer, `kirsa issuer verify` and `kirsa doctor` print
// the findings as check lines. Pure: the clock comes in as an argument. The signature is verified by the
// caller (it needs the key bytes); which key it is verified with is decided here (keyForToken).
//
// Where the earlier copies disagreed, the rule follows AWS STS:
// - aud absent, null or an empty array: "Missing a required claim: aud" (an empty list names no recipient,
//   and OIDC makes aud required), never an azp lookup.
// - several audiences: STS matches azp, not any of the aud values, against the provider's client IDs, and
//   refuses the token without azp.
// - iat more than the clock skew in the future: refused, as STS refuses a token issued in the future.
// - sub empty: missing, as STS reports it.

import { STS_CLOCK_SKEW_SECONDS, STS_TOKEN_ALGORITHMS } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

export type TokenCheckName = 'alg' | 'kid' | 'iss' | 'sub' | 'aud' | 'azp' | 'iat' | 'exp' | 'nbf';

/** Why a check failed, for renderers that answer differently per cause (STS: ExpiredTokenException). */
export type TokenProblem =
  | 'missing'
  | 'mismatch'
  | 'unsupported'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  /** A time claim that is a number but no time (1e308): refused, never shown as a date. */
  | 'invalid';

export interface TokenFinding {
  check: TokenCheckName;
  status: 'pass' | 'fail';
  /** The value in the token, as text ("(absent)" when the claim is not there). */
  seen: string;
  /** What STS wants, in words. */
  wanted: string;
  /** A check line for people: what was seen, and for a failure what STS then answers. */
  message: string;
  problem?: TokenProblem;
}

export interface TokenParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export interface TokenCheckInput {
  /** The JWS header; without it alg and kid are not checked (the caller resolved the key already). */
  header?: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The issuer the token must name exactly; without it only iss's presence is checked. */
  issuer?: string;
  /**
   * The IAM provider's client IDs; the token's audience must be one. Undefined when they are not known
   * (issuer verify without --audience): any audience then passes, but one must be present. An empty list
   * is a provider that lists none, which STS refuses every token for.
   */
  clientIds?: readonly string[] | undefined;
  /** The kids the published JWKS holds; without it the kid is not checked. */
  jwksKids?: readonly string[];
  nowSeconds: number;
}

const ABSENT = '(absent)';

function shown(value: unknown): string {
  return value === undefined ? ABSENT : typeof value === 'string' ? value : JSON.stringify(value);
}

/** A time as STS writes it in messages: ISO 8601 to the second. */
export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The largest time, in seconds from 1970 either way, that a Date holds (and so that can be compared and shown). */
const MAX_TIME_SECONDS = 8.64e12;

/** Whether a claim is a NumericDate kirsa can compare and show; `exp: 1e308` is a number but no date. */
function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_TIME_SECONDS;
}

function invalidTime(check: TokenCheckName, value: unknown): TokenFinding {
  return failed(
    check,
    'invalid',
    shown(value),
    'a time in seconds since 1970',
    `${check} is ${shown(value)}, which is not a time`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function passed(check: TokenCheckName, seen: string, wanted: string, message: string): TokenFinding {
  return { check, status: 'pass', seen, wanted, message };
}

function failed(
  check: TokenCheckName,
  problem: TokenProblem,
  seen: string,
  wanted: string,
  message: string,
): TokenFinding {
  return { check, status: 'fail', seen, wanted, message, problem };
}

/** Splits a compact JWS without verifying it, for the claim checks and messages. */
export function decodeToken(token: string): TokenParts {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new KirsaError('TOKEN_MALFORMED', 'the token is not a compact JWT (three dot-separated parts)');
  try {
    const [header, payload] = parts
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    if (!isObject(header) || !isObject(payload)) throw new Error('not objects');
    return { header, payload };
  } catch (error) {
    throw new KirsaError('TOKEN_MALFORMED', 'the token header or payload is not base64url JSON', {
      cause: error,
    });
  }
}

/**
 * The JWKS entry STS verifies a token with: the one whose kid is the token's, or, for a token without kid,
 * the only key of the set (with several keys STS cannot choose, and refuses).
 */
export function keyForToken<Key extends { kid?: unknown }>(
  kid: unknown,
  keys: readonly Key[],
): Key | undefined {
  if (typeof kid !== 'string') return keys.length === 1 ? keys[0] : undefined;
  return keys.find((key) => key.kid === kid);
}

export function kidFinding(kid: unknown, jwksKids: readonly string[]): TokenFinding {
  const seen = shown(kid);
  const wanted =
    typeof kid === 'string' ? 'a kid the published JWKS holds' : 'a kid, unless the JWKS holds one key';
  if (
    keyForToken(
      kid,
      jwksKids.map((published) => ({ kid: published })),
    )
  )
    return typeof kid === 'string'
      ? passed('kid', seen, wanted, `kid ${kid} is in the JWKS`)
      : passed('kid', seen, wanted, 'the token has no kid and the JWKS holds one key');
  return typeof kid === 'string'
    ? failed(
        'kid',
        'mismatch',
        seen,
        wanted,
        `kid ${kid} is not in the published JWKS (publish the JWKS after rotating, before promoting)`,
      )
    : failed(
        'kid',
        'missing',
        seen,
        wanted,
        `the token has no kid and the JWKS holds ${jwksKids.length} keys`,
      );
}

/** The audience STS matches against the client IDs: the single aud, or azp when aud lists several. */
export function audienceOf(payload: Record<string, unknown>): string | undefined {
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const audience = audiences.length === 1 ? audiences[0] : payload.azp;
  return typeof audience === 'string' ? audience : undefined;
}

/** aud present, and (azp when several) among the provider's client IDs. */
export function audienceFindings(
  payload: Record<string, unknown>,
  clientIds: readonly string[] | undefined,
): TokenFinding[] {
  const aud = payload.aud;
  const wantedIds = clientIds === undefined ? 'any audience' : `one of ${clientIds.join(', ') || '(none)'}`;
  if (aud === undefined || aud === null || (Array.isArray(aud) && aud.length === 0))
    return [
      failed('aud', 'missing', shown(aud), wantedIds, 'aud is missing ("Missing a required claim: aud")'),
    ];
  const several = Array.isArray(aud) && aud.length > 1;
  const findings: TokenFinding[] = [];
  if (several) {
    if (typeof payload.azp !== 'string')
      return [
        failed(
          'azp',
          'missing',
          shown(payload.azp),
          'azp naming the client ID',
          'the token has several audiences and no azp; STS then needs azp ("Missing a required claim: azp")',
        ),
      ];
    findings.push(
      passed(
        'azp',
        payload.azp,
        'azp naming the client ID',
        `azp ${payload.azp} names the audience STS matches`,
      ),
    );
  }
  const audience = audienceOf(payload);
  const matched = several ? 'azp' : 'aud';
  if (audience === undefined || (clientIds !== undefined && !clientIds.includes(audience))) {
    const seen = audience ?? shown(several ? payload.azp : aud);
    findings.push(
      failed(
        matched,
        'mismatch',
        seen,
        wantedIds,
        `${matched} ${seen} is not among ${clientIds?.join(', ') || '(no client IDs)'} ("Incorrect token audience")`,
      ),
    );
  } else
    findings.push(
      passed('aud', shown(aud), wantedIds, `aud is ${Array.isArray(aud) ? aud.join(', ') : audience}`),
    );
  return findings;
}

/**
 * Every check STS makes on the token, in the order STS makes them, so the first failure is the error STS
 * answers. Passing checks are reported too, for the check lines.
 */
export function tokenChecks(input: TokenCheckInput): TokenFinding[] {
  const { header, payload, nowSeconds } = input;
  const skew = STS_CLOCK_SKEW_SECONDS;
  const findings: TokenFinding[] = [];
  if (header) {
    const algs = STS_TOKEN_ALGORITHMS.join(', ');
    if (typeof header.alg !== 'string' || !STS_TOKEN_ALGORITHMS.includes(header.alg))
      findings.push(
        failed(
          'alg',
          'unsupported',
          shown(header.alg),
          algs,
          `alg ${JSON.stringify(header.alg)} is not one STS accepts (RS256/384/512, ES256/384/512)`,
        ),
      );
    if (input.jwksKids) findings.push(kidFinding(header.kid, input.jwksKids));
  }

  const iss = payload.iss;
  const wantedIssuer = input.issuer ?? 'the issuer URL';
  if (typeof iss !== 'string')
    findings.push(failed('iss', 'missing', shown(iss), wantedIssuer, 'iss is missing'));
  else if (input.issuer !== undefined && iss !== input.issuer)
    findings.push(
      failed('iss', 'mismatch', iss, input.issuer, `iss is ${JSON.stringify(iss)}, not ${input.issuer}`),
    );
  else findings.push(passed('iss', iss, wantedIssuer, `iss is ${iss}`));

  if (typeof payload.sub !== 'string' || payload.sub === '')
    findings.push(failed('sub', 'missing', shown(payload.sub), 'a subject', 'sub is missing'));
  else findings.push(passed('sub', payload.sub, 'a subject', `sub is ${payload.sub}`));

  findings.push(...audienceFindings(payload, input.clientIds));

  const iat = payload.iat;
  if (typeof iat !== 'number')
    findings.push(failed('iat', 'missing', shown(iat), 'a time', 'iat is missing; STS requires it'));
  else if (!isTime(iat)) findings.push(invalidTime('iat', iat));

  const exp = payload.exp;
  if (typeof exp !== 'number')
    findings.push(failed('exp', 'missing', shown(exp), 'a time', 'exp is missing'));
  else if (!isTime(exp)) findings.push(invalidTime('exp', exp));
  else if (nowSeconds > exp + skew)
    findings.push(
      failed(
        'exp',
        'expired',
        isoSeconds(exp),
        `after ${isoSeconds(nowSeconds - skew)}`,
        `the token expired at ${isoSeconds(exp)} (ExpiredTokenException)`,
      ),
    );
  else
    findings.push(
      passed('exp', isoSeconds(exp), `after ${isoSeconds(nowSeconds - skew)}`, `exp is ${isoSeconds(exp)}`),
    );

  const nbf = payload.nbf;
  if (typeof nbf === 'number' && !isTime(nbf)) findings.push(invalidTime('nbf', nbf));
  else if (typeof nbf === 'number' && nowSeconds + skew < nbf)
    findings.push(
      failed(
        'nbf',
        'not-yet-valid',
        isoSeconds(nbf),
        `at or before ${isoSeconds(nowSeconds + skew)}`,
        `the token is not valid before ${isoSeconds(nbf)}`,
      ),
    );

  if (isTime(iat)) {
    if (nowSeconds + skew < iat)
      findings.push(
        failed(
          'iat',
          'issued-in-future',
          isoSeconds(iat),
          `at or before ${isoSeconds(nowSeconds + skew)}`,
          `iat ${isoSeconds(iat)} is in the future (more than ${skew} s ahead); STS refuses the token`,
        ),
      );
    else
      findings.push(passed('iat', isoSeconds(iat), 'a time not in the future', `iat is ${isoSeconds(iat)}`));
  }
  return findings;
}
