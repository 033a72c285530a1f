// A service account as IAM names it: the `system:serviceaccount:NS:NAME` subject of its tokens, kirsa's `*`
// wildcards, and the `NS/NAME` text users write. Pure, and a home of its own because the webhook (identities,
// mutation) needs these rules without loading trust-policy building and evaluation, which only the CLI runs.

import { SERVICE_ACCOUNT_SUBJECT_PREFIX } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

export function serviceAccountSubject(ref: ServiceAccountRef): string {
  return `${SERVICE_ACCOUNT_SUBJECT_PREFIX}${ref.namespace}:${ref.name}`;
}

/**
 * Whether the reference is a wildcard (`team-a/*`, `*\/app`): no ServiceAccount object of that name exists,
 * so role create writes an identity mapping entry for it instead of an annotation.
 */
export function isWildcardRef(ref: ServiceAccountRef): boolean {
  return ref.namespace.includes('*') || ref.name.includes('*');
}

/** `NS/SA`, `NS:SA` or a bare `SA` (in the default namespace given) as a reference. */
export function parseServiceAccountRef(text: string, defaultNamespace: string): ServiceAccountRef {
  const separator = text.search(/[/:]/);
  const ref =
    separator < 0
      ? { namespace: defaultNamespace, name: text }
      : { namespace: text.slice(0, separator), name: text.slice(separator + 1) };
  // Kubernetes names are DNS labels/subdomains; `*` is kirsa's wildcard. Anything else can never be a subject.
  const valid = /^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/;
  if (!valid.test(ref.namespace) || !valid.test(ref.name))
    throw new KirsaError(
      'SERVICE_ACCOUNT_INVALID',
      `"${text}" is not a service account (namespace/name, lowercase, * allowed)`,
      {
        hint: 'write --service-account NAME with --namespace NS, or --service-account NS/NAME',
      },
    );
  return ref;
}
