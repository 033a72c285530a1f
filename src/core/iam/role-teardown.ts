// What `kirsa role delete` may take away from a role: the inverse of `role create`, limited to what is
// kirsa's. Pure: the caller reads the role (trust, tags, policies) and carries the plan out.
//
// The rules, in one place:
// - the trust loses only the request's subjects from the request's providers (removeTrust), so another
//   cluster's statement and anyone's hand-written statement stay;
// - while any statement remains, the role still serves someone, so its policies stay too: permissions
//   belong to the role, not to one service account, and detaching them would break the others;
// - when no statement would remain, the role goes with what kirsa put on it (the managed policies its tags
//   say it attached, and `kirsa-inline`), but only if kirsa created it and nothing else is on it: a role
//   someone else made, or one with their policies, is kept whole (IAM keeps no role without a trust
//   statement, so its last one stays too) and the reason is said;
// - --force deletes the role whatever trusts it and whatever is on it.

import { INLINE_POLICY_NAME } from '../../consts.ts';
import { roleArnParts } from './arn.ts';
import type { PolicyDocument } from './policy-grammar.ts';
import { attachedByKirsa, createdByKirsa } from './role-settings.ts';
import { removeTrust, type TrustPolicyRequest } from './trust-policy.ts';

export interface RoleFacts {
  trustPolicy: PolicyDocument;
  tags: Record<string, string>;
  attachedPolicyArns: string[];
  inlinePolicyNames: string[];
}

export interface TeardownPlan {
  /** The trust policy to write, when the role stays and lost subjects. */
  updatedTrust?: PolicyDocument;
  /** Subjects taken out of the trust ("system:serviceaccount:a:b from <provider>"). */
  removedSubjects: string[];
  detach: string[];
  deleteInline: string[];
  deleteRole: boolean;
  /** Why the role (and what is on it) stays, when it does. */
  keptBecause?: string;
  /** The role still trusts the request, because it cannot go and cannot be left without trust. */
  stillTrusted?: true;
}

export function planRoleTeardown(
  role: RoleFacts,
  request: Omit<TrustPolicyRequest, 'audiences'>,
  { force = false }: { force?: boolean } = {},
): TeardownPlan {
  const removal = removeTrust(role.trustPolicy, request);
  if (force)
    return {
      removedSubjects: removal.removed,
      detach: role.attachedPolicyArns,
      deleteInline: role.inlinePolicyNames,
      deleteRole: true,
    };
  const remaining = removal.policy.Statement.length;
  if (remaining > 0)
    return {
      ...(removal.changed ? { updatedTrust: removal.policy } : {}),
      removedSubjects: removal.removed,
      detach: [],
      deleteInline: [],
      deleteRole: false,
      keptBecause: `the role still has ${remaining} other trust statement${remaining === 1 ? '' : 's'} (another cluster, or someone's own), and its policies serve them`,
    };
  const ours = attachedByKirsa(role.tags);
  const foreignPolicies = role.attachedPolicyArns.filter((arn) => !ours.includes(arn));
  const foreignInline = role.inlinePolicyNames.filter((name) => name !== INLINE_POLICY_NAME);
  const blockers = [
    ...(createdByKirsa(role.tags) ? [] : ['kirsa did not create it']),
    ...(foreignPolicies.length > 0
      ? [`policies kirsa did not attach are on it (${foreignPolicies.join(', ')})`]
      : []),
    ...(foreignInline.length > 0
      ? [`inline policies not kirsa's are on it (${foreignInline.join(', ')})`]
      : []),
  ];
  if (blockers.length > 0)
    return {
      removedSubjects: [],
      detach: [],
      deleteInline: [],
      deleteRole: false,
      stillTrusted: true,
      keptBecause: `nothing else trusts the role, but ${blockers.join(', and ')}; IAM keeps no role without trust, so it stays as it is (--force deletes it)`,
    };
  return {
    removedSubjects: removal.removed,
    detach: role.attachedPolicyArns.filter((arn) => ours.includes(arn)),
    deleteInline: role.inlinePolicyNames.filter((name) => name === INLINE_POLICY_NAME),
    deleteRole: true,
  };
}

/**
 * Does a ServiceAccount's role-arn annotation name this role? By account and name only: a role's path is
 * part of its ARN but not of its identity, and a deleted role's path can no longer be read.
 */
export function annotationNamesRole(
  annotation: string | undefined,
  role: { name: string; accountId: string },
): boolean {
  const parts = annotation === undefined ? undefined : roleArnParts(annotation);
  return parts?.name === role.name && parts.accountId === role.accountId;
}
