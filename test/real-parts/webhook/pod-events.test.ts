// Events on pods admitted without AWS credentials, against a real kube-apiserver: the API server calls the
// webhook for pods, and the webhook, running with exactly the ClusterRole `kirsa manifests` ships, posts an
// Event the pod's owner sees: on a named pod for a role that is not an ARN, on the controller of a pod made
// from generateName whose volume blocks the token, and once per pod prefix and reason (rate-limited). The
// missing service account reason is posted the same way (a review sent directly: the API server's own
// ServiceAccount admission may refuse such pods before any webhook).

import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { DEFAULT_INSTALL_SETTINGS, renderInstallManifests } from '../../../src/install/manifests.ts';
import { realPart } from '../../support/real-parts.ts';
import { eventually, httpsCall, podReview, type WebhookProcess } from '../../support/webhook-harness.ts';
import { startWebhookCluster, type WebhookCluster } from '../../support/webhook-on-kube.ts';

const USER = 'kirsa-webhook';
let cluster: WebhookCluster | undefined;
let core: CoreV1Api;
let webhook: WebhookProcess;

before(async (t) => {
  const context = t as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  cluster = await startWebhookCluster({ users: { [USER]: [] } });
  core = cluster.core;
  // No controller-manager runs here, so the cluster has no ServiceAccount at all when the webhook lists: the
  // API server answers that metadata-only list with `"items": null`, which kept this webhook from ever
  // becoming ready until list-page.ts read it as empty.
  await core.createNamespace({ body: { metadata: { name: 'apps' } } });
  // The shipped ClusterRole, bound to the webhook's user: the Events must work with exactly that RBAC.
  const shipped = renderInstallManifests(DEFAULT_INSTALL_SETTINGS).find(
    (item) => item.kind === 'ClusterRole',
  ) as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
  await cluster.grant(USER, shipped.rules);
  webhook = await cluster.startWebhookAs(USER, ['--service-account-lookup-grace-period', '100ms']);
  await cluster.untilReady(webhook);
  await cluster.register(webhook, ['apps']);
  await core.createNamespacedServiceAccount({
    namespace: 'apps',
    body: {
      metadata: { name: 'typo', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1111:role/x' } },
    },
  });
  await core.createNamespacedServiceAccount({
    namespace: 'apps',
    body: {
      metadata: {
        name: 'good',
        annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/good' },
      },
    },
  });
});

after(async () => {
  await cluster?.stop();
});

async function eventsFor(kind: string, name: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({
    namespace: 'apps',
    fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
  });
  return list.items.filter((event) => event.source?.component === 'kirsa-webhook');
}

/** Creates pods until the API server calls the webhook (it picks the configuration up asynchronously). */
async function createPod(body: Record<string, unknown>) {
  return eventually(async () => {
    const pod = await core.createNamespacedPod({ namespace: 'apps', body });
    return pod;
  }, 20_000);
}

describe('Events on pods admitted without credentials (real kube-apiserver)', () => {
  test('a role that is not an ARN: a Warning Event on the named pod, saying how to fix it', async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    // The configuration takes effect asynchronously: wait until a good pod comes back mutated.
    await eventually(async () => {
      const pod = await core.createNamespacedPod({
        namespace: 'apps',
        body: {
          metadata: { generateName: 'probe-' },
          spec: { serviceAccountName: 'good', containers: [{ name: 'main', image: 'x' }] },
        },
      });
      return pod.spec?.containers[0]?.env?.some((entry) => entry.name === 'AWS_ROLE_ARN') ? true : undefined;
    }, 20_000);
    await createPod({
      metadata: { name: 'bad-role' },
      spec: { serviceAccountName: 'typo', containers: [{ name: 'main', image: 'x' }] },
    });
    const [event] = await eventually(async () => {
      const events = await eventsFor('Pod', 'bad-role');
      return events.length > 0 ? events : undefined;
    });
    assert.equal(event!.type, 'Warning');
    assert.equal(event!.reason, 'InvalidAWSRole');
    assert.match(event!.message!, /"arn:aws:iam::1111:role\/x" .* is not an IAM role ARN .*Correct it/);
  });

  test("a generated pod's blocked token: an Event on its controller, once per prefix and reason", async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    const owner = await core.createNamespacedConfigMap({
      namespace: 'apps',
      body: { metadata: { name: 'owner' } },
    });
    const pod = () => ({
      metadata: {
        generateName: 'worker-',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, controller: true },
        ],
      },
      spec: {
        serviceAccountName: 'good',
        volumes: [{ name: 'aws-iam-token', emptyDir: {} }],
        containers: [{ name: 'main', image: 'x' }],
      },
    });
    await createPod(pod());
    await createPod(pod());
    const events = await eventually(async () => {
      const found = await eventsFor('ConfigMap', 'owner');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(events[0]!.reason, 'AWSCredentialsBlocked');
    assert.equal(events[0]!.involvedObject.uid, owner.metadata!.uid);
    assert.match(
      events[0]!.message!,
      /^pod worker-<generated>: the pod already has a volume "aws-iam-token"/,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(
      (await eventsFor('ConfigMap', 'owner')).length,
      1,
      'the second pod of the prefix is not repeated',
    );
  });

  test('a service account not found in time: an Event on the pod', async (t) => {
    if (!cluster) return t.skip('no kube-apiserver');
    const answer = await httpsCall(webhook.port, {
      ca: cluster.cert.caPem,
      body: podReview({
        namespace: 'apps',
        pod: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'orphan' },
          spec: { serviceAccountName: 'never-created', containers: [{ name: 'main', image: 'x' }] },
        },
      }),
    });
    assert.equal(answer.status, 200);
    const [event] = await eventually(async () => {
      const events = await eventsFor('Pod', 'orphan');
      return events.length > 0 ? events : undefined;
    });
    assert.equal(event!.reason, 'ServiceAccountNotFound');
    assert.match(event!.message!, /service account apps\/never-created was not found in time/);
  });
});
