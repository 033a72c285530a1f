import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { assertRefused, rsaTestKey } from '../../../test/support/keys-and-refusals.ts';
import { keyIdOf, parseKeysPem } from './keys.ts';

const first = rsaTestKey();
const second = rsaTestKey();

describe('key IDs', () => {
  test('kid is base64url(SHA-256(DER SPKI)) without padding', () => {
    const der = first.publicKey.export({ format: 'der', type: 'spki' });
    const expected = createHash('sha256')
      .update(der)
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    assert.equal(keyIdOf(first.publicKey), expected.replace(/=+$/, ''));
    assert.equal(keyIdOf(first.publicKey).length, 43);
  });
});

describe('key parsing', () => {
  test('a private key gives the same kid as its public key', () => {
    const [fromPrivate] = parseKeysPem(first.privatePem, 'a.key');
    const [fromPublic] = parseKeysPem(first.publicPem, 'a.pub');
    assert.equal(fromPrivate!.kid, fromPublic!.kid);
    assert.ok(fromPrivate!.privateKey);
    assert.equal(fromPublic!.privateKey, undefined);
  });
  test('a multi-key file yields every key', () => {
    assert.equal(parseKeysPem(first.publicPem + second.publicPem, 'bundle.pub').length, 2);
  });
  test('a PKCS#1 RSA private key is accepted', () => {
    const pkcs1 = first.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    assert.equal(parseKeysPem(pkcs1, 'sa.key')[0]!.kid, keyIdOf(first.publicKey));
  });
  test('an EC key is refused by name', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    assertRefused(() => parseKeysPem(ec.toString(), 'ec.pub'), 'KEY_INVALID', /EC key; kirsa signs with RSA/);
  });
  test('a short RSA key is refused', () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    assertRefused(() => parseKeysPem(short.toString(), 'short.pub'), 'KEY_INVALID', /1024 bits/);
  });
  test('OpenSSH formats get the conversion command', () => {
    assertRefused(() => parseKeysPem('ssh-rsa AAAAB3Nza user@host\n', 'id.pub'), 'KEY_INVALID', /no PEM key/);
    assert.throws(
      () => parseKeysPem('ssh-rsa AAAAB3Nza user@host\n', 'id.pub'),
      (error: Error & { hint?: string }) => /ssh-keygen -e -m PKCS8/.test(error.hint ?? ''),
    );
    assertRefused(
      () =>
        parseKeysPem('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', 'id'),
      'KEY_INVALID',
      /OpenSSH-format/,
    );
  });
  test('a damaged PEM block is refused, not crashed on', () => {
    assertRefused(
      () => parseKeysPem('-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n', 'bad.pub'),
      'KEY_INVALID',
      /does not parse/,
    );
  });
});
