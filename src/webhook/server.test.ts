import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { makeServingCertificate } from '../../test/support/tls.ts';
import { certificateNames, certificateProblem } from './server.ts';

test('certificateProblem refuses a pair that is expired, not yet valid, or not naming the served names', async () => {
  const pair = await makeServingCertificate({ hosts: ['webhook.kirsa.svc', '127.0.0.1'] });
  try {
    const cert = await readFile(pair.certFile);
    const parsed = new X509Certificate(cert);
    const names = certificateNames(cert);
    assert.deepEqual(names, ['webhook.kirsa.svc', '127.0.0.1']);
    const inside = new Date((Date.parse(parsed.validFrom) + Date.parse(parsed.validTo)) / 2);
    assert.equal(certificateProblem(cert, inside, names), undefined);
    assert.match(certificateProblem(cert, new Date(Date.parse(parsed.validTo) + 1000), names)!, /expired/);
    assert.match(
      certificateProblem(cert, new Date(Date.parse(parsed.validFrom) - 1000), names)!,
      /not valid before/,
    );
    assert.match(
      certificateProblem(cert, inside, ['other.example', '127.0.0.1'])!,
      /does not name other\.example/,
    );
    assert.match(certificateProblem(cert, inside, ['10.0.0.1'])!, /does not name 10\.0\.0\.1/);
  } finally {
    await pair.cleanup();
  }
});
