// The text exposition format 0.0.4 as metrics-registry.ts writes it: escaping, the histogram's cumulative
// buckets, series that exist from the start or once asked for, and the misuse it refuses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKirsaError } from '../errors.ts';
import { createMetricsRegistry, EXPOSITION_CONTENT_TYPE, formatValue } from './metrics-registry.ts';

test('a counter: HELP and TYPE lines, its _total name as given, 0 before any increment', async () => {
  const registry = createMetricsRegistry();
  const counter = registry.counter({ name: 'jobs_total', help: 'Jobs done.' });
  assert.equal(
    await registry.metrics(),
    '# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 0\n',
  );
  counter.inc();
  counter.inc(2.5);
  assert.match(await registry.metrics(), /^jobs_total 3\.5$/m);
  assert.equal(registry.contentType, EXPOSITION_CONTENT_TYPE);
  assert.equal(registry.contentType, 'text/plain; version=0.0.4; charset=utf-8');
});

test('a labelled family has a series once its values are asked for, labels in the declared order', async () => {
  const registry = createMetricsRegistry();
  const counter = registry.counter({
    name: 'requests_total',
    help: 'Requests.',
    labelNames: ['verb', 'code'],
  });
  assert.equal(await registry.metrics(), '# HELP requests_total Requests.\n# TYPE requests_total counter\n');
  counter.labels('GET', 200).inc();
  counter.labels('GET', '200').inc(); // a number and its text are one series
  counter.labels('POST', 500).inc(0);
  const text = await registry.metrics();
  assert.match(text, /^requests_total\{verb="GET",code="200"\} 2$/m);
  assert.match(text, /^requests_total\{verb="POST",code="500"\} 0$/m);
});

test('label values escape backslash, double quote and line feed; HELP escapes backslash and line feed', async () => {
  const registry = createMetricsRegistry();
  const gauge = registry.gauge({
    name: 'odd',
    help: 'A "quoted" back\\slash\nand a second line',
    labelNames: ['path'],
  });
  gauge.labels('C:\\dir\n"x"').set(1);
  const text = await registry.metrics();
  assert.equal(
    text,
    [
      '# HELP odd A "quoted" back\\\\slash\\nand a second line',
      '# TYPE odd gauge',
      'odd{path="C:\\\\dir\\n\\"x\\""} 1',
      '',
    ].join('\n'),
  );
  // Every sample line is one line: nothing a label value holds can start another.
  assert.equal(text.split('\n').length, 4);
});

test('a histogram: cumulative _bucket lines with le first and +Inf last, then _sum and _count', async () => {
  const registry = createMetricsRegistry();
  const histogram = registry.histogram({
    name: 'latency_seconds',
    help: 'Latency.',
    labelNames: ['path'],
    buckets: [0.1, 1],
  });
  const series = histogram.labels('/mutate');
  for (const value of [0.05, 0.1, 0.5, 3]) series.observe(value);
  assert.equal(
    await registry.metrics(),
    [
      '# HELP latency_seconds Latency.',
      '# TYPE latency_seconds histogram',
      'latency_seconds_bucket{le="0.1",path="/mutate"} 2', // a value on a bound falls in that bucket
      'latency_seconds_bucket{le="1",path="/mutate"} 3',
      'latency_seconds_bucket{le="+Inf",path="/mutate"} 4',
      'latency_seconds_sum{path="/mutate"} 3.65',
      'latency_seconds_count{path="/mutate"} 4',
      '',
    ].join('\n'),
  );
});

test('an unlabelled histogram renders its zero buckets from the start', async () => {
  const registry = createMetricsRegistry();
  registry.histogram({ name: 'h', help: 'H.', buckets: [1] });
  assert.match(
    await registry.metrics(),
    /^h_bucket\{le="1"\} 0\nh_bucket\{le="\+Inf"\} 0\nh_sum 0\nh_count 0$/m,
  );
});

test('a summary without quantiles has _sum and _count only', async () => {
  const registry = createMetricsRegistry();
  const summary = registry.summary({ name: 's', help: 'S.', labelNames: ['verb'] });
  summary.labels('POST').observe(2);
  summary.labels('POST').observe(5);
  assert.equal(
    await registry.metrics(),
    '# HELP s S.\n# TYPE s summary\ns_sum{verb="POST"} 7\ns_count{verb="POST"} 2\n',
  );
});

test('families render in registration order, a blank line after each; collectors run before rendering', async () => {
  const registry = createMetricsRegistry();
  const sampled = registry.gauge({ name: 'b_bytes', help: 'B.' });
  registry.counter({ name: 'a_total', help: 'A.' });
  let reads = 0;
  registry.beforeScrape(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    reads += 1;
    sampled.set(reads * 1024);
  });
  const text = await registry.metrics();
  assert.equal(
    text,
    '# HELP b_bytes B.\n# TYPE b_bytes gauge\nb_bytes 1024\n\n# HELP a_total A.\n# TYPE a_total counter\na_total 0\n',
  );
  assert.match(await registry.metrics(), /^b_bytes 2048$/m);
});

test('a gauge goes up and down; reset forgets its labelled series', async () => {
  const registry = createMetricsRegistry();
  const gauge = registry.gauge({ name: 'g', help: 'G.' });
  gauge.inc();
  gauge.inc();
  gauge.dec();
  assert.match(await registry.metrics(), /^g 1$/m);
  const types = registry.gauge({ name: 't', help: 'T.', labelNames: ['type'] });
  types.labels('Timer').set(2);
  types.reset();
  types.labels('Socket').set(1);
  const text = await registry.metrics();
  assert.doesNotMatch(text, /Timer/);
  assert.match(text, /^t\{type="Socket"\} 1$/m);
});

test('values as the format writes them: +Inf, -Inf, NaN, and numbers as JavaScript prints them', () => {
  assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
  assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
  assert.equal(formatValue(Number.NaN), 'NaN');
  assert.equal(formatValue(0.0005), '0.0005');
  assert.equal(formatValue(125_000), '125000');
  assert.equal(formatValue(2 ** 64), '18446744073709552000');
});

test('misuse is a bug, refused as METRICS_MISUSE: bad names, the wrong label count, a falling counter', () => {
  const registry = createMetricsRegistry();
  const misuse = (error: unknown) => isKirsaError(error) && error.code === 'METRICS_MISUSE';
  assert.throws(() => registry.counter({ name: 'bad-name', help: 'x' }), misuse);
  assert.throws(() => registry.counter({ name: 'x_total', help: 'x', labelNames: ['__reserved'] }), misuse);
  assert.throws(() => registry.histogram({ name: 'h', help: 'x', labelNames: ['le'], buckets: [1] }), misuse);
  assert.throws(() => registry.histogram({ name: 'h2', help: 'x', buckets: [2, 1] }), misuse);
  const counter = registry.counter({ name: 'c_total', help: 'x', labelNames: ['a'] });
  assert.throws(() => registry.counter({ name: 'c_total', help: 'again' }), misuse);
  assert.throws(() => counter.labels('one', 'two'), misuse);
  assert.throws(() => counter.inc(), misuse); // labelled: a series needs its values
  assert.throws(() => counter.labels('one').inc(-1), misuse);
});
