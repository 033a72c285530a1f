// `role delete` as a workflow: role create's phases undone in reverse order, each only where the thing is
// kirsa's (core/iam/role-teardown.ts says what that is). Every phase reads first; nothing changes until all
// have read. A second run finds nothing of kirsa's left and says unchanged in every phase. The caller
// (cli/role-delete.ts) turns flags into a RoleDeleteInput and prints what the phases report.

import { createIamRoles, type IamOptions, type IamRoles, type RoleRecord } from '../aws/iam-role.ts';
import { ANNOTATION } from '../consts.ts';
import { checkProviderArn } from '../core/iam/arn.ts';
import { annotationNamesRole, planRoleTeardown, type TeardownPlan } from '../core/iam/role-teardown.ts';
import { isWildcardRef, type ServiceAccountRef } from '../core/iam/service-account-ref.ts';
import type { TrustPolicyRequest } from '../core/iam/trust-policy.ts';
import {
  createServiceAccountStore,
  type KubeAccess,
  loadKubeConfig,
  type ServiceAccountStore,
} from '../kube/client.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';
import type { RoleDependencies } from './role-create.ts';

/** What role delete is asked to undo, checked: the CLI makes it from the flags. */
export interface RoleDeleteInput {
  request: TrustPolicyRequest;
  roleName: string;
  /** Delete the role even while other trust or policies not kirsa's remain on it. */
  force: boolean;
  annotationPrefix: string;
  kube: KubeAccess;
  aws: IamOptions;
}

export interface RoleDeleteContext {
  input: RoleDeleteInput;
  /** The account of the first provider: the role's, as role create assumes. */
  accountId: string;
  iam: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  role?: RoleRecord;
  plan?: TeardownPlan;
  annotated?: ServiceAccountRef[];
}

function absent(context: RoleDeleteContext) {
  return { status: 'unchanged' as const, detail: `role ${context.input.roleName} does not exist` };
}

export const ROLE_DELETE_PHASES: Array<Phase<RoleDeleteContext>> = [
  {
    name: 'service-account',
    description: 'remove the role annotations from the ServiceAccount, only where they name this role',
    async validate(context) {
      const { input } = context;
      const refs = input.request.serviceAccounts.filter((ref) => !isWildcardRef(ref));
      context.annotated = [];
      if (refs.length === 0) return;
      context.serviceAccounts ??= await createServiceAccountStore(await loadKubeConfig(input.kube));
      const roleKey = `${input.annotationPrefix}/${ANNOTATION.roleArn}`;
      for (const ref of refs) {
        const account = await context.serviceAccounts.get(ref.namespace, ref.name);
        if (
          annotationNamesRole(account?.metadata?.annotations?.[roleKey], {
            name: input.roleName,
            accountId: context.accountId,
          })
        )
          context.annotated.push(ref);
      }
    },
    async run(context) {
      if (context.annotated!.length === 0)
        return { status: 'unchanged', detail: 'no ServiceAccount named names this role' };
      const prefix = context.input.annotationPrefix;
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
      for (const name of plan.deleteInline)
        await context.iam.deleteInlinePolicy(context.input.roleName, name);
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
      for (const arn of plan.detach) await context.iam.detachPolicy(context.input.roleName, arn);
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
      const { request, roleName } = context.input;
      const plan = context.plan!;
      if (plan.deleteRole) {
        await context.iam.deleteRole(roleName);
        return { status: 'deleted', detail: context.role.arn };
      }
      if (plan.updatedTrust) {
        await context.iam.updateTrustPolicy(roleName, plan.updatedTrust);
        return {
          status: 'updated',
          detail: `${context.role.arn} no longer trusts ${plan.removedSubjects.join(', ')}; kept: ${plan.keptBecause}`,
        };
      }
      return {
        status: 'unchanged',
        detail:
          plan.removedSubjects.length === 0 && !plan.stillTrusted
            ? `${context.role.arn} does not trust ${request.serviceAccounts.map((ref) => `${ref.namespace}/${ref.name}`).join(', ')} from ${request.providerArns.join(', ')}`
            : `kept: ${plan.keptBecause}`,
      };
    },
  },
];

/**
 * Reads the role and plans its teardown (whichever phases are skipped: every phase needs the plan, and
 * reading changes nothing), then runs role delete's phases less those in `skip`, handing each outcome to
 * `report` as it is known.
 */
export async function deleteRole(
  input: RoleDeleteInput,
  {
    skip = [],
    report,
  }: {
    skip?: readonly string[];
    report: (phase: Phase<RoleDeleteContext>, outcome: PhaseOutcome) => void;
  },
  dependencies: RoleDependencies = {},
): Promise<void> {
  const { roleName } = input;
  const iam = dependencies.iam ?? createIamRoles(input.aws);
  const context: RoleDeleteContext = {
    input,
    accountId: checkProviderArn(input.request.providerArns[0]!).accountId,
    iam,
    ...(dependencies.serviceAccounts ? { serviceAccounts: dependencies.serviceAccounts } : {}),
  };
  const role = await iam.getRole(roleName);
  if (role) {
    context.role = role;
    const [attachedPolicyArns, inlinePolicyNames] = await Promise.all([
      iam.listAttachedPolicyArns(roleName),
      iam.listInlinePolicyNames(roleName),
    ]);
    context.plan = planRoleTeardown(
      { trustPolicy: role.trustPolicy, tags: role.tags, attachedPolicyArns, inlinePolicyNames },
      input.request,
      { force: input.force },
    );
  }
  await runPhases(ROLE_DELETE_PHASES, context, { skip, report });
}
