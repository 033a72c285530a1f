// `kirsa webhook` on the reference's default port, 443, as a non-root user (the image's UID 65532): refused
// with PORT_NOT_PERMITTED and its hint by default, and bound once the network namespace's
// net.ipv4.ip_unprivileged_port_start allows it, which is what a pod's `sysctls` (or a runtime's default)
// sets. Each run gets a network namespace of its own (unshare --net), so the sysctl and the port never touch
// this machine's; that needs root and unshare, and the test skips with the reason otherwise.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ReadableCheckout, readableCheckout } from '../../support/non-root.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { startServerProcess, type WebhookProcess } from '../../support/webhook-harness.ts';

const UID = '65532';

function namespacesAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--net', 'setpriv', '--reuid', UID, 'true']).status === 0;
}

let dir: string | undefined;
let checkout: ReadableCheckout | undefined;
let cert: ServingCertificate | undefined;
let webhook: WebhookProcess | undefined;

before(async () => {
  if (!namespacesAvailable()) return;
  cert = await makeServingCertificate();
  checkout = await readableCheckout();
  // Readable by the unprivileged user, as a Secret volume is.
  dir = await mkdtemp(join(tmpdir(), 'kirsa-port-443-'));
  await chmod(dir, 0o755);
  await copyFile(cert.certFile, join(dir, 'tls.crt'));
  await copyFile(cert.keyFile, join(dir, 'tls.key'));
  await writeFile(join(dir, 'identities.json'), '{}');
  for (const name of ['tls.crt', 'tls.key', 'identities.json']) await chmod(join(dir, name), 0o644);
});

after(async () => {
  await webhook?.stop('SIGKILL');
  await cert?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  await checkout?.cleanup();
});

/** The command that runs `kirsa webhook` (default port) as UID 65532 in a new network namespace (and a mount
 * namespace, so the user can reach the checkout whatever the modes of the folders above it). */
function asNonRoot(sysctl: string | undefined): string[] {
  const setup = [checkout!.mount, 'ip link set lo up', ...(sysctl ? [`sysctl -qw ${sysctl}`] : [])].join(
    ' && ',
  );
  return [
    'unshare',
    '--net',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `${setup} && exec setpriv --reuid ${UID} --regid ${UID} --clear-groups "$@"`,
    'sh',
    checkout!.node,
    checkout!.kirsaBin,
    'webhook',
    '--metrics-port',
    '0',
    '--tls-cert',
    join(dir!, 'tls.crt'),
    '--tls-key',
    join(dir!, 'tls.key'),
    '--identities-file',
    join(dir!, 'identities.json'),
  ];
}

test('as UID 65532, the default --port 443 is refused with PORT_NOT_PERMITTED and the ways out', async (t) => {
  if (!dir) return t.skip('needs root, unshare --net and setpriv');
  const [command, ...args] = asNonRoot(undefined);
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /cannot listen on \*:443 for the webhook: EACCES/);
  assert.match(stderr, /CAP_NET_BIND_SERVICE.*ip_unprivileged_port_start/);
});

test('as UID 65532 with net.ipv4.ip_unprivileged_port_start=0 in its namespace, it listens on 443', async (t) => {
  if (!dir) return t.skip('needs root, unshare --net and setpriv');
  webhook = await startServerProcess(asNonRoot('net.ipv4.ip_unprivileged_port_start=0'));
  assert.equal(webhook.port, 443);
});
