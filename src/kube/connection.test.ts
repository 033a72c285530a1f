// How a kubeconfig or the in-cluster files become a connection: which credentials each request carries,
// relative paths read from beside the kubeconfig, a token file re-read, and the users that need the full
// client (exec, auth-provider) handed to it. The requests themselves are tested on the real API server
// (test/real-parts/webhook/kube-watch.test.ts, in-cluster.test.ts).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KirsaError } from '../errors.ts';
import {
  anonymousConnection,
  connectToCluster,
  inClusterConnection,
  kubeConfigFileConnection,
} from './connection.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-connection-'));
  await writeFile(join(dir, 'ca.pem'), 'the CA');
  await writeFile(join(dir, 'token'), 'token-from-file\n');
  await writeFile(join(dir, 'ca.crt'), 'pod CA');
});
after(() => rm(dir, { recursive: true, force: true }));

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: here',
    'contexts:',
    '- name: elsewhere',
    '  context: {cluster: other, user: other}',
    '- name: here',
    '  context: {cluster: this, user: me}',
    'clusters:',
    '- name: other',
    '  cluster: {server: "https://other.example:6443"}',
    '- name: this',
    `  cluster: ${JSON.stringify({ server: 'https://kube.example:6443/', ...cluster })}`,
    'users:',
    '- name: other',
    '  user: {token: not-this-one}',
    '- name: me',
    `  user: ${JSON.stringify(user)}`,
  ].join('\n');
}

async function written(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test("a kubeconfig's current context: its server, its CA read relative to the file, its token", async () => {
  const path = await written(
    'token.yaml',
    kubeconfig({ token: 'abc' }, { 'certificate-authority': 'ca.pem', 'tls-server-name': 'kube' }),
  );
  const connection = await kubeConfigFileConnection(path);
  assert.equal(connection.server, 'https://kube.example:6443');
  assert.equal(connection.usesFullClient, false);
  const options = await connection.requestOptions();
  assert.deepEqual(options.headers, { Authorization: 'Bearer abc' });
  assert.equal(String((options as { ca?: Buffer }).ca), 'the CA');
  assert.equal((options as { servername?: string }).servername, 'kube');
});

test('client certificate data, --kube-api replacing the server, basic auth and a token file', async () => {
  const pair = await written(
    'pair.yaml',
    kubeconfig({
      'client-certificate-data': Buffer.from('CERT').toString('base64'),
      'client-key-data': Buffer.from('KEY').toString('base64'),
    }),
  );
  const withPair = await kubeConfigFileConnection(pair, 'https://override.example:443');
  assert.equal(withPair.server, 'https://override.example:443');
  const options = (await withPair.requestOptions()) as { cert?: Buffer; key?: Buffer; headers?: unknown };
  assert.equal(String(options.cert), 'CERT');
  assert.equal(String(options.key), 'KEY');
  assert.deepEqual(options.headers, {});

  const basic = await kubeConfigFileConnection(
    await written('basic.yaml', kubeconfig({ username: 'u', password: 'p' })),
  );
  assert.deepEqual((await basic.requestOptions()).headers, {
    Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
  });

  const fromFile = await kubeConfigFileConnection(
    await written('file.yaml', kubeconfig({ tokenFile: 'token' })),
  );
  assert.deepEqual((await fromFile.requestOptions()).headers, { Authorization: 'Bearer token-from-file' });
});

test('an exec plugin or an auth provider is handed to the full client; a proxy too', async () => {
  const exec = await kubeConfigFileConnection(
    await written(
      'exec.yaml',
      kubeconfig(
        { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } },
        { 'certificate-authority': 'ca.pem' },
      ),
    ),
  );
  assert.equal(exec.usesFullClient, true);
  assert.equal(exec.server, 'https://kube.example:6443');
  const proxied = await kubeConfigFileConnection(
    await written('proxy.yaml', kubeconfig({ token: 'abc' }, { 'proxy-url': 'http://proxy.example:3128' })),
  );
  assert.equal(proxied.usesFullClient, true);
});

/** The same file as `@kubernetes/client-node` reads it, for kirsa's reading to be compared with. */
async function readByFullClient(path: string) {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const full = new KubeConfig();
  full.loadFromFile(path);
  return full;
}

test('the file is read as the full client reads it: aliases, comments, quoting, folded scalars', async () => {
  const path = await written(
    'by-hand.yaml',
    [
      'apiVersion: v1',
      'kind: Config',
      '# written by hand, as people do',
      "current-context: 'here'",
      'contexts:',
      '- name: here',
      '  context: {cluster: this, user: me}',
      'clusters:',
      '- name: this',
      '  cluster:',
      '    server: "https://kube.example:6443"  # the load balancer',
      '    certificate-authority-data: >-',
      `      ${Buffer.from('the CA').toString('base64')}`,
      'users:',
      '- name: base',
      '  user: &shared',
      '    token: shared-token',
      '- name: me',
      '  user: *shared',
    ].join('\n'),
  );
  const connection = await kubeConfigFileConnection(path);
  const options = (await connection.requestOptions()) as { ca?: Buffer; headers?: unknown };
  assert.deepEqual(options.headers, { Authorization: 'Bearer shared-token' });
  assert.equal(String(options.ca), 'the CA');

  const full = await readByFullClient(path);
  assert.equal(full.getCurrentUser()?.token, 'shared-token');
  assert.equal(full.getCurrentCluster()?.server, connection.server);
  assert.equal(Buffer.from(full.getCurrentCluster()?.caData ?? '', 'base64').toString(), 'the CA');
});

test('a `<<` merge key is read as the full client reads it: as a key, not a merge (docs/webhook.md)', async () => {
  // kubectl's Go reader merges; js-yaml, and so the full client, does not. kirsa keeps to the full client, so
  // that a kubeconfig means the same on both of its paths.
  const path = await written(
    'merge-key.yaml',
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: here',
      'contexts:',
      '- name: here',
      '  context: {cluster: this, user: me}',
      'clusters:',
      '- name: this',
      '  cluster: {server: "https://kube.example:6443"}',
      'users:',
      '- name: base',
      '  user: &shared',
      '    token: shared-token',
      '- name: me',
      '  user:',
      '    <<: *shared',
    ].join('\n'),
  );
  const connection = await kubeConfigFileConnection(path);
  assert.deepEqual((await connection.requestOptions()).headers, {});
  const full = await readByFullClient(path);
  assert.equal(full.getCurrentUser()?.token, undefined);
});

test('a kubeconfig without a current cluster is refused with the path', async () => {
  const path = await written('empty.yaml', 'apiVersion: v1\nkind: Config\n');
  await assert.rejects(kubeConfigFileConnection(path), /empty\.yaml has no current cluster/);
});

test('in a pod: the service host and port, the mounted CA and token; IPv6 hosts in brackets', async () => {
  const connection = inClusterConnection(
    { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
    dir,
  );
  assert.equal(connection.server, 'https://[fd00::1]:443');
  assert.deepEqual((await connection.requestOptions()).headers, { Authorization: 'Bearer token-from-file' });
  assert.throws(() => inClusterConnection({}, dir), /KUBERNETES_SERVICE_HOST/);
});

test('--kube-api alone: that server, no credentials', async () => {
  const connection = anonymousConnection('http://127.0.0.1:8080/');
  assert.equal(connection.server, 'http://127.0.0.1:8080');
  assert.deepEqual((await connection.requestOptions()).headers, {});
});

test('connectToCluster: no flag outside a pod is no cluster; --kube-api alone is anonymous', async () => {
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  try {
    assert.equal(await connectToCluster(undefined, undefined), undefined);
    const connection = await connectToCluster(undefined, 'https://127.0.0.1:6443/');
    assert.equal(connection?.server, 'https://127.0.0.1:6443');
    assert.deepEqual((await connection!.requestOptions()).headers, {});
  } finally {
    if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
  }
});

test('connectToCluster: an unreadable kubeconfig is KUBECONFIG_INVALID', async () => {
  await assert.rejects(
    connectToCluster(join(dir, 'no-such-kubeconfig'), undefined),
    (error: unknown) => error instanceof KirsaError && error.code === 'KUBECONFIG_INVALID',
  );
});
