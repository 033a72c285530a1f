// One admission, from a review that was read to the reply and what happened: which pod, which service
// account, its identity (from the IdentitySource port), the mutation, and the reply built with the named
// constructors. No HTTP: the webhook reads the bytes and writes this answer; `kirsa mutate` uses decidePod
// on workload templates directly.
//
// kirsa never denies a pod, and never leaves the API server without an answer: processAdmission ALWAYS
// gives a reply and an outcome. Whatever throws inside (the identity lookup, synchronously or as a rejected
// promise, or the mutation, on a cache hit or after a miss) admits the pod unchanged with a warning and the
// outcome 'error'; a miss that is not answered within the deadline does the same. The one timer here is
// that deadline: without it a hung lookup would hold the API server's call until its own timeout.

import {
  ADMISSION_DEADLINE_MS,
  ADMISSION_MAX_CONTAINERS,
  CONFIG_MAP_READS_PER_POD,
  DEFAULT_NAMESPACE,
  DEFAULT_SERVICE_ACCOUNT,
  MIRROR_POD_ANNOTATION,
} from '../../consts.ts';
import type { Identity } from '../identity/identity.ts';
import type { IdentitySource, IdentityVerdict } from '../identity/source.ts';
import type { PodLike } from '../kube-types.ts';
import {
  type ConfigMapKeys,
  type ConfigMapSource,
  type EnvFromConfigMaps,
  envFromConfigMapNames,
} from '../mutation/env-from.ts';
import type { PatchOperation } from '../mutation/json-patch.ts';
import { type MutationContext, type MutationOptions, mutatePod } from '../mutation/mutate-pod.ts';
import { loggableIdentifier } from './loggable.ts';
import { type PodNotice, podNotice } from './pod-event.ts';
import {
  type AdmissionApiVersion,
  type AdmissionReview,
  admittedWithWarning,
  allowed,
  type IncomingReview,
  patched,
  podToCreate,
} from './review.ts';

/**
 * What happened to one admission; the webhook counts them by these names (a metric label). The first six
 * are decisions about a pod; 'skipped' is a request kirsa leaves alone; 'bad_request' is the webhook's own
 * (a body that is not a review never gets here); 'error' is kirsa's own trouble.
 */
export const ADMISSION_OUTCOMES = [
  'mutated', // a patch was returned
  'unchanged', // the pod already had everything (reinvocation, or user-set env)
  'no_identity', // the service account is known and maps to no role
  'service_account_missing', // the service account was found nowhere, not even by the direct lookup
  'conflict', // something in the pod stops kirsa from mounting its token; warned
  'invalid_identity', // the role is not an IAM role ARN; warned
  'skipped', // not a pod CREATE (other kinds, operations, subresources), or a mirror pod
  'over_limit', // a pod with more containers than one admission may work on; admitted unchanged, warned
  'bad_request', // 400, 413, 415: not an AdmissionReview
  'error', // kirsa's own trouble; admitted unchanged with a warning
] as const;
export type AdmissionOutcome = (typeof ADMISSION_OUTCOMES)[number];

/** The service account a pod runs as: the API server fills in "default" only after admission. */
export function serviceAccountOf(pod: PodLike): string {
  return pod.spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT;
}

export interface PodDecision {
  outcome: Exclude<AdmissionOutcome, 'skipped' | 'over_limit' | 'bad_request' | 'error'>;
  patch: PatchOperation[];
  warnings: string[];
  identity: Identity | undefined;
  /** Containers left without credentials because something in them blocks the token. */
  conflictedContainers: string[];
}

/**
 * The decision for one pod (or pod template) of a namespace, given what the identity sources said about its
 * service account. Pure and synchronous; it throws only on a pod no API server would send.
 */
export function decidePod(
  pod: PodLike,
  namespace: string,
  verdict: IdentityVerdict,
  mutation: MutationOptions,
  context: MutationContext = {},
): PodDecision {
  const result = mutatePod(pod, verdict.identity, mutation, context);
  const { identity } = verdict;
  const warnings = result.warnings;
  let outcome: PodDecision['outcome'];
  if (identity === undefined) {
    outcome = verdict.serviceAccountMissing ? 'service_account_missing' : 'no_identity';
    if (verdict.serviceAccountMissing) {
      warnings.push(
        `kirsa: service account ${namespace}/${serviceAccountOf(pod)} was not found in time; no AWS credentials were injected. Recreate the pod once the service account exists.`,
      );
    }
  } else if (result.outcome === 'invalid-identity') outcome = 'invalid_identity';
  else outcome = result.outcome;
  return {
    outcome,
    patch: result.patch,
    warnings,
    identity,
    conflictedContainers: result.conflictedContainers,
  };
}

/** Containers and init containers of a pod: what the work of one admission grows with. */
function containerCount(pod: PodLike): number {
  const spec = pod.spec;
  if (spec === undefined || spec === null) return 0;
  const count = (list: unknown) => (Array.isArray(list) ? list.length : 0);
  return count(spec.containers) + count(spec.initContainers);
}

export interface AdmissionOptions {
  mutation: MutationOptions;
  /** Above this many containers (init included) the pod is admitted unchanged, with a warning. */
  maxContainers?: number;
  /** How long a cache miss may take before the pod is admitted unchanged. */
  deadlineMs?: number;
  /**
   * --read-env-from-config-maps: where the ConfigMaps a pod's envFrom names are read, so a region is injected
   * where they set none. Consulted only for pods with such a reference that may get a region.
   */
  configMaps?: ConfigMapSource;
}

/** Where kirsa's own trouble came from, for the shell's log line. */
export type AdmissionTrouble = 'identity-lookup' | 'internal' | 'deadline';

export interface Admission {
  reply: AdmissionReview;
  outcome: AdmissionOutcome;
  /**
   * For the log: the pod as namespace/name (a generated name shows as <generateName><generated>) and its
   * service account, each part an identifier or a placeholder (loggable.ts); absent when skipped.
   */
  pod?: string;
  serviceAccount?: string;
  /** Where the identity came from (a ServiceAccount annotation, a mapping entry ...). */
  identitySource?: string;
  /** How the pod is given credentials when its service account maps to an identity (patched or not). */
  identityMode?: Identity['mode'];
  /** Set when kirsa's own trouble admitted the pod unchanged: what failed, and what was thrown. */
  trouble?: { kind: AdmissionTrouble; error?: unknown };
  /** Set when the pod (or a container) got no credentials for a reason its owner can fix: for an Event. */
  notice?: PodNotice;
}

/** The pod for a log line: identifiers only (loggable.ts), whatever the review holds. */
function describePod(review: IncomingReview, pod: PodLike, namespace: string): string {
  const named = pod.metadata?.name || review.request.name;
  const name = named
    ? loggableIdentifier(named)
    : `${pod.metadata?.generateName ? loggableIdentifier(pod.metadata.generateName) : ''}<generated>`;
  return `${loggableIdentifier(namespace)}/${name}`;
}

function admittedDespiteTrouble(
  apiVersion: AdmissionApiVersion,
  uid: string,
  kind: AdmissionTrouble,
  why: string,
  error?: unknown,
): Admission {
  const reply = admittedWithWarning(apiVersion, uid, [
    `kirsa: ${why}; the pod was admitted without AWS credentials. Recreate it to retry.`,
  ]);
  return { reply, outcome: 'error', trouble: error === undefined ? { kind } : { kind, error } };
}

/**
 * The answer to one review: synchronous when the identity is known at once (the cache-hit hot path), a
 * promise only on a miss. Neither throws and the promise never rejects: see the header.
 */
export function processAdmission(
  review: IncomingReview,
  identities: IdentitySource,
  options: AdmissionOptions,
): Admission | Promise<Admission> {
  const { apiVersion, request } = review;
  const internal = (error: unknown) =>
    admittedDespiteTrouble(apiVersion, request.uid, 'internal', 'an internal error occurred', error);
  try {
    const pod = podToCreate(request) as PodLike | undefined;
    if (pod === undefined) return { reply: allowed(apiVersion, request.uid), outcome: 'skipped' };
    // A mirror pod (the API server's copy of a kubelet's static pod) may not use service account token
    // projections: the ServiceAccount admission plugin refuses it, and the node would run the static pod
    // with no mirror. It arrives with no serviceAccountName, so "default" could map to a role: never mutate.
    if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined)
      return { reply: allowed(apiVersion, request.uid), outcome: 'skipped' };
    // The object of a pod created from a template often has no namespace; the request always does.
    const namespace = request.namespace || pod.metadata?.namespace || DEFAULT_NAMESPACE;
    const serviceAccount = serviceAccountOf(pod);
    // The patch, its JSON and the warnings grow with the containers; one review with 60,000 of them built a
    // 39 MB patch and stalled every other admission for 3 s. Past the cap: no lookup, no mutation.
    const maxContainers = options.maxContainers ?? ADMISSION_MAX_CONTAINERS;
    const containers = containerCount(pod);
    if (containers > maxContainers) {
      return {
        reply: admittedWithWarning(apiVersion, request.uid, [
          `kirsa: the pod has ${containers} containers, over the ${maxContainers} one admission works on; it was admitted without AWS credentials.`,
        ]),
        outcome: 'over_limit',
        pod: describePod(review, pod, namespace),
        serviceAccount: loggableIdentifier(serviceAccount),
      };
    }
    const decide = (verdict: IdentityVerdict, envFromConfigMaps?: EnvFromConfigMaps): Admission => {
      const decision = decidePod(
        pod,
        namespace,
        verdict,
        options.mutation,
        envFromConfigMaps ? { envFromConfigMaps } : {},
      );
      const reply =
        decision.patch.length > 0
          ? patched(apiVersion, request.uid, decision.patch, decision.warnings)
          : decision.warnings.length > 0
            ? admittedWithWarning(apiVersion, request.uid, decision.warnings)
            : allowed(apiVersion, request.uid);
      const admission: Admission = {
        reply,
        outcome: decision.outcome,
        pod: describePod(review, pod, namespace),
        serviceAccount: loggableIdentifier(serviceAccount),
      };
      if (decision.identity !== undefined) {
        admission.identitySource = decision.identity.source;
        admission.identityMode = decision.identity.mode;
      }
      // A pod mutated but for a blocked container is reported as that container's conflict.
      const blocked = decision.conflictedContainers.length > 0 ? 'conflict' : decision.outcome;
      const notice = podNotice(
        pod,
        namespace,
        blocked,
        decision.warnings.find((warning) => warning.includes('no AWS credentials were injected')),
      );
      if (notice !== undefined) admission.notice = notice;
      return admission;
    };
    // With the ConfigMaps read: synchronous when every one is in the webhook's cache, else after the reads.
    const decideWithConfigMaps = (verdict: IdentityVerdict): Admission | Promise<Admission> => {
      const source = options.configMaps;
      const mayGetRegion = verdict.identity !== undefined || options.mutation.regionWithoutRole === true;
      const names = source && mayGetRegion ? envFromConfigMapNames(pod, CONFIG_MAP_READS_PER_POD) : [];
      if (source === undefined) return decide(verdict);
      const read = new Map<string, ConfigMapKeys>();
      const pending: Promise<unknown>[] = [];
      for (const name of names) {
        const keys = source.keysOf(namespace, name);
        if (keys instanceof Promise) pending.push(keys.then((value) => read.set(name, value)));
        else read.set(name, keys);
      }
      if (pending.length === 0) return decide(verdict, read);
      return Promise.all(pending).then(
        () => {
          try {
            return decide(verdict, read);
          } catch (error) {
            return internal(error);
          }
        },
        (error: unknown) => internal(error),
      );
    };
    const verdict = identities.identityFor(namespace, serviceAccount);
    const decided =
      verdict instanceof Promise
        ? verdict.then(
            (value) => {
              // The decision after a miss throws into this callback, not into the try above: caught here too.
              try {
                return decideWithConfigMaps(value);
              } catch (error) {
                return internal(error);
              }
            },
            (error: unknown) =>
              admittedDespiteTrouble(
                apiVersion,
                request.uid,
                'identity-lookup',
                'the identity lookup failed',
                error,
              ),
          )
        : decideWithConfigMaps(verdict);
    if (!(decided instanceof Promise)) return decided;

    const deadlineMs = options.deadlineMs ?? ADMISSION_DEADLINE_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<Admission>((resolve) => {
      timer = setTimeout(
        () =>
          resolve(
            admittedDespiteTrouble(apiVersion, request.uid, 'deadline', `no answer within ${deadlineMs} ms`),
          ),
        deadlineMs,
      );
    });
    return Promise.race([decided, deadline]).finally(() => clearTimeout(timer));
  } catch (error) {
    return internal(error);
  }
}
