import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkTokenClaims } from './token-checks.ts';

describe('token checks', () => {
  const issuer = 'https://i.example';
  test('token claims: iss, aud, exp with 5 minutes of skew, iat, kid', () => {
    const now = 1_800_000_000;
    const base = {
      header: { alg: 'RS256', kid: 'K1' },
      payload: {
        iss: issuer,
        aud: ['sts.amazonaws.com'],
        sub: 'system:serviceaccount:a:b',
        iat: now - 10,
        exp: now + 60,
      },
      issuer,
      audiences: ['sts.amazonaws.com'],
      jwksKids: ['K1'],
      nowSeconds: now,
      skewSeconds: 300,
    };
    const failures = (overrides: Partial<typeof base>) =>
      checkTokenClaims({ ...base, ...overrides })
        .filter((check) => check.status === 'fail')
        .map((check) => check.message);
    assert.deepEqual(failures({}), []);
    assert.match(failures({ payload: { ...base.payload, iss: `${issuer}/` } })[0]!, /iss is/);
    assert.match(failures({ audiences: ['amazonaws.com'] })[0]!, /Incorrect token audience/);
    assert.match(failures({ payload: { ...base.payload, aud: [] } })[0]!, /aud is missing/);
    assert.deepEqual(failures({ nowSeconds: now + 60 + 299 }), []);
    assert.match(failures({ nowSeconds: now + 60 + 301 })[0]!, /expired/);
    assert.match(failures({ jwksKids: ['K2'] })[0]!, /not in the published JWKS/);
    const { iat: _iat, ...noIat } = base.payload;
    assert.match(failures({ payload: noIat as typeof base.payload })[0]!, /iat is missing/);
  });
});
