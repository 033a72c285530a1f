// kirsa as a drop-in for amazon-eks-pod-identity-webhook, in the three installs users actually run: the
// reference's own deploy/ folder, the kOps addon eks-pod-identity-webhook.addons.k8s.io, and the community
// Helm chart (jkroepke/helm-charts, amazon-eks-pod-identity-webhook). For each, written below as DATA (with
// its source and version):
//
// - the objects the install creates around its Deployment (ServiceAccount, RBAC, Service, the
//   MutatingWebhookConfiguration, kOps' mapping ConfigMap) are created on a real kube-apiserver, with the
//   caBundle cert-manager's CA injector would set;
// - the container's command is run exactly as the manifest gives it, with only `/webhook` replaced by
//   `kirsa webhook` (the image's launcher does that), `$(VAR)` expanded from the container's env as the
//   kubelet does, and nothing added. As in the pod: in-cluster configuration (the service-account token,
//   CA and namespace at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT) and
//   the certificate Secret at /etc/webhook/certs, both placed in a private mount namespace of the process
//   (a tmpfs over /var/run, an overlay over /etc), so nothing on this machine changes;
// - the Service reaches the process through an EndpointSlice naming this host's address (the API server
//   runs with --enable-aggregator-routing, so it calls endpoints as it does without kube-proxy), on the
//   ports the manifests give, 443 included: the tests run as root;
// - the API server calls the webhook for a new pod whose service account is annotated (and, for kOps, one
//   mapped by its ConfigMap), and the stored pod comes back mutated;
// - the probes the manifest declares (path, port, scheme) answer 200, asked as the kubelet asks.
//
// Needs the real kube-apiserver, root (mounts, port 443), unshare, and a non-loopback IPv4 address; skips
// with the reason otherwise.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { DEFAULT_INSTALL_SETTINGS, renderInstallManifests } from '../../../src/install/manifests.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { type ReadableCheckout, readableCheckout } from '../../support/non-root.ts';
import { realPart } from '../../support/real-parts.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  admittedRole,
  eventually,
  startServerProcess,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

// --- The installs, as data ------------------------------------------------------------------------------------

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface Probe {
  kind: 'readiness' | 'liveness';
  path: string;
  /** A number, or the name of a container port. */
  port: number | string;
  scheme: 'HTTP' | 'HTTPS';
}

interface Install {
  name: string;
  namespace: string;
  serviceAccount: string;
  /** The container's `command`, exactly as the manifest gives it. */
  command: string[];
  /** The container's env that `$(VAR)` in the command refers to, resolved as the kubelet would. */
  env: Record<string, string>;
  containerPorts: Record<string, number>;
  probes: Probe[];
  service: { name: string; ports: Array<{ name: string; port: number; targetPort: number | string }> };
  clusterRules: Rule[];
  namespacedRules: Rule[];
  webhook: {
    configurationName: string;
    webhookName: string;
    failurePolicy: 'Ignore' | 'Fail';
    servicePort?: number;
    objectSelector: Record<string, unknown>;
    admissionReviewVersions: string[];
  };
  /** kOps' mapping ConfigMap `pod-identity-webhook` (data.config), when the install writes one. */
  mappingConfigMap?: Record<
    string,
    { RoleARN: string; Audience: string; UseRegionalSTS: boolean; TokenExpiration: number }
  >;
  /** The container's securityContext runAsUser/runAsGroup, when it sets them. */
  runAs?: { uid: number; gid: number };
  /** What a mutated pod must carry, from the install's flags. */
  expect: { audience: string; region?: string; regionalSts: boolean };
}

const SERVICE_ACCOUNT_RULES: Rule = {
  apiGroups: [''],
  resources: ['serviceaccounts'],
  verbs: ['get', 'watch', 'list'],
};
const CSR_RULES: Rule = {
  apiGroups: ['certificates.k8s.io'],
  resources: ['certificatesigningrequests'],
  verbs: ['create', 'get', 'list', 'watch'],
};

const INSTALLS: Install[] = [
  // aws/amazon-eks-pod-identity-webhook at 3bf80a348116483b2162190e43232e4d243f76c4 (v0.6.17 + 5 commits,
  // 2026-08-11): deploy/deployment-base.yaml, deploy/service.yaml, deploy/mutatingwebhook.yaml,
  // deploy/auth.yaml. The Deployment declares no ports and no probes.
  {
    name: "the reference's deploy/ folder",
    namespace: 'default',
    serviceAccount: 'pod-identity-webhook',
    command: [
      '/webhook',
      '--in-cluster=false',
      '--namespace=default',
      '--service-name=pod-identity-webhook',
      '--annotation-prefix=eks.amazonaws.com',
      '--token-audience=sts.amazonaws.com',
      '--logtostderr',
    ],
    env: {},
    containerPorts: {},
    probes: [],
    service: { name: 'pod-identity-webhook', ports: [{ name: '', port: 443, targetPort: 443 }] },
    clusterRules: [SERVICE_ACCOUNT_RULES, CSR_RULES],
    namespacedRules: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['get', 'update', 'patch'],
        resourceNames: ['pod-identity-webhook'],
      },
    ],
    webhook: {
      configurationName: 'pod-identity-webhook',
      webhookName: 'pod-identity-webhook.amazonaws.com',
      failurePolicy: 'Ignore',
      objectSelector: {
        matchExpressions: [
          { key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist', values: [] },
        ],
      },
      admissionReviewVersions: ['v1beta1'],
    },
    expect: { audience: 'sts.amazonaws.com', regionalSts: false },
  },
  // kubernetes/kops at 268927e26409f861634e18f3632c9dd483c350cf (v1.37.0-alpha.1 + 280 commits, 2026-08-22):
  // upup/models/cloudup/resources/addons/eks-pod-identity-webhook.addons.k8s.io/k8s-1.16.yaml.template, with
  // {{ Region }} as tests/integration/update_cluster/irsa renders it (us-test-1) and the ConfigMap's config
  // in the format of podIdentityWebhookConfigMapData (upup/pkg/fi/cloudup/template_functions.go).
  {
    name: 'the kOps addon eks-pod-identity-webhook.addons.k8s.io',
    namespace: 'kube-system',
    serviceAccount: 'pod-identity-webhook',
    command: [
      '/webhook',
      '--in-cluster=false',
      '--namespace=kube-system',
      '--service-name=pod-identity-webhook',
      '--annotation-prefix=eks.amazonaws.com',
      '--token-audience=amazonaws.com',
      '--logtostderr',
      '--watch-config-map',
      '--sts-regional-endpoint',
      '--aws-default-region=us-test-1',
      '--v=5',
    ],
    env: {},
    containerPorts: {},
    probes: [{ kind: 'readiness', path: '/healthz', port: 443, scheme: 'HTTPS' }],
    service: {
      name: 'pod-identity-webhook',
      ports: [
        { name: 'webhook', port: 443, targetPort: 443 },
        { name: 'metrics', port: 9999, targetPort: 9999 },
      ],
    },
    clusterRules: [SERVICE_ACCOUNT_RULES],
    namespacedRules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'get', 'watch'] }],
    webhook: {
      configurationName: 'pod-identity-webhook',
      webhookName: 'pod-identity-webhook.amazonaws.com',
      failurePolicy: 'Fail',
      objectSelector: {
        matchExpressions: [
          { key: 'kops.k8s.io/managed-by', operator: 'NotIn', values: ['kops'] },
          { key: 'k8s-app', operator: 'NotIn', values: ['kube-apiserver'] },
        ],
      },
      admissionReviewVersions: ['v1beta1'],
    },
    mappingConfigMap: {
      'apps/mapped': {
        RoleARN: 'arn:aws:iam::123456789012:role/mapped.apps.sa.minimal.example.com',
        Audience: 'amazonaws.com',
        UseRegionalSTS: true,
        TokenExpiration: 0,
      },
    },
    expect: { audience: 'amazonaws.com', region: 'us-test-1', regionalSts: true },
  },
  // jkroepke/helm-charts at 39808e0216196e3a1d4078e3e6671d138ed89d89 (2026-08-14), chart
  // amazon-eks-pod-identity-webhook 2.6.5 (appVersion v0.6.17), rendered with helm v4.3.2 as
  // `helm template pod-identity-webhook . --namespace kube-system` with its default values.
  {
    name: 'the community Helm chart amazon-eks-pod-identity-webhook',
    namespace: 'kube-system',
    serviceAccount: 'pod-identity-webhook-amazon-eks-pod-identity-webhook',
    command: [
      '/webhook',
      '--annotation-prefix=eks.amazonaws.com',
      '--aws-default-region=us-east-1',
      '--in-cluster=false',
      '--logtostderr',
      '--namespace=$(POD_NAMESPACE)',
      '--metrics-port=9999',
      '--port=8443',
      '--service-name=pod-identity-webhook-amazon-eks-pod-identity-webhook',
      '--sts-regional-endpoint=true',
      '--token-audience=sts.amazonaws.com',
      '--token-expiration=86400',
      '--token-mount-path=/var/run/secrets/eks.amazonaws.com/serviceaccount',
      '--tls-cert=/etc/webhook/certs/tls.crt',
      '--tls-key=/etc/webhook/certs/tls.key',
    ],
    // POD_NAMESPACE: valueFrom fieldRef metadata.namespace.
    env: { POD_NAMESPACE: 'kube-system' },
    // securityContext: runAsUser 65534, runAsGroup 1 (and all capabilities dropped).
    runAs: { uid: 65534, gid: 1 },
    containerPorts: { https: 8443, metrics: 9999 },
    probes: [
      { kind: 'liveness', path: '/healthz', port: 'https', scheme: 'HTTPS' },
      { kind: 'readiness', path: '/healthz', port: 'https', scheme: 'HTTPS' },
    ],
    service: {
      name: 'pod-identity-webhook-amazon-eks-pod-identity-webhook',
      ports: [
        { name: 'https', port: 8443, targetPort: 'https' },
        { name: 'metrics', port: 9999, targetPort: 'metrics' },
      ],
    },
    clusterRules: [SERVICE_ACCOUNT_RULES, CSR_RULES],
    namespacedRules: [],
    webhook: {
      configurationName: 'pod-identity-webhook-amazon-eks-pod-identity-webhook',
      webhookName: 'pod-identity-webhook.amazonaws.com',
      failurePolicy: 'Ignore',
      servicePort: 8443,
      objectSelector: {
        matchExpressions: [
          { key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist', values: [] },
          { key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['amazon-eks-pod-identity-webhook'] },
        ],
      },
      admissionReviewVersions: ['v1beta1'],
    },
    expect: { audience: 'sts.amazonaws.com', region: 'us-east-1', regionalSts: true },
  },
];

// --- The environment ---------------------------------------------------------------------------------------------

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const APP_NAMESPACE = 'apps';

/** The address the webhook's "pod" has: this host's first non-loopback IPv4 address. */
function hostAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? [])
      if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

function privateMountsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
}

/** `$(VAR)` in a container's command, expanded from its env as the kubelet does ($$ escapes). */
function expandKubeletVariables(args: string[], env: Record<string, string>): string[] {
  return args.map((arg) =>
    arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
      name === undefined ? '$' : (env[name] ?? whole),
    ),
  );
}

let kube: KubeApiserver | undefined;
let address: string | undefined;
let scratch: string | undefined;
let checkout: ReadableCheckout | undefined;
const running: WebhookProcess[] = [];
const certificates: ServingCertificate[] = [];

before(async (t) => {
  const context = t as unknown as TestContext;
  if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  address = hostAddress();
  if (!privateMountsAvailable() || address === undefined) return;
  kube = await startKubeApiserver({ extraArgs: ['--enable-aggregator-routing=true'] });
  scratch = await mkdtemp(join(tmpdir(), 'kirsa-drop-in-'));
  checkout = await readableCheckout();
  await created('POST', '/api/v1/namespaces', { metadata: { name: APP_NAMESPACE } });
});

after(async () => {
  for (const webhook of running) await webhook.stop('SIGKILL');
  await kube?.stop();
  for (const certificate of certificates) await certificate.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await checkout?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
async function created(method: string, path: string, body: unknown): Promise<any> {
  const answer = await kube!.request(method, path, body);
  assert.ok(
    answer.status === 200 || answer.status === 201,
    `${method} ${path}: ${JSON.stringify(answer.json)}`,
  );
  return answer.json;
}

/** Creates what the install creates beside its Deployment, and returns the caBundle's certificate pair. */
async function createInstallObjects(install: Install): Promise<ServingCertificate> {
  const { namespace, serviceAccount, service, webhook } = install;
  const api = `/api/v1/namespaces/${namespace}`;
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  const subject = { kind: 'ServiceAccount', name: serviceAccount, namespace };
  await created('POST', `${api}/serviceaccounts`, { metadata: { name: serviceAccount } });
  await created('POST', `${rbac}/clusterroles`, {
    metadata: { name: serviceAccount },
    rules: install.clusterRules,
  });
  await created('POST', `${rbac}/clusterrolebindings`, {
    metadata: { name: serviceAccount },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: serviceAccount },
    subjects: [subject],
  });
  if (install.namespacedRules.length > 0) {
    await created('POST', `${rbac}/namespaces/${namespace}/roles`, {
      metadata: { name: serviceAccount },
      rules: install.namespacedRules,
    });
    await created('POST', `${rbac}/namespaces/${namespace}/rolebindings`, {
      metadata: { name: serviceAccount },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: serviceAccount },
      subjects: [subject],
    });
  }
  await created('POST', `${api}/services`, {
    metadata: { name: service.name },
    spec: {
      ports: service.ports.map(({ name, port, targetPort }) => ({
        ...(name ? { name } : {}),
        port,
        targetPort,
      })),
      selector: { app: service.name },
    },
  });
  // What the endpoints controller would publish for the one ready pod (no controller runs here).
  await created('POST', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {
    metadata: { name: `${service.name}-pod`, labels: { 'kubernetes.io/service-name': service.name } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: service.ports.map(({ name, targetPort }) => ({
      name,
      protocol: 'TCP',
      port: typeof targetPort === 'number' ? targetPort : install.containerPorts[targetPort],
    })),
  });
  if (install.mappingConfigMap) {
    await created('POST', `${api}/configmaps`, {
      metadata: { name: 'pod-identity-webhook' },
      data: { config: JSON.stringify(install.mappingConfigMap) },
    });
  }
  const fullName = `${service.name}.${namespace}`;
  const certificate = await makeServingCertificate({
    // The names of the install's cert-manager Certificate; the first is also the subject (64 characters at most).
    hosts: [service.name, fullName, `${fullName}.svc`, `${fullName}.svc.local`],
  });
  certificates.push(certificate);
  await created('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    metadata: { name: webhook.configurationName },
    webhooks: [
      {
        name: webhook.webhookName,
        failurePolicy: webhook.failurePolicy,
        clientConfig: {
          service: {
            name: service.name,
            namespace,
            path: '/mutate',
            ...(webhook.servicePort ? { port: webhook.servicePort } : {}),
          },
          caBundle: Buffer.from(certificate.caPem).toString('base64'),
        },
        objectSelector: webhook.objectSelector,
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        sideEffects: 'None',
        admissionReviewVersions: webhook.admissionReviewVersions,
      },
    ],
  });
  return certificate;
}

interface PodSpec {
  name: string;
  namespace: string;
  serviceAccount: string;
  /** The arguments after the executable (`/webhook`, or `kirsa` for kirsa's own image). */
  args: string[];
  env: Record<string, string>;
  /** Where the certificate Secret is mounted (tls.crt, tls.key). */
  certDir: string;
  runAs?: { uid: number; gid: number };
}

/** Starts `kirsa webhook <the manifest's arguments>` as the pod would run it. */
async function startAsThePod(install: Install, certificate: ServingCertificate): Promise<WebhookProcess> {
  const [executable, ...args] = expandKubeletVariables(install.command, install.env);
  assert.equal(executable, '/webhook');
  return startPod(
    {
      name: install.name,
      namespace: install.namespace,
      serviceAccount: install.serviceAccount,
      args: ['webhook', ...args],
      env: install.env,
      certDir: '/etc/webhook/certs',
      ...(install.runAs ? { runAs: install.runAs } : {}),
    },
    certificate,
  );
}

async function startPod(spec: PodSpec, certificate: ServingCertificate): Promise<WebhookProcess> {
  const install = spec;
  const dir = join(scratch!, install.name.replace(/\W+/g, '-'));
  const secrets = join(dir, 'serviceaccount');
  const certs = join(dir, 'certs');
  for (const folder of [secrets, certs, join(dir, 'etc-upper'), join(dir, 'etc-work')]) {
    await mkdir(folder, { recursive: true });
  }
  const tokenRequest = await created(
    'POST',
    `/api/v1/namespaces/${install.namespace}/serviceaccounts/${install.serviceAccount}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  await writeFile(join(secrets, 'token'), tokenRequest.status.token as string);
  await writeFile(join(secrets, 'ca.crt'), await readFile(kube!.caFile));
  await writeFile(join(secrets, 'namespace'), install.namespace);
  await writeFile(join(certs, 'tls.crt'), certificate.certPem);
  await writeFile(join(certs, 'tls.key'), certificate.keyPem);

  const pod = [
    // A pod with runAsUser must still reach kirsa when the checkout's parent folders are root-only.
    checkout!.mount,
    'mount -t tmpfs kirsa-pod /var/run',
    `mkdir -p ${SERVICE_ACCOUNT_DIR}`,
    `mount --bind "$1" ${SERVICE_ACCOUNT_DIR}`,
    'mount -t overlay kirsa-pod-etc -o lowerdir=/etc,upperdir="$2/etc-upper",workdir="$2/etc-work" /etc',
    `mkdir -p ${spec.certDir}`,
    `cp "$3/tls.crt" "$3/tls.key" ${spec.certDir}/`,
    'shift 3',
    spec.runAs
      ? `exec setpriv --reuid ${spec.runAs.uid} --regid ${spec.runAs.gid} --clear-groups --inh-caps=-all --bounding-set=-all "$@"`
      : 'exec "$@"',
  ].join(' && ');
  const webhook = await startServerProcess(
    [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      pod,
      'sh',
      secrets,
      dir,
      certs,
      checkout!.node,
      checkout!.kirsaBin,
      ...spec.args,
    ],
    {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: new URL(kube!.url).port,
      ...install.env,
    },
  );
  running.push(webhook);
  return webhook;
}

/** An HTTP(S) GET as the kubelet's prober makes it: to the pod's address, certificate not verified. */
function get(
  port: number,
  path: string,
  scheme: 'HTTP' | 'HTTPS',
): Promise<{ status: number; body: string }> {
  const send = scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    send({ host: address, port, path, agent: false, rejectUnauthorized: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function probe(port: number, path: string, scheme: 'HTTP' | 'HTTPS'): Promise<number> {
  return (await get(port, path, scheme)).status;
}

interface StoredPod {
  spec: {
    volumes?: Array<{
      name: string;
      projected?: { sources: Array<{ serviceAccountToken?: { audience: string } }> };
    }>;
    containers: Array<{ env?: Array<{ name: string; value?: string }> }>;
  };
}

async function createPod(serviceAccountName: string): Promise<StoredPod | undefined> {
  const answer = await kube!.request('POST', `/api/v1/namespaces/${APP_NAMESPACE}/pods`, {
    metadata: { generateName: `${serviceAccountName}-` },
    spec: { serviceAccountName, containers: [{ name: 'main', image: 'registry.example/app:1' }] },
  });
  return answer.status === 201 ? (answer.json as StoredPod) : undefined;
}

function envOf(pod: StoredPod): Record<string, string | undefined> {
  return Object.fromEntries((pod.spec.containers[0]!.env ?? []).map(({ name, value }) => [name, value]));
}

// --- The tests ---------------------------------------------------------------------------------------------------

describe('drop-in for the reference webhook: its installs, with only the image changed', () => {
  for (const install of INSTALLS) {
    test(install.name, async (t) => {
      if (!kube)
        return t.skip(
          'needs the real kube-apiserver, root, unshare (private mounts) and a non-loopback IPv4',
        );
      const certificate = await createInstallObjects(install);
      const webhook = await startAsThePod(install, certificate);
      try {
        // The ports the manifest implies: its --port (443 by default), its --metrics-port (9999 by default).
        const port = install.containerPorts.https ?? 443;
        assert.equal(webhook.port, port);
        assert.equal(webhook.metricsPort, 9999);
        if (install.runAs) {
          // unshare, sh and setpriv each exec the next: the webhook runs under the child's pid, as that user.
          const status = await readFile(`/proc/${webhook.child.pid}/status`, 'utf8');
          assert.match(status, new RegExp(`^Uid:\\s+${install.runAs.uid}\\s`, 'm'));
          assert.match(status, /^CapEff:\s+0+$/m);
        }

        // Readiness: every declared probe answers 200 once the watches have synced.
        for (const declared of install.probes) {
          const probePort =
            typeof declared.port === 'number' ? declared.port : install.containerPorts[declared.port]!;
          const status = await eventually(async () => {
            const answer = await probe(probePort, declared.path, declared.scheme);
            return answer === 200 ? answer : undefined;
          }, 60_000);
          assert.equal(
            status,
            200,
            `${declared.kind} probe ${declared.scheme} ${declared.path} on ${declared.port}`,
          );
        }

        // A new pod whose service account is annotated: the API server calls the webhook through the Service.
        const role = `arn:aws:iam::111122223333:role/${install.serviceAccount.slice(0, 20)}-app`;
        const appAccount = `app-${INSTALLS.indexOf(install)}`;
        await created('POST', `/api/v1/namespaces/${APP_NAMESPACE}/serviceaccounts`, {
          metadata: { name: appAccount, annotations: { 'eks.amazonaws.com/role-arn': role } },
        });
        const pod = await eventually(
          async () => {
            const stored = await createPod(appAccount);
            return stored && envOf(stored).AWS_ROLE_ARN === role ? stored : undefined;
          },
          60_000,
          500,
        );
        const env = envOf(pod);
        assert.equal(
          env.AWS_WEB_IDENTITY_TOKEN_FILE,
          '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
        );
        assert.equal(env.AWS_REGION, install.expect.region);
        assert.equal(env.AWS_DEFAULT_REGION, install.expect.region);
        assert.equal(env.AWS_STS_REGIONAL_ENDPOINTS, install.expect.regionalSts ? 'regional' : undefined);
        const token = pod.spec.volumes?.find((volume) => volume.name === 'aws-iam-token');
        assert.equal(token?.projected?.sources[0]?.serviceAccountToken?.audience, install.expect.audience);

        // kOps' own ConfigMap in kube-system maps an account with no annotation.
        if (install.mappingConfigMap) {
          for (const [key, entry] of Object.entries(install.mappingConfigMap)) {
            const name = key.split('/')[1]!;
            await created('POST', `/api/v1/namespaces/${APP_NAMESPACE}/serviceaccounts`, {
              metadata: { name },
            });
            const mapped = await eventually(async () => {
              const stored = await createPod(name);
              return stored && envOf(stored).AWS_ROLE_ARN === entry.RoleARN ? stored : undefined;
            }, 30_000);
            assert.equal(envOf(mapped).AWS_STS_REGIONAL_ENDPOINTS, 'regional');
          }
        }

        // The probes still answer 200 after the traffic, and /metrics counted the API server's calls.
        for (const declared of install.probes) {
          const probePort =
            typeof declared.port === 'number' ? declared.port : install.containerPorts[declared.port]!;
          assert.equal(await probe(probePort, declared.path, declared.scheme), 200);
        }
        const metrics = (await get(9999, '/metrics', 'HTTP')).body;
        assert.match(metrics, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} [1-9]/m);
        assert.match(metrics, /^pod_identity_webhook_pod_count\{method="sts_web_identity"\} [1-9]/m);
      } finally {
        // The next install registers its own webhook (and kOps' fails closed) and cluster-wide RBAC of the
        // same names: this one's go first.
        await kube.request(
          'DELETE',
          `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${install.webhook.configurationName}`,
        );
        for (const kind of ['clusterrolebindings', 'clusterroles']) {
          await kube.request(
            'DELETE',
            `/apis/rbac.authorization.k8s.io/v1/${kind}/${install.serviceAccount}`,
          );
        }
        assert.equal(await webhook.stop(), 0);
      }
    });
  }
});

describe("kirsa's own install reads kOps' mapping ConfigMap in kube-system", () => {
  test('`kirsa manifests --watch-config-map --config-map-namespace kube-system`: its RBAC and args suffice', async (t) => {
    if (!kube)
      return t.skip('needs the real kube-apiserver, root, unshare (private mounts) and a non-loopback IPv4');
    const settings = {
      ...DEFAULT_INSTALL_SETTINGS,
      namespace: 'kirsa',
      webhook: {
        ...DEFAULT_INSTALL_SETTINGS.webhook,
        watchConfigMap: true,
        configMapNamespace: 'kube-system',
      },
    };
    const manifests = renderInstallManifests(settings) as Array<{
      kind: string;
      apiVersion: string;
      metadata: { name: string; namespace?: string };
      spec?: { template: { spec: { containers: Array<{ args: string[] }> } } };
    }>;
    // The objects that give the webhook its identity and rights, applied as kubectl would.
    const paths: Record<string, string> = {
      Namespace: '/api/v1/namespaces',
      ServiceAccount: '/api/v1/namespaces/NS/serviceaccounts',
      ClusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      ClusterRoleBinding: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      Role: '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/roles',
      RoleBinding: '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/rolebindings',
    };
    for (const manifest of manifests) {
      const path = paths[manifest.kind];
      if (path) await created('POST', path.replace('NS', manifest.metadata.namespace ?? ''), manifest);
    }
    const roles = manifests
      .filter((manifest) => manifest.kind === 'Role')
      .map(({ metadata }) => ({ name: metadata.name, namespace: metadata.namespace }));
    assert.deepEqual(roles, [
      { name: 'kirsa-webhook', namespace: 'kirsa' },
      { name: 'kirsa-webhook-mapping', namespace: 'kube-system' },
    ]);
    // kOps' ConfigMap, as the kOps case above wrote it (created here if that case did not run).
    const kops = INSTALLS.find((install) => install.mappingConfigMap)!;
    const existing = await kube.request(
      'GET',
      '/api/v1/namespaces/kube-system/configmaps/pod-identity-webhook',
    );
    if (existing.status === 404) {
      await created('POST', '/api/v1/namespaces/kube-system/configmaps', {
        metadata: { name: 'pod-identity-webhook' },
        data: { config: JSON.stringify(kops.mappingConfigMap) },
      });
    }
    const deployment = manifests.find((manifest) => manifest.kind === 'Deployment')!;
    const args = deployment.spec!.template.spec.containers[0]!.args;
    assert.ok(args.includes('--config-map-namespace=kube-system'));
    const certificate = await makeServingCertificate({ hosts: ['kirsa-webhook.kirsa.svc', '127.0.0.1'] });
    certificates.push(certificate);
    const webhook = await startPod(
      {
        name: 'kirsa-own-install',
        namespace: 'kirsa',
        serviceAccount: 'kirsa-webhook',
        args,
        env: {},
        certDir: '/etc/kirsa/tls',
      },
      certificate,
    );
    try {
      await webhook.waitForLog((line) => line.msg === 'listening');
      const [key, entry] = Object.entries(kops.mappingConfigMap!)[0]!;
      const [namespace, name] = key.split('/') as [string, string];
      // The ConfigMap watch runs with the rendered Role alone (resourceNames: pod-identity-webhook).
      const role = await eventually(async () => {
        const answer = await admittedRole(webhook, certificate.caPem, namespace, name);
        return answer.role === entry.RoleARN ? answer.role : undefined;
      }, 30_000);
      assert.equal(role, entry.RoleARN);
      assert.equal(
        webhook.logs.some((line) => /forbidden/i.test(JSON.stringify(line))),
        false,
      );
    } finally {
      assert.equal(await webhook.stop(), 0);
    }
  });
});

describe('--compose-role-arn on the reference deploy/ command line', () => {
  test("a bare role name gets the node's account and partition from IMDS; a full ARN is kept", async (t) => {
    if (!kube)
      return t.skip('needs the real kube-apiserver, root, unshare (private mounts) and a non-loopback IPv4');
    // A local stand-in for the instance metadata service, answering as IMDSv2 does (region in aws-cn).
    const { createServer } = await import('node:http');
    const imds = createServer((request, response) => {
      if (request.method === 'PUT' && request.url === '/latest/api/token') return response.end('token');
      if (request.headers['x-aws-ec2-metadata-token'] !== 'token') return response.writeHead(401).end();
      response.end(JSON.stringify({ accountId: '444455556666', region: 'cn-north-1' }));
    });
    await new Promise<void>((resolve) => imds.listen(0, '127.0.0.1', resolve));
    const imdsPort = (imds.address() as { port: number }).port;
    const reference = INSTALLS[0]!;
    const serviceAccount = 'compose-webhook';
    await created('POST', '/api/v1/namespaces/default/serviceaccounts', {
      metadata: { name: serviceAccount },
    });
    await created('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      metadata: { name: serviceAccount },
      rules: [SERVICE_ACCOUNT_RULES],
    });
    await created('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: serviceAccount },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: serviceAccount },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: 'default' }],
    });
    for (const [name, annotation] of [
      ['bare', 'team/bare-role'],
      ['full', 'arn:aws:iam::111122223333:role/full-role'],
    ]) {
      await created('POST', `/api/v1/namespaces/${APP_NAMESPACE}/serviceaccounts`, {
        metadata: { name, annotations: { 'eks.amazonaws.com/role-arn': annotation } },
      });
    }
    const certificate = await makeServingCertificate();
    certificates.push(certificate);
    const webhook = await startPod(
      {
        name: 'compose-role-arn',
        namespace: 'default',
        serviceAccount,
        args: ['webhook', ...reference.command.slice(1), '--compose-role-arn'],
        env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${imdsPort}` },
        certDir: '/etc/webhook/certs',
      },
      certificate,
    );
    try {
      const composed = await webhook.waitForLog((line) => /^--compose-role-arn/.test(line.msg));
      assert.equal(composed.partition, 'aws-cn');
      const roleOf = async (name: string) =>
        eventually(
          async () => (await admittedRole(webhook, certificate.caPem, APP_NAMESPACE, name)).role,
          30_000,
        );
      assert.equal(await roleOf('bare'), 'arn:aws-cn:iam::444455556666:role/team/bare-role');
      assert.equal(await roleOf('full'), 'arn:aws:iam::111122223333:role/full-role');
    } finally {
      imds.close();
      assert.equal(await webhook.stop(), 0);
    }
  });
});

describe('--kube-api', () => {
  test("overrides the kubeconfig's server and keeps its credentials, as client-go does", async (t) => {
    if (!kube)
      return t.skip('needs the real kube-apiserver, root, unshare (private mounts) and a non-loopback IPv4');
    const { startWebhook, httpsCall } = await import('../../support/webhook-harness.ts');
    // The admin's kubeconfig, pointing nowhere: only --kube-api can make the watch sync.
    const wrong = join(scratch!, 'kubeconfig-wrong-server');
    const text = await readFile(kube.kubeconfigPath, 'utf8');
    await writeFile(wrong, text.replace(kube.url, 'https://127.0.0.1:1'));
    assert.notEqual(await readFile(wrong, 'utf8'), text);
    const certificate = await makeServingCertificate();
    certificates.push(certificate);
    const webhook = await startWebhook([
      '--tls-cert',
      certificate.certFile,
      '--tls-key',
      certificate.keyFile,
      '--kubeconfig',
      wrong,
      '--kube-api',
      kube.url,
      '--shutdown-drain-delay',
      '0s',
    ]);
    running.push(webhook);
    const ready = await eventually(async () => {
      const answer = await httpsCall(webhook.port, { ca: certificate.caPem, method: 'GET', path: '/readyz' });
      return answer.status === 200 ? answer.status : undefined;
    }, 30_000);
    assert.equal(ready, 200);
    assert.equal(await webhook.stop(), 0);
  });
});
