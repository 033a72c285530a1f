import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  acceptTokenClaims,
  decideSessionSeconds,
  escapeXml,
  isStsError,
  mintCredentials,
  parseQueryParameters,
  renderError,
  stsError,
  validateAssumeRoleWithWebIdentity,
} from './protocol.ts';
import { isRoleSessionName } from './session-name.ts';

test("session names: STS's rule, 2 to 64 of [\\w+=,.@-], the one the webhook checks pod names against", () => {
  for (const name of ['s1', 'web-7d9f8-abcde', 'a.b@c=d,e+f_g', 'x'.repeat(64)])
    assert.ok(isRoleSessionName(name), name);
  for (const name of ['s', 'x'.repeat(65), 'bad name', 'tab\t', 'é-pod', 'a/b', 'a:b', ''])
    assert.equal(isRoleSessionName(name), false, name);
  // The same rule refuses the same names on the wire.
  const params = { RoleArn: 'arn:aws:iam::111122223333:role/app', WebIdentityToken: 'token' };
  assert.ok(isStsError(validateAssumeRoleWithWebIdentity({ ...params, RoleSessionName: 'x'.repeat(65) })));
  assert.ok(!isStsError(validateAssumeRoleWithWebIdentity({ ...params, RoleSessionName: 'x'.repeat(64) })));
});

const NOW = 1_800_000_000;
const claims = {
  iss: 'https://issuer',
  sub: 'system:serviceaccount:a:b',
  aud: 'sts.amazonaws.com',
  iat: NOW,
  exp: NOW + 600,
};

describe('sts protocol', () => {
  test('claims: several audiences need azp, which then is the audience', () => {
    const several = { ...claims, aud: ['sts.amazonaws.com', 'vault'] };
    const refused = acceptTokenClaims(several, ['sts.amazonaws.com'], NOW);
    assert.ok(isStsError(refused) && /azp/.test(refused.message));
    const accepted = acceptTokenClaims({ ...several, azp: 'sts.amazonaws.com' }, ['sts.amazonaws.com'], NOW);
    assert.ok(!isStsError(accepted) && accepted.audience === 'sts.amazonaws.com');
  });

  test('claims: exp, nbf and iat allow five minutes of skew and no more', () => {
    assert.ok(!isStsError(acceptTokenClaims({ ...claims, exp: NOW - 300 }, ['sts.amazonaws.com'], NOW)));
    const expired = acceptTokenClaims({ ...claims, exp: NOW - 301 }, ['sts.amazonaws.com'], NOW);
    assert.ok(isStsError(expired) && expired.code === 'ExpiredTokenException');
    assert.ok(!isStsError(acceptTokenClaims({ ...claims, nbf: NOW + 300 }, ['sts.amazonaws.com'], NOW)));
    assert.ok(isStsError(acceptTokenClaims({ ...claims, nbf: NOW + 301 }, ['sts.amazonaws.com'], NOW)));
    assert.ok(isStsError(acceptTokenClaims({ ...claims, iat: NOW + 301 }, ['sts.amazonaws.com'], NOW)));
    const noAud = acceptTokenClaims({ ...claims, aud: undefined }, ['x'], NOW);
    assert.ok(isStsError(noAud) && noAud.message === 'Missing a required claim: aud');
  });

  test('claims: each failing check answers the code and message STS answers', () => {
    const ids = ['sts.amazonaws.com'];
    const answer = (overrides: Record<string, unknown>) => {
      const result = acceptTokenClaims({ ...claims, ...overrides }, ids, NOW);
      return isStsError(result) ? [result.code, result.message] : ['accepted', ''];
    };
    const invalid = 'InvalidIdentityToken';
    assert.deepEqual(answer({ sub: undefined }), [invalid, 'Missing a required claim: sub']);
    assert.deepEqual(answer({ iat: undefined }), [invalid, 'Missing a required claim: iat']);
    assert.deepEqual(answer({ exp: undefined }), [invalid, 'Missing a required claim: exp']);
    assert.deepEqual(answer({ aud: ['a', 'b'] }), [
      invalid,
      'Missing a required claim: azp (the token has several audiences)',
    ]);
    assert.deepEqual(answer({ aud: 'vault' }), [
      invalid,
      'Incorrect token audience: "vault" is not a client ID of the provider (sts.amazonaws.com)',
    ]);
    assert.deepEqual(answer({ exp: NOW - 301 }), [
      'ExpiredTokenException',
      'Token expired: current date/time 2027-01-15T08:00:00Z must be before the expiration date/time 2027-01-15T07:54:59Z',
    ]);
    assert.deepEqual(answer({ nbf: NOW + 301 }), [
      invalid,
      'Token is not yet valid: it may be used from 2027-01-15T08:05:01Z',
    ]);
    assert.deepEqual(answer({ iat: NOW + 301, exp: NOW + 3600 }), [
      invalid,
      'Token was issued in the future (iat 2027-01-15T08:05:01Z)',
    ]);
  });

  test('claims: an empty aud array is a missing aud, even with a matching azp (STS accepted it before)', () => {
    const result = acceptTokenClaims(
      { ...claims, aud: [], azp: 'sts.amazonaws.com' },
      ['sts.amazonaws.com'],
      NOW,
    );
    assert.ok(isStsError(result));
    assert.deepEqual(
      [result.code, result.message],
      ['InvalidIdentityToken', 'Missing a required claim: aud'],
    );
  });

  test('session length defaults to an hour and may not pass the role maximum', () => {
    assert.equal(decideSessionSeconds(undefined, 3600), 3600);
    assert.equal(decideSessionSeconds(7200, 43200), 7200);
    assert.ok(isStsError(decideSessionSeconds(7200, 3600)));
  });

  test('parameters: missing ones are named; DurationSeconds is range-checked', () => {
    const missing = validateAssumeRoleWithWebIdentity({ RoleArn: 'arn:aws:iam::111122223333:role/x' });
    assert.ok(isStsError(missing) && /roleSessionName.*webIdentityToken/.test(missing.message));
    const params = {
      RoleArn: 'arn:aws:iam::111122223333:role/x',
      RoleSessionName: 's1',
      WebIdentityToken: 'abcd',
    };
    assert.ok(isStsError(validateAssumeRoleWithWebIdentity({ ...params, DurationSeconds: '899' })));
    assert.ok(isStsError(validateAssumeRoleWithWebIdentity({ ...params, RoleSessionName: 'bad name' })));
    assert.deepEqual(validateAssumeRoleWithWebIdentity({ ...params, DurationSeconds: '900' }), {
      roleArn: params.RoleArn,
      roleSessionName: 's1',
      webIdentityToken: 'abcd',
      durationSeconds: 900,
    });
  });

  test('form body wins over the URL query; XML is escaped', () => {
    assert.deepEqual(parseQueryParameters('Action=B&X=%3C', 'Action=A&Y=1'), { Action: 'B', X: '<', Y: '1' });
    assert.equal(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
    assert.match(
      renderError(stsError('AccessDenied', 'a<b'), 'rid'),
      /<Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>a&lt;b<\/Message><\/Error><RequestId>rid<\/RequestId>/,
    );
  });

  test('credentials have the shapes STS uses', () => {
    let counter = 0;
    const bytes = (size: number) => Uint8Array.from({ length: size }, () => counter++ % 256);
    const credentials = mintCredentials(new Date(0), 900, bytes);
    assert.match(credentials.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(credentials.secretAccessKey.length, 40);
    assert.equal(credentials.expiration.toISOString(), '1970-01-01T00:15:00.000Z');
  });
});
