import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { compileGlob, globMatches, type MatchSteps } from './glob.ts';

/** The regular expression the mapping used to build from a glob: right answers, exponential time. */
function referenceRegExp(glob: string): RegExp {
  const escaped = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

/** A second, obviously right matcher for larger inputs: dynamic programming over (pattern, text) prefixes. */
function referenceDp(pattern: string, text: string): boolean {
  let row = [true, ...Array.from(text, () => false)];
  for (const char of pattern) {
    const next = [char === '*' && row[0]!];
    for (let j = 1; j <= text.length; j++)
      next[j] = char === '*' ? row[j]! || next[j - 1]! : row[j - 1]! && text[j - 1] === char;
    row = next;
  }
  return row[text.length]!;
}

describe('namespace globs', () => {
  test('the same answers as the reference regular expression, on small generated inputs', () => {
    // A small alphabet so that stars, repeats and near-misses are common; regex special characters too.
    const char = fc.constantFrom('a', 'b', '-', '.', '*');
    fc.assert(
      fc.property(
        fc.array(char, { maxLength: 10 }).map((chars) => chars.join('')),
        fc.array(fc.constantFrom('a', 'b', '-', '.'), { maxLength: 14 }).map((chars) => chars.join('')),
        (pattern, namespace) => {
          assert.equal(
            globMatches(compileGlob(pattern), namespace),
            referenceRegExp(pattern).test(namespace),
            `${JSON.stringify(pattern)} against ${JSON.stringify(namespace)}`,
          );
        },
      ),
      { numRuns: 20_000 },
    );
  });

  test('examples: literal, prefix, suffix, inner and repeated stars', () => {
    const cases: Array<[string, string, boolean]> = [
      ['team-a', 'team-a', true],
      ['team-a', 'team-ab', false],
      ['team-*', 'team-', true],
      ['team-*', 'team', false],
      ['*-prod', 'shop-prod', true],
      ['*-prod-*', 'a-prod-b', true],
      ['*-prod-*', 'a-prod', false],
      ['a**b', 'ab', true],
      ['*', '', true],
      ['ab*ba', 'aba', false],
      ['a*a*a', 'aaa', true],
      ['a*a*a', 'aa', false],
    ];
    for (const [pattern, namespace, expected] of cases)
      assert.equal(globMatches(compileGlob(pattern), namespace), expected, `${pattern} ~ ${namespace}`);
  });

  test('the work is linear: at most 2 comparisons per namespace character plus the pattern, whatever the stars', () => {
    // The shapes that make a backtracking matcher explode: many stars, pieces that almost match everywhere.
    const namespaces = [
      'a'.repeat(63),
      `${'a'.repeat(62)}b`,
      'ab'.repeat(31),
      `${'a'.repeat(31)}-${'b'.repeat(31)}`,
    ];
    const patterns = [
      `${'*a'.repeat(7)}*b`,
      `${'a*'.repeat(30)}c`,
      `*${'aab*'.repeat(20)}`,
      `${'*'.repeat(5000)}a${'*'.repeat(5000)}`,
      `*${'a'.repeat(40)}b*`,
      `*${'ab'.repeat(15)}a*`,
    ];
    for (const pattern of patterns) {
      const glob = compileGlob(pattern);
      for (const namespace of namespaces) {
        const steps: MatchSteps = { count: 0 };
        const matched = globMatches(glob, namespace, steps);
        assert.equal(matched, referenceDp(pattern, namespace), `${pattern.slice(0, 30)} on ${namespace}`);
        const bound = 2 * namespace.length + pattern.replaceAll('*', '').length;
        assert.ok(steps.count <= bound, `${pattern.slice(0, 30)} on ${namespace}: ${steps.count} > ${bound}`);
      }
    }
  });

  // The regular expression took 7 s for 7 stars on this input, and thousands of stars never finished. The
  // lookups run in a worker so that a catastrophic matcher, which blocks its thread, can be stopped: the
  // deadline only catches that catastrophe (the linear matcher answers in milliseconds), it measures nothing.
  test('mapping entries with 7 and 2,500 stars, looked up for a 63-character namespace', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      Promise.all([import(workerData.module), import(workerData.reader)]).then(([{ lookupMapping }, { parseIdentityMapping }]) => {
        const role = { RoleARN: 'arn:aws:iam::111122223333:role/x' };
        const answers = workerData.patterns.map((pattern) => {
          const { mapping, problems } = parseIdentityMapping(JSON.stringify({ [pattern + '/app']: role }));
          return [problems.length, ...workerData.namespaces.map((ns) => lookupMapping(mapping, ns, 'app')?.key ?? null)];
        });
        parentPort.postMessage(answers);
      });`;
    const seven = `${'*a'.repeat(7)}*b`;
    const many = `${'*a'.repeat(2500)}*b`;
    const namespaces = ['a'.repeat(63), `${'a'.repeat(62)}b`];
    const worker = new Worker(code, {
      eval: true,
      workerData: {
        module: new URL('./identity.ts', import.meta.url).href,
        reader: new URL('./mapping-reader.ts', import.meta.url).href,
        patterns: [seven, many],
        namespaces,
      },
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const answers = await Promise.race([
        once(worker, 'message').then(([message]) => message),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer in 10 s: the match backtracks')), 10_000);
        }),
      ]);
      assert.deepEqual(answers, [
        [0, null, `${seven}/app`],
        [0, null, null],
      ]);
    } finally {
      clearTimeout(timer);
      await worker.terminate();
    }
  });
});
