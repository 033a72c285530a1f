import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { KirsaError, type KirsaErrorCode } from '../../errors.ts';
import {
  assumedRoleArn,
  buildProviderArn,
  buildRoleArn,
  checkAccountId,
  checkManagedPolicyArn,
  checkProviderArn,
  checkRoleArn,
  checkRoleName,
  composeRoleArn,
  defaultRoleName,
  iamProviderHostPath,
  issuerHostPath,
  issuerUrlOfHostPath,
  matchedProviderArn,
  parseProviderArn,
  partitionOfRegion,
  providerArnFor,
  roleArnParts,
} from './arn.ts';
import type { PolicyDocument } from './policy-grammar.ts';

const ISSUER = 'https://oidc.example.com/cluster-a';
const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const ROLE = 'arn:aws:iam::111122223333:role/s3-echoer';

function usageError(rule: RegExp, code: KirsaErrorCode = 'ARN_INVALID'): (error: unknown) => boolean {
  return (error) => error instanceof KirsaError && error.code === code && rule.test(error.message);
}

describe('partitions and accounts', () => {
  test('a region names its partition; unknown or empty regions are the commercial one', () => {
    assert.equal(partitionOfRegion('cn-north-1'), 'aws-cn');
    assert.equal(partitionOfRegion('us-gov-west-1'), 'aws-us-gov');
    assert.equal(partitionOfRegion('eu-west-1'), 'aws');
    assert.equal(partitionOfRegion(''), 'aws');
    // The reference webhook's other prefixes (its --compose-role-arn).
    assert.equal(partitionOfRegion('us-iso-east-1'), 'aws-iso');
    assert.equal(partitionOfRegion('us-isob-east-1'), 'aws-iso-b');
    assert.equal(partitionOfRegion('eusc-de-east-1'), 'aws-eusc');
  });

  test('composeRoleArn: a bare name (with or without a path) gets the account and partition', () => {
    const account = { partition: 'aws-cn', accountId: '111122223333' };
    assert.equal(composeRoleArn('app', account), 'arn:aws-cn:iam::111122223333:role/app');
    assert.equal(composeRoleArn('team/app', account), 'arn:aws-cn:iam::111122223333:role/team/app');
    assert.ok(roleArnParts(composeRoleArn('team/app', account)));
  });

  test('composeRoleArn: a full ARN, from any account or partition, is kept as written', () => {
    const account = { partition: 'aws', accountId: '111122223333' };
    const other = 'arn:aws-us-gov:iam::444455556666:role/elsewhere';
    assert.equal(composeRoleArn(other, account), other);
    // The reference looks for "arn:" anywhere, so a malformed value containing it is not completed either.
    assert.equal(composeRoleArn('not-an-arn:x', account), 'not-an-arn:x');
  });

  test('an account ID is 12 digits', () => {
    assert.equal(checkAccountId('111122223333'), '111122223333');
    for (const text of ['1234', '1111222233334', '11112222333a', ''])
      assert.throws(() => checkAccountId(text), usageError(/not an AWS account ID/), text);
  });
});

describe('role ARNs and names', () => {
  test('partitions and paths are accepted, the rest refused', () => {
    for (const arn of [
      ROLE,
      'arn:aws-cn:iam::111122223333:role/a/b/c',
      'arn:aws-us-gov:iam::111122223333:role/x+=,.@-_',
    ]) {
      assert.ok(roleArnParts(arn), arn);
    }
    for (const arn of [
      's3-echoer',
      'arn:aws:iam::11112222333:role/x',
      'arn:aws:iam::111122223333:role/',
      'arn:aws:sts::111122223333:role/x',
      'arn:aws:iam::111122223333:role/has space',
      `arn:aws:iam::111122223333:role/${'x'.repeat(65)}`,
      `${ROLE} `,
    ]) {
      assert.equal(roleArnParts(arn), undefined, arn);
      assert.throws(() => checkRoleArn(arn), usageError(/not an IAM role ARN/), arn);
    }
    assert.deepEqual(roleArnParts('arn:aws-cn:iam::111122223333:role/a/b/c'), {
      partition: 'aws-cn',
      accountId: '111122223333',
      name: 'c',
    });
  });

  test('IAM paths take every character from ! to ~; the name keeps its own rules (issue 17, bug 1)', () => {
    assert.deepEqual(roleArnParts('arn:aws:iam::111122223333:role/team!ops/app'), {
      partition: 'aws',
      accountId: '111122223333',
      name: 'app',
    });
    const everyPathCharacter = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) =>
      String.fromCharCode(0x21 + i),
    )
      .filter((char) => char !== '/')
      .join('');
    assert.ok(roleArnParts(`arn:aws:iam::111122223333:role/${everyPathCharacter}/app`));
    for (const arn of [
      'arn:aws:iam::111122223333:role/team ops/app', // a space is below !
      'arn:aws:iam::111122223333:role/team\u00e9/app', // above ~
      'arn:aws:iam::111122223333:role/team//app', // an empty segment
      'arn:aws:iam::111122223333:role/team/app!', // ! in the name itself
    ]) {
      assert.equal(roleArnParts(arn), undefined, arn);
    }
  });

  test('a role ARN built from its parts parses back to them', () => {
    const name = fc.stringMatching(/^[\w+=,.@-]{1,64}$/);
    const partition = fc.constantFrom('aws', 'aws-cn', 'aws-us-gov');
    const account = fc.stringMatching(/^\d{12}$/);
    fc.assert(
      fc.property(partition, account, name, (partition, accountId, name) => {
        const parts = { partition, accountId, name };
        assert.deepEqual(roleArnParts(buildRoleArn(parts)), parts);
      }),
    );
  });

  test('role names: IAM characters, at most 64; the default spells wildcards and is cut to fit', () => {
    assert.equal(checkRoleName('kirsa-default-app'), 'kirsa-default-app');
    for (const name of ['', 'has space', 'a/b', 'x'.repeat(65)])
      assert.throws(
        () => checkRoleName(name),
        usageError(/not a valid IAM role name/, 'ROLE_NAME_INVALID'),
        name,
      );
    assert.equal(defaultRoleName({ namespace: 'team-*', name: '*' }), 'kirsa-team-wildcard-wildcard');
    const long = defaultRoleName({ namespace: 'n'.repeat(40), name: 's'.repeat(40) });
    assert.equal(long.length, 64);
    assert.equal(checkRoleName(long), long);
  });

  test('the assumed-role ARN names the role and the session in the STS service', () => {
    assert.equal(
      assumedRoleArn({ partition: 'aws-cn', accountId: '111122223333', name: 'app' }, 'session-1'),
      'arn:aws-cn:sts::111122223333:assumed-role/app/session-1',
    );
  });

  test('managed policy ARNs: AWS managed or in an account', () => {
    for (const arn of [
      'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      'arn:aws-cn:iam::111122223333:policy/path/mine',
    ])
      assert.equal(checkManagedPolicyArn(arn), arn);
    for (const arn of ['AmazonS3ReadOnlyAccess', 'arn:aws:iam::1234:policy/x', ROLE])
      assert.throws(() => checkManagedPolicyArn(arn), usageError(/not a managed policy ARN/), arn);
  });
});

describe('issuer host/path and provider ARNs', () => {
  test('host/path and provider ARN from the issuer URL', () => {
    assert.equal(iamProviderHostPath(ISSUER), HOST);
    assert.equal(providerArnFor(ISSUER, '111122223333'), PROVIDER);
    assert.equal(
      providerArnFor('https://oidc.example.com', '111122223333', 'aws-cn'),
      'arn:aws-cn:iam::111122223333:oidc-provider/oidc.example.com',
    );
  });

  test('host/path and the issuer URL a token must carry are inverses', () => {
    assert.equal(issuerHostPath(ISSUER), HOST);
    assert.equal(issuerUrlOfHostPath(HOST), ISSUER);
    // IAM answers GetOpenIDConnectProvider with the URL without its scheme: it is already host/path.
    assert.equal(issuerHostPath(HOST), HOST);
  });

  test('issuer URLs IAM would refuse are usage errors naming the rule', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://oidc.example.com', /must use https/],
      ['https://oidc.example.com:8443', /port/],
      ['https://oidc.example.com/?x=1', /query/],
      ['https://oidc.example.com/#x', /fragment/],
      ['https://oidc.example.com/', /must not end with a slash/],
      ['oidc.example.com', /not an absolute URL/],
    ];
    for (const [url, rule] of cases)
      assert.throws(() => iamProviderHostPath(url), usageError(rule, 'ISSUER_URL_INVALID'), url);
    assert.throws(() => providerArnFor(ISSUER, '1234'), usageError(/not an AWS account ID/));
  });

  test('the unchecked builder names a loopback issuer with a port, as the local STS needs', () => {
    assert.equal(
      buildProviderArn({
        partition: 'aws',
        accountId: '111122223333',
        hostPath: issuerHostPath('https://127.0.0.1:8443/x'),
      }),
      'arn:aws:iam::111122223333:oidc-provider/127.0.0.1:8443/x',
    );
  });

  test('provider ARNs parse to partition, account and host/path, and back', () => {
    const parts = { partition: 'aws-us-gov', accountId: '111122223333', hostPath: 'oidc.example.com/a/b' };
    assert.deepEqual(parseProviderArn(buildProviderArn(parts)), parts);
    assert.deepEqual(checkProviderArn(PROVIDER), {
      partition: 'aws',
      accountId: '111122223333',
      hostPath: HOST,
    });
    for (const arn of [
      ROLE,
      'arn:aws:iam::1234:oidc-provider/x',
      'arn:aws:iam::111122223333:oidc-provider/',
    ]) {
      assert.equal(parseProviderArn(arn), undefined, arn);
      assert.throws(() => checkProviderArn(arn), usageError(/not an IAM OIDC provider ARN/), arn);
    }
  });
});

describe('the provider STS matches', () => {
  const role = { partition: 'aws-cn', accountId: '444455556666', name: 'app' };
  const policy: PolicyDocument = {
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: 'arn:aws:iam::777788889999:oidc-provider/other.example.com' },
      },
      {
        Effect: 'Allow',
        Principal: { Federated: [`arn:aws-us-gov:iam::111122223333:oidc-provider/${HOST}`] },
      },
    ],
  };

  test("an account given wins over the role's; the partition is the role's", () => {
    assert.deepEqual(matchedProviderArn(HOST, { role, accountId: '111122223333', policy }), {
      arn: `arn:aws-cn:iam::111122223333:oidc-provider/${HOST}`,
      accountFrom: 'given',
      accountId: '111122223333',
    });
    assert.deepEqual(matchedProviderArn(HOST, { role, policy }), {
      arn: `arn:aws-cn:iam::444455556666:oidc-provider/${HOST}`,
      accountFrom: 'role',
      accountId: '444455556666',
    });
    assert.equal(
      matchedProviderArn(HOST, { accountId: '111122223333' })?.arn,
      `arn:aws:iam::111122223333:oidc-provider/${HOST}`,
    );
  });

  test("without an account, the policy's provider of the same issuer, else its first", () => {
    assert.deepEqual(matchedProviderArn(HOST, { policy }), {
      arn: `arn:aws-us-gov:iam::111122223333:oidc-provider/${HOST}`,
      accountFrom: 'policy',
      accountId: '111122223333',
    });
    assert.equal(
      matchedProviderArn('third.example.com', { policy })?.arn,
      'arn:aws:iam::777788889999:oidc-provider/third.example.com',
    );
    assert.equal(matchedProviderArn(HOST, {}), undefined);
    assert.equal(
      matchedProviderArn(HOST, { policy: { Statement: [{ Effect: 'Allow', Principal: '*' }] } }),
      undefined,
    );
  });
});

describe('the default role name with a cluster', () => {
  test('kirsa.<cluster>.<namespace>.<name>: one role per cluster, the old name without one', () => {
    const ref = { namespace: 'default', name: 's3-echoer' };
    assert.equal(defaultRoleName(ref), 'kirsa-default-s3-echoer');
    assert.equal(defaultRoleName(ref, 'prod-a'), 'kirsa.prod-a.default.s3-echoer');
    assert.notEqual(defaultRoleName(ref, 'prod-a'), defaultRoleName(ref, 'prod-b'));
    assert.equal(defaultRoleName({ namespace: '*', name: '*' }, 'c'), 'kirsa.c.wildcard.wildcard');
  });

  test('a long name keeps its first 55 characters and ends in a hash, so two long names differ', () => {
    const a = defaultRoleName({ namespace: 'n'.repeat(40), name: `${'s'.repeat(40)}-a` }, 'cluster');
    const b = defaultRoleName({ namespace: 'n'.repeat(40), name: `${'s'.repeat(40)}-b` }, 'cluster');
    assert.equal(a.length, 64);
    assert.match(a, /^kirsa\.cluster\.n+\.s*-[0-9a-f]{8}$/);
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 55), b.slice(0, 55));
    assert.equal(checkRoleName(a), a);
  });

  test('a cluster name is a DNS label without dots', () => {
    for (const name of ['prod.example.com', 'Prod', '-a', 'a-', '', 'x'.repeat(41)])
      assert.throws(
        () => defaultRoleName({ namespace: 'default', name: 'app' }, name),
        (error: unknown) => error instanceof KirsaError && error.code === 'CLUSTER_NAME_INVALID',
        name,
      );
  });
});
