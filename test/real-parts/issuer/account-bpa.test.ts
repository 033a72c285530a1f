// kirsa issuer publish against an account-level Block Public Access, as a process against moto's S3 and
// S3 Control through the real AWS SDK. moto serves S3 Control at its one endpoint (paths /v20180820/...,
// the account in the x-amz-account-id header); the SDK's endpoint rules would put the account in front of
// the host, so the clients here, like kirsa's, use the endpoint as it is.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  ListObjectsV2Command,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  DeletePublicAccessBlockCommand,
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
  S3ControlClient,
} from '@aws-sdk/client-s3-control';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012'; // moto's default account, which GetCallerIdentity answers
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const skip = (await motoUnavailable()) ?? false;

let moto: MotoServer;
let work: string;
let dir: string;
let s3: S3Client;
let control: S3ControlClient;

function s3ControlClient(endpoint: string): S3ControlClient {
  return new S3ControlClient({
    region: REGION,
    credentials: CREDENTIALS,
    endpointProvider: () => ({ url: new URL(endpoint) }),
  });
}

async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(
    new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
}

async function objectCount(bucket: string): Promise<number> {
  return (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0;
}

async function hasBucketPolicy(bucket: string): Promise<boolean> {
  try {
    await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    if ((error as Error).name === 'NoSuchBucketPolicy') return false;
    throw error;
  }
}

function publish(endpoint: string, bucket: string, env: NodeJS.ProcessEnv = {}) {
  return runKirsa(
    [
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      bucket,
      '--prefix',
      'cluster-1',
      '--endpoint-url',
      endpoint,
      '--no-verify',
    ],
    { env: { ...motoClientEnv(), AWS_REGION: REGION, ...env } },
  );
}

before(async () => {
  if (skip) return;
  [moto, work] = await Promise.all([startMoto(), mkdtemp(join(tmpdir(), 'kirsa-account-bpa-'))]);
  s3 = new S3Client({
    region: REGION,
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  control = s3ControlClient(moto.endpoint);
  dir = join(work, 'issuer');
  const init = await runKirsa([
    'issuer',
    'init',
    '--issuer-url',
    'https://issuer.example/cluster-1',
    '--dir',
    dir,
  ]);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  s3?.destroy();
  control?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kirsa issuer publish and the account-level Block Public Access (moto S3 Control)', { skip }, () => {
  test('an account-level block stops publish before any write, naming it and the command that lifts it', async () => {
    const bucket = 'kirsa-account-blocked';
    await createBucket(s3, bucket);
    await control.send(
      new PutAccountPublicAccessBlockCommand({
        AccountId: ACCOUNT,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: false,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
    const result = await publish(moto.endpoint, bucket);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      `kirsa: account ${ACCOUNT} has account-level Block Public Access on: BlockPublicPolicy (S3 refuses a bucket policy that grants public read); RestrictPublicBuckets (S3 ignores public grants, so anonymous reads are denied)`,
      `  hint: turn them off for the account, which applies to all its buckets (aws s3control put-public-access-block --account-id ${ACCOUNT} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false), or serve the issuer through CloudFront`,
      '  code: BUCKET_PUBLIC_ACCESS_BLOCKED',
    ]);
    assert.equal(result.stdout, '');
    assert.equal(await objectCount(bucket), 0, 'nothing was uploaded');
    assert.equal(await hasBucketPolicy(bucket), false, 'no bucket policy was put');
  });

  test('one setting on at each level: one line names both, the hint both commands', async () => {
    const bucket = 'kirsa-both-blocked';
    await createBucket(s3, bucket);
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: { BlockPublicPolicy: true },
      }),
    );
    await control.send(
      new PutAccountPublicAccessBlockCommand({
        AccountId: ACCOUNT,
        PublicAccessBlockConfiguration: { RestrictPublicBuckets: true },
      }),
    );
    const result = await publish(moto.endpoint, bucket);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 3, result.stderr);
    assert.equal(lines[2], '  code: BUCKET_PUBLIC_ACCESS_BLOCKED');
    assert.match(
      lines[0]!,
      new RegExp(
        `^kirsa: bucket ${bucket} has Block Public Access on: BlockPublicPolicy \\(.*\\); account ${ACCOUNT} has account-level Block Public Access on: RestrictPublicBuckets \\(`,
      ),
    );
    assert.doesNotMatch(lines[0]!, /account-level Block Public Access on: BlockPublicPolicy/);
    assert.match(lines[1]!, new RegExp(`s3api put-public-access-block --bucket ${bucket} `));
    assert.match(
      lines[1]!,
      /s3control put-public-access-block --account-id \d{12} --public-access-block-configuration BlockPublicAcls=false,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false/,
    );
    assert.equal(await objectCount(bucket), 0, 'nothing was uploaded');
  });

  test('with the account-level block deleted, publish goes ahead', async () => {
    const bucket = 'kirsa-account-open';
    await createBucket(s3, bucket);
    await control.send(new DeletePublicAccessBlockCommand({ AccountId: ACCOUNT }));
    const result = await publish(moto.endpoint, bucket);
    assert.equal(result.code, 0, result.stderr);
    // Nothing on stderr but the next step every publish prints.
    assert.equal(
      result.stderr,
      'next: kirsa provider create --issuer-url https://issuer.example/cluster-1\n',
      'no warning',
    );
    assert.match(result.stdout, /^uploaded s3:\/\/kirsa-account-open\/cluster-1\/keys\.json/m);
    assert.equal(await objectCount(bucket), 2);
    assert.equal(await hasBucketPolicy(bucket), true);
  });
});

describe('an account-level read that is denied (moto checking credentials)', { skip }, () => {
  let strict: MotoServer;
  after(async () => {
    await strict?.stop();
  });

  test('warns in one line and publishes', async () => {
    strict = await startMoto();
    const iam = new IAMClient({ region: 'us-east-1', endpoint: strict.endpoint, credentials: CREDENTIALS });
    const admin = new S3Client({
      region: REGION,
      endpoint: strict.endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    const adminControl = s3ControlClient(strict.endpoint);
    const bucket = 'kirsa-denied-read';
    try {
      await createBucket(admin, bucket);
      // Would stop publish if kirsa could read it.
      await adminControl.send(
        new PutAccountPublicAccessBlockCommand({
          AccountId: ACCOUNT,
          PublicAccessBlockConfiguration: { BlockPublicPolicy: true },
        }),
      );
      await iam.send(new CreateUserCommand({ UserName: 'publisher' }));
      // moto names the S3 Control read s3:GetPublicAccessBlock (AWS: s3:GetAccountPublicAccessBlock); the
      // bucket-level read it names s3:GetBucketPublicAccessBlock, so this denies the account read alone.
      const { Policy } = await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'publish-without-account-read',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['s3:*', 'sts:GetCallerIdentity'], Resource: '*' },
              {
                Effect: 'Deny',
                Action: ['s3:GetPublicAccessBlock', 's3:GetAccountPublicAccessBlock'],
                Resource: '*',
              },
            ],
          }),
        }),
      );
      await iam.send(new AttachUserPolicyCommand({ UserName: 'publisher', PolicyArn: Policy!.Arn! }));
      const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'publisher' }));
      const reset = await fetch(`${strict.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
      assert.equal(reset.status, 200, await reset.text());

      const result = await publish(strict.endpoint, bucket, {
        AWS_ACCESS_KEY_ID: AccessKey!.AccessKeyId!,
        AWS_SECRET_ACCESS_KEY: AccessKey!.SecretAccessKey!,
      });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stderr
        .trimEnd()
        .split('\n')
        .filter((line) => !line.startsWith('next: '));
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        new RegExp(
          `^kirsa: warning: could not check the account-level Block Public Access of account ${ACCOUNT} \\(s3:GetAccountPublicAccessBlock: access denied\\); publishing anyway: if it is on, PutBucketPolicy or the verification afterwards fails$`,
        ),
      );
      assert.match(result.stdout, /^uploaded s3:\/\/kirsa-denied-read\/cluster-1\/keys\.json/m);
    } finally {
      iam.destroy();
      admin.destroy();
      adminControl.destroy();
    }
  });
});
