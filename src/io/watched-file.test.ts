// File watching on real files: a rewrite, a rename over, a ConfigMap volume's `..data` symlink swap, a
// deletion; and no callback when only the timestamp changes.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FileContents, watchFiles } from './watched-file.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-watched-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recorder() {
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  return {
    seen,
    onContents(contents: FileContents) {
      seen.push(
        contents.map((content) => (content === undefined ? '<missing>' : content.toString())).join('|'),
      );
      wake?.();
    },
    /** Resolves when the callback count reaches n (the poll or fs.watch may fire first). */
    until(n: number, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`saw ${JSON.stringify(seen)}, wanted ${n} calls`)),
          timeoutMs,
        );
        const check = () => {
          if (seen.length >= n) {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          }
        };
        wake = check;
        check();
      });
    },
  };
}

test('calls back at start and on each real change of either file, not on a touch', async () => {
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  await writeFile(a, 'one');
  await writeFile(b, 'key');
  const record = recorder();
  const watched = await watchFiles({
    paths: [a, b],
    onContents: record.onContents,
    onError: assert.fail,
    pollMs: 100,
  });
  try {
    assert.deepEqual(record.seen, ['one|key']);
    await writeFile(a, 'two');
    await record.until(2);
    await writeFile(join(dir, 'b.next'), 'new key');
    await rename(join(dir, 'b.next'), b);
    await record.until(3);
    const later = new Date(Date.now() + 5000);
    await utimes(a, later, later);
    await watched.check();
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(record.seen, ['one|key', 'two|key', 'two|new key']);
    await rm(a);
    await record.until(4);
    assert.equal(record.seen[3], '<missing>|new key');
  } finally {
    watched.close();
  }
});

test('follows a ConfigMap volume symlink swap', async () => {
  const volume = join(dir, 'volume');
  await mkdir(join(volume, '..v1'), { recursive: true });
  await writeFile(join(volume, '..v1', 'config'), 'first');
  await symlink('..v1', join(volume, '..data'));
  await symlink('..data/config', join(volume, 'config'));
  const record = recorder();
  const watched = await watchFiles({
    paths: [join(volume, 'config')],
    onContents: record.onContents,
    onError: assert.fail,
    pollMs: 10_000, // long: the directory watch alone must catch the swap
  });
  try {
    assert.deepEqual(record.seen, ['first']);
    await mkdir(join(volume, '..v2'));
    await writeFile(join(volume, '..v2', 'config'), 'second');
    await symlink('..v2', join(volume, '..data_tmp'));
    await rename(join(volume, '..data_tmp'), join(volume, '..data'));
    await record.until(2);
    assert.deepEqual(record.seen, ['first', 'second']);
  } finally {
    watched.close();
  }
});

test('a throwing callback is reported, and the next change is delivered', async () => {
  const file = join(dir, 'c.txt');
  await writeFile(file, 'bad');
  const errors: unknown[] = [];
  const record = recorder();
  const watched = await watchFiles({
    paths: [file],
    onContents(contents) {
      record.onContents(contents);
      if (contents[0]?.toString() === 'bad') throw new Error('cannot parse');
    },
    onError: (error) => errors.push(error),
    pollMs: 100,
  });
  try {
    assert.equal(errors.length, 1);
    await writeFile(file, 'good');
    await record.until(2);
    assert.deepEqual(record.seen, ['bad', 'good']);
  } finally {
    watched.close();
  }
});
