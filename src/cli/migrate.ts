// `kirsa migrate plan | apply | cleanup`: moving workloads from kube2iam/kiam to IRSA without downtime. This
// file wires and prints: the rules are in src/core/migration, the cluster calls in src/kube/client.ts, the
// role and ServiceAccount changes are role create's own phases run once per role, and apply and cleanup are
// phases on the one runner (every validation before any change).

import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { callerAccountId, createIamRoles, type IamRoles } from '../aws/iam-role.ts';
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  LEGACY_POD_ANNOTATION,
  MIGRATION_TEMPLATE_ANNOTATION,
} from '../consts.ts';
import { checkProviderArn, checkRoleArn } from '../core/iam/arn.ts';
import { evaluateTrustPolicy } from '../core/iam/policy-evaluate.ts';
import { serviceAccountSubject } from '../core/iam/trust-policy.ts';
import { LEGACY_POD_ANNOTATION_KEYS, podsNotSwitched, removeNodeTrust } from '../core/migration/cleanup.ts';
import { legacyIdentity, normaliseBaseRoleArn, resolveLegacyRole } from '../core/migration/legacy.ts';
import {
  buildMigrationPlan,
  type Inventory,
  type InventoryWorkload,
  type MigrationPlan,
  type PlannedRole,
  type PlannedWorkload,
  workloadSubject,
} from '../core/migration/plan.ts';
import { checkMigrationPlan, formatPlanText } from '../core/migration/plan-file.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import {
  createMigrationCluster,
  createServiceAccountStore,
  type KubeAccess,
  loadKubeConfig,
  type MigrationCluster,
  type ServiceAccountStore,
} from '../kube/client.ts';
import { type Phase, type PhaseOutcome, runPhases } from '../workflows/phases.ts';
import { collect } from './flags.ts';
import { addPhaseOptions } from './phases.ts';
import { existingRoleContext, type RoleContext, type RoleCreateFlags, roleCreatePhase } from './role.ts';

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

function kubeAccess(flags: AccessFlags): KubeAccess {
  return {
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  };
}

function awsOptions(flags: AccessFlags): { endpointUrl?: string; region?: string } {
  return {
    ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    ...(flags.region ? { region: flags.region } : {}),
  };
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
    APPLY_PHASES,
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
    CLEANUP_PHASES,
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
  const provider = checkProviderArn(flags.providerArn);
  for (const arn of flags.nodeRoleArn ?? []) checkRoleArn(arn);
  let baseRoleArn: string;
  if (flags.baseRoleArn !== undefined) {
    const base = normaliseBaseRoleArn(flags.baseRoleArn);
    if (!base)
      throw new KirsaError('ARN_INVALID', `"${flags.baseRoleArn}" is not a base role ARN`, {
        hint: 'it looks like arn:aws:iam::111122223333:role/ (kube2iam --base-role-arn)',
      });
    baseRoleArn = base;
  } else {
    const account = await callerAccountId(awsOptions(flags));
    baseRoleArn = `arn:${provider.partition}:iam::${account}:role/`;
    process.stderr.write(`kirsa: no --base-role-arn: short role names are completed with ${baseRoleArn}\n`);
  }
  const config = await loadKubeConfig(kubeAccess(flags));
  const namespace = flags.allNamespaces
    ? undefined
    : (flags.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default');
  const cluster = await createMigrationCluster(config);
  const [workloads, namespaces, serviceAccounts] = await Promise.all([
    cluster.listWorkloads(namespace),
    cluster.listNamespaces(namespace),
    cluster.listServiceAccounts(namespace),
  ]);
  const iam = createIamRoles(awsOptions(flags));
  const arns = new Set(
    workloads.flatMap((w) => {
      const identity = legacyIdentity(w.annotations);
      const arn = identity && resolveLegacyRole(identity.role, baseRoleArn);
      return arn ? [arn] : [];
    }),
  );
  const roles: Inventory['roles'] = {};
  for (const arn of arns) {
    const record = await iam.getRole(checkRoleArn(arn).name);
    // GetRole takes a name: a role of that name in the credentials' account is not the one another account holds.
    roles[arn] = record?.arn === arn ? { trustPolicy: record.trustPolicy } : undefined;
  }
  const plan = buildMigrationPlan(
    { workloads, namespaces, serviceAccounts, roles },
    {
      baseRoleArn,
      providerArn: flags.providerArn,
      audiences: flags.audience ?? [DEFAULT_TOKEN_AUDIENCE],
      annotationPrefix: flags.annotationPrefix,
      nodeRoleArns: flags.nodeRoleArn ?? [],
    },
  );
  if (flags.output === 'json') process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
  else if (flags.output === 'yaml') process.stdout.write(stringify(plan));
  else process.stdout.write(`${formatPlanText(plan).join('\n')}\n`);
}

// --- apply ------------------------------------------------------------------------------------------------------

interface MigrateContext {
  plan: MigrationPlan;
  flags: CleanupFlags;
  iam: IamRoles;
  cluster: MigrationCluster;
  serviceAccounts: ServiceAccountStore;
  /** One role create context per planned role, filled by the trust phase's validation. */
  roles: Array<{ role: PlannedRole; context: RoleContext }>;
  /** The workloads as the cluster holds them now, by `Kind namespace/name`. */
  current: Map<string, InventoryWorkload>;
  inventory: InventoryWorkload[];
}

async function readPlan(file: string): Promise<MigrationPlan> {
  const text = await readInputText(file, 'plan');
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new KirsaError('FILE_SYNTAX', `${file} is not YAML or JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return checkMigrationPlan(value);
}

async function contextFor(file: string, flags: CleanupFlags): Promise<MigrateContext> {
  const plan = await readPlan(file);
  const config = await loadKubeConfig(kubeAccess(flags));
  return {
    plan,
    flags,
    iam: createIamRoles(awsOptions(flags)),
    cluster: await createMigrationCluster(config),
    serviceAccounts: await createServiceAccountStore(config),
    roles: [],
    current: new Map(),
    inventory: [],
  };
}

/** Reads the workloads of the plan's namespaces as they are now. */
async function readCurrent(context: MigrateContext): Promise<void> {
  const namespaces = [...new Set(context.plan.workloads.map((w) => w.namespace))].sort();
  context.inventory = (await Promise.all(namespaces.map((ns) => context.cluster.listWorkloads(ns)))).flat();
  context.current = new Map(context.inventory.map((w) => [workloadSubject(w), w]));
}

/** The planned workloads apply and cleanup act on: migrated ones, not those the plan blocked. */
const migrated = (plan: MigrationPlan) => plan.workloads.filter((w) => w.change !== 'none');

/** A phase's outcome summed over several items: the strongest status, and every item's line. */
function summed(outcomes: PhaseOutcome[], noun: string, none: string): PhaseOutcome {
  if (outcomes.length === 0) return { status: 'skipped', detail: none };
  const order: PhaseOutcome['status'][] = ['failed', 'created', 'updated', 'done', 'unchanged', 'skipped'];
  const status = order.find((s) => outcomes.some((o) => o.status === s)) ?? 'unchanged';
  return {
    status,
    detail: `${outcomes.length} ${noun}`,
    lines: outcomes.map((o) => `${o.status}: ${o.detail}`),
  };
}

function roleContext(context: MigrateContext, role: PlannedRole): RoleContext {
  const { partition, name } = checkRoleArn(role.arn);
  const flags = {
    namespace: 'default',
    partition,
    annotationPrefix: context.plan.annotationPrefix,
    ...kubeAccess(context.flags),
  } satisfies RoleCreateFlags;
  const request = {
    providerArns: [role.providerArn],
    serviceAccounts: role.serviceAccounts.map((id) => {
      const [namespace, accountName] = id.split('/') as [string, string];
      return { namespace, name: accountName };
    }),
    audiences: context.plan.audiences,
  };
  return existingRoleContext(flags, request, name, {
    iam: context.iam,
    serviceAccounts: context.serviceAccounts,
  });
}

/** What the template of a migrated workload lacks: its planned account, and the migration annotation. */
function templateChange(
  workload: PlannedWorkload,
  current: InventoryWorkload,
): { serviceAccountName?: string; annotations: Record<string, string | null> } | undefined {
  const change: { serviceAccountName?: string; annotations: Record<string, string | null> } = {
    annotations: {},
  };
  if (current.serviceAccountName !== workload.serviceAccount.to)
    change.serviceAccountName = workload.serviceAccount.to;
  if (current.annotations[MIGRATION_TEMPLATE_ANNOTATION] !== workload.roleArn)
    change.annotations[MIGRATION_TEMPLATE_ANNOTATION] = workload.roleArn!;
  return change.serviceAccountName === undefined && Object.keys(change.annotations).length === 0
    ? undefined
    : change;
}

const APPLY_PHASES: Array<Phase<MigrateContext>> = [
  {
    name: 'trust',
    description:
      "merge web identity for the planned ServiceAccounts into each role's trust, keeping the rest",
    async validate(context) {
      const phase = roleCreatePhase('role');
      context.roles = context.plan.roles.map((role) => ({ role, context: roleContext(context, role) }));
      for (const { role, context: roleCtx } of context.roles) {
        await phase.validate!(roleCtx);
        if (!roleCtx.existingRole)
          throw new KirsaError('MIGRATION_ROLE_MISSING', `role ${role.arn} does not exist any more`, {
            hint: 'nothing was changed; plan again (kirsa migrate plan) and review the new plan',
          });
      }
    },
    async run(context) {
      if (context.flags.dryRun)
        return summed(
          context.roles.map(({ role, context: roleCtx }) =>
            roleCtx.merge!.changed
              ? {
                  status: 'updated',
                  detail: `would make ${role.arn} also trust ${roleCtx.merge!.added.join(', ')}`,
                }
              : {
                  status: 'unchanged',
                  detail: `${role.arn} already trusts ${role.serviceAccounts.join(', ')}`,
                },
          ),
          'role(s)',
          'no role to change',
        );
      const phase = roleCreatePhase('role');
      const outcomes: PhaseOutcome[] = [];
      for (const { context: roleCtx } of context.roles) outcomes.push(await phase.run(roleCtx));
      return summed(outcomes, 'role(s)', 'no role to change');
    },
  },
  {
    name: 'service-accounts',
    description: 'annotate each planned ServiceAccount with its role, creating the split ones',
    async validate(context) {
      const phase = roleCreatePhase('service-account');
      for (const { context: roleCtx } of context.roles) await phase.validate!(roleCtx);
    },
    async run(context) {
      if (context.flags.dryRun)
        return summed(
          context.roles.flatMap(({ role, context: roleCtx }) =>
            roleCtx.serviceAccountPlans!.map((sa): PhaseOutcome => {
              const name = `${sa.ref.namespace}/${sa.ref.name}`;
              if (!sa.exists) return { status: 'created', detail: `would create ${name} for ${role.arn}` };
              return Object.keys(sa.missing).length > 0
                ? { status: 'updated', detail: `would annotate ${name} with ${role.arn}` }
                : { status: 'unchanged', detail: `${name} already annotated` };
            }),
          ),
          'ServiceAccount(s)',
          'no ServiceAccount to change',
        );
      const phase = roleCreatePhase('service-account');
      const outcomes: PhaseOutcome[] = [];
      for (const { context: roleCtx } of context.roles) outcomes.push(await phase.run(roleCtx));
      return summed(outcomes, "role(s)' ServiceAccounts", 'no ServiceAccount to change');
    },
  },
  {
    name: 'workloads',
    description:
      'patch each workload template to its planned serviceAccountName (a rollout); list the pods to recreate',
    async validate(context) {
      await readCurrent(context);
      for (const w of migrated(context.plan)) {
        const current = context.current.get(workloadSubject(w));
        const stale = (why: string) =>
          new KirsaError('MIGRATION_PLAN_STALE', `${workloadSubject(w)} ${why} since the plan was made`, {
            hint: 'nothing was changed; plan again (kirsa migrate plan) and review the new plan',
          });
        if (!current) {
          if (w.change === 'recreate') continue; // a bare pod or Job already recreated, or gone
          throw stale('was deleted');
        }
        if (![w.serviceAccount.from, w.serviceAccount.to].includes(current.serviceAccountName))
          throw stale(`now runs as ${current.serviceAccountName}`);
        const role = legacyIdentity(current.annotations)?.role;
        if (role !== undefined && role !== w.role) throw stale(`now names role ${role}`);
      }
    },
    async run(context) {
      const outcomes: PhaseOutcome[] = [];
      for (const w of migrated(context.plan)) {
        const subject = workloadSubject(w);
        const current = context.current.get(subject);
        if (w.change === 'recreate') {
          outcomes.push({
            status: 'skipped',
            detail: `${subject}: recreate it${w.serviceAccount.to !== w.serviceAccount.from ? ` with serviceAccountName ${w.serviceAccount.to}` : ''} to take the role`,
          });
          continue;
        }
        const change = templateChange(w, current!);
        if (!change) {
          outcomes.push({ status: 'unchanged', detail: `${subject} already runs as ${w.serviceAccount.to}` });
          continue;
        }
        const what = `${subject}: ${change.serviceAccountName ? `serviceAccountName ${current!.serviceAccountName} -> ${change.serviceAccountName}, ` : ''}${MIGRATION_TEMPLATE_ANNOTATION}`;
        if (!context.flags.dryRun) await context.cluster.patchPodTemplate(w, change);
        outcomes.push({
          status: 'updated',
          detail: context.flags.dryRun ? `would patch ${what}` : `patched ${what}`,
        });
      }
      return summed(outcomes, 'workload(s)', 'no workload to change');
    },
  },
];

function report(phase: Phase<MigrateContext>, outcome: PhaseOutcome, width: number): void {
  process.stdout.write(`${phase.name.padEnd(width)}  ${outcome.status.padEnd(9)}  ${outcome.detail}\n`);
  for (const line of outcome.lines ?? []) process.stdout.write(`  ${line}\n`);
}

async function runApply(file: string, flags: ApplyFlags): Promise<void> {
  const context = await contextFor(file, flags);
  const width = Math.max(...APPLY_PHASES.map((phase) => phase.name.length));
  await runPhases(APPLY_PHASES, context, {
    skip: flags.skipPhases ?? [],
    report: (phase, outcome) => report(phase, outcome, width),
  });
}

// --- cleanup ----------------------------------------------------------------------------------------------------

/** The legacy annotations a workload's template (or a bare pod) still carries. */
function legacyLeft(current: InventoryWorkload): string[] {
  return LEGACY_POD_ANNOTATION_KEYS.filter((key) => current.annotations[key] !== undefined);
}

const CLEANUP_PHASES: Array<Phase<MigrateContext>> = [
  {
    name: 'annotations',
    description: `remove ${Object.values(LEGACY_POD_ANNOTATION).join(', ')} from the migrated workloads`,
    async validate(context) {
      await readCurrent(context);
      const waiting: string[] = [];
      for (const w of migrated(context.plan)) {
        const pods = podsNotSwitched(w, w.roleArn!, context.inventory);
        if (pods.length > 0) waiting.push(`${workloadSubject(w)} (pods ${pods.join(', ')})`);
      }
      if (waiting.length > 0)
        throw new KirsaError(
          'MIGRATION_NOT_SWITCHED',
          `still running without the web identity env: ${waiting.join('; ')}`,
          {
            hint: 'nothing was changed; let the rollouts finish (or recreate those pods) and check the webhook is installed (kirsa doctor), then run cleanup again',
          },
        );
    },
    async run(context) {
      const outcomes: PhaseOutcome[] = [];
      for (const w of migrated(context.plan)) {
        const subject = workloadSubject(w);
        const current = context.current.get(subject);
        const left = current ? legacyLeft(current) : [];
        if (!current || left.length === 0) {
          outcomes.push({ status: 'unchanged', detail: `${subject} carries no kube2iam/kiam annotation` });
          continue;
        }
        if (w.kind === 'Job') {
          outcomes.push({
            status: 'skipped',
            detail: `${subject}: a Job's template cannot change; it ends as it is`,
          });
          continue;
        }
        if (!context.flags.dryRun)
          await context.cluster.patchPodTemplate(w, {
            annotations: Object.fromEntries(left.map((key) => [key, null])),
          });
        outcomes.push({
          status: 'updated',
          detail: `${context.flags.dryRun ? 'would remove' : 'removed'} ${left.join(', ')} from ${subject}`,
        });
      }
      return summed(outcomes, 'workload(s)', 'no workload migrated');
    },
  },
  {
    name: 'node-trust',
    description: "with --remove-node-trust, remove the plan's node roles from each migrated role's trust",
    async validate(context) {
      if (!context.flags.removeNodeTrust) return;
      if (context.plan.nodeRoleArns.length === 0)
        throw new KirsaError('MIGRATION_NO_NODE_ROLE', 'the plan names no node role to remove', {
          hint: 'plan again with --node-role-arn ARN (the role kube2iam/kiam assume from)',
        });
      for (const role of context.plan.roles) {
        const record = await context.iam.getRole(checkRoleArn(role.arn).name);
        if (!record)
          throw new KirsaError('MIGRATION_ROLE_MISSING', `role ${role.arn} does not exist any more`, {
            hint: 'nothing was changed; plan again',
          });
        const { hostPath } = checkProviderArn(role.providerArn);
        const after = removeNodeTrust(record.trustPolicy, context.plan.nodeRoleArns).policy;
        for (const id of role.serviceAccounts) {
          const [namespace, name] = id.split('/') as [string, string];
          const subject = serviceAccountSubject({ namespace, name });
          const verdict = evaluateTrustPolicy(after, {
            principalFederated: role.providerArn,
            context: {
              [`${hostPath}:sub`]: subject,
              [`${hostPath}:aud`]: context.plan.audiences[0] ?? DEFAULT_TOKEN_AUDIENCE,
            },
          });
          if (verdict.decision !== 'allow')
            throw new KirsaError(
              'MIGRATION_TRUST_MISSING',
              `${role.arn} would not trust ${subject} by web identity`,
              {
                hint: 'nothing was changed; run kirsa migrate apply first',
              },
            );
        }
      }
    },
    async run(context) {
      if (!context.flags.removeNodeTrust) return { status: 'skipped', detail: 'no --remove-node-trust' };
      const outcomes: PhaseOutcome[] = [];
      for (const role of context.plan.roles) {
        const name = checkRoleArn(role.arn).name;
        const record = (await context.iam.getRole(name))!;
        const { policy, removed } = removeNodeTrust(record.trustPolicy, context.plan.nodeRoleArns);
        if (removed.length === 0) {
          outcomes.push({ status: 'unchanged', detail: `${role.arn} trusts no node role` });
          continue;
        }
        if (!context.flags.dryRun) await context.iam.updateTrustPolicy(name, policy);
        outcomes.push({
          status: 'updated',
          detail: `${context.flags.dryRun ? 'would remove' : 'removed'} ${removed.join(', ')} from ${role.arn}`,
        });
      }
      return summed(outcomes, 'role(s)', 'no role migrated');
    },
  },
];

async function runCleanup(file: string, flags: CleanupFlags): Promise<void> {
  const context = await contextFor(file, flags);
  const width = Math.max(...CLEANUP_PHASES.map((phase) => phase.name.length));
  await runPhases(CLEANUP_PHASES, context, {
    skip: flags.skipPhases ?? [],
    report: (phase, outcome) => report(phase, outcome, width),
  });
}
