import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STS_CLOCK_SKEW_SECONDS } from '../../consts.ts';
import {
  audienceFindings,
  keyForToken,
  kidFinding,
  type TokenCheckInput,
  tokenChecks,
} from './token-checks.ts';

const issuer = 'https://i.example';
const now = 1_800_000_000;
const base: TokenCheckInput = {
  header: { alg: 'RS256', kid: 'K1' },
  payload: {
    iss: issuer,
    aud: ['sts.amazonaws.com'],
    sub: 'system:serviceaccount:a:b',
    iat: now - 10,
    exp: now + 60,
  },
  issuer,
  clientIds: ['sts.amazonaws.com'],
  jwksKids: ['K1'],
  nowSeconds: now,
};

function failures(overrides: Partial<TokenCheckInput> = {}, payload: Record<string, unknown> = {}) {
  return tokenChecks({ ...base, ...overrides, payload: { ...base.payload, ...payload } }).filter(
    (finding) => finding.status === 'fail',
  );
}

describe('token checks', () => {
  test('a good token: every finding passes, each naming its check, the value seen and wanted', () => {
    const findings = tokenChecks(base);
    assert.deepEqual(failures(), []);
    assert.deepEqual(
      findings.map((finding) => finding.check),
      ['kid', 'iss', 'sub', 'aud', 'exp', 'iat'],
    );
    const iss = findings.find((finding) => finding.check === 'iss')!;
    assert.deepEqual([iss.seen, iss.wanted], [issuer, issuer]);
  });

  test('iss, aud, exp with 5 minutes of skew, iat, kid, alg', () => {
    assert.equal(failures({}, { iss: `${issuer}/` })[0]!.check, 'iss');
    const audience = failures({ clientIds: ['amazonaws.com'] })[0]!;
    assert.deepEqual(
      [audience.check, audience.problem, audience.seen],
      ['aud', 'mismatch', 'sts.amazonaws.com'],
    );
    assert.match(audience.message, /Incorrect token audience/);
    assert.deepEqual(failures({ nowSeconds: now + 60 + STS_CLOCK_SKEW_SECONDS }), []);
    const expired = failures({ nowSeconds: now + 60 + STS_CLOCK_SKEW_SECONDS + 1 })[0]!;
    assert.deepEqual([expired.check, expired.problem], ['exp', 'expired']);
    assert.match(failures({ jwksKids: ['K2'] })[0]!.message, /not in the published JWKS/);
    assert.deepEqual(
      failures({}, { iat: undefined }).map((finding) => [finding.check, finding.problem]),
      [['iat', 'missing']],
    );
    assert.equal(failures({ header: { alg: 'HS256', kid: 'K1' } })[0]!.check, 'alg');
    assert.equal(failures({}, { nbf: now + STS_CLOCK_SKEW_SECONDS + 1 })[0]!.problem, 'not-yet-valid');
    assert.deepEqual(failures({}, { nbf: now + STS_CLOCK_SKEW_SECONDS }), []);
  });

  test('unknown client IDs (verify without --audience): any audience passes, one must be present', () => {
    assert.deepEqual(failures({ clientIds: undefined }, { aud: 'anything' }), []);
    assert.equal(failures({ clientIds: undefined }, { aud: undefined })[0]!.check, 'aud');
    // A provider listing no client IDs accepts no token.
    assert.equal(failures({ clientIds: [] })[0]!.problem, 'mismatch');
  });

  // The earlier copies disagreed on these; each case is decided as AWS STS does (see the file header).
  test('disagreement: an empty aud array is a missing aud, even with azp', () => {
    const found = failures({}, { aud: [], azp: 'sts.amazonaws.com' });
    assert.deepEqual(
      found.map((finding) => [finding.check, finding.problem]),
      [['aud', 'missing']],
    );
  });

  test('disagreement: iat beyond the clock skew in the future fails', () => {
    const found = failures({}, { iat: now + STS_CLOCK_SKEW_SECONDS + 1, exp: now + 3600 });
    assert.deepEqual(
      found.map((finding) => [finding.check, finding.problem]),
      [['iat', 'issued-in-future']],
    );
    assert.deepEqual(failures({}, { iat: now + STS_CLOCK_SKEW_SECONDS }), []);
  });

  test('disagreement: with several audiences azp, not any aud, must be a client ID', () => {
    const several = { aud: ['sts.amazonaws.com', 'vault'] };
    assert.deepEqual(
      failures({}, { ...several, azp: 'vault' }).map((finding) => [finding.check, finding.seen]),
      [['azp', 'vault']],
    );
    assert.deepEqual(failures({}, { ...several, azp: 'sts.amazonaws.com' }), []);
    assert.deepEqual(
      failures({}, several).map((finding) => [finding.check, finding.problem]),
      [['azp', 'missing']],
    );
  });

  test('disagreement: an empty sub is a missing sub', () => {
    assert.deepEqual(
      failures({}, { sub: '' }).map((finding) => [finding.check, finding.problem]),
      [['sub', 'missing']],
    );
  });

  test('the key a token is verified with: by kid, or the only key when the token has none', () => {
    const keys = [{ kid: 'A' }, { kid: 'B' }];
    assert.equal(keyForToken('B', keys), keys[1]);
    assert.equal(keyForToken(undefined, keys), undefined);
    assert.equal(keyForToken(undefined, [keys[0]!]), keys[0]);
    assert.equal(kidFinding(undefined, ['A', 'B']).status, 'fail');
    assert.equal(kidFinding(undefined, ['A']).status, 'pass');
  });

  test('audience findings stand alone for callers that only know the audience', () => {
    assert.deepEqual(
      audienceFindings({ aud: 'sts.amazonaws.com' }, ['sts.amazonaws.com']).map((finding) => finding.status),
      ['pass'],
    );
  });
});
