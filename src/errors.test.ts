import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
    assert.equal(new KirsaError('USAGE', 'x').exitCode, 2);
    assert.equal(new KirsaError('KUBE_REJECTED', 'x').exitCode, 2);
    assert.equal(new KirsaError('PORT_IN_USE', 'x').exitCode, 1);
    assert.equal(new KirsaError('AWS_ACCESS_DENIED', 'x').category, 'PERMISSION');
  });
});
