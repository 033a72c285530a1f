// issuer verify judges a token by the same checks as the local STS (core/sts/token-checks.ts). Each case here
// is one where verify's former copy of the rules passed a token STS refuses; verify runs in-process against a
// loopback HTTPS issuer with real signed tokens.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { STS_CLOCK_SKEW_SECONDS } from '../../../src/consts.ts';
import { verifyIssuer } from '../../../src/issuer/verify.ts';
import { startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';

let issuer: TestIssuer;

before(async () => {
  issuer = await startTestIssuer();
});

after(async () => {
  await issuer?.close();
});

async function verify(options: Parameters<TestIssuer['serviceAccountToken']>[0]) {
  const token = await issuer.serviceAccountToken(options);
  return verifyIssuer({
    issuer: issuer.url,
    ca: [issuer.caPem],
    token,
    audiences: ['sts.amazonaws.com'],
    now: new Date(),
  });
}

const account = { namespace: 'default', serviceAccount: 'app' };

describe('issuer verify applies the token checks STS applies', () => {
  test('a plain service-account token passes', async () => {
    const report = await verify(account);
    assert.ok(report.ok, JSON.stringify(report.checks));
  });

  test('iat beyond the clock skew in the future fails', async () => {
    const iat = Math.floor(Date.now() / 1000) + STS_CLOCK_SKEW_SECONDS + 120;
    const report = await verify({ ...account, claims: { iat, nbf: undefined } });
    assert.equal(report.ok, false);
    assert.ok(
      report.checks.some((check) => check.status === 'fail' && /^iat .* in the future/.test(check.message)),
    );
  });

  test('several audiences: azp, not any aud, must be a client ID', async () => {
    const report = await verify({
      ...account,
      audience: ['sts.amazonaws.com', 'vault'],
      claims: { azp: 'vault' },
    });
    assert.equal(report.ok, false);
    assert.ok(
      report.checks.some(
        (check) => check.status === 'fail' && /^azp vault .*Incorrect token audience/.test(check.message),
      ),
    );
    const fine = await verify({
      ...account,
      audience: ['sts.amazonaws.com', 'vault'],
      claims: { azp: 'sts.amazonaws.com' },
    });
    assert.ok(fine.ok, JSON.stringify(fine.checks));
  });

  test('an empty sub fails as missing', async () => {
    const report = await verify({ ...account, claims: { sub: '' } });
    assert.equal(report.ok, false);
    assert.ok(report.checks.some((check) => check.status === 'fail' && check.message === 'sub is missing'));
  });
});
