// The webhook's Prometheus metrics. Everything is registered once, in a registry of its own (so two servers in
// one process, as in tests, do not collide), and the per-outcome children are looked up once: the hot path
// only calls observe() and inc(). The label values are the core's: ADMISSION_OUTCOMES (what one admission
// came to) and LOOKUP_RESULTS (what one cache-miss lookup came to).
//
// Beside kirsa's own series, the reference webhook's, with its names, types, labels and units, so that its
// users' dashboards and alerts keep working: the HTTP series of /mutate (latency in microseconds, its
// histogram's buckets from 125 ms), the pods given an identity by method, the pods whose service account was
// not found, and the "used" gauge. The process collectors are unprefixed, as the Go client's are
// (process-metrics.ts); the registry and its text format are metrics-registry.ts.

import { ADMISSION_LATENCY_BUCKETS } from '../consts.ts';
import { ADMISSION_OUTCOMES, type AdmissionOutcome } from '../core/admission/process.ts';
import type { Identity } from '../core/identity/identity.ts';
import { LOOKUP_RESULTS, type LookupResult } from '../core/identity/source.ts';
import { CONFIG_MAP_READ_RESULTS, type ConfigMapReadResult } from '../core/mutation/env-from.ts';
import {
  type CounterSeries,
  createMetricsRegistry,
  type Histogram,
  type MetricsRegistry,
  type ObservedSeries,
} from './metrics-registry.ts';
import { registerProcessMetrics } from './process-metrics.ts';

/**
 * Why the webhook turned a client away before any admission (kirsa_webhook_refused_total's label): a
 * connection over the cap on the webhook or the metrics port, a body over the in-flight bytes, a TLS
 * handshake not finished in time.
 */
export const REFUSAL_REASONS = [
  'max_connections',
  'metrics_max_connections',
  'in_flight_bytes',
  'tls_handshake_timeout',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The Go client's DefBuckets, in seconds: what client-go's histograms use when they name none. */
const GO_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface WebhookMetrics {
  registry: MetricsRegistry;
  /** One client turned away by the resource model (see REFUSAL_REASONS). */
  countRefused(reason: RefusalReason): void;
  /** A new serving certificate refused (expired, not yet valid, or not naming the served names). */
  countCertificateRefused(): void;
  /**
   * Counts one admission and records how long it took, in seconds; `identityMode` is how the pod was given
   * credentials when its service account maps to an identity (whether or not a patch was needed).
   */
  observeAdmission(outcome: AdmissionOutcome, seconds: number, identityMode?: Identity['mode']): void;
  /** Admissions observed so far, every outcome: how the idle release (idle-release.ts) tells quiet from busy. */
  admissionCount(): number;
  /** One answered HTTP request to an instrumented path (/mutate), for the reference's HTTP series. */
  observeHttp(verb: string, path: string, code: number, seconds: number): void;
  setSourceSynced(source: string, synced: boolean): void;
  setCertificateNotAfter(notAfter: Date): void;
  countLookup(result: LookupResult): void;
  /** One ConfigMap GET of --read-env-from-config-maps, by result. */
  countConfigMapRead(result: ConfigMapReadResult): void;
  setIdentityCount(source: string, count: number): void;
  /**
   * Registers the reference's certificate_manager_server_rotation_seconds (it has it only with
   * --in-cluster=true) and returns what records one rotation: how long the replaced certificate had lived.
   */
  certificateRotation(): (seconds: number) => void;
  /**
   * One request to /metrics begins: counted in flight until the returned function is called with the status
   * it was answered with (the reference's promhttp_metric_handler_* series, as promhttp.Handler() keeps them).
   */
  beginScrape(): (status: number) => void;
}

export interface WebhookMetricsOptions {
  /** The process_* and nodejs_* series (process-metrics.ts); on unless false. */
  defaultMetrics?: boolean;
  /** --gc-metrics: nodejs_gc_duration_seconds too, at the cost process-metrics.ts describes. */
  gcDurations?: boolean;
}

export function createWebhookMetrics(options: WebhookMetricsOptions = {}): WebhookMetrics {
  const registry = createMetricsRegistry();
  if (options.defaultMetrics !== false)
    registerProcessMetrics(registry, { gcDurations: options.gcDurations === true });
  const latency = registry.histogram({
    name: 'kirsa_webhook_admission_duration_seconds',
    help: 'Time from the start of a POST /mutate to its answer, in seconds',
    buckets: ADMISSION_LATENCY_BUCKETS,
  });
  const admissions = registry.counter({
    name: 'kirsa_webhook_admissions_total',
    help: 'POST /mutate answers by outcome',
    labelNames: ['outcome'],
  });
  const synced = registry.gauge({
    name: 'kirsa_webhook_source_synced',
    help: '1 when an identity source (service account watch, mapping ConfigMap watch, files) is in sync',
    labelNames: ['source'],
  });
  const certificateExpiry = registry.gauge({
    name: 'kirsa_webhook_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate in use, as a Unix time in seconds',
  });
  const lookups = registry.counter({
    name: 'kirsa_webhook_service_account_lookups_total',
    help: 'Direct ServiceAccount GETs made (or not) on a cache miss, by result',
    labelNames: ['result'],
  });
  const configMapReads = registry.counter({
    name: 'kirsa_webhook_config_map_reads_total',
    help: 'ConfigMap GETs for --read-env-from-config-maps (cache misses only), by result',
    labelNames: ['result'],
  });
  const byConfigMapRead = new Map(
    CONFIG_MAP_READ_RESULTS.map((result) => [result, configMapReads.labels(result)]),
  );
  for (const child of byConfigMapRead.values()) child.inc(0);
  const identities = registry.gauge({
    name: 'kirsa_webhook_identities',
    help: 'Entries held per identity source (service accounts, mapping entries, container-credentials pairs)',
    labelNames: ['source'],
  });
  const refused = registry.counter({
    name: 'kirsa_webhook_refused_total',
    help: 'Connections and requests turned away by the resource limits, by reason',
    labelNames: ['reason'],
  });
  const byRefusal = new Map(REFUSAL_REASONS.map((reason) => [reason, refused.labels(reason)]));
  for (const child of byRefusal.values()) child.inc(0);
  const certificateRefused = registry.counter({
    name: 'kirsa_webhook_certificate_refused_total',
    help: 'New serving certificates refused (expired, not yet valid, or not naming the served names)',
  });
  certificateRefused.inc(0);
  const reference = referenceMetrics(registry);
  let rotation: Histogram | undefined;
  let admissionTotal = 0;
  // promhttp's instrumentation of its own handler (client_golang v1.12.2, promhttp/http.go): scrapes by
  // status, the three likeliest codes present from the start; the gauge includes the scrape reading it.
  const scrapes = registry.counter({
    name: 'promhttp_metric_handler_requests_total',
    help: 'Total number of scrapes by HTTP status code.',
    labelNames: ['code'],
  });
  for (const code of ['200', '500', '503']) scrapes.labels(code).inc(0);
  const scrapesInFlight = registry.gauge({
    name: 'promhttp_metric_handler_requests_in_flight',
    help: 'Current number of scrapes being served.',
  });
  const httpSeries = new Map<
    string,
    { requests: CounterSeries; latencies: ObservedSeries; durations: ObservedSeries }
  >();
  // Children looked up once: labels() on the hot path would hash the label set on every request.
  const byOutcome = new Map(ADMISSION_OUTCOMES.map((outcome) => [outcome, admissions.labels(outcome)]));
  for (const child of byOutcome.values()) child.inc(0);
  const byLookup = new Map(LOOKUP_RESULTS.map((result) => [result, lookups.labels(result)]));
  for (const child of byLookup.values()) child.inc(0);

  return {
    registry,
    countCertificateRefused() {
      certificateRefused.inc();
    },
    countRefused(reason) {
      byRefusal.get(reason)!.inc();
    },
    observeAdmission(outcome, seconds, identityMode) {
      admissionTotal += 1;
      byOutcome.get(outcome)!.inc();
      latency.observe(seconds);
      if (identityMode !== undefined) reference.podCount(identityMode).inc();
      else if (outcome === 'service_account_missing') reference.missingServiceAccount.inc();
    },
    admissionCount: () => admissionTotal,
    observeHttp(verb, path, code, seconds) {
      const microseconds = Math.trunc(seconds * 1e6);
      // One entry per verb, path and code seen (a handful): labels() would hash the label set each time.
      const key = `${verb} ${path} ${code}`;
      let series = httpSeries.get(key);
      if (series === undefined) {
        series = {
          requests: reference.requests.labels(verb, path, String(code)),
          latencies: reference.latencies.labels(verb, path),
          durations: reference.durations.labels(verb, path),
        };
        httpSeries.set(key, series);
      }
      series.requests.inc();
      series.latencies.observe(microseconds);
      series.durations.observe(microseconds);
    },
    setSourceSynced(source, value) {
      synced.labels(source).set(value ? 1 : 0);
    },
    setCertificateNotAfter(notAfter) {
      certificateExpiry.set(notAfter.getTime() / 1000);
    },
    countLookup(result) {
      byLookup.get(result)!.inc();
    },
    countConfigMapRead(result) {
      byConfigMapRead.get(result)!.inc();
    },
    beginScrape() {
      scrapesInFlight.inc();
      let ended = false;
      return (status) => {
        if (ended) return;
        ended = true;
        scrapesInFlight.dec();
        scrapes.labels(String(status)).inc();
      };
    },
    certificateRotation() {
      // client-go's histogram, with the Go client's default buckets.
      rotation ??= registry.histogram({
        name: 'certificate_manager_server_rotation_seconds',
        help: 'Histogram of the lifetime of a certificate. The value is the time in seconds the certificate lived before getting rotated',
        buckets: GO_DEFAULT_BUCKETS,
      });
      const histogram = rotation;
      return (seconds) => histogram.observe(seconds);
    },
    setIdentityCount(source, count) {
      identities.labels(source).set(count);
      // The reference sets its gauge once its cache holds a first service account, and never clears it.
      if (source === 'service-accounts' && count > 0) reference.used.set(1);
    },
  };
}

/** The reference webhook's own series (pkg/handler/middleware.go, pkg/cache/cache.go), same names and labels. */
function referenceMetrics(registry: MetricsRegistry) {
  const requests = registry.counter({
    name: 'http_request_count',
    help: 'Counter of requests broken out for each verb, path, and response code.',
    labelNames: ['verb', 'path', 'code'],
  });
  const latencies = registry.histogram({
    name: 'http_request_latencies',
    help: 'Response latency distribution in microseconds for each verb and path',
    // The reference's buckets, 125 ms to 8 s (in microseconds): kept as they are so its queries still work.
    buckets: Array.from({ length: 7 }, (_, i) => 125_000 * 2 ** i),
    labelNames: ['verb', 'path'],
  });
  // A summary with no quantiles, only _sum and _count, as the Go client's are unless quantiles are asked
  // (the reference asks none): two numbers per series. prom-client's Summary fed a t-digest on every
  // observation even without quantiles, about 7 µs a call and a stall of a millisecond or more whenever a
  // digest compressed (measured in bench/webhook-admission.ts's tail).
  const durations = registry.summary({
    name: 'http_request_duration_microseconds',
    help: 'Response latency summary in microseconds for each verb and path.',
    labelNames: ['verb', 'path'],
  });
  const podCounter = registry.counter({
    name: 'pod_identity_webhook_pod_count',
    help: 'Indicator to how many pods are using sts web identity or container credentials',
    labelNames: ['method'],
  });
  // A method's series appears with its first pod, as the reference's does: labels() creates the series, so
  // each is looked up on first use and kept.
  const methods: Record<Identity['mode'], string> = {
    'web-identity': 'sts_web_identity',
    'container-credentials': 'container_credentials',
  };
  const byMethod = new Map<Identity['mode'], CounterSeries>();
  const podCount = (mode: Identity['mode']) => {
    let series = byMethod.get(mode);
    if (series === undefined) {
      series = podCounter.labels(methods[mode]);
      byMethod.set(mode, series);
    }
    return series;
  };
  const missingServiceAccount = registry.counter({
    name: 'pod_identity_webhook_missing_sa_count',
    help: 'Service account did not have the right annotations or was not found in the cache.',
  });
  const used = registry.gauge({
    name: 'pod_identity_webhook_used',
    help: 'Indicator to know pod identity webhook is used',
  });
  return { requests, latencies, durations, podCount, missingServiceAccount, used };
}
