// `kirsa role create`: what the seed did with terraform and kubectl, in named phases. Every phase validates
// first (reads only: the role, its policies, the ServiceAccount), and only when all of them pass does any
// phase change anything. Each phase reports created / updated / unchanged, so a rerun shows it did nothing.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { callerAccountId, createIamRoles, type IamRoles, type RoleRecord } from '../aws/iam-role.ts';
import {
  ANNOTATION,
  DEFAULT_ANNOTATION_PREFIX,
  INLINE_POLICY_NAME,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from '../consts.ts';
import {
  buildRoleArn,
  checkManagedPolicyArn,
  checkProviderArn,
  checkRoleName,
  defaultRoleName,
  iamProviderHostPath,
} from '../core/iam/arn.ts';
import { canonicalPolicyJson, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import {
  type MergeResult,
  mergeTrustPolicy,
  type ServiceAccountRef,
  serviceAccountSubject,
  sizeWarning,
} from '../core/iam/trust-policy.ts';
import { webIdentityAnnotations } from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import { createServiceAccountStore, loadKubeConfig, type ServiceAccountStore } from '../kube/client.ts';
import { collect } from './flags.ts';
import { addPhaseOptions, checkSkipPhases, type Phase, runPhases } from './phases.ts';
import { addTrustFlags, type TrustFlags, trustRequestFromFlags } from './trust-policy.ts';

interface RoleCreateFlags extends TrustFlags {
  roleName?: string;
  policyArn?: string[];
  inlinePolicy?: string;
  skipPhases?: string[];
  endpointUrl?: string;
  region?: string;
  kubeconfig?: string;
  context?: string;
  annotationPrefix: string;
  overwrite?: boolean;
}

export function registerRole(program: Command): void {
  const role = program.command('role').description('IAM roles for service accounts');
  const create = addTrustFlags(
    role
      .command('create')
      .description(
        `create or update the role a service account assumes, in phases: ${PHASES.map((phase) => phase.name).join(', ')} (idempotent)`,
      ),
  )
    .option('--role-name <name>', 'role name (default kirsa-<namespace>-<service account>)')
    .option('--policy-arn <arn>', 'managed policy to attach (repeatable)', collect)
    .option('--inline-policy <file>', `permissions policy (JSON) put on the role as "${INLINE_POLICY_NAME}"`)
    .option('--endpoint-url <url>', 'IAM endpoint (for tests and emulators)')
    .option('--region <region>', 'AWS region for the IAM client')
    .option(
      '--kubeconfig <file>',
      'kubeconfig for the service-account phase (default: KUBECONFIG, ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .option(
      '--annotation-prefix <prefix>',
      'service-account annotation prefix the webhook reads',
      DEFAULT_ANNOTATION_PREFIX,
    )
    .option('--overwrite', 'replace a different role ARN already on the service account');
  addPhaseOptions(create, PHASES).action(async (flags: RoleCreateFlags) => runRoleCreate(flags));
}

interface RoleContext {
  flags: RoleCreateFlags;
  request: ReturnType<typeof trustRequestFromFlags>;
  roleName: string;
  accountId: string;
  partition: string;
  iam: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  inlinePolicyText?: string;
  // Filled in by validation:
  existingRole?: RoleRecord;
  merge?: MergeResult;
  attached?: string[];
  existingInline?: string;
  serviceAccountPlans?: Array<{ ref: ServiceAccountRef; exists: boolean; missing: Record<string, string> }>;
}

function roleArnOf(context: RoleContext): string {
  return (
    context.existingRole?.arn ??
    buildRoleArn({ partition: context.partition, accountId: context.accountId, name: context.roleName })
  );
}

function annotationsFor(context: RoleContext): Record<string, string> {
  return webIdentityAnnotations(
    roleArnOf(context),
    context.request.audiences,
    context.flags.annotationPrefix,
  );
}

const PHASES: Array<Phase<RoleContext>> = [
  {
    name: 'role',
    description: 'create the role, or merge the trust into its existing policy',
    async validate(context) {
      context.existingRole = await context.iam.getRole(context.roleName);
      context.merge = mergeTrustPolicy(context.existingRole?.trustPolicy, context.request);
      for (const problem of context.merge.problems) process.stderr.write(`kirsa: warning: ${problem}\n`);
      const warning = sizeWarning(context.merge.policy);
      if (warning?.includes('over IAM'))
        throw new KirsaError('INPUT_INVALID', `role ${context.roleName}: ${warning}`, {
          hint: 'nothing was changed; trust fewer service accounts with this role',
        });
      if (warning) process.stderr.write(`kirsa: warning: ${warning}\n`);
    },
    async run(context) {
      const merge = context.merge!;
      const subjects = context.request.serviceAccounts.map(serviceAccountSubject).join(', ');
      if (!context.existingRole) {
        const role = await context.iam.createRole(
          context.roleName,
          merge.policy,
          `IRSA role for ${subjects}, created by kirsa`,
        );
        context.existingRole = role;
        return { status: 'created', detail: `${role.arn} trusting ${subjects}` };
      }
      if (!merge.changed)
        return { status: 'unchanged', detail: `${context.existingRole.arn} already trusts ${subjects}` };
      await context.iam.updateTrustPolicy(context.roleName, merge.policy);
      return {
        status: 'updated',
        detail: `${context.existingRole.arn} now also trusts ${merge.added.join(', ')}`,
      };
    },
  },
  {
    name: 'policies',
    description: 'attach the managed policies',
    async validate(context) {
      for (const arn of context.flags.policyArn ?? []) checkManagedPolicyArn(arn);
      context.attached = context.existingRole
        ? await context.iam.listAttachedPolicyArns(context.roleName)
        : [];
    },
    async run(context) {
      const wanted = context.flags.policyArn ?? [];
      if (wanted.length === 0) return { status: 'skipped', detail: 'no --policy-arn given' };
      const missing = wanted.filter((arn) => !context.attached!.includes(arn));
      for (const arn of missing) await context.iam.attachPolicy(context.roleName, arn);
      return missing.length === 0
        ? { status: 'unchanged', detail: `${wanted.length} already attached` }
        : { status: 'updated', detail: `attached ${missing.join(', ')}` };
    },
  },
  {
    name: 'inline-policy',
    description: `put the --inline-policy document as "${INLINE_POLICY_NAME}"`,
    async validate(context) {
      if (context.flags.inlinePolicy === undefined) return;
      let text: string;
      try {
        text = await readFile(context.flags.inlinePolicy, 'utf8');
      } catch (error) {
        throw new KirsaError(
          'INPUT_UNREADABLE',
          `cannot read ${context.flags.inlinePolicy}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      parsePolicyDocument(text, {
        kind: 'permissions',
        name: `${context.flags.inlinePolicy} is not a policy document`,
      });
      context.inlinePolicyText = text;
      context.existingInline = context.existingRole
        ? await context.iam.getInlinePolicy(context.roleName, INLINE_POLICY_NAME)
        : undefined;
    },
    async run(context) {
      if (context.inlinePolicyText === undefined)
        return { status: 'skipped', detail: 'no --inline-policy given' };
      const wanted = canonicalPolicyJson(context.inlinePolicyText);
      if (context.existingInline !== undefined && canonicalPolicyJson(context.existingInline) === wanted)
        return { status: 'unchanged', detail: `"${INLINE_POLICY_NAME}" already holds it` };
      await context.iam.putInlinePolicy(context.roleName, INLINE_POLICY_NAME, wanted);
      return {
        status: context.existingInline === undefined ? 'created' : 'updated',
        detail: `"${INLINE_POLICY_NAME}"`,
      };
    },
  },
  {
    name: 'service-account',
    description: 'annotate the ServiceAccount with the role (create it if missing)',
    async validate(context) {
      const refs = context.request.serviceAccounts;
      if (refs.some((ref) => ref.namespace.includes('*') || ref.name.includes('*'))) {
        context.serviceAccountPlans = [];
        return;
      }
      context.serviceAccounts ??= await createServiceAccountStore(
        await loadKubeConfig({
          ...(context.flags.kubeconfig ? { kubeconfig: context.flags.kubeconfig } : {}),
          ...(context.flags.context ? { context: context.flags.context } : {}),
        }),
      );
      const wanted = annotationsFor(context);
      const roleKey = `${context.flags.annotationPrefix}/${ANNOTATION.roleArn}`;
      context.serviceAccountPlans = [];
      for (const ref of refs) {
        const account = await context.serviceAccounts.get(ref.namespace, ref.name);
        const current = account?.metadata?.annotations ?? {};
        const other = current[roleKey];
        if (other !== undefined && other !== wanted[roleKey] && !context.flags.overwrite)
          throw new KirsaError(
            'ALREADY_EXISTS',
            `ServiceAccount ${ref.namespace}/${ref.name} already names role ${other}`,
            {
              hint: 'nothing was changed; pass --overwrite to point it at this role, or use --skip-phases service-account',
            },
          );
        const missing = Object.fromEntries(
          Object.entries(wanted).filter(([key, value]) => current[key] !== value),
        );
        context.serviceAccountPlans.push({ ref, exists: account !== undefined, missing });
      }
    },
    async run(context) {
      if (context.serviceAccountPlans!.length === 0)
        return {
          status: 'skipped',
          detail: 'a wildcard service account names no single ServiceAccount to annotate',
        };
      // The role ARN is known only now when the role phase just created the role.
      const wanted = annotationsFor(context);
      const done: string[] = [];
      let created = false;
      for (const plan of context.serviceAccountPlans!) {
        const name = `${plan.ref.namespace}/${plan.ref.name}`;
        if (!plan.exists) {
          await context.serviceAccounts!.create(plan.ref.namespace, plan.ref.name, wanted, {
            [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
          });
          created = true;
          done.push(`created ${name}`);
        } else if (Object.keys(plan.missing).length > 0) {
          await context.serviceAccounts!.annotate(plan.ref.namespace, plan.ref.name, wanted);
          done.push(`annotated ${name}`);
        }
      }
      if (done.length === 0)
        return {
          status: 'unchanged',
          detail: `${context.serviceAccountPlans!.map((plan) => `${plan.ref.namespace}/${plan.ref.name}`).join(', ')} already annotated`,
        };
      return {
        status: created ? 'created' : 'updated',
        detail: `${done.join(', ')} (${Object.keys(wanted).join(', ')})`,
      };
    },
  },
];

export async function runRoleCreate(
  flags: RoleCreateFlags,
  dependencies: {
    iam?: IamRoles;
    serviceAccounts?: ServiceAccountStore;
    callerAccountId?: (options: { endpointUrl?: string; region?: string }) => Promise<string>;
  } = {},
): Promise<void> {
  const skipPhases = flags.skipPhases ?? [];
  checkSkipPhases(PHASES, skipPhases);
  let resolvedFlags = flags;
  if ((flags.issuerUrl ?? []).length > 0 && flags.accountId === undefined) {
    // Like eksctl, default the provider's account to the caller's; check the URLs first so a typo costs no call.
    for (const url of flags.issuerUrl ?? []) iamProviderHostPath(url);
    const accountId = await (dependencies.callerAccountId ?? callerAccountId)({
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      ...(flags.region ? { region: flags.region } : {}),
    });
    process.stderr.write(
      `kirsa: no --account-id: using ${accountId}, the account of the credentials in use\n`,
    );
    resolvedFlags = { ...flags, accountId };
  }
  const request = trustRequestFromFlags(resolvedFlags);
  const roleName = checkRoleName(flags.roleName ?? defaultRoleName(request.serviceAccounts[0]!));
  // The role lives in the account of the first provider, the usual single-account setup.
  const { partition, accountId } = checkProviderArn(request.providerArns[0]!);
  const context: RoleContext = {
    flags,
    request,
    roleName,
    accountId,
    partition,
    iam:
      dependencies.iam ??
      createIamRoles({
        ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
        ...(flags.region ? { region: flags.region } : {}),
      }),
    ...(dependencies.serviceAccounts ? { serviceAccounts: dependencies.serviceAccounts } : {}),
  };
  const selected = PHASES.filter((phase) => !skipPhases.includes(phase.name));
  if (skipPhases.includes('role') && selected.length > 0) {
    // Later phases still need the role's ARN and policies: read them, and refuse if there is no role.
    context.existingRole = await context.iam.getRole(roleName);
    if (!context.existingRole && selected.some((phase) => phase.name !== 'service-account'))
      throw new KirsaError('NOT_FOUND', `role ${roleName} does not exist and the role phase is skipped`, {
        hint: 'run without --skip-phases role to create it',
      });
  }
  const width = Math.max(...PHASES.map((phase) => phase.name.length));
  await runPhases(PHASES, context, {
    skip: skipPhases,
    report: (phase, outcome) =>
      process.stdout.write(`${phase.name.padEnd(width)}  ${outcome.status.padEnd(9)}  ${outcome.detail}\n`),
  });
}
