// The webhook's sockets: HTTPS for the API server (TLS 1.2+, HTTP/1.1 keep-alive longer than the API
// server's idle timeout), the certificate re-read whenever its files change and swapped in with
// setSecureContext (new connections get it, connections and requests in flight are untouched), a plain-HTTP
// metrics port, and the drain: at shutdown /readyz turns not-ready at once, every request keeps being
// answered (each answer asking the client to reconnect) for the drain delay, then the listener closes and
// requests still running get a bounded time to finish.

import type { Server as HttpsServer } from 'node:https';
import type { SecureVersion } from 'node:tls';
import {
  METRICS_MAX_CONNECTIONS,
  METRICS_REQUEST_TIMEOUT_MS,
  SHUTDOWN_FINISH_TIMEOUT_MS,
  WEBHOOK_HEADERS_TIMEOUT_MS,
  WEBHOOK_KEEP_ALIVE_MS,
  WEBHOOK_MAX_CONNECTIONS,
  WEBHOOK_REQUEST_TIMEOUT_MS,
  WEBHOOK_TLS_HANDSHAKE_TIMEOUT_MS,
} from '../consts.ts';
import { KirsaError } from '../errors.ts';
import { listen } from '../io/listen.ts';
import type { Logger } from '../io/log.ts';
import { createServer as createHttpServer } from '../io/node-http.ts';
import { capConnections, deadlineOptions, type ServerLimits } from '../io/server-limits.ts';
import { utcIsoString } from '../io/utc-time.ts';
import { type WatchedFiles, watchFiles } from '../io/watched-file.ts';
import { PROBE_PATHS, type ProbePath, type WebhookApp } from './app.ts';
import type { WebhookMetrics } from './metrics.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { createHash, X509Certificate } = process.getBuiltinModule('node:crypto');
const { createServer: createHttpsServer } = process.getBuiltinModule('node:https');
const { isIP } = process.getBuiltinModule('node:net');
const { createSecureContext, DEFAULT_CIPHERS } = process.getBuiltinModule('node:tls');

const TLS_VERSIONS: Record<string, SecureVersion> = {
  '1.0': 'TLSv1',
  '1.1': 'TLSv1.1',
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/** `--tls-min-version` with the reference's spellings (1.0 ... 1.3, VersionTLS10 ... VersionTLS13). */
export function parseTlsMinVersion(text: string): SecureVersion {
  const version = TLS_VERSIONS[text.trim()];
  if (version) return version;
  throw new KirsaError(
    'FLAG_INVALID',
    `--tls-min-version takes 1.0, 1.1, 1.2 or 1.3 (or VersionTLS10 ... VersionTLS13), not "${text}"`,
  );
}

/** TLS 1.0 and 1.1: broken, and OpenSSL 3 allows them only at security level 0. */
export function isLegacyTlsVersion(version: SecureVersion): boolean {
  return version === 'TLSv1' || version === 'TLSv1.1';
}

/**
 * The OpenSSL cipher string the server uses: the one --tls-cipher-suites gave (or Node's default), lowered to
 * security level 0 when TLS 1.0/1.1 is allowed, because OpenSSL 3 refuses those versions at any higher level.
 */
export function serverCiphers(ciphers: string | undefined, minVersion: SecureVersion): string | undefined {
  if (!isLegacyTlsVersion(minVersion)) return ciphers;
  return `${ciphers ?? DEFAULT_CIPHERS}:@SECLEVEL=0`;
}

export interface ServingCertificate {
  cert: Buffer;
  key: Buffer;
  notAfter: Date;
  fingerprint: string;
}

/** Checks that the two files make a usable pair before anything serves them. */
export function readServingCertificate(
  cert: Buffer | undefined,
  key: Buffer | undefined,
): ServingCertificate {
  if (cert === undefined || key === undefined)
    throw new Error(`the ${cert === undefined ? 'certificate' : 'key'} file cannot be read`);
  createSecureContext({ cert, key }); // throws on a mismatched or malformed pair
  const parsed = new X509Certificate(cert);
  return {
    cert,
    key,
    notAfter: new Date(parsed.validTo),
    fingerprint: createHash('sha256').update(parsed.raw).digest('hex').slice(0, 16),
  };
}

/** The DNS names and IP addresses a certificate names (its subjectAltName), the names the webhook serves. */
export function certificateNames(cert: Buffer): string[] {
  const altNames = new X509Certificate(cert).subjectAltName ?? '';
  return altNames
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined);
}

/**
 * Why a readable pair must not replace the one being served, or undefined: expired, not yet valid, or not
 * naming every name the webhook serves (clients would fail TLS with it).
 */
export function certificateProblem(
  cert: Buffer,
  now: Date,
  servedNames: readonly string[],
): string | undefined {
  const parsed = new X509Certificate(cert);
  if (Date.parse(parsed.validTo) <= now.getTime())
    return `it expired at ${new Date(parsed.validTo).toISOString()}`;
  if (Date.parse(parsed.validFrom) > now.getTime())
    return `it is not valid before ${new Date(parsed.validFrom).toISOString()}`;
  const missing = servedNames.filter(
    (name) => (isIP(name) ? parsed.checkIP(name) : parsed.checkHost(name)) === undefined,
  );
  if (missing.length > 0) return `it does not name ${missing.join(', ')}, which the webhook serves`;
  return undefined;
}

export interface WebhookServerOptions {
  app: WebhookApp;
  metrics: WebhookMetrics;
  logger: Logger;
  certFile: string;
  keyFile: string;
  /**
   * 'files' (default): read certFile/keyFile, which must hold a pair at start, and re-read them on change.
   * 'pushed': the caller hands pairs over with offerCertificate (--in-cluster=true); none is needed at start.
   */
  certificateSource?: 'files' | 'pushed';
  minVersion: SecureVersion;
  /** OpenSSL cipher string (from --tls-cipher-suites); undefined: Node's default. */
  ciphers?: string;
  /** Listen address for both ports; undefined listens on every interface. */
  host?: string;
  port: number;
  metricsPort: number;
  /** After shutdown() starts: how long to keep answering before closing the listener. */
  drainDelayMs: number;
  finishTimeoutMs?: number;
  pollMs?: number;
  /** The webhook port's limits; the defaults are the documented ones (tests shorten them). */
  limits?: Partial<ServerLimits> & { tlsHandshakeTimeoutMs?: number };
}

/** The webhook port's resource model, as docs/webhook.md states it. */
export const WEBHOOK_LIMITS: ServerLimits & { tlsHandshakeTimeoutMs: number } = {
  headersTimeoutMs: WEBHOOK_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: WEBHOOK_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: WEBHOOK_KEEP_ALIVE_MS,
  maxConnections: WEBHOOK_MAX_CONNECTIONS,
  tlsHandshakeTimeoutMs: WEBHOOK_TLS_HANDSHAKE_TIMEOUT_MS,
};

/** The metrics port's: no body to wait for, a few scrapers and probes. */
export const METRICS_LIMITS: ServerLimits = {
  headersTimeoutMs: METRICS_REQUEST_TIMEOUT_MS,
  requestTimeoutMs: METRICS_REQUEST_TIMEOUT_MS,
  maxConnections: METRICS_MAX_CONNECTIONS,
};

export interface RunningWebhookServer {
  port: number;
  metricsPort: number;
  /** The pair served now; undefined only with a pushed source before the first one arrived. */
  certificate(): ServingCertificate | undefined;
  /** With certificateSource 'pushed': serve this pair (same checks as a file change); throws when refused. */
  offerCertificate(cert: Buffer, key: Buffer): void;
  /** Why the webhook is not ready from the server's side (a certificate swap refused), for /readyz. */
  notReadyReasons(): string[];
  /** Re-checks the certificate files now (they are also checked on change and every second). */
  checkCertificate(): Promise<void>;
  /** Drain, then close. Idempotent; resolves when both servers are closed. */
  shutdown(): Promise<void>;
  /** Cuts every connection now (a second signal). */
  closeNow(): void;
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const { app, metrics, logger, minVersion } = options;
  const ciphers = serverCiphers(options.ciphers, minVersion);
  const tlsOptions = { minVersion, ...(ciphers !== undefined ? { ciphers } : {}) };
  let current: ServingCertificate | undefined;
  let server: HttpsServer | undefined;
  let firstError: unknown;
  let servedNames: string[] = [];
  /** Set while the files hold a pair that was refused; the previous pair is still served. */
  let refusedSwap: string | undefined;

  /**
   * Takes a pair read from the files or handed over: the first one is served as it is; a later one only when
   * it is valid now and names every name the first named. Returns why it was not taken, or undefined.
   */
  const accept = (cert: Buffer | undefined, key: Buffer | undefined): string | undefined => {
    let loaded: ServingCertificate;
    try {
      loaded = readServingCertificate(cert, key);
    } catch (error) {
      if (current === undefined) {
        firstError = error;
        return (error as Error).message;
      }
      // Mid-rotation the two files can disagree for a moment; the next change completes the pair.
      logger.warn(
        { reason: (error as Error).message },
        'certificate files changed but do not make a usable pair yet; still serving the previous one',
      );
      return (error as Error).message;
    }
    if (current !== undefined) {
      const problem = certificateProblem(loaded.cert, new Date(), servedNames);
      if (problem !== undefined) {
        if (refusedSwap !== problem) {
          metrics.countCertificateRefused();
          logger.warn(
            { fingerprint: loaded.fingerprint, reason: problem, serving: current.fingerprint },
            'new serving certificate refused; still serving the previous one',
          );
        }
        refusedSwap = problem;
        return problem;
      }
    } else servedNames = certificateNames(loaded.cert);
    refusedSwap = undefined;
    const previous = current;
    current = loaded;
    server?.setSecureContext({ cert: loaded.cert, key: loaded.key, ...tlsOptions });
    metrics.setCertificateNotAfter(loaded.notAfter);
    logger.info(
      { fingerprint: loaded.fingerprint, notAfter: utcIsoString(loaded.notAfter.getTime()) },
      previous ? 'serving certificate reloaded' : 'serving certificate loaded',
    );
    return undefined;
  };

  const pushed = options.certificateSource === 'pushed';
  const certificateFiles: WatchedFiles | undefined = pushed
    ? undefined
    : await watchFiles({
        paths: [options.certFile, options.keyFile],
        ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
        onContents([cert, key]) {
          accept(cert, key);
        },
        onError(error) {
          logger.error({ reason: (error as Error)?.message }, 'certificate check failed');
        },
      });
  if (current === undefined && !pushed) {
    certificateFiles?.close();
    throw new KirsaError(
      'CERTIFICATE_INVALID',
      `cannot serve TLS with ${options.certFile} and ${options.keyFile}: ${(firstError as Error)?.message ?? 'unreadable'}`,
      { hint: 'give --tls-cert and --tls-key a PEM certificate and its private key', cause: firstError },
    );
  }
  // With a pushed certificate the server may start with none: handshakes fail until one arrives.
  const first: ServingCertificate | undefined = current;

  const limits = { ...WEBHOOK_LIMITS, ...options.limits };
  const tlsServer = createHttpsServer(
    {
      ...(first ? { cert: first.cert, key: first.key } : {}),
      ...tlsOptions,
      ...deadlineOptions(limits),
      handshakeTimeout: limits.tlsHandshakeTimeoutMs,
    },
    app.listener,
  );
  server = tlsServer;
  capConnections(tlsServer, limits, () => metrics.countRefused('max_connections'));
  tlsServer.on('tlsClientError', (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
      metrics.countRefused('tls_handshake_timeout');
    if (logger.isLevelEnabled('debug')) logger.debug({ reason: error.message }, 'TLS handshake failed');
  });

  // /healthz and /readyz here too: older reference manifests probe the metrics port.
  const metricsServer = createHttpServer(deadlineOptions(METRICS_LIMITS), (request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    if (path === '/metrics') {
      // Every answer of /metrics is a scrape by its status, whatever the method, as promhttp counts them.
      const scraped = metrics.beginScrape();
      response.once('close', () => scraped(response.statusCode));
    }
    const known = path === '/metrics' || PROBE_PATHS.includes(path);
    if (!known || (request.method !== 'GET' && request.method !== 'HEAD')) {
      request.resume();
      response.writeHead(known ? 405 : 404, { 'Content-Type': 'text/plain' });
      response.end(known ? 'use GET\n' : 'not found; metrics are at /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      const answer = app.probe(path as ProbePath);
      response.writeHead(answer.status, { 'Content-Type': 'application/json' });
      response.end(answer.body);
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        response.end(text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics collection failed');
        response.writeHead(500, { 'Content-Type': 'text/plain' });
        response.end('metrics collection failed\n');
      },
    );
  });

  capConnections(metricsServer, METRICS_LIMITS, () => metrics.countRefused('metrics_max_connections'));

  let port: number;
  let metricsPort: number;
  try {
    port = await listen(tlsServer, { port: options.port, host: options.host, what: 'the webhook' });
    metricsPort = await listen(metricsServer, {
      port: options.metricsPort,
      host: options.host,
      what: 'metrics',
      portFlag: '--metrics-port',
    });
  } catch (error) {
    certificateFiles?.close();
    tlsServer.close();
    metricsServer.close();
    throw error;
  }

  let shutdownPromise: Promise<void> | undefined;
  const closeNow = () => {
    tlsServer.closeAllConnections();
    metricsServer.closeAllConnections();
  };

  async function shutdown(): Promise<void> {
    app.beginDrain();
    logger.info(
      { drainDelayMs: options.drainDelayMs },
      'shutting down: not ready, still answering during the drain delay',
    );
    await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
    certificateFiles?.close();
    const closed = Promise.all([
      new Promise<void>((resolve) => tlsServer.close(() => resolve())),
      new Promise<void>((resolve) => metricsServer.close(() => resolve())),
    ]);
    tlsServer.closeIdleConnections();
    metricsServer.closeIdleConnections();
    const finishTimeout = options.finishTimeoutMs ?? SHUTDOWN_FINISH_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), finishTimeout);
    });
    if ((await Promise.race([closed, gaveUp])) === 'timeout') {
      logger.warn(
        { finishTimeoutMs: finishTimeout },
        'requests still open after the finish timeout; closing them',
      );
      closeNow();
      await closed;
    }
    clearTimeout(timer);
    logger.info('stopped');
  }

  return {
    port,
    metricsPort,
    certificate: () => current,
    notReadyReasons: () => [
      ...(current === undefined ? ['no serving certificate yet'] : []),
      ...(refusedSwap === undefined
        ? []
        : [`the new serving certificate was refused (${refusedSwap}); the previous one is still served`]),
    ],
    offerCertificate(cert, key) {
      const problem = accept(cert, key);
      if (problem !== undefined) throw new Error(`the server refused the certificate: ${problem}`);
    },
    checkCertificate: async () => certificateFiles?.check(),
    shutdown() {
      shutdownPromise ??= shutdown();
      return shutdownPromise;
    },
    closeNow,
  };
}
