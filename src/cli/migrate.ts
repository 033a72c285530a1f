// `kirsa migrate plan | apply | cleanup`: moving workloads from kube2iam/kiam to IRSA without downtime. This
// file wires and prints: the flags checked and read into the input of workflows/migrate.ts, the plan printed
// as text, YAML or JSON, and each apply or cleanup phase's outcome printed with its per-item lines.

import type { Command } from 'commander';
import { stringify } from 'yaml';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { checkProviderArn, checkRoleArn } from '../core/iam/arn.ts';
import { normaliseBaseRoleArn } from '../core/migration/legacy.ts';
import { formatPlanText } from '../core/migration/plan-file.ts';
import { KirsaError } from '../errors.ts';
import {
  applyMigration,
  cleanupMigration,
  MIGRATE_APPLY_PHASES,
  MIGRATE_CLEANUP_PHASES,
  type MigrationRunInput,
  planMigration,
  readMigrationPlan,
} from '../workflows/migrate.ts';
import { awsTargetOf, collect, kubeAccessOf, printNote, printWarning } from './flags.ts';
import { addPhaseOptions, printPhases } from './phases.ts';

interface AccessFlags {
  kubeconfig?: string;
  context?: string;
  endpointUrl?: string;
  region?: string;
}

interface PlanFlags extends AccessFlags {
  namespace?: string;
  allNamespaces?: boolean;
  baseRoleArn?: string;
  providerArn: string;
  audience?: string[];
  nodeRoleArn?: string[];
  annotationPrefix: string;
  output: string;
}

interface ApplyFlags extends AccessFlags {
  dryRun?: boolean;
  skipPhases?: string[];
}

interface CleanupFlags extends ApplyFlags {
  removeNodeTrust?: boolean;
}

function addAccessFlags(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('--endpoint-url <url>', 'IAM and STS endpoint (for tests and emulators)')
    .option('--region <region>', 'AWS region for the IAM and STS clients');
}

export function registerMigrate(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('move workloads from kube2iam or kiam to IRSA without downtime: plan, apply, cleanup');
  addAccessFlags(
    migrate
      .command('plan')
      .description('read the cluster and IAM, and print what apply would change (changes nothing)')
      .requiredOption('--provider-arn <arn>', "the cluster's IAM OIDC provider (kirsa provider create)")
      .option('-n, --namespace <namespace>', "namespace to plan (default: the context's, else default)")
      .option('-A, --all-namespaces', 'plan every namespace')
      .option(
        '--base-role-arn <arn>',
        "completes short role names, as kube2iam's --base-role-arn (default: arn:aws:iam::<caller's account>:role/)",
      )
      .option(
        '--audience <audience>',
        `token audience the trust requires (repeatable; default ${DEFAULT_TOKEN_AUDIENCE})`,
        collect,
      )
      .option(
        '--node-role-arn <arn>',
        'a node role kube2iam/kiam assume from; cleanup --remove-node-trust removes it (repeatable)',
        collect,
      )
      .option(
        '--annotation-prefix <prefix>',
        'service-account annotation prefix the webhook reads',
        DEFAULT_ANNOTATION_PREFIX,
      )
      .option('-o, --output <format>', 'text, or yaml/json: the plan file apply and cleanup take', 'text'),
  ).action(async (flags: PlanFlags) => runPlan(flags));
  addPhaseOptions(
    addAccessFlags(
      migrate
        .command('apply')
        .argument('<plan>', 'the plan file (kirsa migrate plan -o yaml); - for stdin')
        .description('merge trust, annotate or create ServiceAccounts, patch workload templates (idempotent)')
        .option('--dry-run', 'validate and say what each phase would change, changing nothing'),
    ),
    MIGRATE_APPLY_PHASES,
  ).action(async (file: string, flags: ApplyFlags) => runApply(file, flags));
  addPhaseOptions(
    addAccessFlags(
      migrate
        .command('cleanup')
        .argument('<plan>', 'the plan file apply ran; - for stdin')
        .description(
          "after the switch: remove the kube2iam/kiam annotations (and with --remove-node-trust the node roles' trust)",
        )
        .option('--remove-node-trust', "also remove the plan's node roles from each migrated role's trust")
        .option('--dry-run', 'validate and say what each phase would change, changing nothing'),
    ),
    MIGRATE_CLEANUP_PHASES,
  ).action(async (file: string, flags: CleanupFlags) => runCleanup(file, flags));
}

// --- plan -------------------------------------------------------------------------------------------------------

async function runPlan(flags: PlanFlags): Promise<void> {
  if (!['text', 'yaml', 'json'].includes(flags.output))
    throw new KirsaError('FLAG_INVALID', `unknown output format "${flags.output}"`, {
      hint: 'use -o text, yaml or json',
    });
  if (flags.namespace && flags.allNamespaces)
    throw new KirsaError('FLAG_CONFLICT', '-n and -A name different scopes', { hint: 'give one of them' });
  checkProviderArn(flags.providerArn);
  for (const arn of flags.nodeRoleArn ?? []) checkRoleArn(arn);
  const base = flags.baseRoleArn === undefined ? undefined : normaliseBaseRoleArn(flags.baseRoleArn);
  if (flags.baseRoleArn !== undefined && !base)
    throw new KirsaError('ARN_INVALID', `"${flags.baseRoleArn}" is not a base role ARN`, {
      hint: 'it looks like arn:aws:iam::111122223333:role/ (kube2iam --base-role-arn)',
    });
  const plan = await planMigration(
    {
      ...(base === undefined ? {} : { baseRoleArn: base }),
      providerArn: flags.providerArn,
      audiences: flags.audience ?? [DEFAULT_TOKEN_AUDIENCE],
      annotationPrefix: flags.annotationPrefix,
      nodeRoleArns: flags.nodeRoleArn ?? [],
      allNamespaces: flags.allNamespaces === true,
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      kube: kubeAccessOf(flags),
      aws: awsTargetOf(flags),
    },
    { note: (line) => printNote(`kirsa: ${line}`) },
  );
  if (flags.output === 'json') process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
  else if (flags.output === 'yaml') process.stdout.write(stringify(plan));
  else process.stdout.write(`${formatPlanText(plan).join('\n')}\n`);
}

// --- apply and cleanup -----------------------------------------------------------------------------------------

async function runInput(file: string, flags: CleanupFlags): Promise<MigrationRunInput> {
  return {
    plan: await readMigrationPlan(file),
    dryRun: flags.dryRun === true,
    removeNodeTrust: flags.removeNodeTrust === true,
    kube: kubeAccessOf(flags),
    aws: awsTargetOf(flags),
  };
}

async function runApply(file: string, flags: ApplyFlags): Promise<void> {
  await applyMigration(await runInput(file, flags), {
    skip: flags.skipPhases ?? [],
    report: printPhases(MIGRATE_APPLY_PHASES),
    warn: printWarning,
  });
}

async function runCleanup(file: string, flags: CleanupFlags): Promise<void> {
  await cleanupMigration(await runInput(file, flags), {
    skip: flags.skipPhases ?? [],
    report: printPhases(MIGRATE_CLEANUP_PHASES),
  });
}
