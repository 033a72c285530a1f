// How long `kirsa demo` takes as a user runs it (a fresh process each time, Node start-up included), and
// `kirsa demo --kube` when the real parts are built. Prints figures; asserts nothing.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/kirsa.js', import.meta.url));
const RUNS = 3;

function timeDemo(args: string[]): { wall: number; reported: number } | string {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [bin, 'demo', ...args], { encoding: 'utf8', timeout: 120_000 });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const reported = /steps passed in (\d+\.\d) s/.exec(run.stdout ?? '')?.[1];
  if (run.status !== 0 || reported === undefined)
    return `failed (status ${run.status}): ${(run.stdout ?? '').slice(-300)}${run.stderr ?? ''}`;
  return { wall, reported: Number(reported) };
}

function report(label: string, args: string[], runs: number): void {
  const results = Array.from({ length: runs }, () => timeDemo(args));
  const failure = results.find((result) => typeof result === 'string');
  if (failure) {
    console.log(`   ${label}: ${failure}`);
    process.exitCode = 1;
    return;
  }
  const ok = results as Array<{ wall: number; reported: number }>;
  const walls = ok.map((result) => result.wall).sort((a, b) => a - b);
  const median = walls[Math.floor(walls.length / 2)]!;
  console.log(
    `   ${label}: median ${median.toFixed(2)} s wall over ${runs} runs (min ${walls[0]!.toFixed(2)}, max ${walls.at(-1)!.toFixed(2)}); steps alone ${ok.map((result) => result.reported.toFixed(1)).join(', ')} s`,
  );
}

report('kirsa demo', [], RUNS);
if (process.env.KIRSA_KUBE_APISERVER && process.env.KIRSA_ETCD) report('kirsa demo --kube', ['--kube'], 1);
else
  console.log(
    '   kirsa demo --kube: skipped (run tools/realparts/build.sh and export its --print-env to include it)',
  );
