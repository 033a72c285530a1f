// The local STS's view of an issuer's keys: the discovery document and JWKS through the shared reader
// (src/issuer/https.ts: TLS verified against the system roots plus an optional extra CA, a total deadline,
// a size cap, no redirects), cached for a while. Callers at the same moment share one fetch, and an issuer
// is fetched again at most once per ISSUER_REFETCH_INTERVAL_MS, whatever kids tokens carry. Failures become
// the STS errors a real call would get.

import { rootCertificates } from 'node:tls';
import { STS_FETCH_TIMEOUT_MS } from '../consts.ts';
import { jwksKeyLimitProblem } from '../core/oidc/documents.ts';
import { discoveryUrlFor } from '../core/oidc/issuer-url.ts';
import { isStsError, type StsError, stsError } from '../core/sts/protocol.ts';
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

/**
 * How often one issuer may be fetched again before its cache expires: a token with a kid the cached JWKS
 * lacks (a key rotated in, or an attacker's random kid) looks again at most this often. Without the bound,
 * 50 concurrent calls with random kids caused 100 discovery and 100 JWKS fetches; the same bound holds off
 * an issuer that just failed.
 */
export const ISSUER_REFETCH_INTERVAL_MS = 10_000;

export function createIssuerKeySource({
  extraCaPem = [],
  timeoutMs = STS_FETCH_TIMEOUT_MS,
  ttlMs = 10 * 60_000,
  refetchIntervalMs = ISSUER_REFETCH_INTERVAL_MS,
  now = Date.now,
}: {
  extraCaPem?: string[];
  timeoutMs?: number;
  ttlMs?: number;
  refetchIntervalMs?: number;
  now?: () => number;
} = {}): IssuerKeySource {
  const ca = [...rootCertificates, ...extraCaPem];
  const cache = new Map<string, { keys: JsonWebKeySet; fetchedAt: number }>();
  /** Per issuer: the fetch under way, which every caller meanwhile shares. */
  const inFlight = new Map<string, Promise<JsonWebKeySet | StsError>>();
  /** Per issuer: when the last fetch started, and its error if it failed. */
  const attempts = new Map<string, { at: number; error?: StsError }>();

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

  function sharedFetch(issuerUrl: string): Promise<JsonWebKeySet | StsError> {
    const running = inFlight.get(issuerUrl);
    if (running) return running;
    const attempt: { at: number; error?: StsError } = { at: now() };
    attempts.set(issuerUrl, attempt);
    const fetching = fetchKeys(issuerUrl)
      .then((result) => {
        if (isStsError(result)) attempt.error = result;
        return result;
      })
      .finally(() => inFlight.delete(issuerUrl));
    inFlight.set(issuerUrl, fetching);
    return fetching;
  }

  return {
    async getKeys(issuerUrl, { refresh = false } = {}) {
      const cached = cache.get(issuerUrl);
      const running = inFlight.get(issuerUrl);
      // A fetch under way is as fresh as a new one: join it.
      if (running) return running;
      if (cached && !refresh && now() - cached.fetchedAt < ttlMs) return cached.keys;
      const last = attempts.get(issuerUrl);
      if (last && now() - last.at < refetchIntervalMs) {
        // Fetched moments ago: answer from what is known instead of asking the issuer again (keys still in
        // their lifetime even when that fetch failed).
        if (cached && now() - cached.fetchedAt < ttlMs) return cached.keys;
        if (last.error) return last.error;
      }
      return sharedFetch(issuerUrl);
    },
  };
}
