import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KirsaError } from '../errors.ts';
import { collectorFlagsForCpus, V8_FLAGS_WHEN_LISTENING, v8FlagsWhenListening } from './v8-flags.ts';

test('the flags to set once listening: V8 flags separated by spaces, none when unset or empty', () => {
  assert.deepEqual(v8FlagsWhenListening({}), []);
  assert.deepEqual(v8FlagsWhenListening({ [V8_FLAGS_WHEN_LISTENING]: '  ' }), []);
  assert.deepEqual(
    v8FlagsWhenListening({ [V8_FLAGS_WHEN_LISTENING]: ' --invocation-count-for-maglev=400  --no-maglev ' }),
    ['--invocation-count-for-maglev=400', '--no-maglev'],
  );
});

test('anything that is not a V8 flag is refused with the variable named', () => {
  for (const bad of ['maglev', '-x', '--', '--Upper', '--a=', '--a;b']) {
    assert.throws(
      () => v8FlagsWhenListening({ [V8_FLAGS_WHEN_LISTENING]: `--max-opt=2 ${bad}` }),
      (error: unknown) =>
        error instanceof KirsaError &&
        error.code === 'FLAG_INVALID' &&
        error.message.includes(V8_FLAGS_WHEN_LISTENING) &&
        error.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test('one CPU (or a limit under one) keeps the collector on the main thread; two or more keep V8 default', () => {
  const mainThreadOnly = ['--no-concurrent-marking', '--no-parallel-scavenge'];
  assert.deepEqual(collectorFlagsForCpus(1), mainThreadOnly);
  assert.deepEqual(collectorFlagsForCpus(0.5), mainThreadOnly);
  assert.deepEqual(collectorFlagsForCpus(0), mainThreadOnly);
  for (const cpus of [1.5, 2, 3, 64]) assert.deepEqual(collectorFlagsForCpus(cpus), [], String(cpus));
});

test('a collector flag named in the environment, either way, is left as named; the other is still set', () => {
  for (const named of [['--concurrent-marking'], ['--max-opt=2', '--no-concurrent-marking']])
    assert.deepEqual(collectorFlagsForCpus(1, named), ['--no-parallel-scavenge'], named.join(' '));
  for (const named of [['--parallel-scavenge'], ['--no-parallel-scavenge']])
    assert.deepEqual(collectorFlagsForCpus(1, named), ['--no-concurrent-marking'], named.join(' '));
  assert.deepEqual(collectorFlagsForCpus(1, ['--concurrent-marking', '--parallel-scavenge']), []);
  // A flag that only starts with the same words is another flag.
  assert.deepEqual(collectorFlagsForCpus(1, ['--concurrent-marking-max-worker-num=1']), [
    '--no-concurrent-marking',
    '--no-parallel-scavenge',
  ]);
});
