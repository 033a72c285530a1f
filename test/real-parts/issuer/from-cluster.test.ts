// `kirsa issuer publish --from-cluster` on the real kube-apiserver signing with its OWN generated key (not
// kirsa's): the cluster's JWKS, read through the API, goes to moto's S3 and is served over HTTPS (the
// S3-like front in test/support/s3-https.ts); `kirsa issuer verify --token` then accepts a TokenRequest
// token. After the cluster's key changes (a restart with a second key, the first still trusted), a token of
// the new key fails until the re-publish, after which tokens of both keys verify. `issuer init --from-cluster`
// makes the issuer folder from the same reading (the cluster's JWKS, no private key), which `issuer publish`
// then publishes as any folder, and which `issuer rotate` refuses to touch.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeProtectedHeader } from 'jose';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { realPart } from '../../support/real-parts.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';
import { type S3Https, startS3Https } from '../../support/s3-https.ts';

const REGION = 'eu-west-1';
const BUCKET = 'kirsa-cluster-issuer';
const skip = (await motoUnavailable()) ?? false;

let work: string;
let moto: MotoServer | undefined;
let front: S3Https | undefined;
let apiserver: KubeApiserver | undefined;
let issuer: string;
let env: NodeJS.ProcessEnv;

async function mintToken(): Promise<string> {
  const minted = await apiserver!.request('POST', '/api/v1/namespaces/default/serviceaccounts/app/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 },
  });
  assert.equal(minted.status, 201, JSON.stringify(minted.json));
  return (minted.json as { status: { token: string } }).status.token;
}

function publish(...extra: string[]) {
  return runKirsa(
    [
      'issuer',
      'publish',
      '--from-cluster',
      '--kubeconfig',
      apiserver!.kubeconfigPath,
      '--bucket',
      BUCKET,
      '--endpoint-url',
      moto!.endpoint,
      '--ca-file',
      front!.caFile,
      ...extra,
    ],
    { env },
  );
}

async function verify(token: string, name: string) {
  const file = join(work, `${name}.jwt`);
  await writeFile(file, token);
  return runKirsa([
    'issuer',
    'verify',
    issuer,
    '--token',
    file,
    '--audience',
    'sts.amazonaws.com',
    '--ca-file',
    front!.caFile,
  ]);
}

describe('issuer publish --from-cluster (real kube-apiserver, moto S3 over HTTPS)', { skip }, () => {
  before(async (context) => {
    if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
    work = await mkdtemp(join(tmpdir(), 'kirsa-from-cluster-'));
    moto = await startMoto();
    env = { ...motoClientEnv(), AWS_REGION: REGION };
    const s3 = new S3Client({
      region: REGION,
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    s3.destroy();
    front = await startS3Https(moto.endpoint, BUCKET);
    issuer = `${front.url}/cluster-1`;
    // The cluster's own key: the harness generates one; kirsa never sees the private half.
    apiserver = await startKubeApiserver({ issuer });
    const created = await apiserver.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'app' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
  });

  after(async () => {
    await apiserver?.stop();
    await front?.stop();
    await moto?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('publishes the cluster JWKS, verifies, and follows a key change on re-publish', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const first = await mintToken();

    const published = await publish();
    assert.equal(published.code, 0, published.stdout + published.stderr);
    assert.match(published.stdout, /uploaded s3:\/\/kirsa-cluster-issuer\/cluster-1\/keys\.json/);
    assert.match(published.stdout, /ok {3}issuer is exactly https:\/\/127\.0\.0\.1:\d+\/cluster-1/);
    const served = await apiserver.request('GET', '/openid/v1/jwks');
    const s3 = new S3Client({
      region: REGION,
      endpoint: moto!.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'cluster-1/keys.json' }));
    assert.deepEqual(
      JSON.parse(await stored.Body!.transformToString()),
      served.json,
      'the cluster JWKS as served',
    );
    s3.destroy();

    const firstVerified = await verify(first, 'first');
    assert.equal(firstVerified.code, 0, firstVerified.stdout + firstVerified.stderr);
    assert.match(firstVerified.stdout, /ok {3}the signature verifies with a key from the JWKS/);

    // The cluster's key changes: a second key signs, the first stays trusted for the tokens it signed.
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signing = join(work, 'sa-2.key');
    const publicFile = join(work, 'sa-2.pub');
    await writeFile(signing, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    await apiserver.restartApiserver(0, {
      serviceAccountFlags: [
        `--service-account-issuer=${issuer}`,
        `--service-account-key-file=${apiserver.serviceAccountKeyFiles.public}`,
        `--service-account-key-file=${publicFile}`,
        `--service-account-signing-key-file=${signing}`,
        `--api-audiences=${issuer}`,
      ],
    });
    const second = await mintToken();
    assert.notEqual(decodeProtectedHeader(second).kid, decodeProtectedHeader(first).kid);
    const stale = await verify(second, 'second-stale');
    assert.equal(stale.code, 1, 'the published JWKS does not have the new key yet');

    const again = await publish();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    for (const [token, name] of [
      [first, 'first-again'],
      [second, 'second'],
    ] as const) {
      const result = await verify(token, name);
      assert.equal(result.code, 0, `${name}: ${result.stdout}${result.stderr}`);
    }
  });

  test('init --from-cluster: the folder holds the cluster JWKS and no key; publish of it verifies; rotate refuses', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const folder = join(work, 'from-cluster-folder');
    const init = await runKirsa([
      'issuer',
      'init',
      '--from-cluster',
      '--kubeconfig',
      apiserver.kubeconfigPath,
      '--issuer-url',
      issuer,
      '--dir',
      folder,
    ]);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    const served = await apiserver.request('GET', '/openid/v1/jwks');
    assert.equal(served.status, 200);
    assert.deepEqual(JSON.parse(await readFile(join(folder, 'keys.json'), 'utf8')), served.json);
    const discovery = JSON.parse(await readFile(join(folder, 'discovery.json'), 'utf8'));
    assert.equal(discovery.issuer, issuer);
    assert.equal(discovery.jwks_uri, `${issuer}/keys.json`, 'the public copy, not the API server');
    await assert.rejects(access(join(folder, 'sa-signer.key')), 'no private key: the cluster keeps it');

    const published = await runKirsa(
      [
        'issuer',
        'publish',
        '--dir',
        folder,
        '--bucket',
        BUCKET,
        '--endpoint-url',
        moto!.endpoint,
        '--ca-file',
        front!.caFile,
      ],
      { env },
    );
    assert.equal(published.code, 0, published.stdout + published.stderr);
    const verified = await verify(await mintToken(), 'folder');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /ok {3}the signature verifies with a key from the JWKS/);

    const status = await runKirsa(['issuer', 'status', '--dir', folder, '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const state = JSON.parse(status.stdout);
    assert.equal(state.keySource, 'cluster');
    assert.equal(state.published, (served.json as { keys: unknown[] }).keys.length);

    const rotate = await runKirsa(['issuer', 'rotate', '--dir', folder]);
    assert.equal(rotate.code, 2, rotate.stdout + rotate.stderr);
    assert.match(rotate.stderr, /^kirsa: issuer rotate: the cluster holds the signing key of /m);
    assert.match(rotate.stderr, /hint: rotate the key on the cluster .* kirsa issuer publish --from-cluster/);
    assertErrorCode(rotate.stderr, 'ISSUER_KEYS_CLUSTER_OWNED');
    assert.deepEqual(
      JSON.parse(await readFile(join(folder, 'keys.json'), 'utf8')),
      served.json,
      'rotate changed nothing',
    );

    const mismatch = await runKirsa([
      'issuer',
      'init',
      '--from-cluster',
      '--kubeconfig',
      apiserver.kubeconfigPath,
      '--issuer-url',
      'https://kirsa-cluster-issuer.s3.eu-west-1.amazonaws.com/c1',
      '--dir',
      join(work, 'mismatch'),
    ]);
    assert.equal(mismatch.code, 1, mismatch.stderr);
    assert.match(
      mismatch.stderr,
      /^kirsa: the cluster signs tokens with iss https:\/\/127\.0\.0\.1:\d+\/cluster-1, not /m,
    );
    await assert.rejects(access(join(work, 'mismatch')), 'no folder is made');
  });

  test('a public URL other than the cluster issuer is refused, naming the one flag to change', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const result = await publish(
      '--issuer-url',
      'https://kirsa-cluster-issuer.s3.eu-west-1.amazonaws.com/c1',
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /^kirsa: the cluster signs tokens with iss https:\/\/127\.0\.0\.1:\d+\/cluster-1, not /m,
    );
    assert.match(
      result.stderr,
      /hint: change one kube-apiserver flag, --service-account-issuer=https:\/\/kirsa-cluster-issuer\.s3/,
    );
    assert.equal(result.stdout, '', 'nothing was uploaded');
  });
});
