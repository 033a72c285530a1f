// An AdmissionReview as kube-apiserver sends it for a pod, for the webhook tiers and the benchmarks: the
// core's podCreateReview plus the fields the API server adds (requestKind, the creating controller's
// userInfo, dryRun, options), so what the webhook parses in a test is what it parses in a cluster.

import {
  type AdmissionApiVersion,
  type AdmissionOperation,
  type GroupVersionKind,
  podCreateReview,
} from '../../src/core/admission/review.ts';

export interface ApiServerReviewOptions {
  uid?: string;
  namespace?: string;
  /** Any string, so tests can send versions the webhook must refuse. */
  apiVersion?: string;
  operation?: AdmissionOperation | string;
  kind?: GroupVersionKind;
}

/** The review's JSON text. */
export function apiServerReview(pod: Record<string, unknown>, options: ApiServerReviewOptions = {}): string {
  const review = podCreateReview(pod, {
    uid: options.uid ?? crypto.randomUUID(),
    namespace: options.namespace ?? 'default',
    apiVersion: (options.apiVersion ?? 'admission.k8s.io/v1') as AdmissionApiVersion,
  });
  const kind = options.kind ?? review.request!.kind;
  return JSON.stringify({
    ...review,
    request: {
      ...review.request,
      kind,
      requestKind: kind,
      requestResource: review.request!.resource,
      operation: options.operation ?? 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '0b5b1a52-1d6e-4a8e-9b0e-5d7e2f1c3a44',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
}
