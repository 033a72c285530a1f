// The two documents an issuer publishes (the OpenID Connect discovery document and the JWKS): how kirsa
// builds them, and how STS reads somebody's. Pure.

import type { KeyObject } from 'node:crypto';
import {
  KUBERNETES_AUTHORIZATION_ENDPOINT,
  MAX_JWKS_RSA_KEYS,
  SIGNING_ALGORITHM,
  STS_TOKEN_ALGORITHMS,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { publicJwk } from './keys.ts';

/** Field names as on the wire (OpenID Connect Discovery 1.0). */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  claims_supported: string[];
}

export function buildDiscoveryDocument(issuer: string, jwksUri: string): DiscoveryDocument {
  return {
    issuer,
    jwks_uri: jwksUri,
    authorization_endpoint: KUBERNETES_AUTHORIZATION_ENDPOINT,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALGORITHM],
    claims_supported: ['sub', 'iss'],
  };
}

export interface RsaJwk {
  use: 'sig';
  kty: 'RSA';
  kid: string;
  alg: 'RS256';
  n: string;
  e: string;
}

export interface Jwks {
  keys: RsaJwk[];
}

/** Documents are written with two-space indentation and a final newline, so diffs stay readable. */
export function formatJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * The JWKS for these keys, deduplicated by kid, in the order given. `legacyEmptyKid` adds each key a second
 * time with `kid: ""`: kube-apiserver before 1.16 signed tokens without a kid.
 */
export function buildJwks(publicKeys: readonly KeyObject[], { legacyEmptyKid = false } = {}): Jwks {
  const seen = new Set<string>();
  const keys: RsaJwk[] = [];
  for (const key of publicKeys) {
    const jwk = publicJwk(key);
    if (seen.has(jwk.kid)) continue;
    seen.add(jwk.kid);
    keys.push(jwk);
    if (legacyEmptyKid) keys.push({ ...jwk, kid: '' });
  }
  if (keys.filter((key) => key.kty === 'RSA').length > MAX_JWKS_RSA_KEYS) {
    throw new KirsaError(
      'JWKS_TOO_MANY_KEYS',
      `${keys.length} RSA keys: STS accepts at most ${MAX_JWKS_RSA_KEYS}`,
      {
        hint: 'retire old keys (kirsa issuer rotate --retire)',
      },
    );
  }
  return { keys };
}

/** The key ids of a JWKS as served; a key without one is shown as `missing`. */
export function jwksKids(jwks: string, missing: string): string[] {
  return ((JSON.parse(jwks) as { keys?: Array<{ kid?: string }> }).keys ?? []).map(
    (key) => key.kid ?? missing,
  );
}

// --- Documents as STS reads them ------------------------------------------------------------------------

export interface Check {
  status: 'pass' | 'fail' | 'warn';
  message: string;
}

const pass = (message: string): Check => ({ status: 'pass', message });
const fail = (message: string): Check => ({ status: 'fail', message });
const warn = (message: string): Check => ({ status: 'warn', message });

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Content-Type STS and browsers read as JSON (parameters such as charset allowed). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType ?? '');
}

/** The issuer a cluster's discovery document names (its first --service-account-issuer). */
export function issuerOfDiscovery(document: unknown, source: string): string {
  if (!isObject(document) || typeof document.issuer !== 'string' || document.issuer === '')
    throw new KirsaError('DISCOVERY_NO_ISSUER', `${source} names no issuer`, {
      hint: 'the API server serves its issuer at /.well-known/openid-configuration from Kubernetes 1.21; else give --current-issuer URL',
    });
  return document.issuer;
}

/** The discovery document against the issuer the token will carry; returns jwks_uri when usable. */
export function checkDiscoveryDocument(
  issuer: string,
  document: unknown,
): { checks: Check[]; jwksUri?: string } {
  if (!isObject(document)) return { checks: [fail('the discovery document is not a JSON object')] };
  const checks: Check[] = [];
  if (document.issuer === issuer) checks.push(pass(`issuer is exactly ${issuer}`));
  else
    checks.push(
      fail(
        `issuer is ${JSON.stringify(document.issuer)}, not ${issuer}: STS needs them equal, character for character`,
      ),
    );
  const jwksUri = document.jwks_uri;
  if (typeof jwksUri !== 'string') {
    checks.push(fail('jwks_uri is missing'));
    return { checks };
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(jwksUri);
  } catch {
    checks.push(fail(`jwks_uri ${jwksUri} is not an absolute URL`));
    return { checks };
  }
  if (parsed.protocol !== 'https:') {
    checks.push(fail(`jwks_uri ${jwksUri} is not https; STS fetches keys over HTTPS only`));
    return { checks };
  }
  checks.push(pass(`jwks_uri is https: ${jwksUri}`));
  const algs = document.id_token_signing_alg_values_supported;
  if (Array.isArray(algs) && !algs.some((alg) => STS_TOKEN_ALGORITHMS.includes(String(alg))))
    checks.push(
      warn(`id_token_signing_alg_values_supported ${JSON.stringify(algs)} names no algorithm STS accepts`),
    );
  return { checks, jwksUri };
}

function jwkProblem(key: unknown, index: number, count: number): Check | undefined {
  const name =
    isObject(key) && typeof key.kid === 'string' ? `key ${JSON.stringify(key.kid)}` : `key #${index + 1}`;
  if (!isObject(key)) return fail(`${name} is not an object`);
  if (key.kty !== 'RSA' && key.kty !== 'EC')
    return fail(`${name} has kty ${JSON.stringify(key.kty)}; STS takes RSA (or EC) keys`);
  if (key.kty === 'RSA' && (typeof key.n !== 'string' || typeof key.e !== 'string'))
    return fail(`${name} lacks n or e`);
  if ('key_ops' in key) return fail(`${name} has key_ops, which STS refuses`);
  if (typeof key.kid !== 'string' && count > 1)
    return fail(`${name} has no kid; STS needs one when the JWKS holds several keys`);
  if (key.use !== undefined && key.use !== 'sig') return fail(`${name} has use ${String(key.use)}, not sig`);
  if (key.kty === 'EC') return warn(`${name} is an EC key; older STS regions accept only RSA`);
  return undefined;
}

/**
 * Why STS refuses this many keys, or undefined: with more than MAX_JWKS_RSA_KEYS RSA keys in the JWKS it
 * verifies no RSA token at all. issuer verify reports it, the local STS refuses the tokens.
 */
export function jwksKeyLimitProblem(keys: readonly unknown[]): string | undefined {
  const rsa = keys.filter((key) => isObject(key) && key.kty === 'RSA').length;
  return rsa > MAX_JWKS_RSA_KEYS
    ? `the JWKS has ${rsa} RSA keys; STS accepts at most ${MAX_JWKS_RSA_KEYS}`
    : undefined;
}

/** The JWKS as STS reads it: 1-100 RSA keys, each with kid (unless alone), no key_ops. */
export function checkJwks(jwks: unknown): Check[] {
  if (!isObject(jwks) || !Array.isArray(jwks.keys))
    return [fail('the JWKS is not a JSON object with a keys array')];
  const keys = jwks.keys as unknown[];
  const checks: Check[] = [];
  if (keys.length === 0) return [fail('the JWKS has no keys')];
  const tooMany = jwksKeyLimitProblem(keys);
  if (tooMany) checks.push(fail(tooMany));
  keys.forEach((key, index) => {
    const problem = jwkProblem(key, index, keys.length);
    if (problem) checks.push(problem);
  });
  if (!checks.some((check) => check.status === 'fail'))
    checks.push(
      pass(
        `the JWKS holds ${keys.length} usable key(s): ${keys.map((key) => (key as RsaJwk).kid).join(', ')}`,
      ),
    );
  return checks;
}
