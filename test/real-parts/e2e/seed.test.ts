// The seed, end to end, on real parts: kirsa issuer init -> a real kube-apiserver started with the flags
// `kirsa apiserver-config --for flags` prints -> `kirsa issuer serve` over HTTPS -> `kirsa provider create`
// and `kirsa role create` against moto -> `kirsa webhook`, registered by URL with a caBundle -> a pod
// created through the API server comes back mutated -> a TokenRequest token written where the pod's env
// says -> the s3-echoer example, with the pod's env, gets credentials through the AWS SDK's default chain
// and writes to S3. Then the failure paths: service accounts created in the same apply as their pods, a
// webhook restarted with new certificate files under load, and a stopped webhook.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { webhookConfigurationForUrl } from '../../../src/install/manifests.ts';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServingCertificate,
} from '../../../src/tls/certificates.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, startMoto } from '../../support/moto.ts';
import { freePort, stopProcess } from '../../support/processes.ts';
import { realPart } from '../../support/real-parts.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';
import { startWebhook, type WebhookProcess } from '../../support/webhook-harness.ts';

const BUCKET = 'kirsa-e2e-seed';
const AUDIENCE = 'sts.amazonaws.com';

let work: string;
let issuerUrl: string;
let apiserver: KubeApiserver | undefined;
let moto: MotoServer | undefined;
let issuerServe: ChildProcess | undefined;
let webhook: WebhookProcess | undefined;
let webhookPort: number;
let ca: CertificateAuthority;
let roleArn: string;
let tokenMountPath: string;
let ready = false;

type Pod = {
  metadata: { name: string; uid: string };
  spec: {
    containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }>;
    volumes?: Array<{
      name: string;
      projected?: { sources: Array<{ serviceAccountToken?: { audience: string; path: string } }> };
    }>;
  };
};

function kube(method: string, path: string, body?: unknown) {
  return apiserver!.request(method, path, body);
}

async function createPod(name: string, serviceAccount: string): Promise<Pod> {
  const pod = parse(await readFile(new URL('../../../examples/s3-echoer/pod.yaml', import.meta.url), 'utf8'));
  pod.metadata.name = name;
  pod.spec.serviceAccountName = serviceAccount;
  const created = await kube('POST', '/api/v1/namespaces/default/pods', pod);
  assert.equal(created.status, 201, `pod ${name} was not created: ${JSON.stringify(created.json)}`);
  return created.json as Pod;
}

function envOf(pod: Pod): Record<string, string> {
  return Object.fromEntries(
    (pod.spec.containers[0]!.env ?? []).map((entry) => [entry.name, entry.value ?? '']),
  );
}

const isMutated = (pod: Pod) => envOf(pod).AWS_ROLE_ARN !== undefined;

async function writeCertificate(name: string): Promise<{ cert: string; key: string }> {
  const serving = await issueServingCertificate(ca, { hosts: ['127.0.0.1'] });
  const cert = join(work, `${name}.crt`);
  const key = join(work, `${name}.key`);
  await writeFile(cert, serving.certPem);
  await writeFile(key, serving.keyPem, { mode: 0o600 });
  return { cert, key };
}

async function startKirsaWebhook(certificate: { cert: string; key: string }): Promise<WebhookProcess> {
  const started = await startWebhook([
    '--port',
    String(webhookPort),
    '--tls-cert',
    certificate.cert,
    '--tls-key',
    certificate.key,
    '--kubeconfig',
    apiserver!.kubeconfigPath,
    '--token-mount-path',
    tokenMountPath,
  ]);
  // Ready once the watch has synced and the certificate is loaded.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port: webhookPort, path: '/readyz', ca: ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', () => resolve(0))
        .end();
    });
    if (answer === 200) return started;
    if (Date.now() > deadline) throw new Error(`webhook not ready: ${started.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function spawnKirsa(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [KIRSA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

describe('the seed, end to end on a real kube-apiserver, moto and the AWS SDK', () => {
  before(async (context) => {
    if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_MOTO_SERVER')) return;
    work = await mkdtemp(join(tmpdir(), 'kirsa-e2e-'));
    const issuerPort = await freePort();
    webhookPort = await freePort();
    issuerUrl = `https://127.0.0.1:${issuerPort}`;
    tokenMountPath = join(work, 'var/run/secrets/eks.amazonaws.com/serviceaccount');
    ca = await createCertificateAuthority({ commonName: 'kirsa e2e CA' });
    await writeFile(join(work, 'ca.pem'), ca.certPem);

    // 1. Keys and documents.
    const init = await runKirsa(['issuer', 'init', '--issuer-url', issuerUrl, '--dir', join(work, 'issuer')]);
    assert.equal(init.code, 0, init.stderr);
    // 2. The API server, with exactly the flags kirsa prints for it.
    const config = await runKirsa([
      'apiserver-config',
      '--for',
      'flags',
      '--dir',
      join(work, 'issuer'),
      '--issuer-url',
      issuerUrl,
      '--audience',
      issuerUrl,
    ]);
    assert.equal(config.code, 0, config.stderr);
    const flags = config.stdout.split('\n').filter((line) => line.startsWith('--'));
    assert.ok(flags.some((flag) => flag.startsWith('--service-account-signing-key-file=')));
    apiserver = await startKubeApiserver({ serviceAccountFlags: flags });
    // 3. The issuer published over HTTPS.
    const issuerCertificate = await writeCertificate('issuer');
    const serve = spawnKirsa([
      'issuer',
      'serve',
      '--dir',
      join(work, 'issuer'),
      '--port',
      String(issuerPort),
      '--tls-cert',
      issuerCertificate.cert,
      '--tls-key',
      issuerCertificate.key,
    ]);
    issuerServe = serve.child;
    for (let attempt = 0; ; attempt += 1) {
      const verify = await runKirsa(['issuer', 'verify', issuerUrl, '--ca-file', join(work, 'ca.pem')]);
      if (verify.code === 0) break;
      if (attempt > 50)
        assert.fail(`issuer verify never passed: ${verify.stdout}${verify.stderr}${serve.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // 4. IAM: the provider and the role, on moto; the role annotation on the ServiceAccount.
    moto = await startMoto();
    const aws = { ...motoClientEnv() };
    const provider = await runKirsa(
      [
        'provider',
        'create',
        '--issuer-url',
        issuerUrl,
        '--audience',
        AUDIENCE,
        '--thumbprint',
        'auto',
        '--ca-file',
        join(work, 'ca.pem'),
        '--endpoint-url',
        moto.endpoint,
      ],
      { env: aws },
    );
    assert.equal(provider.code, 0, provider.stderr);
    const providerArn = /arn:aws:iam::\d{12}:oidc-provider\/\S+/.exec(provider.stdout)?.[0];
    assert.ok(providerArn, provider.stdout);
    const permissions = join(work, 's3-echoer-policy.json');
    await writeFile(
      permissions,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:GetObject', 's3:ListBucket'],
            Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
          },
        ],
      }),
    );
    const roleArgs = [
      'role',
      'create',
      '-n',
      'default',
      '--service-account',
      's3-echoer',
      '--provider-arn',
      providerArn,
      '--role-name',
      's3-echoer',
      '--inline-policy',
      permissions,
      '--endpoint-url',
      moto.endpoint,
      '--kubeconfig',
      apiserver.kubeconfigPath,
    ];
    const role = await runKirsa(roleArgs, { env: aws });
    assert.equal(role.code, 0, `${role.stdout}${role.stderr}`);
    roleArn = /arn:aws:iam::\d{12}:role\/s3-echoer/.exec(role.stdout)?.[0] ?? '';
    assert.ok(roleArn, role.stdout);
    const rerun = await runKirsa(roleArgs, { env: aws });
    assert.equal(rerun.code, 0);
    assert.doesNotMatch(rerun.stdout, /\b(created|updated)\b/, `a rerun changes nothing: ${rerun.stdout}`);
    const s3 = new S3Client({
      endpoint: moto.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

    // 5. The webhook, registered with the API server by URL, with the install manifests' selectors.
    webhook = await startKirsaWebhook(await writeCertificate('webhook-1'));
    const configuration = webhookConfigurationForUrl(`https://127.0.0.1:${webhookPort}/mutate`, ca.certPem);
    const registered = await kube(
      'POST',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      configuration,
    );
    assert.equal(registered.status, 201, JSON.stringify(registered.json));
    ready = true;
  });

  after(async () => {
    await webhook?.stop();
    await stopProcess(issuerServe);
    await moto?.stop();
    await apiserver?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a pod created through the API server comes back mutated, and the s3-echoer writes to S3 with its env', async (context) => {
    if (!ready) return context.skip('real parts are missing');
    // The API server picks up a new webhook configuration within a moment: retry until it calls kirsa.
    let pod: Pod | undefined;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      pod = await createPod(`s3-echoer-${attempt}`, 's3-echoer');
      if (isMutated(pod)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(pod && isMutated(pod), 'the API server never called the webhook');
    const env = envOf(pod);
    assert.equal(env.AWS_ROLE_ARN, roleArn);
    assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, join(tokenMountPath, 'token'));
    const volume = pod.spec.volumes?.find((candidate) => candidate.name === 'aws-iam-token');
    const projection = volume?.projected?.sources.find(
      (source) => source.serviceAccountToken,
    )?.serviceAccountToken;
    assert.equal(projection?.audience, AUDIENCE);

    // What the kubelet would do: a token for the pod's service account and audience, bound to the pod.
    const tokenRequest = await kube('POST', '/api/v1/namespaces/default/serviceaccounts/s3-echoer/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: [projection!.audience],
        expirationSeconds: 3600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
      },
    });
    assert.equal(tokenRequest.status, 201, JSON.stringify(tokenRequest.json));
    const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE!;
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, tokenRequest.json.status.token);

    // The token kube-apiserver signed verifies against the JWKS kirsa published.
    const verify = await runKirsa([
      'issuer',
      'verify',
      issuerUrl,
      '--token',
      tokenFile,
      '--audience',
      AUDIENCE,
      '--ca-file',
      join(work, 'ca.pem'),
    ]);
    assert.equal(verify.code, 0, `${verify.stdout}${verify.stderr}`);

    // The workload: the pod's env only, plus where AWS is (moto); the SDK's default chain does the rest.
    const echoer = new URL('../../../examples/s3-echoer/s3-echoer.ts', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [echoer, BUCKET, 'hello from IRSA'], {
      env: {
        PATH: process.env.PATH,
        ...env,
        AWS_ENDPOINT_URL: moto!.endpoint,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
    });
    assert.match(stdout, /identity: arn:aws:sts::\d{12}:assumed-role\/s3-echoer\//);
    assert.match(stdout, /read back: hello from IRSA/);
    const key = /uploaded: s3:\/\/[^/]+\/(\S+)/.exec(stdout)?.[1];
    const s3 = new S3Client({
      endpoint: moto!.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.ok(
      listed.Contents?.some((object) => object.Key === key),
      'the object is in the bucket',
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(await object.Body?.transformToString(), 'hello from IRSA');
  });

  test('service accounts created in the same apply as their pods: every pod mutated (200 trials)', async (context) => {
    if (!ready) return context.skip('real parts are missing');
    const trials = 200;
    const parallel = 8;
    let mutated = 0;
    const failures: string[] = [];
    for (let start = 0; start < trials; start += parallel) {
      await Promise.all(
        Array.from({ length: Math.min(parallel, trials - start) }, async (_, offset) => {
          const name = `same-apply-${start + offset}`;
          const serviceAccount = await kube('POST', '/api/v1/namespaces/default/serviceaccounts', {
            metadata: { name, annotations: { 'eks.amazonaws.com/role-arn': roleArn } },
          });
          assert.equal(serviceAccount.status, 201);
          // As kubectl apply does: the next object right after the previous one was accepted.
          const pod = await createPod(name, name);
          if (isMutated(pod)) mutated += 1;
          else failures.push(name);
        }),
      );
    }
    assert.deepEqual(failures, [], `${failures.length} of ${trials} pods were admitted without credentials`);
    assert.equal(mutated, trials);
  });

  test('the webhook restarted with new certificate files while pods are created: no pod lost', async (context) => {
    if (!ready) return context.skip('real parts are missing');
    const results: Array<{ name: string; status: 'created' | 'failed'; mutated: boolean }> = [];
    // Create pods one after another until ten more have been created after the new webhook is ready.
    let stopAfter = Number.POSITIVE_INFINITY;
    const creator = (async () => {
      for (let index = 0; results.length < stopAfter && index < 3000; index += 1) {
        const name = `restart-${index}`;
        try {
          const pod = await createPod(name, 's3-echoer');
          results.push({ name, status: 'created', mutated: isMutated(pod) });
        } catch {
          results.push({ name, status: 'failed', mutated: false });
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const renewed = await writeCertificate('webhook-2');
    const stoppingAt = results.length;
    await webhook!.stop('SIGTERM');
    webhook = await startKirsaWebhook(renewed);
    const restartedAt = results.length;
    stopAfter = restartedAt + 11;
    await creator;
    const during = results.slice(stoppingAt, restartedAt);
    context.diagnostic(
      `${results.length} pods: ${stoppingAt} before the restart, ${during.length} while it restarted (${during.filter((result) => !result.mutated).length} unmutated), ${results.length - restartedAt} after`,
    );
    assert.deepEqual(
      results.filter((result) => result.status === 'failed'),
      [],
      'every pod creation succeeded',
    );
    assert.ok(
      results.slice(0, stoppingAt).every((result) => result.mutated),
      'pods before the restart are mutated',
    );
    const afterRestart = results.slice(restartedAt + 1);
    assert.equal(afterRestart.length, 10);
    assert.ok(
      afterRestart.every((result) => result.mutated),
      'pods created after the new webhook is ready are mutated',
    );
  });

  test('with the webhook stopped, pods are still admitted (failurePolicy Ignore), unmutated', async (context) => {
    if (!ready) return context.skip('real parts are missing');
    await webhook!.stop('SIGTERM');
    webhook = undefined;
    const pod = await createPod('webhook-down', 's3-echoer');
    assert.equal(isMutated(pod), false);
  });
});
