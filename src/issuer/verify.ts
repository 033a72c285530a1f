// `verify` as STS would: fetch the discovery document and the JWKS anonymously over HTTPS, apply every
// requirement STS has, and, given a token, check its signature and the claims STS reads. The rules are in
// the core; this file fetches and verifies signatures.

import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { STS_TOKEN_ALGORITHMS, WEB_IDENTITY_TOKEN_LENGTH } from '../consts.ts';
import { type Check, checkDiscoveryDocument, checkJwks, isJsonContentType } from '../core/oidc/documents.ts';
import { discoveryUrlFor, issuerUrlProblems } from '../core/oidc/issuer-url.ts';
import { decodeToken, tokenChecks } from '../core/sts/token-checks.ts';
import { isKirsaError } from '../errors.ts';
import { type FetchOptions, fetchIssuerDocument, type IssuerDocument } from './https.ts';

export interface VerifyOptions extends FetchOptions {
  issuer: string;
  /** A JWT to check against the published keys. */
  token?: string | undefined;
  /** The audiences the IAM provider lists; a token's aud must be one of them. */
  audiences?: readonly string[];
  now: Date;
}

export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  discovery?: unknown;
  jwks?: unknown;
}

/** GETs one document through the shared reader; failures become checks, so the report says which step broke. */
async function fetchJson(
  url: string,
  what: string,
  options: FetchOptions,
  checks: Check[],
): Promise<unknown> {
  let fetched: IssuerDocument;
  try {
    fetched = await fetchIssuerDocument(url, options);
  } catch (error) {
    if (!isKirsaError(error)) throw error;
    checks.push({
      status: 'fail',
      message: `${what}: ${error.message}${error.hint ? ` (${error.hint})` : ''}`,
    });
    return undefined;
  }
  checks.push({ status: 'pass', message: `${what}: ${url} is anonymously readable over HTTPS` });
  if (!isJsonContentType(fetched.contentType))
    checks.push({
      status: 'warn',
      message: `${what}: Content-Type is ${fetched.contentType ?? '(none)'}, not application/json`,
    });
  return fetched.json;
}

async function checkToken(token: string, jwks: unknown, options: VerifyOptions): Promise<Check[]> {
  const trimmed = token.trim();
  if (trimmed.length < WEB_IDENTITY_TOKEN_LENGTH.min || trimmed.length > WEB_IDENTITY_TOKEN_LENGTH.max)
    return [
      {
        status: 'fail',
        message: `the token is ${trimmed.length} characters; STS takes ${WEB_IDENTITY_TOKEN_LENGTH.min}-${WEB_IDENTITY_TOKEN_LENGTH.max}`,
      },
    ];
  let parts: ReturnType<typeof decodeToken>;
  try {
    parts = decodeToken(trimmed);
  } catch (error) {
    return [{ status: 'fail', message: (error as Error).message }];
  }
  const keys = (jwks as { keys: Array<{ kid?: string }> }).keys;
  const checks: Check[] = [];
  try {
    await compactVerify(trimmed, createLocalJWKSet(jwks as JSONWebKeySet), {
      algorithms: [...STS_TOKEN_ALGORITHMS],
    });
    checks.push({ status: 'pass', message: 'the signature verifies with a key from the JWKS' });
  } catch (error) {
    checks.push({ status: 'fail', message: `the signature does not verify: ${(error as Error).message}` });
  }
  const findings = tokenChecks({
    ...parts,
    issuer: options.issuer,
    // No --audience: the provider's client IDs are not known, so any audience passes (one must be there).
    clientIds: options.audiences?.length ? options.audiences : undefined,
    jwksKids: keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'),
    nowSeconds: Math.floor(options.now.getTime() / 1000),
  });
  checks.push(...findings.map((finding) => ({ status: finding.status, message: finding.message })));
  return checks;
}

export async function verifyIssuer(options: VerifyOptions): Promise<VerifyReport> {
  const checks: Check[] = issuerUrlProblems(options.issuer).map((problem) => ({
    status: problem.severity === 'error' ? 'fail' : 'warn',
    message: `issuer URL: ${problem.rule}`,
  }));
  const report = (extra: Partial<VerifyReport> = {}): VerifyReport => ({
    ok: !checks.some((check) => check.status === 'fail'),
    checks,
    ...extra,
  });
  if (checks.some((check) => check.status === 'fail')) return report();
  const discovery = await fetchJson(discoveryUrlFor(options.issuer), 'discovery', options, checks);
  if (discovery === undefined) return report();
  const { checks: discoveryChecks, jwksUri } = checkDiscoveryDocument(options.issuer, discovery);
  checks.push(...discoveryChecks);
  if (!jwksUri) return report({ discovery });
  const jwks = await fetchJson(jwksUri, 'JWKS', options, checks);
  if (jwks === undefined) return report({ discovery });
  const jwksChecks = checkJwks(jwks);
  checks.push(...jwksChecks);
  if (options.token !== undefined && !jwksChecks.some((check) => check.status === 'fail'))
    checks.push(...(await checkToken(options.token, jwks, options)));
  return report({ discovery, jwks });
}
