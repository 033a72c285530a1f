// Self-managed webhook TLS on the real kube-apiserver: the Secret is created once even when replicas race,
// a certificate near its end is renewed under the same CA, and the webhook configuration's caBundle is set
// to that CA (and left alone when it already is).

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ensureTlsMaterial,
  publishCaBundle,
  RENEW_BEFORE_DAYS,
  renewalReason,
  type TlsSecretStore,
} from '../../../src/webhook/self-managed-tls.ts';
import { kubeCaBundleTarget, kubeTlsSecretStore } from '../../../src/webhook/self-managed-tls-kube.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { freePort } from '../../support/processes.ts';
import { realPart } from '../../support/real-parts.ts';
import { startWebhook, type WebhookProcess } from '../../support/webhook-harness.ts';

const HOSTS = ['kirsa-webhook.kirsa.svc', 'kirsa-webhook.kirsa.svc.cluster.local', '127.0.0.1'];
let apiserver: KubeApiserver | undefined;
let config: KubeConfig;

// biome-ignore lint/suspicious/noExplicitAny: API server answers are walked freely in the assertions
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const ca = await readFile(apiserver!.caFile);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, apiserver!.url),
      {
        method,
        ca,
        headers: { authorization: `Bearer ${apiserver!.token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('self-managed webhook TLS on the real API server', () => {
  before(async (context) => {
    if (!realPart(context, 'KIRSA_KUBE_APISERVER')) return;
    apiserver = await startKubeApiserver();
    config = new KubeConfig();
    config.loadFromFile(apiserver.kubeconfigPath);
    const { CoreV1Api } = await import('@kubernetes/client-node');
    await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'kirsa' } } });
  });
  after(async () => apiserver?.stop());

  test('replicas racing create one Secret and all serve the same pair; a rerun keeps it', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const stores = await Promise.all(
      [1, 2, 3].map(() => kubeTlsSecretStore(config, 'kirsa', 'kirsa-webhook-tls')),
    );
    const results = await Promise.all(
      stores.map((store) => ensureTlsMaterial(store, HOSTS, () => new Date())),
    );
    assert.equal(results.filter((result) => result.action === 'created').length, 1);
    assert.ok(results.every((result) => result.material.certPem === results[0]!.material.certPem));
    const cert = new X509Certificate(results[0]!.material.certPem);
    assert.ok(cert.checkIssued(new X509Certificate(results[0]!.material.caPem)));
    assert.equal(cert.checkHost('kirsa-webhook.kirsa.svc'), 'kirsa-webhook.kirsa.svc');
    assert.equal((await ensureTlsMaterial(stores[0]!, HOSTS, () => new Date())).action, 'kept');
  });

  test('a certificate inside the renewal window is renewed under the same CA', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const store: TlsSecretStore = await kubeTlsSecretStore(config, 'kirsa', 'kirsa-webhook-tls');
    const before = (await store.read())!.material;
    // Eleven months and a half from now, the year-long certificate is within the window.
    const later = new Date(Date.now() + (365 - RENEW_BEFORE_DAYS + 5) * 86_400_000);
    assert.match(
      renewalReason(before, HOSTS, later) ?? '',
      /serving certificate ends within the renewal window/,
    );
    const renewed = await ensureTlsMaterial(store, HOSTS, () => later);
    assert.equal(renewed.action, 'renewed');
    assert.equal(renewed.material.caPem, before.caPem, 'the CA, and so the caBundle, stays');
    assert.notEqual(renewed.material.certPem, before.certPem);
    assert.ok(new X509Certificate(renewed.material.certPem).checkIssued(new X509Certificate(before.caPem)));
    assert.match(
      renewalReason(renewed.material, [...HOSTS, 'other.example'], later) ?? '',
      /does not name other\.example/,
    );
  });

  test('the caBundle of every webhook is set to the CA, once', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const hook = (name: string) => ({
      name,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Ignore',
      clientConfig: { url: 'https://127.0.0.1:1/mutate' },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    });
    const created = await api('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      metadata: { name: 'kirsa-webhook' },
      webhooks: [hook('a.kirsa.dev'), hook('b.kirsa.dev')],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const material = (await (await kubeTlsSecretStore(config, 'kirsa', 'kirsa-webhook-tls')).read())!
      .material;
    const target = await kubeCaBundleTarget(config, 'kirsa-webhook');
    assert.equal(await publishCaBundle(target, material.caPem), true);
    const stored = await api(
      'GET',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kirsa-webhook',
    );
    for (const webhook of stored.json.webhooks) {
      assert.equal(Buffer.from(webhook.clientConfig.caBundle, 'base64').toString(), material.caPem);
      assert.equal(webhook.clientConfig.url, 'https://127.0.0.1:1/mutate', 'nothing else changed');
    }
    assert.equal(await publishCaBundle(target, material.caPem), false, 'an equal caBundle is left alone');
  });

  test('kirsa webhook --self-managed-tls: the API server trusts it through the caBundle kirsa set, and pods are mutated', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const port = await freePort();
    const work = await mkdtemp(join(tmpdir(), 'kirsa-self-tls-'));
    let webhook: WebhookProcess | undefined;
    try {
      // The configuration as the install manifests leave it in this mode: no caBundle, kirsa fills it in.
      const created = await api(
        'POST',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
        {
          metadata: { name: 'kirsa-self' },
          webhooks: [
            {
              name: 'pod-identity.kirsa.dev',
              admissionReviewVersions: ['v1'],
              sideEffects: 'None',
              failurePolicy: 'Ignore',
              clientConfig: { url: `https://127.0.0.1:${port}/mutate` },
              rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            },
          ],
        },
      );
      assert.equal(created.status, 201, JSON.stringify(created.json));
      webhook = await startWebhook([
        '--port',
        String(port),
        '--kubeconfig',
        apiserver.kubeconfigPath,
        '--self-managed-tls',
        '--namespace',
        'kirsa',
        '--tls-secret',
        'kirsa-self-tls',
        '--webhook-configuration',
        'kirsa-self',
        '--tls-hosts',
        '127.0.0.1',
        '--tls-cert',
        join(work, 'tls/tls.crt'),
        '--tls-key',
        join(work, 'tls/tls.key'),
      ]);
      await webhook.waitForLog((line) => line.msg === 'caBundle set to the CA');
      const account = await api('POST', '/api/v1/namespaces/default/serviceaccounts', {
        metadata: {
          name: 'self-tls',
          annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/app' },
        },
      });
      assert.equal(account.status, 201);
      let env: Array<{ name: string }> = [];
      for (
        let attempt = 0;
        attempt < 50 && !env.some((entry) => entry.name === 'AWS_ROLE_ARN');
        attempt += 1
      ) {
        const pod = await api('POST', '/api/v1/namespaces/default/pods', {
          metadata: { name: `self-tls-${attempt}` },
          spec: { serviceAccountName: 'self-tls', containers: [{ name: 'app', image: 'app' }] },
        });
        assert.equal(pod.status, 201, JSON.stringify(pod.json));
        env = pod.json.spec.containers[0].env ?? [];
        if (!env.length) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(
        env.some((entry) => entry.name === 'AWS_ROLE_ARN'),
        'the API server called the self-managed webhook over TLS',
      );
    } finally {
      await webhook?.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});
