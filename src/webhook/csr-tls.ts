// The reference's --in-cluster=true TLS: the webhook makes its own key, asks the cluster for a serving
// certificate with a CertificateSigningRequest (certificates.k8s.io/v1), waits for it to be approved and
// issued, keeps the pair in a kubernetes.io/tls Secret (so a restart or another replica reuses it), serves
// it, and asks again at 70-90% of the certificate's lifetime. Subject, DNS names, usages, key type, Secret
// layout and rotation point are the reference's (it delegates to client-go's certificate manager); the
// signer name is a flag because the reference's, kubernetes.io/legacy-unknown, is refused by every API
// server since 1.22 (see docs/webhook.md). The API server and the Secret are reached through two small
// ports (csr-tls-kube.ts implements them), so these rules and the loop load no client.

import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { REFERENCE_CSR_SIGNER } from '../consts.ts';
import { isKirsaError, KirsaError } from '../errors.ts';
import type { Logger } from '../io/log.ts';
import { utcIsoString } from '../io/utc-time.ts';
import { createCertificateRequest } from '../tls/certificates.ts';

/** The reference's usages: a TLS server certificate for an ECDSA key. */
export const CSR_USAGES = ['digital signature', 'key encipherment', 'server auth'] as const;
/** client-go waits this long for one request to be issued before it makes a new key and asks again. */
export const CSR_WAIT_TIMEOUT_MS = 15 * 60_000;
/** How often a pending request is read back; approval is a human or a controller, seconds are fine. */
export const CSR_POLL_MS = 2_000;
/** Retry after a failed attempt: 2 s doubling to 32 s, then every 32 s (client-go's backoff). */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 32_000;
/** A timer is capped (setTimeout overflows past 24.8 days); waking hourly also notices another replica's pair. */
const MAX_SLEEP_MS = 3_600_000;

export interface CsrSubject {
  commonName: string;
  dnsNames: string[];
}

/** What the reference asks for (main.go): CN <service>.<namespace>.svc and four DNS names. */
export function csrSubject(serviceName: string, namespace: string): CsrSubject {
  return {
    commonName: `${serviceName}.${namespace}.svc`,
    dnsNames: [
      serviceName,
      `${serviceName}.${namespace}`,
      `${serviceName}.${namespace}.svc`,
      `${serviceName}.${namespace}.svc.cluster.local`,
    ],
  };
}

export interface ServingPair {
  certPem: string;
  keyPem: string;
}

/** Why this pair cannot be served for this subject now, or undefined when it can. */
export function pairProblem(
  pair: ServingPair | undefined,
  subject: CsrSubject,
  now: Date,
): string | undefined {
  if (!pair) return 'no certificate is stored yet';
  let cert: X509Certificate;
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
    cert = new X509Certificate(pair.certPem);
  } catch {
    return 'the stored certificate and key do not make a usable pair';
  }
  if (Date.parse(cert.validTo) <= now.getTime()) return 'the stored certificate has expired';
  const commonName = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  if (commonName !== subject.commonName) return `the stored certificate is for ${commonName ?? 'no name'}`;
  const missing = subject.dnsNames.filter((name) => cert.checkHost(name, { subject: 'never' }) === undefined);
  if (missing.length > 0) return `the stored certificate does not name ${missing.join(', ')}`;
  return undefined;
}

/**
 * When to ask for the next certificate: at 70-90% of this one's lifetime (client-go's jittered point), so
 * replicas started together do not all ask at once and a late approval still leaves time.
 */
export function rotationDeadline(certPem: string, random: () => number = Math.random): Date {
  const cert = new X509Certificate(certPem);
  const from = Date.parse(cert.validFrom);
  const lifetime = Date.parse(cert.validTo) - from;
  return new Date(from + lifetime * (0.7 + 0.2 * random()));
}

/** A request as the API server reports it. */
export interface CsrState {
  approved: boolean;
  /** The Denied or Failed condition's reason and message, when one is set. */
  denied?: string;
  failed?: string;
  /** status.certificate, PEM, once the signer wrote it. */
  certificatePem?: string;
}

export interface CsrApi {
  /** Creates the request; resolves with its name. Throws a KirsaError (KUBE_REJECTED, KUBE_FORBIDDEN, ...). */
  create(request: { csrPem: string; signerName: string; usages: readonly string[] }): Promise<string>;
  /** undefined when the request is gone (deleted, or garbage-collected after an hour). */
  read(name: string): Promise<CsrState | undefined>;
}

export interface ServingPairStore {
  read(): Promise<ServingPair | undefined>;
  write(pair: ServingPair): Promise<void>;
}

export interface CsrTlsOptions {
  api: CsrApi;
  store: ServingPairStore;
  signerName: string;
  subject: CsrSubject;
  /** Hands a pair to the server; throws when the server refuses it. */
  serve(pair: ServingPair): void;
  logger: Logger;
  /** For the log lines: the Secret as namespace/name. */
  secret: string;
  /** Called when a served certificate is replaced, with how long it had lived (client-go's histogram). */
  onRotation?: (seconds: number) => void;
  pollMs?: number;
  waitTimeoutMs?: number;
  now?: () => Date;
  random?: () => number;
}

export interface RunningCsrTls {
  /** Why no certificate is served yet (for /readyz), or undefined once one is. */
  notReadyReason(): string | undefined;
  stop(): void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Starts the loop. Resolves once the first step is done: a stored pair is served, or the first request is
 * created and waiting. Rejects when that first request is refused outright (an invalid signer, no RBAC to
 * create it), since no retry can help and the webhook would otherwise wait forever, not ready.
 */
export async function startCsrTls(options: CsrTlsOptions): Promise<RunningCsrTls> {
  const { api, store, logger: log, signerName, subject } = options;
  const now = options.now ?? (() => new Date());
  const pollMs = options.pollMs ?? CSR_POLL_MS;
  const waitTimeoutMs = options.waitTimeoutMs ?? CSR_WAIT_TIMEOUT_MS;
  const stopper = new AbortController();
  const { signal } = stopper;
  let served: string | undefined;
  let waiting = 'no certificate yet: reading the stored one';

  const use = (pair: ServingPair, how: string) => {
    if (pair.certPem === served) return;
    options.serve(pair);
    if (served !== undefined)
      options.onRotation?.((now().getTime() - Date.parse(new X509Certificate(served).validFrom)) / 1000);
    served = pair.certPem;
    waiting = '';
    const cert = new X509Certificate(pair.certPem);
    log.info(
      { tlsSecret: options.secret, notAfter: utcIsoString(Date.parse(cert.validTo)), how },
      'serving certificate from the CSR in use',
    );
  };

  /** Creates one request; resolves with its name. */
  const create = async (reason: string) => {
    const request = await createCertificateRequest(subject);
    let name: string;
    try {
      name = await api.create({ csrPem: request.csrPem, signerName, usages: CSR_USAGES });
    } catch (error) {
      if (isKirsaError(error) && error.code === 'KUBE_REJECTED') {
        throw new KirsaError(
          'KUBE_REJECTED',
          `the API server refused a CertificateSigningRequest for signer ${signerName}: ${error.message}`,
          {
            hint:
              signerName === REFERENCE_CSR_SIGNER
                ? `${REFERENCE_CSR_SIGNER} can only be asked through certificates.k8s.io/v1beta1, removed in Kubernetes 1.22: pass --csr-signer-name with a signer your cluster runs (docs/webhook.md), or --in-cluster=false with --tls-cert/--tls-key`
                : 'check --csr-signer-name: a domain-qualified name such as example.com/webhook-serving',
            cause: error,
          },
        );
      }
      throw error;
    }
    waiting = `waiting for CertificateSigningRequest ${name} (signer ${signerName}) to be approved and issued`;
    log.info(
      { csr: name, signerName, reason, commonName: subject.commonName },
      'CertificateSigningRequest created; waiting for approval and a certificate',
    );
    return { name, keyPem: request.keyPem };
  };

  /** Waits for the request to be issued; resolves with the pair, or throws why it will not be. */
  const issued = async (name: string, keyPem: string): Promise<ServingPair> => {
    const deadline = Date.now() + waitTimeoutMs;
    while (!signal.aborted) {
      const state = await api.read(name);
      if (!state) throw new Error(`CertificateSigningRequest ${name} was deleted before it was issued`);
      if (state.denied) throw new Error(`CertificateSigningRequest ${name} was denied: ${state.denied}`);
      if (state.failed) throw new Error(`CertificateSigningRequest ${name} failed: ${state.failed}`);
      if (state.approved && state.certificatePem) {
        const pair = { certPem: state.certificatePem, keyPem };
        const problem = pairProblem(pair, subject, now());
        if (problem)
          throw new Error(
            `CertificateSigningRequest ${name} was issued a certificate kirsa cannot serve: ${problem}`,
          );
        return pair;
      }
      if (Date.now() >= deadline)
        throw new Error(
          `CertificateSigningRequest ${name} was not issued within ${waitTimeoutMs / 60_000} minutes`,
        );
      await sleep(pollMs, signal);
    }
    throw new Error('stopped');
  };

  /** One pass: serve the stored pair when it is good and not due; else ask for one. Returns when to pass again. */
  const pass = async (pending?: { name: string; keyPem: string }): Promise<number> => {
    let request = pending;
    if (!request) {
      const stored = await store.read();
      let reason = pairProblem(stored, subject, now());
      if (!reason && stored) {
        use(stored, 'stored');
        const due = rotationDeadline(stored.certPem, options.random).getTime() - now().getTime();
        if (due > 0) return Math.min(due, MAX_SLEEP_MS);
        reason = 'the certificate reached its rotation point (70-90% of its lifetime)';
      }
      request = await create(reason ?? 'no usable certificate');
    }
    const pair = await issued(request.name, request.keyPem);
    await store.write(pair);
    use(pair, `issued for CertificateSigningRequest ${request.name}`);
    return 0;
  };

  // The first pass runs up to the request's creation here, so that a refusal reaches the caller.
  let first: { name: string; keyPem: string } | undefined;
  const stored = await store.read();
  const firstReason = pairProblem(stored, subject, now());
  if (!firstReason && stored) use(stored, 'stored');
  else first = await create(firstReason ?? 'no usable certificate');

  void (async () => {
    let retryMs = RETRY_FIRST_MS;
    let pending = first;
    let nextMs = 0;
    if (!pending && stored) {
      const due = rotationDeadline(stored.certPem, options.random).getTime() - now().getTime();
      nextMs = Math.max(0, Math.min(due, MAX_SLEEP_MS));
    }
    while (!signal.aborted) {
      if (nextMs > 0) await sleep(nextMs, signal);
      if (signal.aborted) return;
      try {
        nextMs = await pass(pending);
        retryMs = RETRY_FIRST_MS;
      } catch (error) {
        if (signal.aborted) return;
        if (served === undefined) waiting = `no certificate yet: ${(error as Error).message}; retrying`;
        log.warn(
          { err: (error as Error).message, retryInMs: retryMs },
          'cannot get a serving certificate from a CSR yet; retrying',
        );
        nextMs = retryMs;
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
      pending = undefined;
    }
  })();

  return {
    notReadyReason: () => (served === undefined ? waiting : undefined),
    stop: () => stopper.abort(),
  };
}
