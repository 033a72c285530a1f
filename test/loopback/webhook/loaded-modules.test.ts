// What the running webhook has loaded, read from the process itself: Node's own modules it never uses stay
// unloaded, because loading them costs resident memory for the life of the pod. An ES import of node:http
// anywhere in the process (kirsa's code or a library's) would load undici with http2, zlib and the web
// streams (+8-13 MB, src/io/node-http.ts). The list is written by a preload at exit, after an admission
// and a scrape have run (test/support/loaded-modules.ts). Nor are commander and pino (about 1.2 MB each;
// pino with node:worker_threads): the webhook reads its own command line and writes its own log lines
// (src/cli/flag-specs.ts, src/io/log.ts).
//
// And the webhook's files take Node's built-in modules from Node's module table
// (`process.getBuiltinModule`), never through an ES import: the first `import ... from 'node:x'` in a
// process builds x's ES facade, a second copy of its exports that reads every one of them, lazy ones
// included (node:crypto's `webcrypto` loads Web Crypto, node:net's `BlockList` and `SocketAddress` load
// theirs). Measured under the image's flags (2026-12-02, seven runs each): a process with node:https loaded
// that then imports the nine built-ins the webhook's files used idles at 53.6 MB, the same process taking
// them from the table at 52.3 MB; in the webhook itself, docs/webhook.md ("Without pino and commander").
// The same check runs against the real API server, where the webhook watches ServiceAccounts
// (test/real-parts/webhook/kube-watch.test.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  builtinsImported,
  LOADED_MODULES_FILE,
  readLoadedModules,
  writeLoadedModulesPreload,
} from '../../support/loaded-modules.ts';
import { KIRSA_BIN } from '../../support/run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { admittedRole, httpGet, startWebhook } from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';

let dir: string;
let preload: string;
let cert: ServingCertificate;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-loaded-modules-'));
  cert = await makeServingCertificate();
  preload = await writeLoadedModulesPreload(dir);
});

after(async () => {
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Starts the webhook with the preload, gives one pod its role, scrapes /metrics, stops it; returns its list. */
async function loadedBy(args: string[], account?: { namespace: string; name: string }): Promise<string[]> {
  const list = join(dir, `modules-${Math.random().toString(36).slice(2)}.json`);
  const webhook = await startWebhook(['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, ...args], {
    kirsa: ['--import', preload, KIRSA_BIN, 'webhook'],
    env: { [LOADED_MODULES_FILE]: list },
  });
  try {
    if (account !== undefined)
      assert.equal((await admittedRole(webhook, cert.caPem, account.namespace, account.name)).role, ROLE);
    assert.equal((await httpGet(webhook.metricsPort, '/metrics')).status, 200);
  } finally {
    assert.equal(await webhook.stop('SIGTERM'), 0);
  }
  return readLoadedModules(list);
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

test("the webhook's files take Node's built-in modules from its module table, not through ES imports", async () => {
  await writeFile(join(dir, 'identities.json'), JSON.stringify({ 'default/app': { RoleARN: ROLE } }));
  const loaded = await loadedBy(['--identities-file', join(dir, 'identities.json')], {
    namespace: 'default',
    name: 'app',
  });
  // Taken from the table, fs/promises is loaded all the same: the list is the webhook's.
  assert.ok(loaded.includes('NativeModule fs/promises'), 'the list has the webhook process its own modules');
  assert.deepEqual(builtinsImported(loaded), []);
  for (const unused of ['internal/crypto/webcrypto', 'internal/blocklist', 'internal/socketaddress'])
    assert.ok(!loaded.includes(`NativeModule ${unused}`), `${unused} is loaded`);
});

test("the CLI's rules stay out: trust policies, their evaluation, the STS protocol, help's examples", async () => {
  // The webhook needs a few small rules that live beside these (service account references, STS's session
  // name rule); each has a home of its own so that importing it does not bring the rest. About 80 KB of
  // source, 0.2 MB of the idle process (docs/webhook.md, "What the webhook no longer loads").
  await writeFile(join(dir, 'identities.json'), JSON.stringify({ 'default/app': { RoleARN: ROLE } }));
  const loaded = await loadedBy(
    ['--identities-file', join(dir, 'identities.json'), '--inject-role-session-name'],
    {
      namespace: 'default',
      name: 'app',
    },
  );
  const kirsaFiles = loaded.filter((url) => /\/(src|dist)\//.test(url));
  assert.ok(
    kirsaFiles.some((url) => /\/core\/iam\/service-account-ref\.[jt]s$/.test(url)) &&
      kirsaFiles.some((url) => /\/core\/sts\/session-name\.[jt]s$/.test(url)),
    'the list has the small rules the webhook does use',
  );
  for (const unused of [
    'core/iam/trust-policy',
    'core/iam/policy-evaluate',
    'core/iam/policy-explain',
    'core/iam/policy-grammar',
    'core/sts/protocol',
    'core/sts/token-checks',
    'cli/examples',
  ])
    assert.ok(!kirsaFiles.some((url) => url.includes(`/${unused}.`)), `${unused} is loaded`);
});

test('the check sees a built-in imported as an ES module', async () => {
  const list = join(dir, 'modules-probe.json');
  const probe = join(dir, 'probe.mjs');
  await writeFile(
    probe,
    [
      "import { isIP } from 'node:net';",
      "import { createRequire } from 'node:module';",
      "createRequire(import.meta.url)('node:buffer');",
      "process.getBuiltinModule('node:os');",
    ].join('\n'),
  );
  const run = spawnSync(process.execPath, ['--import', preload, probe], {
    env: { ...process.env, [LOADED_MODULES_FILE]: list },
  });
  assert.equal(run.status, 0, String(run.stderr));
  const loaded = await readLoadedModules(list);
  assert.deepEqual(builtinsImported(loaded), ['node:module', 'node:net']);
  assert.ok(loaded.includes('require node:buffer'), 'a require is listed as one');
  assert.ok(
    loaded.includes('NativeModule internal/blocklist'),
    "node:net's facade read its BlockList getter",
  );
});
