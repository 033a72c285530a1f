// The webhook's request handling, with no socket of its own: routing, body cap, the AdmissionReview in and
// out, and the decision for one pod. server.ts gives it a TLS listener; tests and the benchmark can call
// `admit()` directly or mount `listener` on any node:http(s) server.
//
// The webhook never denies a pod: its own trouble (an exception, a slow lookup) admits the pod unchanged,
// says so in a warning and counts it. Only a body that is not an AdmissionReview gets a 4xx, because no API
// server sends one.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  ADMISSION_DEADLINE_MS,
  DEFAULT_NAMESPACE,
  DEFAULT_SERVICE_ACCOUNT,
  WEBHOOK_BODY_LIMIT_BYTES,
} from '../consts.ts';
import {
  type AdmissionRequest,
  admissionReply,
  parseAdmissionReview,
  podToCreate,
} from '../core/admission/review.ts';
import type { Identity } from '../core/identity/identity.ts';
import type { PodLike } from '../core/kube-types.ts';
import { type MutationOptions, mutatePod } from '../core/mutation/mutate-pod.ts';
import type { AdmissionOutcome, WebhookMetrics } from './metrics.ts';

/** What the identity sources answer for one pod's service account. */
export interface IdentityVerdict {
  identity: Identity | undefined;
  /** The service account was found nowhere (watch, then direct lookup); told apart from "has no role". */
  serviceAccountMissing: boolean;
}

/** The one thing the webhook needs from src/identity: synchronous on a cache hit, a promise only on a miss. */
export interface IdentitySource {
  identityFor(namespace: string, serviceAccountName: string): IdentityVerdict | Promise<IdentityVerdict>;
}

export interface WebhookAppOptions {
  identities: IdentitySource;
  mutation: MutationOptions;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Why the webhook is not ready (empty: ready). Asked by /readyz only. */
  notReadyReasons: () => string[];
  bodyLimitBytes?: number;
  admissionDeadlineMs?: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
  outcome: AdmissionOutcome;
}

export interface WebhookApp {
  /** A node:http(s) request listener serving /mutate, /healthz and /readyz. */
  listener: (request: IncomingMessage, response: ServerResponse) => void;
  /** The answer to one POST /mutate body, without HTTP around it. */
  admit(body: string): HttpAnswer | Promise<HttpAnswer>;
  /** From now on /readyz says not ready and every answer asks the client to close its connection. */
  beginDrain(): void;
  readonly draining: boolean;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

function describePod(request: AdmissionRequest, pod: PodLike, namespace: string): string {
  const name = pod.metadata?.name || request.name || `${pod.metadata?.generateName ?? ''}<generated>`;
  return `${namespace}/${name}`;
}

export function createWebhookApp(options: WebhookAppOptions): WebhookApp {
  const { identities, mutation, metrics, logger } = options;
  const bodyLimit = options.bodyLimitBytes ?? WEBHOOK_BODY_LIMIT_BYTES;
  const deadlineMs = options.admissionDeadlineMs ?? ADMISSION_DEADLINE_MS;
  let draining = false;

  function decide(
    apiVersion: Parameters<typeof admissionReply>[0],
    request: AdmissionRequest,
    pod: PodLike,
    namespace: string,
    serviceAccountName: string,
    verdict: IdentityVerdict,
  ): HttpAnswer {
    const result = mutatePod(pod, verdict.identity, mutation);
    let outcome: AdmissionOutcome;
    const warnings = result.warnings;
    if (verdict.identity === undefined) {
      outcome = verdict.serviceAccountMissing ? 'service_account_missing' : 'no_identity';
      if (verdict.serviceAccountMissing) {
        warnings.push(
          `kirsa: service account ${namespace}/${serviceAccountName} was not found in time; no AWS credentials were injected. Recreate the pod once the service account exists.`,
        );
      }
    } else if (result.outcome === 'invalid-identity') outcome = 'invalid_identity';
    else outcome = result.outcome;
    // Per pod only at debug level: the outcome counters and the admission warnings carry the rest, and a
    // synchronous log line per request would cost the latency budget.
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        {
          uid: request.uid,
          pod: describePod(request, pod, namespace),
          serviceAccount: serviceAccountName,
          outcome,
          source: verdict.identity?.source,
          warnings,
        },
        'admitted',
      );
    }
    const reply = admissionReply(apiVersion, request.uid, { patch: result.patch, warnings });
    return { status: 200, body: JSON.stringify(reply), outcome };
  }

  function admittedDespiteTrouble(
    apiVersion: Parameters<typeof admissionReply>[0],
    uid: string,
    why: string,
  ): HttpAnswer {
    const reply = admissionReply(apiVersion, uid, {
      warnings: [`kirsa: ${why}; the pod was admitted without AWS credentials. Recreate it to retry.`],
    });
    return { status: 200, body: JSON.stringify(reply), outcome: 'error' };
  }

  function admit(body: string): HttpAnswer | Promise<HttpAnswer> {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) return { status: 400, body: errorBody(parsed.reason), outcome: 'bad_request' };
    const { apiVersion, request } = parsed;
    try {
      const pod = podToCreate(request) as PodLike | undefined;
      if (pod === undefined) {
        return {
          status: 200,
          body: JSON.stringify(admissionReply(apiVersion, request.uid)),
          outcome: 'skipped',
        };
      }
      // The object of a pod created from a template often has no namespace; the request always does.
      const namespace = request.namespace || pod.metadata?.namespace || DEFAULT_NAMESPACE;
      const serviceAccountName = pod.spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT;
      const verdict = identities.identityFor(namespace, serviceAccountName);
      if (!(verdict instanceof Promise)) {
        return decide(apiVersion, request, pod, namespace, serviceAccountName, verdict);
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<HttpAnswer>((resolve) => {
        timer = setTimeout(
          () => resolve(admittedDespiteTrouble(apiVersion, request.uid, `no answer within ${deadlineMs} ms`)),
          deadlineMs,
        );
      });
      const decided = verdict.then(
        (value) => decide(apiVersion, request, pod, namespace, serviceAccountName, value),
        (error: unknown) => {
          logger.error({ uid: request.uid, err: error }, 'identity lookup failed');
          return admittedDespiteTrouble(apiVersion, request.uid, 'the identity lookup failed');
        },
      );
      return Promise.race([decided, deadline]).finally(() => clearTimeout(timer));
    } catch (error) {
      logger.error({ uid: request.uid, err: error }, 'admission failed; admitted unchanged');
      return admittedDespiteTrouble(apiVersion, request.uid, 'an internal error occurred');
    }
  }

  function send(response: ServerResponse, status: number, body: string, extra?: Record<string, string>) {
    const headers: Record<string, string | number> = {
      ...JSON_HEADERS,
      'Content-Length': Buffer.byteLength(body),
    };
    if (extra) Object.assign(headers, extra);
    // While draining, each answer asks the client to reconnect, so it finds a replica that is staying.
    if (draining) headers.Connection = 'close';
    response.writeHead(status, headers);
    response.end(body);
  }

  function finishAdmission(response: ServerResponse, started: number, answer: HttpAnswer) {
    send(response, answer.status, answer.body);
    metrics.observeAdmission(answer.outcome, (performance.now() - started) / 1000);
  }

  function refuse(response: ServerResponse, started: number, status: number, message: string, close = false) {
    send(response, status, errorBody(message), close ? { Connection: 'close' } : undefined);
    metrics.observeAdmission('bad_request', (performance.now() - started) / 1000);
  }

  function handleMutate(request: IncomingMessage, response: ServerResponse) {
    const started = performance.now();
    const contentType = request.headers['content-type'];
    if (contentType !== undefined) {
      const mediaType = contentType.split(';', 1)[0]!.trim().toLowerCase();
      if (mediaType !== 'application/json') {
        request.resume();
        return refuse(response, started, 415, `Content-Type is "${contentType}", expected application/json`);
      }
    }
    const declared = Number(request.headers['content-length']);
    if (declared > bodyLimit) {
      return refuse(
        response,
        started,
        413,
        `the body is ${declared} bytes, over the ${bodyLimit}-byte limit`,
        true,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > bodyLimit) {
        refused = true;
        chunks.length = 0;
        refuse(response, started, 413, `the body is over the ${bodyLimit}-byte limit`, true);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const answer = admit(body);
      if (answer instanceof Promise) {
        answer.then(
          (value) => {
            if (!response.destroyed) finishAdmission(response, started, value);
          },
          (error: unknown) => logger.error({ err: error }, 'admission promise failed'),
        );
      } else finishAdmission(response, started, answer);
    });
    // A client that goes away mid-body leaves nothing to answer; the socket is already gone.
    request.on('error', () => {});
  }

  function listener(request: IncomingMessage, response: ServerResponse) {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    // The API server appends ?timeout=10s to the webhook URL.
    const path = query === -1 ? url : url.slice(0, query);
    const method = request.method ?? 'GET';
    try {
      if (path === '/mutate') {
        if (method !== 'POST') {
          request.resume();
          return send(response, 405, errorBody(`${method} is not allowed on /mutate; use POST`), {
            Allow: 'POST',
          });
        }
        return handleMutate(request, response);
      }
      request.resume();
      if (path === '/healthz' || path === '/readyz') {
        if (method !== 'GET' && method !== 'HEAD') {
          return send(response, 405, errorBody(`${method} is not allowed on ${path}; use GET`), {
            Allow: 'GET, HEAD',
          });
        }
        if (path === '/healthz') return send(response, 200, JSON.stringify({ status: 'ok' }));
        const reasons = draining
          ? ['shutting down', ...options.notReadyReasons()]
          : options.notReadyReasons();
        return send(
          response,
          reasons.length === 0 ? 200 : 503,
          JSON.stringify(reasons.length === 0 ? { status: 'ready' } : { status: 'not ready', reasons }),
        );
      }
      return send(response, 404, errorBody(`no such path ${path}; the webhook serves POST /mutate`));
    } catch (error) {
      logger.error({ err: error }, 'request handling failed');
      if (!response.headersSent) send(response, 500, errorBody('internal error'));
    }
  }

  return {
    listener,
    admit,
    beginDrain() {
      draining = true;
    },
    get draining() {
      return draining;
    },
  };
}
