// `role create` as a workflow: what the seed did with terraform and kubectl, in named phases. Every phase
// validates first (reads only: the role, its policies, the ServiceAccount), and only when all of them pass
// does any phase change anything. Each phase reports created / updated / unchanged, so a rerun shows it did
// nothing. The caller (cli/role.ts) turns flags into a RoleCreateInput and prints what the phases report;
// warnings come back through `warn`, so nothing here writes to a terminal. migrate apply runs the role and
// service-account phases per role through roleCreatePhase and existingRoleContext.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { createIamRoles, type IamOptions, type IamRoles, type RoleRecord } from '../aws/iam-role.ts';
import {
  ANNOTATION,
  INLINE_POLICY_NAME,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MAPPING_CONFIG_MAP_KEY,
  MAPPING_CONFIG_MAP_NAME,
} from '../consts.ts';
import { checkManagedPolicyArn } from '../core/iam/arn.ts';
import { canonicalPolicyJson } from '../core/iam/policy-grammar.ts';
import {
  attachedPolicyTag,
  type RolePlan,
  type RoleSettings,
  type RoleSettingsChanges,
  rolePlanFor,
  roleSettingsChanges,
  tagsAtCreation,
} from '../core/iam/role-settings.ts';
import {
  isWildcardRef,
  type ServiceAccountRef,
  serviceAccountSubject,
} from '../core/iam/service-account-ref.ts';
import {
  federatedPrincipals,
  type MergeResult,
  mergeTrustPolicy,
  sizeWarning,
  type TrustPolicyRequest,
} from '../core/iam/trust-policy.ts';
import { mappingEntryFor, setMappingEntries, webIdentityAnnotations } from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import {
  createMappingConfigMapStore,
  createServiceAccountStore,
  type KubeAccess,
  loadKubeConfig,
  type MappingConfigMapStore,
  type ServiceAccountStore,
} from '../kube/client.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';

/** Where `kirsa manifests` installs the webhook, and so where it reads the mapping ConfigMap by default. */
export const DEFAULT_MAPPING_NAMESPACE = 'kirsa';

/** What role create is asked to do, checked: the CLI makes it from the flags, migrate from its plan. */
export interface RoleCreateInput {
  request: TrustPolicyRequest;
  roleName: string;
  /** The name is the default one (no --role-name): warn when that role already serves another cluster. */
  defaultName: boolean;
  /** This cluster's name (--cluster), which that warning's advice names. */
  cluster?: string;
  settings: RoleSettings;
  policyArns: readonly string[];
  /** The permissions policy put as "kirsa-inline", already checked to be a policy document. */
  inlinePolicyText?: string;
  annotationPrefix: string;
  /** Replace a different role ARN already on the ServiceAccount or mapping entry. */
  overwrite: boolean;
  /** For a wildcard service account: the identities file the entry goes to, else the mapping ConfigMap. */
  mappingFile?: string;
  /** The namespace of the mapping ConfigMap. */
  mappingNamespace: string;
  kube: KubeAccess;
  aws: IamOptions;
}

/** What tests (and migrate) hand role create and role delete instead of the AWS and cluster clients. */
export interface RoleDependencies {
  iam?: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  /** The credentials' account (STS), which the CLI fills --account-id with for --issuer-url. */
  callerAccountId?: (options: IamOptions) => Promise<string>;
}

/** Where the entry of a wildcard service account goes: the mapping ConfigMap, or an identities file. */
interface MappingTarget {
  where: string;
  read(): Promise<{ text: string | undefined; version: string | undefined }>;
  write(text: string, version: string | undefined): Promise<void>;
}

function fileMappingTarget(path: string): MappingTarget {
  return {
    where: path,
    async read() {
      try {
        return { text: await readFile(path, 'utf8'), version: undefined };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          return { text: undefined, version: undefined };
        throw new KirsaError('FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    async write(text) {
      // Written beside and renamed over, so the webhook watching the file never reads half of it.
      const temporary = `${path}.kirsa-${process.pid}`;
      await writeFile(temporary, text);
      await rename(temporary, path);
    },
  };
}

function configMapMappingTarget(store: MappingConfigMapStore, namespace: string): MappingTarget {
  return {
    where: `ConfigMap ${namespace}/${MAPPING_CONFIG_MAP_NAME}`,
    read: () => store.read(namespace),
    write: (text, version) => store.write(namespace, text, version),
  };
}

export interface RoleContext {
  input: RoleCreateInput;
  /** Where the phases' warnings go (a merge that dropped something, a trust near IAM's size quota). */
  warn: (line: string) => void;
  /** The role as kirsa would create it (its trust built from the request alone). */
  plan: RolePlan;
  iam: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  // Filled in by validation:
  existingRole?: RoleRecord;
  merge?: MergeResult;
  changes?: RoleSettingsChanges;
  attached?: string[];
  existingInline?: string;
  serviceAccountPlans?: Array<{ ref: ServiceAccountRef; exists: boolean; missing: Record<string, string> }>;
  mappingTarget?: MappingTarget;
  /** The mapping as validation read it; the write is guarded by its version. */
  mappingRead?: { text: string | undefined; version: string | undefined };
  mappingKeys?: string[];
}

async function serviceAccountStoreFor(kube: KubeAccess): Promise<ServiceAccountStore> {
  return createServiceAccountStore(await loadKubeConfig(kube));
}

/** The mapping text with an entry for every wildcard key, or the reason one is refused. */
function mappingWith(context: RoleContext, text: string | undefined) {
  return setMappingEntries(
    text,
    context.mappingKeys!,
    mappingEntryFor(roleArnOf(context), context.input.request.audiences),
    { overwrite: context.input.overwrite, where: context.mappingTarget!.where },
  );
}

function roleArnOf(context: RoleContext): string {
  return context.existingRole?.arn ?? context.plan.arn;
}

function annotationsFor(context: RoleContext): Record<string, string> {
  return webIdentityAnnotations(
    roleArnOf(context),
    context.input.request.audiences,
    context.input.annotationPrefix,
  );
}

export const ROLE_CREATE_PHASES: Array<Phase<RoleContext>> = [
  {
    name: 'role',
    description:
      'create the role, or merge the trust into its existing policy and bring its boundary, tags, maximum session and description to what is asked',
    async validate(context) {
      const { input } = context;
      context.existingRole = await context.iam.getRole(input.roleName);
      context.merge = mergeTrustPolicy(context.existingRole?.trustPolicy, input.request);
      for (const problem of context.merge.problems) context.warn(problem);
      const warning = sizeWarning(context.merge.policy);
      if (warning?.includes('over IAM'))
        throw new KirsaError('TRUST_POLICY_TOO_LARGE', `role ${input.roleName}: ${warning}`, {
          hint: 'nothing was changed; trust fewer service accounts with this role',
        });
      if (warning) context.warn(warning);
      if (!context.existingRole) return;
      if (input.defaultName) {
        const others = federatedPrincipals(context.existingRole.trustPolicy).filter(
          (arn) => !input.request.providerArns.includes(arn),
        );
        const fix =
          input.cluster === undefined
            ? "give --cluster NAME for a role of this cluster's own"
            : `if that is another cluster, give this one a --cluster name other than ${input.cluster}`;
        if (others.length > 0)
          context.warn(
            `role ${input.roleName} already trusts ${others.join(', ')}: service accounts of that cluster and this one would share the role and its permissions; ${fix}`,
          );
      }
      context.changes = roleSettingsChanges(context.existingRole, input.settings);
      for (const problem of context.changes.problems) context.warn(problem);
    },
    async run(context) {
      const merge = context.merge!;
      const subjects = context.input.request.serviceAccounts.map(serviceAccountSubject).join(', ');
      if (!context.existingRole) {
        const { plan } = context;
        const role = await context.iam.createRole({
          ...plan,
          trustPolicy: merge.policy,
          tags: tagsAtCreation(plan),
        });
        context.existingRole = role;
        return { status: 'created', detail: `${role.arn} trusting ${subjects}` };
      }
      const name = context.input.roleName;
      const changes = context.changes!;
      const done: string[] = [];
      if (merge.changed) {
        await context.iam.updateTrustPolicy(name, merge.policy);
        done.push(`now also trusts ${merge.added.join(', ')}`);
      }
      if (changes.update) await context.iam.updateRole(name, changes.update);
      if (changes.permissionsBoundary !== undefined)
        await context.iam.putPermissionsBoundary(name, changes.permissionsBoundary);
      if (Object.keys(changes.tags).length > 0) await context.iam.tagRole(name, changes.tags);
      done.push(...changes.lines);
      if (done.length === 0)
        return { status: 'unchanged', detail: `${context.existingRole.arn} already trusts ${subjects}` };
      return { status: 'updated', detail: `${context.existingRole.arn}: ${done.join('; ')}` };
    },
  },
  {
    name: 'policies',
    description: 'attach the managed policies',
    async validate(context) {
      for (const arn of context.input.policyArns) checkManagedPolicyArn(arn);
      context.attached = context.existingRole
        ? await context.iam.listAttachedPolicyArns(context.input.roleName)
        : [];
    },
    async run(context) {
      const wanted = context.input.policyArns;
      if (wanted.length === 0) return { status: 'skipped', detail: 'no --policy-arn given' };
      const missing = wanted.filter((arn) => !context.attached!.includes(arn));
      for (const arn of missing) {
        await context.iam.attachPolicy(context.input.roleName, arn);
        // The record that kirsa attached it, which `role delete` reads; a policy attached by someone else
        // before kirsa was asked for it gets none, so delete leaves it.
        const tag = attachedPolicyTag(arn);
        if (tag) await context.iam.tagRole(context.input.roleName, { [tag[0]]: tag[1] });
        else
          context.warn(
            `${arn} cannot be recorded in a tag (IAM refuses its characters there): role delete will leave it attached`,
          );
      }
      return missing.length === 0
        ? { status: 'unchanged', detail: `${wanted.length} already attached` }
        : { status: 'updated', detail: `attached ${missing.join(', ')}` };
    },
  },
  {
    name: 'inline-policy',
    description: `put the --inline-policy document as "${INLINE_POLICY_NAME}"`,
    async validate(context) {
      if (context.input.inlinePolicyText === undefined) return;
      context.existingInline = context.existingRole
        ? await context.iam.getInlinePolicy(context.input.roleName, INLINE_POLICY_NAME)
        : undefined;
    },
    async run(context) {
      if (context.input.inlinePolicyText === undefined)
        return { status: 'skipped', detail: 'no --inline-policy given' };
      const wanted = canonicalPolicyJson(context.input.inlinePolicyText);
      const existing = context.existingInline;
      // A document that is not JSON (moto's CloudFormation stores one as a Python dict's text) is replaced.
      let current: string | undefined;
      try {
        current = existing === undefined ? undefined : canonicalPolicyJson(existing);
      } catch {
        current = undefined;
      }
      if (current === wanted)
        return { status: 'unchanged', detail: `"${INLINE_POLICY_NAME}" already holds it` };
      await context.iam.putInlinePolicy(context.input.roleName, INLINE_POLICY_NAME, wanted);
      return {
        status: existing === undefined ? 'created' : 'updated',
        detail:
          existing !== undefined && current === undefined
            ? `"${INLINE_POLICY_NAME}" (the one there was not JSON)`
            : `"${INLINE_POLICY_NAME}"`,
      };
    },
  },
  {
    name: 'service-account',
    description:
      'annotate the ServiceAccount with the role (create it if missing); for a wildcard, write the identity mapping entry',
    async validate(context) {
      const { input } = context;
      const all = input.request.serviceAccounts;
      const wildcards = all.filter(isWildcardRef);
      const refs = all.filter((ref) => !isWildcardRef(ref));
      context.serviceAccountPlans = [];
      context.mappingKeys = wildcards.map((ref) => `${ref.namespace}/${ref.name}`);
      if (wildcards.length > 0) {
        context.mappingTarget ??=
          input.mappingFile !== undefined
            ? fileMappingTarget(input.mappingFile)
            : configMapMappingTarget(
                await createMappingConfigMapStore(
                  await loadKubeConfig(input.kube),
                  MAPPING_CONFIG_MAP_NAME,
                  MAPPING_CONFIG_MAP_KEY,
                ),
                input.mappingNamespace,
              );
        context.mappingRead = await context.mappingTarget.read();
        mappingWith(context, context.mappingRead.text); // refuses a taken entry or a broken mapping now
      }
      if (refs.length === 0) return;
      context.serviceAccounts ??= await serviceAccountStoreFor(input.kube);
      const wanted = annotationsFor(context);
      const roleKey = `${input.annotationPrefix}/${ANNOTATION.roleArn}`;
      context.serviceAccountPlans = [];
      for (const ref of refs) {
        const account = await context.serviceAccounts.get(ref.namespace, ref.name);
        const current = account?.metadata?.annotations ?? {};
        const other = current[roleKey];
        if (other !== undefined && other !== wanted[roleKey] && !input.overwrite)
          throw new KirsaError(
            'SERVICE_ACCOUNT_ROLE_TAKEN',
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
      // The role ARN is known only now when the role phase just created the role.
      const wanted = annotationsFor(context);
      const done: string[] = [];
      let created = false;
      let mappingChanged = false;
      if (context.mappingKeys!.length > 0) {
        const { status, text } = mappingWith(context, context.mappingRead!.text);
        const keys = context.mappingKeys!.map((key) => `"${key}"`).join(', ');
        if (status !== 'unchanged') {
          await context.mappingTarget!.write(text, context.mappingRead!.version);
          created ||= status === 'created';
          mappingChanged = true;
          done.push(`wrote mapping entry ${keys} in ${context.mappingTarget!.where}`);
        }
      }
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
          detail: [
            ...context.serviceAccountPlans!.map(
              (plan) => `${plan.ref.namespace}/${plan.ref.name} already annotated`,
            ),
            ...context.mappingKeys!.map((key) => `mapping entry "${key}" already names the role`),
          ].join(', '),
        };
      return {
        status: created ? 'created' : 'updated',
        detail:
          mappingChanged && context.serviceAccountPlans!.length === 0
            ? done.join(', ')
            : `${done.join(', ')} (${Object.keys(wanted).join(', ')})`,
      };
    },
  },
];

/**
 * One of role create's phases, for a verb that runs it over several roles (migrate apply merges each role's
 * trust and annotates its ServiceAccounts with these, so both verbs change a role and an account one way).
 */
export function roleCreatePhase(name: 'role' | 'service-account'): Phase<RoleContext> {
  return ROLE_CREATE_PHASES.find((phase) => phase.name === name)!;
}

/**
 * The context role create's phases need for an existing role that should trust these accounts and nothing
 * else changed (no settings, policies or tags asked): what migrate apply runs the phases with, per role.
 */
export function existingRoleContext(
  request: TrustPolicyRequest,
  roleName: string,
  {
    annotationPrefix,
    kube,
    warn,
  }: { annotationPrefix: string; kube: KubeAccess; warn: (line: string) => void },
  dependencies: { iam: IamRoles; serviceAccounts: ServiceAccountStore },
): RoleContext {
  const input: RoleCreateInput = {
    request,
    roleName,
    defaultName: false,
    settings: { tags: {} },
    policyArns: [],
    annotationPrefix,
    overwrite: false,
    mappingNamespace: DEFAULT_MAPPING_NAMESPACE,
    kube,
    aws: {},
  };
  return {
    input,
    warn,
    plan: rolePlanFor(request, roleName, input.settings, [], undefined),
    ...dependencies,
  };
}

/**
 * Runs role create's phases (less those in `skip`), handing each outcome to `report` as it is known and each
 * warning to `warn`. Returns the role's ARN (the one it has, or the one it was created with).
 */
export async function createRole(
  input: RoleCreateInput,
  {
    skip = [],
    report,
    warn,
  }: {
    skip?: readonly string[];
    report: (phase: Phase<RoleContext>, outcome: PhaseOutcome) => void;
    warn: (line: string) => void;
  },
  dependencies: RoleDependencies = {},
): Promise<{ roleArn: string }> {
  const context: RoleContext = {
    input,
    warn,
    plan: rolePlanFor(
      input.request,
      input.roleName,
      input.settings,
      input.policyArns,
      input.inlinePolicyText,
    ),
    iam: dependencies.iam ?? createIamRoles(input.aws),
    ...(dependencies.serviceAccounts ? { serviceAccounts: dependencies.serviceAccounts } : {}),
  };
  const selected = ROLE_CREATE_PHASES.filter((phase) => !skip.includes(phase.name));
  const wildcard = input.request.serviceAccounts.some(isWildcardRef);
  if (!context.serviceAccounts && !wildcard && selected.some((phase) => phase.name === 'service-account')) {
    // The kubeconfig is local: a missing one is said before anything is asked of AWS.
    context.serviceAccounts = await serviceAccountStoreFor(input.kube);
  }
  if (skip.includes('role') && selected.length > 0) {
    // Later phases still need the role's ARN and policies: read them, and refuse if there is no role.
    context.existingRole = await context.iam.getRole(input.roleName);
    if (!context.existingRole && selected.some((phase) => phase.name !== 'service-account'))
      throw new KirsaError(
        'AWS_NOT_FOUND',
        `role ${input.roleName} does not exist and the role phase is skipped`,
        { hint: 'run without --skip-phases role to create it' },
      );
  }
  await runPhases(ROLE_CREATE_PHASES, context, { skip, report });
  return { roleArn: roleArnOf(context) };
}
