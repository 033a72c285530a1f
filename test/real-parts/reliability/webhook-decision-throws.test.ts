// A pod that makes the decision throw, sent to the real `kirsa webhook` over TLS by a client inside the
// cluster (no API server sends a null container, anything that reaches the port can), on both paths to the
// decision: a cache hit (the ServiceAccount came through the watch) and a cache miss (an account the watch
// does not know; the direct GET says 404 and the mapping file gives the identity). Both must answer 200,
// allowed, unchanged, with a warning: before the fix the miss path answered nothing at all and the API
// server waited out its timeout.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  admittedRole,
  decodeReply,
  eventually,
  httpGet,
  httpsCall,
  metricValue,
  podReview,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const NAMESPACE = 'apps';

let kube: KubeApiserver | undefined;
let cert: ServingCertificate | undefined;
let dir: string | undefined;
let webhook: WebhookProcess | undefined;

before(async (t) => {
  const context = t as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  kube = await startKubeApiserver();
  cert = await makeServingCertificate();
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfigPath);
  const core = config.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await core.createNamespacedServiceAccount({
    namespace: NAMESPACE,
    body: { metadata: { name: 'known', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } },
  });
  dir = await mkdtemp(join(tmpdir(), 'kirsa-throws-'));
  // The mapping gives an identity to an account that does not exist, so the miss path reaches the mutation.
  await writeFile(
    join(dir, 'identities.json'),
    JSON.stringify({ [`${NAMESPACE}/ghost`]: { RoleARN: ROLE } }),
  );
  webhook = await startWebhook([
    '--tls-cert',
    cert.certFile,
    '--tls-key',
    cert.keyFile,
    '--kubeconfig',
    kube.kubeconfigPath,
    '--identities-file',
    join(dir, 'identities.json'),
    '--shutdown-drain-delay',
    '0s',
  ]);
  // Ready, and the account delivered by the watch: from here on "known" is a cache hit.
  await eventually(async () => {
    const { role } = await admittedRole(webhook!, cert!.caPem, NAMESPACE, 'known');
    return role === ROLE ? true : undefined;
  }, 40_000);
});

after(async () => {
  await webhook?.stop('SIGKILL');
  await kube?.stop();
  await cert?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function hostileReview(serviceAccountName: string, uid: string): string {
  return podReview({
    uid,
    namespace: NAMESPACE,
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'app-' },
      spec: { serviceAccountName, containers: [null, { name: 'main', image: 'busybox' }] },
    },
  });
}

async function scrape(name: string, labels: Record<string, string>): Promise<number> {
  return metricValue((await httpGet(webhook!.metricsPort, '/metrics')).body, name, labels) ?? 0;
}

describe('a pod whose decision throws', () => {
  for (const [path, serviceAccountName] of [
    ['cache hit', 'known'],
    ['cache miss', 'ghost'],
  ] as const) {
    test(`${path}: 200, allowed, unchanged, a warning, counted as an error`, async (t) => {
      if (!webhook) return t.skip('needs the real kube-apiserver and etcd');
      const errors = await scrape('kirsa_webhook_admissions_total', { outcome: 'error' });
      const misses = await scrape('kirsa_webhook_service_account_lookups_total', { result: 'not_found' });
      const uid = `throws-${serviceAccountName}`;
      // Well inside the API server's 10 s: an answer never comes late, it comes or it does not.
      const answer = await httpsCall(webhook.port, {
        ca: cert!.caPem,
        body: hostileReview(serviceAccountName, uid),
        timeoutMs: 5000,
      });
      assert.equal(answer.status, 200);
      const reply = decodeReply(answer.body);
      assert.equal(reply.response.uid, uid);
      assert.equal(reply.response.allowed, true);
      assert.equal(reply.patch, undefined);
      assert.match(reply.response.warnings?.[0] ?? '', /admitted without AWS credentials/);
      assert.equal(await scrape('kirsa_webhook_admissions_total', { outcome: 'error' }), errors + 1);
      const lookedUp = await scrape('kirsa_webhook_service_account_lookups_total', { result: 'not_found' });
      assert.equal(lookedUp - misses, path === 'cache miss' ? 1 : 0, 'the path taken');
      // Logged once per interval (the second path's line may be counted as suppressed), without a stack or
      // the message (it may quote the pod): the error's class and where it was thrown.
      const logged = await webhook.waitForLog((line) => line.msg === 'admission failed; admitted unchanged');
      assert.equal(logged.err, undefined);
      assert.equal(logged.reason, undefined);
      assert.equal(logged.error, 'TypeError');
      assert.match(String(logged.at), /\.ts:\d+:\d+\)?$/);
    });
  }
});
