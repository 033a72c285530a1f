// The webhook's Prometheus metrics. Everything is registered once, in a registry of its own (so two servers in
// one process, as in tests, do not collide), and the per-outcome children are looked up once: the hot path
// only calls observe() and inc(). The label values are the core's: ADMISSION_OUTCOMES (what one admission
// came to) and LOOKUP_RESULTS (what one cache-miss lookup came to).

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ADMISSION_LATENCY_BUCKETS } from '../consts.ts';
import { ADMISSION_OUTCOMES, type AdmissionOutcome } from '../core/admission/process.ts';
import { LOOKUP_RESULTS, type LookupResult } from '../core/identity/source.ts';

export interface WebhookMetrics {
  registry: Registry;
  /** Counts one admission and records how long it took, in seconds. */
  observeAdmission(outcome: AdmissionOutcome, seconds: number): void;
  setSourceSynced(source: string, synced: boolean): void;
  setCertificateNotAfter(notAfter: Date): void;
  countLookup(result: LookupResult): void;
  setIdentityCount(source: string, count: number): void;
}

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'kirsa_webhook_' });
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
  const identities = new Gauge({
    name: 'kirsa_webhook_identities',
    help: 'Entries held per identity source (service accounts, mapping entries, container-credentials pairs)',
    labelNames: ['source'],
    registers: [registry],
  });
  // Children looked up once: labels() on the hot path would hash the label set on every request.
  const byOutcome = new Map(ADMISSION_OUTCOMES.map((outcome) => [outcome, admissions.labels(outcome)]));
  for (const child of byOutcome.values()) child.inc(0);
  const byLookup = new Map(LOOKUP_RESULTS.map((result) => [result, lookups.labels(result)]));
  for (const child of byLookup.values()) child.inc(0);

  return {
    registry,
    observeAdmission(outcome, seconds) {
      byOutcome.get(outcome)!.inc();
      latency.observe(seconds);
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
    setIdentityCount(source, count) {
      identities.labels(source).set(count);
    },
  };
}
