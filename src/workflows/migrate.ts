// `migrate plan | apply | cleanup` as workflows: moving workloads from kube2iam/kiam to IRSA without downtime.
// The rules are in src/core/migration, the cluster calls in src/kube/client.ts; the role and ServiceAccount
// changes are role create's own phases run once per role, and apply and cleanup are phases on the one runner
// (every validation before any change). The caller (cli/migrate.ts) prints the plan and the outcomes.

import { parse } from 'yaml';
import { callerAccountId, createIamRoles, type IamOptions, type IamRoles } from '../aws/iam-role.ts';
import { LEGACY_POD_ANNOTATION, MIGRATION_TEMPLATE_ANNOTATION } from '../consts.ts';
import { checkProviderArn, checkRoleArn } from '../core/iam/arn.ts';
import type { TrustPolicyRequest } from '../core/iam/trust-policy.ts';
import { staleSincePlan, templateChange } from '../core/migration/apply.ts';
import {
  legacyAnnotationsLeft,
  podsNotSwitched,
  removeNodeTrust,
  subjectsNotTrusted,
} from '../core/migration/cleanup.ts';
import { legacyRoleArns } from '../core/migration/legacy.ts';
import {
  buildMigrationPlan,
  type Inventory,
  type InventoryWorkload,
  type MigrationPlan,
  type PlannedRole,
  type PlanOptions,
  workloadSubject,
} from '../core/migration/plan.ts';
import { checkMigrationPlan } from '../core/migration/plan-file.ts';
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
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';
import { existingRoleContext, type RoleContext, roleCreatePhase } from './role-create.ts';

// --- plan -------------------------------------------------------------------------------------------------------

/** What `migrate plan` is asked, the flags checked. */
export interface MigrationPlanInput extends Omit<PlanOptions, 'baseRoleArn'> {
  /** Normalised (normaliseBaseRoleArn); without one, the credentials' account's, in the provider's partition. */
  baseRoleArn?: string;
  /** Every namespace, or the one named, or else the kubeconfig context's (else default). */
  allNamespaces: boolean;
  namespace?: string;
  kube: KubeAccess;
  aws: IamOptions;
}

/**
 * Reads the cluster's workloads, namespaces and ServiceAccounts and the roles their annotations name, and
 * builds the plan (changing nothing). `note` hears what was assumed (the base role ARN taken from the
 * credentials' account).
 */
export async function planMigration(
  input: MigrationPlanInput,
  { note }: { note: (line: string) => void },
): Promise<MigrationPlan> {
  let baseRoleArn = input.baseRoleArn;
  if (baseRoleArn === undefined) {
    const account = await callerAccountId(input.aws);
    baseRoleArn = `arn:${checkProviderArn(input.providerArn).partition}:iam::${account}:role/`;
    note(`no --base-role-arn: short role names are completed with ${baseRoleArn}`);
  }
  const config = await loadKubeConfig(input.kube);
  const namespace = input.allNamespaces
    ? undefined
    : (input.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default');
  const cluster = await createMigrationCluster(config);
  const [workloads, namespaces, serviceAccounts] = await Promise.all([
    cluster.listWorkloads(namespace),
    cluster.listNamespaces(namespace),
    cluster.listServiceAccounts(namespace),
  ]);
  const iam = createIamRoles(input.aws);
  const roles: Inventory['roles'] = {};
  for (const arn of legacyRoleArns(workloads, baseRoleArn)) {
    const record = await iam.getRole(checkRoleArn(arn).name);
    // GetRole takes a name: a role of that name in the credentials' account is not the one another account holds.
    roles[arn] = record?.arn === arn ? { trustPolicy: record.trustPolicy } : undefined;
  }
  return buildMigrationPlan(
    { workloads, namespaces, serviceAccounts, roles },
    {
      baseRoleArn,
      providerArn: input.providerArn,
      audiences: input.audiences,
      annotationPrefix: input.annotationPrefix,
      nodeRoleArns: input.nodeRoleArns,
    },
  );
}

/** A plan file (YAML or JSON, `-` for stdin) as `migrate plan -o yaml|json` wrote it, checked. */
export async function readMigrationPlan(file: string): Promise<MigrationPlan> {
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

// --- apply ------------------------------------------------------------------------------------------------------

/** What `migrate apply` and `migrate cleanup` carry out. */
export interface MigrationRunInput {
  plan: MigrationPlan;
  /** Validate and say what each phase would change, changing nothing. */
  dryRun: boolean;
  /** cleanup: also remove the plan's node roles from each migrated role's trust. */
  removeNodeTrust: boolean;
  kube: KubeAccess;
  aws: IamOptions;
}

/** What tests hand apply and cleanup instead of the AWS and cluster clients. */
export interface MigrationDependencies {
  iam?: IamRoles;
  cluster?: MigrationCluster;
  serviceAccounts?: ServiceAccountStore;
}

export interface MigrateContext extends MigrationRunInput {
  /** Where role create's phases put their warnings. */
  warn: (line: string) => void;
  iam: IamRoles;
  cluster: MigrationCluster;
  serviceAccounts: ServiceAccountStore;
  /** One role create context per planned role, filled by the trust phase's validation. */
  roles: Array<{ role: PlannedRole; context: RoleContext }>;
  /** The workloads as the cluster holds them now, by `Kind namespace/name`. */
  current: Map<string, InventoryWorkload>;
  inventory: InventoryWorkload[];
}

async function migrateContext(
  input: MigrationRunInput,
  warn: (line: string) => void,
  dependencies: MigrationDependencies,
): Promise<MigrateContext> {
  const config =
    dependencies.cluster && dependencies.serviceAccounts ? undefined : await loadKubeConfig(input.kube);
  return {
    ...input,
    warn,
    iam: dependencies.iam ?? createIamRoles(input.aws),
    cluster: dependencies.cluster ?? (await createMigrationCluster(config!)),
    serviceAccounts: dependencies.serviceAccounts ?? (await createServiceAccountStore(config!)),
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
  const request: TrustPolicyRequest = {
    providerArns: [role.providerArn],
    serviceAccounts: role.serviceAccounts.map((id) => {
      const [namespace, name] = id.split('/') as [string, string];
      return { namespace, name };
    }),
    audiences: context.plan.audiences,
  };
  return existingRoleContext(
    request,
    checkRoleArn(role.arn).name,
    { annotationPrefix: context.plan.annotationPrefix, kube: context.kube, warn: context.warn },
    { iam: context.iam, serviceAccounts: context.serviceAccounts },
  );
}

export const MIGRATE_APPLY_PHASES: Array<Phase<MigrateContext>> = [
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
      if (context.dryRun)
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
      if (context.dryRun)
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
        const why = staleSincePlan(w, context.current.get(workloadSubject(w)));
        if (why !== undefined)
          throw new KirsaError(
            'MIGRATION_PLAN_STALE',
            `${workloadSubject(w)} ${why} since the plan was made`,
            {
              hint: 'nothing was changed; plan again (kirsa migrate plan) and review the new plan',
            },
          );
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
        if (!context.dryRun) await context.cluster.patchPodTemplate(w, change);
        outcomes.push({
          status: 'updated',
          detail: context.dryRun ? `would patch ${what}` : `patched ${what}`,
        });
      }
      return summed(outcomes, 'workload(s)', 'no workload to change');
    },
  },
];

// --- cleanup ----------------------------------------------------------------------------------------------------

export const MIGRATE_CLEANUP_PHASES: Array<Phase<MigrateContext>> = [
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
        const left = current ? legacyAnnotationsLeft(current) : [];
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
        if (!context.dryRun)
          await context.cluster.patchPodTemplate(w, {
            annotations: Object.fromEntries(left.map((key) => [key, null])),
          });
        outcomes.push({
          status: 'updated',
          detail: `${context.dryRun ? 'would remove' : 'removed'} ${left.join(', ')} from ${subject}`,
        });
      }
      return summed(outcomes, 'workload(s)', 'no workload migrated');
    },
  },
  {
    name: 'node-trust',
    description: "with --remove-node-trust, remove the plan's node roles from each migrated role's trust",
    async validate(context) {
      if (!context.removeNodeTrust) return;
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
        const after = removeNodeTrust(record.trustPolicy, context.plan.nodeRoleArns).policy;
        const [untrusted] = subjectsNotTrusted(after, role, context.plan.audiences);
        if (untrusted !== undefined)
          throw new KirsaError(
            'MIGRATION_TRUST_MISSING',
            `${role.arn} would not trust ${untrusted} by web identity`,
            {
              hint: 'nothing was changed; run kirsa migrate apply first',
            },
          );
      }
    },
    async run(context) {
      if (!context.removeNodeTrust) return { status: 'skipped', detail: 'no --remove-node-trust' };
      const outcomes: PhaseOutcome[] = [];
      for (const role of context.plan.roles) {
        const name = checkRoleArn(role.arn).name;
        const record = (await context.iam.getRole(name))!;
        const { policy, removed } = removeNodeTrust(record.trustPolicy, context.plan.nodeRoleArns);
        if (removed.length === 0) {
          outcomes.push({ status: 'unchanged', detail: `${role.arn} trusts no node role` });
          continue;
        }
        if (!context.dryRun) await context.iam.updateTrustPolicy(name, policy);
        outcomes.push({
          status: 'updated',
          detail: `${context.dryRun ? 'would remove' : 'removed'} ${removed.join(', ')} from ${role.arn}`,
        });
      }
      return summed(outcomes, 'role(s)', 'no role migrated');
    },
  },
];

interface MigrationRunOptions {
  skip?: readonly string[];
  report: (phase: Phase<MigrateContext>, outcome: PhaseOutcome) => void;
}

/** `migrate apply`: trust merged, ServiceAccounts annotated or created, workload templates patched. */
export async function applyMigration(
  input: MigrationRunInput,
  { skip = [], report, warn }: MigrationRunOptions & { warn: (line: string) => void },
  dependencies: MigrationDependencies = {},
): Promise<void> {
  const context = await migrateContext(input, warn, dependencies);
  await runPhases(MIGRATE_APPLY_PHASES, context, { skip, report });
}

/** `migrate cleanup`: the kube2iam/kiam annotations removed, and with removeNodeTrust the node roles' trust. */
export async function cleanupMigration(
  input: MigrationRunInput,
  { skip = [], report }: MigrationRunOptions,
  dependencies: MigrationDependencies = {},
): Promise<void> {
  // Cleanup runs none of role create's phases, so nothing in it warns.
  const context = await migrateContext(input, () => {}, dependencies);
  await runPhases(MIGRATE_CLEANUP_PHASES, context, { skip, report });
}
