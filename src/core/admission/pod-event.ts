// The Event that tells a pod's owner why kirsa admitted the pod without AWS credentials, when the reason is
// one they can fix: the service account was not found in time, something in the pod blocks the token, or the
// role is not a role ARN. Admission warnings reach only whoever created the pod, and for a pod a controller
// made that is the controller (the reference's #194); an Event is what `kubectl get events` and
// `kubectl describe` show people. Pure: the webhook's shell rate-limits and posts it.
//
// At admission the pod has no uid yet, and a pod made from generateName no name either (the API server gives
// both after the mutating webhooks). So a named pod is the Event's object by namespace and name; an unnamed
// one is named through its controller (ownerReferences carry the uid), and the message names the pod's prefix.

import type { PodLike } from '../kube-types.ts';

/** The Event reason per admission outcome kirsa reports (CamelCase, as Kubernetes reasons are). */
export const POD_EVENT_REASONS = {
  service_account_missing: 'ServiceAccountNotFound',
  conflict: 'AWSCredentialsBlocked',
  invalid_identity: 'InvalidAWSRole',
} as const;
export type PodEventOutcome = keyof typeof POD_EVENT_REASONS;

/** An Event message is stored up to 1 KiB by the API server's validation; kirsa keeps its own under that. */
const MESSAGE_MAX_LENGTH = 1000;

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export interface PodNotice {
  reason: (typeof POD_EVENT_REASONS)[PodEventOutcome];
  /** What went wrong and how to fix it: the admission's warning for it. */
  message: string;
  /** What the Event is about: the pod when it has a name, else its controller. */
  subject: ObjectReference;
  /** One key per pod (or pod prefix) and reason: the shell sends at most one Event per key per interval. */
  key: string;
}

interface OwnerReference {
  apiVersion?: unknown;
  kind?: unknown;
  name?: unknown;
  uid?: unknown;
  controller?: unknown;
}

function controllerOf(pod: PodLike, namespace: string): ObjectReference | undefined {
  const owners = pod.metadata?.ownerReferences;
  if (!Array.isArray(owners)) return undefined;
  const owner = (owners as OwnerReference[]).find((candidate) => candidate?.controller === true) ?? owners[0];
  const { apiVersion, kind, name, uid } = (owner ?? {}) as OwnerReference;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof name !== 'string')
    return undefined;
  return { apiVersion, kind, name, namespace, ...(typeof uid === 'string' ? { uid } : {}) };
}

/**
 * The notice for an admission that left a pod without credentials for a reason its owner can fix, or
 * undefined (no such reason, or nothing to attach an Event to).
 */
export function podNotice(
  pod: PodLike,
  namespace: string,
  outcome: string,
  warning: string | undefined,
): PodNotice | undefined {
  if (!Object.hasOwn(POD_EVENT_REASONS, outcome) || warning === undefined) return undefined;
  const reason = POD_EVENT_REASONS[outcome as PodEventOutcome];
  const name = pod.metadata?.name;
  const generateName = pod.metadata?.generateName ?? '';
  const subject: ObjectReference | undefined = name
    ? { apiVersion: 'v1', kind: 'Pod', name, namespace }
    : controllerOf(pod, namespace);
  if (subject === undefined) return undefined;
  const about = name ? '' : `pod ${generateName}<generated>: `;
  const text = `${about}${warning.replace(/^kirsa: /, '')}`;
  return {
    reason,
    message: text.length > MESSAGE_MAX_LENGTH ? `${text.slice(0, MESSAGE_MAX_LENGTH - 3)}...` : text,
    subject,
    key: `${namespace}/${name || `${generateName}*`}/${reason}`,
  };
}

/** The core/v1 Event for a notice, as the webhook posts it. */
export function podEvent(
  notice: PodNotice,
  options: { now: Date; reportingInstance: string },
): Record<string, unknown> {
  const time = options.now.toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${notice.subject.name}.`, namespace: notice.subject.namespace },
    involvedObject: notice.subject,
    reason: notice.reason,
    message: notice.message,
    type: 'Warning',
    source: { component: 'kirsa-webhook' },
    reportingComponent: 'kirsa.dev/webhook',
    reportingInstance: options.reportingInstance,
    action: 'Admitted',
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}
