// `kirsa mutate`: the webhook's mutation, offline. The manifests are read; the ServiceAccounts and
// ConfigMaps among them (and in the extra files given) stand for the cluster's, trimmed as the webhook
// trims them; each Pod or pod template gets the webhook's own decision (decidePod). What the webhook would
// log comes back through `warn` and `report`; the CLI prints the result as YAML, JSON or patches.

import { decidePod, serviceAccountOf } from '../core/admission/process.ts';
import {
  EMPTY_MAPPING,
  type IdentityDefaults,
  type IdentityMapping,
  resolveIdentity,
  type ServiceAccountView,
  trimServiceAccount,
} from '../core/identity/identity.ts';
import { parseIdentityMapping } from '../core/identity/mapping-reader.ts';
import type { IdentityVerdict } from '../core/identity/source.ts';
import {
  type ConfigMapKeys,
  type EnvFromConfigMaps,
  envFromConfigMapNames,
  regionKeysOf,
} from '../core/mutation/env-from.ts';
import { type PatchOperation, prefixPatch } from '../core/mutation/json-patch.ts';
import type { MutationOptions } from '../core/mutation/mutate-pod.ts';
import { locatePod } from '../core/mutation/workloads.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { type KubeObject, readManifests } from '../io/read-manifests.ts';

export interface MutateInput {
  /** The manifests to mutate, or - for standard input. */
  file: string;
  serviceAccountFiles: readonly string[];
  /** ConfigMap manifests, read only with readEnvFromConfigMaps. */
  configMapFiles: readonly string[];
  readEnvFromConfigMaps: boolean;
  identitiesFile?: string | undefined;
  /** One role for every pod, whatever its service account (checked by the caller). */
  roleArn?: string | undefined;
  /** Namespace of objects that name none. */
  namespace: string;
  annotationPrefix: string;
  identityDefaults: IdentityDefaults;
  mutation: MutationOptions;
}

export interface MutateReporters {
  /** A warning (the CLI prefixes it as one). */
  warn: (line: string) => void;
  /** A line as the webhook would log it about one object, printed as it is. */
  report: (line: string) => void;
}

export interface MutatedObject {
  object: KubeObject;
  /** Add operations, prefixed to the pod's place in the object; empty for what holds no pod. */
  patch: PatchOperation[];
  /** Whether the object is a Pod or a workload with a pod template. */
  mutable: boolean;
}

async function readMapping(path: string, warn: MutateReporters['warn']): Promise<IdentityMapping> {
  const text = await readInputText(path, 'identity mapping');
  try {
    const { mapping, problems } = parseIdentityMapping(text);
    for (const problem of problems) warn(`${path}: ${problem}`);
    return mapping;
  } catch (error) {
    throw new KirsaError('IDENTITIES_FILE_INVALID', `${path}: ${(error as Error).message}`, {
      hint: 'write it as {"namespace/serviceaccount": {"RoleARN": "arn:aws:iam::111122223333:role/name"}}',
    });
  }
}

/** The ServiceAccounts among the objects, trimmed as the webhook's cache trims them, by namespace/name. */
function serviceAccountsIn(
  objects: readonly KubeObject[],
  annotationPrefix: string,
  namespace: string,
): Map<string, ServiceAccountView> {
  const serviceAccounts = new Map<string, ServiceAccountView>();
  for (const object of objects) {
    if (object.kind !== 'ServiceAccount') continue;
    const view = trimServiceAccount(object, annotationPrefix);
    view.namespace ||= namespace;
    serviceAccounts.set(`${view.namespace}/${view.name}`, view);
  }
  return serviceAccounts;
}

/** The ConfigMaps among the objects, trimmed as the webhook trims them (their region keys), by namespace/name. */
function configMapsIn(objects: readonly KubeObject[], namespace: string): Map<string, ConfigMapKeys> {
  const configMaps = new Map<string, ConfigMapKeys>();
  for (const object of objects) {
    if (object.kind !== 'ConfigMap' || !object.metadata?.name) continue;
    const data = (object as { data?: unknown }).data;
    const keys = data !== null && typeof data === 'object' ? Object.keys(data) : [];
    configMaps.set(`${object.metadata.namespace || namespace}/${object.metadata.name}`, {
      found: true,
      regionKeys: regionKeysOf(keys),
    });
  }
  return configMaps;
}

function describe(object: KubeObject): string {
  return `${object.kind}/${object.metadata?.name ?? object.metadata?.generateName ?? '(unnamed)'}`;
}

/** Every object of the input, each Pod or pod template with the patch the webhook would make. */
export async function previewMutation(
  input: MutateInput,
  { warn, report }: MutateReporters,
): Promise<MutatedObject[]> {
  const objects = await readManifests(input.file);
  if (objects.length === 0)
    throw new KirsaError('MANIFEST_EMPTY', `${input.file} holds no Kubernetes object`, {
      hint: 'give a file with a Pod or a workload (Deployment, Job, ...)',
    });
  const serviceAccounts = serviceAccountsIn(
    [...(await Promise.all(input.serviceAccountFiles.map(readManifests))).flat(), ...objects],
    input.annotationPrefix,
    input.namespace,
  );
  // --read-env-from-config-maps: the ConfigMaps given stand for the cluster's.
  const configMaps = input.readEnvFromConfigMaps
    ? configMapsIn(
        [...(await Promise.all(input.configMapFiles.map(readManifests))).flat(), ...objects],
        input.namespace,
      )
    : new Map<string, ConfigMapKeys>();
  const envFromOf = (pod: Parameters<typeof envFromConfigMapNames>[0], namespace: string) => {
    const read = new Map<string, ConfigMapKeys>();
    for (const name of envFromConfigMapNames(pod, Number.POSITIVE_INFINITY))
      read.set(name, configMaps.get(`${namespace}/${name}`) ?? { found: false, why: 'absent' });
    return read as EnvFromConfigMaps;
  };
  const mapping = input.identitiesFile ? await readMapping(input.identitiesFile, warn) : EMPTY_MAPPING;
  if (input.roleArn === undefined && serviceAccounts.size === 0 && mapping.size === 0) {
    throw new KirsaError(
      'NO_IDENTITY_SOURCE',
      'no identity to inject: no --role-arn, no ServiceAccount manifest and no mapping',
      {
        hint: 'add --role-arn arn:aws:iam::<account>:role/<name>, or --service-account sa.yaml',
      },
    );
  }

  // The identity source of the preview: the manifests and mapping given, or one role for every pod. Never
  // "missing": an account without a manifest simply has no role here.
  const defaults = input.identityDefaults;
  const identityFor = (namespace: string, serviceAccountName: string): IdentityVerdict => ({
    identity:
      input.roleArn !== undefined
        ? { mode: 'web-identity', roleArn: input.roleArn, ...defaults, source: '--role-arn' }
        : resolveIdentity({
            namespace,
            serviceAccountName,
            serviceAccount: serviceAccounts.get(`${namespace}/${serviceAccountName}`),
            mapping,
            containerCredentials: undefined,
            annotationPrefix: input.annotationPrefix,
            defaults,
          }),
    serviceAccountMissing: false,
  });
  const results: MutatedObject[] = [];
  for (const object of objects) {
    const location = locatePod(object);
    if (!location) {
      results.push({ object, patch: [], mutable: false });
      continue;
    }
    // The webhook's own decision, on the pod or on the workload's pod template.
    const namespace = object.metadata?.namespace ?? input.namespace;
    const serviceAccountName = serviceAccountOf(location.pod);
    const decision = decidePod(
      location.pod,
      namespace,
      identityFor(namespace, serviceAccountName),
      input.mutation,
      input.readEnvFromConfigMaps ? { envFromConfigMaps: envFromOf(location.pod, namespace) } : {},
    );
    if (decision.outcome === 'no_identity') {
      const what = decision.patch.length > 0 ? 'only the region was injected' : 'left unchanged';
      report(
        `kirsa: ${describe(object)}: service account ${namespace}/${serviceAccountName} has no role; ${what}`,
      );
    }
    for (const warning of decision.warnings) report(`${describe(object)}: warning: ${warning}`);
    results.push({ object, patch: prefixPatch(location.pointer, decision.patch), mutable: true });
  }
  if (!results.some((result) => result.mutable))
    warn(`${input.file} holds no Pod or workload with a pod template; nothing to mutate`);
  return results;
}
