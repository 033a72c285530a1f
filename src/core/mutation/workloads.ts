// Where the pod lives inside each kind of object kirsa can mutate offline: a Pod is its own pod; workloads
// carry a pod template. The pointer prefixes the mutation's patch so it applies to the whole object.

import type { PodLike } from '../kube-types.ts';

const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const MUTABLE_KINDS = Object.keys(TEMPLATE_PATHS);

export interface PodLocation {
  /** JSON Pointer of the pod inside the object ('' for a Pod). */
  pointer: string;
  pod: PodLike;
}

/** The pod of an object, or undefined when the kind has none (ServiceAccount, ConfigMap, ...). */
export function locatePod(object: { kind?: unknown; [key: string]: unknown }): PodLocation | undefined {
  const path = typeof object.kind === 'string' ? TEMPLATE_PATHS[object.kind] : undefined;
  if (path === undefined) return undefined;
  let current: unknown = object;
  for (const key of path) {
    current = (current as Record<string, unknown> | undefined)?.[key];
    if (current === null || typeof current !== 'object') return undefined;
  }
  return { pointer: path.map((key) => `/${key}`).join(''), pod: current as PodLike };
}
