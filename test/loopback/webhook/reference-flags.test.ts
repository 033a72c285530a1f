// The reference webhook's command line and observable surface, on `kirsa webhook` as a process: --version,
// every klog flag (the list klog v2.140.0 registers, the version the reference pins), --v as a log level,
// --tls-cipher-suites with Go's names, --tls-min-version 1.0 with its warning, --enable-debugging-handlers
// refused with its reason, /healthz and /readyz on the metrics port, and the reference's metric series with
// their names, types and labels.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { KLOG_FLAGS } from '../../../src/cli/klog-flags.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';
import {
  httpGet,
  httpsCall,
  podReview,
  startWebhook,
  type WebhookFolder,
  type WebhookProcess,
  webhookFolder,
} from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const NO_CLUSTER = { KUBERNETES_SERVICE_HOST: '' };

let folder: WebhookFolder;
const started: WebhookProcess[] = [];

before(async () => {
  folder = await webhookFolder('kirsa-reference-flags-', { 'default/app': { RoleARN: ROLE } });
});

after(async () => {
  for (const webhook of started) await webhook.stop('SIGKILL');
  await folder?.cleanup();
});

async function start(args: string[]): Promise<WebhookProcess> {
  const webhook = await startWebhook([...folder.flags, '--shutdown-drain-delay', '0s', ...args]);
  started.push(webhook);
  return webhook;
}

/** The outcome of a TLS handshake with these client settings: the protocol, or the error's message. */
function handshake(
  port: number,
  options: {
    minVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
    ciphers?: string;
  },
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca: folder.cert.caPem, servername: 'localhost', ...options },
      () => {
        resolve(socket.getProtocol() ?? 'none');
        socket.destroy();
      },
    );
    socket.on('error', (error) => resolve(`error: ${error.message}`));
  });
}

describe('--version', () => {
  test('prints the package version and exits 0, starting nothing', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
    const run = await runKirsa(['webhook', '--version'], { env: NO_CLUSTER });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });
});

describe('klog flags', () => {
  // One value per flag, written as the reference's manifests and klog's documentation write them.
  const KLOG_ARGS = [
    '--log_dir=/tmp/klog',
    '--log_file=/tmp/klog/webhook.log',
    '--log_file_max_size=1800',
    '--logtostderr',
    '--alsologtostderr=false',
    '--legacy_stderr_threshold_behavior=true',
    '--v=5',
    '--add_dir_header',
    '--skip_headers=false',
    '--one_output',
    '--skip_log_headers',
    '--stderrthreshold=WARNING',
    '--alsologtostderrthreshold=1',
    '--vmodule=handler=4,cache*=5',
    '--log_backtrace_at=handler.go:120',
  ];

  test('the test gives every flag klog registers', () => {
    const given = KLOG_ARGS.map((arg) => arg.replace(/^--/, '').split('=')[0]);
    assert.deepEqual(given.sort(), KLOG_FLAGS.map(({ name }) => name).sort());
  });

  test('all accepted at once; --v=5 turns on debug logs; the others are named in one start-up line', async () => {
    const webhook = await start(KLOG_ARGS);
    const line = await webhook.waitForLog((entry) => Array.isArray(entry.flags));
    assert.deepEqual(
      line.flags,
      KLOG_ARGS.filter((arg) => !arg.startsWith('--v=')).map((arg) => arg.split('=')[0]),
    );
    assert.match(line.msg, /accepted and ignored/);
    const answer = await httpsCall(webhook.port, { ca: folder.cert.caPem, body: podReview() });
    assert.equal(answer.status, 200);
    // Per-pod lines are debug-level: the reference logs each request at V(4).
    await webhook.waitForLog((entry) => entry.level === 'debug' && entry.msg === 'admitted');
  });

  test('--v below 4 keeps info; -v 2 and -v=2 as pflag reads them; --log-level wins over --v', async () => {
    for (const args of [['-v', '2'], ['-v=2'], ['--v=6', '--log-level', 'info']]) {
      const webhook = await start(args);
      await httpsCall(webhook.port, { ca: folder.cert.caPem, body: podReview() });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(
        webhook.logs.some((entry) => entry.level === 'debug' || entry.level === 'trace'),
        false,
        args.join(' '),
      );
      await webhook.stop();
    }
  });

  test('values klog refuses are refused (exit 2), naming the flag', async () => {
    for (const arg of [
      '--v=loud',
      '--stderrthreshold=LOUD',
      '--vmodule=handler',
      '--log_file_max_size=1GB',
    ]) {
      const run = await runKirsa(['webhook', ...folder.flags, arg], { env: NO_CLUSTER });
      assert.equal(run.code, 2, arg);
      assert.match(run.stderr, new RegExp(`--${arg.slice(2).split('=')[0]} takes`), arg);
      assertErrorCode(run.stderr, 'FLAG_INVALID');
    }
  });
});

describe('TLS flags', () => {
  test("--tls-cipher-suites takes Go's names: TLS 1.2 only with those suites, TLS 1.3 as Go keeps it", async () => {
    // The test certificate has an EC key: the ECDSA suites are the ones it can serve.
    const webhook = await start(['--tls-cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']);
    const tls12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
    assert.equal(
      await handshake(webhook.port, { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
      'TLSv1.2',
    );
    assert.match(
      await handshake(webhook.port, { ...tls12, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
      /^error/,
    );
    assert.equal(await handshake(webhook.port, { minVersion: 'TLSv1.3' }), 'TLSv1.3');
  });

  test('an unknown suite, or one OpenSSL 3 removed, is refused with the reason', async () => {
    const unknown = await runKirsa(['webhook', ...folder.flags, '--tls-cipher-suites', 'TLS_FAST'], {
      env: NO_CLUSTER,
    });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unsupported cipher suite TLS_FAST/);
    assert.match(unknown.stderr, /TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/);
    assertErrorCode(unknown.stderr, 'FLAG_INVALID');
    const removed = await runKirsa(
      ['webhook', ...folder.flags, '--tls-cipher-suites', 'TLS_RSA_WITH_RC4_128_SHA'],
      { env: NO_CLUSTER },
    );
    assert.equal(removed.code, 2);
    assert.match(removed.stderr, /not available in this Node's OpenSSL/);
    assertErrorCode(removed.stderr, 'FLAG_UNSUPPORTED');
  });

  test('--tls-min-version 1.0: a TLS 1.0 client is served, and the start-up log says it loudly', async () => {
    const webhook = await start(['--tls-min-version', '1.0']);
    const warning = await webhook.waitForLog((entry) => /^INSECURE/.test(entry.msg));
    assert.equal(warning.level, 'warn');
    assert.equal(
      await handshake(webhook.port, {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      }),
      'TLSv1',
    );
    // Without the flag, the same client is refused.
    const strict = await start([]);
    assert.match(
      await handshake(strict.port, {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      }),
      /^error/,
    );
  });
});

describe('flags refused with a reason', () => {
  test('--enable-debugging-handlers (true) is refused; =false is accepted', async () => {
    const run = await runKirsa(['webhook', ...folder.flags, '--enable-debugging-handlers'], {
      env: NO_CLUSTER,
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--enable-debugging-handlers is not supported: .*unauthenticated/);
    assertErrorCode(run.stderr, 'FLAG_UNSUPPORTED');
    const webhook = await start([
      '--enable-debugging-handlers=false',
      '--in-cluster=false',
      '--resync-period=60s',
    ]);
    const line = await webhook.waitForLog((entry) => Array.isArray(entry.flags));
    assert.deepEqual(line.flags, ['--resync-period']);
  });

  test('--in-cluster=true (the reference default) needs the cluster: without one it stops and says so', async () => {
    // With a cluster it asks for its certificate with a CSR: test/real-parts/webhook/csr-tls.test.ts.
    const run = await runKirsa(['webhook', ...folder.flags, '--in-cluster'], { env: NO_CLUSTER });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /--in-cluster=true needs cluster access \(it asks for its certificate with a CertificateSigningRequest\)/,
    );
  });
});

describe('--compose-role-arn', () => {
  test('without an instance metadata service it does not start, as the reference, and says why', async () => {
    const run = await runKirsa(['webhook', ...folder.flags, '--compose-role-arn'], {
      env: { ...NO_CLUSTER, AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1' },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--compose-role-arn needs the EC2 instance identity document/);
    assert.match(run.stderr, /hint: .*full role ARNs/);
  });
});

/** The series docs/migrating-from-the-reference.md lists under "Reference series kirsa does not export". */
async function documentedAbsentSeries(): Promise<Set<string>> {
  const text = await readFile(
    new URL('../../../docs/migrating-from-the-reference.md', import.meta.url),
    'utf8',
  );
  const section = /^### Reference series kirsa does not export\n([\s\S]*?)(?=^#)/m.exec(text)?.[1];
  assert.ok(section, 'the migration guide has the table of absent series');
  const names = new Set<string>();
  for (const row of section.split('\n').filter((line) => line.startsWith('| `'))) {
    for (const [, name] of row.split('|')[1]!.matchAll(/`([a-z_]+)`/g)) names.add(name!);
  }
  assert.ok(names.size > 0);
  return names;
}

describe('the metrics port', () => {
  let webhook: WebhookProcess;
  before(async () => {
    webhook = await start([]);
  });

  test('/healthz and /readyz answer 200 there too, as older reference manifests probe', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const answer = await httpGet(webhook.metricsPort, path);
      assert.equal(answer.status, 200, path);
    }
    assert.equal((await httpGet(webhook.metricsPort, '/nothing')).status, 404);
  });

  test("the reference's series: names and types as its code declares them, labels as it sets them", async () => {
    // Written from aws/amazon-eks-pod-identity-webhook at 3bf80a3 (v0.6.17+5): pkg/handler/middleware.go,
    // pkg/cache/cache.go, and client_golang v1.12.2's process collector (main.go serves promhttp.Handler()).
    // certificate_manager_server_rotation_seconds is registered only with --in-cluster=true, as the reference
    // does: test/real-parts/webhook/csr-tls.test.ts checks it there.
    const REFERENCE_SERIES: Record<string, string> = {
      http_request_count: 'counter',
      http_request_latencies: 'histogram',
      http_request_duration_microseconds: 'summary',
      pod_identity_webhook_pod_count: 'counter',
      pod_identity_webhook_missing_sa_count: 'counter',
      pod_identity_webhook_used: 'gauge',
      process_cpu_seconds_total: 'counter',
      process_open_fds: 'gauge',
      process_max_fds: 'gauge',
      process_virtual_memory_bytes: 'gauge',
      process_virtual_memory_max_bytes: 'gauge',
      process_resident_memory_bytes: 'gauge',
      process_start_time_seconds: 'gauge',
      // promhttp.Handler()'s own instrumentation (promhttp/http.go, InstrumentMetricHandler).
      promhttp_metric_handler_requests_total: 'counter',
      promhttp_metric_handler_requests_in_flight: 'gauge',
      // The Go collector's default set in v1.12.2 (go_collector.go: the base collector and goRuntimeMemStats).
      go_goroutines: 'gauge',
      go_threads: 'gauge',
      go_gc_duration_seconds: 'summary',
      go_info: 'gauge',
      go_memstats_last_gc_time_seconds: 'gauge',
      go_memstats_alloc_bytes: 'gauge',
      go_memstats_alloc_bytes_total: 'counter',
      go_memstats_sys_bytes: 'gauge',
      go_memstats_lookups_total: 'counter',
      go_memstats_mallocs_total: 'counter',
      go_memstats_frees_total: 'counter',
      go_memstats_heap_alloc_bytes: 'gauge',
      go_memstats_heap_sys_bytes: 'gauge',
      go_memstats_heap_idle_bytes: 'gauge',
      go_memstats_heap_inuse_bytes: 'gauge',
      go_memstats_heap_released_bytes: 'gauge',
      go_memstats_heap_objects: 'gauge',
      go_memstats_stack_inuse_bytes: 'gauge',
      go_memstats_stack_sys_bytes: 'gauge',
      go_memstats_mspan_inuse_bytes: 'gauge',
      go_memstats_mspan_sys_bytes: 'gauge',
      go_memstats_mcache_inuse_bytes: 'gauge',
      go_memstats_mcache_sys_bytes: 'gauge',
      go_memstats_buck_hash_sys_bytes: 'gauge',
      go_memstats_gc_sys_bytes: 'gauge',
      go_memstats_other_sys_bytes: 'gauge',
      go_memstats_next_gc_bytes: 'gauge',
    };
    const absent = await documentedAbsentSeries();
    const mutated = await httpsCall(webhook.port, { ca: folder.cert.caPem, body: podReview() });
    assert.equal(mutated.status, 200);
    const text = (await httpGet(webhook.metricsPort, '/metrics')).body;
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1], match[2]]));
    for (const [name, type] of Object.entries(REFERENCE_SERIES)) {
      if (absent.has(name))
        assert.ok(!types.has(name), `${name} is exported: take it out of the absent table`);
      else assert.equal(types.get(name), type, `${name}: not exported and not documented as absent`);
    }
    for (const name of absent) assert.ok(name in REFERENCE_SERIES, `${name} is no reference series`);
    // Labels and units: the POST /mutate just made, in microseconds, with the reference's label names.
    assert.match(text, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} [1-9]/m);
    assert.match(text, /^http_request_latencies_bucket\{le="125000",verb="POST",path="\/mutate"\} [1-9]/m);
    assert.match(text, /^http_request_latencies_bucket\{le="8000000",verb="POST",path="\/mutate"\}/m);
    assert.match(text, /^http_request_duration_microseconds_count\{verb="POST",path="\/mutate"\} [1-9]/m);
    assert.doesNotMatch(text, /http_request_duration_microseconds\{.*quantile/);
    assert.match(text, /^pod_identity_webhook_pod_count\{method="sts_web_identity"\} [1-9]/m);
    assert.match(text, /^pod_identity_webhook_missing_sa_count \d/m);
  });

  test('promhttp_metric_handler_*: each answer of /metrics counted by status, the reading scrape in flight', async () => {
    const scrape = async () => (await httpGet(webhook.metricsPort, '/metrics')).body;
    const value = (text: string, series: RegExp) => Number(series.exec(text)?.[1] ?? Number.NaN);
    const ok = /^promhttp_metric_handler_requests_total\{code="200"\} (\S+)$/m;
    const before = value(await scrape(), ok);
    const refused = await fetch(`http://127.0.0.1:${webhook.metricsPort}/metrics`, { method: 'POST' });
    assert.equal(refused.status, 405);
    const text = await scrape();
    // The scrape that printed these is in flight and not yet counted, as promhttp does it.
    assert.equal(value(text, ok), before + 1);
    assert.equal(value(text, /^promhttp_metric_handler_requests_total\{code="405"\} (\S+)$/m), 1);
    assert.equal(value(text, /^promhttp_metric_handler_requests_in_flight (\S+)$/m), 1);
    assert.equal(value(text, /^promhttp_metric_handler_requests_total\{code="503"\} (\S+)$/m), 0);
  });
});
