import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ERROR_CATALOGUE, KirsaError, type KirsaErrorCode } from './errors.ts';

describe('the error catalogue', () => {
  test('docs/errors.md lists every code with its category, exit code and meaning, and nothing else', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| ([A-Z_]+) \| (\d) \| (.+) \|$/gm)].map((m) =>
      m.slice(1, 5),
    );
    const expected = Object.entries(ERROR_CATALOGUE).map(([code, entry]) => [
      code,
      entry.category,
      String(new KirsaError(code as KirsaErrorCode, '').exitCode),
      entry.meaning,
    ]);
    assert.deepEqual(rows, expected);
  });

  test('input the user must fix exits 2, everything else 1', () => {
    assert.equal(new KirsaError('FLAG_INVALID', 'x').exitCode, 2);
    assert.equal(new KirsaError('FILE_UNREADABLE', 'x').exitCode, 2);
    assert.equal(new KirsaError('KUBE_REJECTED', 'x').exitCode, 2);
    assert.equal(new KirsaError('PORT_IN_USE', 'x').exitCode, 1);
    assert.equal(new KirsaError('AWS_ACCESS_DENIED', 'x').category, 'PERMISSION');
  });

  // A bare category name says only what kind of failure it was, not what failed, so a script cannot branch
  // on it. Every failure kirsa raises names a specific code; USAGE (Commander's own parse errors) and
  // INTERNAL (a crash) are reported by src/cli/main.ts alone. Category names may still be compared as
  // categories (`error.category === 'UNREACHABLE'`).
  test('no code in src/ is a bare category name', () => {
    const categories =
      'USAGE|INPUT_UNREADABLE|INPUT_INVALID|ALREADY_EXISTS|NOT_FOUND|PERMISSION|UNREACHABLE|CHECK_FAILED|DENIED|INTERNAL';
    const bare = new RegExp(`(?<!category\\s*(?:===|!==|:)\\s*)'(?:${categories})'`, 'g');
    const root = new URL('./', import.meta.url);
    const found: string[] = [];
    for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      if (
        !file.endsWith('.ts') ||
        file.endsWith('.test.ts') ||
        file === 'errors.ts' ||
        file === 'cli/main.ts'
      )
        continue;
      const lines = readFileSync(new URL(file, root), 'utf8').split('\n');
      lines.forEach((line, index) => {
        for (const match of line.matchAll(bare)) found.push(`src/${file}:${index + 1}: ${match[0]}`);
      });
    }
    assert.deepEqual(found, [], 'give these failures a specific code in ERROR_CATALOGUE');
  });
});
