import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRefused } from '../../../test/support/keys-and-refusals.ts';
import {
  bucketNameProblems,
  checkBucketName,
  checkHosting,
  checkIssuerUrl,
  checkJwksPath,
  issuerUrlProblems,
  jwksUriFor,
  s3IssuerLocation,
} from './issuer-url.ts';

describe('issuer URL rules', () => {
  test('a plain https URL with a path passes', () => {
    assert.deepEqual(issuerUrlProblems('https://bucket.s3.eu-west-1.amazonaws.com/cluster-1'), []);
  });
  for (const [url, rule] of [
    ['http://example.com', /https/],
    ['https://example.com/path?x=1', /query/],
    ['https://example.com/path#f', /fragment/],
    ['https://example.com/', /slash/],
    ['https://example.com/cluster/', /slash/],
    ['https://user:pw@example.com', /password/],
    ['example.com', /absolute URL/],
  ] as const) {
    test(`${url} is refused, naming the rule`, () => {
      assertRefused(() => checkIssuerUrl(url), 'ISSUER_URL_INVALID', rule);
    });
  }
  test('a port is only a warning: IAM refuses it, development issuers need it', () => {
    const { warnings } = checkIssuerUrl('https://127.0.0.1:8443');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /port/);
  });
});

describe('JWKS path rules', () => {
  test('leading slashes are dropped, so the path joins under the issuer either way', () => {
    assert.equal(checkJwksPath('keys.json'), 'keys.json');
    assert.equal(checkJwksPath('//openid/v1/jwks'), 'openid/v1/jwks');
    assert.equal(
      jwksUriFor('https://issuer.example/c1', checkJwksPath('/openid/v1/jwks')),
      'https://issuer.example/c1/openid/v1/jwks',
    );
  });
  for (const path of [
    '',
    '/',
    '///',
    'keys.json?v=1',
    'keys.json#k',
    '../x',
    'a/../../x',
    './keys.json',
    'keys//json',
    'a/%2e%2e/x',
    'keys json',
    'a\\..\\x',
    'keys.json/',
  ]) {
    test(`"${path}" is refused as a usage error`, () => {
      assertRefused(() => checkJwksPath(path), 'JWKS_PATH_INVALID', /must be a plain path/);
    });
  }
  test('the discovery document path is refused: the JWKS would overwrite it', () => {
    for (const path of ['.well-known/openid-configuration', '/.well-known/OpenID-Configuration'])
      assertRefused(
        () => checkJwksPath(path),
        'JWKS_PATH_INVALID',
        /where the discovery document is published/,
      );
    assert.equal(checkJwksPath('.well-known/jwks.json'), '.well-known/jwks.json');
  });
});

describe('S3 bucket names in issuer URLs and --bucket: one rule', () => {
  test('virtual-hosted and path-style URLs are read as typed, capitals kept', () => {
    assert.deepEqual(s3IssuerLocation('https://My-Bucket.s3.eu-west-1.amazonaws.com/cluster-1/'), {
      bucket: 'My-Bucket',
      style: 'virtual-hosted',
      keyPrefix: 'cluster-1',
    });
    assert.deepEqual(s3IssuerLocation('https://s3.eu-west-1.amazonaws.com/my.bucket/a/b'), {
      bucket: 'my.bucket',
      style: 'path',
      keyPrefix: 'a/b',
    });
    assert.equal(s3IssuerLocation('https://d111.cloudfront.net/c1'), undefined);
  });
  test('capitals are refused at init with the lowercase name as the fix', () => {
    const error = assertRefused(
      () => checkIssuerUrl('https://My-Bucket.s3.eu-west-1.amazonaws.com/cluster-1'),
      'BUCKET_NAME_INVALID',
      /bucket "My-Bucket": it has capital letters/,
    );
    assert.match(error.hint!, /use the lowercase name my-bucket/);
    // publish's --bucket goes through the same rule and says the same thing
    const again = assertRefused(() => checkBucketName('My-Bucket'), 'BUCKET_NAME_INVALID', /capital letters/);
    assert.equal(again.hint, error.hint);
  });
  test('a dotted bucket is refused virtual-hosted (TLS wildcard), accepted path-style', () => {
    const error = assertRefused(
      () => checkIssuerUrl('https://my.bucket.s3.eu-west-1.amazonaws.com/c1'),
      'BUCKET_NAME_INVALID',
      /has dots: S3's wildcard certificate does not match/,
    );
    assert.match(error.hint!, /path-style URL https:\/\/s3\.eu-west-1\.amazonaws\.com\/my\.bucket\/c1/);
    assert.deepEqual(issuerUrlProblems('https://s3.eu-west-1.amazonaws.com/my.bucket/c1'), []);
    assert.equal(checkBucketName('my.bucket'), 'my.bucket');
  });
  for (const [name, rule] of [
    ['ab', /3 to 63/],
    ['a'.repeat(64), /3 to 63/],
    ['-bucket', /begin and end/],
    ['my_bucket', /other than letters/],
    ['my..bucket', /two dots/],
    ['192.168.1.10', /IP address/],
    ['xn--bucket', /prefix xn--/],
    ['sthree-bucket', /prefix sthree-/],
    ['bucket-s3alias', /suffix -s3alias/],
    ['bucket--ol-s3', /suffix --ol-s3/],
  ] as const) {
    test(`bucket ${name.slice(0, 20)} is refused: ${rule.source}`, () => {
      assertRefused(() => checkBucketName(name), 'BUCKET_NAME_INVALID', rule);
    });
  }
  test('good names pass', () => {
    for (const name of ['kirsa-issuer', 'abc', 'a'.repeat(63), 'my.dotted.bucket', '1bucket9'])
      assert.deepEqual(bucketNameProblems(name), [], name);
  });
});

describe('issuer hosting', () => {
  test('s3 and cloudfront only, anything else refused naming both', () => {
    assert.equal(checkHosting('s3'), 's3');
    assert.equal(checkHosting('cloudfront'), 'cloudfront');
    assert.throws(() => checkHosting('S3'), {
      code: 'FLAG_INVALID',
      message: '--hosting takes s3 or cloudfront, not "S3"',
    });
  });
});
