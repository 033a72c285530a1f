// The node tier, the seed end to end: every piece a user installs runs for real on a one-node cluster, and
// only AWS is stood in for (moto's IAM and S3, kirsa's own STS, which judges tokens as AWS does).
//
//   issuer      `kirsa issuer init`, served by `kirsa issuer serve`; the API server runs on the flags
//               `kirsa apiserver-config --for flags` prints, so the kubelet's tokens carry that issuer
//   webhook     `helm install` of deploy/helm/kirsa with the image tools/image built, self-managed TLS;
//               its pods reach the API server through the `kubernetes` Service (kube-proxy), become Ready
//               through their probes, and the API server calls them through their Service
//   IAM         `kirsa provider create` and `kirsa role create` against moto's IAM; the STS is given the
//               trust policy role create wrote, read back from IAM
//   workload    the s3-echoer Job from examples/s3-echoer, image built from its Dockerfile, runs as uid 1000,
//               gets credentials through the SDK's default chain from the token the kubelet wrote, and
//               writes its object to S3; the test reads it back, and `kirsa doctor pod` passes
//   failure     the same Job under another service account (annotated with the same role): AccessDenied in
//               its log, and `kirsa doctor pod` names the trust policy's condition
//
// The token file's mode and owner as the kubelet writes them are test/node/token-file.test.ts's subject.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { type LocalNode, nodeParts, startLocalNode } from '../../src/local/node.ts';
import { type MotoServer, motoClientEnv, startMoto } from '../support/moto.ts';
import { freePort, stopProcess } from '../support/processes.ts';
import { KIRSA_BIN, runKirsa } from '../support/run-kirsa.ts';
import { eventually } from '../support/webhook-harness.ts';

const execFileAsync = promisify(execFile);
const REPOSITORY = new URL('../..', import.meta.url).pathname;
const ACCOUNT_ID = '123456789012';
const NAMESPACE = 'default';
const BUCKET = 'kirsa-irsa-demo-bucket';
const RELEASE_NAMESPACE = 'kirsa-system';
const MANIFESTS_NAMESPACE = 'kirsa-manifests';

/** Runs in the s3-echoer image: every 15 s a fresh STS client (so the SDK reads the token file anew). */
const REFRESHER_SCRIPT = `
import { readFileSync } from 'node:fs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
for (;;) {
  const token = readFileSync(process.env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8');
  const iat = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).iat;
  try {
    const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    console.log(JSON.stringify({ iat, arn: who.Arn }));
  } catch (error) {
    console.log(JSON.stringify({ iat, error: error.name + ': ' + error.message }));
  }
  await new Promise((resolve) => setTimeout(resolve, 15000));
}
`;

const parts = nodeParts();
const kirsaImageLayout = process.env.KIRSA_IMAGE_OCI;
const echoerLayout = process.env.KIRSA_S3_ECHOER_OCI;
const helm = process.env.KIRSA_HELM;
const skipReason =
  'missing' in parts
    ? parts.missing
    : !kirsaImageLayout || !echoerLayout
      ? `KIRSA_IMAGE_OCI or KIRSA_S3_ECHOER_OCI is not set (${process.env.KIRSA_IMAGE_UNAVAILABLE ?? 'run tools/image/build.sh, or npm test'})`
      : !helm || !process.env.KIRSA_MOTO_SERVER
        ? 'KIRSA_HELM or KIRSA_MOTO_SERVER is not set: run the tests with npm test'
        : undefined;
if (skipReason && process.env.CI === 'true') throw new Error(`the node tier cannot run in CI: ${skipReason}`);

interface Seed {
  node: LocalNode;
  work: string;
  issuerUrl: string;
  issuerCa: string;
  moto: MotoServer;
  /** moto as the pods reach it: on the node's address. */
  motoForPods: string;
  stsForPods: string;
  roleArn: string;
  echoerImage: string;
}

let seed: Seed | undefined;
let refresher: { metadata: { name: string; uid: string } } | undefined;
const started: { refresher?: number } = {};

interface RefresherRound {
  iat?: number;
  arn?: string;
  error?: string;
}

/** What the refresher pod has logged so far, one entry per round. */
async function refresherRounds(): Promise<RefresherRound[]> {
  if (!refresher) return [];
  const text = await containerLog(seed!.node, refresher, 's3-echoer');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as RefresherRound);
}
const processes: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** Starts a long-running kirsa command and resolves with the first output line that `ready` accepts. */
function startKirsa(args: string[], ready: RegExp): Promise<RegExpMatchArray> {
  const child = spawn(process.execPath, [KIRSA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`kirsa ${args[0]} did not start: ${output}`)), 30_000);
    const look = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kirsa ${args[0]} exited with ${code}: ${output}`));
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
async function must(answer: Promise<{ status: number; json: any }>): Promise<any> {
  const { status, json } = await answer;
  if (status >= 300) throw new Error(`API answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

async function kirsa(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const run = await runKirsa(args, { env: { ...motoClientEnv(), ...env }, timeoutMs: 120_000 });
  if (run.code !== 0)
    throw new Error(`kirsa ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

before(async () => {
  if (skipReason || 'missing' in parts) return;
  const work = await mkdtemp(join(tmpdir(), 'kirsa-seed-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));

  // The issuer, on loopback: only the STS (on this machine) fetches it; the cluster only names it.
  const issuerDir = join(work, 'issuer');
  const port = await freePort();
  const issuerUrl = `https://127.0.0.1:${port}`;
  await kirsa(['issuer', 'init', '--issuer-url', issuerUrl, '--dir', issuerDir]);
  await startKirsa(['issuer', 'serve', '--dir', issuerDir], /serving https:/);
  const issuerCa = join(issuerDir, 'serve-tls', 'ca.pem');
  const serviceAccountFlags = (
    await kirsa(['apiserver-config', '--for', 'flags', '--dir', issuerDir, '--issuer-url', issuerUrl])
  )
    .split('\n')
    .filter((line) => line.startsWith('--'));

  const node = await startLocalNode(parts as Exclude<typeof parts, { missing: string }>, {
    serviceProxy: true,
    // Pods are synced (and their projected tokens renewed when due) every 10 s instead of every minute, so
    // the refresh test sees the kubelet's rotation soon after it is due.
    kubeletConfig: { syncFrequency: '10s' },
    controlPlane: { serviceAccountFlags, extraArgs: ['--enable-aggregator-routing=true'] },
  });
  cleanups.push(() => node.stop());
  const echoerImage = await node.importOciLayout(echoerLayout!, 'localhost/kirsa/s3-echoer');

  // moto on the node's address, so pods reach it; IAM, the provider and the role through kirsa.
  const moto = await startMoto({ host: node.nodeIp });
  cleanups.push(() => moto.stop());
  const aws = {
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  await new S3Client({ ...aws, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: BUCKET }));
  const providerOut = await kirsa([
    'provider',
    'create',
    '--issuer-url',
    issuerUrl,
    '--endpoint-url',
    moto.endpoint,
    '--ca-file',
    issuerCa,
    '-o',
    'json',
  ]);
  const providerArn = JSON.parse(providerOut).arn as string;
  const permissions = join(work, 's3-echoer-policy.json');
  await writeFile(
    permissions,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::${BUCKET}/*` },
      ],
    }),
  );
  assert.match(providerArn, /^arn:aws:iam::\d{12}:oidc-provider\/127\.0\.0\.1/);
  await kirsa([
    'role',
    'create',
    '-n',
    NAMESPACE,
    '--service-account',
    's3-echoer',
    '--provider-arn',
    providerArn,
    '--inline-policy',
    permissions,
    '--endpoint-url',
    moto.endpoint,
    '--kubeconfig',
    node.kube.kubeconfigPath,
  ]);
  const roleName = `kirsa-${NAMESPACE}-s3-echoer`;
  const role = await new IAMClient(aws).send(new GetRoleCommand({ RoleName: roleName }));
  const roleArn = role.Role!.Arn!;
  const trustPolicy = JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!));

  // kirsa's STS stands for AWS STS: the provider and the role exactly as IAM now holds them.
  const stsConfig = join(work, 'sts.yaml');
  await writeFile(
    stsConfig,
    toYaml({
      providers: [{ url: issuerUrl, clientIds: ['sts.amazonaws.com'] }],
      extraCaFiles: [issuerCa],
      region: 'us-east-1',
      roles: [{ arn: roleArn, maxSessionDuration: 3600, trustPolicy }],
    }),
  );
  const sts = await startKirsa(
    ['sts', 'serve', '--config', stsConfig, '--host', node.nodeIp, '--port', '0'],
    /listening on (http:\/\/[0-9.]+:\d+)/,
  );
  seed = {
    node,
    work,
    issuerUrl,
    issuerCa,
    moto,
    motoForPods: moto.endpoint,
    stsForPods: sts[1]!,
    roleArn,
    echoerImage,
  };
});

after(async () => {
  for (const child of processes.reverse()) await stopProcess(child);
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** The text a container wrote, from the kubelet's log file on the node. */
function containerLog(
  node: LocalNode,
  pod: { metadata: { name: string; uid: string } },
  container: string,
  namespace = NAMESPACE,
) {
  return node.containerLog({ namespace, name: pod.metadata.name, uid: pod.metadata.uid }, container);
}

/**
 * A pod created with dryRun=All (admitted, mutated, never stored) until one comes back with the role's
 * env: the API server takes a moment to call a newly registered webhook.
 */
async function firstMutatedPod() {
  return eventually(
    async () => {
      const pod = await must(
        seed!.node.kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods?dryRun=All`, {
          metadata: { name: 'probe' },
          spec: { serviceAccountName: 's3-echoer', containers: [{ name: 'c', image: seed!.echoerImage }] },
        }),
      );
      const env = pod.spec.containers[0].env ?? [];
      return env.some((e: { name: string }) => e.name === 'AWS_ROLE_ARN') ? pod : undefined;
    },
    60_000,
    500,
  );
}

/** Waits until the Deployment has all its replicas ready. */
async function deploymentReady(namespace: string, name: string) {
  return eventually(
    async () => {
      const deployment = await must(
        seed!.node.kube.request('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`),
      );
      return deployment.status?.readyReplicas === deployment.spec.replicas ? deployment : undefined;
    },
    120_000,
    500,
  );
}

/** `kirsa doctor pod` as a user runs it, with IAM at moto and the issuer's development CA. */
function doctorPod(name: string) {
  return runKirsa(
    [
      'doctor',
      'pod',
      name,
      '-n',
      NAMESPACE,
      '--kubeconfig',
      seed!.node.kube.kubeconfigPath,
      '--endpoint-url',
      seed!.moto.endpoint,
      '--issuer-ca-file',
      seed!.issuerCa,
    ],
    { env: motoClientEnv(), timeoutMs: 120_000 },
  );
}

/** examples/s3-echoer/job.yaml as written, with the locally built image and the endpoints of the stand-ins. */
async function echoerJob(name: string, serviceAccount: string): Promise<Record<string, unknown>> {
  const job = parseYaml(await readFile(join(REPOSITORY, 'examples/s3-echoer/job.yaml'), 'utf8'));
  job.metadata.name = name;
  const pod = job.spec.template.spec;
  pod.serviceAccountName = serviceAccount;
  const container = pod.containers[0];
  container.image = seed!.echoerImage;
  container.imagePullPolicy = 'Never';
  container.env = [
    ...(container.env ?? []),
    { name: 'AWS_ENDPOINT_URL_STS', value: seed!.stsForPods },
    { name: 'AWS_ENDPOINT_URL_S3', value: seed!.motoForPods },
  ];
  return job;
}

/** Creates the Job and resolves with its pod once the Job has finished, and whether it succeeded. */
async function runJob(t: TestContext, job: Record<string, unknown>) {
  const kube = seed!.node.kube;
  const name = (job.metadata as { name: string }).name;
  const started = Date.now();
  await must(kube.request('POST', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, job));
  const finished = await eventually(
    async () => {
      const current = await must(kube.request('GET', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${name}`));
      if (current.status?.succeeded) return { succeeded: true };
      if (current.status?.failed) return { succeeded: false };
      return undefined;
    },
    180_000,
    500,
  );
  const pods = await must(
    kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3D${name}`),
  );
  const pod = pods.items[0];
  t.diagnostic(`Job ${name} finished in ${Date.now() - started} ms (succeeded: ${finished.succeeded})`);
  return { ...finished, pod, log: await containerLog(seed!.node, pod, 's3-echoer') };
}

describe('the seed end to end on a real node', { skip: skipReason }, () => {
  test('helm install: the webhook pods become Ready and the API server calls them through their Service', async (t) => {
    const { node } = seed!;
    const repository = 'localhost/kirsa/kirsa';
    const image = await node.importOciLayout(kirsaImageLayout!, repository);
    const started = Date.now();
    await execFileAsync(
      helm!,
      [
        'install',
        'kirsa',
        join(REPOSITORY, 'deploy/helm/kirsa'),
        '--namespace',
        RELEASE_NAMESPACE,
        '--create-namespace',
        '--kubeconfig',
        node.kube.kubeconfigPath,
        '--set',
        `image.repository=${repository}`,
        '--set',
        `image.tag=${image.slice(repository.length + 1)}`,
        '--set',
        'image.pullPolicy=Never',
        '--set',
        'tls.mode=self-managed',
        '--set',
        'webhook.awsDefaultRegion=us-east-1',
        '--wait',
        '--timeout',
        '90s',
      ],
      { timeout: 300_000 },
    ).catch(async (error: Error & { stderr?: string }) => {
      const pods = await must(node.kube.request('GET', `/api/v1/namespaces/${RELEASE_NAMESPACE}/pods`));
      const logs = [JSON.stringify(pods.items.map((pod: { status: unknown }) => pod.status)).slice(0, 3000)];
      for (const pod of pods.items) logs.push(await containerLog(node, pod, 'webhook', RELEASE_NAMESPACE));
      logs.push(
        (await execFileAsync('sh', ['-c', `find ${node.podLogsDir} -name '*.log' | xargs cat`])).stdout,
      );
      throw new Error(
        `helm install failed: ${error.stderr ?? error.message}\nwebhook logs:\n${logs.join('\n')}`,
      );
    });
    t.diagnostic(`helm install --wait returned after ${Date.now() - started} ms`);
    const deployment = await must(
      node.kube.request('GET', `/apis/apps/v1/namespaces/${RELEASE_NAMESPACE}/deployments/kirsa-webhook`),
    );
    assert.equal(deployment.status.readyReplicas, deployment.spec.replicas);

    // The first pod that comes back mutated shows the API server reaches the webhook through the Service.
    const mutated = await firstMutatedPod();
    t.diagnostic(`first mutated pod ${Date.now() - started} ms after helm install started`);
    const env = Object.fromEntries(
      mutated.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    assert.equal(env.AWS_ROLE_ARN, seed!.roleArn);
    assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  });

  test('the s3-echoer Job gets role credentials as uid 1000 and its object is in S3', async (t) => {
    const run = await runJob(t, await echoerJob('s3-echoer', 's3-echoer'));
    assert.equal(run.succeeded, true, run.log);
    assert.match(
      run.log,
      new RegExp(`identity: arn:aws:sts::${ACCOUNT_ID}:assumed-role/kirsa-${NAMESPACE}-s3-echoer/`),
    );
    assert.match(run.log, /read back: hello from IRSA/);
    const status = run.pod.status.containerStatuses[0];
    const uid = status.user?.linux?.uid;
    if (uid !== undefined) assert.equal(uid, 1000);

    // Read back by the test, not by the workload.
    const s3 = new S3Client({
      endpoint: seed!.moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    const key = listed.Contents?.find((object) => object.Key?.startsWith('s3-echoer-'))?.Key;
    assert.ok(key, `no s3-echoer object in ${BUCKET}`);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(await object.Body?.transformToString(), 'hello from IRSA');

    const doctor = await doctorPod(run.pod.metadata.name);
    assert.equal(doctor.code, 0, `${doctor.stdout}\n${doctor.stderr}`);
    assert.match(doctor.stdout, / 0 failed/);
  });

  test('a long-running pod with a 600 s token gets credentials (its refresh is checked last)', async (t) => {
    const kube = seed!.node.kube;
    // The shortest lifetime the API server accepts; the kubelet renews a token at 80 % of it (480 s).
    await must(
      kube.request(
        'PATCH',
        `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/s3-echoer`,
        { metadata: { annotations: { 'eks.amazonaws.com/token-expiration': '600' } } },
        'application/merge-patch+json',
      ),
    );
    const job = await echoerJob('refresher', 's3-echoer');
    const pod = (job.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    const container = (pod.containers as Array<Record<string, unknown>>)[0]!;
    // A fresh client each round: the SDK's default chain reads the token file anew every time.
    container.command = ['node', '--input-type=module', '-e', REFRESHER_SCRIPT];
    delete container.args;
    started.refresher = Date.now();
    const created = await eventually(
      async () => {
        const answer = await must(
          kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
            metadata: { name: `refresher-${Date.now()}` },
            spec: { ...pod, restartPolicy: 'Never' },
          }),
        );
        const projected = answer.spec.volumes.find((v: { name: string }) => v.name === 'aws-iam-token');
        if (projected?.projected.sources[0].serviceAccountToken.expirationSeconds === 600) return answer;
        // The webhook's ServiceAccount watch had not seen the annotation yet.
        await kube.request('DELETE', `/api/v1/namespaces/${NAMESPACE}/pods/${answer.metadata.name}`);
        return undefined;
      },
      30_000,
      500,
    );
    refresher = created;
    const first = await eventually(async () => refresherRounds().then((rounds) => rounds[0]), 120_000, 1_000);
    assert.match(first.arn ?? String(first.error), /assumed-role\/kirsa-default-s3-echoer\//);
    t.diagnostic(`refresher pod's first round: token iat ${first.iat}, ${first.arn}`);
  });

  test('under another service account the same Job is denied, and the doctor names the condition', async (t) => {
    const kube = seed!.node.kube;
    await must(
      kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
        metadata: { name: 'intruder', annotations: { 'eks.amazonaws.com/role-arn': seed!.roleArn } },
      }),
    );
    const run = await runJob(t, await echoerJob('s3-echoer-intruder', 'intruder'));
    assert.equal(run.succeeded, false, run.log);
    assert.match(run.log, /AccessDenied/);

    const doctor = await doctorPod(run.pod.metadata.name);
    assert.equal(doctor.code, 1, `${doctor.stdout}\n${doctor.stderr}`);
    assert.match(doctor.stdout, /trust-policy/);
    assert.match(doctor.stdout, /system:serviceaccount:default:intruder/);
  });
  test('kirsa manifests | kubectl apply: the same install without helm', async (t) => {
    const { node } = seed!;
    await execFileAsync(
      helm!,
      [
        'uninstall',
        'kirsa',
        '--namespace',
        RELEASE_NAMESPACE,
        '--wait',
        '--kubeconfig',
        node.kube.kubeconfigPath,
      ],
      { timeout: 120_000 },
    );
    const manifests = await runKirsa([
      'manifests',
      '--namespace',
      MANIFESTS_NAMESPACE,
      '--image',
      await node.importOciLayout(kirsaImageLayout!, 'localhost/kirsa/kirsa'),
      '--tls-mode',
      'self-managed',
      '--aws-default-region',
      'us-east-1',
    ]);
    assert.equal(manifests.code, 0, manifests.stderr);
    const started = Date.now();
    const apply = spawn(
      process.env.KIRSA_KUBECTL!,
      ['apply', '--kubeconfig', node.kube.kubeconfigPath, '-f', '-'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let applied = '';
    apply.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      applied += chunk;
    });
    apply.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      applied += chunk;
    });
    apply.stdin.end(manifests.stdout);
    const [code] = await once(apply, 'close');
    assert.equal(code, 0, applied);
    assert.match(applied, /mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/\S+ created/);
    const deployment = await deploymentReady(MANIFESTS_NAMESPACE, 'kirsa-webhook');
    t.diagnostic(
      `kubectl apply -> ${deployment.status.readyReplicas} webhook pods Ready in ${Date.now() - started} ms`,
    );
    const mutated = await firstMutatedPod();
    t.diagnostic(`first mutated pod ${Date.now() - started} ms after kubectl apply`);
    assert.ok(mutated.spec.volumes.some((v: { name: string }) => v.name === 'aws-iam-token'));
  });

  test('a webhook pod evicted during a rollout of 50 pods: none comes up without credentials', async (t) => {
    const kube = seed!.node.kube;
    const webhooks = await must(
      kube.request(
        'GET',
        `/api/v1/namespaces/${MANIFESTS_NAMESPACE}/pods?labelSelector=app.kubernetes.io%2Fname%3Dkirsa`,
      ),
    );
    assert.equal(webhooks.items.length, 2, 'two webhook replicas');
    // Admission is what is counted, so the pods need not run: they wait for a node that does not exist.
    const started = Date.now();
    await must(
      kube.request('POST', `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
        metadata: { name: 'rollout' },
        spec: {
          replicas: 50,
          selector: { matchLabels: { app: 'rollout' } },
          template: {
            metadata: { labels: { app: 'rollout' } },
            spec: {
              serviceAccountName: 's3-echoer',
              nodeSelector: { 'kirsa.dev/no-such-node': 'true' },
              containers: [{ name: 'c', image: seed!.echoerImage }],
            },
          },
        },
      }),
    );
    // The eviction API honours the PodDisruptionBudget, as a node drain does.
    await eventually(
      async () => {
        const pods = await must(
          kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app%3Drollout`),
        );
        return pods.items.length > 0 ? true : undefined;
      },
      30_000,
      50,
    );
    const victim = webhooks.items[0].metadata.name;
    const eviction = await kube.request(
      'POST',
      `/api/v1/namespaces/${MANIFESTS_NAMESPACE}/pods/${victim}/eviction`,
      {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: victim, namespace: MANIFESTS_NAMESPACE },
      },
    );
    assert.equal(eviction.status, 201, JSON.stringify(eviction.json));
    const pods = await eventually(
      async () => {
        const listed = await must(
          kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app%3Drollout`),
        );
        return listed.items.length >= 50 ? listed.items : undefined;
      },
      120_000,
      250,
    );
    const without = pods.filter(
      (pod: { spec: { containers: Array<{ env?: Array<{ name: string }> }> } }) =>
        !pod.spec.containers[0]!.env?.some((e) => e.name === 'AWS_ROLE_ARN'),
    );
    t.diagnostic(
      `50 pods admitted in ${Date.now() - started} ms with ${victim} evicted meanwhile; ${without.length} without credentials`,
    );
    assert.equal(without.length, 0);
    await kube.request('DELETE', `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/rollout`);
  });

  test('the kubelet rotates the 600 s token at 80 % of its life and the SDK keeps working', async (t) => {
    assert.ok(refresher, 'the refresher pod was not started');
    const rounds = await eventually(
      async () => {
        const all = await refresherRounds();
        const first = all[0]?.iat;
        const after = all.filter((round) => round.iat !== undefined && round.iat > first!);
        return after.some((round) => round.arn) ? all : undefined;
      },
      // Rotation is due 480 s after the pod started; the kubelet acts at its next sync (10 s here).
      Math.max(60_000, started.refresher! + 660_000 - Date.now()),
      5_000,
    );
    const first = rounds[0]!;
    const rotated = rounds.find((round) => round.iat! > first.iat!)!;
    t.diagnostic(
      `token rotated ${rotated.iat! - first.iat!} s after the first; ${rounds.length} rounds, ${rounds.filter((r) => r.error).length} failed`,
    );
    assert.ok(rotated.iat! - first.iat! >= 450, 'rotated at about 80 % of 600 s');
    assert.deepEqual(
      rounds.filter((round) => round.error),
      [],
    );
    assert.match(rotated.arn!, /assumed-role\/kirsa-default-s3-echoer\//);
  });
});
