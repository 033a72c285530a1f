// The webhook's Prometheus metrics. Everything is registered once, in a registry of its own (so two servers in
// one process, as in tests, do not collide), and the per-outcome children are looked up once: the hot path
// only calls observe() and inc(). The label values are the core's: ADMISSION_OUTCOMES (what one admission
// came to) and LOOKUP_RESULTS (what one cache-miss lookup came to).
//
// Beside kirsa's own series, the reference webhook's, with its names, types, labels and units, so that its
// users' dashboards and alerts keep working: the HTTP series of /mutate (latency in microseconds, its
// histogram's buckets from 125 ms), the pods given an identity by method, the pods whose service account was
// not found, and the "used" gauge. The process collectors are unprefixed, as the Go client's are.

import { readFileSync } from 'node:fs';
import {
  Counter,
  collectDefaultMetrics,
  exponentialBuckets,
  Gauge,
  Histogram,
  type Metric,
  Registry,
} from 'prom-client';
import { ADMISSION_LATENCY_BUCKETS } from '../consts.ts';
import { ADMISSION_OUTCOMES, type AdmissionOutcome } from '../core/admission/process.ts';
import type { Identity } from '../core/identity/identity.ts';
import { LOOKUP_RESULTS, type LookupResult } from '../core/identity/source.ts';
import { CONFIG_MAP_READ_RESULTS, type ConfigMapReadResult } from '../core/mutation/env-from.ts';

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

export interface WebhookMetrics {
  registry: Registry;
  /** One client turned away by the resource model (see REFUSAL_REASONS). */
  countRefused(reason: RefusalReason): void;
  /** A new serving certificate refused (expired, not yet valid, or not naming the served names). */
  countCertificateRefused(): void;
  /**
   * Counts one admission and records how long it took, in seconds; `identityMode` is how the pod was given
   * credentials when its service account maps to an identity (whether or not a patch was needed).
   */
  observeAdmission(outcome: AdmissionOutcome, seconds: number, identityMode?: Identity['mode']): void;
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

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    registerVirtualMemoryMax(registry);
  }
  const latency = new Histogram({
    name: 'kirsa_webhook_admission_duration_seconds',
    help: 'Time from the start of a POST /mutate to its answer, in seconds',
    buckets: ADMISSION_LATENCY_BUCKETS,
    registers: [registry],
  });
  const admissions = new Counter({
    name: 'kirsa_webhook_admissions_total',
    help: 'POST /mutate answers by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const synced = new Gauge({
    name: 'kirsa_webhook_source_synced',
    help: '1 when an identity source (service account watch, mapping ConfigMap watch, files) is in sync',
    labelNames: ['source'],
    registers: [registry],
  });
  const certificateExpiry = new Gauge({
    name: 'kirsa_webhook_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate in use, as a Unix time in seconds',
    registers: [registry],
  });
  const lookups = new Counter({
    name: 'kirsa_webhook_service_account_lookups_total',
    help: 'Direct ServiceAccount GETs made (or not) on a cache miss, by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const configMapReads = new Counter({
    name: 'kirsa_webhook_config_map_reads_total',
    help: 'ConfigMap GETs for --read-env-from-config-maps (cache misses only), by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const byConfigMapRead = new Map(
    CONFIG_MAP_READ_RESULTS.map((result) => [result, configMapReads.labels(result)]),
  );
  for (const child of byConfigMapRead.values()) child.inc(0);
  const identities = new Gauge({
    name: 'kirsa_webhook_identities',
    help: 'Entries held per identity source (service accounts, mapping entries, container-credentials pairs)',
    labelNames: ['source'],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'kirsa_webhook_refused_total',
    help: 'Connections and requests turned away by the resource limits, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const byRefusal = new Map(REFUSAL_REASONS.map((reason) => [reason, refused.labels(reason)]));
  for (const child of byRefusal.values()) child.inc(0);
  const certificateRefused = new Counter({
    name: 'kirsa_webhook_certificate_refused_total',
    help: 'New serving certificates refused (expired, not yet valid, or not naming the served names)',
    registers: [registry],
  });
  certificateRefused.inc(0);
  const reference = referenceMetrics(registry);
  let rotation: Histogram | undefined;
  // promhttp's instrumentation of its own handler (client_golang v1.12.2, promhttp/http.go): scrapes by
  // status, the three likeliest codes present from the start; the gauge includes the scrape reading it.
  const scrapes = new Counter({
    name: 'promhttp_metric_handler_requests_total',
    help: 'Total number of scrapes by HTTP status code.',
    labelNames: ['code'],
    registers: [registry],
  });
  for (const code of ['200', '500', '503']) scrapes.labels(code).inc(0);
  const scrapesInFlight = new Gauge({
    name: 'promhttp_metric_handler_requests_in_flight',
    help: 'Current number of scrapes being served.',
    registers: [registry],
  });
  const httpSeries = new Map<
    string,
    {
      requests: ReturnType<typeof reference.requests.labels>;
      latencies: ReturnType<typeof reference.latencies.labels>;
    }
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
      byOutcome.get(outcome)!.inc();
      latency.observe(seconds);
      if (identityMode !== undefined) reference.podCount.get(identityMode)!.inc();
      else if (outcome === 'service_account_missing') reference.missingServiceAccount.inc();
    },
    observeHttp(verb, path, code, seconds) {
      const microseconds = Math.trunc(seconds * 1e6);
      // One entry per verb, path and code seen (a handful): labels() would hash the label set each time.
      const key = `${verb} ${path} ${code}`;
      let series = httpSeries.get(key);
      if (series === undefined) {
        series = {
          requests: reference.requests.labels(verb, path, String(code)),
          latencies: reference.latencies.labels(verb, path),
        };
        httpSeries.set(key, series);
      }
      series.requests.inc();
      series.latencies.observe(microseconds);
      reference.durations.observe(verb, path, microseconds);
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
      // client-go's histogram, default buckets (prom-client's are the Go client's DefBuckets).
      rotation ??= new Histogram({
        name: 'certificate_manager_server_rotation_seconds',
        help: 'Histogram of the lifetime of a certificate. The value is the time in seconds the certificate lived before getting rotated',
        registers: [registry],
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
function referenceMetrics(registry: Registry) {
  const registers = [registry];
  const requests = new Counter({
    name: 'http_request_count',
    help: 'Counter of requests broken out for each verb, path, and response code.',
    labelNames: ['verb', 'path', 'code'],
    registers,
  });
  const latencies = new Histogram({
    name: 'http_request_latencies',
    help: 'Response latency distribution in microseconds for each verb and path',
    // The reference's buckets, 125 ms to 8 s (in microseconds): kept as they are so its queries still work.
    buckets: exponentialBuckets(125_000, 2, 7),
    labelNames: ['verb', 'path'],
    registers,
  });
  const durations = sumAndCountSummary(
    registry,
    'http_request_duration_microseconds',
    'Response latency summary in microseconds for each verb and path.',
  );
  const podCounter = new Counter({
    name: 'pod_identity_webhook_pod_count',
    help: 'Indicator to how many pods are using sts web identity or container credentials',
    labelNames: ['method'],
    registers,
  });
  const podCount = new Map<Identity['mode'], ReturnType<typeof podCounter.labels>>([
    ['web-identity', podCounter.labels('sts_web_identity')],
    ['container-credentials', podCounter.labels('container_credentials')],
  ]);
  const missingServiceAccount = new Counter({
    name: 'pod_identity_webhook_missing_sa_count',
    help: 'Service account did not have the right annotations or was not found in the cache.',
    registers,
  });
  const used = new Gauge({
    name: 'pod_identity_webhook_used',
    help: 'Indicator to know pod identity webhook is used',
    registers,
  });
  return { requests, latencies, durations, podCount, missingServiceAccount, used };
}

/**
 * A summary with no quantiles, only _sum and _count, as the Go client's are unless quantiles are asked (the
 * reference asks none). prom-client's Summary feeds a t-digest per age bucket on every observation even
 * without quantiles: about 7 µs a call and, when a digest compresses, a stall of a millisecond or more on
 * the admission path (measured in bench/webhook-admission.ts's tail). Two numbers per series do the job.
 */
function sumAndCountSummary(registry: Registry, name: string, help: string) {
  const series = new Map<string, { labels: { verb: string; path: string }; sum: number; count: number }>();
  const get = () => ({
    name,
    help,
    type: 'summary',
    aggregator: 'sum',
    values: [...series.values()].flatMap(({ labels, sum, count }) => [
      { labels, value: sum, metricName: `${name}_sum` },
      { labels, value: count, metricName: `${name}_count` },
    ]),
  });
  registry.registerMetric({
    name,
    help,
    get,
    reset: () => series.clear(),
  } as unknown as Metric);
  return {
    observe(verb: string, path: string, value: number) {
      const key = `${verb} ${path}`;
      let entry = series.get(key);
      if (entry === undefined) {
        entry = { labels: { verb, path }, sum: 0, count: 0 };
        series.set(key, entry);
      }
      entry.sum += value;
      entry.count += 1;
    },
  };
}

/**
 * process_virtual_memory_max_bytes, which the Go client's process collector exports and prom-client's does
 * not: the address-space limit from /proc/self/limits ("unlimited" as the largest uint64, as Go reads it).
 */
function registerVirtualMemoryMax(registry: Registry): void {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return; // not Linux: the Go client does not export it there either
  }
  const line = /^Max address space\s+(\S+)/m.exec(text);
  if (!line) return;
  const value = line[1] === 'unlimited' ? 2 ** 64 : Number(line[1]);
  new Gauge({
    name: 'process_virtual_memory_max_bytes',
    help: 'Maximum amount of virtual memory available in bytes.',
    registers: [registry],
  }).set(value);
}
