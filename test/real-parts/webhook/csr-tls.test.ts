// `kirsa webhook --in-cluster=true` on the real kube-apiserver: the reference's certificate mode. The webhook
// runs with exactly the RBAC of the reference's deploy/auth.yaml (written below as data) and the reference's
// defaults (namespace eks, Service and Secret pod-identity-webhook). What it must do, as the reference does:
//
// - ask with a CertificateSigningRequest (certificates.k8s.io/v1) for CN pod-identity-webhook.eks.svc and the
//   reference's four DNS names, usages digital signature + key encipherment + server auth, an ECDSA P-256 key;
// - stay not ready (no certificate, every TLS handshake fails) until the request is approved and issued;
// - serve the issued certificate, keep the pair in Secret eks/pod-identity-webhook (kubernetes.io/tls), so a
//   restart reuses it without a new request, and ask again at 70-90% of its lifetime.
//
// The reference's signer, kubernetes.io/legacy-unknown, is refused by the API server itself (422: v1 does not
// accept it; v1beta1, which did, was removed in 1.22), so no controller ever sees such a request: the first
// test shows kirsa stopping with that reason. kube-controller-manager signs only the kubernetes.io signers,
// none of which may issue a webhook's serving certificate (kubelet-serving wants a node's CN and
// organisation, kube-apiserver-client a client usage), so it is not started here: the test is the external
// signer a cluster would run (cert-manager's CSR support, a small controller, an admin), approving with
// `kubectl certificate approve` and writing status.certificate through the status subresource. Then the API
// server calls the webhook through its Service with caBundle = the signer's CA, and a pod comes back mutated.
//
// Needs the real kube-apiserver and kubectl, and a non-loopback IPv4 address (an EndpointSlice may not name
// loopback); skips with the reason otherwise.

import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { after, before, describe, type TestContext, test } from 'node:test';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { eventually, startWebhook, type WebhookProcess } from '../../support/webhook-harness.ts';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);
const run = promisify(execFile);

const NAMESPACE = 'eks';
const SERVICE = 'pod-identity-webhook';
const USER = 'pod-identity-webhook';
const SIGNER = 'example.com/webhook-serving';
const APPS = 'apps';
const ROLE = 'arn:aws:iam::111122223333:role/from-csr-tls';

// aws/amazon-eks-pod-identity-webhook at 3bf80a3 (v0.6.17 + 5): deploy/auth.yaml, bound here to a user.
const REFERENCE_CLUSTER_RULES = [
  { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'watch', 'list'] },
  {
    apiGroups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests'],
    verbs: ['create', 'get', 'list', 'watch'],
  },
];
const REFERENCE_NAMESPACED_RULES = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get', 'update', 'patch'],
    resourceNames: ['pod-identity-webhook'],
  },
];
// main.go: the CSR template's subject and DNS names for --service-name and --namespace.
const REFERENCE_COMMON_NAME = 'pod-identity-webhook.eks.svc';
const REFERENCE_DNS_NAMES = [
  'pod-identity-webhook',
  'pod-identity-webhook.eks',
  'pod-identity-webhook.eks.svc',
  'pod-identity-webhook.eks.svc.cluster.local',
];

function hostAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? [])
      if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

let kube: KubeApiserver | undefined;
let address: string | undefined;
let kubectl: string | undefined;
let userKubeconfig: string;
let signer: { certificate: x509.X509Certificate; privateKey: webcrypto.CryptoKey; pem: string };
const running: WebhookProcess[] = [];

// biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const answer = await kube!.request(method, path, body);
  assert.ok(answer.status >= 200 && answer.status < 300, `${method} ${path}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

before(async (t) => {
  const context = t as unknown as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  kubectl = realPart(context, 'KIRSA_KUBECTL');
  address = hostAddress();
  if (!kubectl || !address) return;
  kube = await startKubeApiserver({
    users: { [USER]: [] },
    extraArgs: ['--enable-aggregator-routing=true'],
  });
  userKubeconfig = await kube.kubeconfigFor(USER);
  for (const name of [NAMESPACE, APPS]) await ok('POST', '/api/v1/namespaces', { metadata: { name } });
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  const subject = { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER };
  await ok('POST', `${rbac}/clusterroles`, { metadata: { name: USER }, rules: REFERENCE_CLUSTER_RULES });
  await ok('POST', `${rbac}/clusterrolebindings`, {
    metadata: { name: USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: USER },
    subjects: [subject],
  });
  await ok('POST', `${rbac}/namespaces/${NAMESPACE}/roles`, {
    metadata: { name: USER },
    rules: REFERENCE_NAMESPACED_RULES,
  });
  await ok('POST', `${rbac}/namespaces/${NAMESPACE}/rolebindings`, {
    metadata: { name: USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: USER },
    subjects: [subject],
  });
  await ok('POST', `/api/v1/namespaces/${APPS}/serviceaccounts`, {
    metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
  });
  // The external signer's CA.
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=example signer',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  signer = { certificate, privateKey: keys.privateKey, pem: certificate.toString('pem') };
});

after(async () => {
  for (const webhook of running) await webhook.stop('SIGKILL');
  await kube?.stop();
});

function skipReason(): string | undefined {
  return kube ? undefined : 'needs the real kube-apiserver, kubectl and a non-loopback IPv4 address';
}

/** The CertificateSigningRequests kirsa created, oldest first. */
async function requests(): Promise<
  // biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
  any[]
> {
  const list = await ok('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests');
  return list.items.sort(
    (a: { metadata: { creationTimestamp: string; name: string } }, b: typeof a) =>
      a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** The request's subjectAltName extension (OID 2.5.29.17), parsed. */
function altNames(request: x509.Pkcs10CertificateRequest): x509.SubjectAlternativeNameExtension | undefined {
  const extension = request.extensions.find((entry) => entry.type === '2.5.29.17');
  return extension ? new x509.SubjectAlternativeNameExtension(extension.rawData) : undefined;
}

/** What an admin does: `kubectl certificate approve`. */
async function approve(name: string): Promise<void> {
  await run(kubectl!, ['--kubeconfig', kube!.kubeconfigPath, 'certificate', 'approve', name]);
}

/** What the external signer does: a certificate for the request's key, subject and names, into the status. */
async function sign(name: string, lifetimeMs: number): Promise<string> {
  const csr = await ok('GET', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`);
  const request = new x509.Pkcs10CertificateRequest(Buffer.from(csr.spec.request, 'base64').toString('utf8'));
  const san = altNames(request);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    subject: request.subject,
    issuer: signer.certificate.subject,
    publicKey: request.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    notBefore: new Date(now - 1_000),
    notAfter: new Date(now + lifetimeMs),
    extensions: [
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ...(san ? [san] : []),
    ],
  });
  const pem = certificate.toString('pem');
  csr.status.certificate = Buffer.from(pem).toString('base64');
  await ok('PUT', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}/status`, csr);
  return pem;
}

async function readyz(webhook: WebhookProcess): Promise<{ status: number; body: string }> {
  const answer = await fetch(`http://${address}:${webhook.metricsPort}/readyz`);
  return { status: answer.status, body: await answer.text() };
}

/** certificate_manager_server_rotation_seconds_count, or undefined when the series is absent. */
async function rotations(webhook: WebhookProcess): Promise<number | undefined> {
  const text = await (await fetch(`http://${address}:${webhook.metricsPort}/metrics`)).text();
  const line = /^certificate_manager_server_rotation_seconds_count (\S+)$/m.exec(text);
  return line ? Number(line[1]) : undefined;
}

/** The certificate the webhook's TLS port presents, or the handshake's error. */
function presented(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({
      host: address,
      port,
      rejectUnauthorized: false,
      servername: REFERENCE_COMMON_NAME,
    });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerX509Certificate()?.raw;
      socket.destroy();
      resolve(raw ? new X509Certificate(raw).fingerprint256 : 'none');
    });
    socket.once('error', (error) => resolve(`error: ${error.message}`));
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

async function startInCluster(extra: string[]): Promise<WebhookProcess> {
  const webhook = await startWebhook([
    '--bind-address',
    address!,
    '--kubeconfig',
    userKubeconfig,
    '--in-cluster=true',
    '--namespace',
    NAMESPACE,
    // The reference's RBAC grants no events and no configmaps: kirsa's extras stay off.
    '--pod-events=false',
    '--shutdown-drain-delay',
    '0s',
    ...extra,
  ]);
  running.push(webhook);
  return webhook;
}

describe('--in-cluster=true: a serving certificate from a CertificateSigningRequest', () => {
  test("the reference's signer is refused by the API server, and kirsa stops saying so", async (t) => {
    if (skipReason()) return t.skip(skipReason());
    const result = await runKirsa(
      [
        'webhook',
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--bind-address',
        '127.0.0.1',
        '--kubeconfig',
        userKubeconfig,
        '--in-cluster=true',
        '--namespace',
        NAMESPACE,
        '--pod-events=false',
      ],
      { env: { KUBERNETES_SERVICE_HOST: '' } },
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /kubernetes\.io\/legacy-unknown/);
    assert.match(result.stderr, /not allowed via this API version/);
    assert.match(result.stderr, /hint: .*--csr-signer-name/);
    assert.match(result.stderr, /^ {2}code: KUBE_REJECTED$/m);
    assert.deepEqual(await requests(), [], 'the API server stored no request');
  });

  test('asks as the reference asks, serves once approved and issued, the API server calls it, it rotates', async (t) => {
    if (skipReason()) return t.skip(skipReason());
    const webhook = await startInCluster(['--csr-signer-name', SIGNER]);

    // The request: the reference's subject, names, usages and key type, under the signer asked for.
    const [pending] = await requests();
    assert.ok(pending, 'a CertificateSigningRequest exists once the webhook listens');
    assert.equal(pending.spec.signerName, SIGNER);
    assert.deepEqual([...pending.spec.usages].sort(), [
      'digital signature',
      'key encipherment',
      'server auth',
    ]);
    assert.equal(pending.spec.username, USER, "created with the webhook's own identity");
    const request = new x509.Pkcs10CertificateRequest(
      Buffer.from(pending.spec.request, 'base64').toString('utf8'),
    );
    assert.equal(request.subject, `CN=${REFERENCE_COMMON_NAME}`);
    assert.deepEqual(
      altNames(request)?.names.items.map((name) => name.value),
      REFERENCE_DNS_NAMES,
    );
    assert.deepEqual(request.publicKey.algorithm, { name: 'ECDSA', namedCurve: 'P-256' });

    // Not approved yet: not ready, and no certificate to present.
    const before = await readyz(webhook);
    assert.equal(before.status, 503);
    assert.match(before.body, new RegExp(`waiting for CertificateSigningRequest ${pending.metadata.name}`));
    assert.match(await presented(webhook.port), /^error/);

    // The admin approves, the signer issues a 40 s certificate (rotation due at 28-36 s).
    await approve(pending.metadata.name);
    const firstPem = await sign(pending.metadata.name, 40_000);
    await eventually(async () => ((await readyz(webhook)).status === 200 ? true : undefined), 15_000);
    assert.equal(await presented(webhook.port), fingerprint(firstPem));
    const secret = await ok('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SERVICE}`);
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8'), firstPem);

    // The API server calls it through the Service, verifying the names against caBundle = the signer's CA.
    await ok('POST', `/api/v1/namespaces/${NAMESPACE}/services`, {
      metadata: { name: SERVICE },
      spec: { ports: [{ port: 443, targetPort: webhook.port }] },
    });
    await ok('POST', `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`, {
      metadata: { name: `${SERVICE}-pod`, labels: { 'kubernetes.io/service-name': SERVICE } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: '', protocol: 'TCP', port: webhook.port }],
    });
    await ok('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      metadata: { name: SERVICE },
      webhooks: [
        {
          name: 'pod-identity-webhook.amazonaws.com',
          failurePolicy: 'Fail',
          clientConfig: {
            service: { name: SERVICE, namespace: NAMESPACE, path: '/mutate' },
            caBundle: Buffer.from(signer.pem).toString('base64'),
          },
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [APPS] }],
          },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
        },
      ],
    });
    const pod = await eventually(
      async () => {
        const answer = await kube!.request('POST', `/api/v1/namespaces/${APPS}/pods`, {
          metadata: { generateName: 'app-' },
          spec: {
            serviceAccountName: 'app',
            containers: [{ name: 'main', image: 'registry.example/app:1' }],
          },
        });
        return answer.status === 201 ? answer.json : undefined;
      },
      20_000,
      500,
    );
    const env = Object.fromEntries(
      (pod.spec.containers[0].env ?? []).map((entry: { name: string; value?: string }) => [
        entry.name,
        entry.value,
      ]),
    );
    assert.equal(env.AWS_ROLE_ARN, ROLE);

    // A restart reuses the stored pair: no new request, ready at once.
    await webhook.stop();
    const restarted = await startInCluster(['--csr-signer-name', SIGNER]);
    assert.equal((await requests()).length, 1, 'no new request on restart');
    assert.equal((await readyz(restarted)).status, 200);
    assert.equal(await presented(restarted.port), fingerprint(firstPem));
    assert.equal(await rotations(restarted), 0, "the reference's rotation histogram, registered and empty");

    // At 70-90% of the lifetime it asks again; the previous certificate is served until the new one is issued.
    const renewal = await eventually(async () => (await requests())[1], 45_000, 500);
    assert.equal(await presented(restarted.port), fingerprint(firstPem));
    await approve(renewal.metadata.name);
    const secondPem = await sign(renewal.metadata.name, 3_600_000);
    await eventually(
      async () => ((await presented(restarted.port)) === fingerprint(secondPem) ? true : undefined),
      15_000,
      200,
    );
    const renewed = await ok('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SERVICE}`);
    assert.equal(Buffer.from(renewed.data['tls.crt'], 'base64').toString('utf8'), secondPem);
    assert.equal((await readyz(restarted)).status, 200);
    assert.equal(await rotations(restarted), 1);
  });

  test('a denied request is logged and asked again, never served', async (t) => {
    if (skipReason()) return t.skip(skipReason());
    // Another namespace and Secret name: a fresh start with nothing stored.
    await ok('POST', '/api/v1/namespaces', { metadata: { name: 'other' } });
    await ok('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/other/roles', {
      metadata: { name: USER },
      rules: REFERENCE_NAMESPACED_RULES,
    });
    await ok('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/other/rolebindings', {
      metadata: { name: USER },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: USER },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER }],
    });
    const known = new Set((await requests()).map((csr) => csr.metadata.name));
    const webhook = await startWebhook([
      '--bind-address',
      address!,
      '--kubeconfig',
      userKubeconfig,
      '--in-cluster=true',
      '--namespace',
      'other',
      '--csr-signer-name',
      SIGNER,
      '--pod-events=false',
      '--shutdown-drain-delay',
      '0s',
    ]);
    running.push(webhook);
    const first = (await requests()).find((csr) => !known.has(csr.metadata.name));
    assert.ok(first);
    assert.equal(first.spec.username, USER);
    await run(kubectl!, ['--kubeconfig', kube!.kubeconfigPath, 'certificate', 'deny', first.metadata.name]);
    const line = await webhook.waitForLog((entry) => /was denied/.test(String(entry.err ?? '')), 15_000);
    assert.equal(line.level, 'warn');
    // It asks again with a new key after its backoff, and is still not ready.
    const again = await eventually(
      async () =>
        (await requests()).find(
          (csr) => !known.has(csr.metadata.name) && csr.metadata.name !== first.metadata.name,
        ),
      15_000,
      500,
    );
    assert.notEqual(again.spec.request, first.spec.request);
    assert.equal((await readyz(webhook)).status, 503);
    assert.match(await presented(webhook.port), /^error/);
  });
});
