import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KirsaError } from '../../errors.ts';
import { explainedProvider, requestForClaims, requestForServiceAccount } from './explain-request.ts';
import type { PolicyDocument } from './policy-grammar.ts';

const HOST = 'oidc.example.com/cluster-a';
const NOW = 1_800_000_000;
const CLAIMS = {
  iss: `https://${HOST}`,
  sub: 'system:serviceaccount:apps:s3-echoer',
  aud: 'sts.amazonaws.com',
  iat: NOW - 60,
  exp: NOW + 3600,
};

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof KirsaError ? error.code : 'not a KirsaError';
  }
  return undefined;
}

describe('requestForServiceAccount', () => {
  test('sets sub from the namespace and name, and aud to sts.amazonaws.com when none is given', () => {
    const request = requestForServiceAccount({
      issuerUrl: `https://${HOST}`,
      serviceAccount: 's3-echoer',
      namespace: 'apps',
    });
    assert.equal(request.hostPath, HOST);
    assert.deepEqual(request.context, {
      [`${HOST}:sub`]: 'system:serviceaccount:apps:s3-echoer',
      [`${HOST}:aud`]: 'sts.amazonaws.com',
    });
    assert.deepEqual(request.notes, []);
  });

  test('a NAMESPACE/NAME service account and an audience override the defaults', () => {
    const request = requestForServiceAccount({
      issuerUrl: `https://${HOST}`,
      serviceAccount: 'other/app',
      namespace: 'apps',
      audience: 'custom',
    });
    assert.equal(request.context[`${HOST}:sub`], 'system:serviceaccount:other:app');
    assert.equal(request.context[`${HOST}:aud`], 'custom');
  });
});

describe('requestForClaims', () => {
  test('a valid token gives its sub and aud, with one note saying the signature was not checked', () => {
    const request = requestForClaims(CLAIMS, 'token.jwt', NOW);
    assert.equal(request.hostPath, HOST);
    assert.equal(request.context[`${HOST}:sub`], CLAIMS.sub);
    assert.equal(request.context[`${HOST}:aud`], CLAIMS.aud);
    assert.equal(request.notes.length, 1);
    assert.match(request.notes[0]!, /token\.jwt without verifying its signature/);
  });

  test('a token without iss is malformed', () => {
    assert.equal(
      codeOf(() => requestForClaims({ sub: CLAIMS.sub }, 'token.jwt', NOW)),
      'TOKEN_MALFORMED',
    );
  });

  test('an expired token and an http issuer are noted as what STS refuses first', () => {
    const request = requestForClaims(
      { ...CLAIMS, iss: `http://${HOST}`, exp: NOW - 3600, iat: NOW - 7200 },
      'token.jwt',
      NOW,
    );
    assert.ok(request.notes.some((note) => note.includes('breaks an IAM issuer rule')));
    assert.ok(request.notes.some((note) => note.startsWith('STS would refuse the token')));
  });
});

describe('explainedProvider', () => {
  const policy: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::444455556666:oidc-provider/${HOST}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
      },
    ],
  };
  const empty: PolicyDocument = { Version: '2012-10-17', Statement: [] };

  test('a given provider ARN wins, without a note', () => {
    const arn = 'arn:aws:iam::111122223333:oidc-provider/elsewhere.example.com';
    assert.deepEqual(explainedProvider(HOST, { providerArn: arn }, policy), { arn });
  });

  test("the role's account and partition name the provider, without a note", () => {
    assert.deepEqual(explainedProvider(HOST, { roleArn: 'arn:aws-cn:iam::111122223333:role/app' }, policy), {
      arn: `arn:aws-cn:iam::111122223333:oidc-provider/${HOST}`,
    });
  });

  test("the policy's account is an assumption, and the note says so", () => {
    const provider = explainedProvider(HOST, {}, policy);
    assert.equal(provider.arn, `arn:aws:iam::444455556666:oidc-provider/${HOST}`);
    assert.match(provider.note ?? '', /account 444455556666, the one the policy names/);
  });

  test('no account anywhere is a missing flag', () => {
    assert.equal(
      codeOf(() => explainedProvider(HOST, {}, empty)),
      'FLAG_REQUIRED',
    );
  });
});
