// A role's settings besides its trust (path, description, maximum session, permissions boundary, tags) and
// the tags by which kirsa marks what is its own on a role: the rules for each value, the whole role kirsa
// wants (one plan that the API calls and the Terraform and CloudFormation output are all made from, so the
// modes cannot drift), and what a rerun must change on a role that exists. Pure.

import { createHash } from 'node:crypto';
import {
  IAM_MAX_ROLE_TAGS,
  INLINE_POLICY_NAME,
  KIRSA_ATTACHED_POLICY_TAG_PREFIX,
  KIRSA_CREATED_TAG,
  KIRSA_CREATED_TAG_VALUE,
  KIRSA_TAG_PREFIX,
  ROLE_DESCRIPTION_MAX_LENGTH,
  ROLE_MAX_SESSION_SECONDS,
  ROLE_MIN_SESSION_SECONDS,
  ROLE_PATH_MAX_LENGTH,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { buildRoleArn, checkManagedPolicyArn, checkProviderArn } from './arn.ts';
import { canonicalPolicyJson, type PolicyDocument } from './policy-grammar.ts';
import { serviceAccountSubject } from './service-account-ref.ts';
import { buildTrustPolicy, type TrustPolicyRequest } from './trust-policy.ts';

// --- The rules for each value ------------------------------------------------------------------------------

function optionError(message: string, hint: string): KirsaError {
  return new KirsaError('ROLE_OPTION_INVALID', message, { hint });
}

/** IAM's path: `/`, or `/` + segments each ending in `/`, of printable ASCII. */
export function checkRolePath(path: string): string {
  if (path.length > ROLE_PATH_MAX_LENGTH || !/^\/([\x21-\x7e]*\/)?$/.test(path) || path.includes('//'))
    throw optionError(
      `--path "${path}" is not an IAM path`,
      'a path starts and ends with /, e.g. /team/irsa/',
    );
  return path;
}

/** Seconds, 1 to 12 hours as IAM allows. */
export function checkMaxSessionDuration(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < ROLE_MIN_SESSION_SECONDS || seconds > ROLE_MAX_SESSION_SECONDS)
    throw optionError(
      `--max-session-duration ${seconds} is out of range`,
      `give whole seconds from ${ROLE_MIN_SESSION_SECONDS} (1 hour) to ${ROLE_MAX_SESSION_SECONDS} (12 hours)`,
    );
  return seconds;
}

export function checkDescription(description: string): string {
  // IAM's pattern allows tab, newline and carriage return but no other control character.
  const control = [...description].some((character) => {
    const code = character.codePointAt(0)!;
    return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f;
  });
  if (description.length > ROLE_DESCRIPTION_MAX_LENGTH || control)
    throw optionError(
      `--description is longer than ${ROLE_DESCRIPTION_MAX_LENGTH} characters or holds control characters`,
      'shorten it',
    );
  return description;
}

export function checkPermissionsBoundary(arn: string): string {
  try {
    return checkManagedPolicyArn(arn);
  } catch {
    throw optionError(
      `--permissions-boundary "${arn}" is not a managed policy ARN`,
      'it looks like arn:aws:iam::111122223333:policy/boundary',
    );
  }
}

/** The characters IAM allows in tag keys and values. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** `key=value` (the value may be empty and may hold `=`) as a tag, checked against IAM's rules. */
export function parseTag(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw optionError(`--tag "${text}" is not key=value`, 'write --tag team=payments');
  const key = text.slice(0, at);
  const value = text.slice(at + 1);
  if (key.length > 128 || value.length > 256 || !TAG_TEXT.test(key) || !TAG_TEXT.test(value))
    throw optionError(
      `--tag "${text}" breaks IAM's tag rules`,
      'keys up to 128 and values up to 256 characters: letters, digits, spaces and _ . : / = + - @',
    );
  if (key.toLowerCase().startsWith('aws:') || key.startsWith(KIRSA_TAG_PREFIX))
    throw optionError(
      `--tag key "${key}" is reserved`,
      `keys starting aws: are AWS's and ${KIRSA_TAG_PREFIX} are kirsa's own`,
    );
  return [key, value];
}

/** Repeated --tag flags as one map; the last value of a key wins, as with the AWS CLI. */
export function parseTags(texts: readonly string[]): Record<string, string> {
  return Object.fromEntries(texts.map(parseTag));
}

// --- kirsa's own tags ----------------------------------------------------------------------------------------

/**
 * The tag recording that kirsa attached a managed policy: its key holds 8 hex digits of the ARN's SHA-256
 * (keys are unique and short, and removing one leaves the others' keys as they were), its value the ARN.
 * Undefined when IAM would refuse the ARN as a tag value (a `,` in the name): then kirsa cannot tell later
 * that it attached it, and `role delete` leaves it attached.
 */
export function attachedPolicyTag(policyArn: string): [string, string] | undefined {
  if (policyArn.length > 256 || !TAG_TEXT.test(policyArn)) return undefined;
  const hash = createHash('sha256').update(policyArn).digest('hex').slice(0, 8);
  return [`${KIRSA_ATTACHED_POLICY_TAG_PREFIX}${hash}`, policyArn];
}

/** The managed policies a role's tags say kirsa attached. */
export function attachedByKirsa(tags: Readonly<Record<string, string>>): string[] {
  return Object.entries(tags)
    .filter(([key]) => key.startsWith(KIRSA_ATTACHED_POLICY_TAG_PREFIX))
    .map(([, value]) => value);
}

/** Did kirsa create this role (rather than add trust to someone's)? */
export function createdByKirsa(tags: Readonly<Record<string, string>>): boolean {
  return tags[KIRSA_CREATED_TAG] === KIRSA_CREATED_TAG_VALUE;
}

// --- The role kirsa wants ------------------------------------------------------------------------------------

/** What the flags of `role create` ask of a role beyond its trust; absent means "leave as it is". */
export interface RoleSettings {
  path?: string;
  description?: string;
  maxSessionDuration?: number;
  permissionsBoundary?: string;
  tags: Record<string, string>;
}

export interface RolePlan {
  name: string;
  path: string;
  arn: string;
  trustPolicy: PolicyDocument;
  description: string;
  maxSessionDuration?: number;
  permissionsBoundary?: string;
  /** The user's tags, then kirsa's: the created mark and one tag per managed policy it attaches. */
  tags: Record<string, string>;
  managedPolicyArns: string[];
  /** The `kirsa-inline` policy, canonical JSON text. */
  inlinePolicy?: { name: string; document: string };
}

/** The description kirsa gives a role it creates when none is asked for. */
export function defaultRoleDescription(subjects: readonly string[]): string {
  return `IRSA role for ${subjects.join(', ')}, created by kirsa`;
}

/** The whole role as kirsa would create it: what the API mode sends and the IaC output declares. */
export function buildRolePlan(input: {
  name: string;
  partition: string;
  accountId: string;
  trustPolicy: PolicyDocument;
  subjects: readonly string[];
  settings: RoleSettings;
  managedPolicyArns: readonly string[];
  inlinePolicy?: string | undefined;
}): RolePlan {
  const { settings } = input;
  const path = settings.path ?? '/';
  const tags: Record<string, string> = { ...settings.tags, [KIRSA_CREATED_TAG]: KIRSA_CREATED_TAG_VALUE };
  for (const arn of input.managedPolicyArns) {
    const tag = attachedPolicyTag(arn);
    if (tag) tags[tag[0]] = tag[1];
  }
  if (Object.keys(tags).length > IAM_MAX_ROLE_TAGS)
    throw optionError(
      `the role would carry ${Object.keys(tags).length} tags, over IAM's ${IAM_MAX_ROLE_TAGS}`,
      'kirsa adds one tag, and one per --policy-arn; give fewer --tag or --policy-arn',
    );
  return {
    name: input.name,
    path,
    arn: buildRoleArn({ partition: input.partition, accountId: input.accountId, name: input.name, path }),
    trustPolicy: input.trustPolicy,
    description: settings.description ?? defaultRoleDescription(input.subjects),
    ...(settings.maxSessionDuration === undefined ? {} : { maxSessionDuration: settings.maxSessionDuration }),
    ...(settings.permissionsBoundary === undefined
      ? {}
      : { permissionsBoundary: settings.permissionsBoundary }),
    tags,
    managedPolicyArns: [...new Set(input.managedPolicyArns)],
    ...(input.inlinePolicy === undefined
      ? {}
      : { inlinePolicy: { name: INLINE_POLICY_NAME, document: input.inlinePolicy } }),
  };
}

/**
 * The role kirsa would create for a trust request, in the account and partition of the first provider (the
 * usual single-account setup), its trust built from the request alone: the plan both role create's API mode
 * and its Terraform and CloudFormation output carry out.
 */
export function rolePlanFor(
  request: TrustPolicyRequest,
  roleName: string,
  settings: RoleSettings,
  policyArns: readonly string[],
  inlinePolicyText: string | undefined,
): RolePlan {
  for (const arn of policyArns) checkManagedPolicyArn(arn);
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

/**
 * The tags a role gets when it is created: the plan's, less the tags recording attached policies, which the
 * policies phase adds as it attaches each one, so a role whose policies phase is skipped claims no attachment.
 */
export function tagsAtCreation(plan: RolePlan): Record<string, string> {
  return Object.fromEntries(
    Object.entries(plan.tags).filter(
      ([key]) => !plan.managedPolicyArns.some((arn) => attachedPolicyTag(arn)?.[0] === key),
    ),
  );
}

// --- What a rerun changes ------------------------------------------------------------------------------------

/** A role's settings as IAM reports them. */
export interface RoleSettingsState {
  path: string;
  description?: string | undefined;
  maxSessionDuration?: number | undefined;
  permissionsBoundary?: string | undefined;
  tags: Record<string, string>;
}

export interface RoleSettingsChanges {
  /** UpdateRole's fields, when one of them differs. */
  update?: { description?: string; maxSessionDuration?: number };
  /** PutRolePermissionsBoundary, when the boundary asked for is not the one set. */
  permissionsBoundary?: string;
  /** TagRole: the user's tags that are missing or hold another value. */
  tags: Record<string, string>;
  /** One line per change, for the phase's output. */
  lines: string[];
  /** What a rerun cannot change (IAM fixes a role's path at creation). */
  problems: string[];
}

/**
 * What to change so the role has the settings asked for. Only what was asked is reconciled: a setting left
 * out, and a tag not named, stay as they are (someone else may have set them).
 */
export function roleSettingsChanges(current: RoleSettingsState, wanted: RoleSettings): RoleSettingsChanges {
  const lines: string[] = [];
  const problems: string[] = [];
  const update: { description?: string; maxSessionDuration?: number } = {};
  if (wanted.path !== undefined && wanted.path !== current.path)
    problems.push(
      `the role's path is ${current.path}, not ${wanted.path}: IAM cannot move a role; delete and recreate it to change the path`,
    );
  if (wanted.description !== undefined && wanted.description !== (current.description ?? '')) {
    update.description = wanted.description;
    lines.push('description');
  }
  // IAM reports 3600 for a role created without a maximum, so an absent value compares as the default.
  const currentMax = current.maxSessionDuration ?? ROLE_MIN_SESSION_SECONDS;
  if (wanted.maxSessionDuration !== undefined && wanted.maxSessionDuration !== currentMax) {
    update.maxSessionDuration = wanted.maxSessionDuration;
    lines.push(`max session ${currentMax}s -> ${wanted.maxSessionDuration}s`);
  }
  const boundary =
    wanted.permissionsBoundary !== undefined && wanted.permissionsBoundary !== current.permissionsBoundary
      ? wanted.permissionsBoundary
      : undefined;
  if (boundary !== undefined)
    lines.push(`permissions boundary ${current.permissionsBoundary ?? '(none)'} -> ${boundary}`);
  const tags = Object.fromEntries(
    Object.entries(wanted.tags).filter(([key, value]) => current.tags[key] !== value),
  );
  if (Object.keys(tags).length > 0) lines.push(`tags ${Object.keys(tags).join(', ')}`);
  // UpdateRole is sent whole: moto clears a description left out of it, so the current one is repeated.
  if (update.maxSessionDuration !== undefined && update.description === undefined && current.description)
    update.description = current.description;
  return {
    ...(Object.keys(update).length > 0 ? { update } : {}),
    ...(boundary === undefined ? {} : { permissionsBoundary: boundary }),
    tags,
    lines,
    problems,
  };
}
