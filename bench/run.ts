// `npm run bench`: runs each benchmark below in its own process (so one's memory does not colour another's)
// and lets it print its figures. Figures are printed, never asserted: speed targets live here, not in tests.
// Add a benchmark by writing bench/<name>.ts (a script that prints its figures) and listing it here.
// `npm run bench -- <name>` runs only the ones whose name contains <name>.

import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = [
  'cli-start.ts',
  'webhook-admission.ts',
  'identities-memory.ts',
  'watch-memory.ts',
  'module-cost.ts',
  'demo.ts',
];

const only = process.argv.slice(2);
const chosen = BENCHMARKS.filter((name) => only.length === 0 || only.some((part) => name.includes(part)));
console.log(
  `kirsa benchmarks on Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
let failed = 0;
for (const name of chosen) {
  console.log(`\n== ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL(name, import.meta.url))], {
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (result.status !== 0) {
    failed += 1;
    console.log(`   ${name} failed (status ${result.status}, signal ${result.signal})`);
  }
  console.log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
process.exitCode = failed === 0 ? 0 : 1;
