// Where a pod's identity comes from, assembled: the ServiceAccount cache (with its miss path), the mapping
// from the identities file and the ConfigMap, and the container-credentials list. The webhook sees only
// `identityFor`; the sources feed this through setters as they change. The precedence itself is the core's
// resolveIdentity.

import {
  type ContainerCredentialsSettings,
  comparePatterns,
  EMPTY_MAPPING,
  type IdentityDefaults,
  type IdentityMapping,
  resolveIdentity,
  type ServiceAccountView,
} from '../core/identity/identity.ts';
import type { IdentitySource, IdentityVerdict } from '../core/identity/source.ts';
import type { MissLookup } from './miss-lookup.ts';
import type { ServiceAccountCache } from './service-accounts.ts';

/** The mapping sources, in increasing precedence for the same key: the ConfigMap is the cluster's word. */
export type MappingSource = 'identities-file' | 'config-map';

export interface IdentityProviderOptions {
  annotationPrefix: string;
  defaults: IdentityDefaults;
  containerCredentials: ContainerCredentialsSettings;
  /** Absent when there is no cluster access: the mapping alone decides, and nothing is "missing". */
  serviceAccounts?: { cache: ServiceAccountCache; lookUpMiss?: MissLookup };
}

export interface IdentityProvider extends IdentitySource {
  setMapping(source: MappingSource, mapping: IdentityMapping): void;
  setContainerCredentials(identities: ReadonlySet<string> | undefined): void;
  /** Entries per source, for the identities gauge and start-up logs. */
  counts(): Record<string, number>;
}

type Pattern = IdentityMapping['patterns'][number];

/** Two mappings as one: exact keys of the later one win; patterns re-sorted most specific first. */
export function mergeMappings(lower: IdentityMapping, higher: IdentityMapping): IdentityMapping {
  if (lower.size === 0) return higher;
  if (higher.size === 0) return lower;
  const exact = new Map(lower.exact);
  for (const [key, entry] of higher.exact) exact.set(key, entry);
  const byKey = new Map<string, Pattern>();
  for (const pattern of [...lower.patterns, ...higher.patterns]) byKey.set(pattern.key, pattern);
  const patterns = [...byKey.values()].sort(comparePatterns);
  return { exact, patterns, size: exact.size + patterns.length };
}

export function createIdentityProvider(options: IdentityProviderOptions): IdentityProvider {
  const { annotationPrefix, defaults } = options;
  const cache = options.serviceAccounts?.cache;
  const lookUpMiss = options.serviceAccounts?.lookUpMiss;
  const mappings: Record<MappingSource, IdentityMapping> = {
    'identities-file': EMPTY_MAPPING,
    'config-map': EMPTY_MAPPING,
  };
  let merged = EMPTY_MAPPING;
  let containerCredentials:
    | { identities: ReadonlySet<string>; settings: ContainerCredentialsSettings }
    | undefined;

  function verdict(
    namespace: string,
    serviceAccountName: string,
    serviceAccount: ServiceAccountView | undefined,
    missing: boolean,
  ): IdentityVerdict {
    const identity = resolveIdentity({
      namespace,
      serviceAccountName,
      serviceAccount,
      mapping: merged,
      containerCredentials,
      annotationPrefix,
      defaults,
    });
    return { identity, serviceAccountMissing: missing && identity === undefined };
  }

  return {
    identityFor(namespace, serviceAccountName) {
      if (cache === undefined) return verdict(namespace, serviceAccountName, undefined, false);
      const known = cache.get(namespace, serviceAccountName);
      if (known !== undefined) return verdict(namespace, serviceAccountName, known, false);
      // Container credentials never wait (as the reference): the listing alone decides the mode.
      if (
        lookUpMiss === undefined ||
        containerCredentials?.identities.has(`${namespace}/${serviceAccountName}`)
      ) {
        return verdict(namespace, serviceAccountName, undefined, true);
      }
      return lookUpMiss(namespace, serviceAccountName).then((found) =>
        verdict(namespace, serviceAccountName, found, found === undefined),
      );
    },
    setMapping(source, mapping) {
      mappings[source] = mapping;
      merged = mergeMappings(mappings['identities-file'], mappings['config-map']);
    },
    setContainerCredentials(identities) {
      containerCredentials =
        identities === undefined ? undefined : { identities, settings: options.containerCredentials };
    },
    counts() {
      return {
        'service-accounts': cache?.size ?? 0,
        'identities-file': mappings['identities-file'].size,
        'config-map': mappings['config-map'].size,
        'container-credentials': containerCredentials?.identities.size ?? 0,
      };
    },
  };
}
