// Which core runs what during a benchmark, as issue 21 measured: each server under test on one core, the
// load generator on another, so a server's figures are not its fight with the client for a core. Applied
// with `taskset` (util-linux) where it exists and this process may use two or more CPUs; otherwise nothing
// is pinned and the benchmarks say so. KIRSA_BENCH_PIN=0 turns it off. The Go servers also run with
// GOMAXPROCS=1 (bench/go-servers.ts), pinned or not.
// The Go load generator (bench/go-loadgen/) also runs under the real-time policy (`chrt -f 10`) where this
// process may use it: at 1,000 requests a second it sleeps nine tenths of the time, and each wake-up must
// not wait behind whatever else this shared machine runs on its CPU. Measured on this 2-core VM at load
// 2-3, pinned: its own lag p99 0.2 ms with the policy against 1-9 ms without, in alternate runs. The
// servers never get it: what the machine does to them is what the floors measure. KIRSA_BENCH_RT=0 turns
// it off. (The Node client never got it: busy, real-time on the CPU of the API server it waits on, it
// starved that API server.)

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Pinning {
  applied: boolean;
  /** One line for the output: which CPUs, or why nothing is pinned. */
  about: string;
  /** Put before a server's command to run it on the server's CPU (empty when not applied). */
  serverLauncher: string[];
  /** The servers' CPU, when applied. */
  serverCpu?: number;
  /** The load generator's CPU, when applied. */
  loadCpu?: number;
  /** Put before the Go load generator's command: the real-time policy, or nothing (see the header). */
  loadLauncher: string[];
  /** One line for the output: whether the Go load generator runs real-time, or why not. */
  loadAbout: string;
}

/** The CPUs this process may run on, from /proc (Linux): "0-1,3" -> [0, 1, 3]. */
export function allowedCpus(list: string): number[] {
  return list
    .trim()
    .split(',')
    .filter((part) => part !== '')
    .flatMap((part) => {
      const [from, to] = part.split('-').map(Number);
      return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
    });
}

let decided: Pinning | undefined;

/** The real-time policy for the Go load generator, or why it runs without. */
function realTime(): Pick<Pinning, 'loadLauncher' | 'loadAbout'> {
  const launcher = ['chrt', '-f', '10'];
  if (process.env.KIRSA_BENCH_RT === '0')
    return { loadLauncher: [], loadAbout: 'not real-time: KIRSA_BENCH_RT=0' };
  const probe = spawnSync(launcher[0]!, [...launcher.slice(1), 'true'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return {
      loadLauncher: [],
      loadAbout: `not real-time: ${launcher.join(' ')} refused (${(probe.stderr || probe.error?.message || '').trim()})`,
    };
  return { loadLauncher: launcher, loadAbout: `real-time (${launcher.join(' ')})` };
}

function off(why: string): Pinning {
  return { applied: false, about: `not pinned: ${why}`, serverLauncher: [], ...realTime() };
}

function decide(): Pinning {
  if (process.env.KIRSA_BENCH_PIN === '0') return off('KIRSA_BENCH_PIN=0');
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0)
    return off('no taskset (util-linux) here');
  let cpus: number[];
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    cpus = allowedCpus(/^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1] ?? '');
  } catch {
    return off('no /proc/self/status');
  }
  if (cpus.length < 2) return off(`only ${cpus.length} CPU allowed`);
  const loadCpu = cpus[0]!;
  const serverCpu = cpus.at(-1)!;
  return {
    applied: true,
    about: `pinned with taskset: each server on CPU ${serverCpu}, the load generator on CPU ${loadCpu}`,
    serverLauncher: ['taskset', '-c', String(serverCpu)],
    serverCpu,
    loadCpu,
    ...realTime(),
  };
}

/** Decided once per process: the last allowed CPU for servers, the first for the load generator. */
export function pinning(): Pinning {
  decided ??= decide();
  return decided;
}

/**
 * Moves this process (every thread) onto the load generator's CPU. Processes it starts afterwards inherit
 * it unless started through `serverLauncher`. Returns false, with the pinning turned off, if taskset fails.
 */
export function pinThisProcessAsLoadGenerator(): boolean {
  const pin = pinning();
  if (!pin.applied) return false;
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(pin.loadCpu), String(process.pid)], {
    encoding: 'utf8',
  });
  if (result.status === 0) return true;
  decided = off(`taskset failed: ${(result.stderr || result.stdout).trim()}`);
  return false;
}

/**
 * The time the hypervisor ran something else on a CPU while this machine wanted it ("steal", /proc/stat's
 * eighth figure on the CPU's line, in ticks of USER_HZ), or undefined when the line or figure is missing;
 * every CPU's together (the "cpu" line) when `cpu` is undefined. On a VM this is what a slow spell is: a
 * server pinned to a CPU that had its time stolen answered late, and the load generator on the other CPU
 * may not have seen it.
 */
export function stealTicks(procStat: string, cpu?: number): number | undefined {
  const name = cpu === undefined ? 'cpu' : `cpu${cpu}`;
  const line = procStat.split('\n').find((each) => each.split(/\s+/)[0] === name);
  const steal = line?.trim().split(/\s+/)[8];
  return steal === undefined || !/^\d+$/.test(steal) ? undefined : Number(steal);
}

/**
 * How long the servers' CPU (every CPU's, unpinned) has had its time stolen so far, in ms (USER_HZ is 100
 * on every Linux this runs on), or NaN where /proc/stat does not say.
 */
export function serversStolenMs(): number {
  try {
    const ticks = stealTicks(readFileSync('/proc/stat', 'utf8'), pinning().serverCpu);
    return ticks === undefined ? Number.NaN : ticks * 10;
  } catch {
    return Number.NaN;
  }
}
