// The issuer folder against the real kube-apiserver: it runs with exactly the flags
// `kirsa apiserver-config --for flags` prints (a staged rotation key included), signs a TokenRequest token
// that `kirsa issuer verify --token` accepts from `kirsa issuer serve`, and publishes at /openid/v1/jwks
// the same key IDs as kirsa's keys.json: the kid algorithm matches kube-apiserver's own.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { type IssuerServer, startIssuerServer } from '../../../src/issuer/server.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { freePort } from '../../support/processes.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';

let work: string;
let tls: ServingCertificate;
let issuer: string;
let dir: string;
let issuerServer: IssuerServer | undefined;
let apiserver: KubeApiserver | undefined;

function kube(method: string, path: string, body?: unknown) {
  return apiserver!.request(method, path, body);
}

describe('the issuer with the real kube-apiserver', () => {
  before(async (context) => {
    if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
    work = await mkdtemp(join(tmpdir(), 'kirsa-issuer-apiserver-'));
    tls = await makeServingCertificate({ hosts: ['127.0.0.1'] });
    const issuerPort = await freePort();
    issuer = `https://127.0.0.1:${issuerPort}`;
    dir = join(work, 'issuer');
    assert.equal((await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', dir])).code, 0);
    assert.equal((await runKirsa(['issuer', 'rotate', '--dir', dir])).code, 0, 'a staged key too');
    issuerServer = await startIssuerServer({
      dir,
      port: issuerPort,
      tlsCert: tls.certPem,
      tlsKey: tls.keyPem,
    });

    const flags = await runKirsa(['apiserver-config', '--for', 'flags', '--dir', dir]);
    assert.equal(flags.code, 0, flags.stderr);
    const issuerFlags = flags.stdout.trimEnd().split('\n');
    assert.equal(issuerFlags.filter((flag) => flag.startsWith('--service-account-key-file=')).length, 2);
    apiserver = await startKubeApiserver({ serviceAccountFlags: issuerFlags });
  });

  after(async () => {
    await apiserver?.stop();
    await issuerServer?.close();
    await tls?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('kube-apiserver publishes the same key IDs as kirsa keys.json, staged key included', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const served = await kube('GET', '/openid/v1/jwks');
    assert.equal(served.status, 200, JSON.stringify(served.json));
    const theirs = (served.json as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid).sort();
    const ours = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8'))
      .keys.map((key: { kid: string }) => key.kid)
      .sort();
    assert.equal(ours.length, 2);
    assert.deepEqual(theirs, ours);
    const discovery = await kube('GET', '/.well-known/openid-configuration');
    assert.equal((discovery.json as { issuer: string }).issuer, issuer);
  });

  test('a TokenRequest token passes kirsa issuer verify against the served issuer', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const created = await kube('POST', '/api/v1/namespaces/default/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'app' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const minted = await kube('POST', '/api/v1/namespaces/default/serviceaccounts/app/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 600 },
    });
    assert.equal(minted.status, 201, JSON.stringify(minted.json));
    const token = (minted.json as { status: { token: string } }).status.token;
    const active = JSON.parse(await readFile(join(dir, 'keys/state.json'), 'utf8')).keys.find(
      (key: { stage: string }) => key.stage === 'active',
    );
    assert.equal(decodeProtectedHeader(token).kid, active.kid, 'signed by sa-signer.key, not the staged key');
    const tokenFile = join(work, 'token.jwt');
    await writeFile(tokenFile, token);
    const result = await runKirsa([
      'issuer',
      'verify',
      issuer,
      '--ca-file',
      tls.caFile,
      '--token',
      tokenFile,
      '--audience',
      'sts.amazonaws.com',
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /ok {3}the signature verifies with a key from the JWKS/);
    assert.match(result.stdout, /ok {3}aud is sts\.amazonaws\.com/);
  });
});
