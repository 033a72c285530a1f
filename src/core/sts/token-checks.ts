// The checks STS makes on a web-identity token's claims, one home for the local STS, issuer verify and the
// doctor. Pure: the clock comes in as an argument.

import { KirsaError } from '../../errors.ts';
import type { Check } from '../oidc/documents.ts';

const pass = (message: string): Check => ({ status: 'pass', message });
const fail = (message: string): Check => ({ status: 'fail', message });

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface TokenParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** Splits a compact JWS without verifying it, for the claim checks and messages. */
export function decodeToken(token: string): TokenParts {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new KirsaError('INPUT_INVALID', 'the token is not a compact JWT (three dot-separated parts)');
  try {
    const [header, payload] = parts
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    if (!isObject(header) || !isObject(payload)) throw new Error('not objects');
    return { header, payload };
  } catch (error) {
    throw new KirsaError('INPUT_INVALID', 'the token header or payload is not base64url JSON', {
      cause: error,
    });
  }
}

export interface TokenCheckInput extends TokenParts {
  issuer: string;
  /** Audiences the IAM provider lists; empty means "any audience, but one must be present". */
  audiences: readonly string[];
  jwksKids: readonly string[];
  nowSeconds: number;
  skewSeconds: number;
}

/** The claims STS checks on AssumeRoleWithWebIdentity (signature is checked by the caller). */
export function checkTokenClaims(input: TokenCheckInput): Check[] {
  const { header, payload, nowSeconds, skewSeconds } = input;
  const checks: Check[] = [];
  if (typeof header.alg !== 'string' || !/^(RS|ES)(256|384|512)$/.test(header.alg))
    checks.push(
      fail(`alg ${JSON.stringify(header.alg)} is not one STS accepts (RS256/384/512, ES256/384/512)`),
    );
  if (typeof header.kid === 'string') {
    if (input.jwksKids.includes(header.kid)) checks.push(pass(`kid ${header.kid} is in the JWKS`));
    else
      checks.push(
        fail(
          `kid ${header.kid} is not in the published JWKS (publish the JWKS after rotating, before promoting)`,
        ),
      );
  } else if (input.jwksKids.length > 1)
    checks.push(fail('the token has no kid and the JWKS holds several keys'));
  if (payload.iss === input.issuer) checks.push(pass(`iss is ${input.issuer}`));
  else checks.push(fail(`iss is ${JSON.stringify(payload.iss)}, not ${input.issuer}`));
  const audiences =
    typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (audiences.length === 0) checks.push(fail('aud is missing ("Missing a required claim: aud")'));
  else if (input.audiences.length > 0 && !audiences.some((audience) => input.audiences.includes(audience)))
    checks.push(
      fail(
        `aud ${JSON.stringify(payload.aud)} is not among ${input.audiences.join(', ')} ("Incorrect token audience")`,
      ),
    );
  else checks.push(pass(`aud is ${audiences.join(', ')}`));
  if (audiences.length > 1 && typeof payload.azp !== 'string')
    checks.push(fail('the token has several audiences and no azp; STS then needs azp'));
  if (typeof payload.exp !== 'number') checks.push(fail('exp is missing'));
  else if (payload.exp + skewSeconds < nowSeconds)
    checks.push(
      fail(`the token expired at ${new Date(payload.exp * 1000).toISOString()} (ExpiredTokenException)`),
    );
  else checks.push(pass(`exp is ${new Date(payload.exp * 1000).toISOString()}`));
  if (typeof payload.iat !== 'number') checks.push(fail('iat is missing; STS requires it'));
  if (typeof payload.nbf === 'number' && payload.nbf - skewSeconds > nowSeconds)
    checks.push(fail(`the token is not valid before ${new Date(payload.nbf * 1000).toISOString()}`));
  if (typeof payload.sub !== 'string') checks.push(fail('sub is missing'));
  return checks;
}
