// `kirsa role create`: what the seed did with terraform and kubectl, in named phases. Every phase validates
// first (reads only: the role, its policies, the ServiceAccount), and only when all of them pass does any
// phase change anything. Each phase reports created / updated / unchanged, so a rerun shows it did nothing.

import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { callerAccountId, createIamRoles, type IamRoles, type RoleRecord } from '../aws/iam-role.ts';
import {
  ANNOTATION,
  INLINE_POLICY_NAME,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MAPPING_CONFIG_MAP_KEY,
  MAPPING_CONFIG_MAP_NAME,
} from '../consts.ts';
import { checkManagedPolicyArn, checkProviderArn, checkRoleName, defaultRoleName } from '../core/iam/arn.ts';
import { checkIacFormat, type IacFormat, RENDER } from '../core/iam/iac.ts';
import { canonicalPolicyJson, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import {
  attachedPolicyTag,
  buildRolePlan,
  checkDescription,
  checkMaxSessionDuration,
  checkPermissionsBoundary,
  checkRolePath,
  parseTags,
  type RolePlan,
  type RoleSettings,
  type RoleSettingsChanges,
  roleSettingsChanges,
} from '../core/iam/role-settings.ts';
import {
  buildTrustPolicy,
  federatedPrincipals,
  type MergeResult,
  mergeTrustPolicy,
  type ServiceAccountRef,
  serviceAccountSubject,
  sizeWarning,
} from '../core/iam/trust-policy.ts';
import { mappingEntryFor, setMappingEntry, webIdentityAnnotations } from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import {
  createMappingConfigMapStore,
  createServiceAccountStore,
  loadKubeConfig,
  type MappingConfigMapStore,
  type ServiceAccountStore,
} from '../kube/client.ts';
import { checkSkipPhases, type Phase, runPhases } from '../workflows/phases.ts';
import { addRoleTargetOptions, collect, parseIntegerFlag } from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson } from './phases.ts';
import { registerRoleDelete } from './role-delete.ts';
import { addTrustFlags, type TrustFlags, trustRequestFromFlags, withCallerAccount } from './trust-policy.ts';

export interface RoleCreateFlags extends TrustFlags {
  roleName?: string;
  cluster?: string;
  permissionsBoundary?: string;
  tag?: string[];
  path?: string;
  maxSessionDuration?: number;
  description?: string;
  policyArn?: string[];
  inlinePolicy?: string;
  skipPhases?: string[];
  endpointUrl?: string;
  region?: string;
  kubeconfig?: string;
  context?: string;
  annotationPrefix: string;
  overwrite?: boolean;
  output?: string;
  outputDir?: string;
  /** Default DEFAULT_MAPPING_NAMESPACE (other verbs call runRoleCreate without it). */
  mappingNamespace?: string;
  mappingFile?: string;
}

/** Where `kirsa manifests` installs the webhook, and so where it reads the mapping ConfigMap by default. */
const DEFAULT_MAPPING_NAMESPACE = 'kirsa';

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

function isWildcard(ref: ServiceAccountRef): boolean {
  return ref.namespace.includes('*') || ref.name.includes('*');
}

export function registerRole(program: Command): void {
  const role = program.command('role').description('IAM roles for service accounts');
  const create = addRoleTargetOptions(
    addTrustFlags(
      role
        .command('create')
        .description(
          `create or update the role a service account assumes, in phases: ${PHASES.map((phase) => phase.name).join(', ')} (idempotent)`,
        ),
    )
      .option(
        '--role-name <name>',
        'role name (default kirsa.<cluster>.<namespace>.<service account> with --cluster, else kirsa-<namespace>-<service account>)',
      )
      .option(
        '--cluster <name>',
        "this cluster's name, put in the default role name so each cluster gets its own role",
      )
      .option(
        '--permissions-boundary <arn>',
        'managed policy set as the permissions boundary (kept up to date)',
      )
      .option(
        '--tag <key=value>',
        'tag on the role (repeatable; kept up to date, other tags left alone)',
        collect,
      )
      .option('--path <path>', 'IAM path of a new role, e.g. /irsa/ (IAM cannot move a role later)')
      .option(
        '--max-session-duration <seconds>',
        'maximum session, 3600 to 43200 seconds (kept up to date)',
        parseIntegerFlag('max-session-duration'),
      )
      .option('--description <text>', 'role description (default: the service accounts it trusts)')
      .option('--policy-arn <arn>', 'managed policy to attach (repeatable)', collect)
      .option(
        '--inline-policy <file>',
        `permissions policy (JSON) put on the role as "${INLINE_POLICY_NAME}"`,
      ),
  )
    .option('--overwrite', 'replace a different role ARN already on the service account or mapping entry')
    .option(...IAC_OPTIONS.output)
    .option(...IAC_OPTIONS.outputDir)
    .option(
      '--mapping-namespace <namespace>',
      `for a wildcard service account: namespace of the mapping ConfigMap ${MAPPING_CONFIG_MAP_NAME} the entry is written to`,
      DEFAULT_MAPPING_NAMESPACE,
    )
    .option(
      '--mapping-file <file>',
      'for a wildcard service account: write the entry to this identities file instead of the ConfigMap',
    );
  addPhaseOptions(create, PHASES).action(async (flags: RoleCreateFlags) => runRoleCreate(flags));
  registerRoleDelete(role);
}

export interface RoleContext {
  flags: RoleCreateFlags;
  request: ReturnType<typeof trustRequestFromFlags>;
  roleName: string;
  /** The name came from defaultRoleName: warn when that role already serves another cluster. */
  defaultName: boolean;
  settings: RoleSettings;
  /** The role as kirsa would create it (its trust built from the request alone). */
  plan: RolePlan;
  iam: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  inlinePolicyText?: string;
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

async function kubeConfigOf(flags: RoleCreateFlags) {
  return loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
}

/** The mapping text with an entry for every wildcard key, or the reason one is refused. */
function mappingWith(context: RoleContext, text: string | undefined) {
  const entry = mappingEntryFor(roleArnOf(context), context.request.audiences);
  let current = text;
  let status: 'unchanged' | 'created' | 'updated' = 'unchanged';
  for (const key of context.mappingKeys!) {
    const written = setMappingEntry(current, key, entry, {
      overwrite: context.flags.overwrite === true,
      where: context.mappingTarget!.where,
    });
    current = written.text;
    if (written.status !== 'unchanged') status = status === 'created' ? 'created' : written.status;
  }
  return { status, text: current ?? '' };
}

function roleArnOf(context: RoleContext): string {
  return context.existingRole?.arn ?? context.plan.arn;
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
    description:
      'create the role, or merge the trust into its existing policy and bring its boundary, tags, maximum session and description to what is asked',
    async validate(context) {
      context.existingRole = await context.iam.getRole(context.roleName);
      context.merge = mergeTrustPolicy(context.existingRole?.trustPolicy, context.request);
      for (const problem of context.merge.problems) process.stderr.write(`kirsa: warning: ${problem}\n`);
      const warning = sizeWarning(context.merge.policy);
      if (warning?.includes('over IAM'))
        throw new KirsaError('TRUST_POLICY_TOO_LARGE', `role ${context.roleName}: ${warning}`, {
          hint: 'nothing was changed; trust fewer service accounts with this role',
        });
      if (warning) process.stderr.write(`kirsa: warning: ${warning}\n`);
      if (!context.existingRole) return;
      if (context.defaultName) {
        const others = federatedPrincipals(context.existingRole.trustPolicy).filter(
          (arn) => !context.request.providerArns.includes(arn),
        );
        const fix =
          context.flags.cluster === undefined
            ? "give --cluster NAME for a role of this cluster's own"
            : `if that is another cluster, give this one a --cluster name other than ${context.flags.cluster}`;
        if (others.length > 0)
          process.stderr.write(
            `kirsa: warning: role ${context.roleName} already trusts ${others.join(', ')}: service accounts of that cluster and this one would share the role and its permissions; ${fix}\n`,
          );
      }
      context.changes = roleSettingsChanges(context.existingRole, context.settings);
      for (const problem of context.changes.problems) process.stderr.write(`kirsa: warning: ${problem}\n`);
    },
    async run(context) {
      const merge = context.merge!;
      const subjects = context.request.serviceAccounts.map(serviceAccountSubject).join(', ');
      if (!context.existingRole) {
        // The tags recording attached policies are added by the policies phase as it attaches them, so a
        // role whose policies phase is skipped claims no attachment.
        const { plan } = context;
        const role = await context.iam.createRole({
          ...plan,
          trustPolicy: merge.policy,
          tags: Object.fromEntries(
            Object.entries(plan.tags).filter(
              ([key]) => !plan.managedPolicyArns.some((arn) => attachedPolicyTag(arn)?.[0] === key),
            ),
          ),
        });
        context.existingRole = role;
        return { status: 'created', detail: `${role.arn} trusting ${subjects}` };
      }
      const name = context.roleName;
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
      for (const arn of context.flags.policyArn ?? []) checkManagedPolicyArn(arn);
      context.attached = context.existingRole
        ? await context.iam.listAttachedPolicyArns(context.roleName)
        : [];
    },
    async run(context) {
      const wanted = context.flags.policyArn ?? [];
      if (wanted.length === 0) return { status: 'skipped', detail: 'no --policy-arn given' };
      const missing = wanted.filter((arn) => !context.attached!.includes(arn));
      for (const arn of missing) {
        await context.iam.attachPolicy(context.roleName, arn);
        // The record that kirsa attached it, which `role delete` reads; a policy attached by someone else
        // before kirsa was asked for it gets none, so delete leaves it.
        const tag = attachedPolicyTag(arn);
        if (tag) await context.iam.tagRole(context.roleName, { [tag[0]]: tag[1] });
        else
          process.stderr.write(
            `kirsa: warning: ${arn} cannot be recorded in a tag (IAM refuses its characters there): role delete will leave it attached\n`,
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
      if (context.inlinePolicyText === undefined) return;
      context.existingInline = context.existingRole
        ? await context.iam.getInlinePolicy(context.roleName, INLINE_POLICY_NAME)
        : undefined;
    },
    async run(context) {
      if (context.inlinePolicyText === undefined)
        return { status: 'skipped', detail: 'no --inline-policy given' };
      const wanted = canonicalPolicyJson(context.inlinePolicyText);
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
      await context.iam.putInlinePolicy(context.roleName, INLINE_POLICY_NAME, wanted);
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
      const all = context.request.serviceAccounts;
      const wildcards = all.filter(isWildcard);
      const refs = all.filter((ref) => !isWildcard(ref));
      context.serviceAccountPlans = [];
      context.mappingKeys = wildcards.map((ref) => `${ref.namespace}/${ref.name}`);
      if (wildcards.length > 0) {
        context.mappingTarget ??=
          context.flags.mappingFile !== undefined
            ? fileMappingTarget(context.flags.mappingFile)
            : configMapMappingTarget(
                await createMappingConfigMapStore(
                  await kubeConfigOf(context.flags),
                  MAPPING_CONFIG_MAP_NAME,
                  MAPPING_CONFIG_MAP_KEY,
                ),
                context.flags.mappingNamespace ?? DEFAULT_MAPPING_NAMESPACE,
              );
        context.mappingRead = await context.mappingTarget.read();
        mappingWith(context, context.mappingRead.text); // refuses a taken entry or a broken mapping now
      }
      if (refs.length === 0) return;
      context.serviceAccounts ??= await serviceAccountStoreFor(context.flags);
      const wanted = annotationsFor(context);
      const roleKey = `${context.flags.annotationPrefix}/${ANNOTATION.roleArn}`;
      context.serviceAccountPlans = [];
      for (const ref of refs) {
        const account = await context.serviceAccounts.get(ref.namespace, ref.name);
        const current = account?.metadata?.annotations ?? {};
        const other = current[roleKey];
        if (other !== undefined && other !== wanted[roleKey] && !context.flags.overwrite)
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
  return PHASES.find((phase) => phase.name === name)!;
}

/**
 * The context role create's phases need for an existing role that should trust these accounts and nothing
 * else changed (no settings, policies or tags asked): what migrate apply runs the phases with, per role.
 */
export function existingRoleContext(
  flags: RoleCreateFlags,
  request: ReturnType<typeof trustRequestFromFlags>,
  roleName: string,
  dependencies: { iam: IamRoles; serviceAccounts: ServiceAccountStore },
): RoleContext {
  const settings = roleSettingsFromFlags(flags);
  return {
    flags,
    request,
    roleName,
    defaultName: false,
    settings,
    plan: rolePlanOf(request, roleName, settings, [], undefined),
    ...dependencies,
  };
}

/** What tests (and migrate) hand role create and role delete instead of the AWS and cluster clients. */
export interface RoleDependencies {
  iam?: IamRoles;
  serviceAccounts?: ServiceAccountStore;
  callerAccountId?: (options: { endpointUrl?: string; region?: string }) => Promise<string>;
}

export async function runRoleCreate(
  flags: RoleCreateFlags,
  dependencies: RoleDependencies = {},
): Promise<void> {
  const skipPhases = flags.skipPhases ?? [];
  checkSkipPhases(PHASES, skipPhases);
  const json = flags.output === 'json';
  if (flags.output !== undefined && !json) return writeRoleIac(flags, checkIacFormat(flags.output));
  const resolvedFlags = await withCallerAccount(flags, dependencies.callerAccountId ?? callerAccountId);
  const request = trustRequestFromFlags(resolvedFlags);
  const roleName = roleNameFromFlags(flags, request.serviceAccounts[0]!);
  const settings = roleSettingsFromFlags(flags);
  // Read now so a bad file fails before anything is read from AWS or the cluster.
  const inlinePolicyText =
    flags.inlinePolicy === undefined ? undefined : await readInlinePolicy(flags.inlinePolicy);
  const context: RoleContext = {
    flags,
    request,
    roleName,
    defaultName: flags.roleName === undefined,
    settings,
    plan: rolePlanOf(request, roleName, settings, flags.policyArn ?? [], inlinePolicyText),
    ...(inlinePolicyText === undefined ? {} : { inlinePolicyText }),
    iam:
      dependencies.iam ??
      createIamRoles({
        ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
        ...(flags.region ? { region: flags.region } : {}),
      }),
    ...(dependencies.serviceAccounts ? { serviceAccounts: dependencies.serviceAccounts } : {}),
  };
  const selected = PHASES.filter((phase) => !skipPhases.includes(phase.name));
  const wildcard = request.serviceAccounts.some(
    (ref) => ref.namespace.includes('*') || ref.name.includes('*'),
  );
  if (!context.serviceAccounts && !wildcard && selected.some((phase) => phase.name === 'service-account')) {
    // The kubeconfig is local: a missing one is said before anything is asked of AWS.
    context.serviceAccounts = await serviceAccountStoreFor(flags);
  }
  if (skipPhases.includes('role') && selected.length > 0) {
    // Later phases still need the role's ARN and policies: read them, and refuse if there is no role.
    context.existingRole = await context.iam.getRole(roleName);
    if (!context.existingRole && selected.some((phase) => phase.name !== 'service-account'))
      throw new KirsaError('AWS_NOT_FOUND', `role ${roleName} does not exist and the role phase is skipped`, {
        hint: 'run without --skip-phases role to create it',
      });
  }
  const width = Math.max(...PHASES.map((phase) => phase.name.length));
  const phases: PhaseJson[] = [];
  await runPhases(PHASES, context, {
    skip: skipPhases,
    report: json
      ? collectPhases(phases)
      : (phase, outcome) =>
          process.stdout.write(
            `${phase.name.padEnd(width)}  ${outcome.status.padEnd(9)}  ${outcome.detail}\n`,
          ),
  });
  const accounts = request.serviceAccounts.filter((account) => !account.name.includes('*'));
  finishVerb(
    json,
    {
      roleName,
      roleArn: roleArnOf(context),
      serviceAccounts: request.serviceAccounts.map((account) => `${account.namespace}/${account.name}`),
      phases,
    },
    // Pods pick the role up when they are created: check the account before starting (or restarting) them.
    accounts.map((account) => `kirsa doctor serviceaccount ${account.name} -n ${account.namespace}`),
  );
}

async function serviceAccountStoreFor(flags: RoleCreateFlags): Promise<ServiceAccountStore> {
  return createServiceAccountStore(
    await loadKubeConfig({
      ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
      ...(flags.context ? { context: flags.context } : {}),
    }),
  );
}

/** The --inline-policy file's text, checked to be a policy document. */
async function readInlinePolicy(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new KirsaError('FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  parsePolicyDocument(text, { kind: 'permissions', name: `${path} is not a policy document` });
  return text;
}

/** --role-name, else the default name (with --cluster in it when given). */
function roleNameFromFlags(flags: { roleName?: string; cluster?: string }, first: ServiceAccountRef): string {
  return checkRoleName(flags.roleName ?? defaultRoleName(first, flags.cluster));
}

/** The role settings the flags ask for, each checked against IAM's rules before anything is sent. */
function roleSettingsFromFlags(flags: RoleCreateFlags): RoleSettings {
  return {
    ...(flags.path === undefined ? {} : { path: checkRolePath(flags.path) }),
    ...(flags.description === undefined ? {} : { description: checkDescription(flags.description) }),
    ...(flags.maxSessionDuration === undefined
      ? {}
      : { maxSessionDuration: checkMaxSessionDuration(flags.maxSessionDuration) }),
    ...(flags.permissionsBoundary === undefined
      ? {}
      : { permissionsBoundary: checkPermissionsBoundary(flags.permissionsBoundary) }),
    tags: parseTags(flags.tag ?? []),
  };
}

/** The role kirsa would create for these flags, in the account and partition of the first provider. */
function rolePlanOf(
  request: ReturnType<typeof trustRequestFromFlags>,
  roleName: string,
  settings: RoleSettings,
  policyArns: readonly string[],
  inlinePolicyText: string | undefined,
): RolePlan {
  for (const arn of policyArns) checkManagedPolicyArn(arn);
  // The role lives in the account of the first provider, the usual single-account setup.
  const { partition, accountId } = checkProviderArn(request.providerArns[0]!);
  return buildRolePlan({
    name: roleName,
    partition,
    accountId,
    trustPolicy: buildTrustPolicy(request),
    subjects: request.serviceAccounts.map(serviceAccountSubject),
    settings,
    managedPolicyArns: policyArns,
    inlinePolicy: inlinePolicyText === undefined ? undefined : canonicalPolicyJson(inlinePolicyText),
  });
}

/** A role as IaC: its plan, and the annotated ServiceAccounts to apply beside it. */
export interface RoleIac {
  plan: RolePlan;
  manifests: object[];
}

/**
 * The role role create would make for these flags, without asking AWS or the cluster anything: what
 * `role create -o` writes, and what `kirsa stack` writes for each entry of its roles file.
 */
export async function roleIac(flags: RoleCreateFlags): Promise<RoleIac> {
  if ((flags.issuerUrl ?? []).length > 0 && flags.accountId === undefined)
    throw new KirsaError(
      'IAC_OUTPUT_INVALID',
      '-o with --issuer-url needs --account-id: IaC output asks AWS nothing',
      {
        hint: 'add --account-id 111122223333, or give --provider-arn',
      },
    );
  const request = trustRequestFromFlags(flags);
  const roleName = roleNameFromFlags(flags, request.serviceAccounts[0]!);
  const settings = roleSettingsFromFlags(flags);
  const inlinePolicyText =
    flags.inlinePolicy === undefined ? undefined : await readInlinePolicy(flags.inlinePolicy);
  const plan = rolePlanOf(request, roleName, settings, flags.policyArn ?? [], inlinePolicyText);
  const annotations = webIdentityAnnotations(plan.arn, request.audiences, flags.annotationPrefix);
  const manifests = (flags.skipPhases ?? []).includes('service-account')
    ? []
    : request.serviceAccounts
        .filter((ref) => !ref.namespace.includes('*') && !ref.name.includes('*'))
        .map((ref) => ({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: ref.name, namespace: ref.namespace, annotations },
        }));
  return { plan, manifests };
}

/**
 * `role create -o terraform|cloudformation`: the same plan the API mode would carry out, as a template and
 * the ServiceAccount manifest, without asking AWS or the cluster anything.
 */
async function writeRoleIac(flags: RoleCreateFlags, format: IacFormat): Promise<void> {
  const { plan, manifests } = await roleIac(flags);
  await writeIacOutput({
    format,
    outputDir: flags.outputDir,
    stem: `role-${plan.name}`,
    document: RENDER[format].role(plan),
    manifests,
  });
}
