// `kirsa doctor` against a real kube-apiserver (signing tokens with a test issuer's key, whose discovery
// document and JWKS are served over HTTPS on loopback) and moto's IAM. The ServiceAccounts come from
// `kirsa role create`'s annotate phase; pods are stored as `kirsa mutate` (the webhook's mutation) prints
// them, or unmutated. Each broken setup must fail on its own line.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateOpenIDConnectProviderCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  type KubeApiserver,
  kubeApiserverUnavailable,
  startKubeApiserver,
} from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { clusterSigningAs, startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

interface CheckLine {
  id: string;
  status: 'pass' | 'fail' | 'skip';
  reason: string;
  fix?: string;
}

let moto: MotoServer;
let kube: KubeApiserver;
let testIssuer: TestIssuer | undefined;
let issuer = '';
let providerArn = '';
let core: CoreV1Api;
const env = motoClientEnv();
const ROLE = 'arn:aws:iam::123456789012:role/s3-echoer';

async function kirsa(args: string[]) {
  return runKirsa(args, { env });
}

/** The seed's pod, for a service account, optionally as the webhook would admit it. */
async function createPod(
  name: string,
  serviceAccount: string,
  {
    mutate = true,
    audience,
    spec = {},
  }: { mutate?: boolean; audience?: string; spec?: Record<string, unknown> } = {},
): Promise<void> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      serviceAccountName: serviceAccount,
      restartPolicy: 'Never',
      containers: [
        {
          name: 's3-echoer',
          image: 'kirsa/s3-echoer:latest',
          env: [{ name: 'AWS_REGION', value: 'us-east-1' }],
        },
      ],
      ...spec,
    },
  };
  let body: V1Pod = pod as V1Pod;
  if (mutate) {
    const run = await runKirsa(
      [
        'mutate',
        '-f',
        '-',
        '--role-arn',
        ROLE,
        '-o',
        'json',
        ...(audience ? ['--token-audience', audience] : []),
      ],
      { input: stringify(pod) },
    );
    assert.equal(run.code, 0, run.stderr);
    body = JSON.parse(run.stdout) as V1Pod;
  }
  await core.createNamespacedPod({ namespace: 'default', body });
}

/** `kirsa doctor pod NAME` (or `serviceaccount NAME`) in default, against this file's cluster, moto and issuer. */
function doctorArgs(name: string, extra: string[], subject: 'pod' | 'serviceaccount' = 'pod'): string[] {
  return [
    'doctor',
    subject,
    name,
    '-n',
    'default',
    '--kubeconfig',
    kube.kubeconfigPath,
    '--endpoint-url',
    moto.endpoint,
    '--issuer-ca-file',
    testIssuer!.caFile,
    ...extra,
  ];
}

async function doctor(
  name: string,
  extra: string[] = [],
): Promise<{ code: number | null; checks: CheckLine[] }> {
  const json = await kirsa([...doctorArgs(name, extra), '-o', 'json']);
  assert.ok(json.code === 0 || json.code === 1 || json.code === 3, json.stderr);
  return { code: json.code, checks: (JSON.parse(json.stdout) as { checks: CheckLine[] }).checks };
}

function statusOf(checks: CheckLine[], id: string): CheckLine {
  const line = checks.find((check) => check.id === id);
  assert.ok(line, `no ${id} line`);
  return line;
}

function failures(checks: CheckLine[]): string[] {
  return checks.filter((check) => check.status === 'fail').map((check) => check.id);
}

// Outside CI missing real parts skip these tests with the reason; in CI they fail.
const skip = (await motoUnavailable()) ?? (await kubeApiserverUnavailable()) ?? false;

before(async () => {
  if (skip) return;
  moto = await startMoto();
  testIssuer = await startTestIssuer();
  issuer = testIssuer.url;
  kube = await startKubeApiserver(clusterSigningAs(testIssuer, [issuer, 'sts.amazonaws.com']));
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfigPath);
  core = config.makeApiClient(CoreV1Api);

  const iam = new IAMClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const provider = await iam.send(
    new CreateOpenIDConnectProviderCommand({
      Url: issuer,
      ClientIDList: ['sts.amazonaws.com'],
      ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
    }),
  );
  iam.destroy();
  providerArn = provider.OpenIDConnectProviderArn!;

  // A kubelet that predates projected-token permissions (Kubernetes 1.18), for the non-root case.
  await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'old-node' } } });
  await core.patchNodeStatus(
    { name: 'old-node', body: { status: { nodeInfo: { kubeletVersion: 'v1.18.20' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
});

after(async () => {
  await kube?.stop();
  await moto?.stop();
  await testIssuer?.close();
});

describe('kirsa role create on the real API server', { skip }, () => {
  test('creates the role and the annotated ServiceAccount; a rerun is unchanged in every phase', async () => {
    const args = [
      'role',
      'create',
      '--provider-arn',
      providerArn,
      '--service-account',
      's3-echoer',
      '--role-name',
      's3-echoer',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--endpoint-url',
      moto.endpoint,
    ];
    const first = await kirsa(args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /role +created +arn:aws:iam::123456789012:role\/s3-echoer/);
    assert.match(
      first.stdout,
      /service-account +created +created default\/s3-echoer \(eks.amazonaws.com\/role-arn\)/,
    );
    const account = await core.readNamespacedServiceAccount({ namespace: 'default', name: 's3-echoer' });
    assert.equal(account.metadata?.annotations?.['eks.amazonaws.com/role-arn'], ROLE);
    assert.equal(account.metadata?.labels?.['app.kubernetes.io/managed-by'], 'kirsa');
    const again = await kirsa(args);
    assert.equal(again.code, 0, again.stderr);
    for (const line of again.stdout.trim().split('\n'))
      assert.match(line, /^\S+ +(unchanged|skipped) /, line);

    // The seed's misconfiguration: service account `app` points at the s3-echoer role, which does not trust it.
    const app = await kirsa([
      'role',
      'create',
      '--provider-arn',
      providerArn,
      '--service-account',
      'app',
      '--role-name',
      's3-echoer',
      '--skip-phases',
      'role,policies,inline-policy',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.equal(app.code, 0, app.stderr);
    assert.match(app.stdout, /service-account +created +created default\/app/);
    // An account whose pods ask for the kOps audience, which the provider does not list: role create
    // trusts that audience and annotates the account with it, so the webhook projects it.
    const kops = await kirsa([
      'role',
      'create',
      '--provider-arn',
      providerArn,
      '--service-account',
      'kops-audience',
      '--audience',
      'amazonaws.com',
      '--role-name',
      'kops-audience',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.equal(kops.code, 0, kops.stderr);
    const kopsAccount = await core.readNamespacedServiceAccount({
      namespace: 'default',
      name: 'kops-audience',
    });
    assert.deepEqual(kopsAccount.metadata?.annotations, {
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/kops-audience',
      'eks.amazonaws.com/audience': 'amazonaws.com',
    });
    // An existing annotation naming another role stops the run before any change.
    await core.createNamespacedServiceAccount({
      namespace: 'default',
      body: {
        metadata: {
          name: 'taken',
          annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/other' },
        },
      },
    });
    const taken = await kirsa([
      'role',
      'create',
      '--provider-arn',
      providerArn,
      '--service-account',
      'taken',
      '--role-name',
      'taken-role',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /already names role arn:aws:iam::123456789012:role\/other/);
    assertErrorCode(taken.stderr, 'SERVICE_ACCOUNT_ROLE_TAKEN');
    const explain = await kirsa([
      'explain',
      '--role-arn',
      'arn:aws:iam::123456789012:role/taken-role',
      '--issuer-url',
      'https://x.example',
      '--service-account',
      'taken',
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.match(explain.stderr, /role taken-role does not exist/, 'the role phase did not run');
    assertErrorCode(explain.stderr, 'AWS_NOT_FOUND');
  });
});

describe('kirsa doctor pod on the real API server', { skip }, () => {
  test('a mutated pod passes', async () => {
    await createPod('s3-echoer', 's3-echoer');
    const { code, checks } = await doctor('s3-echoer');
    assert.equal(code, 0, JSON.stringify(checks, null, 2));
    for (const id of [
      'service-account',
      'pod-mutated',
      'token-audience',
      'token-issuer-discovery',
      'token-issuer-provider',
      'token-kid',
      'trust-policy',
      'token-readable',
      'aws-region',
    ])
      assert.equal(statusOf(checks, id).status, 'pass', `${id}: ${statusOf(checks, id).reason}`);
    assert.match(statusOf(checks, 'token-kid').reason, /^kid /);
    const text = await kirsa(doctorArgs('s3-echoer', []));
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ 1\. pass {2}service-account /m);
    assert.match(text.stdout, /\n9 passed, 0 failed, 4 skipped\n$/);
  });

  test('without AWS the cluster checks still run and the AWS ones are skipped', async () => {
    const { code, checks } = await doctor('s3-echoer', ['--no-aws']);
    assert.equal(code, 3, '--no-aws: nothing failed, but the AWS links are unverified');
    for (const id of ['token-audience', 'token-issuer-provider', 'trust-policy']) {
      assert.equal(statusOf(checks, id).status, 'skip', id);
      assert.match(statusOf(checks, id).reason, /--no-aws/);
    }
    assert.equal(statusOf(checks, 'token-kid').status, 'pass');

    // No credentials anywhere (and no instance metadata to ask): the same checks are skipped, saying why.
    const noCredentials = await runKirsa([...doctorArgs('s3-echoer', []), '-o', 'json'], {
      env: {
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: '',
        AWS_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    // Nothing failed, but the AWS links went unchecked: not healthy, exit 3 (docs/cli-json.md).
    assert.equal(noCredentials.code, 3, noCredentials.stderr);
    const report = JSON.parse(noCredentials.stdout) as {
      verdict: string;
      aws: { checked: boolean };
      checks: CheckLine[];
    };
    assert.equal(report.verdict, 'incomplete');
    assert.equal(report.aws.checked, false);
    const skipped = report.checks;
    for (const id of ['token-audience', 'token-issuer-provider', 'trust-policy']) {
      assert.equal(statusOf(skipped, id).status, 'skip', id);
      assert.match(statusOf(skipped, id).reason, /skipped: AWS not usable .*no AWS credentials/);
    }
  });

  test('an unmutated pod fails on pod-mutated, and no webhook is registered', async () => {
    await createPod('unmutated', 's3-echoer', { mutate: false });
    const { code, checks } = await doctor('unmutated');
    assert.equal(code, 1);
    assert.equal(failures(checks)[0], 'pod-mutated');
    assert.match(
      statusOf(checks, 'pod-mutated').reason,
      /s3-echoer lacks AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE/,
    );
    assert.match(statusOf(checks, 'webhook-registered').reason, /no MutatingWebhookConfiguration exists/);
  });

  test('a wrong audience fails on token-audience', async () => {
    await createPod('kops-audience', 'kops-audience', { audience: 'amazonaws.com' });
    const { code, checks } = await doctor('kops-audience');
    assert.equal(code, 1);
    assert.equal(failures(checks)[0], 'token-audience');
    assert.match(
      statusOf(checks, 'token-audience').reason,
      /audience is amazonaws.com, the provider's client IDs are sts.amazonaws.com/,
    );
  });

  test("a trust policy for another service account fails on trust-policy (the seed's AccessDenied)", async () => {
    await createPod('app', 'app');
    const { code, checks } = await doctor('app');
    assert.equal(code, 1);
    assert.deepEqual(failures(checks), ['trust-policy']);
    assert.match(
      statusOf(checks, 'trust-policy').reason,
      /the policy names service account default\/s3-echoer, the token is for default\/app/,
    );
    const text = await kirsa(doctorArgs('app', []));
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /^11\. fail {2}trust-policy .*\n +fix: add "system:serviceaccount:default:app"/m,
    );

    // The same denial from a token the API server signed for the pod, as the pod would hand it to STS.
    const pod = await core.readNamespacedPod({ namespace: 'default', name: 'app' });
    const answer = await core.createNamespacedServiceAccountToken({
      namespace: 'default',
      name: 'app',
      body: {
        spec: {
          audiences: ['sts.amazonaws.com'],
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'app', uid: pod.metadata!.uid! },
        },
      },
    });
    const tokenFile = join(kube.dir, 'app-token');
    await writeFile(tokenFile, answer.status?.token ?? '');
    const explain = await kirsa([
      'explain',
      '--role-arn',
      ROLE,
      '--token-file',
      tokenFile,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.equal(explain.code, 1, explain.stderr);
    assert.match(explain.stdout, new RegExp(`provider: +${providerArn.replaceAll('.', '\\.')}`));
    assert.match(
      explain.stdout,
      /why: {3}the policy names service account default\/s3-echoer, the token is for default\/app/,
    );
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`${text.stdout}\n${explain.stdout}`);
  });

  test('a non-root pod without fsGroup on a 1.18 kubelet fails on token-readable', async () => {
    await createPod('non-root', 's3-echoer', {
      spec: { nodeName: 'old-node', securityContext: { runAsUser: 1000, runAsNonRoot: true } },
    });
    const { code, checks } = await doctor('non-root');
    assert.equal(code, 1);
    assert.deepEqual(failures(checks), ['token-readable']);
    assert.match(
      statusOf(checks, 'token-readable').reason,
      /kubelet v1.18.20 \(node old-node\) writes the token 0600 owned by root/,
    );
    await createPod('non-root-fsgroup', 's3-echoer', {
      spec: { nodeName: 'old-node', securityContext: { runAsUser: 1000, fsGroup: 65534 } },
    });
    assert.equal((await doctor('non-root-fsgroup')).code, 0);
  });
});

describe('kirsa doctor: why a pod was not mutated, on the real API server', { skip }, () => {
  test('a webhook whose service has no ready endpoints and whose objectSelector excludes the pod', async () => {
    const config = new KubeConfig();
    config.loadFromFile(kube.kubeconfigPath);
    const admission = config.makeApiClient(AdmissionregistrationV1Api);
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: 'kirsa' },
        webhooks: [
          {
            name: 'pod-identity.kirsa.dev',
            clientConfig: { service: { namespace: 'default', name: 'kirsa-webhook', path: '/mutate' } },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            objectSelector: { matchLabels: { 'kirsa.dev/inject': 'true' } },
            failurePolicy: 'Ignore',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 2,
          },
        ],
      },
    });
    await createPod('excluded', 's3-echoer', { mutate: false });
    const { code, checks } = await doctor('excluded');
    assert.equal(code, 1);
    assert.equal(statusOf(checks, 'webhook-registered').status, 'pass');
    assert.match(
      statusOf(checks, 'webhook-ready').reason,
      /service default\/kirsa-webhook has no ready endpoints; with failurePolicy Ignore/,
    );
    assert.match(
      statusOf(checks, 'webhook-selects').reason,
      /objectSelector .*kirsa.dev\/inject.* excludes the pod/,
    );
  });

  test('a service account annotated after its pod was created', async () => {
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'late' } } });
    await createPod('late', 'late', { mutate: false });
    // managedFields and creationTimestamp have one-second resolution.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const annotate = await kirsa([
      'role',
      'create',
      '--provider-arn',
      providerArn,
      '--service-account',
      'late',
      '--role-name',
      's3-echoer',
      '--skip-phases',
      'role,policies,inline-policy',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.match(annotate.stdout, /service-account +updated +annotated default\/late/);
    const { checks } = await doctor('late');
    const line = statusOf(checks, 'annotated-before-pod');
    assert.equal(line.status, 'fail', line.reason);
    assert.match(line.reason, /after the pod was created/);
  });

  test('doctor serviceaccount checks an account for pods to come', async () => {
    const good = await kirsa(doctorArgs('s3-echoer', ['-o', 'json'], 'serviceaccount'));
    const goodReport = JSON.parse(good.stdout) as { verdict: string; checks: CheckLine[] };
    const goodChecks = goodReport.checks;
    assert.equal(statusOf(goodChecks, 'trust-policy').status, 'pass');
    assert.equal(statusOf(goodChecks, 'pod-mutated').status, 'skip');
    const app = await kirsa(doctorArgs('app', ['-o', 'json'], 'serviceaccount'));
    assert.equal(app.code, 1);
    assert.equal(
      statusOf((JSON.parse(app.stdout) as { checks: CheckLine[] }).checks, 'trust-policy').status,
      'fail',
    );
    const missing = await kirsa(doctorArgs('nobody', ['-o', 'json'], 'serviceaccount'));
    assert.equal(missing.code, 1);
    assert.match(
      statusOf((JSON.parse(missing.stdout) as { checks: CheckLine[] }).checks, 'service-account').reason,
      /nobody does not exist/,
    );
  });
});
