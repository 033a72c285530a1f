// `kirsa mutate`: the webhook's mutation, offline. Reads Pods and workloads, resolves each pod's identity
// from service-account manifests, an identity mapping or --role-arn, and prints the mutated objects or
// the patches. Nothing is sent anywhere: it is a preview of what the webhook will do, made by the same
// core decision (decidePod, which processAdmission is built on) applied to pods and pod templates alike.

import type { Command } from 'commander';
import { stringify } from 'yaml';
import { DEFAULT_NAMESPACE } from '../consts.ts';
import { decidePod, serviceAccountOf } from '../core/admission/process.ts';
import { checkRoleArn } from '../core/iam/arn.ts';
import {
  EMPTY_MAPPING,
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
import { applyAddOperations, type PatchOperation, prefixPatch } from '../core/mutation/json-patch.ts';
import { locatePod } from '../core/mutation/workloads.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { collect, parseBooleanFlag } from './flags.ts';
import {
  addMutationFlags,
  identityDefaultsFrom,
  type MutationFlagValues,
  mutationOptionsFrom,
} from './mutation-flags.ts';
import { type KubeObject, readManifests } from './read-documents.ts';

interface MutateFlags extends MutationFlagValues {
  file: string;
  serviceAccount: string[];
  configMap: string[];
  readEnvFromConfigMaps: boolean;
  identitiesFile?: string;
  roleArn?: string;
  namespace: string;
  output: 'yaml' | 'json' | 'patch';
}

export function registerMutate(program: Command): void {
  addMutationFlags(
    program
      .command('mutate')
      .description('print Pods and workloads as the webhook would admit them (offline preview)')
      .requiredOption('-f, --file <file>', 'YAML or JSON manifests to mutate, or - for standard input')
      .option(
        '--service-account <file>',
        'ServiceAccount manifest(s) whose annotations give the identity (repeatable)',
        collect,
        [],
      )
      .option(
        '--identities-file <file>',
        'identity mapping JSON, as the reference webhook ConfigMap: {"ns/sa": {"RoleARN": ...}}',
      )
      .option(
        '--read-env-from-config-maps [bool]',
        "kirsa: as the webhook's flag, from the ConfigMaps in the input and --config-map files (others count as not found)",
        parseBooleanFlag('read-env-from-config-maps'),
        false,
      )
      .option(
        '--config-map <file>',
        'ConfigMap manifest(s) for --read-env-from-config-maps (repeatable)',
        collect,
        [],
      )
      .option('--role-arn <arn>', 'give every pod this role, whatever its service account')
      .option('-n, --namespace <namespace>', 'namespace of objects that name none', DEFAULT_NAMESPACE)
      .option('-o, --output <format>', 'yaml, json, or patch (the JSON Patch operations)', 'yaml'),
  ).action(async (flags: MutateFlags) => runMutate(flags));
}

async function readMapping(path: string): Promise<IdentityMapping> {
  const text = await readInputText(path, 'identity mapping');
  try {
    const { mapping, problems } = parseIdentityMapping(text);
    for (const problem of problems) process.stderr.write(`kirsa: warning: ${path}: ${problem}\n`);
    return mapping;
  } catch (error) {
    throw new KirsaError('IDENTITIES_FILE_INVALID', `${path}: ${(error as Error).message}`, {
      hint: 'write it as {"namespace/serviceaccount": {"RoleARN": "arn:aws:iam::111122223333:role/name"}}',
    });
  }
}

function describe(object: KubeObject): string {
  return `${object.kind}/${object.metadata?.name ?? object.metadata?.generateName ?? '(unnamed)'}`;
}

async function runMutate(flags: MutateFlags): Promise<void> {
  if (!['yaml', 'json', 'patch'].includes(flags.output)) {
    throw new KirsaError('FLAG_INVALID', `--output takes yaml, json or patch, not "${flags.output}"`);
  }
  if (
    flags.roleArn !== undefined &&
    (flags.serviceAccount.length > 0 || flags.identitiesFile !== undefined)
  ) {
    throw new KirsaError(
      'FLAG_CONFLICT',
      '--role-arn gives every pod one role, so it cannot be combined with --service-account or --identities-file',
      {
        hint: 'use --role-arn alone, or describe identities with service accounts and mappings',
      },
    );
  }
  // A bad flag is bad input (exit 2), found before any file is read.
  if (flags.roleArn !== undefined) checkRoleArn(flags.roleArn);
  const objects = await readManifests(flags.file);
  if (objects.length === 0)
    throw new KirsaError('MANIFEST_EMPTY', `${flags.file} holds no Kubernetes object`, {
      hint: 'give a file with a Pod or a workload (Deployment, Job, ...)',
    });
  const serviceAccounts = new Map<string, ServiceAccountView>();
  const sources = [...(await Promise.all(flags.serviceAccount.map(readManifests))).flat(), ...objects];
  for (const object of sources) {
    if (object.kind !== 'ServiceAccount') continue;
    const view = trimServiceAccount(object, flags.annotationPrefix);
    view.namespace ||= flags.namespace;
    serviceAccounts.set(`${view.namespace}/${view.name}`, view);
  }
  // --read-env-from-config-maps: the ConfigMaps given stand for the cluster's, trimmed as the webhook trims.
  const configMaps = new Map<string, ConfigMapKeys>();
  if (flags.readEnvFromConfigMaps) {
    const given = [...(await Promise.all(flags.configMap.map(readManifests))).flat(), ...objects];
    for (const object of given) {
      if (object.kind !== 'ConfigMap' || !object.metadata?.name) continue;
      const data = (object as { data?: unknown }).data;
      const keys = data !== null && typeof data === 'object' ? Object.keys(data) : [];
      configMaps.set(`${object.metadata.namespace || flags.namespace}/${object.metadata.name}`, {
        found: true,
        regionKeys: regionKeysOf(keys),
      });
    }
  }
  const envFromOf = (pod: Parameters<typeof envFromConfigMapNames>[0], namespace: string) => {
    const read = new Map<string, ConfigMapKeys>();
    for (const name of envFromConfigMapNames(pod, Number.POSITIVE_INFINITY))
      read.set(name, configMaps.get(`${namespace}/${name}`) ?? { found: false, why: 'absent' });
    return read as EnvFromConfigMaps;
  };
  const mapping = flags.identitiesFile ? await readMapping(flags.identitiesFile) : EMPTY_MAPPING;
  if (flags.roleArn === undefined && serviceAccounts.size === 0 && mapping.size === 0) {
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
  const defaults = identityDefaultsFrom(flags);
  const identityFor = (namespace: string, serviceAccountName: string): IdentityVerdict => ({
    identity:
      flags.roleArn !== undefined
        ? { mode: 'web-identity', roleArn: flags.roleArn, ...defaults, source: '--role-arn' }
        : resolveIdentity({
            namespace,
            serviceAccountName,
            serviceAccount: serviceAccounts.get(`${namespace}/${serviceAccountName}`),
            mapping,
            containerCredentials: undefined,
            annotationPrefix: flags.annotationPrefix,
            defaults,
          }),
    serviceAccountMissing: false,
  });
  const options = mutationOptionsFrom(flags);
  const results: Array<{ object: KubeObject; patch: PatchOperation[] }> = [];
  let mutable = 0;
  for (const object of objects) {
    const location = locatePod(object);
    if (!location) {
      results.push({ object, patch: [] });
      continue;
    }
    mutable += 1;
    // The webhook's own decision, on the pod or on the workload's pod template.
    const namespace = object.metadata?.namespace ?? flags.namespace;
    const serviceAccountName = serviceAccountOf(location.pod);
    const decision = decidePod(
      location.pod,
      namespace,
      identityFor(namespace, serviceAccountName),
      options,
      flags.readEnvFromConfigMaps ? { envFromConfigMaps: envFromOf(location.pod, namespace) } : {},
    );
    if (decision.outcome === 'no_identity') {
      const what = decision.patch.length > 0 ? 'only the region was injected' : 'left unchanged';
      process.stderr.write(
        `kirsa: ${describe(object)}: service account ${namespace}/${serviceAccountName} has no role; ${what}\n`,
      );
    }
    for (const warning of decision.warnings)
      process.stderr.write(`${describe(object)}: warning: ${warning}\n`);
    results.push({ object, patch: prefixPatch(location.pointer, decision.patch) });
  }
  if (mutable === 0) {
    process.stderr.write(
      `kirsa: warning: ${flags.file} holds no Pod or workload with a pod template; nothing to mutate\n`,
    );
  }

  if (flags.output === 'patch') {
    // Always a list, one entry per Pod or workload, whatever their number: a script reads one shape.
    const printed = results
      .filter((result) => locatePod(result.object))
      .map(({ object, patch }) => ({
        kind: object.kind,
        name: object.metadata?.name ?? null,
        namespace: object.metadata?.namespace ?? flags.namespace,
        patch,
      }));
    process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
    return;
  }
  const documents = results.map(({ object, patch }) => applyAddOperations(object, patch));
  if (flags.output === 'json') {
    const printed =
      documents.length === 1 ? documents[0] : { apiVersion: 'v1', kind: 'List', items: documents };
    process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
  } else {
    process.stdout.write(documents.map((document) => stringify(document, { lineWidth: 0 })).join('---\n'));
  }
}
