// The reference webhook's series as kirsa feeds them: which admission outcome counts where, in the units and
// label values the reference uses (pkg/handler/handler.go, pkg/handler/middleware.go, pkg/cache/cache.go).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWebhookMetrics } from './metrics.ts';
import { EVENT_LOOP_RESOLUTION_MS } from './process-metrics.ts';

async function sample(metrics: ReturnType<typeof createWebhookMetrics>, line: RegExp): Promise<number> {
  const text = await metrics.registry.metrics();
  const match = text.split('\n').find((each) => line.test(each));
  return match === undefined ? Number.NaN : Number(match.split(' ').pop());
}

test('pod_count by method counts pods that map to an identity, patched or not; missing_sa the misses', async () => {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  metrics.observeAdmission('mutated', 0.001, 'web-identity');
  metrics.observeAdmission('unchanged', 0.001, 'web-identity');
  metrics.observeAdmission('mutated', 0.001, 'container-credentials');
  metrics.observeAdmission('service_account_missing', 0.001);
  metrics.observeAdmission('no_identity', 0.001);
  assert.equal(await sample(metrics, /^pod_identity_webhook_pod_count\{method="sts_web_identity"\}/), 2);
  assert.equal(await sample(metrics, /^pod_identity_webhook_pod_count\{method="container_credentials"\}/), 1);
  assert.equal(await sample(metrics, /^pod_identity_webhook_missing_sa_count /), 1);
});

test('the HTTP series are in microseconds, with the reference label names and buckets', async () => {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  metrics.observeHttp('POST', '/mutate', 200, 0.2); // 200,000 µs: above the first bucket (125,000)
  const text = await metrics.registry.metrics();
  assert.match(text, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} 1$/m);
  assert.match(text, /^http_request_latencies_bucket\{le="125000",verb="POST",path="\/mutate"\} 0$/m);
  assert.match(text, /^http_request_latencies_bucket\{le="250000",verb="POST",path="\/mutate"\} 1$/m);
  assert.match(text, /^http_request_latencies_sum\{verb="POST",path="\/mutate"\} 200000$/m);
  assert.match(text, /^http_request_duration_microseconds_sum\{verb="POST",path="\/mutate"\} 200000$/m);
});

test('each verb, path and code keeps its own HTTP series; the summary has _sum and _count only', async () => {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  for (const [verb, code, seconds] of [
    ['POST', 200, 0.001],
    ['POST', 200, 0.003],
    ['POST', 400, 0.002],
    ['GET', 405, 0.0005],
  ] as const)
    metrics.observeHttp(verb, '/mutate', code, seconds);
  const text = await metrics.registry.metrics();
  assert.match(text, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} 2$/m);
  assert.match(text, /^http_request_count\{verb="POST",path="\/mutate",code="400"\} 1$/m);
  assert.match(text, /^http_request_count\{verb="GET",path="\/mutate",code="405"\} 1$/m);
  assert.match(text, /^http_request_duration_microseconds_count\{verb="POST",path="\/mutate"\} 3$/m);
  assert.match(text, /^http_request_duration_microseconds_sum\{verb="POST",path="\/mutate"\} 6000$/m);
  assert.match(text, /^http_request_duration_microseconds_sum\{verb="GET",path="\/mutate"\} 500$/m);
  assert.match(text, /^# TYPE http_request_duration_microseconds summary$/m);
  assert.doesNotMatch(text, /quantile/);
});

test('pod_identity_webhook_used turns 1 once the ServiceAccount cache holds an account, and stays', async () => {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  assert.equal(await sample(metrics, /^pod_identity_webhook_used /), 0);
  metrics.setIdentityCount('identities-file', 3);
  assert.equal(await sample(metrics, /^pod_identity_webhook_used /), 0);
  metrics.setIdentityCount('service-accounts', 5);
  metrics.setIdentityCount('service-accounts', 0);
  assert.equal(await sample(metrics, /^pod_identity_webhook_used /), 1);
});

test('promhttp_metric_handler_*: scrapes in flight until answered, then counted by status, once', async () => {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  // promhttp starts with 200, 500 and 503 at zero.
  for (const code of ['200', '500', '503'])
    assert.equal(
      await sample(metrics, new RegExp(`^promhttp_metric_handler_requests_total\\{code="${code}"\\}`)),
      0,
    );
  const first = metrics.beginScrape();
  const second = metrics.beginScrape();
  assert.equal(await sample(metrics, /^promhttp_metric_handler_requests_in_flight /), 2);
  first(200);
  first(200); // a second call (close after finish) is not a second scrape
  second(405);
  assert.equal(await sample(metrics, /^promhttp_metric_handler_requests_in_flight /), 0);
  assert.equal(await sample(metrics, /^promhttp_metric_handler_requests_total\{code="200"\}/), 1);
  assert.equal(await sample(metrics, /^promhttp_metric_handler_requests_total\{code="405"\}/), 1);
});

test('the process and Node series are the ones prom-client exported, with their types, and read real values', async () => {
  const metrics = createWebhookMetrics();
  const text = await metrics.registry.metrics();
  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1]!, match[2]!]));
  const processSeries = [...types].filter(([name]) => /^(process|nodejs)_/.test(name));
  // The set kirsa exported under prom-client 15 (its default collectors, unprefixed), plus the Go client's
  // process_virtual_memory_max_bytes, less nodejs_gc_duration_seconds, which --gc-metrics adds (below);
  // dashboards built on them keep working.
  assert.deepEqual(Object.fromEntries(processSeries), {
    process_cpu_user_seconds_total: 'counter',
    process_cpu_system_seconds_total: 'counter',
    process_cpu_seconds_total: 'counter',
    process_start_time_seconds: 'gauge',
    process_resident_memory_bytes: 'gauge',
    process_virtual_memory_bytes: 'gauge',
    process_heap_bytes: 'gauge',
    process_open_fds: 'gauge',
    process_max_fds: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
    nodejs_eventloop_lag_min_seconds: 'gauge',
    nodejs_eventloop_lag_max_seconds: 'gauge',
    nodejs_eventloop_lag_mean_seconds: 'gauge',
    nodejs_eventloop_lag_stddev_seconds: 'gauge',
    nodejs_eventloop_lag_p50_seconds: 'gauge',
    nodejs_eventloop_lag_p90_seconds: 'gauge',
    nodejs_eventloop_lag_p99_seconds: 'gauge',
    nodejs_active_resources: 'gauge',
    nodejs_active_resources_total: 'gauge',
    nodejs_active_handles: 'gauge',
    nodejs_active_handles_total: 'gauge',
    nodejs_active_requests: 'gauge',
    nodejs_active_requests_total: 'gauge',
    nodejs_heap_size_total_bytes: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge',
    nodejs_external_memory_bytes: 'gauge',
    nodejs_heap_space_size_total_bytes: 'gauge',
    nodejs_heap_space_size_used_bytes: 'gauge',
    nodejs_heap_space_size_available_bytes: 'gauge',
    nodejs_version_info: 'gauge',
    process_virtual_memory_max_bytes: 'gauge',
  });
  const value = (line: RegExp) => Number(line.exec(text)?.[1]);
  // Against what the process itself reports, read independently here.
  const rss = value(/^process_resident_memory_bytes (\S+)$/m);
  assert.ok(rss > 10 * 2 ** 20 && rss < 4 * process.memoryUsage().rss, `rss ${rss}`);
  assert.ok(value(/^nodejs_heap_size_used_bytes (\S+)$/m) > 0);
  assert.ok(value(/^process_open_fds (\S+)$/m) >= 3);
  const start = value(/^process_start_time_seconds (\S+)$/m);
  assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) <= 1, `start ${start}`);
  assert.match(
    text,
    new RegExp(
      `^nodejs_version_info\\{version="${process.version}",major="\\d+",minor="\\d+",patch="\\d+"\\} 1$`,
      'm',
    ),
  );
  assert.match(text, /^nodejs_heap_space_size_used_bytes\{space="old"\} \d+$/m);
  assert.ok(value(/^process_cpu_seconds_total (\S+)$/m) > 0);
});

test('with gcDurations (--gc-metrics) the collections are a histogram by kind, and real ones are counted', async () => {
  const metrics = createWebhookMetrics({ gcDurations: true });
  assert.match(await metrics.registry.metrics(), /^# TYPE nodejs_gc_duration_seconds histogram$/m);
  // Enough short-lived garbage for several young-generation collections, then a turn of the loop for the
  // observer, which Node calls after the collection.
  let kept = 0;
  for (let i = 0; i < 200_000; i++) kept += { i, text: `garbage ${i}` }.text.length;
  assert.ok(kept > 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const text = await metrics.registry.metrics();
  const minor = Number(/^nodejs_gc_duration_seconds_count\{kind="minor"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(minor >= 1, text);
  assert.match(text, /^nodejs_gc_duration_seconds_bucket\{le="0\.001",kind="minor"\} \d+$/m);
});

test("the event-loop delay series are gaps between the 10 ms timer's ticks, as prom-client's were", async () => {
  const metrics = createWebhookMetrics();
  await metrics.registry.metrics(); // the scrape resets the interval's histogram
  // An idle loop for a few ticks, then one 40 ms stall.
  await new Promise((resolve) => setTimeout(resolve, 60));
  const until = performance.now() + 40;
  while (performance.now() < until);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const text = await metrics.registry.metrics();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
  // An idle tick is the timer's interval, not zero (Node's timers may run a fraction of a ms early).
  assert.ok(value('nodejs_eventloop_lag_min_seconds') >= EVENT_LOOP_RESOLUTION_MS - 1, text);
  // A stall shows as the gap between the ticks around it: the stall, plus up to one interval.
  const max = value('nodejs_eventloop_lag_max_seconds');
  assert.ok(max >= 40 && max <= 40 + EVENT_LOOP_RESOLUTION_MS + 25, text);
});
