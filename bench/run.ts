// `npm run bench`: runs each benchmark below in its own process (so one's memory does not colour another's)
// and lets it print its figures. Figures are printed, never asserted: speed targets live here, not in tests.
// Add a benchmark by writing bench/<name>.ts (a script that prints its figures) and listing it here.
// `npm run bench -- <name>` runs only the ones whose name contains <name>.
// It ends with issue 21's table: the figures the benchmarks recorded (bench/figures.ts), kirsa beside the
// reference webhook and the do-nothing Node and Go servers, each target met or not, with the machine's load
// and steadiness. The whole of it, as issue 21 asks: KIRSA_BENCH_ROUNDS=3 KIRSA_BENCH_AS_IMAGE=1 npm run bench

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  againstParsingFloor,
  issueTable,
  machineLines,
  pairsWanted,
  readFigures,
  recordFigures,
  roundsWanted,
  verdictLine,
  verdicts,
} from './figures.ts';
import { goFloorBinary, goLoadgenBinary, referenceBinary } from './go-servers.ts';

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
// count against one benchmark's time limit. Either one missing leaves its column out, with the reason. The
// Go load generator builds here too; without it the fixed-rate runs fall back to the Node client.
if (chosen.some((name) => SIDE_BY_SIDE.includes(name))) {
  for (const [label, build] of [
    ['Go floor', goFloorBinary],
    ['reference webhook', referenceBinary],
    ['Go load generator', goLoadgenBinary],
  ] as const) {
    const built = build();
    console.log(
      `${label}: ${'skipped' in built ? `left out: ${built.skipped}` : `${built.binary} (${built.about})`}`,
    );
  }
}
// A run of pairs only (no rounds) still gets one round's time: its servers start and warm up as a round's do.
const ROUNDS = Math.max(1, roundsWanted());
/**
 * Ten minutes each; the admission benchmark ten per round and one per back-to-back pair. A round is about seven
 * minutes at full length (five servers, each idle 20 s, loaded 20 s, settling 20 s, then the latency runs and
 * closed loops) and a pair about 50 s; on session 24's machine, half as fast, the rounds took about nine and a
 * half minutes each, and a timeout without the pairs' time stopped the benchmark in its last pair, before it
 * printed a figure (docs/webhook.md, "The answer as bytes ...").
 */
const timeoutMs = (name: string) =>
  name === 'webhook-admission.ts' ? 300_000 + ROUNDS * 600_000 + pairsWanted() * 60_000 : 600_000;
const figuresDir = mkdtempSync(join(tmpdir(), 'kirsa-bench-figures-'));
process.env.KIRSA_BENCH_FIGURES = join(figuresDir, 'figures.jsonl');
recordFigures([{ name: 'load-before', column: 'machine', value: loadavg()[0]! }]);
const runStarted = Date.now();
let failed = 0;
for (const name of chosen) {
  console.log(`\n== ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL(name, import.meta.url))], {
    stdio: 'inherit',
    timeout: timeoutMs(name),
  });
  if (result.status !== 0) {
    failed += 1;
    console.log(`   ${name} failed (status ${result.status}, signal ${result.signal})`);
  }
  console.log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
recordFigures([{ name: 'load-after', column: 'machine', value: loadavg()[0]! }]);
const figures = readFigures(process.env.KIRSA_BENCH_FIGURES);
rmSync(figuresDir, { recursive: true, force: true });
if (chosen.some((name) => SIDE_BY_SIDE.includes(name))) {
  console.log(
    `\n== issue #21: the figures of this run (${((Date.now() - runStarted) / 60_000).toFixed(1)} min)`,
  );
  for (const line of [...issueTable(figures), '', ...machineLines(figures)])
    console.log(`   ${line}`.trimEnd());
  console.log('   targets:');
  for (const verdict of verdicts(figures)) console.log(`   ${verdictLine(verdict)}`);
  const parsing = againstParsingFloor(figures);
  if (parsing.length > 0) console.log('   shown, no target:');
  for (const line of parsing) console.log(`   ${line}`);
}
process.exitCode = failed === 0 ? 0 : 1;
