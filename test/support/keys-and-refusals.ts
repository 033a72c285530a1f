// Small fixtures the unit tests of the OIDC core share: fresh RSA-2048 key pairs with their PEM text, and
// the assertion that a call is refused with a KirsaError of a given code, a message and a hint.

import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isKirsaError, type KirsaError, type KirsaErrorCode } from '../../src/errors.ts';

export interface RsaTestKey {
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** SPKI PEM of the public key. */
  publicPem: string;
  /** PKCS#8 PEM of the private key. */
  privatePem: string;
}

export function rsaTestKey(): RsaTestKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey,
    privateKey,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** `run` throws a KirsaError with this code, a message matching `pattern`, and a hint. */
export function assertRefused(run: () => unknown, code: KirsaErrorCode, pattern: RegExp): KirsaError {
  let refusal: KirsaError | undefined;
  assert.throws(run, (error: unknown) => {
    assert.ok(isKirsaError(error), `expected a KirsaError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.ok(error.hint, 'every refusal carries a hint');
    refusal = error;
    return true;
  });
  return refusal!;
}
