// The rules of --in-cluster=true TLS: the names asked for, when a stored pair cannot be served, and when the
// next request is due. The loop against the real API server is in test/real-parts/webhook/csr-tls.test.ts.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createCertificateAuthority, issueServingCertificate } from '../tls/certificates.ts';
import { csrSubject, pairProblem, rotationDeadline } from './csr-tls.ts';

const DAY_MS = 86_400_000;

test("the subject and names are the reference's: CN <service>.<namespace>.svc and four DNS names", () => {
  assert.deepEqual(csrSubject('pod-identity-webhook', 'eks'), {
    commonName: 'pod-identity-webhook.eks.svc',
    dnsNames: [
      'pod-identity-webhook',
      'pod-identity-webhook.eks',
      'pod-identity-webhook.eks.svc',
      'pod-identity-webhook.eks.svc.cluster.local',
    ],
  });
});

test('a stored pair is served only when whole, unexpired, for the same CN and every DNS name', async () => {
  const subject = csrSubject('pod-identity-webhook', 'eks');
  const ca = await createCertificateAuthority({ commonName: 'test signer' });
  const now = new Date();
  // issueServingCertificate names its first host as the subject's CN.
  const good = await issueServingCertificate(ca, { hosts: [subject.commonName, ...subject.dnsNames], now });
  assert.equal(pairProblem(good, subject, now), undefined);

  assert.match(pairProblem(undefined, subject, now)!, /no certificate is stored/);
  const other = await issueServingCertificate(ca, { hosts: [subject.commonName], now });
  assert.match(pairProblem({ certPem: good.certPem, keyPem: other.keyPem }, subject, now)!, /usable pair/);
  assert.match(pairProblem(good, subject, new Date(now.getTime() + 400 * DAY_MS))!, /expired/);
  assert.match(
    pairProblem(good, csrSubject('pod-identity-webhook', 'kube-system'), now)!,
    /is for pod-identity-webhook\.eks\.svc/,
  );
  const fewer = await issueServingCertificate(ca, { hosts: [subject.commonName, subject.dnsNames[0]!], now });
  assert.match(pairProblem(fewer, subject, now)!, /does not name pod-identity-webhook\.eks,/);
});

test("the next request is due at 70-90% of the certificate's lifetime, as client-go jitters it", async () => {
  const ca = await createCertificateAuthority({ commonName: 'test signer' });
  const { certPem } = await issueServingCertificate(ca, { hosts: ['a.b.svc'], validDays: 100 });
  const cert = new X509Certificate(certPem);
  const from = Date.parse(cert.validFrom);
  const lifetime = Date.parse(cert.validTo) - from;
  const at = (random: number) => (rotationDeadline(certPem, () => random).getTime() - from) / lifetime;
  assert.ok(Math.abs(at(0) - 0.7) < 1e-9);
  assert.ok(Math.abs(at(0.5) - 0.8) < 1e-9);
  assert.ok(Math.abs(at(0.999999) - 0.9) < 1e-6);
});
