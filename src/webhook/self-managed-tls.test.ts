// The renewal loop through its two ports, held in memory here (the Kubernetes implementations run against
// the real API server in test/real-parts/webhook/self-managed-tls.test.ts): what it writes, when it rewrites, and that
// trouble with the caBundle after start-up is a warning, not a crash.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../io/log.ts';
import {
  type CaBundleTarget,
  servingHosts,
  startSelfManagedTls,
  type TlsMaterial,
  type TlsSecretStore,
} from './self-managed-tls.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function memoryStore() {
  let stored: { material: TlsMaterial; resourceVersion: string } | undefined;
  let version = 0;
  const store: TlsSecretStore = {
    async read() {
      return stored;
    },
    async create(material) {
      if (stored) return false;
      version += 1;
      stored = { material, resourceVersion: String(version) };
      return true;
    },
    async replace(material, resourceVersion) {
      if (stored?.resourceVersion !== resourceVersion) return false;
      version += 1;
      stored = { material, resourceVersion: String(version) };
      return true;
    },
  };
  return { store, stored: () => stored };
}

function memoryTarget(failing: () => boolean) {
  let bundles = ['', ''];
  let writes = 0;
  const target: CaBundleTarget = {
    async read() {
      return bundles;
    },
    async write(caBundle) {
      if (failing()) throw new Error('forbidden');
      writes += 1;
      bundles = bundles.map(() => caBundle);
    },
  };
  return { target, writes: () => writes, bundles: () => bundles };
}

test('servingHosts: the Service names first, then the extra ones', () => {
  assert.deepEqual(servingHosts('kirsa', 'kirsa-system', ['10.0.0.1']), [
    'kirsa.kirsa-system.svc',
    'kirsa.kirsa-system.svc.cluster.local',
    '10.0.0.1',
  ]);
});

test('writes the pair and sets the caBundle once; a caBundle it cannot set is warned and retried', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-smtls-'));
  dirs.push(dir);
  const certFile = join(dir, 'tls', 'tls.crt');
  const keyFile = join(dir, 'tls', 'tls.key');
  const { store, stored } = memoryStore();
  let failing = true;
  const { target, writes, bundles } = memoryTarget(() => failing);
  const lines: Array<{ msg: string }> = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  const hosts = servingHosts('kirsa', 'kirsa-system', []);

  const stop = await startSelfManagedTls({
    store,
    target,
    hosts,
    certFile,
    keyFile,
    checkIntervalMs: 30,
    secret: 'kirsa-system/kirsa-tls',
    webhookConfiguration: 'kirsa',
    logger,
  });
  try {
    const material = stored()!.material;
    assert.equal(await readFile(certFile, 'utf8'), material.certPem);
    assert.equal(await readFile(keyFile, 'utf8'), material.keyPem);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal(new X509Certificate(material.certPem).checkHost(hosts[0]!), hosts[0]);
    assert.equal(writes(), 0);
    assert.ok(lines.some((line) => /cannot set the caBundle yet/.test(line.msg)));

    failing = false;
    const wanted = Buffer.from(material.caPem).toString('base64');
    for (let waited = 0; writes() === 0 && waited < 2000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(bundles(), [wanted, wanted]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(writes(), 1, 'set once, not at every check');
    assert.equal(lines.filter((line) => line.msg === 'serving certificate written').length, 1);
  } finally {
    stop();
  }
});
