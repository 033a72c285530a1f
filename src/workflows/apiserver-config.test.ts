import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { terminalWrites } from '../../test/support/terminal-writes.ts';
import { type ApiserverConfigRequest, apiserverConfigFor } from './apiserver-config.ts';
import { createIssuerFolder } from './issuer-init.ts';

const root = await mkdtemp(join(tmpdir(), 'kirsa-wf-apiserver-'));
after(() => rm(root, { recursive: true, force: true }));
const dir = join(root, 'issuer');
await createIssuerFolder(
  { dir, issuerUrl: 'https://issuer.example/c1', jwksPath: 'openid/v1/jwks', legacyEmptyKid: false },
  { warn: () => {} },
);

const request: ApiserverConfigRequest = {
  distribution: 'flags',
  dir,
  audience: [],
  previousIssuer: [],
  kopsPlainContent: false,
  keepCurrentIssuer: true,
  currentKeyFile: [],
};

async function configFor(changes: Partial<ApiserverConfigRequest>) {
  const notes: string[] = [];
  const warnings: string[] = [];
  const { result, written } = await terminalWrites(() =>
    apiserverConfigFor(
      { ...request, ...changes },
      { note: (line) => notes.push(line), warn: (line) => warnings.push(line) },
    ),
  );
  assert.deepEqual(written, [], 'the workflow writes nothing to the terminal');
  return { config: result, notes, warnings };
}

describe('apiserver-config as a workflow', () => {
  test("the cluster's current issuer, kept: a note, and it is a previous issuer in the flags", async () => {
    const { config, notes, warnings } = await configFor({ currentIssuer: 'https://kubernetes.default.svc' });
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /current issuer https:\/\/kubernetes\.default\.svc is kept/);
    assert.deepEqual(warnings, []);
    assert.ok(config.text.split('\n').includes('--service-account-issuer=https://kubernetes.default.svc'));
  });

  test('dropped on request, and sts.amazonaws.com as an API audience: warnings, not notes', async () => {
    const { notes, warnings } = await configFor({
      currentIssuer: 'https://kubernetes.default.svc',
      keepCurrentIssuer: false,
      audience: ['sts.amazonaws.com'],
    });
    assert.deepEqual(notes, []);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^--no-keep-current-issuer: /);
    assert.match(warnings[1]!, /^--audience sts\.amazonaws\.com would make/);
  });

  test('an --issuer-url other than the folder is refused', async () => {
    await assert.rejects(configFor({ issuerUrl: 'https://other.example/c1' }), {
      code: 'ISSUER_URL_MISMATCH',
    });
  });
});
