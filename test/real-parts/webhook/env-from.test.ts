// --read-env-from-config-maps against a real kube-apiserver: the API server calls the webhook for pods whose
// containers take env from ConfigMaps, and the webhook, with exactly the ClusterRole `kirsa manifests
// --read-env-from-config-maps` ships, reads them: a region is injected where the ConfigMap sets none, not
// where it sets AWS_REGION (directly or through envFrom's prefix), and not where the ConfigMap is missing
// (warned). With the shipped ClusterRole without the flag (no get on ConfigMaps), the read fails and no
// region is injected: the RBAC is what the flag needs, and only it.

import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { DEFAULT_INSTALL_SETTINGS, renderInstallManifests } from '../../../src/install/manifests.ts';
import { realPart } from '../../support/real-parts.ts';
import {
  decodeReply,
  envOf,
  eventually,
  httpGet,
  httpsCall,
  metricValue,
  podReview,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';
import { startWebhookCluster, type WebhookCluster } from '../../support/webhook-on-kube.ts';

const READER = 'kirsa-webhook';
const DENIED = 'kirsa-webhook-without-configmaps';
const ROLE = 'arn:aws:iam::111122223333:role/app';
let cluster: WebhookCluster | undefined;
let core: CoreV1Api;
let webhook: WebhookProcess;
let denied: WebhookProcess;

function shippedRules(readEnvFromConfigMaps: boolean) {
  const settings = {
    ...DEFAULT_INSTALL_SETTINGS,
    webhook: { ...DEFAULT_INSTALL_SETTINGS.webhook, readEnvFromConfigMaps },
  };
  const role = renderInstallManifests(settings).find((item) => item.kind === 'ClusterRole') as {
    rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  };
  return role.rules;
}

before(async (t) => {
  const context = t as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  cluster = await startWebhookCluster({ users: { [READER]: [], [DENIED]: [] } });
  core = cluster.core;
  await core.createNamespace({ body: { metadata: { name: 'apps' } } });
  await cluster.grant(READER, shippedRules(true));
  await cluster.grant(DENIED, shippedRules(false));
  await core.createNamespacedServiceAccount({
    namespace: 'apps',
    body: { metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } },
  });
  for (const [name, data] of [
    ['plain', { LOG_LEVEL: 'debug' }],
    ['regional', { AWS_REGION: 'us-west-2' }],
    ['suffix', { REGION: 'us-west-2' }],
  ] as const) {
    await core.createNamespacedConfigMap({ namespace: 'apps', body: { metadata: { name }, data } });
  }
  const flags = ['--read-env-from-config-maps', '--aws-default-region', 'eu-west-1'];
  webhook = await cluster.startWebhookAs(READER, flags);
  denied = await cluster.startWebhookAs(DENIED, flags);
  await cluster.untilReady(webhook);
  await cluster.untilReady(denied);
  await cluster.register(webhook, ['apps']);
});

after(async () => {
  await cluster?.stop();
});

function podFrom(envFrom: unknown[]): V1Pod {
  return {
    metadata: { generateName: 'app-' },
    spec: {
      serviceAccountName: 'app',
      containers: [{ name: 'main', image: 'x', envFrom: envFrom as never }],
    },
  };
}

function regionOf(pod: V1Pod): string | undefined {
  return pod.spec?.containers[0]?.env?.find((entry) => entry.name === 'AWS_REGION')?.value;
}

/** The webhook's reply to a review of such a pod, sent directly: its region and warnings. */
async function reviewed(target: WebhookProcess, envFrom: unknown[]) {
  const answer = await httpsCall(target.port, {
    ca: cluster!.cert.caPem,
    body: podReview({
      namespace: 'apps',
      pod: { apiVersion: 'v1', kind: 'Pod', ...(podFrom(envFrom) as Record<string, unknown>) },
    }),
  });
  assert.equal(answer.status, 200);
  const reply = decodeReply(answer.body);
  return { region: envOf(reply.patch).AWS_REGION, warnings: reply.response.warnings ?? [] };
}

describe('reading the ConfigMaps envFrom names (real kube-apiserver)', () => {
  test('pods created through the API server: a region only where their ConfigMap sets none', async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    // The configuration takes effect asynchronously: wait until a pod comes back mutated.
    const plain = await eventually(async () => {
      const pod = await core.createNamespacedPod({
        namespace: 'apps',
        body: podFrom([{ configMapRef: { name: 'plain' } }]),
      });
      return regionOf(pod) !== undefined ? pod : undefined;
    }, 20_000);
    assert.equal(regionOf(plain), 'eu-west-1');
    const regional = await core.createNamespacedPod({
      namespace: 'apps',
      body: podFrom([{ configMapRef: { name: 'regional' } }]),
    });
    assert.equal(regionOf(regional), undefined, 'the ConfigMap sets AWS_REGION');
    assert.ok(
      regional.spec?.containers[0]?.env?.some((entry) => entry.name === 'AWS_ROLE_ARN'),
      'the rest is injected',
    );
    const prefixed = await core.createNamespacedPod({
      namespace: 'apps',
      body: podFrom([{ prefix: 'AWS_', configMapRef: { name: 'suffix' } }]),
    });
    assert.equal(regionOf(prefixed), undefined, 'AWS_ + REGION sets AWS_REGION');
  });

  test('a missing ConfigMap (even optional): no region, and a warning that names it', async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    const missing = await reviewed(webhook, [{ configMapRef: { name: 'not-yet', optional: true } }]);
    assert.equal(missing.region, undefined);
    assert.match(missing.warnings.join('\n'), /ConfigMap "not-yet" was not found/);
    assert.equal((await reviewed(webhook, [{ configMapRef: { name: 'plain' } }])).region, 'eu-west-1');
    // Counted per GET: `plain` was read once (for the first pod) and since served from the cache.
    const metrics = (await httpGet(webhook.metricsPort, '/metrics')).body;
    const reads = (result: string) =>
      metricValue(metrics, 'kirsa_webhook_config_map_reads_total', { result });
    assert.equal(reads('absent'), 1);
    assert.equal(reads('found'), 3, 'plain, regional, suffix');
  });

  test('without get on ConfigMaps (the ClusterRole without the flag): no region, warned', async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    const answer = await reviewed(denied, [{ configMapRef: { name: 'plain' } }]);
    assert.equal(answer.region, undefined);
    assert.match(answer.warnings.join('\n'), /ConfigMap "plain" could not be read/);
    const metrics = (await httpGet(denied.metricsPort, '/metrics')).body;
    assert.equal(metricValue(metrics, 'kirsa_webhook_config_map_reads_total', { result: 'unreadable' }), 1);
  });
});
