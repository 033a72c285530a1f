// `kirsa webhook` against a real kube-apiserver (and etcd) on loopback: readiness waits for the
// ServiceAccount list (and says why while RBAC forbids it), the watch carries adds, updates and deletes,
// the mapping ConfigMap is watched with a bad key skipped and deletion honoured, the API server itself calls
// the webhook for pods created right after their service account, and the miss path finds an account by a
// direct GET when the watch cannot deliver it (a user allowed to list but not to watch). Across an API
// server restart the webhook answers from its cache and its watches resume. A kubeconfig whose user is an
// exec plugin goes through the full client's KubeConfig, the other ones through kirsa's own requests.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type {
  AdmissionregistrationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  V1Pod,
} from '@kubernetes/client-node';
import type { KubeApiserver } from '../../support/kube-apiserver.ts';
import {
  builtinsImported,
  LOADED_MODULES_FILE,
  readLoadedModules,
  writeLoadedModulesPreload,
} from '../../support/loaded-modules.ts';
import { realPart } from '../../support/real-parts.ts';
import { KIRSA_BIN } from '../../support/run-kirsa.ts';
import type { ServingCertificate } from '../../support/tls.ts';
import {
  admittedRole,
  eventually,
  httpGet,
  httpsCall,
  metricValue,
  type StartOptions,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';
import { startWebhookCluster, type WebhookCluster } from '../../support/webhook-on-kube.ts';

const ROLE_A = 'arn:aws:iam::111122223333:role/first';
const ROLE_B = 'arn:aws:iam::111122223333:role/second';
const ROLE_MAPPED = 'arn:aws:iam::111122223333:role/mapped';
const WATCHER = 'kirsa-webhook';
const LISTER = 'kirsa-webhook-no-watch';

let cluster: WebhookCluster | undefined;
let kube: KubeApiserver | undefined;
let cert: ServingCertificate;
let core: CoreV1Api;
let rbac: RbacAuthorizationV1Api;
let admission: AdmissionregistrationV1Api;

before(async (t) => {
  const context = t as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  cluster = await startWebhookCluster({ users: { [WATCHER]: [], [LISTER]: [] } });
  ({ kube, cert, core, rbac, admission } = cluster);
  for (const name of ['kirsa-system', 'apps']) await core.createNamespace({ body: { metadata: { name } } });
});

after(async () => {
  await cluster?.stop();
});

function startAgainstCluster(user: string, extra: string[], options?: StartOptions): Promise<WebhookProcess> {
  return cluster!.startWebhookAs(user, extra, options);
}

function serviceAccount(namespace: string, name: string, roleArn?: string) {
  return {
    metadata: {
      name,
      namespace,
      ...(roleArn
        ? { annotations: { 'eks.amazonaws.com/role-arn': roleArn, 'example.com/other': 'kept out' } }
        : {}),
      labels: { app: name },
    },
  };
}

function grant(user: string, verbs: string[]) {
  return cluster!.grant(user, [{ apiGroups: [''], resources: ['serviceaccounts'], verbs }]);
}

/** The role a pod of ns/sa gets from this webhook, or undefined; with the reply's warnings. */
function roleFor(webhook: WebhookProcess, namespace: string, serviceAccountName: string) {
  return admittedRole(webhook, cert.caPem, namespace, serviceAccountName);
}

/** Waits for /readyz to say ready: the watches have synced (RBAC may be granted meanwhile). */
function untilReady(webhook: WebhookProcess): Promise<void> {
  return cluster!.untilReady(webhook);
}

async function scrape(webhook: WebhookProcess): Promise<string> {
  return (await httpGet(webhook.metricsPort, '/metrics')).body;
}

describe('ServiceAccount and ConfigMap watches on a real kube-apiserver', () => {
  let webhook: WebhookProcess;

  test('not ready while RBAC forbids the list, ready once it is granted and synced', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    await core.createNamespacedServiceAccount({
      namespace: 'default',
      body: serviceAccount('default', 'early', ROLE_A),
    });
    webhook = await startAgainstCluster(WATCHER, ['--watch-config-map', '--namespace', 'kirsa-system']);
    await webhook.waitForLog((line) => /list forbidden/.test(line.msg));
    const notReady = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/readyz' });
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /ServiceAccount watch has not synced/);
    assert.equal(
      metricValue(await scrape(webhook), 'kirsa_webhook_source_synced', { source: 'service-accounts' }),
      0,
    );

    await grant(WATCHER, ['get', 'list', 'watch']);
    await rbac.createNamespacedRole({
      namespace: 'kirsa-system',
      body: {
        metadata: { name: WATCHER },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'kirsa-system',
      body: {
        metadata: { name: WATCHER },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: WATCHER },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: WATCHER }],
      },
    });
    await untilReady(webhook);
    const metrics = await scrape(webhook);
    assert.equal(metricValue(metrics, 'kirsa_webhook_source_synced', { source: 'service-accounts' }), 1);
    assert.equal(metricValue(metrics, 'kirsa_webhook_source_synced', { source: 'mapping-config-map' }), 1);
    // The account that existed before the start came with the list.
    assert.equal((await roleFor(webhook, 'default', 'early')).role, ROLE_A);
  });

  test('the watch carries a new account, an annotation change and a deletion', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    await core.createNamespacedServiceAccount({
      namespace: 'default',
      body: serviceAccount('default', 'app', ROLE_A),
    });
    await eventually(async () =>
      (await roleFor(webhook, 'default', 'app')).role === ROLE_A ? true : undefined,
    );

    const current = await core.readNamespacedServiceAccount({ namespace: 'default', name: 'app' });
    current.metadata!.annotations!['eks.amazonaws.com/role-arn'] = ROLE_B;
    await core.replaceNamespacedServiceAccount({ namespace: 'default', name: 'app', body: current });
    await eventually(async () =>
      (await roleFor(webhook, 'default', 'app')).role === ROLE_B ? true : undefined,
    );

    await core.deleteNamespacedServiceAccount({ namespace: 'default', name: 'app' });
    const gone = await eventually(async () => {
      const answer = await roleFor(webhook, 'default', 'app');
      return answer.role === undefined ? answer : undefined;
    });
    assert.match(gone.warnings.join('\n'), /service account default\/app was not found/);
  });

  test('the mapping ConfigMap: entries apply, a bad key is skipped, updates and deletion are followed', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    await core.createNamespacedServiceAccount({
      namespace: 'default',
      body: serviceAccount('default', 'plain'),
    });
    await core.createNamespacedServiceAccount({ namespace: 'apps', body: serviceAccount('apps', 'worker') });
    assert.equal((await roleFor(webhook, 'default', 'plain')).role, undefined);
    await core.createNamespacedConfigMap({
      namespace: 'kirsa-system',
      body: {
        metadata: { name: 'pod-identity-webhook' },
        data: {
          config: JSON.stringify({
            'default/plain': { RoleARN: ROLE_MAPPED },
            'app*/worker': { RoleARN: ROLE_B },
            'no-slash-here': { RoleARN: ROLE_A },
          }),
        },
      },
    });
    await eventually(async () =>
      (await roleFor(webhook, 'default', 'plain')).role === ROLE_MAPPED ? true : undefined,
    );
    assert.equal((await roleFor(webhook, 'apps', 'worker')).role, ROLE_B);
    await webhook.waitForLog(
      (line) => line.msg === 'mapping entry skipped' && /no-slash-here/.test(String(line.problem)),
    );

    // The service account's own annotation wins over the mapping.
    const plain = await core.readNamespacedServiceAccount({ namespace: 'default', name: 'plain' });
    plain.metadata!.annotations = { 'eks.amazonaws.com/role-arn': ROLE_A };
    await core.replaceNamespacedServiceAccount({ namespace: 'default', name: 'plain', body: plain });
    await eventually(async () =>
      (await roleFor(webhook, 'default', 'plain')).role === ROLE_A ? true : undefined,
    );

    const configMap = await core.readNamespacedConfigMap({
      namespace: 'kirsa-system',
      name: 'pod-identity-webhook',
    });
    configMap.data = { config: JSON.stringify({ 'app*/worker': { RoleARN: ROLE_MAPPED } }) };
    await core.replaceNamespacedConfigMap({
      namespace: 'kirsa-system',
      name: 'pod-identity-webhook',
      body: configMap,
    });
    await eventually(async () =>
      (await roleFor(webhook, 'apps', 'worker')).role === ROLE_MAPPED ? true : undefined,
    );

    await core.deleteNamespacedConfigMap({ namespace: 'kirsa-system', name: 'pod-identity-webhook' });
    await eventually(async () =>
      (await roleFor(webhook, 'apps', 'worker')).role === undefined ? true : undefined,
    );
    assert.equal(metricValue(await scrape(webhook), 'kirsa_webhook_identities', { source: 'config-map' }), 0);
  });

  test('the API server calls the webhook: pods created right after their service account get their role', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    await cluster!.register(webhook, ['apps']);
    // The API server picks the configuration up asynchronously; a first pod tells when it is in force.
    await core.createNamespacedServiceAccount({
      namespace: 'apps',
      body: serviceAccount('apps', 'probe', ROLE_A),
    });
    await eventually(
      async () => {
        const pod = await core.createNamespacedPod({ namespace: 'apps', body: podFor('probe') });
        return roleIn(pod) === ROLE_A ? true : undefined;
      },
      30_000,
      500,
    );

    const stored: Array<[string, string | undefined]> = [];
    for (let i = 0; i < 5; i++) {
      const name = `burst-${i}`;
      const role = `arn:aws:iam::111122223333:role/${name}`;
      await core.createNamespacedServiceAccount({
        namespace: 'apps',
        body: serviceAccount('apps', name, role),
      });
      const pod = await core.createNamespacedPod({ namespace: 'apps', body: podFor(name) });
      stored.push([role, roleIn(pod)]);
    }
    for (const [wanted, got] of stored) assert.equal(got, wanted);
    const metrics = await scrape(webhook);
    assert.ok((metricValue(metrics, 'kirsa_webhook_admissions_total', { outcome: 'mutated' }) ?? 0) >= 6);
    await admission.deleteMutatingWebhookConfiguration({ name: 'kirsa' });
  });
});

function podFor(serviceAccountName: string): V1Pod {
  return {
    metadata: { generateName: `${serviceAccountName}-` },
    spec: { serviceAccountName, containers: [{ name: 'main', image: 'registry.example/app:1' }] },
  };
}

function roleIn(pod: V1Pod): string | undefined {
  return pod.spec?.containers[0]?.env?.find((entry) => entry.name === 'AWS_ROLE_ARN')?.value;
}

describe('a quiet watch on a real kube-apiserver', () => {
  test('still delivers after 32 s without events (the client ends idle watches at 30 s; kirsa resumes them)', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    // No miss path here: whatever arrives, arrives through the watch.
    const webhook = await startAgainstCluster(WATCHER, ['--service-account-lookup-grace-period', '0']);
    await untilReady(webhook);
    await new Promise((resolve) => setTimeout(resolve, 32_000));
    await core.createNamespacedServiceAccount({
      namespace: 'apps',
      body: serviceAccount('apps', 'after-quiet', ROLE_B),
    });
    await eventually(async () =>
      (await roleFor(webhook, 'apps', 'after-quiet')).role === ROLE_B ? true : undefined,
    );
    assert.equal(
      metricValue(await scrape(webhook), 'kirsa_webhook_source_synced', { source: 'service-accounts' }),
      1,
    );
  });
});

describe('an API server restart', () => {
  test('the webhook answers from its cache while the API server is away, and its watches resume after', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    // No miss path: after the restart, changes can only arrive through the resumed watches.
    const webhook = await startAgainstCluster(WATCHER, [
      '--service-account-lookup-grace-period',
      '0',
      '--watch-config-map',
      '--namespace',
      'kirsa-system',
    ]);
    await untilReady(webhook);
    await core.createNamespacedServiceAccount({
      namespace: 'apps',
      body: serviceAccount('apps', 'restart-a', ROLE_A),
    });
    await eventually(async () =>
      (await roleFor(webhook, 'apps', 'restart-a')).role === ROLE_A ? true : undefined,
    );

    const restarted = kube.restartApiserver(2_000);
    await webhook.waitForLog((line) => /watch failed|listing again|list failed/.test(line.msg), 30_000);
    assert.equal((await roleFor(webhook, 'apps', 'restart-a')).role, ROLE_A, 'served from the cache');
    await restarted;

    const current = await core.readNamespacedServiceAccount({ namespace: 'apps', name: 'restart-a' });
    current.metadata!.annotations!['eks.amazonaws.com/role-arn'] = ROLE_B;
    await core.replaceNamespacedServiceAccount({ namespace: 'apps', name: 'restart-a', body: current });
    await core.createNamespacedServiceAccount({
      namespace: 'apps',
      body: serviceAccount('apps', 'restart-b', ROLE_A),
    });
    await core.createNamespacedConfigMap({
      namespace: 'kirsa-system',
      body: {
        metadata: { name: 'pod-identity-webhook' },
        data: { config: JSON.stringify({ 'apps/restart-c': { RoleARN: ROLE_MAPPED } }) },
      },
    });
    await eventually(async () => {
      const [a, b, c] = await Promise.all([
        roleFor(webhook, 'apps', 'restart-a'),
        roleFor(webhook, 'apps', 'restart-b'),
        roleFor(webhook, 'apps', 'restart-c'),
      ]);
      return a.role === ROLE_B && b.role === ROLE_A && c.role === ROLE_MAPPED ? true : undefined;
    }, 60_000);
    const metrics = await scrape(webhook);
    assert.equal(metricValue(metrics, 'kirsa_webhook_source_synced', { source: 'service-accounts' }), 1);
    assert.equal(metricValue(metrics, 'kirsa_webhook_source_synced', { source: 'mapping-config-map' }), 1);
    await core.deleteNamespacedConfigMap({ namespace: 'kirsa-system', name: 'pod-identity-webhook' });
  });
});

describe('the miss path on a real kube-apiserver', () => {
  test('an account the watch cannot deliver is found by one direct GET, then served from the cache', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    await grant(LISTER, ['get', 'list']); // no watch: new accounts can only arrive through the miss path
    const webhook = await startAgainstCluster(LISTER, ['--service-account-lookup-grace-period', '3s']);
    await untilReady(webhook);
    await core.createNamespacedServiceAccount({
      namespace: 'default',
      body: serviceAccount('default', 'fresh', ROLE_B),
    });

    assert.equal(
      (await roleFor(webhook, 'default', 'fresh')).role,
      ROLE_B,
      JSON.stringify(webhook.logs.slice(-6)),
    );
    let metrics = await scrape(webhook);
    assert.equal(metricValue(metrics, 'kirsa_webhook_service_account_lookups_total', { result: 'found' }), 1);
    // Concurrent pods of the same account after that: served from the cache, no second GET.
    const again = await Promise.all([1, 2, 3].map(() => roleFor(webhook, 'default', 'fresh')));
    assert.deepEqual(
      again.map((answer) => answer.role),
      [ROLE_B, ROLE_B, ROLE_B],
    );
    metrics = await scrape(webhook);
    assert.equal(metricValue(metrics, 'kirsa_webhook_service_account_lookups_total', { result: 'found' }), 1);

    // An account that does not exist: one GET says 404, concurrent misses share it, then the negative cache.
    const missing = await Promise.all([1, 2].map(() => roleFor(webhook, 'default', 'ghost')));
    for (const answer of missing) {
      assert.equal(answer.role, undefined);
      assert.match(answer.warnings.join('\n'), /default\/ghost was not found/);
    }
    const third = await roleFor(webhook, 'default', 'ghost');
    assert.equal(third.role, undefined);
    metrics = await scrape(webhook);
    assert.equal(
      metricValue(metrics, 'kirsa_webhook_service_account_lookups_total', { result: 'not_found' }),
      1,
    );
    // The two "concurrent" pods share the GET when they overlap; on a loaded machine the second may come
    // after its answer and be a negative-cache hit instead. Either way: one GET.
    const negative = metricValue(metrics, 'kirsa_webhook_service_account_lookups_total', {
      result: 'negative_cached',
    });
    assert.ok(negative === 1 || negative === 2, `negative_cached ${negative}`);
    assert.equal(
      metricValue(metrics, 'kirsa_webhook_admissions_total', { outcome: 'service_account_missing' }),
      3,
    );
    // SIGTERM stops the watch loop too: the process exits by itself, with 0.
    assert.equal(await webhook.stop(), 0);
  });
});

describe('a kubeconfig whose user is an exec plugin', () => {
  test('the full client runs the plugin and signs the list and watch; pods get their role', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    // The plugin prints an ExecCredential with the admin's token, as a cloud's credential helper would.
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: kube.token },
    });
    const dir = await mkdtemp(join(tmpdir(), 'kirsa-exec-'));
    const path = join(dir, 'kubeconfig');
    await writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: kube.url, 'certificate-authority': kube.caFile } }],
        users: [
          {
            name: 'plugin',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: process.execPath,
                args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
                interactiveMode: 'Never',
              },
            },
          },
        ],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'plugin' } }],
        'current-context': 'test',
      }),
    );
    try {
      await core.createNamespacedServiceAccount({
        namespace: 'apps',
        body: serviceAccount('apps', 'via-plugin', ROLE_A),
      });
      const webhook = await startWebhook([
        '--tls-cert',
        cert.certFile,
        '--tls-key',
        cert.keyFile,
        '--kubeconfig',
        path,
        '--service-account-lookup-grace-period',
        '0',
      ]);
      cluster!.webhooks.push(webhook);
      await untilReady(webhook);
      assert.equal((await roleFor(webhook, 'apps', 'via-plugin')).role, ROLE_A);
      // Through the watch too: an account created after the list.
      await core.createNamespacedServiceAccount({
        namespace: 'apps',
        body: serviceAccount('apps', 'via-plugin-later', ROLE_B),
      });
      await eventually(async () =>
        (await roleFor(webhook, 'apps', 'via-plugin-later')).role === ROLE_B ? true : undefined,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('what the watching webhook loads', () => {
  // As test/loopback/webhook/loaded-modules.test.ts checks with an identities file, here with the files that
  // list and watch ServiceAccounts over a kubeconfig (the yaml library among them, whose requires are fine).
  test("it takes Node's built-in modules from its module table, not through ES imports", async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    const dir = await mkdtemp(join(tmpdir(), 'kirsa-watch-modules-'));
    try {
      const list = join(dir, 'modules.json');
      // WATCHER may list and watch ServiceAccounts since the first test above.
      await core.createNamespacedServiceAccount({
        namespace: 'default',
        body: serviceAccount('default', 'modules', ROLE_A),
      });
      const webhook = await startAgainstCluster(WATCHER, [], {
        kirsa: ['--import', await writeLoadedModulesPreload(dir), KIRSA_BIN, 'webhook'],
        env: { [LOADED_MODULES_FILE]: list },
      });
      await untilReady(webhook);
      assert.equal((await roleFor(webhook, 'default', 'modules')).role, ROLE_A);
      await scrape(webhook);
      assert.equal(await webhook.stop('SIGTERM'), 0);
      const loaded = await readLoadedModules(list);
      assert.ok(
        loaded.some((file) => file.includes('/src/identity/service-accounts.')),
        "the list has the ServiceAccount watch's files",
      );
      assert.deepEqual(builtinsImported(loaded), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
