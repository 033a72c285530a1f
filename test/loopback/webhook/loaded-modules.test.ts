// What the running webhook has loaded, read from the process itself: Node's own modules it never uses stay
// unloaded, because loading them costs resident memory for the life of the pod. An ES import of node:http
// anywhere in the process (kirsa's code or a library's) would load undici with http2, zlib and the web
// streams (+8-13 MB, src/io/node-http.ts). The list is written by a preload at exit, after an admission
// and a scrape have run. Nor are commander and pino (about 1.2 MB each; pino with node:worker_threads): the
// webhook reads its own command line and writes its own log lines
// (src/cli/flag-specs.ts, src/io/log.ts).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KIRSA_BIN } from '../../support/run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { admittedRole, httpGet, startWebhook } from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';

let dir: string;
let cert: ServingCertificate;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-loaded-modules-'));
  cert = await makeServingCertificate();
  // Written at exit: by then the webhook has started, answered and been scraped.
  await writeFile(
    join(dir, 'preload.mjs'),
    [
      "import { writeFileSync } from 'node:fs';",
      "import { registerHooks } from 'node:module';",
      // Node's own modules, then the URL of every file imported or required (libraries and kirsa's own).
      'const files = [];',
      'registerHooks({ resolve(specifier, context, next) { const found = next(specifier, context); files.push(found.url); return found; } });',
      "process.on('exit', () => writeFileSync(process.env.KIRSA_TEST_MODULES, JSON.stringify([...process.moduleLoadList, ...files])));",
    ].join('\n'),
  );
});

after(async () => {
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Starts the webhook with the preload, gives one pod its role, scrapes /metrics, stops it; returns its list. */
async function loadedBy(args: string[], account?: { namespace: string; name: string }): Promise<string[]> {
  const list = join(dir, `modules-${Math.random().toString(36).slice(2)}.json`);
  const webhook = await startWebhook(['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, ...args], {
    kirsa: ['--import', join(dir, 'preload.mjs'), KIRSA_BIN, 'webhook'],
    env: { KIRSA_TEST_MODULES: list },
  });
  try {
    if (account !== undefined)
      assert.equal((await admittedRole(webhook, cert.caPem, account.namespace, account.name)).role, ROLE);
    assert.equal((await httpGet(webhook.metricsPort, '/metrics')).status, 200);
  } finally {
    assert.equal(await webhook.stop('SIGTERM'), 0);
  }
  return JSON.parse(await readFile(list, 'utf8')) as string[];
}

test('undici, http2, zlib and the web streams are never loaded', async () => {
  await writeFile(join(dir, 'identities.json'), JSON.stringify({ 'default/app': { RoleARN: ROLE } }));
  const loaded = await loadedBy(['--identities-file', join(dir, 'identities.json')], {
    namespace: 'default',
    name: 'app',
  });
  assert.ok(loaded.includes('NativeModule https'), 'the list is the webhook process its own');
  for (const unused of ['internal/deps/undici/undici', 'http2', 'zlib', 'internal/webstreams/readablestream'])
    assert.ok(!loaded.includes(`NativeModule ${unused}`), `${unused} is loaded`);
});

test('commander and pino are never loaded, nor the worker_threads that pino brings', async () => {
  await writeFile(join(dir, 'identities.json'), JSON.stringify({ 'default/app': { RoleARN: ROLE } }));
  const loaded = await loadedBy(
    ['--identities-file', join(dir, 'identities.json'), '--v=4', '--logtostderr'],
    {
      namespace: 'default',
      name: 'app',
    },
  );
  assert.ok(
    loaded.some((file) => file.includes('/src/cli/webhook.')),
    "the list has the webhook verb's own files",
  );
  for (const library of ['commander', 'pino', 'thread-stream', 'sonic-boom'])
    assert.ok(!loaded.some((file) => file.includes(`/node_modules/${library}/`)), `${library} is loaded`);
  // (Not child_process, which commander loads too: Node's net.Server#listen loads it through cluster.)
  assert.ok(!loaded.includes('NativeModule worker_threads'), 'worker_threads is loaded');
});
