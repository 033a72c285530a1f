// The webhook's request handling, with no socket of its own: routing, body cap, the AdmissionReview bytes in
// and out, logs and counters. The decision for one pod is the core's processAdmission. server.ts gives this
// a TLS listener; tests and the benchmark can call `admit()` directly or mount `listener` on any
// node:http(s) server.
//
// The webhook never denies a pod: its own trouble (an exception, a slow lookup) admits the pod unchanged,
// says so in a warning and counts it (processAdmission guarantees that answer on every path). Only a body
// that is not an AdmissionReview gets a 4xx, because no API server sends one.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ADMISSION_DEADLINE_MS,
  SHAPES_KEPT_MAX_BODY_LENGTH,
  TROUBLE_LOG_INTERVAL_MS,
  WEBHOOK_BODY_LIMIT_BYTES,
  WEBHOOK_IN_FLIGHT_BYTES_LIMIT,
  WEBHOOK_SMALL_BODY_BYTES,
  WEBHOOK_SMALL_BODY_RESERVE_BYTES,
} from '../consts.ts';
import { loggableError, loggableIdentifier } from '../core/admission/loggable.ts';
import type { PodNotice } from '../core/admission/pod-event.ts';
import {
  type Admission,
  type AdmissionOptions,
  type AdmissionOutcome,
  processAdmission,
} from '../core/admission/process.ts';
import { parseAdmissionReview, replyBytes } from '../core/admission/review.ts';
import type { Identity } from '../core/identity/identity.ts';
import type { IdentitySource } from '../core/identity/source.ts';
import type { ConfigMapSource } from '../core/mutation/env-from.ts';
import type { MutationOptions } from '../core/mutation/mutate-pod.ts';
import type { Logger } from '../io/log.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface WebhookAppOptions {
  identities: IdentitySource;
  mutation: MutationOptions;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Why the webhook is not ready (empty: ready). Asked by /readyz only. */
  notReadyReasons: () => string[];
  bodyLimitBytes?: number;
  /** Body bytes held at once across requests (WEBHOOK_IN_FLIGHT_BYTES_LIMIT). */
  inFlightBytesLimit?: number;
  admissionDeadlineMs?: number;
  /**
   * The longest body whose admission's objects are held until the next admission (SHAPES_KEPT_MAX_BODY_LENGTH,
   * below); 0 holds none.
   */
  shapesKeptMaxBodyLength?: number;
  /** Told of each pod admitted without credentials for a reason its owner can fix (to post an Event). */
  onNotice?: (notice: PodNotice) => unknown;
  /** --read-env-from-config-maps: where the ConfigMaps that pods' envFrom names are read. */
  configMaps?: ConfigMapSource;
}

export interface HttpAnswer {
  status: number;
  /** An admission's reply as bytes (replyBytes says why); an error as text. */
  body: Buffer | string;
  outcome: AdmissionOutcome;
  identityMode?: Identity['mode'];
}

export interface WebhookApp {
  /** A node:http(s) request listener serving /mutate, /healthz and /readyz. */
  listener: (request: IncomingMessage, response: ServerResponse) => void;
  /** The answer of /healthz (alive) or /readyz (ready to admit); the metrics port serves them too. */
  probe(path: ProbePath): { status: number; body: string };
  /** The answer to one POST /mutate body, without HTTP around it. */
  admit(body: string): HttpAnswer | Promise<HttpAnswer>;
  /** From now on /readyz says not ready and every answer asks the client to close its connection. */
  beginDrain(): void;
  readonly draining: boolean;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export type ProbePath = '/healthz' | '/readyz';
export const PROBE_PATHS: readonly string[] = ['/healthz', '/readyz'];

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

export function createWebhookApp(options: WebhookAppOptions): WebhookApp {
  const { identities, metrics, logger } = options;
  const bodyLimit = options.bodyLimitBytes ?? WEBHOOK_BODY_LIMIT_BYTES;
  const shapesKeptMaxBodyLength = options.shapesKeptMaxBodyLength ?? SHAPES_KEPT_MAX_BODY_LENGTH;
  const admissionOptions: AdmissionOptions = {
    mutation: options.mutation,
    deadlineMs: options.admissionDeadlineMs ?? ADMISSION_DEADLINE_MS,
    ...(options.configMaps ? { configMaps: options.configMaps } : {}),
  };
  const inFlightLimit = options.inFlightBytesLimit ?? WEBHOOK_IN_FLIGHT_BYTES_LIMIT;
  /** Body bytes buffered now, over every request still being read or decided. */
  let inFlightBytes = 0;
  let draining = false;
  // Any client can send a review that makes the decision throw: one line per message and interval, with
  // the error's class, code and where it was thrown, and the count of lines left out, so no client can flood
  // the log. Never the error's message: it quotes what the pod holds (loggable.ts).
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  function troubleLog(message: string, uid: string, error: unknown) {
    const now = performance.now();
    const last = lastLogged.get(message);
    if (last && now - last.at < TROUBLE_LOG_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    logger.error(
      { uid: loggableIdentifier(uid), ...loggableError(error), suppressed: last?.suppressed ?? 0 },
      message,
    );
    lastLogged.set(message, { at: now, suppressed: 0 });
  }

  // The last admission's objects, held until the next one replaces them. V8's optimized code for the
  // admission path embeds the hidden classes ("maps") of the objects it reads and builds: the parsed review's,
  // the reply's, the answer's. A map lives only while some object has it, and between admissions none does,
  // so every full collection (the idle release's, or one the load brings) cleared them and threw away the
  // compiled code of up to 22 functions on the admission path (`--trace-deopt`: "embedded weak objects
  // cleared"), which the next admissions paid for in slower code and in recompiling on the webhook's thread.
  // Holding one of each keeps those shapes alive, for the price of one review's objects; a review with a
  // body longer than SHAPES_KEPT_MAX_BODY_LENGTH is not held (docs/webhook.md, "Compiled code through a full
  // collection"). The same goes for Node's own HTTP and stream code (parserOnIncoming, IncomingMessage,
  // resOnFinish, Readable.resume and dozens more), compiled for the classes of the request, the response
  // and the TLS socket: once the API server's connections close none of those is left, and the collection
  // threw that code away too. So the request, the response and the headers object of the last admission
  // answered over HTTP are held with it (a few kilobytes: their bodies are read and written by then).
  const kept: {
    document?: unknown;
    admission?: Admission;
    answer?: HttpAnswer;
    request?: IncomingMessage;
    response?: ServerResponse;
    headers?: Record<string, string | number>;
  } = {};

  function answered(uid: string, admission: Admission): HttpAnswer {
    const { trouble, outcome } = admission;
    if (trouble?.kind === 'internal') {
      troubleLog('admission failed; admitted unchanged', uid, trouble.error);
    } else if (trouble?.kind === 'identity-lookup') {
      troubleLog('identity lookup failed', uid, trouble.error);
    } else if (admission.pod !== undefined && logger.isLevelEnabled('debug')) {
      // Per pod only at debug level: the outcome counters and the admission warnings carry the rest, and a
      // synchronous log line per request would cost the latency budget. The warnings quote the pod (its
      // containers, annotations, mounts): they go to the API server's client, and only their count here.
      logger.debug(
        {
          uid: loggableIdentifier(uid),
          pod: admission.pod,
          serviceAccount: admission.serviceAccount,
          outcome,
          source: admission.identitySource,
          warnings: admission.reply.response?.warnings?.length ?? 0,
        },
        'admitted',
      );
    }
    if (admission.notice !== undefined && options.onNotice) {
      try {
        options.onNotice(admission.notice);
      } catch (error) {
        logger.error(
          { uid: loggableIdentifier(uid), ...loggableError(error) },
          'reporting a pod notice failed',
        );
      }
    }
    const answer: HttpAnswer = { status: 200, body: replyBytes(admission.reply), outcome };
    if (admission.identityMode !== undefined) answer.identityMode = admission.identityMode;
    if (kept.document !== undefined) {
      kept.admission = admission;
      kept.answer = answer;
    }
    return answer;
  }

  function admit(body: string): HttpAnswer | Promise<HttpAnswer> {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) return { status: 400, body: errorBody(parsed.reason), outcome: 'bad_request' };
    // Only a small review is held, with what it brings (answered() holds those while a document is held).
    kept.document = body.length <= shapesKeptMaxBodyLength ? parsed.document : undefined;
    kept.admission = undefined;
    kept.answer = undefined;
    kept.request = undefined;
    kept.response = undefined;
    kept.headers = undefined;
    const uid = parsed.request.uid;
    const admission = processAdmission(parsed, identities, admissionOptions);
    return admission instanceof Promise
      ? admission.then((value) => answered(uid, value))
      : answered(uid, admission);
  }

  function probe(path: ProbePath): { status: number; body: string } {
    if (path === '/healthz') return { status: 200, body: JSON.stringify({ status: 'ok' }) };
    const reasons = draining ? ['shutting down', ...options.notReadyReasons()] : options.notReadyReasons();
    return {
      status: reasons.length === 0 ? 200 : 503,
      body: JSON.stringify(reasons.length === 0 ? { status: 'ready' } : { status: 'not ready', reasons }),
    };
  }

  /** Writes the answer; returns the headers object it wrote (finishAdmission holds the last one). */
  function send(
    response: ServerResponse,
    status: number,
    body: Buffer | string,
    extra?: Record<string, string>,
  ) {
    const headers: Record<string, string | number> = {
      ...JSON_HEADERS,
      'Content-Length': Buffer.byteLength(body),
    };
    if (extra) Object.assign(headers, extra);
    // While draining, each answer asks the client to reconnect, so it finds a replica that is staying.
    if (draining) headers.Connection = 'close';
    response.writeHead(status, headers);
    response.end(body);
    return headers;
  }

  function finishAdmission(response: ServerResponse, started: number, answer: HttpAnswer) {
    const headers = send(response, answer.status, answer.body);
    if (kept.answer === answer) {
      kept.request = response.req;
      kept.response = response;
      kept.headers = headers;
    }
    metrics.observeAdmission(answer.outcome, (performance.now() - started) / 1000, answer.identityMode);
  }

  function refuse(response: ServerResponse, started: number, status: number, message: string, close = false) {
    send(response, status, errorBody(message), close ? { Connection: 'close' } : undefined);
    // The rest of a refused body is not worth decrypting: once the answer is out, the connection goes.
    if (close) response.once('finish', () => response.socket?.destroy());
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
    // Small declared bodies (every real review) may dip into a reserve the big ones cannot reach, so a few
    // clients holding big bodies open do not shut out the API server's reviews.
    const limit =
      declared >= 0 && declared <= WEBHOOK_SMALL_BODY_BYTES
        ? inFlightLimit + WEBHOOK_SMALL_BODY_RESERVE_BYTES
        : inFlightLimit;
    const overInFlight = () => {
      metrics.countRefused('in_flight_bytes');
      refuse(response, started, 503, 'the webhook holds too many request bytes; retry', true);
    };
    if (declared > 0 && inFlightBytes + declared > limit) {
      request.resume();
      return overInFlight();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    let held = 0;
    const release = () => {
      inFlightBytes -= held;
      held = 0;
    };
    // A client that goes away mid-body, or a body refused, no longer holds its bytes.
    request.once('close', release);
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > bodyLimit || inFlightBytes + chunk.length > limit) {
        refused = true;
        chunks.length = 0;
        release();
        if (size > bodyLimit)
          refuse(response, started, 413, `the body is over the ${bodyLimit}-byte limit`, true);
        else overInFlight();
        return;
      }
      held += chunk.length;
      inFlightBytes += chunk.length;
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      chunks.length = 0;
      // The bytes are held until the decision is made: its parsed objects are what they cost.
      const answer = admit(body);
      if (answer instanceof Promise) answer.then(release, release);
      else release();
      if (answer instanceof Promise) {
        answer.then(
          (value) => {
            if (!response.destroyed) finishAdmission(response, started, value);
          },
          // processAdmission never rejects; should writing the answer fail, the API server still gets one.
          (error: unknown) => {
            logger.error(loggableError(error), 'admission promise failed');
            if (!response.destroyed && !response.headersSent) {
              send(response, 500, errorBody('internal error'));
              metrics.observeAdmission('error', (performance.now() - started) / 1000);
            }
          },
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
        // The reference's HTTP series count every answer of /mutate, whatever its method and code.
        const started = performance.now();
        response.once('finish', () =>
          metrics.observeHttp(method, path, response.statusCode, (performance.now() - started) / 1000),
        );
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
        const answer = probe(path);
        return send(response, answer.status, answer.body);
      }
      return send(response, 404, errorBody(`no such path ${path}; the webhook serves POST /mutate`));
    } catch (error) {
      logger.error(loggableError(error), 'request handling failed');
      if (!response.headersSent) send(response, 500, errorBody('internal error'));
    }
  }

  return {
    listener,
    probe,
    admit,
    beginDrain() {
      draining = true;
    },
    get draining() {
      return draining;
    },
  };
}
