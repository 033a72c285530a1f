// The issuer folder's refusals, on real folders in a temporary directory.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KirsaError } from '../errors.ts';
import { checkInitTarget, initClusterIssuer } from './store.ts';

test('init on a folder that follows a cluster points at publish --from-cluster, not rotate', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'kirsa-store-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  const dir = join(parent, 'issuer');
  await initClusterIssuer({
    dir,
    issuer: 'https://issuer.example/cluster',
    jwksPath: 'keys.json',
    discovery: '{}',
    jwks: '{"keys":[]}',
  });
  const refusal = await checkInitTarget(dir).then(
    () => assert.fail('a second init was accepted'),
    (error: KirsaError) => error,
  );
  assert.equal(refusal.code, 'ISSUER_EXISTS');
  assert.match(refusal.hint ?? '', /issuer publish --from-cluster/);
  assert.doesNotMatch(refusal.hint ?? '', /rotate/);
});
