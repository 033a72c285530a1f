// Bad input to the issuer verbs, run as processes: each gives one line saying what is wrong and one hint
// saying what to do, the documented exit code, and leaves no file behind.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { formatJson } from '../../../src/core/oidc/documents.ts';
import { clusterOwnedState } from '../../../src/core/oidc/rotation.ts';
import type { KirsaErrorCode } from '../../../src/errors.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { writeEcKey } from '../../support/tls.ts';

const run = promisify(execFile);
const ISSUER = 'https://issuer.example/cluster-1';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-issuer-errors-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Every file and folder under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

/** A refusal is three lines: the message, the hint, and the catalogue code a script branches on. */
function assertRefusal(stderr: string, code: KirsaErrorCode, message: RegExp, hint: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 3, `expected a message, a hint and a code, got:\n${stderr}`);
  assert.match(lines[0]!, /^kirsa: /);
  assert.match(lines[0]!, message);
  assert.match(lines[1]!, /^ {2}hint: /);
  assert.match(lines[1]!, hint);
  assert.equal(lines[2], `  code: ${code}`);
}

describe('kirsa issuer init refuses bad input and writes nothing', () => {
  const cases: Array<{
    name: string;
    args: () => Promise<string[]>;
    code: number;
    error: KirsaErrorCode;
    message: RegExp;
    hint: RegExp;
  }> = [
    {
      name: 'http issuer',
      args: async () => ['--issuer-url', 'http://issuer.example'],
      code: 2,
      error: 'ISSUER_URL_INVALID',
      message: /it must use https, not http/,
      hint: /public https URL/,
    },
    {
      name: 'issuer with a trailing slash and a query',
      args: async () => ['--issuer-url', 'https://issuer.example/?a=1'],
      code: 2,
      error: 'ISSUER_URL_INVALID',
      message: /query string; it must not end with a slash/,
      hint: /https:\/\//,
    },
    {
      name: 'an S3 bucket with capitals',
      args: async () => ['--issuer-url', 'https://My-Bucket.s3.eu-west-1.amazonaws.com/c1'],
      code: 2,
      error: 'BUCKET_NAME_INVALID',
      message: /bucket "My-Bucket": it has capital letters/,
      hint: /use the lowercase name my-bucket/,
    },
    {
      name: 'a dotted S3 bucket, virtual-hosted',
      args: async () => ['--issuer-url', 'https://my.bucket.s3.eu-west-1.amazonaws.com/c1'],
      code: 2,
      error: 'BUCKET_NAME_INVALID',
      message: /has dots: S3's wildcard certificate does not match/,
      hint: /hyphens instead of dots, the path-style URL https:\/\/s3\.eu-west-1\.amazonaws\.com\/my\.bucket\/c1/,
    },
    {
      name: 'a JWKS path on top of the discovery document',
      args: async () => ['--issuer-url', ISSUER, '--jwks-path', '.well-known/openid-configuration'],
      code: 2,
      error: 'JWKS_PATH_INVALID',
      message: /--jwks-path \.well-known\/openid-configuration is where the discovery document is published/,
      hint: /its own path/,
    },
    {
      name: 'a JWKS path that climbs out of the issuer',
      args: async () => ['--issuer-url', ISSUER, '--jwks-path', '../x'],
      code: 2,
      error: 'JWKS_PATH_INVALID',
      message: /--jwks-path \.\.\/x must be a plain path/,
      hint: /no \. or \.\. segments/,
    },
    {
      name: 'unreadable signing key',
      args: async () => ['--issuer-url', ISSUER, '--signing-key', join(work, 'no-such.key')],
      code: 2,
      error: 'FILE_UNREADABLE',
      message: /cannot read the signing key .*no-such\.key: no such file/,
      hint: /check the path/,
    },
    {
      name: 'non-RSA signing key',
      args: async () => {
        const file = join(work, 'ec.key');
        await writeEcKey(file);
        return ['--issuer-url', ISSUER, '--signing-key', file];
      },
      code: 2,
      error: 'KEY_INVALID',
      message: /ec\.key: EC key; kirsa signs with RSA \(RS256\)/,
      hint: /RSA-2048/,
    },
    {
      name: 'a public key given as the signing key',
      args: async () => {
        const file = join(work, 'rsa.key');
        await run('openssl', ['genrsa', '-out', file, '2048']);
        const publicFile = join(work, 'rsa.pub');
        await run('openssl', ['rsa', '-in', file, '-pubout', '-out', publicFile]);
        return ['--issuer-url', ISSUER, '--signing-key', publicFile];
      },
      code: 2,
      error: 'KEY_INVALID',
      message: /expected exactly one private key/,
      hint: /PEM private key/,
    },
    {
      name: 'garbage key file',
      args: async () => {
        const file = join(work, 'garbage.key');
        await writeFile(file, 'not a key\n');
        return ['--issuer-url', ISSUER, '--signing-key', file];
      },
      code: 2,
      error: 'KEY_INVALID',
      message: /garbage\.key: no PEM key found/,
      hint: /PEM file/,
    },
  ];

  for (const testCase of cases) {
    test(testCase.name, async () => {
      const parent = join(work, testCase.name.replace(/\W+/g, '-'));
      await mkdir(parent);
      const result = await runKirsa([
        'issuer',
        'init',
        ...(await testCase.args()),
        '--dir',
        join(parent, 'issuer'),
      ]);
      assert.equal(result.code, testCase.code, result.stderr);
      assertRefusal(result.stderr, testCase.error, testCase.message, testCase.hint);
      assert.equal(result.stdout, '');
      assert.deepEqual(await tree(parent), [], 'no issuer folder and no temporary folder');
    });
  }

  test('a non-empty folder is refused', async () => {
    const dir = join(work, 'busy');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'mine\n');
    const result = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir]);
    assert.equal(result.code, 1);
    assertRefusal(result.stderr, 'DIR_NOT_EMPTY', /busy is not empty/, /new or empty folder/);
    assert.deepEqual(await tree(dir), ['notes.txt']);
  });

  test('an unwritable parent fails cleanly, without a partial folder', async (context) => {
    if (process.getuid?.() === 0) {
      context.skip('root ignores file modes, so the write cannot be made to fail this way');
      return;
    }
    const parent = join(work, 'read-only');
    await mkdir(parent);
    await chmod(parent, 0o555);
    const result = await runKirsa([
      'issuer',
      'init',
      '--issuer-url',
      ISSUER,
      '--dir',
      join(parent, 'issuer'),
    ]);
    await chmod(parent, 0o755);
    assert.equal(result.code, 1);
    assertRefusal(result.stderr, 'WRITE_DENIED', /cannot write/, /--dir/);
    assert.deepEqual(await tree(parent), []);
  });
});

describe('other verbs on bad input', () => {
  test('issuer jwks with an EC key names the key type', async () => {
    const file = join(work, 'jwks-ec.pub');
    await writeEcKey(`${file}.key`);
    await run('openssl', ['pkey', '-in', `${file}.key`, '-pubout', '-out', file]);
    const result = await runKirsa(['issuer', 'jwks', '--public-key', file]);
    assert.equal(result.code, 2);
    assertRefusal(result.stderr, 'KEY_INVALID', /EC key; kirsa signs with RSA/, /RSA-2048/);
    assert.equal(result.stdout, '');
  });

  test('rotate, status and apiserver-config on a folder without an issuer', async () => {
    const empty = join(work, 'empty');
    await mkdir(empty);
    for (const args of [
      ['issuer', 'rotate', '--dir', empty],
      ['issuer', 'status', '--dir', empty],
      ['apiserver-config', '--for', 'flags', '--dir', empty],
    ]) {
      const result = await runKirsa(args);
      assert.equal(result.code, 2, args.join(' '));
      assertRefusal(result.stderr, 'ISSUER_DIR_INVALID', /holds no kirsa issuer/, /kirsa issuer init/);
      const json = await runKirsa([...args, '-o', 'json']);
      if (args[0] === 'issuer' && args[1] === 'status')
        assert.equal(JSON.parse(json.stderr).error.code, 'ISSUER_DIR_INVALID');
    }
    assert.deepEqual(await tree(empty), []);
  });

  test('rotate and apiserver-config on a folder whose key the cluster holds: refused, nothing changed', async () => {
    // The layout issuer init --from-cluster writes (test/real-parts/issuer/from-cluster.test.ts makes one from a real
    // API server): the two documents and a state recording no key of kirsa's.
    const dir = join(work, 'cluster-owned');
    await mkdir(join(dir, 'keys'), { recursive: true });
    await writeFile(join(dir, 'keys.json'), formatJson({ keys: [] }));
    await writeFile(join(dir, 'discovery.json'), formatJson({ issuer: ISSUER }));
    await writeFile(
      join(dir, 'keys/state.json'),
      formatJson(clusterOwnedState({ issuer: ISSUER, jwksPath: 'keys.json' })),
    );
    const before = await tree(dir);
    for (const args of [
      ['issuer', 'rotate', '--dir', dir],
      ['issuer', 'rotate', '--dir', dir, '--promote'],
      ['issuer', 'rotate', '--dir', dir, '--retire'],
      ['apiserver-config', '--for', 'kubeadm', '--dir', dir],
    ]) {
      const result = await runKirsa(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assertRefusal(
        result.stderr,
        'ISSUER_KEYS_CLUSTER_OWNED',
        new RegExp(`the cluster holds the signing key of ${ISSUER}`),
        args[0] === 'issuer' ? /rotate the key on the cluster/ : /--service-account-issuer/,
      );
      assert.equal(result.stdout, '');
    }
    assert.deepEqual(await tree(dir), before);
  });

  test('init --from-cluster takes no key of its own; init without it needs --issuer-url', async () => {
    const result = await runKirsa([
      'issuer',
      'init',
      '--from-cluster',
      '--signing-key',
      'sa.key',
      '--dir',
      join(work, 'never'),
    ]);
    assert.equal(result.code, 2);
    assertRefusal(
      result.stderr,
      'FLAG_CONFLICT',
      /--signing-key .* do not go with --from-cluster/,
      /its own key/,
    );
    const bare = await runKirsa(['issuer', 'init', '--dir', join(work, 'never')]);
    assert.equal(bare.code, 2);
    assertRefusal(bare.stderr, 'FLAG_REQUIRED', /give --issuer-url/, /--from-cluster/);
  });

  test('apiserver-config: unknown distribution, and an issuer URL the folder was not made for', async () => {
    const dir = join(work, 'for-config');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir])).code, 0);
    const unknown = await runKirsa(['apiserver-config', '--for', 'minikube', '--dir', dir]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--for takes kops, kubeadm, k3s, rke2, talos, flags, not "minikube"/);
    assert.match(unknown.stderr, /^ {2}code: FLAG_INVALID$/m);
    const other = await runKirsa([
      'apiserver-config',
      '--for',
      'flags',
      '--dir',
      dir,
      '--issuer-url',
      'https://other.example',
    ]);
    assert.equal(other.code, 2);
    assertRefusal(
      other.stderr,
      'ISSUER_URL_MISMATCH',
      /differs from https:\/\/issuer\.example\/cluster-1/,
      /documents name/,
    );
  });

  test('publish refuses a bucket name init would refuse, with the same fix, before any AWS call', async () => {
    const dir = join(work, 'publish-capitals');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir])).code, 0);
    const result = await runKirsa([
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      'My-Bucket',
      '--endpoint-url',
      'http://127.0.0.1:9',
    ]);
    assert.equal(result.code, 2);
    assertRefusal(
      result.stderr,
      'BUCKET_NAME_INVALID',
      /--bucket My-Bucket: it has capital letters/,
      /use the lowercase name my-bucket/,
    );
  });

  test('verify of an http URL fails the https rule without any request', async () => {
    const result = await runKirsa(['issuer', 'verify', 'http://127.0.0.1:1']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^FAIL issuer URL: it must use https, not http$/m);
  });
});
