import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { terminalWrites } from '../../test/support/terminal-writes.ts';
import { createIssuerFolder } from './issuer-init.ts';
import { serveIssuer } from './issuer-serve.ts';

const root = await mkdtemp(join(tmpdir(), 'kirsa-wf-serve-'));
after(() => rm(root, { recursive: true, force: true }));

describe('issuer serve as a workflow', () => {
  test('without a certificate: the development-CA warning comes through warn, the server is returned', async () => {
    const dir = join(root, 'issuer');
    await createIssuerFolder(
      { dir, issuerUrl: 'https://127.0.0.1/c1', jwksPath: 'openid/v1/jwks', legacyEmptyKid: false },
      { warn: () => {} },
    );
    const warnings: string[] = [];
    const { result, written } = await terminalWrites(() =>
      serveIssuer({ dir, port: 0, host: '127.0.0.1' }, { warn: (line) => warnings.push(line) }),
    );
    try {
      assert.deepEqual(written, []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /development CA for 127\.0\.0\.1; clients need --ca-file .*serve-tls/);
      assert.equal(result.issuer, 'https://127.0.0.1/c1');
      assert.match(result.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await result.server.close();
    }
  });

  test('a certificate without its key is refused before the folder is read', async () => {
    await assert.rejects(
      serveIssuer({ dir: join(root, 'none'), host: '127.0.0.1', tlsCert: 'cert.pem' }, { warn: () => {} }),
      { code: 'FLAG_REQUIRED' },
    );
  });
});
