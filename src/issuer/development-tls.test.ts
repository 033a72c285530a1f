import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { developmentCertificate } from './development-tls.ts';

const dir = await mkdtemp(join(tmpdir(), 'kirsa-dev-tls-'));
after(() => rm(dir, { recursive: true, force: true }));

test('the first call makes a CA-signed certificate for the host; the second returns the same files', async () => {
  const issuerDir = join(dir, 'dns');
  const made = await developmentCertificate(issuerDir, 'issuer.example.test');
  const ca = new X509Certificate(await readFile(made.caFile, 'utf8'));
  const leaf = new X509Certificate(made.cert);
  assert.ok(leaf.verify(ca.publicKey), 'the serving certificate is signed by the CA clients trust');
  assert.ok(leaf.checkIssued(ca));
  assert.equal(leaf.checkHost('issuer.example.test'), 'issuer.example.test');
  assert.equal((await stat(join(issuerDir, 'serve-tls', 'key.pem'))).mode & 0o777, 0o600);
  const again = await developmentCertificate(issuerDir, 'issuer.example.test');
  assert.deepEqual(again, made);
});

test('an IPv4 or bracketed IPv6 host is named as an IP address', async () => {
  const v4 = await developmentCertificate(join(dir, 'v4'), '127.0.0.1');
  assert.equal(new X509Certificate(v4.cert).checkIP('127.0.0.1'), '127.0.0.1');
  const v6 = await developmentCertificate(join(dir, 'v6'), '[::1]');
  assert.equal(new X509Certificate(v6.cert).checkIP('::1'), '::1');
});
