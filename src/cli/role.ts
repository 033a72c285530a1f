// `kirsa role create`: the flags read into a RoleCreateInput, the phases run by workflows/role-create.ts,
// each phase's outcome printed as a line (or collected for -o json), and the `next:` lines. With
// -o terraform|cloudformation the same plan is written as IaC instead, asking AWS and the cluster nothing.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { callerAccountId } from '../aws/iam-role.ts';
import { INLINE_POLICY_NAME, MAPPING_CONFIG_MAP_NAME } from '../consts.ts';
import { checkRoleName, defaultRoleName } from '../core/iam/arn.ts';
import { checkIacFormat, type IacFormat, RENDER } from '../core/iam/iac.ts';
import { parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import {
  checkDescription,
  checkMaxSessionDuration,
  checkPermissionsBoundary,
  checkRolePath,
  parseTags,
  type RolePlan,
  type RoleSettings,
  rolePlanFor,
} from '../core/iam/role-settings.ts';
import { isWildcardRef, type ServiceAccountRef } from '../core/iam/service-account-ref.ts';
import { annotatedServiceAccounts, webIdentityAnnotations } from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import { checkSkipPhases } from '../workflows/phases.ts';
import {
  createRole,
  DEFAULT_MAPPING_NAMESPACE,
  ROLE_CREATE_PHASES,
  type RoleDependencies,
} from '../workflows/role-create.ts';
import {
  addRoleTargetOptions,
  awsTargetOf,
  collect,
  kubeAccessOf,
  parseIntegerFlag,
  printWarning,
} from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson, printPhases } from './phases.ts';
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
  /** Default DEFAULT_MAPPING_NAMESPACE (stack builds these flags without it). */
  mappingNamespace?: string;
  mappingFile?: string;
}

export function registerRole(program: Command): void {
  const role = program.command('role').description('IAM roles for service accounts');
  const create = addRoleTargetOptions(
    addTrustFlags(
      role
        .command('create')
        .description(
          `create or update the role a service account assumes, in phases: ${ROLE_CREATE_PHASES.map((phase) => phase.name).join(', ')} (idempotent)`,
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
  addPhaseOptions(create, ROLE_CREATE_PHASES).action(async (flags: RoleCreateFlags) => runRoleCreate(flags));
  registerRoleDelete(role);
}

export async function runRoleCreate(
  flags: RoleCreateFlags,
  dependencies: RoleDependencies = {},
): Promise<void> {
  const skip = flags.skipPhases ?? [];
  checkSkipPhases(ROLE_CREATE_PHASES, skip);
  const json = flags.output === 'json';
  if (flags.output !== undefined && !json) return writeRoleIac(flags, checkIacFormat(flags.output));
  const resolvedFlags = await withCallerAccount(flags, dependencies.callerAccountId ?? callerAccountId);
  const request = trustRequestFromFlags(resolvedFlags);
  const roleName = roleNameFromFlags(flags, request.serviceAccounts[0]!);
  const settings = roleSettingsFromFlags(flags);
  // Read now so a bad file fails before anything is read from AWS or the cluster.
  const inlinePolicyText =
    flags.inlinePolicy === undefined ? undefined : await readInlinePolicy(flags.inlinePolicy);
  const phases: PhaseJson[] = [];
  const { roleArn } = await createRole(
    {
      request,
      roleName,
      defaultName: flags.roleName === undefined,
      ...(flags.cluster === undefined ? {} : { cluster: flags.cluster }),
      settings,
      policyArns: flags.policyArn ?? [],
      ...(inlinePolicyText === undefined ? {} : { inlinePolicyText }),
      annotationPrefix: flags.annotationPrefix,
      overwrite: flags.overwrite === true,
      ...(flags.mappingFile === undefined ? {} : { mappingFile: flags.mappingFile }),
      mappingNamespace: flags.mappingNamespace ?? DEFAULT_MAPPING_NAMESPACE,
      kube: kubeAccessOf(flags),
      aws: awsTargetOf(flags),
    },
    {
      skip,
      report: json ? collectPhases(phases) : printPhases(ROLE_CREATE_PHASES),
      warn: printWarning,
    },
    dependencies,
  );
  // A pattern (`team-*/app`, `ns/*`) names no one account the doctor could check.
  const accounts = request.serviceAccounts.filter((account) => !isWildcardRef(account));
  finishVerb(
    json,
    {
      roleName,
      roleArn,
      serviceAccounts: request.serviceAccounts.map((account) => `${account.namespace}/${account.name}`),
      phases,
    },
    // Pods pick the role up when they are created: check the account before starting (or restarting) them.
    accounts.map((account) => `kirsa doctor serviceaccount ${account.name} -n ${account.namespace}`),
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
  const plan = rolePlanFor(request, roleName, settings, flags.policyArn ?? [], inlinePolicyText);
  const annotations = webIdentityAnnotations(plan.arn, request.audiences, flags.annotationPrefix);
  const manifests = (flags.skipPhases ?? []).includes('service-account')
    ? []
    : annotatedServiceAccounts(request.serviceAccounts, annotations);
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
