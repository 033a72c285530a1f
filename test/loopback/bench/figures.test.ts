// The closing table of `npm run bench` (bench/figures.ts) and the pinning decision (bench/pinning.ts): each
// issue 21 target is judged from the recorded figures at its stated bound, a target without its figures
// says "not measured" instead of a verdict, figures recorded by separate benchmark processes come back in
// one table, and the CPU list from /proc is read as Linux writes it. Pure: nothing is timed or started.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Figure,
  issueTable,
  readFigures,
  recordFigures,
  verdictLine,
  verdicts,
} from '../../../bench/figures.ts';
import { allowedCpus } from '../../../bench/pinning.ts';

const judged = (figures: Figure[]) =>
  Object.fromEntries(verdicts(figures).map((verdict) => [verdict.target, verdict.met]));

test('each target is judged at its bound: at it is met, past it is not', () => {
  const at: Figure[] = [
    { name: 'p99-20kb-ms', column: 'kirsa', value: 3 },
    { name: 'p99-20kb-ms', column: 'node-floor', value: 2 },
    { name: 'p999-20kb-ms', column: 'kirsa', value: 8 },
    { name: 'p999-20kb-ms', column: 'node-floor', value: 4 },
    { name: 'rss-idle-mb', column: 'kirsa', value: 60 },
    { name: 'rss-after-load-mb', column: 'kirsa', value: 75 },
    { name: 'rss-many-mb', column: 'kirsa', value: 100 },
    { name: 'first-right-ms', column: 'kirsa', value: 300 },
    { name: 'last-right-many-ms', column: 'kirsa', value: 2000 },
    { name: 'accounts-many', column: 'machine', value: 51_001 },
  ];
  const met = judged(at);
  assert.deepEqual(
    Object.entries(met).filter(([, value]) => value !== true),
    [
      ["1 KB pod at 1,000/s: kirsa's p99 <= 1.5x the Node floor's in the same run", undefined],
      ["1 KB pod at 1,000/s: kirsa's p99.9 <= 2x the Node floor's in the same run", undefined],
    ],
  );
  // Past each bound; later records replace earlier ones, as a re-run benchmark's would.
  const past = judged([
    ...at,
    { name: 'p99-20kb-ms', column: 'kirsa', value: 3.01 },
    { name: 'p999-20kb-ms', column: 'kirsa', value: 8.01 },
    { name: 'rss-idle-mb', column: 'kirsa', value: 60.1 },
    { name: 'rss-after-load-mb', column: 'kirsa', value: 75.2 },
    { name: 'rss-many-mb', column: 'kirsa', value: 100.1 },
    { name: 'first-right-ms', column: 'kirsa', value: 301 },
    { name: 'last-right-many-ms', column: 'kirsa', value: 2001 },
  ]);
  assert.deepEqual(
    Object.values(past).filter((value) => value !== undefined),
    [false, false, false, false, false, false, false],
  );
  assert.ok(Object.keys(past).some((target) => target.includes('51,001 accounts')));
});

test('a target without its figures is "not measured", never met or not met', () => {
  const only = verdicts([{ name: 'p99-1kb-ms', column: 'kirsa', value: 1 }]);
  assert.ok(only.every((verdict) => verdict.met === undefined));
  assert.match(verdictLine(only[2]!), /^not measured /);
  assert.match(verdictLine({ target: 't', measured: 'm', met: false }), /^NOT met /);
});

test('figures recorded by separate processes come back as one table, with a column per server measured', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-figures-'));
  const file = join(dir, 'figures.jsonl');
  const before = process.env.KIRSA_BENCH_FIGURES;
  process.env.KIRSA_BENCH_FIGURES = file;
  try {
    recordFigures([
      { name: 'rss-idle-mb', column: 'kirsa', value: 50 },
      { name: 'rss-after-load-mb', column: 'kirsa', value: 55 },
    ]);
    recordFigures([{ name: 'rss-idle-mb', column: 'go-floor', value: 5.6 }]);
    const figures = readFigures(file);
    assert.equal(figures.length, 3);
    const table = issueTable(figures);
    assert.match(table[0]!, /^\s+kirsa\s+Go floor$/);
    const after = table.find((line) => line.startsWith('RSS MB after'))!;
    assert.match(after, /55\.0 \(1\.10x idle\)\s+-$/);
  } finally {
    if (before === undefined) delete process.env.KIRSA_BENCH_FIGURES;
    else process.env.KIRSA_BENCH_FIGURES = before;
    await rm(dir, { recursive: true, force: true });
  }
});

test("the CPUs a process may use are read from /proc's list form", () => {
  assert.deepEqual(allowedCpus('0-1,3\n'), [0, 1, 3]);
  assert.deepEqual(allowedCpus('5'), [5]);
  assert.deepEqual(allowedCpus(''), []);
});
