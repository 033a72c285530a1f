// `kirsa webhook` with in-cluster configuration, as it runs in its pod: no --kubeconfig, the API server from
// KUBERNETES_SERVICE_HOST/PORT, and the service-account token, CA and namespace from the fixed paths under
// /var/run/secrets/kubernetes.io/serviceaccount where the kubelet mounts them. Without a kubelet, the test
// puts real files there (a TokenRequest token for the webhook's own ServiceAccount, the API server's CA) in
// a private mount namespace of the webhook's process, so nothing on this machine changes. It needs root for
// that, and skips with the reason otherwise.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { podLauncher, privateMountsMissing, serviceEnv, writePodFiles } from '../../support/pod-mounts.ts';
import { realPart } from '../../support/real-parts.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  admittedRole,
  eventually,
  httpsCall,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/in-cluster';

let kube: KubeApiserver | undefined;
let cert: ServingCertificate;
let secrets: string | undefined;
let webhook: WebhookProcess | undefined;

before(async (t) => {
  if (!realPart(t, 'KIRSA_KUBE_APISERVER') || !realPart(t, 'KIRSA_ETCD')) return;
  if (privateMountsMissing() !== undefined) return;
  kube = await startKubeApiserver();
  cert = await makeServingCertificate();
  secrets = await mkdtemp(join(tmpdir(), 'kirsa-pod-secrets-'));
});

after(async () => {
  await webhook?.stop('SIGKILL');
  await kube?.stop();
  await cert?.cleanup();
  if (secrets) await rm(secrets, { recursive: true, force: true });
});

async function created(method: string, path: string, body: unknown) {
  const answer = await kube!.request(method, path, body);
  assert.ok(answer.status === 200 || answer.status === 201, `${path}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

test('in a pod: the webhook reads the mounted service-account files and watches as its own ServiceAccount', async (t) => {
  if (!kube) return t.skip('needs the real kube-apiserver, root and unshare (private mounts)');
  await created('POST', '/api/v1/namespaces', { metadata: { name: 'kirsa-system' } });
  await created('POST', '/api/v1/namespaces/kirsa-system/serviceaccounts', { metadata: { name: 'kirsa' } });
  const tokenRequest = await created('POST', '/api/v1/namespaces/kirsa-system/serviceaccounts/kirsa/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  await writePodFiles(secrets!, {
    token: tokenRequest.status.token as string,
    caFile: kube.caFile,
    namespace: 'kirsa-system',
  });
  const launcher = podLauncher(secrets!);
  webhook = await startWebhook(
    ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--service-account-lookup-grace-period', '0'],
    {
      env: serviceEnv(kube.url),
      launcher,
    },
  );

  // Nothing granted yet: the API server refuses the list to the webhook's ServiceAccount, by that name.
  const refused = await webhook.waitForLog((line) => /list forbidden/.test(line.msg));
  assert.match(JSON.stringify(refused), /system:serviceaccount:kirsa-system:kirsa/);

  await created('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: 'kirsa-webhook' },
    rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] }],
  });
  await created('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'kirsa-webhook' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kirsa-webhook' },
    subjects: [{ kind: 'ServiceAccount', name: 'kirsa', namespace: 'kirsa-system' }],
  });
  await created('POST', '/api/v1/namespaces/default/serviceaccounts', {
    metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
  });
  await eventually(
    async () =>
      (await admittedRole(webhook!, cert.caPem, 'default', 'app')).role === ROLE ? true : undefined,
    60_000,
  );
  const ready = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/readyz' });
  assert.equal(ready.status, 200);
});
