// The reference webhook's series as kirsa feeds them: which admission outcome counts where, in the units and
// label values the reference uses (pkg/handler/handler.go, pkg/handler/middleware.go, pkg/cache/cache.go).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWebhookMetrics } from './metrics.ts';

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
