// `kirsa mutate`: the webhook's mutation, offline. Reads Pods and workloads, resolves each pod's identity
// from service-account manifests, an identity mapping or --role-arn, and prints the mutated objects or
// the patches. Nothing is sent anywhere: it is a preview of what the webhook will do, made by the same
// core decision (decidePod, which processAdmission is built on) applied to pods and pod templates alike.

import type { Command } from 'commander';
import { stringify } from 'yaml';
import { DEFAULT_NAMESPACE } from '../consts.ts';
import { checkRoleArn } from '../core/iam/arn.ts';
import { applyAddOperations } from '../core/mutation/json-patch.ts';
import { KirsaError } from '../errors.ts';
import { previewMutation } from '../workflows/mutate.ts';
import { addFlagSpecs } from './commander-flags.ts';
import { collect, parseBooleanFlag, printNote, printWarning } from './flags.ts';
import {
  identityDefaultsFrom,
  MUTATION_FLAGS,
  type MutationFlagValues,
  mutationOptionsFrom,
} from './mutation-flags.ts';

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
  addFlagSpecs(
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
    MUTATION_FLAGS,
  ).action(async (flags: MutateFlags) => runMutate(flags));
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
  const results = await previewMutation(
    {
      file: flags.file,
      serviceAccountFiles: flags.serviceAccount,
      configMapFiles: flags.configMap,
      readEnvFromConfigMaps: flags.readEnvFromConfigMaps,
      identitiesFile: flags.identitiesFile,
      roleArn: flags.roleArn,
      namespace: flags.namespace,
      annotationPrefix: flags.annotationPrefix,
      identityDefaults: identityDefaultsFrom(flags),
      mutation: mutationOptionsFrom(flags),
    },
    { warn: printWarning, report: printNote },
  );

  if (flags.output === 'patch') {
    // Always a list, one entry per Pod or workload, whatever their number: a script reads one shape.
    const printed = results
      .filter((result) => result.mutable)
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
