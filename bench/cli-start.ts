// How long the first touch takes: `kirsa --help` (a summary table, no verb module loaded), a verb's help
// (that one module), and `kirsa --version`, each a fresh process as a user runs it, beside the floor of
// starting Node at all (`node -e 0`). The target for top-level help is under 0.3 s. Prints; asserts nothing.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/kirsa.js', import.meta.url));
const RUNS = 15;

function median(args: string[]): number {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { stdio: 'ignore', timeout: 30_000 });
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const floor = median(['-e', '0']);
console.log(`   node -e 0 (floor): median ${floor.toFixed(0)} ms over ${RUNS} runs`);
for (const args of [['--help'], ['--version'], ['mutate', '--help'], ['role', 'create', '--help']]) {
  const ms = median([bin, ...args]);
  console.log(
    `   kirsa ${args.join(' ')}: median ${ms.toFixed(0)} ms (${(ms - floor).toFixed(0)} ms above the floor)`,
  );
}
