// The issuer folder against the real kube-apiserver: it runs with exactly the flags
// `kirsa apiserver-config --for flags` prints (a staged rotation key included), signs a TokenRequest token
// that `kirsa issuer verify --token` accepts from `kirsa issuer serve`, and publishes at /openid/v1/jwks
// the same key IDs as kirsa's keys.json: the kid algorithm matches kube-apiserver's own.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { type IssuerServer, startIssuerServer } from '../../src/issuer/server.ts';
import { runKirsa } from '../support/run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from '../support/tls.ts';

const KUBE_APISERVER = process.env.KIRSA_KUBE_APISERVER;
const ETCD = process.env.KIRSA_ETCD;
const missing =
  KUBE_APISERVER && ETCD
    ? undefined
    : 'KIRSA_KUBE_APISERVER or KIRSA_ETCD is not set: run the tests with npm test (which builds the real parts)';
if (missing && process.env.CI === 'true') throw new Error(missing);

const ADMIN_TOKEN = 'kirsa-issuer-test-admin';
const STARTUP_TIMEOUT_MS = 90_000;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function launch(binary: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

let work: string;
let tls: ServingCertificate;
let issuer: string;
let dir: string;
let issuerServer: IssuerServer | undefined;
let etcd: ChildProcess | undefined;
let apiserver: ChildProcess | undefined;
let apiserverPort: number;
let apiserverCa: string;

function kube(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: apiserverPort,
        method,
        path,
        ca: apiserverCa,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function waitForApiserver(output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (apiserver?.exitCode !== null) throw new Error(`kube-apiserver exited: ${output()}`);
    try {
      apiserverCa = await readFile(join(work, 'apiserver-certs', 'apiserver.crt'), 'utf8');
      if ((await kube('GET', '/readyz')).status === 200) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`kube-apiserver not ready within ${STARTUP_TIMEOUT_MS} ms: ${output()}`);
}

describe('the issuer with the real kube-apiserver', { skip: missing ?? false }, () => {
  before(async () => {
    if (missing) return;
    const kubeApiserver = KUBE_APISERVER!;
    const etcdBinary = ETCD!;
    work = await mkdtemp(join(tmpdir(), 'kirsa-issuer-apiserver-'));
    tls = await makeServingCertificate({ hosts: ['127.0.0.1'] });
    const [issuerPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    apiserverPort = await freePort();
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

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcdRun = launch(etcdBinary, [
      `--data-dir=${join(work, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
    ]);
    etcd = etcdRun.child;
    await writeFile(join(work, 'tokens.csv'), `${ADMIN_TOKEN},admin,admin,system:masters\n`);
    const apiserverRun = launch(kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      `--cert-dir=${join(work, 'apiserver-certs')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(work, 'tokens.csv')}`,
      ...issuerFlags,
    ]);
    apiserver = apiserverRun.child;
    await waitForApiserver(() => `${apiserverRun.output()}\netcd: ${etcdRun.output()}`);
  });

  after(async () => {
    await stop(apiserver);
    await stop(etcd);
    await issuerServer?.close();
    await tls?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('kube-apiserver publishes the same key IDs as kirsa keys.json, staged key included', async () => {
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

  test('a TokenRequest token passes kirsa issuer verify against the served issuer', async () => {
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
