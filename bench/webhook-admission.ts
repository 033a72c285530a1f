// Admission latency and throughput of `kirsa webhook` as the API server uses it: HTTPS, HTTP/1.1
// keep-alive, a few connections, one request at a time on each, pod CREATE reviews of about 1 KB and 20 KB.
// The webhook runs as its own process (the real CLI; its account read from a real kube-apiserver, as in a
// cluster, when the real parts are built, else from an identities file). Every run at a fixed rate is
// sent by the Go load generator (bench/go-loadgen/, run by bench/go-load.ts), whose own lag is measured
// and printed beside the servers' figures: the Node client it replaced stalled for 31-104 ms at 1,000/s,
// so every server's p99, the Go floor's included, was the client's. Without Go those runs fall back to the
// Node client (bench/http1-client.ts), and the run says their latency verdicts are not shown. The closed
// loops (the most admissions/s, CPU per admission) stay with the Node client, as their earlier figures
// were taken. Latency is measured at the client, from the moment a request was due to the last byte of
// the answer, so it includes TLS and any delay of the client's own.
// The same load, client and run then go to four more servers, printed beside kirsa in one table:
// - the reference webhook (aws/amazon-eks-pod-identity-webhook, built from a checkout by bench/go-servers.ts),
//   its ServiceAccount read from a real kube-apiserver (tools/realparts), as it has no identities file;
// - a do-nothing Node HTTPS server (bench/floor-server.ts) and a do-nothing Go one (bench/go-floor/): the
//   best any webhook in either language could do on this machine, so kirsa's figures read as a ratio;
// - the Node parsing floor: the do-nothing Node server made to parse each review and answer kirsa's patch,
//   the least a Node webhook that reads the pod does, so the ratio to it is kirsa's own decision's.
// A column whose server cannot be built or started here says why and is left out; the run goes on.
// Each server first shows its memory as issue 21 measures it: RSS 20 s after spawn (idle, one account), then
// after 20 s of 1,000/s with 20 KB pods and 20 s of settling; then the first 10 s at that rate after the
// settling (its own figure: what a quiet spell costs), the warm-up, the latency runs and the closed loops.
// Each server runs on one core and this load generator on the other where taskset exists (bench/pinning.ts).
// The medians are recorded for `npm run bench`'s closing table (bench/figures.ts).
// And how steadily this machine runs a fixed piece of arithmetic, as a VM's CPU may slow down for tens of
// milliseconds at a time.
// KIRSA_BENCH_ROUNDS=3 measures every server three times, interleaved, and prints medians (0: no rounds,
// only the back-to-back pairs below);
// KIRSA_BENCH_AS_IMAGE=1 runs kirsa and the Node floor as the container image runs Node;
// KIRSA_BENCH_TIME_SCALE=0.2 shortens every phase (a smoke run); KIRSA_BENCH_SERVERS=kirsa,go-floor picks
// columns (kirsa, reference, node-floor, node-parse-floor, go-floor); KIRSA_BENCH_PIN=0 pins nothing;
// KIRSA_BENCH_LOADGEN=node sends the fixed-rate runs with the Node client even where Go is built (to compare the two clients);
// KIRSA_BENCH_RT=0 runs the Go load generator without the real-time policy (bench/pinning.ts).
// After the rounds, kirsa and the Node floor run back to back in pairs of windows (KIRSA_BENCH_PAIRS, 8 by
// default; 0 runs none; KIRSA_BENCH_PAIR_LEAD seconds of the same load before each window, 3 by default): when
// the rounds' medians cannot judge a latency target for the load generator's own lag, the pairs in which it
// stayed low in both windows can (bench/figures.ts, quietPairs).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  type KubeApiserver,
  kubeApiserverAvailable,
  startKubeApiserver,
} from '../src/local/control-plane.ts';
import { EVENT_LOOP_RESOLUTION_MS } from '../src/webhook/process-metrics.ts';
import { makeServingCertificate } from '../test/support/tls.ts';
import { httpGet, metricValue, startServerProcess, startWebhook } from '../test/support/webhook-harness.ts';
import {
  againstParsingFloor,
  COLUMNS,
  type Column,
  type Figure,
  HEADINGS,
  type PairedFigure,
  type PairedWindows,
  pairsWanted,
  quietPairs,
  recordFigures,
  roundsText,
  roundsWanted,
  verdictLine,
  verdicts,
} from './figures.ts';
import { goLoad } from './go-load.ts';
import {
  GO_SERVER_ENV,
  type GoBinary,
  goFloorBinary,
  goLoadgenBinary,
  referenceBinary,
  startGoFloor,
  startReferenceWebhook,
  untilRoleGiven,
} from './go-servers.ts';
import { connectionPool, openConnection, type RawAnswer, type RawConnection } from './http1-client.ts';
import { pinning, pinThisProcessAsLoadGenerator, serversStolenMs } from './pinning.ts';
import { kirsaPatches, makeReview, type PodSize } from './pods.ts';
import {
  floorAsImageRunsIt,
  imageNodeFlags,
  processCpuMs,
  residentMb,
  webhookAsImageRunsIt,
} from './webhook-process.ts';

const FLOOR_SERVER = new URL('./floor-server.ts', import.meta.url).pathname;
/** The upper bounds (seconds) of the webhook's latency histogram that the figures report, and the total. */
const BUCKETS = ['0.0005', '0.001', '0.0025', '0.005', '+Inf'];

/** The Node client's event-loop sampling interval, ms (its lateness is measured to the millisecond). */
const CLIENT_LOOP_RESOLUTION_MS = 1;

async function metric(metricsPort: number, name: string, labels?: Record<string, string>): Promise<number> {
  return metricValue((await httpGet(metricsPort, '/metrics')).body, name, labels) ?? Number.NaN;
}

/**
 * The longest gap between the webhook's event-loop timer ticks since the previous scrape (each scrape resets
 * it), ms. Node's histogram records whole gaps, timer interval included: a stall of gap - 10 to gap ms.
 */
async function serverLoopGapMax(metricsPort: number): Promise<number> {
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

/** Client-side latency of a run, in ms. */
interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

function latency(latencies: number[]): Latency {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

function summary(figures: Latency): string {
  return `p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, p99.9 ${figures.p999.toFixed(2)} ms, max ${figures.max.toFixed(2)} ms`;
}

async function pool(port: number, ca: string, size: number): Promise<RawConnection[]> {
  return Promise.all(Array.from({ length: size }, () => openConnection(port, ca)));
}

/**
 * Every answer is checked: a 200 that allows the pod and, from a webhook (not a floor), carries a patch, so
 * a webhook that lost its identity and admitted pods unchanged would fail the run instead of looking fast.
 * (The Go load generator checks the same, and that the patch gives the role.) Says what is wrong, if any.
 */
function wrongIn(answer: RawAnswer, patched: boolean): string | undefined {
  if (answer.status !== 200 || !answer.body.includes('"allowed":true')) return `status ${answer.status}`;
  if (patched && !answer.body.includes('"patch":"')) return 'answer without a patch';
  return undefined;
}

function check(answer: RawAnswer, patched: boolean): void {
  const wrong = wrongIn(answer, patched);
  if (wrong !== undefined) throw new Error(wrong);
}

/** The API server keeps up to 25 idle connections per webhook; the load generator uses at most that many. */
const MAX_CONNECTIONS = 25;
/**
 * Connections opened before a fixed-rate run: all of them, as the API server's pool is at a steady 1,000/s.
 * Opening them during the measured run put up to 17 TLS handshakes (an RSA signature each, on the server's
 * one core) inside it, just when a server had fallen behind and the load generator found no free connection:
 * one stall then grew into a 30-70 ms one. Scratch runs of kirsa on 2026-12-02 (20 KB pods, warm): p99
 * 7-32 ms with 8 opened first, 2.7-3.7 ms with 25.
 */
const OPEN_CONNECTIONS = MAX_CONNECTIONS;

/** One run at a fixed rate, whichever client sent it. */
interface RateRun {
  /** Of the right answers, from each request's due time. */
  latency: Latency;
  /** Requests without an answer, and answers that were wrong. */
  errors: number;
  wrong: number;
  firstWrong?: string;
  achieved: number;
  connections: number;
  dropped: number;
  /**
   * The client's own lateness, ms: the Go load generator's send lag (bench/go-loadgen/main.go), or the Node
   * client's event-loop delay (its p99.9 is not kept: NaN).
   */
  lag: { p99: number; p999: number; max: number };
}

/**
 * Sends `rate` requests per second for `seconds` as the API server does: one request at a time per
 * keep-alive connection, a new connection when none is idle (up to MAX_CONNECTIONS, then waiting for one).
 * Latency runs from the moment the request was due, so waiting for a connection counts. A connection the
 * server closed (while idle or on a failed request) is dropped and its place freed for a new one, as the API
 * server's client does: kept in the pool, it would fail or hold every request given to it.
 */
async function fixedRate(
  port: number,
  ca: string,
  bodies: string[],
  rate: number,
  seconds: number,
  patched: boolean,
): Promise<RateRun> {
  const pool = connectionPool(port, ca, MAX_CONNECTIONS);
  await pool.open(OPEN_CONNECTIONS);
  const total = rate * seconds;
  const latencies: number[] = [];
  let errors = 0;
  let wrong = 0;
  let firstWrong: string | undefined;
  let sent = 0;
  const pending: Promise<void>[] = [];
  const send = async (body: string) => {
    const due = performance.now();
    const connection = await pool.acquire();
    let answer: RawAnswer;
    try {
      answer = await connection.post('/mutate?timeout=10s', body);
    } finally {
      pool.release(connection);
    }
    const why = wrongIn(answer, patched);
    if (why === undefined) latencies.push(performance.now() - due);
    else {
      wrong += 1;
      firstWrong ??= why;
    }
  };
  const loop = monitorEventLoopDelay({ resolution: CLIENT_LOOP_RESOLUTION_MS });
  loop.enable();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        pending.push(
          send(bodies[sent % bodies.length]!).catch(() => {
            errors += 1;
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
  loop.disable();
  pool.closeAll();
  return {
    latency: latency(latencies),
    errors,
    wrong,
    ...(firstWrong === undefined ? {} : { firstWrong }),
    achieved: (latencies.length + wrong) / elapsed,
    connections: pool.opened,
    dropped: pool.dropped,
    // Node's histogram records whole gaps between its timer's ticks, interval included: at 1 ms, a lateness
    // of gap - 1 ms at least.
    lag: {
      p99: Math.max(0, loop.percentile(99) / 1e6 - CLIENT_LOOP_RESOLUTION_MS),
      p999: Number.NaN,
      max: Math.max(0, loop.max / 1e6 - CLIENT_LOOP_RESOLUTION_MS),
    },
  };
}

/** Keeps one request in flight on each of `connections` connections for `seconds`: the most it answers. */
async function closedLoop(
  port: number,
  ca: string,
  bodies: string[],
  size: number,
  seconds: number,
  patched: boolean,
) {
  const connections = await pool(port, ca, size);
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let index = 0;
  const start = performance.now();
  await Promise.all(
    connections.map(async (connection) => {
      while (performance.now() < until) {
        check(await connection.post('/mutate?timeout=10s', bodies[index++ % bodies.length]!), patched);
        done += 1;
      }
      connection.close();
    }),
  );
  return { done, rate: done / ((performance.now() - start) / 1000) };
}

/**
 * Runs a fixed piece of arithmetic (about 2 ms) over and over for `seconds`, in this process with nothing
 * else to do: how much slower than usual its slowest runs are shows how steady the machine's CPU is.
 */
function cpuSteadiness(seconds: number): { p99: number; p999: number; text: string } {
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
  const times = (p: number) => percentile(sorted, p) / median;
  return {
    p99: times(99),
    p999: times(99.9),
    text: `a ${median.toFixed(2)} ms piece of arithmetic took ${times(99).toFixed(1)}x as long at p99, ${times(99.9).toFixed(1)}x at p99.9, ${((sorted.at(-1) ?? 0) / median).toFixed(1)}x at worst (${sorted.length + (state < 0 ? 1 : 0)} runs)`,
  };
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

/** KIRSA_BENCH_TIME_SCALE multiplies every phase's length (at least 1 s each). */
const SCALE = Number(process.env.KIRSA_BENCH_TIME_SCALE ?? '1');
const secondsOf = (seconds: number) => Math.max(1, Math.round(seconds * SCALE));
/** Each latency window's length, in the rounds and in the pairs. */
const WINDOW_SECONDS = { '20kb': secondsOf(10), '1kb': secondsOf(5) } as const;

const chosen = new Set((process.env.KIRSA_BENCH_SERVERS ?? COLUMNS.join(',')).split(','));

/** A server under the load: where it listens, its process, and whether its answers must carry a patch. */
interface Target {
  column: Column;
  port: number;
  pid: number;
  patched: boolean;
  /** performance.now() when its process was spawned: the idle figure is taken 20 s after it. */
  spawnedAt: number;
  /** The V8 heap in use, in MB, for a server that reports it (kirsa's /metrics). */
  heapMb?: () => Promise<number>;
  /** Called before each fixed-rate run; what it returns gives lines to print after it (kirsa's own metrics). */
  observe?: () => Promise<() => Promise<string[]>>;
}

interface Figures {
  large: Latency;
  small: Latency;
  /**
   * 20 KB pods at 1,000/s in the memory phase (the first load after start) and in the first 10 s after its
   * settling: no target, shown beside the warm figures so a run shows what warming up costs.
   */
  firstLoad: Latency;
  afterIdle: Latency;
  /** The client's own lag in the latency runs (RateRun.lag). */
  lagLarge: RateRun['lag'];
  lagSmall: RateRun['lag'];
  /** The servers' CPU's stolen time during the latency runs, in ms (NaN where /proc/stat does not say). */
  stolenLarge: number;
  stolenSmall: number;
  mostLarge: number;
  mostSmall: number;
  /** CPU time the server spent per admission in the closed loops, in µs. */
  cpuLarge: number;
  cpuSmall: number;
  rssMb: number;
  /** RSS 20 s after spawn, and after 20 s of 1,000/s with 20 KB pods and 20 s of settling. */
  rssIdleMb: number;
  rssAfterLoadMb: number;
  /** Over every fixed-rate run of the server (a wrong answer in a closed loop fails the benchmark). */
  errors: number;
  wrong: number;
}

const ROLE = 'arn:aws:iam::123456789012:role/shop-app';
const dir = await mkdtemp(join(tmpdir(), 'kirsa-bench-'));
const cert = await makeServingCertificate();
const identities = join(dir, 'identities.json');
await writeFile(identities, JSON.stringify({ 'shop/app': { RoleARN: ROLE } }));
const bodies = (size: PodSize) => Array.from({ length: 64 }, (_, i) => makeReview(size, `uid-${size}-${i}`));
const small = bodies('small');
const large = bodies('large');
// The same bodies for the Go load generator, one per line (a review's JSON has no newline).
const bodyFiles = new Map<string[], string>([
  [small, join(dir, 'bodies-small.jsonl')],
  [large, join(dir, 'bodies-large.jsonl')],
]);
for (const [set, file] of bodyFiles) await writeFile(file, `${set.join('\n')}\n`);

/** The region kirsa's webhook is started with here (--aws-default-region): its patches set it. */
const REGION = 'eu-west-1';

/** kirsa's patches for the benchmark's pods, in a file: what the Node parsing floor answers. */
let patchesFile: Promise<string> | undefined;
function kirsaPatchesFile(): Promise<string> {
  // Written once, for the first round that starts the parsing floor; every round after reads the same file.
  patchesFile ??= (async () => {
    const file = join(dir, 'kirsa-patches.json');
    await writeFile(file, JSON.stringify(await kirsaPatches([small[0]!, large[0]!], ROLE, REGION)));
    return file;
  })();
  return patchesFile;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The same memory phase, warm-up, runs and closed loops for every server, printed as they finish. */
/**
 * The Go load generator's binary, or why the fixed-rate runs use the Node client (decided once, printed
 * before the first round).
 */
const loadgen: GoBinary =
  process.env.KIRSA_BENCH_LOADGEN === 'node' ? { skipped: 'KIRSA_BENCH_LOADGEN=node' } : goLoadgenBinary();

/**
 * `seconds` of `rate` admissions/s of `set` to the target: from the Go load generator (on this process's
 * CPU, under pin.loadLauncher) where it is built, else from the Node client.
 */
async function atRate(target: Target, set: string[], rate: number, seconds: number): Promise<RateRun> {
  if ('skipped' in loadgen) return fixedRate(target.port, cert.caPem, set, rate, seconds, target.patched);
  const report = await goLoad(loadgen.binary, {
    port: target.port,
    caFile: cert.caFile,
    bodiesFile: bodyFiles.get(set)!,
    rate,
    seconds,
    connections: MAX_CONNECTIONS,
    open: OPEN_CONNECTIONS,
    ...(target.patched ? { role: ROLE } : {}),
    launcher: pin.loadLauncher,
  });
  const ms = (value: number | null) => value ?? Number.NaN;
  return {
    latency: { p50: ms(report.p50Ms), p99: ms(report.p99Ms), p999: ms(report.p999Ms), max: ms(report.maxMs) },
    errors: report.errors,
    wrong: report.wrong,
    ...(report.firstWrong === undefined ? {} : { firstWrong: report.firstWrong }),
    achieved: report.achievedPerS,
    connections: report.connections,
    dropped: report.dropped,
    lag: { p99: ms(report.lagP99Ms), p999: ms(report.lagP999Ms), max: ms(report.lagMaxMs) },
  };
}

/**
 * atRate, with how much of the servers' CPU the hypervisor took during the run (ms; NaN where /proc/stat does
 * not say): the load generator's own lag shows only its own CPU's slow spells.
 */
async function atRateWithSteal(
  target: Target,
  set: string[],
  seconds: number,
): Promise<{ run: RateRun; stolen: number }> {
  const before = serversStolenMs();
  const run = await atRate(target, set, 1000, seconds);
  return { run, stolen: serversStolenMs() - before };
}

/** How many of a run's admissions failed or came back wrong, for the output. */
function spoiled(run: RateRun): string {
  return `${run.errors} failed, ${run.wrong} wrong${run.firstWrong ? ` (first: ${run.firstWrong})` : ''}`;
}

/** The client's own lateness in a run, for the output. */
function lagText(run: RateRun): string {
  return 'skipped' in loadgen
    ? `Node load generator's event-loop delay p99 ${run.lag.p99.toFixed(1)} ms, longest ${run.lag.max.toFixed(1)} ms`
    : `Go load generator's own lag p99 ${run.lag.p99.toFixed(2)} ms, p99.9 ${run.lag.p999.toFixed(2)} ms, max ${run.lag.max.toFixed(2)} ms`;
}

/** The same memory phase, warm-up, runs and closed loops for every server, printed as they finish. */
async function measure(target: Target): Promise<Figures> {
  const { port, pid, patched } = target;
  const name = HEADINGS[target.column];
  const heap = async () => {
    const mb = (await target.heapMb?.().catch(() => Number.NaN)) ?? Number.NaN;
    return Number.isFinite(mb) ? ` (V8 heap ${mb.toFixed(1)} MB)` : '';
  };
  // Memory as issue 21 measures it, before anything else has run in the process.
  const settle = secondsOf(20);
  await sleep(target.spawnedAt + settle * 1000 - performance.now());
  const rssIdleMb = residentMb(pid);
  const idleHeap = await heap();
  const memoryRun = await atRate(target, large, 1000, settle);
  await sleep(settle * 1000);
  const rssAfterLoadMb = residentMb(pid);
  console.log(
    `   ${name}: RSS ${rssIdleMb.toFixed(1)} MB ${settle} s after spawn${idleHeap}; ${rssAfterLoadMb.toFixed(1)} MB after ${settle} s of 1,000/s with 20 KB pods (${memoryRun.achieved.toFixed(0)}/s, ${spoiled(memoryRun)}, client-side ${summary(memoryRun.latency)}) and ${settle} s settling${await heap()}: ${(rssAfterLoadMb / rssIdleMb).toFixed(2)}x (machine load ${load()})`,
  );
  // The first fixed-rate seconds after that idle spell, recorded as their own figure: a webhook whose load
  // comes in bursts meets them after every quiet spell. The warm runs below come 10 s later; docs/webhook.md
  // has what the first seconds of load cost kirsa, and why.
  await closedLoop(port, cert.caPem, large, 8, secondsOf(2), patched);
  const afterIdle = await atRate(target, large, 1000, secondsOf(10));
  console.log(
    `   ${name}: 20 KB pod at 1,000/s, the first ${secondsOf(10)} s after the settling (2 s of closed loop before): client-side ${summary(afterIdle.latency)}, ${spoiled(afterIdle)}`,
  );
  // Warm-up, as a webhook that has been running a while: JIT-compiled paths, connections open.
  let errors = memoryRun.errors + afterIdle.errors;
  let wrong = memoryRun.wrong + afterIdle.wrong;
  for (const [set, seconds] of [
    [large, secondsOf(5)],
    [small, secondsOf(3)],
  ] as const) {
    const warm = await atRate(target, set, 1000, seconds);
    errors += warm.errors;
    wrong += warm.wrong;
  }
  console.log(`   ${name}: RSS after warm-up ${residentMb(pid).toFixed(1)} MB (machine load ${load()})`);
  const runs: RateRun[] = [];
  const stolen: number[] = [];
  for (const [size, set, seconds] of [
    ['20 KB pod', large, WINDOW_SECONDS['20kb']],
    ['1 KB pod', small, WINDOW_SECONDS['1kb']],
  ] as const) {
    const finish = await target.observe?.();
    const { run: result, stolen: stolenDuring } = await atRateWithSteal(target, set, seconds);
    stolen.push(stolenDuring);
    runs.push(result);
    errors += result.errors;
    wrong += result.wrong;
    console.log(
      `   ${name}: ${size} at 1,000/s for ${seconds} s over keep-alive connections (${result.connections} used${result.dropped > 0 ? `, ${result.dropped} closed and dropped` : ''}): ${result.achieved.toFixed(0)} admissions/s, client-side ${summary(result.latency)}, ${spoiled(result)}`,
    );
    for (const line of (await finish?.()) ?? []) console.log(`      ${line}`);
    console.log(
      `      ${lagText(result)}; ${stolen.at(-1)} ms of the servers' CPU stolen; machine load ${load()}`,
    );
  }
  const most: Array<{ rate: number; cpuUs: number }> = [];
  for (const [size, set] of [
    ['20 KB pod', large],
    ['1 KB pod', small],
  ] as const) {
    const cpuBefore = processCpuMs(pid);
    const { rate, done } = await closedLoop(port, cert.caPem, [...set], 32, secondsOf(5), patched);
    const cpuUs = ((processCpuMs(pid) - cpuBefore) * 1000) / done;
    most.push({ rate, cpuUs });
    console.log(
      `   ${name}: ${size}, 32 connections, one request in flight on each, ${secondsOf(5)} s: ${rate.toFixed(0)} admissions/s (the most it answers), ${cpuUs.toFixed(0)} µs of its CPU per admission`,
    );
  }
  const rssMb = residentMb(pid);
  console.log(`   ${name}: RSS after the runs ${rssMb.toFixed(1)} MB`);
  return {
    large: runs[0]!.latency,
    small: runs[1]!.latency,
    firstLoad: memoryRun.latency,
    afterIdle: afterIdle.latency,
    lagLarge: runs[0]!.lag,
    lagSmall: runs[1]!.lag,
    stolenLarge: stolen[0]!,
    stolenSmall: stolen[1]!,
    mostLarge: most[0]!.rate,
    mostSmall: most[1]!.rate,
    cpuLarge: most[0]!.cpuUs,
    cpuSmall: most[1]!.cpuUs,
    rssMb,
    rssIdleMb,
    rssAfterLoadMb,
    errors,
    wrong,
  };
}

/**
 * KIRSA_BENCH_AS_IMAGE=1: kirsa compiled and both Node servers under the image's node flags, as issue 21
 * measured them; by default both run from TypeScript sources, as this benchmark's earlier figures were.
 */
const AS_IMAGE = process.env.KIRSA_BENCH_AS_IMAGE === '1';
/**
 * KIRSA_BENCH_ROUNDS=3: every server three times, interleaved, and the table shows each figure's median.
 * KIRSA_BENCH_ROUNDS=0: no rounds, only the back-to-back pairs, whose quiet ones then judge the latency targets
 * alone (bench/figures.ts): about 7 minutes instead of 22 for comparing two builds' tails.
 */
const ROUNDS = roundsWanted();
const rounds = new Map<Column, Figures[]>(COLUMNS.map((column) => [column, []]));
const skipped = new Map<Column, string>();
for (const column of COLUMNS)
  if (!chosen.has(column)) skipped.set(column, 'not chosen (KIRSA_BENCH_SERVERS)');
const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/**
 * The API server the webhooks read the pod's account from, as in a cluster: started before the first round
 * when the real parts are there (then kirsa reads it too, not an identities file), kept for every round.
 */
let kube: KubeApiserver | undefined;
let noKube: string | undefined;
const built: Partial<Record<'reference' | 'go-floor', GoBinary>> = {};
// This process moves to the load generator's core first, so what it starts (the API server included) stays
// off the servers' core unless started on it.
pinThisProcessAsLoadGenerator();
const pin = pinning();

/** A Go server's binary, printed the first time; undefined (the reason noted) when there is none. */
function binaryOf(column: 'reference' | 'go-floor'): string | undefined {
  if (built[column] === undefined) {
    const binary = column === 'reference' ? referenceBinary() : goFloorBinary();
    built[column] = binary;
    if ('binary' in binary)
      console.log(
        `   ${HEADINGS[column]}: ${binary.binary} (${binary.about}), GOMAXPROCS=${GO_SERVER_ENV.GOMAXPROCS}`,
      );
  }
  const binary = built[column]!;
  if ('skipped' in binary) {
    skipped.set(column, binary.skipped);
    return undefined;
  }
  return binary.binary;
}

/** Starts the API server with the namespace and the annotated account, unless the real parts are missing. */
async function startKube(): Promise<void> {
  if (!(await kubeApiserverAvailable())) {
    noKube = 'no kube-apiserver: build the real parts (bash tools/realparts/build.sh)';
    return;
  }
  kube = await startKubeApiserver();
  for (const [path, object] of [
    ['/api/v1/namespaces', { metadata: { name: 'shop' } }],
    [
      '/api/v1/namespaces/shop/serviceaccounts',
      { metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } },
    ],
  ] as const) {
    const answer = await kube.request('POST', path, object);
    if (answer.status !== 201) throw new Error(`POST ${path}: ${answer.status}`);
  }
}

/** Starts one server for a round, ready for the load; undefined when it cannot run here (noted in `skipped`). */
async function start(column: Column): Promise<{ target: Target; stop(): Promise<unknown> } | undefined> {
  // Compiled before the clock starts: the first call runs tsc (about 10 s), no part of the webhook's start,
  // which made "20 s after spawn" about 10 s when kirsa ran first.
  const asImage = column === 'kirsa' && AS_IMAGE ? await webhookAsImageRunsIt() : undefined;
  // The parsing floor's patches, for the same reason: kirsa's core computing them is no part of its start.
  const parsing = column === 'node-parse-floor' ? [await kirsaPatchesFile()] : [];
  const spawnedAt = performance.now();
  if (column === 'kirsa') {
    const server = await startWebhook(
      [
        '--tls-cert',
        cert.certFile,
        '--tls-key',
        cert.keyFile,
        ...(kube ? ['--kubeconfig', kube.kubeconfigPath] : ['--identities-file', identities]),
        '--aws-default-region',
        REGION,
      ],
      {
        launcher: pin.serverLauncher,
        ...(asImage ? { kirsa: asImage.nodeArgs, env: asImage.env } : {}),
      },
    );
    const observe = async () => {
      const before = await serverBuckets(server.metricsPort);
      await serverLoopGapMax(server.metricsPort);
      return async () => {
        // The delay first: every scrape resets it, the histogram's scrape included.
        const loopMax = await serverLoopGapMax(server.metricsPort);
        const after = await serverBuckets(server.metricsPort);
        return [
          `server-side (its histogram): ${serverShare(before, after)}`,
          `webhook's longest event-loop stall ${Math.max(0, loopMax - EVENT_LOOP_RESOLUTION_MS).toFixed(1)}-${loopMax.toFixed(1)} ms (its ${EVENT_LOOP_RESOLUTION_MS} ms timer's longest gap)`,
        ];
      };
    };
    try {
      await untilRoleGiven(server.port, cert.caPem, { namespace: 'shop', name: 'app', role: ROLE }, 30_000);
    } catch (error) {
      await server.stop('SIGKILL');
      throw error;
    }
    return {
      target: {
        column,
        port: server.port,
        pid: server.child.pid!,
        patched: true,
        spawnedAt,
        observe,
        heapMb: async () => (await metric(server.metricsPort, 'nodejs_heap_size_used_bytes')) / 2 ** 20,
      },
      stop: () => server.stop('SIGKILL'),
    };
  }
  if (column === 'node-floor' || column === 'node-parse-floor') {
    // The parsing floor is the same server given kirsa's patches (bench/floor-server.ts).
    const { command, env } = AS_IMAGE
      ? await floorAsImageRunsIt(cert.certFile, cert.keyFile, parsing)
      : { command: [process.execPath, FLOOR_SERVER, cert.certFile, cert.keyFile, ...parsing], env: {} };
    const floor = await startServerProcess([...pin.serverLauncher, ...command], env);
    return {
      target: { column, port: floor.port, pid: floor.child.pid!, patched: parsing.length > 0, spawnedAt },
      stop: () => floor.stop('SIGKILL'),
    };
  }
  if (column === 'go-floor') {
    const binary = binaryOf(column);
    if (binary === undefined) return undefined;
    const floor = await startGoFloor(binary, cert.certFile, cert.keyFile, pin.serverLauncher);
    return {
      target: { column, port: floor.port, pid: floor.child.pid!, patched: false, spawnedAt },
      stop: () => floor.stop('SIGKILL'),
    };
  }
  const binary = binaryOf(column);
  if (binary === undefined) return undefined;
  if (kube === undefined) {
    skipped.set(column, `it reads ServiceAccounts from an API server: ${noKube}`);
    return undefined;
  }
  const reference = await startReferenceWebhook(binary, {
    ca: cert.caPem,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    kubeconfig: kube.kubeconfigPath,
    dir,
    launcher: pin.serverLauncher,
  });
  try {
    await untilRoleGiven(reference.port, cert.caPem, { namespace: 'shop', name: 'app', role: ROLE }, 30_000);
  } catch (error) {
    await reference.stop();
    throw error;
  }
  return {
    target: { column, port: reference.port, pid: reference.child.pid!, patched: true, spawnedAt },
    stop: () => reference.stop(),
  };
}

console.log(`   ${pin.about}`);
console.log(
  'binary' in loadgen
    ? `   runs at a fixed rate: the Go load generator ${loadgen.binary} (${loadgen.about}), on the load generator's CPU, ${pin.loadAbout}`
    : `   runs at a fixed rate: the Node client (no Go load generator: ${loadgen.skipped}); its own event-loop stalls set their tail, so their latency verdicts are not shown`,
);
const steadyBefore = cpuSteadiness(secondsOf(5));
console.log(`   machine steadiness: ${steadyBefore.text}`);
console.log(
  `   review sizes: small ${small[0]!.length} B (pod ${JSON.stringify(JSON.parse(small[0]!).request.object).length} B), large ${large[0]!.length} B (pod ${JSON.stringify(JSON.parse(large[0]!).request.object).length} B)`,
);
let steadyAfter: typeof steadyBefore | undefined;

const PAIRS = pairsWanted();
/** KIRSA_BENCH_PAIR_LEAD: seconds of the same load, not measured, before each window of a pair (3 by default). */
const PAIR_LEAD_SECONDS = Math.max(0, Number(process.env.KIRSA_BENCH_PAIR_LEAD ?? '3'));
let pairs: Map<PairedFigure, PairedWindows[]> | undefined;
/** The rounds and the pairs: how long they ran, and how much of the servers' CPU was stolen meanwhile. */
let span: { ms: number; stolenMs: number } | undefined;

/**
 * kirsa and the Node floor, each started once and warmed up, then `count` pairs: a 20 KB window and a 1 KB
 * one of each at 1,000/s, as long as the rounds' latency runs, the two servers' windows one right after the
 * other, who goes first alternating. A slow spell of this machine lasts seconds to minutes: the rounds' medians
 * mix minutes of every kind, while a pair's two windows share theirs, so a pair whose load generator kept
 * time in both can be judged on its own (bench/figures.ts, quietPairs).
 */
async function backToBack(count: number): Promise<Map<PairedFigure, PairedWindows[]>> {
  console.log(
    `   -- ${count} back-to-back pairs of kirsa's and the Node floor's windows, each after ${PAIR_LEAD_SECONDS} s of the same load`,
  );
  const found = new Map<PairedFigure, PairedWindows[]>();
  const servers: Array<Awaited<ReturnType<typeof start>>> = [];
  try {
    for (const column of ['kirsa', 'node-floor'] as const) servers.push(await start(column));
    const [kirsa, floor] = servers.map((server) => {
      if (server === undefined) throw new Error('kirsa or the Node floor did not start for the pairs');
      return server.target;
    }) as [Target, Target];
    for (const target of [kirsa, floor]) {
      await atRate(target, large, 1000, secondsOf(5));
      await atRate(target, small, 1000, secondsOf(3));
    }
    // One server's window, with how much of the servers' CPU the hypervisor took during it. It starts after
    // 3 s (KIRSA_BENCH_PAIR_LEAD) of the same load, not measured: a server idle while the other ran would
    // otherwise start cold, and kirsa gives memory back after 5 s without admissions
    // (src/webhook/idle-release.ts), which is the after-idle figure, not this.
    const window = async (target: Target, set: string[], seconds: number) => {
      if (PAIR_LEAD_SECONDS > 0) await atRate(target, set, 1000, secondsOf(PAIR_LEAD_SECONDS));
      return atRateWithSteal(target, set, seconds);
    };
    for (let pair = 1; pair <= count; pair++) {
      for (const [key, set, seconds] of [
        ['20kb', large, WINDOW_SECONDS['20kb']],
        ['1kb', small, WINDOW_SECONDS['1kb']],
      ] as const) {
        const order = pair % 2 === 1 ? [kirsa, floor] : [floor, kirsa];
        const first = await window(order[0]!, set, seconds);
        const second = await window(order[1]!, set, seconds);
        const [{ run: ours, stolen: ourStolen }, { run: theirs, stolen: theirStolen }] =
          order[0] === kirsa ? [first, second] : [second, first];
        for (const run of [ours, theirs])
          if (run.errors + run.wrong > 0) throw new Error(`pair ${pair}, ${key}: ${spoiled(run)}`);
        for (const percentile of ['p99', 'p999'] as const) {
          const windows = found.get(`${percentile}-${key}`) ?? [];
          windows.push({
            kirsa: ours.latency[percentile],
            floor: theirs.latency[percentile],
            kirsaLag: ours.lag[percentile],
            floorLag: theirs.lag[percentile],
            windowMs: seconds * 1000,
            kirsaStolenMs: ourStolen,
            floorStolenMs: theirStolen,
          });
          found.set(`${percentile}-${key}`, windows);
        }
        console.log(
          `   pair ${pair}, ${key === '20kb' ? '20 KB' : '1 KB'} pod: kirsa p99 ${ours.latency.p99.toFixed(2)} / p99.9 ${ours.latency.p999.toFixed(2)} ms (lag ${ours.lag.p99.toFixed(2)} / ${ours.lag.p999.toFixed(2)}, ${ourStolen} ms stolen), Node floor ${theirs.latency.p99.toFixed(2)} / ${theirs.latency.p999.toFixed(2)} ms (lag ${theirs.lag.p99.toFixed(2)} / ${theirs.lag.p999.toFixed(2)}, ${theirStolen} ms stolen)`,
        );
      }
    }
  } finally {
    for (const server of servers) await server?.stop();
  }
  return found;
}

try {
  if (chosen.has('kirsa') || chosen.has('reference')) await startKube();
  console.log(
    `   the pod's account: ${kube ? 'read from a real kube-apiserver by kirsa and the reference' : `kirsa reads it from an identities file (${noKube})`}`,
  );
  const [startedAt, stolenAtStart] = [performance.now(), serversStolenMs()];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) console.log(`   -- round ${round} of ${ROUNDS}`);
    // Each round starts one server further along, so no server is always measured first or last.
    const order = COLUMNS.map((_, i) => COLUMNS[(i + round - 1) % COLUMNS.length]!);
    for (const column of order) {
      if (skipped.has(column)) continue;
      // kirsa and the Node floor are this benchmark's own: their failure fails it. A Go server's is noted.
      const optional = column === 'reference' || column === 'go-floor';
      let started: Awaited<ReturnType<typeof start>>;
      try {
        started = await start(column);
        if (started === undefined) continue;
        try {
          rounds.get(column)!.push(await measure(started.target));
        } finally {
          await started.stop();
        }
      } catch (error) {
        if (!optional) throw error;
        skipped.set(column, `failed in round ${round}: ${reason(error)}`);
      }
    }
  }
  if (PAIRS > 0 && !skipped.has('kirsa') && !skipped.has('node-floor') && !('skipped' in loadgen))
    pairs = await backToBack(PAIRS);
  span = { ms: performance.now() - startedAt, stolenMs: serversStolenMs() - stolenAtStart };
  console.log(
    `   the servers' CPU stolen by the hypervisor: ${(span.stolenMs / 1000).toFixed(1)} s of ${(span.ms / 1000).toFixed(0)} s`,
  );
  steadyAfter = cpuSteadiness(secondsOf(5));
  console.log(`   machine steadiness after the rounds: ${steadyAfter.text}`);
} finally {
  await kube?.stop();
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Each figure's median over the rounds (failed and wrong admissions summed). */
function medianFigures(list: Figures[]): Figures {
  const of = (pick: (figures: Figures) => number) => medianOf(list.map(pick));
  const latencyOf = (pick: (figures: Figures) => Latency): Latency => ({
    p50: of((figures) => pick(figures).p50),
    p99: of((figures) => pick(figures).p99),
    p999: of((figures) => pick(figures).p999),
    max: of((figures) => pick(figures).max),
  });
  return {
    large: latencyOf((figures) => figures.large),
    small: latencyOf((figures) => figures.small),
    firstLoad: latencyOf((figures) => figures.firstLoad),
    afterIdle: latencyOf((figures) => figures.afterIdle),
    lagLarge: {
      p99: of((figures) => figures.lagLarge.p99),
      p999: of((figures) => figures.lagLarge.p999),
      max: of((figures) => figures.lagLarge.max),
    },
    lagSmall: {
      p99: of((figures) => figures.lagSmall.p99),
      p999: of((figures) => figures.lagSmall.p999),
      max: of((figures) => figures.lagSmall.max),
    },
    stolenLarge: of((figures) => figures.stolenLarge),
    stolenSmall: of((figures) => figures.stolenSmall),
    mostLarge: of((figures) => figures.mostLarge),
    mostSmall: of((figures) => figures.mostSmall),
    cpuLarge: of((figures) => figures.cpuLarge),
    cpuSmall: of((figures) => figures.cpuSmall),
    rssMb: of((figures) => figures.rssMb),
    rssIdleMb: of((figures) => figures.rssIdleMb),
    rssAfterLoadMb: of((figures) => figures.rssAfterLoadMb),
    errors: list.reduce((sum, figures) => sum + figures.errors, 0),
    wrong: list.reduce((sum, figures) => sum + figures.wrong, 0),
  };
}

const results = new Map(
  COLUMNS.filter((column) => rounds.get(column)!.length > 0).map((column) => [
    column,
    medianFigures(rounds.get(column)!),
  ]),
);

// The side-by-side table: one row per figure, one column per server measured.
const shown = COLUMNS.filter((column) => results.has(column));
// At least one space between cells, however long a figure on a busy machine gets.
const cell = (column: Column, value: (figures: Figures) => string) =>
  `${value(results.get(column)!)} `.padEnd(22);
const three = (figures: Latency) =>
  `${figures.p50.toFixed(2)}/${figures.p99.toFixed(2)}/${figures.p999.toFixed(1)}`;
const lagOf = (lag: RateRun['lag']) =>
  `${lag.p99.toFixed(2)}/${Number.isNaN(lag.p999) ? '-' : lag.p999.toFixed(2)}/${lag.max.toFixed(1)}`;
const clientName = 'skipped' in loadgen ? 'Node client delay' : 'client lag';
const rows: Array<[string, (figures: Figures) => string]> = [
  ['20 KB pod at 1,000/s, p50/p99/p99.9 ms', (figures) => three(figures.large)],
  [`  ${clientName} p99/p99.9/max ms`, (figures) => lagOf(figures.lagLarge)],
  ['1 KB pod at 1,000/s, p50/p99/p99.9 ms', (figures) => three(figures.small)],
  [`  ${clientName} p99/p99.9/max ms`, (figures) => lagOf(figures.lagSmall)],
  ['20 KB, first load after start, ms', (figures) => three(figures.firstLoad)],
  ['20 KB, first 10 s after 20 s idle, ms', (figures) => three(figures.afterIdle)],
  ['most admissions/s, 20 KB / 1 KB pod', (f) => `${f.mostLarge.toFixed(0)} / ${f.mostSmall.toFixed(0)}`],
  ['CPU per admission, 20 KB / 1 KB, µs', (f) => `${f.cpuLarge.toFixed(0)} / ${f.cpuSmall.toFixed(0)}`],
  [`RSS ${secondsOf(20)} s after spawn, MB`, (figures) => figures.rssIdleMb.toFixed(1)],
  [
    'RSS after 1,000/s 20 KB + settling, MB',
    (f) => `${f.rssAfterLoadMb.toFixed(1)} (${(f.rssAfterLoadMb / f.rssIdleMb).toFixed(2)}x)`,
  ],
  ['RSS after the runs, MB', (figures) => figures.rssMb.toFixed(1)],
  ['failed / wrong admissions', (figures) => `${figures.errors} / ${figures.wrong}`],
];
console.log(
  `\n   side by side (${roundsText(ROUNDS)}, the same clients and load, ${'skipped' in loadgen ? 'every run from the Node client' : 'fixed-rate runs from the Go load generator, closed loops from the Node client'}; Go servers with GOMAXPROCS=${GO_SERVER_ENV.GOMAXPROCS}; ${AS_IMAGE ? `Node servers as the image runs them: compiled, node ${imageNodeFlags().join(' ')}` : 'Node servers from TypeScript sources'}; ${pin.applied ? 'each server on one core, the load generator on the other' : pin.about}):`,
);
console.log(`   ${''.padEnd(40)} ${shown.map((column) => HEADINGS[column].padEnd(22)).join('')}`.trimEnd());
for (const [label, value] of rows)
  console.log(`   ${label.padEnd(40)} ${shown.map((column) => cell(column, value)).join('')}`.trimEnd());
for (const [column, why] of skipped) console.log(`   ${HEADINGS[column]}: left out: ${why}`);

const figures: Figure[] = [
  { name: 'rounds', column: 'machine', value: ROUNDS },
  { name: 'pinned', column: 'machine', value: pin.applied ? 1 : 0 },
  { name: 'go-loadgen', column: 'machine', value: 'skipped' in loadgen ? 0 : 1 },
  // The less steady of the two probes, before and after the rounds: how noisy this run's machine was.
  {
    name: 'steadiness-p99-x',
    column: 'machine',
    value: Math.max(steadyBefore.p99, steadyAfter?.p99 ?? 0),
  },
  {
    name: 'steadiness-p999-x',
    column: 'machine',
    value: Math.max(steadyBefore.p999, steadyAfter?.p999 ?? 0),
  },
  { name: 'window-20kb-ms', column: 'machine', value: WINDOW_SECONDS['20kb'] * 1000 },
  { name: 'window-1kb-ms', column: 'machine', value: WINDOW_SECONDS['1kb'] * 1000 },
  ...(span === undefined || Number.isNaN(span.stolenMs)
    ? []
    : [
        { name: 'run-ms', column: 'machine', value: span.ms } as const,
        { name: 'stolen-run-ms', column: 'machine', value: span.stolenMs } as const,
      ]),
];
for (const [column, f] of results)
  figures.push(
    ...(
      [
        ['p50-20kb-ms', f.large.p50],
        ['p99-20kb-ms', f.large.p99],
        ['p999-20kb-ms', f.large.p999],
        ['p50-1kb-ms', f.small.p50],
        ['p99-1kb-ms', f.small.p99],
        ['p999-1kb-ms', f.small.p999],
        ['p99-20kb-first-load-ms', f.firstLoad.p99],
        ['p999-20kb-first-load-ms', f.firstLoad.p999],
        ['p99-20kb-after-idle-ms', f.afterIdle.p99],
        ['p999-20kb-after-idle-ms', f.afterIdle.p999],
        ['most-20kb-per-s', f.mostLarge],
        ['most-1kb-per-s', f.mostSmall],
        ['cpu-20kb-us', f.cpuLarge],
        ['cpu-1kb-us', f.cpuSmall],
        ['rss-idle-mb', f.rssIdleMb],
        ['rss-after-load-mb', f.rssAfterLoadMb],
        ['lag-p99-20kb-ms', f.lagLarge.p99],
        ['lag-p999-20kb-ms', f.lagLarge.p999],
        ['lag-max-20kb-ms', f.lagLarge.max],
        ['lag-p99-1kb-ms', f.lagSmall.p99],
        ['lag-p999-1kb-ms', f.lagSmall.p999],
        ['lag-max-1kb-ms', f.lagSmall.max],
        ['stolen-20kb-ms', f.stolenLarge],
        ['stolen-1kb-ms', f.stolenSmall],
        ['failed-admissions', f.errors],
        ['wrong-admissions', f.wrong],
      ] as const
    ).map(([name, value]) => ({ name, column, value })),
  );
if (pairs !== undefined) {
  figures.push({ name: 'pairs', column: 'machine', value: PAIRS });
  for (const [paired, windows] of pairs) {
    const judged = quietPairs(windows);
    figures.push({ name: `pairs-${paired}-quiet`, column: 'machine', value: judged.quiet });
    if (judged.ratio === undefined) continue;
    figures.push(
      { name: `pairs-${paired}-ratio`, column: 'kirsa', value: judged.ratio },
      { name: `pairs-${paired}-ms`, column: 'kirsa', value: judged.kirsa! },
      { name: `pairs-${paired}-ms`, column: 'node-floor', value: judged.floor! },
    );
  }
}
recordFigures(figures);
// The targets this benchmark can judge (the others are bench/watch-memory.ts's), as `npm run bench` judges them.
for (const verdict of verdicts(figures))
  if (verdict.met !== undefined || verdict.notShown)
    console.log(`   target (issue #21): ${verdictLine(verdict)}`);
for (const line of againstParsingFloor(figures)) console.log(`   shown, no target: ${line}`);
