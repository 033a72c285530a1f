import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { terminalWrites } from '../../test/support/terminal-writes.ts';
import { ISSUER_FILES } from '../issuer/store.ts';
import { createIssuerFolder } from './issuer-init.ts';
import { readIssuerStatus, rotateIssuerKeys } from './issuer-keys.ts';

const root = await mkdtemp(join(tmpdir(), 'kirsa-wf-init-'));
after(() => rm(root, { recursive: true, force: true }));

describe('issuer init and rotate as workflows', () => {
  const dir = join(root, 'issuer');
  // A port in the issuer URL is allowed but questionable: checkIssuerUrl warns about it.
  const issuerUrl = 'https://issuer.example:8443/c1';

  test('the recorder sees what is written to stderr (else the tests below prove nothing)', async () => {
    const { written } = await terminalWrites(async () => process.stderr.write('kirsa: warning: x\n'));
    assert.deepEqual(written, ['kirsa: warning: x\n']);
  });

  test("the URL's warnings come through warn, nothing is written to the terminal", async () => {
    const warnings: string[] = [];
    const { result, written } = await terminalWrites(() =>
      createIssuerFolder(
        { dir, issuerUrl, jwksPath: 'openid/v1/jwks', legacyEmptyKid: false },
        { warn: (line) => warnings.push(line) },
      ),
    );
    assert.deepEqual(written, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^--issuer-url https:\/\/issuer\.example:8443\/c1: /);
    assert.equal(result.issuer, issuerUrl);
    const jwks = JSON.parse(await readFile(join(dir, ISSUER_FILES.jwks), 'utf8')) as {
      keys: Array<{ kid: string }>;
    };
    assert.deepEqual(
      jwks.keys.map((key) => key.kid),
      [result.kid],
    );
  });

  test('a rotation step returns the key it moved, and the status reads it back', async () => {
    const staged = await rotateIssuerKeys({ dir, step: 'stage', maxTokenLifetime: 0 });
    assert.equal(staged.step, 'stage');
    const promoted = await rotateIssuerKeys({ dir, step: 'promote', maxTokenLifetime: 0 });
    assert.equal(promoted.step === 'promote' && promoted.active.generation, 2);
    const { state, clusterKids } = await readIssuerStatus(dir);
    assert.equal(clusterKids, undefined, 'a folder with its own keys lists them, not a cluster JWKS');
    assert.deepEqual(
      state.keys.map((key) => [key.generation, key.stage]),
      [
        [1, 'previous'],
        [2, 'active'],
      ],
    );
  });
});
