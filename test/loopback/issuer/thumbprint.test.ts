// kirsa issuer thumbprint against a local TLS server serving root -> intermediate -> leaf: the hash must be
// of the top certificate served (the intermediate, as AWS defines it), computed here independently with
// `openssl x509 -fingerprint -sha1`; and when a server also sends its root, of the root.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type IssuerServer, startIssuerServer } from '../../../src/issuer/server.ts';
import { freePort } from '../../support/processes.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { type CertificateChain, makeCertificateChain } from '../../support/tls.ts';

function opensslSha1(certificateFile: string): string {
  const output = execFileSync(
    'openssl',
    ['x509', '-in', certificateFile, '-fingerprint', '-sha1', '-noout'],
    {
      encoding: 'utf8',
    },
  );
  return output.replace(/^.*=/, '').replace(/:/g, '').trim().toLowerCase();
}

let work: string;
let chain: CertificateChain;
const servers: IssuerServer[] = [];

async function serveIssuer(certificatePem: string): Promise<string> {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const dir = join(work, `issuer-${port}`);
  const init = await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
  servers.push(await startIssuerServer({ dir, port, tlsCert: certificatePem, tlsKey: chain.leaf.keyPem }));
  return issuer;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-thumbprint-'));
  chain = await makeCertificateChain({ hosts: ['127.0.0.1'] });
});

after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await chain?.cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('kirsa issuer thumbprint', () => {
  test('hashes the top certificate served (the intermediate), not the leaf or the unsent root', async () => {
    const issuer = await serveIssuer(chain.servedChainPem);
    const result = await runKirsa(['issuer', 'thumbprint', issuer, '--ca-file', chain.root.certFile]);
    assert.equal(result.code, 0, result.stderr);
    const expected = opensslSha1(chain.intermediate.certFile);
    assert.equal(result.stdout.trim(), expected);
    assert.notEqual(expected, opensslSha1(chain.leaf.certFile));
    assert.notEqual(expected, opensslSha1(chain.root.certFile));
    assert.match(result.stderr, /hashed the top certificate: CN=kirsa test intermediate/);
    assert.match(result.stderr, /no public CA signs this chain, so AWS relies on this thumbprint/);
  });

  test('a server that also sends its root gets the root hashed (the last certificate sent)', async () => {
    const issuer = await serveIssuer(chain.servedChainPem + chain.root.certPem);
    const result = await runKirsa(['issuer', 'thumbprint', issuer, '--ca-file', chain.root.certFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), opensslSha1(chain.root.certFile));
  });

  test('without the CA the discovery fetch is refused, with the --ca-file hint', async () => {
    const issuer = await serveIssuer(chain.servedChainPem);
    const result = await runKirsa(['issuer', 'thumbprint', issuer]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^kirsa: GET .*openid-configuration: /m);
    assert.match(result.stderr, /hint: .*--ca-file/);
    assert.match(result.stderr, /^ {2}code: ISSUER_UNREACHABLE$/m);
  });
});
