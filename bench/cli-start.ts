// How long the first touch takes: `kirsa --help` (a summary table, no verb module loaded), a verb's help
// (that one module), and `kirsa --version`, each a fresh process as a user runs it, beside the floor of
// starting Node at all (`node -e 0`); then the same for the single executable when it is built
// (tools/sea/build.sh), whose whole bundle is one minified file. The target for top-level help is under
// 0.3 s. Prints; asserts nothing.

import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/kirsa.js', import.meta.url));
const RUNS = 15;

function median(args: string[], file = process.execPath): number {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const started = process.hrtime.bigint();
    const result = spawnSync(file, args, { stdio: 'ignore', timeout: 30_000 });
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

/** The built single executable, if there is one for these sources (the build script never builds here). */
function seaExecutable(): string | undefined {
  if (process.env.KIRSA_SEA) return process.env.KIRSA_SEA;
  try {
    const printed = execFileSync(
      'bash',
      [fileURLToPath(new URL('../tools/sea/build.sh', import.meta.url)), '--print-env'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    return /KIRSA_SEA=(.+)/.exec(printed)?.[1]?.trim();
  } catch {
    return undefined;
  }
}

const sea = seaExecutable();
if (sea) {
  console.log(`   single executable: ${(statSync(sea).size / 2 ** 20).toFixed(1)} MiB`);
  for (const args of [['--help'], ['--version'], ['mutate', '--help']]) {
    console.log(`   kirsa-linux-x64 ${args.join(' ')}: median ${median(args, sea).toFixed(0)} ms`);
  }
} else {
  console.log('   single executable: not built for these sources (npm run build:sea)');
}
