// What kube2iam and kiam read from a cluster, as rules: the role a pod names (a short name completed with the
// base ARN, as kube2iam's --base-role-arn and kiam's --role-base-arn do, or a full ARN), and whether the
// namespace lets its pods take that role. Pure: the annotations come in as plain records.

import { LEGACY_NAMESPACE_ANNOTATION, LEGACY_POD_ANNOTATION } from '../../consts.ts';
import { roleArnParts } from '../iam/arn.ts';
import { wildcardPattern } from '../iam/policy-grammar.ts';

/** The legacy identity a pod (or a pod template) asks for, or undefined when it names no role. */
export interface LegacyIdentity {
  /** The role annotation as written. */
  role: string;
  externalId?: string;
  sessionName?: string;
}

export function legacyIdentity(
  annotations: Readonly<Record<string, string>> | undefined | null,
): LegacyIdentity | undefined {
  const role = annotations?.[LEGACY_POD_ANNOTATION.role]?.trim();
  if (!role) return undefined;
  const identity: LegacyIdentity = { role };
  const externalId = annotations?.[LEGACY_POD_ANNOTATION.externalId]?.trim();
  if (externalId) identity.externalId = externalId;
  const sessionName = annotations?.[LEGACY_POD_ANNOTATION.sessionName]?.trim();
  if (sessionName) identity.sessionName = sessionName;
  return identity;
}

/** `arn:<partition>:iam::<account>:role/`, the base a short role name is appended to; ends with one slash. */
export function normaliseBaseRoleArn(base: string): string | undefined {
  const withSlash = base.endsWith('/') ? base : `${base}/`;
  return /^arn:[\w-]+:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*$/.test(withSlash) ? withSlash : undefined;
}

/**
 * The role ARN a role annotation means: a full ARN as is, else the base ARN followed by the name (a leading
 * slash dropped, a path kept: both agents simply concatenate). Undefined when the result is not a role ARN.
 */
export function resolveLegacyRole(role: string, baseRoleArn: string): string | undefined {
  const arn = role.startsWith('arn:') ? role : `${baseRoleArn}${role.replace(/^\/+/, '')}`;
  return roleArnParts(arn) ? arn : undefined;
}

/** The role ARNs the workloads' annotations resolve to, each once: the roles a plan reads from IAM. */
export function legacyRoleArns(
  workloads: ReadonlyArray<{ annotations: Readonly<Record<string, string>> }>,
  baseRoleArn: string,
): Set<string> {
  return new Set(
    workloads.flatMap((workload) => {
      const identity = legacyIdentity(workload.annotations);
      const arn = identity && resolveLegacyRole(identity.role, baseRoleArn);
      return arn ? [arn] : [];
    }),
  );
}

/** What a namespace's restriction says about a role, and which annotation said it. */
export interface RestrictionVerdict {
  allowed: boolean;
  annotation?: string;
  /** The restriction as written, for the message. */
  rule?: string;
  /** Set when the restriction could not be read (bad JSON, a pattern JavaScript cannot compile). */
  unreadable?: string;
}

/**
 * Does the namespace let its pods take this role? kiam's `permitted` regex is tried on the role as written and
 * on its ARN (kiam matched the annotation's text; later releases match the ARN), unanchored as Go's MatchString;
 * kube2iam's `allowed-roles` entries are completed with the base ARN and matched as globs against the role's
 * ARN. With no annotation, nothing is restricted: kube2iam without --namespace-restrictions allows every role,
 * and kiam refusing an unannotated namespace means its pods have no credentials to migrate.
 */
export function namespaceAllows(
  namespaceAnnotations: Readonly<Record<string, string>> | undefined | null,
  role: string,
  roleArn: string,
  baseRoleArn: string,
): RestrictionVerdict {
  const permitted = namespaceAnnotations?.[LEGACY_NAMESPACE_ANNOTATION.permitted];
  if (permitted !== undefined) {
    const annotation = LEGACY_NAMESPACE_ANNOTATION.permitted;
    let pattern: RegExp;
    try {
      pattern = new RegExp(permitted);
    } catch (error) {
      return { allowed: false, annotation, rule: permitted, unreadable: (error as Error).message };
    }
    if (!pattern.test(role) && !pattern.test(roleArn)) return { allowed: false, annotation, rule: permitted };
  }
  const allowedRoles = namespaceAnnotations?.[LEGACY_NAMESPACE_ANNOTATION.allowedRoles];
  if (allowedRoles !== undefined) {
    const annotation = LEGACY_NAMESPACE_ANNOTATION.allowedRoles;
    let entries: unknown;
    try {
      entries = JSON.parse(allowedRoles);
    } catch (error) {
      return { allowed: false, annotation, rule: allowedRoles, unreadable: (error as Error).message };
    }
    if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== 'string'))
      return { allowed: false, annotation, rule: allowedRoles, unreadable: 'not a JSON list of strings' };
    const matches = (entries as string[]).some((entry) => {
      const full = entry.startsWith('arn:') ? entry : `${baseRoleArn}${entry.replace(/^\/+/, '')}`;
      return wildcardPattern(full).test(roleArn);
    });
    if (!matches) return { allowed: false, annotation, rule: allowedRoles };
  }
  return { allowed: true };
}
