// Runs the Go load generator (bench/go-loadgen/, built by bench/go-servers.ts) for one fixed-rate run and
// reads its one JSON line. The admission benchmark uses it for every run at a fixed rate; why it is Go and
// what its figures mean are in bench/go-loadgen/main.go's header.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GoLoadOptions {
  port: number;
  /** PEM file of the CA the server's certificate chains to (the Node client's `ca`). */
  caFile: string;
  /** The request bodies, one per line, sent in turn. */
  bodiesFile: string;
  rate: number;
  seconds: number;
  /** A run at the same rate before the measured one: checked, not measured. */
  warmupSeconds?: number;
  /** The role every answer's patch must give; none for a floor, which answers without a patch. */
  role?: string;
  /** The most connections open at once, and how many are opened before the run. */
  connections: number;
  open: number;
  /** Put before its command (bench/pinning.ts's loadLauncher). */
  launcher?: string[];
}

/** What the Go load generator prints (its `report`): latency and lag in ms, null when nothing was measured. */
export interface GoLoadReport {
  scheduled: number;
  /** Answers to measured requests, right or wrong. */
  count: number;
  right: number;
  /** Wrong answers and requests without one, the warm-up's included. */
  wrong: number;
  errors: number;
  warmupScheduled: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagP999Ms: number | null;
  lagMaxMs: number | null;
  achievedPerS: number;
  connections: number;
  dropped: number;
  waitedForConnection: number;
  gcCycles: number;
  firstWrong?: string;
  firstError?: string;
}

/** Runs the load generator once; rejects when it cannot start (its stderr says why). */
export async function goLoad(binary: string, options: GoLoadOptions): Promise<GoLoadReport> {
  const launcher = options.launcher ?? [];
  const args = [
    ...launcher.slice(1),
    ...(launcher.length > 0 ? [binary] : []),
    '-port',
    String(options.port),
    '-ca',
    options.caFile,
    '-bodies',
    options.bodiesFile,
    '-rate',
    String(options.rate),
    '-duration',
    `${options.seconds}s`,
    '-warmup',
    `${options.warmupSeconds ?? 0}s`,
    '-connections',
    String(options.connections),
    '-open',
    String(options.open),
    ...(options.role === undefined ? [] : ['-role', options.role]),
  ];
  // Every request settles within its 10 s answer timeout, so this bound is only against a hung process.
  const timeout = ((options.warmupSeconds ?? 0) + options.seconds + 60) * 1000;
  const { stdout } = await run(launcher[0] ?? binary, args, { timeout, maxBuffer: 2 ** 20 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as GoLoadReport;
}
