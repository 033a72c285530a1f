// `kirsa role delete`: `role create`'s phases undone in reverse order, each only where the thing is kirsa's
// (core/iam/role-teardown.ts says what that is). Every phase reads first; nothing changes until all have
// read. A second run finds nothing of kirsa's left and says unchanged in every phase.

import type { Command } from 'commander';
import { callerAccountId, createIamRoles, type IamRoles, type RoleRecord } from '../aws/iam-role.ts';
import { ANNOTATION } from '../consts.ts';
import { checkProviderArn, checkRoleName, defaultRoleName } from '../core/iam/arn.ts';
import { annotationNamesRole, planRoleTeardown, type TeardownPlan } from '../core/iam/role-teardown.ts';
import type { ServiceAccountRef } from '../core/iam/trust-policy.ts';
import { createServiceAccountStore, loadKubeConfig, type ServiceAccountStore } from '../kube/client.ts';
import { checkSkipPhases, type Phase, runPhases } from '../workflows/phases.ts';
import { addRoleTargetOptions } from './flags.ts';
import { addPhaseOptions } from './phases.ts';
import type { RoleDependencies } from './role.ts';
import { addTrustFlags, type TrustFlags, trustRequestFromFlags, withCallerAccount } from './trust-policy.ts';

interface RoleDeleteFlags extends TrustFlags {
  roleName?: string;
  cluster?: string;
  force?: boolean;
  skipPhases?: string[];
  endpointUrl?: string;
  region?: string;
  kubeconfig?: string;
  context?: string;
  annotationPrefix: string;
}

interface DeleteContext {
  flags: RoleDeleteFlags;
  request: ReturnType<typeof trustRequestFromFlags>;
  roleName: string;
  /** The account of the first provider: the role's, as role create assumes. */
  accountId: string;
  iam: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  role?: RoleRecord;
  plan?: TeardownPlan;
  annotated?: ServiceAccountRef[];
}

function absent(context: DeleteContext) {
  return { status: 'unchanged' as const, detail: `role ${context.roleName} does not exist` };
}

const DELETE_PHASES: Array<Phase<DeleteContext>> = [
  {
    name: 'service-account',
    description: 'remove the role annotations from the ServiceAccount, only where they name this role',
    async validate(context) {
      const refs = context.request.serviceAccounts.filter(
        (ref) => !ref.namespace.includes('*') && !ref.name.includes('*'),
      );
      context.annotated = [];
      if (refs.length === 0) return;
      context.serviceAccounts ??= await createServiceAccountStore(
        await loadKubeConfig({
          ...(context.flags.kubeconfig ? { kubeconfig: context.flags.kubeconfig } : {}),
          ...(context.flags.context ? { context: context.flags.context } : {}),
        }),
      );
      const roleKey = `${context.flags.annotationPrefix}/${ANNOTATION.roleArn}`;
      for (const ref of refs) {
        const account = await context.serviceAccounts.get(ref.namespace, ref.name);
        if (
          annotationNamesRole(account?.metadata?.annotations?.[roleKey], {
            name: context.roleName,
            accountId: context.accountId,
          })
        )
          context.annotated.push(ref);
      }
    },
    async run(context) {
      if (context.annotated!.length === 0)
        return { status: 'unchanged', detail: 'no ServiceAccount named names this role' };
      const prefix = context.flags.annotationPrefix;
      const keys = [`${prefix}/${ANNOTATION.roleArn}`, `${prefix}/${ANNOTATION.audience}`];
      for (const ref of context.annotated!)
        await context.serviceAccounts!.removeAnnotations(ref.namespace, ref.name, keys);
      return {
        status: 'updated',
        detail: `removed ${keys.join(', ')} from ${context.annotated!.map((ref) => `${ref.namespace}/${ref.name}`).join(', ')}`,
      };
    },
  },
  {
    name: 'inline-policy',
    description: 'delete "kirsa-inline" when the role goes',
    async run(context) {
      if (!context.role) return absent(context);
      const plan = context.plan!;
      for (const name of plan.deleteInline) await context.iam.deleteInlinePolicy(context.roleName, name);
      if (plan.deleteInline.length > 0) return { status: 'deleted', detail: plan.deleteInline.join(', ') };
      return {
        status: 'unchanged',
        detail: plan.keptBecause ? `kept: ${plan.keptBecause}` : 'none on the role',
      };
    },
  },
  {
    name: 'policies',
    description:
      'detach the managed policies kirsa attached (its tags on the role list them) when the role goes',
    async run(context) {
      if (!context.role) return absent(context);
      const plan = context.plan!;
      for (const arn of plan.detach) await context.iam.detachPolicy(context.roleName, arn);
      if (plan.detach.length > 0) return { status: 'deleted', detail: `detached ${plan.detach.join(', ')}` };
      return {
        status: 'unchanged',
        detail: plan.keptBecause ? `kept: ${plan.keptBecause}` : 'kirsa attached none',
      };
    },
  },
  {
    name: 'role',
    description:
      "take this cluster's service accounts out of the trust; delete the role when no trust remains and kirsa made it (or --force)",
    async run(context) {
      if (!context.role) return absent(context);
      const plan = context.plan!;
      if (plan.deleteRole) {
        await context.iam.deleteRole(context.roleName);
        return { status: 'deleted', detail: context.role.arn };
      }
      if (plan.updatedTrust) {
        await context.iam.updateTrustPolicy(context.roleName, plan.updatedTrust);
        return {
          status: 'updated',
          detail: `${context.role.arn} no longer trusts ${plan.removedSubjects.join(', ')}; kept: ${plan.keptBecause}`,
        };
      }
      return {
        status: 'unchanged',
        detail:
          plan.removedSubjects.length === 0 && !plan.stillTrusted
            ? `${context.role.arn} does not trust ${context.request.serviceAccounts.map((ref) => `${ref.namespace}/${ref.name}`).join(', ')} from ${context.request.providerArns.join(', ')}`
            : `kept: ${plan.keptBecause}`,
      };
    },
  },
];

export function registerRoleDelete(role: Command): void {
  const command = addRoleTargetOptions(
    addTrustFlags(
      role
        .command('delete')
        .description(
          `undo role create for service accounts of this cluster, in phases: ${DELETE_PHASES.map((phase) => phase.name).join(', ')} (idempotent)`,
        ),
    )
      .option(
        '--role-name <name>',
        'role name (default: the one role create gives, with --cluster when given)',
      )
      .option('--cluster <name>', 'the cluster name given to role create, for the default role name')
      .option('--force', "delete the role even while other trust or policies not kirsa's remain on it"),
  );
  addPhaseOptions(command, DELETE_PHASES).action(async (flags: RoleDeleteFlags) => runRoleDelete(flags));
}

export async function runRoleDelete(
  flags: RoleDeleteFlags,
  dependencies: RoleDependencies = {},
): Promise<void> {
  const skipPhases = flags.skipPhases ?? [];
  checkSkipPhases(DELETE_PHASES, skipPhases);
  const request = trustRequestFromFlags(
    await withCallerAccount(flags, dependencies.callerAccountId ?? callerAccountId),
  );
  const roleName = checkRoleName(
    flags.roleName ?? defaultRoleName(request.serviceAccounts[0]!, flags.cluster),
  );
  const iam =
    dependencies.iam ??
    createIamRoles({
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      ...(flags.region ? { region: flags.region } : {}),
    });
  const context: DeleteContext = {
    flags,
    request,
    roleName,
    accountId: checkProviderArn(request.providerArns[0]!).accountId,
    iam,
    ...(dependencies.serviceAccounts ? { serviceAccounts: dependencies.serviceAccounts } : {}),
  };
  // Every phase needs the role and the teardown plan, whichever phases are skipped; reading changes nothing.
  const role = await iam.getRole(roleName);
  if (role) {
    context.role = role;
    const [attachedPolicyArns, inlinePolicyNames] = await Promise.all([
      iam.listAttachedPolicyArns(roleName),
      iam.listInlinePolicyNames(roleName),
    ]);
    context.plan = planRoleTeardown(
      { trustPolicy: role.trustPolicy, tags: role.tags, attachedPolicyArns, inlinePolicyNames },
      request,
      { force: flags.force ?? false },
    );
  }
  const width = Math.max(...DELETE_PHASES.map((phase) => phase.name.length));
  await runPhases(DELETE_PHASES, context, {
    skip: skipPhases,
    report: (phase, outcome) =>
      process.stdout.write(`${phase.name.padEnd(width)}  ${outcome.status.padEnd(9)}  ${outcome.detail}\n`),
  });
}
