// kirsa issuer serve (a process) and kirsa issuer verify (a process) end to end over real HTTPS with a test
// CA; startIssuerServer in-process for what a process cannot show (rotation visible without restart).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importPKCS8, SignJWT } from 'jose';
import { startIssuerServer } from '../../../src/issuer/server.ts';
import { verifyIssuer } from '../../../src/issuer/verify.ts';
import { freePort } from '../../support/processes.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';

async function signToken(
  keyFile: string,
  kid: string,
  claims: { iss: string; aud: string; expiresIn?: string | number },
): Promise<string> {
  const key = await importPKCS8(await readFile(keyFile, 'utf8'), 'RS256');
  return new SignJWT({ sub: 'system:serviceaccount:default:app' })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(claims.iss)
    .setAudience(claims.aud)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '10m')
    .sign(key);
}

let work: string;
let tls: ServingCertificate;
let issuer: string;
let dir: string;
let serve: ChildProcess;
let kid: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-serve-verify-'));
  tls = await makeServingCertificate({ hosts: ['127.0.0.1'] });
  const port = await freePort();
  issuer = `https://127.0.0.1:${port}/cluster-1`;
  dir = join(work, 'issuer');
  const init = await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stderr, /IAM refuses issuer URLs with a port/);
  kid = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8')).keys[0].kid;
  serve = spawn(
    process.execPath,
    [KIRSA_BIN, 'issuer', 'serve', '--dir', dir, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  serve.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    serve.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('serving ')) resolve();
    });
    serve.once('exit', (code) => reject(new Error(`kirsa issuer serve exited ${code}: ${output}`)));
  });
});

after(async () => {
  if (serve && serve.exitCode === null) {
    const exited = once(serve, 'exit');
    serve.kill('SIGTERM');
    await exited;
  }
  await tls?.cleanup();
  await rm(work, { recursive: true, force: true });
});

/** `kirsa issuer verify` of a token against the served issuer, trusting the test CA. */
function verifyToken(tokenFile: string, audience?: string) {
  return runKirsa([
    'issuer',
    'verify',
    issuer,
    '--ca-file',
    tls.caFile,
    '--token',
    tokenFile,
    ...(audience ? ['--audience', audience] : []),
  ]);
}

describe('kirsa issuer serve + kirsa issuer verify over HTTPS', () => {
  test('verify passes every STS check with the test CA', async () => {
    const result = await runKirsa(['issuer', 'verify', issuer, '--ca-file', tls.caFile]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`ok   issuer is exactly ${issuer.replace(/[.]/g, '\\.')}`));
    assert.match(result.stdout, /ok {3}JWKS: .* is anonymously readable over HTTPS/);
    assert.doesNotMatch(result.stdout, /FAIL/);
  });

  test('without the test CA the certificate is refused, as STS would refuse it', async () => {
    const result = await runKirsa(['issuer', 'verify', issuer]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL discovery: GET .*certificate/i);
    assert.match(result.stdout, /--ca-file/);
  });

  test('a token signed with sa-signer.key passes: signature, iss, aud, exp, kid', async () => {
    const tokenFile = join(work, 'good.jwt');
    await writeFile(
      tokenFile,
      await signToken(join(dir, 'sa-signer.key'), kid, { iss: issuer, aud: 'sts.amazonaws.com' }),
    );
    const result = await verifyToken(tokenFile, 'sts.amazonaws.com');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /ok {3}the signature verifies/);
    assert.match(result.stdout, new RegExp(`ok   kid ${kid} is in the JWKS`));
    assert.match(result.stdout, /accept this token/);
  });

  test('wrong audience, expired, foreign key and wrong issuer are each named', async () => {
    const cases: Array<{ name: string; token: () => Promise<string>; expect: RegExp }> = [
      {
        name: 'audience',
        token: () => signToken(join(dir, 'sa-signer.key'), kid, { iss: issuer, aud: 'amazonaws.com' }),
        expect: /FAIL aud .*Incorrect token audience/,
      },
      {
        name: 'expired',
        token: () =>
          signToken(join(dir, 'sa-signer.key'), kid, {
            iss: issuer,
            aud: 'sts.amazonaws.com',
            expiresIn: Math.floor(Date.now() / 1000) - 600,
          }),
        expect: /FAIL the token expired/,
      },
      {
        name: 'issuer',
        token: () =>
          signToken(join(dir, 'sa-signer.key'), kid, { iss: `${issuer}/`, aud: 'sts.amazonaws.com' }),
        expect: /FAIL iss is/,
      },
    ];
    for (const testCase of cases) {
      const tokenFile = join(work, `${testCase.name}.jwt`);
      await writeFile(tokenFile, await testCase.token());
      const result = await verifyToken(tokenFile, 'sts.amazonaws.com');
      assert.equal(result.code, 1, testCase.name);
      assert.match(result.stdout, testCase.expect, testCase.name);
    }
    // Signed by a key the issuer never published: both the kid and the signature fail.
    const other = join(work, 'other-issuer');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', other])).code, 0);
    const otherKid = JSON.parse(await readFile(join(other, 'keys.json'), 'utf8')).keys[0].kid;
    const tokenFile = join(work, 'foreign.jwt');
    await writeFile(
      tokenFile,
      await signToken(join(other, 'sa-signer.key'), otherKid, { iss: issuer, aud: 'sts.amazonaws.com' }),
    );
    const result = await verifyToken(tokenFile);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL the signature does not verify/);
    assert.match(result.stdout, new RegExp(`FAIL kid ${otherKid} is not in the published JWKS`));
  });
});

describe('startIssuerServer (in-process)', () => {
  test('serves the current files, so a staged key is visible at once; unknown paths are 404', async () => {
    const inner = join(work, 'inner');
    const port = await freePort();
    const innerIssuer = `https://127.0.0.1:${port}`;
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', innerIssuer, '--dir', inner])).code, 0);
    const server = await startIssuerServer({ dir: inner, port, tlsCert: tls.certPem, tlsKey: tls.keyPem });
    try {
      assert.equal(server.url, innerIssuer);
      const ca = [tls.caPem];
      const first = await verifyIssuer({ issuer: innerIssuer, ca, now: new Date() });
      assert.ok(first.ok, JSON.stringify(first.checks));
      assert.equal((first.jwks as { keys: unknown[] }).keys.length, 1);
      assert.equal((await runKirsa(['issuer', 'rotate', '--dir', inner])).code, 0);
      const second = await verifyIssuer({ issuer: innerIssuer, ca, now: new Date() });
      assert.equal((second.jwks as { keys: unknown[] }).keys.length, 2);
      const mismatch = await verifyIssuer({ issuer: `${innerIssuer}/elsewhere`, ca, now: new Date() });
      assert.equal(mismatch.ok, false);
      assert.match(mismatch.checks.at(-1)!.message, /answered 404/);
    } finally {
      await server.close();
    }
  });
});
