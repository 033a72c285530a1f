// Admission latency and throughput of `kirsa webhook` as the API server uses it: HTTPS, HTTP/1.1
// keep-alive, a few connections, one request at a time on each, pod CREATE reviews of about 1 KB and 20 KB.
// The webhook runs as its own process (the real CLI, identities from a file); the load generator runs here,
// with a lean HTTP/1.1 client. Latency is measured at the client, from writing the request to the last byte
// of the answer, so it includes TLS and the client's own work on the same 2 cores.
// Two calibrations put the figures in context: the same load against a server that does nothing but answer
// (bench/floor-server.ts), the best any Node HTTPS webhook could do here; and how steadily this machine
// runs a fixed piece of arithmetic, as a VM's CPU may slow down for tens of milliseconds at a time.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { makeServingCertificate } from '../test/support/tls.ts';
import { httpGet, metricValue, startServerProcess, startWebhook } from '../test/webhook/harness.ts';
import { openConnection, type RawAnswer, type RawConnection } from './http1-client.ts';
import { makeReview, type PodSize } from './pods.ts';

const FLOOR_SERVER = new URL('./floor-server.ts', import.meta.url).pathname;
/** The upper bounds (seconds) of the webhook's latency histogram that the figures report, and the total. */
const BUCKETS = ['0.0005', '0.001', '0.0025', '0.005', '+Inf'];

async function metric(metricsPort: number, name: string, labels?: Record<string, string>): Promise<number> {
  return metricValue((await httpGet(metricsPort, '/metrics')).body, name, labels) ?? Number.NaN;
}

async function residentMemory(metricsPort: number): Promise<number> {
  return metric(metricsPort, 'process_resident_memory_bytes');
}

/** The webhook's longest event-loop delay since the previous scrape (prom-client resets it on each). */
async function serverLoopDelayMax(metricsPort: number): Promise<number> {
  return (await metric(metricsPort, 'nodejs_eventloop_lag_max_seconds')) * 1000;
}

/** Cumulative counts of the server's own latency histogram, by upper bound in seconds. */
async function serverBuckets(metricsPort: number): Promise<Map<string, number>> {
  const exposition = (await httpGet(metricsPort, '/metrics')).body;
  return new Map(
    BUCKETS.map((le) => [
      le,
      metricValue(exposition, 'kirsa_webhook_admission_duration_seconds_bucket', { le }) ?? 0,
    ]),
  );
}

/** The server-side share of admissions answered within 0.5, 1, 2.5 and 5 ms between two scrapes. */
function serverShare(before: Map<string, number>, after: Map<string, number>): string {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  return BUCKETS.slice(0, -1)
    .map((le) => {
      const within = (after.get(le) ?? 0) - (before.get(le) ?? 0);
      return `${((100 * within) / total).toFixed(1)}% <= ${Number(le) * 1000} ms`;
    })
    .join(', ');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted.at(-1)?.toFixed(2)} ms`;
}

async function pool(port: number, ca: string, size: number): Promise<RawConnection[]> {
  return Promise.all(Array.from({ length: size }, () => openConnection(port, ca)));
}

function check(answer: RawAnswer): number {
  if (answer.status !== 200 || !answer.body.includes('"allowed":true'))
    throw new Error(`status ${answer.status}`);
  return answer.ms;
}

/** The API server keeps up to 25 idle connections per webhook; the load generator uses at most that many. */
const MAX_CONNECTIONS = 25;

/**
 * Sends `rate` requests per second for `seconds` as the API server does: one request at a time per
 * keep-alive connection, a new connection when none is idle (up to MAX_CONNECTIONS, then waiting for one).
 * Latency runs from the moment the request was due, so waiting for a connection counts.
 */
async function fixedRate(port: number, ca: string, bodies: string[], rate: number, seconds: number) {
  const idle: RawConnection[] = await pool(port, ca, 8);
  const all = [...idle];
  const total = rate * seconds;
  const latencies: number[] = [];
  let failures = 0;
  let sent = 0;
  const pending: Promise<void>[] = [];
  const waiters: Array<(connection: RawConnection) => void> = [];
  const acquire = async (): Promise<RawConnection> => {
    const connection = idle.pop();
    if (connection !== undefined) return connection;
    if (all.length < MAX_CONNECTIONS) {
      const fresh = openConnection(port, ca);
      all.push(fresh as unknown as RawConnection); // counted now, so a burst does not overshoot the cap
      const opened = await fresh;
      all[all.indexOf(fresh as unknown as RawConnection)] = opened;
      return opened;
    }
    return new Promise((resolve) => waiters.push(resolve));
  };
  const release = (connection: RawConnection) => {
    const waiter = waiters.shift();
    if (waiter) waiter(connection);
    else idle.push(connection);
  };
  const send = async (body: string) => {
    const due = performance.now();
    const connection = await acquire();
    check(await connection.post('/mutate?timeout=10s', body));
    release(connection);
    latencies.push(performance.now() - due);
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        pending.push(
          send(bodies[sent % bodies.length]!).catch(() => {
            failures += 1;
          }),
        );
        sent += 1;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  for (const connection of all) connection.close();
  return { latencies, failures, achieved: latencies.length / elapsed, connections: all.length };
}

/** Keeps one request in flight on each of `connections` connections for `seconds`: the most it answers. */
async function closedLoop(port: number, ca: string, bodies: string[], size: number, seconds: number) {
  const connections = await pool(port, ca, size);
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let index = 0;
  const start = performance.now();
  await Promise.all(
    connections.map(async (connection) => {
      while (performance.now() < until) {
        check(await connection.post('/mutate?timeout=10s', bodies[index++ % bodies.length]!));
        done += 1;
      }
      connection.close();
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

const dir = await mkdtemp(join(tmpdir(), 'kirsa-bench-'));
const cert = await makeServingCertificate();
const identities = join(dir, 'identities.json');
await writeFile(
  identities,
  JSON.stringify({ 'shop/app': { RoleARN: 'arn:aws:iam::123456789012:role/shop-app' } }),
);
/**
 * Runs a fixed piece of arithmetic (about 2 ms) over and over for `seconds`, in this process with nothing
 * else to do: how much slower than usual its slowest runs are shows how steady the machine's CPU is.
 */
function cpuSteadiness(seconds: number): string {
  const durations: number[] = [];
  let state = 1;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    for (let i = 0; i < 120_000; i++) state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    durations.push(performance.now() - started);
  }
  const sorted = durations.slice(Math.floor(durations.length / 10)).sort((a, b) => a - b);
  const median = percentile(sorted, 50);
  const times = (p: number) => `${(percentile(sorted, p) / median).toFixed(1)}x`;
  return `a ${median.toFixed(2)} ms piece of arithmetic took ${times(99)} as long at p99, ${times(99.9)} at p99.9, ${((sorted.at(-1) ?? 0) / median).toFixed(1)}x at worst (${sorted.length + (state < 0 ? 1 : 0)} runs)`;
}

console.log(`   machine steadiness: ${cpuSteadiness(5)}`);
const server = await startWebhook([
  '--tls-cert',
  cert.certFile,
  '--tls-key',
  cert.keyFile,
  '--identities-file',
  identities,
  '--aws-default-region',
  'eu-west-1',
]);
try {
  const bodies = (size: PodSize) =>
    Array.from({ length: 64 }, (_, i) => makeReview(size, `uid-${size}-${i}`));
  const small = bodies('small');
  const large = bodies('large');
  console.log(
    `   review sizes: small ${small[0]!.length} B (pod ${JSON.stringify(JSON.parse(small[0]!).request.object).length} B), large ${large[0]!.length} B (pod ${JSON.stringify(JSON.parse(large[0]!).request.object).length} B)`,
  );
  // Warm-up, as a webhook that has been running a while: JIT-compiled paths, connections open.
  await closedLoop(server.port, cert.caPem, large, 8, 2);
  await fixedRate(server.port, cert.caPem, large, 1000, 5);
  await fixedRate(server.port, cert.caPem, small, 1000, 3);
  console.log(
    `   RSS after warm-up: ${((await residentMemory(server.metricsPort)) / 2 ** 20).toFixed(1)} MB`,
  );

  for (const [name, set, seconds] of [
    ['20 KB pod', large, 10],
    ['1 KB pod', small, 5],
  ] as const) {
    const before = await serverBuckets(server.metricsPort);
    await serverLoopDelayMax(server.metricsPort);
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    clientLoop.enable();
    const result = await fixedRate(server.port, cert.caPem, [...set], 1000, seconds);
    clientLoop.disable();
    const serverLoopMax = await serverLoopDelayMax(server.metricsPort);
    const after = await serverBuckets(server.metricsPort);
    console.log(
      `   ${name} at 1,000/s for ${seconds} s over keep-alive connections (${result.connections} used): ${result.achieved.toFixed(0)} admissions/s, client-side ${summary(result.latencies)}, ${result.failures} failed`,
    );
    console.log(`      server-side (its histogram): ${serverShare(before, after)}`);
    console.log(
      `      longest event-loop delay: webhook ${serverLoopMax.toFixed(1)} ms, load generator ${(clientLoop.max / 1e6).toFixed(1)} ms`,
    );
    console.log(
      `      machine load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}`,
    );
  }
  for (const [name, set] of [
    ['20 KB pod', large],
    ['1 KB pod', small],
  ] as const) {
    const rate = await closedLoop(server.port, cert.caPem, [...set], 32, 5);
    console.log(
      `   ${name}, 32 connections, one request in flight on each, 5 s: ${rate.toFixed(0)} admissions/s (most the webhook answers)`,
    );
  }
  console.log(
    `   webhook RSS after the runs: ${((await residentMemory(server.metricsPort)) / 2 ** 20).toFixed(1)} MB`,
  );
  await server.stop('SIGKILL');
  const floor = await startServerProcess([process.execPath, FLOOR_SERVER, cert.certFile, cert.keyFile]);
  try {
    await fixedRate(floor.port, cert.caPem, large, 1000, 3);
    const result = await fixedRate(floor.port, cert.caPem, [...large], 1000, 10);
    console.log(
      `   floor: the 20 KB pod at 1,000/s against a server that only answers (bench/floor-server.ts): client-side ${summary(result.latencies)}, ${result.failures} failed`,
    );
  } finally {
    await floor.stop('SIGKILL');
  }
} finally {
  await server.stop('SIGKILL');
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
}
