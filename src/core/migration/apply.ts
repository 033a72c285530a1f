// The rules of `migrate apply` for one workload: whether it still is what the plan saw (a plan made before
// someone changed the workload must not be carried out over that change), and what its pod template lacks.
// Pure: the workflow reads the workloads and patches them.

import { MIGRATION_TEMPLATE_ANNOTATION } from '../../consts.ts';
import { legacyIdentity } from './legacy.ts';
import type { InventoryWorkload, PlannedWorkload } from './plan.ts';

/**
 * Why the workload no longer matches the plan, as the end of "<workload> ... since the plan was made", or
 * undefined when apply may go on. A bare pod or Job to be recreated may be gone: that is what recreating it
 * looks like.
 */
export function staleSincePlan(
  workload: PlannedWorkload,
  current: InventoryWorkload | undefined,
): string | undefined {
  if (!current) return workload.change === 'recreate' ? undefined : 'was deleted';
  if (![workload.serviceAccount.from, workload.serviceAccount.to].includes(current.serviceAccountName))
    return `now runs as ${current.serviceAccountName}`;
  const role = legacyIdentity(current.annotations)?.role;
  if (role !== undefined && role !== workload.role) return `now names role ${role}`;
  return undefined;
}

export interface PodTemplateChange {
  serviceAccountName?: string;
  /** Annotations to set; null removes one (cleanup's use). */
  annotations: Record<string, string | null>;
}

/**
 * What the template of a migrated workload lacks: its planned account, and the migration annotation naming
 * the role. Undefined when it has both (a rerun).
 */
export function templateChange(
  workload: PlannedWorkload,
  current: InventoryWorkload,
): PodTemplateChange | undefined {
  const change: PodTemplateChange = { annotations: {} };
  if (current.serviceAccountName !== workload.serviceAccount.to)
    change.serviceAccountName = workload.serviceAccount.to;
  if (current.annotations[MIGRATION_TEMPLATE_ANNOTATION] !== workload.roleArn)
    change.annotations[MIGRATION_TEMPLATE_ANNOTATION] = workload.roleArn!;
  return change.serviceAccountName === undefined && Object.keys(change.annotations).length === 0
    ? undefined
    : change;
}
