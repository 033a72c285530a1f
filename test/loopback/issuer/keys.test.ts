// kirsa issuer init / jwks / rotate / status as processes, checked against independent implementations:
// the openssl CLI computes the kid, jose signs and verifies a JWT with the files kirsa wrote.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createLocalJWKSet, importPKCS8, jwtVerify, SignJWT } from 'jose';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

const run = promisify(execFile);
const ISSUER = 'https://bucket.s3.eu-west-1.amazonaws.com/cluster-1';

/** kube-apiserver's kid, computed by openssl: SHA-256 of the DER SPKI, base64url without padding. */
function opensslKid(publicKeyFile: string): string {
  const der = execFileSync('openssl', ['pkey', '-pubin', '-in', publicKeyFile, '-outform', 'DER']);
  const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
  return digest.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

interface JwksFile {
  keys: Array<{ kid: string; alg: string; use: string }>;
}

interface DiscoveryFile {
  issuer: string;
  jwks_uri: string;
  id_token_signing_alg_values_supported: string[];
}

async function readJson<T = JwksFile>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-issuer-keys-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('kirsa issuer init', () => {
  let dir: string;
  before(async () => {
    dir = join(work, 'issuer');
    const result = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
  });

  test('writes the key pair with the private half at 0600, and the two documents', async () => {
    assert.equal((await stat(join(dir, 'sa-signer.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'keys/sa-signer-1.key'))).mode & 0o777, 0o600);
    assert.match(await readFile(join(dir, 'sa-signer.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
    const { stdout } = await run('openssl', ['rsa', '-in', join(dir, 'sa-signer.key'), '-noout', '-text']);
    assert.match(stdout, /Private-Key: \(2048 bit/);
    const discovery = await readJson<DiscoveryFile>(join(dir, 'discovery.json'));
    assert.equal(discovery.issuer, ISSUER);
    assert.equal(discovery.jwks_uri, `${ISSUER}/keys.json`);
    assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256']);
  });

  test('the JWKS kid equals the kid openssl computes from the public key', async () => {
    const jwks = await readJson(join(dir, 'keys.json'));
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.kid, opensslKid(join(dir, 'sa-signer.pub')));
    assert.equal(jwks.keys[0]!.alg, 'RS256');
    assert.equal(jwks.keys[0]!.use, 'sig');
  });

  test('a JWT signed with sa-signer.key verifies against keys.json', async () => {
    const jwks = await readJson(join(dir, 'keys.json'));
    const key = await importPKCS8(await readFile(join(dir, 'sa-signer.key'), 'utf8'), 'RS256');
    const token = await new SignJWT({ sub: 'system:serviceaccount:default:app' })
      .setProtectedHeader({ alg: 'RS256', kid: jwks.keys[0]!.kid })
      .setIssuer(ISSUER)
      .setAudience('sts.amazonaws.com')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
    const { payload } = await jwtVerify(
      token,
      createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]),
      {
        issuer: ISSUER,
        audience: 'sts.amazonaws.com',
      },
    );
    assert.equal(payload.sub, 'system:serviceaccount:default:app');
  });

  test('refuses to overwrite, says how to rotate, and changes nothing', async () => {
    const before = await readFile(join(dir, 'sa-signer.key'), 'utf8');
    const result = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ {2}code: ISSUER_EXISTS$/m);
    assert.match(result.stderr, /hint: .*kirsa issuer rotate/);
    assert.equal(await readFile(join(dir, 'sa-signer.key'), 'utf8'), before);
  });
});

describe('kirsa issuer init with options', () => {
  test('--jwks-path and --legacy-empty-kid', async () => {
    const dir = join(work, 'kops-style');
    const result = await runKirsa([
      'issuer',
      'init',
      '--issuer-url',
      ISSUER,
      '--dir',
      dir,
      '--jwks-path',
      'openid/v1/jwks',
      '--legacy-empty-kid',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      (await readJson<DiscoveryFile>(join(dir, 'discovery.json'))).jwks_uri,
      `${ISSUER}/openid/v1/jwks`,
    );
    const kids = (await readJson(join(dir, 'keys.json'))).keys.map((key: { kid: string }) => key.kid);
    assert.deepEqual(kids, [opensslKid(join(dir, 'sa-signer.pub')), '']);
  });

  test('--signing-key reuses an existing key (e.g. kubeadm sa.key) with the same kid', async () => {
    const keyFile = join(work, 'existing.key');
    await run('openssl', ['genrsa', '-out', keyFile, '2048']);
    const publicFile = join(work, 'existing.pub');
    await run('openssl', ['rsa', '-in', keyFile, '-pubout', '-out', publicFile]);
    const dir = join(work, 'reused');
    const result = await runKirsa([
      'issuer',
      'init',
      '--issuer-url',
      ISSUER,
      '--dir',
      dir,
      '--signing-key',
      keyFile,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await readJson(join(dir, 'keys.json'))).keys[0]!.kid, opensslKid(publicFile));
  });
});

describe('kirsa issuer jwks', () => {
  test('builds one JWKS from several PEM files, public or private', async () => {
    const files = [join(work, 'a.key'), join(work, 'b.key')];
    for (const file of files) await run('openssl', ['genrsa', '-out', file, '2048']);
    const publicB = join(work, 'b.pub');
    await run('openssl', ['rsa', '-in', files[1]!, '-pubout', '-out', publicB]);
    const publicA = join(work, 'a.pub');
    await run('openssl', ['rsa', '-in', files[0]!, '-pubout', '-out', publicA]);
    const result = await runKirsa(['issuer', 'jwks', '--public-key', files[0]!, '--public-key', publicB]);
    assert.equal(result.code, 0, result.stderr);
    const jwks = JSON.parse(result.stdout);
    assert.deepEqual(
      jwks.keys.map((key: { kid: string }) => key.kid),
      [opensslKid(publicA), opensslKid(publicB)],
    );
  });
});

describe('rotation through the CLI', () => {
  // kill -9 between writing a temporary and renaming it leaves `.name.kirsa-tmp-<hex>` behind, possibly a
  // whole private key at 0600. The leftovers are made here as the writer names them (a real kill -9 lands
  // at a random point and would make the test a lottery); the next run must remove them.
  test('temporaries left by a killed rotate or init are removed by the next run', async () => {
    const dir = join(work, 'killed');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir])).code, 0);
    const privateKey = await readFile(join(dir, 'sa-signer.key'), 'utf8');
    const leftovers = ['keys/.sa-signer-2.key.kirsa-tmp-0a1b2c3d', '.state.json.kirsa-tmp-deadbeef'];
    for (const leftover of leftovers) await writeFile(join(dir, leftover), privateKey, { mode: 0o600 });
    const mine = join(dir, 'keys/notes.kirsa-tmp-not-ours');
    await writeFile(mine, 'a file kirsa did not name\n');
    const rotated = await runKirsa(['issuer', 'rotate', '--dir', dir]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const names = (await readdir(dir, { recursive: true })).map(String);
    assert.deepEqual(
      names.filter((name) => /\.kirsa-tmp-/.test(name)),
      ['keys/notes.kirsa-tmp-not-ours'],
      'only what kirsa named as a temporary is removed',
    );

    const fresh = join(work, 'killed-init');
    const staging = join(work, '.killed-init.kirsa-tmp-12345678');
    await mkdir(join(staging, 'keys'), { recursive: true });
    await writeFile(join(staging, 'keys/sa-signer-1.key'), privateKey, { mode: 0o600 });
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', fresh])).code, 0);
    await assert.rejects(stat(staging), { code: 'ENOENT' });
  });

  test('stage, promote, retire: the JWKS and sa-signer.key follow, and retire waits', async () => {
    const dir = join(work, 'rotating');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir])).code, 0);
    const firstKid = (await readJson(join(dir, 'keys.json'))).keys[0]!.kid;
    const firstSigner = await readFile(join(dir, 'sa-signer.key'), 'utf8');

    const staged = await runKirsa(['issuer', 'rotate', '--dir', dir]);
    assert.equal(staged.code, 0, staged.stderr);
    const afterStage = (await readJson(join(dir, 'keys.json'))).keys.map((key: { kid: string }) => key.kid);
    assert.equal(afterStage.length, 2);
    assert.equal(afterStage[0], firstKid, 'the signer stays first');
    const secondKid = afterStage[1];
    assert.equal(secondKid, opensslKid(join(dir, 'keys/sa-signer-2.pub')));
    assert.equal(await readFile(join(dir, 'sa-signer.key'), 'utf8'), firstSigner, 'staging does not sign');
    const bundle = await readFile(join(dir, 'sa-published.pub'), 'utf8');
    assert.equal(bundle.match(/BEGIN PUBLIC KEY/g)?.length, 2);

    const again = await runKirsa(['issuer', 'rotate', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already staged/);
    assertErrorCode(again.stderr, 'KEY_ALREADY_STAGED');

    const promoted = await runKirsa(['issuer', 'rotate', '--dir', dir, '--promote']);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(
      await readFile(join(dir, 'sa-signer.key'), 'utf8'),
      await readFile(join(dir, 'keys/sa-signer-2.key'), 'utf8'),
    );
    assert.equal(opensslKid(join(dir, 'sa-signer.pub')), secondKid);

    const early = await runKirsa(['issuer', 'rotate', '--dir', dir, '--retire']);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /may be valid until/);
    assertErrorCode(early.stderr, 'RETIRE_TOO_EARLY');
    assert.equal((await readJson(join(dir, 'keys.json'))).keys.length, 2, 'a refused retire changes nothing');

    const status = await runKirsa(['issuer', 'status', '--dir', dir]);
    assert.match(status.stdout, new RegExp(`2  active    ${secondKid}`));
    assert.match(status.stdout, new RegExp(`1  previous  ${firstKid}`));

    const retired = await runKirsa([
      'issuer',
      'rotate',
      '--dir',
      dir,
      '--retire',
      '--max-token-lifetime',
      '0',
    ]);
    assert.equal(retired.code, 0, retired.stderr);
    assert.deepEqual(
      (await readJson(join(dir, 'keys.json'))).keys.map((key: { kid: string }) => key.kid),
      [secondKid],
    );
    const keyFiles = await readdir(join(dir, 'keys'));
    assert.ok(!keyFiles.includes('sa-signer-1.key'), 'the retired private key is deleted');
    assert.ok(!keyFiles.some((name) => name.includes('kirsa-tmp')), 'no temporary files left');
  });
});
