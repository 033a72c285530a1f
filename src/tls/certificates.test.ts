import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestOptions, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServingCertificate,
} from './certificates.ts';

/** The body of an HTTPS GET to 127.0.0.1 with these TLS options. */
function get(options: RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', ...options }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

test('a serving certificate verifies against its CA, for openssl and for a real TLS handshake', async () => {
  const ca = await createCertificateAuthority({ commonName: 'kirsa test CA' });
  const serving = await issueServingCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
  const parsed = new X509Certificate(serving.certPem);
  assert.ok(parsed.checkIssued(new X509Certificate(ca.certPem)));
  assert.equal(parsed.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(parsed.checkHost('localhost'), 'localhost');
  assert.equal(parsed.ca, false);
  assert.equal(new X509Certificate(ca.certPem).ca, true);

  // An independent verifier: the openssl CLI.
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-certs-'));
  try {
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'server.pem'), serving.certPem);
    const { stdout } = await promisify(execFile)(
      'openssl',
      ['verify', '-CAfile', 'ca.pem', '-purpose', 'sslserver', 'server.pem'],
      { cwd: dir },
    );
    assert.match(stdout, /server\.pem: OK/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const body = await get({ port: (server.address() as AddressInfo).port, ca: ca.certPem });
    assert.equal(body, 'ok');
  } finally {
    server.close();
  }
});

test('a client certificate names its user and groups, and a TLS server that asks for one accepts it', async () => {
  const ca = await createCertificateAuthority({ commonName: 'kirsa test client CA' });
  const client = await issueClientCertificate(ca, {
    commonName: 'kube-apiserver-kubelet-client',
    organizations: ['kubeadm:cluster-admins'],
  });
  const parsed = new X509Certificate(client.certPem);
  assert.ok(parsed.checkIssued(new X509Certificate(ca.certPem)));
  assert.equal(parsed.subject, 'CN=kube-apiserver-kubelet-client\nO=kubeadm:cluster-admins');
  assert.deepEqual(parsed.keyUsage, ['1.3.6.1.5.5.7.3.2']);

  // A server that requires client certificates from this CA: the handshake names the user.
  const serverCa = await createCertificateAuthority({ commonName: 'kirsa test server CA' });
  const serving = await issueServingCertificate(serverCa, { hosts: ['127.0.0.1'] });
  const server = createServer(
    {
      cert: serving.certPem,
      key: serving.keyPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => res.end((req.socket as TLSSocket).getPeerCertificate().subject.CN),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const body = await get({
      port: (server.address() as AddressInfo).port,
      ca: serverCa.certPem,
      cert: client.certPem,
      key: client.keyPem,
    });
    assert.equal(body, 'kube-apiserver-kubelet-client');
  } finally {
    server.close();
  }
});
