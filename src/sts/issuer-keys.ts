// The local STS's view of an issuer's keys: the discovery document and JWKS through the shared reader
// (src/issuer/https.ts: TLS verified against the system roots plus an optional extra CA, a total deadline,
// a size cap, no redirects), cached for a while. Failures
// become the STS errors a real call would get.

import { rootCertificates } from 'node:tls';
import { STS_FETCH_TIMEOUT_MS } from '../consts.ts';
import { jwksKeyLimitProblem } from '../core/oidc/documents.ts';
import { discoveryUrlFor } from '../core/oidc/issuer-url.ts';
import { type StsError, stsError } from '../core/sts/protocol.ts';
import type { KirsaError } from '../errors.ts';
import { fetchIssuerDocument } from '../issuer/https.ts';

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface IssuerKeySource {
  /** The issuer's JWKS, from cache or freshly fetched; `refresh` skips the cache (an unknown kid). */
  getKeys(issuerUrl: string, options?: { refresh?: boolean }): Promise<JsonWebKeySet | StsError>;
}

const KEY_ERROR =
  "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";

export function createIssuerKeySource({
  extraCaPem = [],
  timeoutMs = STS_FETCH_TIMEOUT_MS,
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
      const discovery = (await fetchIssuerDocument(discoveryUrlFor(issuerUrl), { ca, deadlineMs: timeoutMs }))
        .json as {
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
      const jwks = (await fetchIssuerDocument(discovery.jwks_uri, { ca, deadlineMs: timeoutMs })).json as {
        keys?: unknown;
      };
      if (!Array.isArray(jwks?.keys))
        return stsError('InvalidIdentityToken', `${KEY_ERROR} (the JWKS has no keys)`);
      const tooMany = jwksKeyLimitProblem(jwks.keys);
      if (tooMany) return stsError('InvalidIdentityToken', `${KEY_ERROR} (${tooMany})`);
      const keys = { keys: jwks.keys as Array<Record<string, unknown>> };
      cache.set(issuerUrl, { keys, fetchedAt: now() });
      return keys;
    } catch (error) {
      // Reader failures of category UNREACHABLE (no answer, too slow, too large) are "the IdP could not be
      // reached"; the rest (a redirect, a status other than 200, not JSON) leave STS without usable keys.
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
