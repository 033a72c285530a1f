// kirsa issuer publish and kirsa provider create as processes against moto's S3 and IAM, through the
// project's real AWS SDK calls. moto does not enforce bucket policies for anonymous reads, so the policy is
// checked as a document; a second moto with credential checking on gives a real AccessDenied.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetOpenIDConnectProviderCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { type IssuerServer, startIssuerServer } from '../../../src/issuer/server.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';
import { type CertificateChain, makeCertificateChain } from '../../support/tls.ts';

const REGION = 'eu-west-1';
const BUCKET = 'kirsa-issuer';
const ISSUER = `https://${BUCKET}.s3.${REGION}.amazonaws.com/cluster-1`;

const skip = (await motoUnavailable()) ?? false;

let moto: MotoServer;
let work: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let s3: S3Client;
let iam: IAMClient;

function clients(endpoint: string, credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }) {
  return {
    s3: new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials }),
    iam: new IAMClient({ region: 'us-east-1', endpoint, credentials }),
  };
}

before(async () => {
  if (skip) return;
  [moto, work] = await Promise.all([startMoto(), mkdtemp(join(tmpdir(), 'kirsa-aws-'))]);
  env = { ...motoClientEnv(), AWS_REGION: REGION };
  ({ s3, iam } = clients(moto.endpoint));
  dir = join(work, 'issuer');
  const init = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  s3?.destroy();
  iam?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function publish(bucket: string, ...extra: string[]) {
  return runKirsa(
    [
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      bucket,
      '--endpoint-url',
      moto.endpoint,
      '--no-verify',
      ...extra,
    ],
    { env },
  );
}

describe('kirsa issuer publish (moto S3)', { skip }, () => {
  test('uploads both documents as JSON and merges its statement into the existing policy', async () => {
    await s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    const theirs = {
      Sid: 'TheirsDenyDeletes',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject',
      Resource: `arn:aws:s3:::${BUCKET}/*`,
    };
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: BUCKET,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [theirs] }),
      }),
    );
    const result = await publish(BUCKET);
    assert.equal(result.code, 0, result.stderr);
    for (const [key, file] of [
      ['cluster-1/.well-known/openid-configuration', 'discovery.json'],
      ['cluster-1/keys.json', 'keys.json'],
    ] as const) {
      const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(object.ContentType, 'application/json');
      assert.equal(await object.Body!.transformToString(), await readFile(join(dir, file), 'utf8'));
    }
    const policy = JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy!);
    assert.deepEqual(policy.Statement[0], theirs, 'the existing statement is kept as it was');
    assert.deepEqual(policy.Statement[1], {
      Sid: 'KirsaPublicIssuerDocuments',
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: [
        `arn:aws:s3:::${BUCKET}/cluster-1/.well-known/openid-configuration`,
        `arn:aws:s3:::${BUCKET}/cluster-1/keys.json`,
      ],
    });

    const again = await publish(BUCKET);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already grants anonymous read/);
    const policyAgain = JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy!);
    assert.equal(policyAgain.Statement.length, 2, 'a second publish adds no duplicate statement');
  });

  test('Block Public Access is detected before anything is uploaded, naming the settings', async () => {
    const bucket = 'kirsa-blocked';
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: false,
        },
      }),
    );
    const result = await publish(bucket, '--prefix', 'cluster-1');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^kirsa: bucket kirsa-blocked has Block Public Access on: BlockPublicPolicy/m,
    );
    assert.doesNotMatch(result.stderr, /RestrictPublicBuckets \(/);
    assert.match(result.stderr, /hint: .*put-public-access-block --bucket kirsa-blocked/);
    assertErrorCode(result.stderr, 'BUCKET_PUBLIC_ACCESS_BLOCKED');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(listed.KeyCount ?? 0, 0, 'validation failed, so nothing was uploaded');
  });

  test('--skip-phases bucket-policy uploads and reads back, and leaves the bucket policy to its owner', async () => {
    const bucket = 'kirsa-own-policy';
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    const result = await publish(bucket, '--prefix', 'cluster-1', '--skip-phases', 'bucket-policy');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), [
      `uploaded s3://${bucket}/cluster-1/.well-known/openid-configuration (application/json)`,
      `uploaded s3://${bucket}/cluster-1/keys.json (application/json)`,
      'skipped: bucket-policy (--skip-phases)',
      'ok   both objects read back as uploaded, Content-Type application/json',
      'skipped: verification of the issuer URL (--no-verify)',
    ]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(listed.KeyCount, 2);
    await assert.rejects(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      name: 'NoSuchBucketPolicy',
    });
  });

  test('a missing bucket is one line and the next step', async () => {
    const result = await publish('kirsa-missing', '--prefix', 'cluster-1');
    assert.equal(result.code, 1);
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      'kirsa: bucket kirsa-missing: not found',
      '  hint: create the bucket first (aws s3api create-bucket --bucket NAME --region REGION ...), or check --bucket and --region',
      '  code: AWS_NOT_FOUND',
    ]);
  });

  test('an issuer URL naming another bucket is refused without --prefix', async () => {
    const result = await publish('some-other-bucket');
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /is a virtual-hosted S3 URL for bucket "kirsa-issuer", not "some-other-bucket"/,
    );
  });
});

describe('S3 AccessDenied (moto checking credentials)', { skip }, () => {
  let strict: MotoServer;
  after(async () => {
    await strict?.stop();
  });

  test('publish with credentials that lack permission: one line, the next step, nothing written', async () => {
    strict = await startMoto();
    const admin = clients(strict.endpoint);
    await admin.iam.send(new CreateUserCommand({ UserName: 'no-permissions' }));
    const { AccessKey } = await admin.iam.send(new CreateAccessKeyCommand({ UserName: 'no-permissions' }));
    await admin.s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    admin.s3.destroy();
    admin.iam.destroy();
    // From now on moto checks every request's credentials and the IAM policies of their user.
    const reset = await fetch(`${strict.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    assert.equal(reset.status, 200, await reset.text());
    const result = await runKirsa(
      [
        'issuer',
        'publish',
        '--dir',
        dir,
        '--bucket',
        BUCKET,
        '--endpoint-url',
        strict.endpoint,
        '--no-verify',
      ],
      {
        env: {
          ...env,
          AWS_ACCESS_KEY_ID: AccessKey!.AccessKeyId!,
          AWS_SECRET_ACCESS_KEY: AccessKey!.SecretAccessKey!,
        },
      },
    );
    assert.equal(result.code, 1);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 3, result.stderr);
    assert.match(lines[0]!, /^kirsa: bucket kirsa-issuer: access denied/);
    assert.equal(lines[2], '  code: AWS_ACCESS_DENIED');
    assert.match(lines[1]!, /^ {2}hint: the credentials in use need this permission/);
    assert.equal(result.stdout, '', 'nothing was uploaded');
  });
});

describe('kirsa provider create (moto IAM)', { skip }, () => {
  let chain: CertificateChain;
  let server: IssuerServer;
  let tlsIssuer: string;

  before(async () => {
    chain = await makeCertificateChain({ hosts: ['127.0.0.1'] });
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as { port: number };
    probe.close();
    await once(probe, 'close');
    tlsIssuer = `https://127.0.0.1:${port}`;
    const tlsDir = join(work, 'tls-issuer');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', tlsIssuer, '--dir', tlsDir])).code, 0);
    server = await startIssuerServer({
      dir: tlsDir,
      port,
      tlsCert: chain.servedChainPem,
      tlsKey: chain.leaf.keyPem,
    });
  });

  after(async () => {
    await server?.close();
    await chain?.cleanup();
  });

  function create(...args: string[]) {
    return runKirsa(['provider', 'create', '--endpoint-url', moto.endpoint, ...args], { env });
  }

  // moto 5.2.5 does not implement AddClientIDToOpenIDConnectProvider (it answers 500), so adding a missing
  // audience is covered by src/aws/iam-provider.test.ts; thumbprints go through moto here.
  test('creates once; a second run adds only the missing thumbprint; a third changes nothing', async () => {
    const first = await create(
      '--issuer-url',
      ISSUER,
      '--audience',
      'sts.amazonaws.com',
      '--audience',
      'amazonaws.com',
    );
    assert.equal(first.code, 0, first.stderr);
    const arn = first.stdout.trim();
    assert.equal(
      arn,
      `arn:aws:iam::123456789012:oidc-provider/${BUCKET}.s3.${REGION}.amazonaws.com/cluster-1`,
    );
    assert.match(first.stderr, /created the provider/);
    let provider = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    assert.deepEqual(provider.ClientIDList, ['sts.amazonaws.com', 'amazonaws.com']);
    assert.deepEqual(provider.ThumbprintList ?? [], []);

    const thumbprint = 'A'.repeat(40);
    const second = await create('--issuer-url', ISSUER, '--thumbprint', thumbprint);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), arn, 'same provider');
    assert.match(second.stderr, /the provider existed; added thumbprint a{40}/);
    provider = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    assert.deepEqual(provider.ThumbprintList, ['a'.repeat(40)]);
    assert.deepEqual(provider.ClientIDList, ['sts.amazonaws.com', 'amazonaws.com'], 'nothing removed');

    const third = await create(
      '--issuer-url',
      ISSUER,
      '--audience',
      'amazonaws.com',
      '--thumbprint',
      thumbprint,
    );
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /nothing changed/);
  });

  test('--thumbprint auto registers the hash of the top served certificate', async () => {
    const result = await create(
      '--issuer-url',
      tlsIssuer,
      '--thumbprint',
      'auto',
      '--ca-file',
      chain.root.certFile,
    );
    assert.equal(result.code, 0, result.stderr);
    const provider = await iam.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: result.stdout.trim() }),
    );
    const { X509Certificate, createHash } = await import('node:crypto');
    const intermediate = new X509Certificate(chain.intermediate.certPem);
    assert.deepEqual(provider.ThumbprintList, [createHash('sha1').update(intermediate.raw).digest('hex')]);
  });

  test('bad thumbprints and http issuers are refused before any IAM call', async () => {
    const short = await create('--issuer-url', ISSUER, '--thumbprint', 'abc');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /thumbprint abc is not 40 hex digits/);
    assertErrorCode(short.stderr, 'PROVIDER_OPTION_INVALID');
    const http = await create('--issuer-url', 'http://example.com');
    assert.equal(http.code, 2);
    assert.match(http.stderr, /it must use https, not http/);
    assertErrorCode(http.stderr, 'ISSUER_URL_INVALID');
    assert.deepEqual(
      (await readdir(work)).filter((name) => name.includes('kirsa-tmp')),
      [],
    );
  });
});
