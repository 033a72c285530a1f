import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KirsaError } from '../errors.ts';
import { caBundleOf } from './manifests.ts';

test('caBundleOf: a PEM certificate becomes its base64 text', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  assert.equal(Buffer.from(caBundleOf(pem, 'ca.pem'), 'base64').toString('utf8'), pem);
});

test('caBundleOf: a file with no PEM certificate (a key) is CERTIFICATE_INVALID', () => {
  assert.throws(
    () => caBundleOf('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n', 'key.pem'),
    (error: unknown) => error instanceof KirsaError && error.code === 'CERTIFICATE_INVALID',
  );
});
