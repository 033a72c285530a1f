// The rules of the last step, once the workloads run on web identity: when a pod counts as switched (the SDK's
// default chain tries web identity before the metadata endpoint, so a pod with the IRSA env no longer uses
// kube2iam/kiam), and how a role stops trusting the node role without losing anything else. Pure.

import { DEFAULT_TOKEN_AUDIENCE, ENV, LEGACY_POD_ANNOTATION } from '../../consts.ts';
import { checkProviderArn } from '../iam/arn.ts';
import { evaluateTrustPolicy } from '../iam/policy-evaluate.ts';
import { asList, type PolicyDocument, type PolicyStatement } from '../iam/policy-grammar.ts';
import { serviceAccountSubject } from '../iam/service-account-ref.ts';
import type { Container } from '../kube-types.ts';
import type { InventoryWorkload, PlannedRole } from './plan.ts';

/** The annotations cleanup removes from a workload's pod template (or a bare pod). */
export const LEGACY_POD_ANNOTATION_KEYS: readonly string[] = Object.values(LEGACY_POD_ANNOTATION);

/**
 * Whether every container of a pod has web identity for this role: AWS_ROLE_ARN naming it and a token file.
 * A container without them would still be reaching the metadata endpoint, which kube2iam/kiam serve.
 */
export function podUsesWebIdentity(
  containers: readonly Container[] | null | undefined,
  roleArn: string,
): boolean {
  const list = containers ?? [];
  return (
    list.length > 0 &&
    list.every((container) => {
      const env = new Map((container.env ?? []).map((entry) => [entry.name, entry.value]));
      return env.get(ENV.roleArn) === roleArn && Boolean(env.get(ENV.webIdentityTokenFile));
    })
  );
}

export interface NodeTrustRemoval {
  policy: PolicyDocument;
  /** The principals taken out, one line each. */
  removed: string[];
}

/**
 * The policy without the node roles as AWS principals of Allow statements: a statement naming only them goes,
 * one naming others too keeps the others. Deny statements and every other principal stay as they are.
 */
export function removeNodeTrust(policy: PolicyDocument, nodeRoleArns: readonly string[]): NodeTrustRemoval {
  const nodes = new Set(nodeRoleArns);
  const removed: string[] = [];
  const statements: PolicyStatement[] = [];
  for (const statement of policy.Statement) {
    const principal = statement.Principal;
    if (
      statement.Effect !== 'Allow' ||
      principal === undefined ||
      principal === '*' ||
      principal.AWS === undefined
    ) {
      statements.push(statement);
      continue;
    }
    const aws = asList(principal.AWS);
    const kept = aws.filter((arn) => !nodes.has(arn));
    if (kept.length === aws.length) {
      statements.push(statement);
      continue;
    }
    removed.push(...aws.filter((arn) => nodes.has(arn)));
    const { AWS: _aws, ...others } = principal;
    const rest = kept.length > 0 ? { ...others, AWS: kept.length === 1 ? kept[0]! : kept } : others;
    if (Object.keys(rest).length > 0) statements.push({ ...statement, Principal: rest });
  }
  return { policy: { ...policy, Statement: statements }, removed: [...new Set(removed)] };
}

/** The kube2iam/kiam annotations a workload's template (or a bare pod) still carries. */
export function legacyAnnotationsLeft(current: InventoryWorkload): string[] {
  return LEGACY_POD_ANNOTATION_KEYS.filter((key) => current.annotations[key] !== undefined);
}

/**
 * The subjects of a planned role that this trust policy would not let assume it by web identity (with the
 * plan's first audience, as their tokens carry it): empty when the node trust may go without cutting
 * anyone off.
 */
export function subjectsNotTrusted(
  policy: PolicyDocument,
  role: PlannedRole,
  audiences: readonly string[],
): string[] {
  const { hostPath } = checkProviderArn(role.providerArn);
  return role.serviceAccounts
    .map((id) => {
      const [namespace, name] = id.split('/') as [string, string];
      return serviceAccountSubject({ namespace, name });
    })
    .filter(
      (subject) =>
        evaluateTrustPolicy(policy, {
          principalFederated: role.providerArn,
          context: {
            [`${hostPath}:sub`]: subject,
            [`${hostPath}:aud`]: audiences[0] ?? DEFAULT_TOKEN_AUDIENCE,
          },
        }).decision !== 'allow',
    );
}

/** Pods that are over (Succeeded, Failed) no longer run anything that could lose its credentials. */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

/**
 * The running pods of a workload that are not on web identity for its role: the workload itself when it is a
 * Pod, else every pod whose chain of controllers reaches it.
 */
export function podsNotSwitched(
  workload: { kind: string; namespace: string; name: string },
  roleArn: string,
  inventory: readonly InventoryWorkload[],
): string[] {
  const index = new Map(inventory.map((w) => [`${w.namespace}/${w.kind}/${w.name}`, w]));
  const belongs = (pod: InventoryWorkload): boolean => {
    let current: InventoryWorkload | undefined = pod;
    for (let depth = 0; current && depth < 5; depth++) {
      if (current.kind === workload.kind && current.name === workload.name) return true;
      current = current.owner
        ? index.get(`${current.namespace}/${current.owner.kind}/${current.owner.name}`)
        : undefined;
    }
    return false;
  };
  return inventory
    .filter(
      (w) => w.kind === 'Pod' && w.namespace === workload.namespace && !FINISHED_PHASES.has(w.phase ?? ''),
    )
    .filter((pod) => belongs(pod) && !podUsesWebIdentity(pod.containers, roleArn))
    .map((pod) => pod.name)
    .sort();
}
