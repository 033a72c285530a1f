// Finding 16 of the hardening issue: `kirsa issuer init --dir ro/a/b` on a read-only mount said ENOENT for
// ro/a/b, a folder that was never the problem. Run as a user would, inside a mount namespace of its own
// where `ro` is a read-only bind mount (unshare needs root; the test skips otherwise): the error names the
// folder that could not be made (ro/a) and the cause (EROFS), with the PERMISSION exit code and its hint.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KIRSA_BIN } from '../../support/run-kirsa.ts';

function mountNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--mount', 'true']).status === 0;
}

test('finding 16: issuer init on a read-only mount names the folder and the cause', async (t) => {
  if (!mountNamespaces()) return t.skip('needs root and unshare --mount');
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-ro-'));
  try {
    await mkdir(join(dir, 'ro'));
    const script = `mount --bind -o ro ro ro && exec "$@"`;
    const child = spawn(
      'unshare',
      [
        '--mount',
        'sh',
        '-c',
        script,
        'sh',
        process.execPath,
        KIRSA_BIN,
        'issuer',
        'init',
        '--issuer-url',
        'https://issuer.example.com/cluster',
        '--dir',
        'ro/a/b',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.notEqual(code, 0);
    assert.match(stderr, /EROFS/);
    assert.match(stderr, /'ro\/a'/);
    assert.doesNotMatch(stderr, /ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
