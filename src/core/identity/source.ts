// The ports between "where identities come from" (src/identity: watches, files, the miss lookup) and "what
// an admission does with them" (core/admission, the webhook). Declared here, in the core, so neither shell
// imports the other: src/identity implements them, the webhook and `kirsa mutate` consume them.

import type { Identity } from './identity.ts';

/** What the identity sources answer for one pod's service account. */
export interface IdentityVerdict {
  identity: Identity | undefined;
  /** The service account was found nowhere (watch, then direct lookup); told apart from "has no role". */
  serviceAccountMissing: boolean;
}

/**
 * The one thing an admission needs from the identity sources: synchronous on a cache hit (the hot path pays
 * for no promise), a promise only on a miss.
 */
export interface IdentitySource {
  identityFor(namespace: string, serviceAccountName: string): IdentityVerdict | Promise<IdentityVerdict>;
}

/** What one cache-miss lookup came to; the webhook counts them by these names (a metric label). */
export const LOOKUP_RESULTS = ['found', 'not_found', 'failed', 'rate_limited', 'negative_cached'] as const;
export type LookupResult = (typeof LOOKUP_RESULTS)[number];
