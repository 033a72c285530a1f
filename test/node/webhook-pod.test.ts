// The node tier: kirsa's own image (tools/image) runs as the webhook POD on the one-node cluster, from a
// Secret (its TLS pair) and a ConfigMap (its identity mapping), strict as the chart runs it (non-root,
// read-only root, no capabilities). The kubelet's readiness probe marks it Ready, the API server calls it
// through its Service (resolved to the pod's endpoint), and an application pod it mutated runs as a
// non-root user and reads its token. The pod reaches no API server yet: on this node the API server
// listens on loopback only, so the webhook serves from the mapping with the ServiceAccount watch off.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LocalNode, nodeParts, startLocalNode } from '../../src/local/node.ts';
import { makeServingCertificate, type ServingCertificate } from '../support/tls.ts';
import { eventually } from '../webhook/harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/node-webhook-pod';
const SYSTEM = 'kirsa-system';
const APPS = 'apps';
const SERVICE = 'kirsa-webhook';

const parts = nodeParts();
const image = process.env.KIRSA_IMAGE_OCI;
const skipReason =
  'missing' in parts
    ? parts.missing
    : image
      ? undefined
      : `KIRSA_IMAGE_OCI is not set (${process.env.KIRSA_IMAGE_UNAVAILABLE ?? 'run tools/image/build.sh, or npm test'})`;
if (skipReason && process.env.CI === 'true') throw new Error(`the node tier cannot run in CI: ${skipReason}`);

let node: LocalNode | undefined;
let cert: ServingCertificate | undefined;
let kirsaImage = '';

before(async () => {
  if (skipReason || 'missing' in parts) return;
  node = await startLocalNode(parts, {
    // Webhooks named by a Service are called at an endpoint of the Service, so no kube-proxy is needed.
    controlPlane: { extraArgs: ['--enable-aggregator-routing=true'] },
  });
  kirsaImage = await node.importOciLayout(image!, 'localhost/kirsa/kirsa');
  cert = await makeServingCertificate({
    hosts: [`${SERVICE}.${SYSTEM}.svc`, `${SERVICE}.${SYSTEM}.svc.cluster.local`],
  });
});

after(async () => {
  await node?.stop();
  await cert?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
async function must(answer: Promise<{ status: number; json: any }>): Promise<any> {
  const { status, json } = await answer;
  if (status >= 300) throw new Error(`API answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

const strict = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('the kirsa image as the webhook pod on a real node', { skip: skipReason }, () => {
  test('Ready through its probe, called through its Service, and the pod it mutated runs', async (t) => {
    const kube = node!.kube;
    const post = (path: string, body: unknown) => must(kube.request('POST', path, body));
    await post('/api/v1/namespaces', { metadata: { name: SYSTEM } });
    await post('/api/v1/namespaces', { metadata: { name: APPS } });
    await post(`/api/v1/namespaces/${APPS}/serviceaccounts`, { metadata: { name: 'app' } });
    await post(`/api/v1/namespaces/${SYSTEM}/secrets`, {
      metadata: { name: 'kirsa-webhook-tls' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': cert!.certPem, 'tls.key': cert!.keyPem },
    });
    await post(`/api/v1/namespaces/${SYSTEM}/configmaps`, {
      metadata: { name: 'kirsa-identities' },
      data: { 'identities.json': JSON.stringify({ [`${APPS}/app`]: { RoleARN: ROLE } }) },
    });
    const labels = { 'app.kubernetes.io/name': 'kirsa' };
    const started = Date.now();
    await post(`/api/v1/namespaces/${SYSTEM}/pods`, {
      metadata: { name: 'kirsa-webhook', labels },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'webhook',
            image: kirsaImage,
            imagePullPolicy: 'Never',
            // The image's entrypoint is `kirsa`; the ServiceAccount watch is off (see the header).
            args: [
              'webhook',
              '--tls-cert=/tls/tls.crt',
              '--tls-key=/tls/tls.key',
              '--identities-file=/config/identities.json',
              '--watch-service-accounts=false',
              // The certificate must name the Service the webhook serves as (<service>.<namespace>.svc).
              `--namespace=${SYSTEM}`,
              '--port=8443',
              '--metrics-port=9999',
            ],
            ports: [{ name: 'https', containerPort: 8443 }],
            readinessProbe: {
              httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' },
              periodSeconds: 1,
            },
            securityContext: strict,
            volumeMounts: [
              { name: 'tls', mountPath: '/tls', readOnly: true },
              { name: 'config', mountPath: '/config', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'tls', secret: { secretName: 'kirsa-webhook-tls' } },
          { name: 'config', configMap: { name: 'kirsa-identities' } },
        ],
      },
    });
    await post(`/api/v1/namespaces/${SYSTEM}/services`, {
      metadata: { name: SERVICE },
      spec: { selector: labels, ports: [{ name: 'https', port: 443, targetPort: 'https' }] },
    });
    const ready = await eventually(
      async () => {
        const pod = await must(kube.request('GET', `/api/v1/namespaces/${SYSTEM}/pods/kirsa-webhook`));
        const condition = pod.status.conditions?.find((c: { type: string }) => c.type === 'Ready');
        return condition?.status === 'True' ? pod : undefined;
      },
      120_000,
      250,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await webhookLog()}\n${node!.output().slice(-4000)}`);
    });
    t.diagnostic(
      `webhook pod Ready ${Date.now() - started} ms after it was created, at ${ready.status.podIP}`,
    );
    // Running as the image's user (65532), when the kubelet reports the user (status.containerStatuses[].user).
    const uid = ready.status.containerStatuses[0].user?.linux?.uid;
    if (uid !== undefined) assert.equal(uid, 65532);

    await post('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      metadata: { name: 'kirsa' },
      webhooks: [
        {
          name: 'pod-identity.kirsa.dev',
          clientConfig: {
            service: { namespace: SYSTEM, name: SERVICE, path: '/mutate', port: 443 },
            caBundle: Buffer.from(cert!.caPem).toString('base64'),
          },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods'],
              scope: 'Namespaced',
            },
          ],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': APPS } },
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 10,
        },
      ],
    });

    // The configuration is picked up asynchronously: the first pod that comes back mutated says it is in
    // force (failurePolicy Fail: an unreachable webhook would refuse the pod instead).
    const appStarted = Date.now();
    const app = await eventually(
      async () => {
        const name = `app-${Date.now()}`;
        const created = await must(
          kube.request('POST', `/api/v1/namespaces/${APPS}/pods`, {
            metadata: { name },
            spec: {
              serviceAccountName: 'app',
              restartPolicy: 'Never',
              terminationGracePeriodSeconds: 0,
              securityContext: { runAsUser: 1000, runAsGroup: 1000 },
              containers: [
                {
                  name: 'probe',
                  image: process.env.KIRSA_PROBE_IMAGE,
                  imagePullPolicy: 'Never',
                  env: [{ name: 'PROBE_SLEEP', value: '10m' }],
                  securityContext: strict,
                },
              ],
            },
          }),
        );
        const env = created.spec.containers[0].env ?? [];
        if (env.some((e: { name: string; value: string }) => e.name === 'AWS_ROLE_ARN' && e.value === ROLE))
          return created;
        await kube.request('DELETE', `/api/v1/namespaces/${APPS}/pods/${name}?gracePeriodSeconds=0`);
        return undefined;
      },
      30_000,
      500,
    );
    const logFile = join(
      node!.podLogsDir,
      `${APPS}_${app.metadata.name}_${app.metadata.uid}`,
      'probe',
      '0.log',
    );
    const report = await eventually(
      async () => {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        const line = text.split('\n').find((l) => l.includes(' stdout F {'));
        return line ? JSON.parse(line.slice(line.indexOf('{'))) : undefined;
      },
      90_000,
      250,
    );
    t.diagnostic(`first mutated pod running and reporting ${Date.now() - appStarted} ms after its create`);
    assert.equal(report.uid, 1000);
    assert.ok(report.env.includes(`AWS_ROLE_ARN=${ROLE}`));
    assert.equal(report.readable, true, report.readError);
    const claims = JSON.parse(Buffer.from(report.token.split('.')[1], 'base64url').toString('utf8'));
    assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
    assert.equal(claims.sub, `system:serviceaccount:${APPS}:app`);
  });
});

/** The webhook container's log, read on the node (for failure messages). */
async function webhookLog(): Promise<string> {
  try {
    const pod = await must(node!.kube.request('GET', `/api/v1/namespaces/${SYSTEM}/pods/kirsa-webhook`));
    const folder = join(node!.podLogsDir, `${SYSTEM}_kirsa-webhook_${pod.metadata.uid}`, 'webhook');
    // The kubelet names a container's log by its restart count, and keeps only the newest.
    const files = (await readdir(folder)).sort();
    const logs = await Promise.all(files.map((file) => readFile(join(folder, file), 'utf8')));
    return `webhook pod status ${JSON.stringify(pod.status)}\n${logs.join('')}`;
  } catch (error) {
    return `no webhook log: ${String(error)}`;
  }
}
