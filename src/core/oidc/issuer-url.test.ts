import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRefused } from '../../../test/support/keys-and-refusals.ts';
import { checkIssuerUrl, checkJwksPath, issuerUrlProblems, jwksUriFor } from './issuer-url.ts';

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
      assertRefused(() => checkIssuerUrl(url), 'USAGE', rule);
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
      assertRefused(() => checkJwksPath(path), 'USAGE', /must be a plain path/);
    });
  }
  test('the discovery document path is refused: the JWKS would overwrite it', () => {
    for (const path of ['.well-known/openid-configuration', '/.well-known/OpenID-Configuration'])
      assertRefused(() => checkJwksPath(path), 'USAGE', /where the discovery document is published/);
    assert.equal(checkJwksPath('.well-known/jwks.json'), '.well-known/jwks.json');
  });
});
