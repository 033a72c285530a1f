import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRefused } from '../../test/support/keys-and-refusals.ts';
import { bucketOriginDomain, distributionForIssuer, type IssuerDistribution } from './cloudfront.ts';
import { mergeIssuerPolicy } from './s3-publish.ts';

const distribution: IssuerDistribution = {
  id: 'E1',
  arn: 'arn:aws:cloudfront::123456789012:distribution/E1',
  domainName: 'd1.cloudfront.net',
  aliases: ['oidc.example.com'],
  originDomain: 'my-bucket.s3.eu-west-1.amazonaws.com',
};

describe('CloudFront for the issuer', () => {
  test('the origin is the regional REST endpoint (China has its own suffix)', () => {
    assert.equal(bucketOriginDomain('b-1', 'eu-west-1'), 'b-1.s3.eu-west-1.amazonaws.com');
    assert.equal(bucketOriginDomain('b-1', 'cn-north-1'), 'b-1.s3.cn-north-1.amazonaws.com.cn');
  });
  test('the distribution is found by the issuer host: its domain or an alias', () => {
    assert.equal(
      distributionForIssuer('https://d1.cloudfront.net/c1', 'my-bucket', [distribution]),
      distribution,
    );
    assert.equal(
      distributionForIssuer('https://oidc.example.com/c1', 'my-bucket', [distribution]),
      distribution,
    );
  });
  test('none serving the host, or one reading another bucket, is refused', () => {
    assertRefused(
      () => distributionForIssuer('https://d2.cloudfront.net/c1', 'my-bucket', [distribution]),
      'CLOUDFRONT_NOT_FOUND',
      /no CloudFront distribution serves d2\.cloudfront\.net/,
    );
    assertRefused(
      () => distributionForIssuer('https://d1.cloudfront.net/c1', 'other-bucket', [distribution]),
      'BUCKET_MISMATCH',
      /serves my-bucket\.s3\.eu-west-1\.amazonaws\.com, not bucket other-bucket/,
    );
  });
  test('going private removes the public statement, keeps the others, and is stable', () => {
    const existing = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Theirs', Effect: 'Deny' },
        { Sid: 'KirsaPublicIssuerDocuments', Effect: 'Allow' },
      ],
    });
    const statement = { Sid: 'KirsaCloudFrontIssuerDocuments', Effect: 'Allow' };
    const merged = mergeIssuerPolicy(existing, statement, ['KirsaPublicIssuerDocuments'])!;
    assert.deepEqual(
      JSON.parse(merged).Statement.map((one: { Sid: string }) => one.Sid),
      ['Theirs', 'KirsaCloudFrontIssuerDocuments'],
    );
    assert.equal(mergeIssuerPolicy(merged, statement, ['KirsaPublicIssuerDocuments']), undefined);
  });
});
