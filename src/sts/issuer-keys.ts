// Fetches an issuer's discovery document and JWKS over HTTPS the way STS does: anonymously, TLS verified
// (against the system roots plus an optional extra CA), with a time bound, cached for a while. Failures
// become the STS errors a real call would get.

import { rootCertificates } from 'node:tls';
import { discoveryUrlFor } from '../core/oidc/issuer-url.ts';
import { type StsError, stsError } from '../core/sts/protocol.ts';
import { KirsaError } from '../errors.ts';
import { httpsGet } from '../issuer/https.ts';

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface IssuerKeySource {
  /** The issuer's JWKS, from cache or freshly fetched; `refresh` skips the cache (an unknown kid). */
  getKeys(issuerUrl: string, options?: { refresh?: boolean }): Promise<JsonWebKeySet | StsError>;
}

const KEY_ERROR =
  "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";

async function getJson(url: string, ca: string[], timeoutMs: number): Promise<unknown> {
  const fetched = await httpsGet(url, { ca, timeoutMs });
  if (fetched.status !== 200)
    throw new KirsaError('CHECK_FAILED', `GET ${url} answered HTTP ${fetched.status}`);
  try {
    return JSON.parse(fetched.body);
  } catch {
    throw new KirsaError('CHECK_FAILED', `GET ${url} did not return JSON`);
  }
}

export function createIssuerKeySource({
  extraCaPem = [],
  timeoutMs = 5000,
  ttlMs = 10 * 60_000,
  now = Date.now,
}: {
  extraCaPem?: string[];
  timeoutMs?: number;
  ttlMs?: number;
  now?: () => number;
} = {}): IssuerKeySource {
  const ca = [...rootCertificates, ...extraCaPem];
  const cache = new Map<string, { keys: JsonWebKeySet; fetchedAt: number }>();

  async function fetchKeys(issuerUrl: string): Promise<JsonWebKeySet | StsError> {
    try {
      const discovery = (await getJson(discoveryUrlFor(issuerUrl), ca, timeoutMs)) as {
        issuer?: unknown;
        jwks_uri?: unknown;
      };
      if (discovery?.issuer !== issuerUrl) {
        return stsError(
          'InvalidIdentityToken',
          `${KEY_ERROR} (the discovery document's issuer "${String(discovery?.issuer)}" is not "${issuerUrl}")`,
        );
      }
      if (typeof discovery.jwks_uri !== 'string')
        return stsError('InvalidIdentityToken', `${KEY_ERROR} (no jwks_uri)`);
      const jwks = (await getJson(discovery.jwks_uri, ca, timeoutMs)) as { keys?: unknown };
      if (!Array.isArray(jwks?.keys))
        return stsError('InvalidIdentityToken', `${KEY_ERROR} (the JWKS has no keys)`);
      const keys = { keys: jwks.keys as Array<Record<string, unknown>> };
      cache.set(issuerUrl, { keys, fetchedAt: now() });
      return keys;
    } catch (error) {
      const problem = error as KirsaError;
      return problem.category === 'UNREACHABLE'
        ? stsError(
            'IDPCommunicationError',
            `The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached. (${problem.message})`,
          )
        : stsError('InvalidIdentityToken', `${KEY_ERROR} (${problem.message})`);
    }
  }

  return {
    async getKeys(issuerUrl, { refresh = false } = {}) {
      const cached = cache.get(issuerUrl);
      if (cached && !refresh && now() - cached.fetchedAt < ttlMs) return cached.keys;
      return fetchKeys(issuerUrl);
    },
  };
}
