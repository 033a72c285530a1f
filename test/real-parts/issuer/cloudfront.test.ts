// The private-bucket path on moto's CloudFront and S3: `kirsa issuer distribution` creates one origin access
// control and one distribution per bucket and finds them again on a second run; `kirsa issuer publish
// --hosting cloudfront` uploads to the bucket and replaces the public-read statement with one for
// cloudfront.amazonaws.com conditioned on the distribution's ARN.
// Not exercised, because moto does not do it: the OAC attached to the origin (moto 5.2.5 drops
// OriginAccessControlId from origins), serving the objects through the distribution (no edge: the test
// runs with --no-verify), the bucket policy being enforced (the bucket URL answering 403, the distribution
// 200), and the distribution's deployment time.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CloudFrontClient,
  GetDistributionCommand,
  ListDistributionsCommand,
  ListOriginAccessControlsCommand,
} from '@aws-sdk/client-cloudfront';
import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

const REGION = 'eu-west-1';
const BUCKET = 'kirsa-private-issuer';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const skip = (await motoUnavailable()) ?? false;

let moto: MotoServer;
let work: string;
let env: NodeJS.ProcessEnv;
let s3: S3Client;
let cloudFront: CloudFrontClient;

before(async () => {
  if (skip) return;
  [moto, work] = await Promise.all([startMoto(), mkdtemp(join(tmpdir(), 'kirsa-cloudfront-'))]);
  env = { ...motoClientEnv(), AWS_REGION: REGION };
  s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true, credentials });
  cloudFront = new CloudFrontClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials });
  await s3.send(
    new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
});

after(async () => {
  s3?.destroy();
  cloudFront?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function kirsa(...args: string[]) {
  return runKirsa(args, { env });
}

describe('CloudFront in front of a private issuer bucket (moto)', { skip }, () => {
  let domain: string;

  test('issuer distribution creates the OAC and the distribution once, then finds them again', async () => {
    const first = await kirsa('issuer', 'distribution', '--bucket', BUCKET, '--endpoint-url', moto.endpoint);
    assert.equal(first.code, 0, first.stderr);
    domain = first.stdout.trim();
    assert.match(domain, /^https:\/\/[a-z0-9]+\.cloudfront\.net$/);
    assert.match(first.stderr, /created origin access control kirsa-kirsa-private-issuer/);
    assert.match(first.stderr, /created distribution \w+/);

    const second = await kirsa('issuer', 'distribution', '--bucket', BUCKET, '--endpoint-url', moto.endpoint);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), domain, 'the same distribution');
    assert.match(second.stderr, /nothing created/);

    const controls = await cloudFront.send(new ListOriginAccessControlsCommand({}));
    assert.deepEqual(
      controls.OriginAccessControlList?.Items?.map((item) => [item.Name, item.OriginAccessControlOriginType]),
      [[`kirsa-${BUCKET}`, 's3']],
    );
    const distributions = await cloudFront.send(new ListDistributionsCommand({}));
    assert.equal(distributions.DistributionList?.Items?.length, 1);
    const origin = distributions.DistributionList!.Items![0]!.Origins!.Items![0]!;
    assert.equal(
      origin.DomainName,
      `${BUCKET}.s3.${REGION}.amazonaws.com`,
      'the REST endpoint, as OAC needs',
    );
  });

  test('publish --hosting cloudfront: uploads, and lets only that distribution read the two keys', async (context) => {
    if (!domain) return context.skip('the distribution test failed');
    const dir = join(work, 'issuer');
    const issuer = `${domain}/cluster-1`;
    assert.equal((await kirsa('issuer', 'init', '--issuer-url', issuer, '--dir', dir)).code, 0);
    const publish = (...extra: string[]) =>
      kirsa(
        'issuer',
        'publish',
        '--dir',
        dir,
        '--bucket',
        BUCKET,
        '--endpoint-url',
        moto.endpoint,
        '--no-verify',
        ...extra,
      );

    // First the public way, so the switch to private is seen removing the public statement.
    assert.equal((await publish()).code, 0);
    const result = await publish('--hosting', 'cloudfront');
    assert.equal(result.code, 0, result.stderr);
    const id = domain.replace(/^https:\/\//, '');
    const listed = await cloudFront.send(new ListDistributionsCommand({}));
    const distribution = listed.DistributionList!.Items!.find((item) => item.DomainName === id)!;
    const arn = (await cloudFront.send(new GetDistributionCommand({ Id: distribution.Id }))).Distribution!
      .ARN!;
    assert.match(
      result.stdout,
      new RegExp(`lets only CloudFront distribution ${distribution.Id} read those two keys`),
    );

    const policy = JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy!);
    assert.deepEqual(policy.Statement, [
      {
        Sid: 'KirsaCloudFrontIssuerDocuments',
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: [
          `arn:aws:s3:::${BUCKET}/cluster-1/.well-known/openid-configuration`,
          `arn:aws:s3:::${BUCKET}/cluster-1/keys.json`,
        ],
        Condition: { StringEquals: { 'AWS:SourceArn': arn } },
      },
    ]);
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.deepEqual(objects.Contents?.map((object) => object.Key).sort(), [
      'cluster-1/.well-known/openid-configuration',
      'cluster-1/keys.json',
    ]);
    const again = await publish('--hosting', 'cloudfront');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already lets only distribution/);
  });

  test('an issuer host no distribution serves is refused before anything is written', async () => {
    const dir = join(work, 'elsewhere');
    assert.equal(
      (await kirsa('issuer', 'init', '--issuer-url', 'https://d999.cloudfront.net/c9', '--dir', dir)).code,
      0,
    );
    const result = await kirsa(
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      BUCKET,
      '--endpoint-url',
      moto.endpoint,
      '--hosting',
      'cloudfront',
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no CloudFront distribution serves d999\.cloudfront\.net/);
    assert.match(result.stderr, /hint: kirsa issuer distribution --bucket kirsa-private-issuer/);
    assertErrorCode(result.stderr, 'CLOUDFRONT_NOT_FOUND');
    assert.equal(result.stdout, '');
  });
});
