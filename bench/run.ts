// `npm run bench`: runs each benchmark below in its own process (so one's memory does not colour another's)
// and lets it print its figures. Figures are printed, never asserted: speed targets live here, not in tests.
// Add a benchmark by writing bench/<name>.ts (a script that prints its figures) and listing it here.
// `npm run bench -- <name>` runs only the ones whose name contains <name>.

import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { goFloorBinary, referenceBinary } from './go-servers.ts';

const BENCHMARKS = [
  'cli-start.ts',
  'webhook-admission.ts',
  'identities-memory.ts',
  'watch-memory.ts',
  'module-cost.ts',
  'demo.ts',
];

/** The benchmarks that print kirsa beside the Go floor and the reference webhook. */
const SIDE_BY_SIDE = ['webhook-admission.ts', 'watch-memory.ts'];

const only = process.argv.slice(2);
const chosen = BENCHMARKS.filter((name) => only.length === 0 || only.some((part) => name.includes(part)));
console.log(
  `kirsa benchmarks on Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
// The Go servers the side-by-side benchmarks run (bench/go-servers.ts), built before any of them: a cold build
// of the reference webhook downloads its modules and compiles client-go, which takes minutes and should not
// count against one benchmark's time limit. Either one missing leaves its column out, with the reason.
if (chosen.some((name) => SIDE_BY_SIDE.includes(name))) {
  for (const [label, build] of [
    ['Go floor', goFloorBinary],
    ['reference webhook', referenceBinary],
  ] as const) {
    const built = build();
    console.log(
      `${label}: ${'skipped' in built ? `left out: ${built.skipped}` : `${built.binary} (${built.about})`}`,
    );
  }
}
let failed = 0;
for (const name of chosen) {
  console.log(`\n== ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL(name, import.meta.url))], {
    stdio: 'inherit',
    // Ten minutes: watch-memory creates 50,000 accounts and measures kirsa and the reference twice each.
    timeout: 600_000,
  });
  if (result.status !== 0) {
    failed += 1;
    console.log(`   ${name} failed (status ${result.status}, signal ${result.signal})`);
  }
  console.log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
process.exitCode = failed === 0 ? 0 : 1;
