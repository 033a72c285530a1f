import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  buildDiscoveryDocument,
  buildJwks,
  checkDiscoveryDocument,
  checkJwks,
  jwksKids,
} from './documents.ts';
import { jwksUriFor } from './issuer-url.ts';
import { keyIdOf } from './keys.ts';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const first = rsa();
const second = rsa();

describe('documents', () => {
  test('the discovery document has the fields kube-apiserver and kOps publish', () => {
    const issuer = 'https://issuer.example/c1';
    assert.deepEqual(buildDiscoveryDocument(issuer, jwksUriFor(issuer, 'openid/v1/jwks')), {
      issuer,
      jwks_uri: 'https://issuer.example/c1/openid/v1/jwks',
      authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['sub', 'iss'],
    });
  });

  test('the JWKS keeps order, drops duplicates, and adds empty-kid twins on request', () => {
    const plain = buildJwks([first.publicKey, second.publicKey, first.publicKey]);
    assert.deepEqual(
      plain.keys.map((key) => key.kid),
      [keyIdOf(first.publicKey), keyIdOf(second.publicKey)],
    );
    assert.deepEqual(Object.keys(plain.keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    const legacy = buildJwks([first.publicKey], { legacyEmptyKid: true });
    assert.deepEqual(
      legacy.keys.map((key) => key.kid),
      [keyIdOf(first.publicKey), ''],
    );
    assert.equal(legacy.keys[0]!.n, legacy.keys[1]!.n);
  });
});

describe('key ids of a served JWKS', () => {
  test('in order, a key without kid shown as asked, no keys member as none', () => {
    assert.deepEqual(jwksKids('{"keys":[{"kid":"a"},{},{"kid":""}]}', '(no kid)'), ['a', '(no kid)', '']);
    assert.deepEqual(jwksKids('{}', ''), []);
  });
});

describe('documents as STS reads them', () => {
  const issuer = 'https://i.example';
  test('discovery: issuer must match exactly, jwks_uri must be https', () => {
    const good = checkDiscoveryDocument(issuer, buildDiscoveryDocument(issuer, `${issuer}/keys.json`));
    assert.equal(good.jwksUri, `${issuer}/keys.json`);
    assert.ok(good.checks.every((check) => check.status === 'pass'));
    const slash = checkDiscoveryDocument(issuer, buildDiscoveryDocument(`${issuer}/`, `${issuer}/keys.json`));
    assert.ok(
      slash.checks.some((check) => check.status === 'fail' && /character for character/.test(check.message)),
    );
    const http = checkDiscoveryDocument(issuer, buildDiscoveryDocument(issuer, 'http://i.example/keys.json'));
    assert.equal(http.jwksUri, undefined);
  });
  test('JWKS: key_ops, missing kid among several, and no keys fail', () => {
    const jwks = buildJwks([first.publicKey, second.publicKey]);
    assert.ok(checkJwks(jwks).every((check) => check.status === 'pass'));
    assert.equal(checkJwks({ keys: [] })[0]!.status, 'fail');
    const { kid: _kid, ...noKid } = jwks.keys[0]!;
    assert.ok(checkJwks({ keys: [noKid, jwks.keys[1]] }).some((check) => /no kid/.test(check.message)));
    assert.ok(checkJwks({ keys: [noKid] }).every((check) => check.status !== 'fail'));
    assert.ok(
      checkJwks({ keys: [{ ...jwks.keys[0], key_ops: ['verify'] }] }).some((check) =>
        /key_ops/.test(check.message),
      ),
    );
  });
});
