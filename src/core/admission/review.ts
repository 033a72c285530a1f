// The AdmissionReview envelope: the wire types (named exactly as the JSON keys of admission.k8s.io/v1 and
// v1beta1, which share one shape), reading a review out of a request body, and building the reply. Pure:
// the webhook shell reads the bytes and writes the answer; this decides what they mean.

import type { PatchOperation } from '../mutation/json-patch.ts';

// --- Wire types ----------------------------------------------------------------------------------------------

/** The two AdmissionReview versions the API server may send; both have the same shape. */
export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo?: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

/** metav1.Status; the wire key in the response is `status` (the Go field is called Result). */
export interface Status {
  metadata?: Record<string, never>;
  status?: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  /** Base64 of a JSON array of RFC 6902 operations; present only together with patchType. */
  patch?: string;
  patchType?: 'JSONPatch';
  auditAnnotations?: Record<string, string>;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

// --- Reading a review ---------------------------------------------------------------------------------------

/** A review that was read and has a request: what processAdmission takes. */
export interface IncomingReview {
  apiVersion: AdmissionApiVersion;
  request: AdmissionRequest;
}

/**
 * `document` is the whole parsed body, for a caller that keeps the last one alive (src/webhook/app.ts says
 * why); the request is read from `request`.
 */
export type ParsedReview =
  | ({ ok: true; document: Record<string, unknown> } & IncomingReview)
  | { ok: false; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isGroupVersionKind(value: unknown): value is GroupVersionKind {
  return (
    isRecord(value) &&
    typeof value.kind === 'string' &&
    (value.group === undefined || typeof value.group === 'string') &&
    (value.version === undefined || typeof value.version === 'string')
  );
}

/**
 * Reads an AdmissionReview from a request body. Every way it can fail names what is wrong, for a 400 answer:
 * the API server never sends such a body, so whoever did needs to know why it was refused.
 */
export function parseAdmissionReview(body: string): ParsedReview {
  if (body.length === 0) return { ok: false, reason: 'the body is empty; expected an AdmissionReview' };
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `the body is not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(document)) return { ok: false, reason: 'the body is not a JSON object' };
  const { apiVersion, kind, request } = document;
  if (kind !== 'AdmissionReview') {
    return { ok: false, reason: `kind is ${JSON.stringify(kind ?? null)}, expected "AdmissionReview"` };
  }
  if (!ADMISSION_API_VERSIONS.includes(apiVersion as AdmissionApiVersion)) {
    return {
      ok: false,
      reason: `apiVersion is ${JSON.stringify(apiVersion ?? null)}, expected ${ADMISSION_API_VERSIONS.join(' or ')}`,
    };
  }
  if (!isRecord(request)) return { ok: false, reason: 'the AdmissionReview has no request' };
  if (typeof request.uid !== 'string' || request.uid === '') {
    return { ok: false, reason: 'request.uid is missing or not a string' };
  }
  if (typeof request.operation !== 'string') {
    return { ok: false, reason: 'request.operation is missing or not a string' };
  }
  if (!isGroupVersionKind(request.kind)) {
    return { ok: false, reason: 'request.kind is missing or has no kind' };
  }
  return {
    ok: true,
    document,
    apiVersion: apiVersion as AdmissionApiVersion,
    request: request as unknown as AdmissionRequest,
  };
}

/**
 * The pod a request asks to create, or undefined for anything kirsa leaves alone: other kinds, other
 * operations, subresources (pods/ephemeralcontainers, pods/binding ...), or an object that is not a JSON object.
 */
export function podToCreate(request: AdmissionRequest): Record<string, unknown> | undefined {
  if (request.operation !== 'CREATE') return undefined;
  if (request.kind.kind !== 'Pod' || (request.kind.group ?? '') !== '') return undefined;
  if (request.subResource !== undefined && request.subResource !== '') return undefined;
  return isRecord(request.object) ? request.object : undefined;
}

// --- Building the reply -------------------------------------------------------------------------------------

export interface AdmissionDecision {
  patch?: readonly PatchOperation[];
  warnings?: readonly string[];
}

/**
 * The reply to a review: always allowed (kirsa never denies a pod), the request's apiVersion, kind and uid
 * echoed (an API server rejects a reply without them), the patch only when there are operations, and the
 * warnings only when there are some. The named constructors below say which of these a caller means.
 */
export function admissionReply(
  apiVersion: AdmissionApiVersion,
  uid: string,
  decision: AdmissionDecision = {},
): AdmissionReview {
  const response: AdmissionResponse = { uid, allowed: true };
  if (decision.patch !== undefined && decision.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  }
  if (decision.warnings !== undefined && decision.warnings.length > 0)
    response.warnings = [...decision.warnings];
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** Admitted as sent: nothing to add, nothing to say (not a pod CREATE, or a pod without an identity). */
export function allowed(apiVersion: AdmissionApiVersion, uid: string): AdmissionReview {
  return admissionReply(apiVersion, uid);
}

/** Admitted with the operations that give the pod its credentials, and any warnings the decision had. */
export function patched(
  apiVersion: AdmissionApiVersion,
  uid: string,
  patch: readonly PatchOperation[],
  warnings: readonly string[] = [],
): AdmissionReview {
  return admissionReply(apiVersion, uid, { patch, warnings });
}

/** Admitted unchanged, with warnings that tell whoever created the pod why it got no credentials. */
export function admittedWithWarning(
  apiVersion: AdmissionApiVersion,
  uid: string,
  warnings: readonly string[],
): AdmissionReview {
  return admissionReply(apiVersion, uid, { warnings });
}

/**
 * The reply as the bytes the webhook answers with: UTF-8 of the same JSON value as JSON.stringify(reply), but
 * the base64 patch, most of a mutated pod's answer (4.7 KB of a 20 KB pod's), is copied in rather than scanned
 * for characters to escape, since base64 has none (admissionReply makes every patch). Under the image's flags
 * JSON.stringify of such a reply took 7-8 µs, this 0.1-0.2 µs (docs/webhook.md, "Less work per answer"). Every
 * other field still goes through JSON.stringify.
 *
 * Bytes, not a string: the answer's text, joined from its parts, would be copied flat once to count its bytes
 * and again to write them, 10 KB of young generation per 20 KB pod; the bytes are written once, outside the
 * JavaScript heap (docs/webhook.md, "The answer as bytes").
 */
export function replyBytes(reply: AdmissionReview): Buffer {
  const { apiVersion, kind, response, ...other } = reply;
  if (response?.patch === undefined || Object.keys(other).length > 0)
    return Buffer.from(JSON.stringify(reply), 'utf8');
  const { patch, ...fields } = response;
  // `fields` holds uid and allowed at least, so its JSON is "{...}" with something inside: the patch goes last.
  const head = `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"response":${JSON.stringify(fields).slice(0, -1)},"patch":"`;
  const tail = '"}}';
  const headLength = Buffer.byteLength(head, 'utf8');
  const bytes = Buffer.allocUnsafe(headLength + patch.length + tail.length);
  bytes.write(head, 0, 'utf8');
  bytes.write(patch, headLength, 'latin1');
  bytes.write(tail, headLength + patch.length, 'latin1');
  return bytes;
}

// --- Reading a reply ------------------------------------------------------------------------------------------

/** The operations of a reply's patch (decoded from base64 JSON), or none when the reply has no patch. */
export function replyPatch(reply: Pick<AdmissionResponse, 'patch'> | undefined): PatchOperation[] {
  if (reply?.patch === undefined) return [];
  return JSON.parse(Buffer.from(reply.patch, 'base64').toString('utf8')) as PatchOperation[];
}

/** The review the API server sends when a pod is created, for the demo, benchmarks and tests. */
export function podCreateReview(
  pod: Record<string, unknown>,
  options: { uid: string; namespace: string; apiVersion?: AdmissionApiVersion },
): AdmissionReview {
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: options.namespace,
      operation: 'CREATE',
      object: pod,
    },
  };
}
