// `kirsa demo`: the whole IRSA flow on one machine, loopback only, with no cluster and no AWS account. Each
// step runs the real kirsa piece (issuer files, HTTPS issuer, a local STS that judges tokens as AWS does,
// the webhook as its own process, the AWS SDK's default chain in a child process) and says which command
// it stands for in a real cluster and account. With --node the pod really runs: a one-node cluster
// (src/local/node.ts) schedules it, its kubelet writes the projected token and runs the s3-echoer image as a
// non-root user, and the demo prints the pod's own log.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { importPKCS8, SignJWT } from 'jose';
import { DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { type AdmissionReview, podCreateReview, replyPatch } from '../core/admission/review.ts';
import { apiserverFlags } from '../core/apiserver-config.ts';
import { buildProviderArn, DEFAULT_PARTITION, issuerHostPath } from '../core/iam/arn.ts';
import { buildTrustPolicy } from '../core/iam/trust-policy.ts';
import type { PodLike } from '../core/kube-types.ts';
import { applyAddOperations } from '../core/mutation/json-patch.ts';
import { KirsaError } from '../errors.ts';
import { webhookConfigurationForUrl } from '../install/manifests.ts';
import { type IssuerServer, startIssuerServer } from '../issuer/server.ts';
import { generateSigningKey, initIssuer } from '../issuer/store.ts';
import { type KubeApiserver, startKubeApiserver } from '../local/control-plane.ts';
import { type LocalNode, nodeParts, nodeUnavailable, startLocalNode } from '../local/node.ts';
import { freePort } from '../local/processes.ts';
import { kirsaCommand, runningAsSea, s3EchoerCommand } from '../self.ts';
import { createIssuerKeySource } from '../sts/issuer-keys.ts';
import { type RunningSts, startStsServer } from '../sts/server.ts';
import { createCertificateAuthority, issueServingCertificate } from '../tls/certificates.ts';
import {
  DEMO_ACCOUNT_ID,
  DEMO_NAMESPACE,
  DEMO_POD_USER,
  DEMO_REGION,
  DEMO_ROLE_ARN,
  DEMO_SERVICE_ACCOUNT,
  DEMO_WRONG_SERVICE_ACCOUNT,
  seedPod,
  seedPodOnNode,
} from './seed.ts';

export interface DemoOptions {
  /** Leave everything running and print the environment to try it by hand. */
  keep: boolean;
  /**
   * Use a real kube-apiserver and etcd (built by tools/realparts): the pod is admitted through the API
   * server, which calls the webhook, and tokens come from the TokenRequest API.
   */
  kube: boolean;
  /**
   * Run the pod on a one-node cluster (kubelet, containerd, scheduler; src/local/node.ts): implies kube.
   * Needs root, the node parts (tools/realparts) and the s3-echoer image (tools/image) in the environment.
   */
  node: boolean;
  write: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Aborted on Ctrl-C: no further step starts, and everything started so far is stopped (with --node a
   * half-run demo would otherwise leave a bridge, cgroups and mounts behind).
   */
  signal?: AbortSignal;
}

export interface DemoResult {
  passed: number;
  failed: number;
  seconds: number;
  /** The first failed step's error when it was a KirsaError: its code decides the exit code. */
  error?: KirsaError;
  /** The run was cut short by options.signal: nothing was kept, the caller stops it (stop()). */
  interrupted: boolean;
  /** When kept or interrupted: stops what the demo left running and removes its folder; returns what it stopped, in order. */
  stop: () => Promise<string[]>;
}

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function postJson(
  port: number,
  path: string,
  body: string,
  ca: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts `kirsa webhook` as its own process and resolves with its HTTPS port from its `listening` log line. */
function startWebhookProcess(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const kirsa = kirsaCommand(['webhook', ...args]);
  const child = spawn(kirsa.file, kirsa.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kirsa webhook did not start in 30 s: ${err.trim()}`));
    }, 30_000);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      for (const line of out.split('\n')) {
        try {
          const parsed = JSON.parse(line) as { msg?: string; port?: number };
          if (parsed.msg === 'listening' && typeof parsed.port === 'number') {
            clearTimeout(timer);
            resolve({ child, port: parsed.port });
            return;
          }
        } catch {
          // not a whole JSON line yet
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kirsa webhook exited with ${code}: ${err.trim()}`));
    });
  });
}

/** Where the demo's image of examples/s3-echoer comes from: tools/image/build.sh --print-env names it. */
const ECHOER_IMAGE_ENV = 'KIRSA_S3_ECHOER_OCI';
/** How long a pod may take from creation to its end (on a loaded 2-core machine: about 5 s). */
const POD_END_TIMEOUT_MS = 120_000;

/** What --node needs, or the KirsaError that names the command that provides it. */
function nodeRequirements(env: NodeJS.ProcessEnv) {
  const parts = nodeParts(env);
  if ('missing' in parts) throw nodeUnavailable(parts);
  const echoerLayout = env[ECHOER_IMAGE_ENV];
  if (!echoerLayout || !existsSync(join(echoerLayout, 'index.json')))
    throw new KirsaError(
      'IMAGE_NOT_BUILT',
      `the s3-echoer image is not built: ${ECHOER_IMAGE_ENV} ${echoerLayout ? `names no OCI layout (${echoerLayout})` : 'is not set'}`,
      {
        hint: 'build it and put it in this shell: bash tools/image/build.sh && eval "$(bash tools/image/build.sh --print-env)"',
      },
    );
  return { parts, echoerLayout };
}

/** The JWT's claims, read without verifying (the STS verifies; this is for showing what the kubelet wrote). */
function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { write } = options;
  const env = options.env ?? process.env;
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'kirsa-demo-'));
  // Each with what it stops, so that Ctrl-C after --keep can say what it cleaned.
  const cleanups: Array<{ what: string; run: () => Promise<void> | void }> = [];
  const stop = async (): Promise<string[]> => {
    const done: string[] = [];
    for (const cleanup of cleanups.reverse()) {
      await cleanup.run();
      done.push(cleanup.what);
    }
    await rm(work, { recursive: true, force: true });
    return [...done, `removed ${work}`];
  };
  let passed = 0;
  let failed = 0;
  let number = 0;
  let firstError: KirsaError | undefined;
  /** Set when a step fails that every later step needs (the node): those are not run. */
  let halted = false;

  async function step(title: string, realWorld: string[], body: () => Promise<string[]>): Promise<boolean> {
    if (halted) return false;
    if (options.signal?.aborted) {
      halted = true;
      return false;
    }
    number += 1;
    const stepStart = Date.now();
    try {
      const details = await body();
      passed += 1;
      write(`${String(number).padStart(2)} ✓ ${title} (${((Date.now() - stepStart) / 1000).toFixed(1)} s)\n`);
      for (const line of realWorld) write(`     real world: ${line}\n`);
      for (const line of details) write(`     ${line}\n`);
      return true;
    } catch (error) {
      failed += 1;
      if (failed === 1 && error instanceof KirsaError) firstError = error;
      write(`${String(number).padStart(2)} ✗ ${title}\n     ${(error as Error).message}\n`);
      if ((error as KirsaError).hint) write(`     hint: ${(error as KirsaError).hint}\n`);
      // As every text error ends (src/cli/main.ts): the code to look up in docs/errors.md.
      if (error instanceof KirsaError) write(`     code: ${error.code}\n`);
      return false;
    }
  }

  const where = options.node
    ? 'a one-node cluster (kubelet, containerd) on a bridge of its own'
    : options.kube
      ? 'a real kube-apiserver and etcd on loopback'
      : 'loopback only, no cluster';
  write(
    `kirsa demo: IRSA end to end on this machine, ${where}, and no AWS account\n  work folder: ${work}\n\n`,
  );

  const issuerPort = await freePort();
  const issuerUrl = `https://127.0.0.1:${issuerPort}`;
  const issuerDir = join(work, 'issuer');
  /** What `kirsa apiserver-config --for flags` prints for the demo's issuer: the cluster signs with its key. */
  const serviceAccountFlags = () =>
    apiserverFlags({
      issuer: issuerUrl,
      previousIssuers: [],
      apiAudiences: [issuerUrl],
      publicKeyFiles: [join(issuerDir, 'sa-signer.pub')],
      signingKeyFile: join(issuerDir, 'sa-signer.key'),
    });
  const tokenMountPath = join(work, 'var/run/secrets/eks.amazonaws.com/serviceaccount');
  const signingKey = await generateSigningKey();
  const ca = await createCertificateAuthority({ commonName: 'kirsa demo CA' });
  await writeFile(join(work, 'demo-ca.pem'), ca.certPem);
  let issuerServer: IssuerServer | undefined;
  let sts: RunningSts | undefined;
  let cluster: KubeApiserver | undefined;
  let node: LocalNode | undefined;
  let echoerImage = '';
  const trustPolicyFile = join(work, 's3-echoer-trust-policy.json');
  let mutatedPod: PodLike | undefined;
  let podEnv: Record<string, string> = {};

  /** A token for the account, as the kubelet would project it: TokenRequest with --kube, else signed here. */
  const tokenFor = async (
    serviceAccount: string,
    audience: string,
    lifetimeSeconds: number,
    pod?: PodLike,
  ) => {
    if (cluster) {
      const bound = pod?.metadata?.uid
        ? {
            boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
          }
        : {};
      const answer = await cluster.request(
        'POST',
        `/api/v1/namespaces/${DEMO_NAMESPACE}/serviceaccounts/${serviceAccount}/token`,
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { audiences: [audience], expirationSeconds: lifetimeSeconds, ...bound },
        },
      );
      if (answer.status !== 201)
        throw new Error(`TokenRequest answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      return answer.json.status.token as string;
    }
    const now = Math.floor(Date.now() / 1000);
    const seeded = pod ?? seedPod(serviceAccount);
    return new SignJWT({
      aud: [audience],
      sub: `system:serviceaccount:${DEMO_NAMESPACE}:${serviceAccount}`,
      'kubernetes.io': {
        namespace: DEMO_NAMESPACE,
        pod: { name: seeded.metadata?.name, uid: seeded.metadata?.uid },
        serviceaccount: { name: serviceAccount, uid: randomUUID() },
      },
    })
      .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid })
      .setIssuer(issuerUrl)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetimeSeconds)
      .setJti(randomUUID())
      .sign(await importPKCS8(signingKey.privateKeyPem, 'RS256'));
  };

  const createServiceAccount = async (name: string, annotations: Record<string, string>) => {
    const answer = await cluster!.request('POST', `/api/v1/namespaces/${DEMO_NAMESPACE}/serviceaccounts`, {
      metadata: { name, annotations },
    });
    if (answer.status !== 201) throw new Error(`creating ServiceAccount ${name} answered ${answer.status}`);
  };

  /**
   * Creates the seed's pod (on the node: the one that runs there) once the webhook mutates it. The API server
   * takes a moment to start calling a new webhook, so the pod is first sent as a dry run until it comes
   * back mutated: only a mutated pod is ever created (on a node an unmutated one would run).
   */
  const createMutatedPod = async (
    name: string,
    serviceAccount: string,
    hostPod: PodLike,
  ): Promise<PodLike> => {
    const manifest = node
      ? seedPodOnNode(name, serviceAccount, echoerImage, sts!.url)
      : { ...hostPod, metadata: { name, namespace: DEMO_NAMESPACE } };
    const path = `/api/v1/namespaces/${DEMO_NAMESPACE}/pods`;
    const mutated = (answer: { json: PodLike }) =>
      (answer.json.spec?.containers?.[0]?.env ?? []).some((entry) => entry.name === 'AWS_ROLE_ARN');
    for (let attempt = 0; ; attempt += 1) {
      const probe = await cluster!.request('POST', `${path}?dryRun=All`, manifest);
      if (probe.status >= 300)
        throw new Error(`creating the pod answered ${probe.status}: ${JSON.stringify(probe.json)}`);
      if (mutated(probe)) break;
      if (attempt === 50) throw new Error('the API server never called the webhook');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const created = await cluster!.request('POST', path, manifest);
    if (created.status !== 201)
      throw new Error(`creating the pod answered ${created.status}: ${JSON.stringify(created.json)}`);
    if (!mutated(created)) throw new Error(`pod ${name} was admitted without the webhook's changes`);
    return created.json as PodLike;
  };

  /**
   * Waits until the kubelet has run the pod to its end (Succeeded or Failed), and meanwhile reads the token
   * the kubelet wrote into the pod's aws-iam-token volume on the node: it exists only while the pod's
   * volumes are mounted, so it is read as soon as it appears.
   */
  const runPodToEnd = async (name: string, uid: string) => {
    const file = join(
      node!.kubeletRoot,
      'pods',
      uid,
      'volumes',
      'kubernetes.io~projected',
      'aws-iam-token',
      'token',
    );
    let token: { file: string; mode: number; uid: number; gid: number; text: string } | undefined;
    const deadline = Date.now() + POD_END_TIMEOUT_MS;
    for (;;) {
      if (!token) {
        try {
          const [info, text] = await Promise.all([stat(file), readFile(file, 'utf8')]);
          token = { file, mode: info.mode & 0o777, uid: info.uid, gid: info.gid, text };
        } catch {
          // not written yet, or already gone with the pod's volumes
        }
      }
      const answer = await cluster!.request('GET', `/api/v1/namespaces/${DEMO_NAMESPACE}/pods/${name}`);
      const phase = answer.json?.status?.phase;
      // biome-ignore lint/suspicious/noExplicitAny: the API's pod status is walked freely
      if (phase === 'Succeeded' || phase === 'Failed') return { pod: answer.json as any, token };
      if (Date.now() > deadline) {
        const waiting = answer.json?.status?.containerStatuses?.[0]?.state?.waiting;
        throw new Error(
          `pod ${name} did not end in ${POD_END_TIMEOUT_MS / 1000} s: phase ${phase}${waiting ? `, ${waiting.reason}: ${waiting.message ?? ''}` : ''}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  await step(
    'signing key, discovery document and JWKS',
    ['kirsa issuer init --issuer-url https://<bucket>.s3.<region>.amazonaws.com/<cluster>'],
    async () => {
      await initIssuer({
        dir: issuerDir,
        issuer: issuerUrl,
        jwksPath: 'keys.json',
        legacyEmptyKid: false,
        key: signingKey,
        now: new Date(),
      });
      return [`issuer ${issuerUrl}, key id ${signingKey.kid}`, `files in ${issuerDir}`];
    },
  );

  await step(
    'issuer published over HTTPS (a CA made for the demo)',
    ['kirsa issuer publish --dir kirsa-issuer --bucket <bucket>   (then: kirsa issuer verify URL)'],
    async () => {
      const serving = await issueServingCertificate(ca, { hosts: ['127.0.0.1'] });
      issuerServer = await startIssuerServer({
        dir: issuerDir,
        port: issuerPort,
        tlsCert: serving.certPem,
        tlsKey: serving.keyPem,
      });
      cleanups.push({ what: `stopped the issuer ${issuerUrl}`, run: () => issuerServer?.close() });
      return [`${issuerUrl}/.well-known/openid-configuration and ${issuerUrl}/keys.json`];
    },
  );

  if (options.node) {
    const nodeStarted = await step(
      'a one-node cluster: kube-apiserver and etcd signing tokens with the issuer key, kube-scheduler, kube-controller-manager, containerd and a kubelet',
      [
        'kirsa apiserver-config --for kubeadm|kops|k3s|rke2|talos (then restart the API servers); your nodes run the pods',
      ],
      async () => {
        const { parts, echoerLayout } = nodeRequirements(env);
        const flags = serviceAccountFlags();
        node = await startLocalNode(parts, { controlPlane: { serviceAccountFlags: flags } });
        const running = node;
        cleanups.push({
          what: `stopped the node ${running.nodeName} (its pods, kubelet, containerd, scheduler, controller-manager, kube-apiserver, etcd) and removed its bridge`,
          run: () => running.stop(),
        });
        cluster = node.kube;
        echoerImage = await node.importOciLayout(echoerLayout, 'localhost/kirsa/s3-echoer');
        return [
          `node ${node.nodeName} Ready, address ${node.nodeIp} (no kube-proxy: the pods need only the STS, on this address)`,
          `API server ${cluster.url}`,
          `image ${echoerImage} imported into the node's containerd (built from examples/s3-echoer/Dockerfile)`,
          ...flags,
        ];
      },
    );
    if (!nodeStarted) {
      write('     the steps after this one need the node: stopped here\n');
      halted = true;
    }
  } else if (options.kube) {
    await step(
      'kube-apiserver and etcd, signing service-account tokens with the issuer key',
      ['kirsa apiserver-config --for kubeadm|kops|k3s|rke2|talos (then restart the API servers)'],
      async () => {
        const flags = serviceAccountFlags();
        cluster = await startKubeApiserver({ serviceAccountFlags: flags });
        cleanups.push({ what: 'stopped kube-apiserver and etcd', run: () => cluster?.stop() });
        return [`API server ${cluster.url}`, ...flags];
      },
    );
  }

  await step(
    `a local STS with the issuer as OIDC provider and a role for ${DEMO_NAMESPACE}/${DEMO_SERVICE_ACCOUNT}`,
    [
      'kirsa provider create --issuer-url https://<bucket>.s3.<region>.amazonaws.com/<cluster>',
      `kirsa role create -n ${DEMO_NAMESPACE} --service-account ${DEMO_SERVICE_ACCOUNT} --provider-arn <provider ARN>`,
    ],
    async () => {
      const providerArn = buildProviderArn({
        partition: DEFAULT_PARTITION,
        accountId: DEMO_ACCOUNT_ID,
        hostPath: issuerHostPath(issuerUrl),
      });
      const policy = buildTrustPolicy({
        providerArns: [providerArn],
        serviceAccounts: [{ namespace: DEMO_NAMESPACE, name: DEMO_SERVICE_ACCOUNT }],
        audiences: [DEFAULT_TOKEN_AUDIENCE],
      });
      await writeFile(trustPolicyFile, `${JSON.stringify(policy, null, 2)}\n`);
      sts = await startStsServer({
        config: {
          providers: [{ url: issuerUrl, clientIds: [DEFAULT_TOKEN_AUDIENCE] }],
          roles: [{ arn: DEMO_ROLE_ARN, maxSessionDurationSeconds: 3600, trustPolicy: policy }],
          extraCaPem: [ca.certPem],
        },
        keySource: createIssuerKeySource({ extraCaPem: [ca.certPem] }),
        // On the node's address with --node, so the pods reach it; loopback otherwise.
        host: node?.nodeIp,
      });
      cleanups.push({ what: `stopped the local STS ${sts.url}`, run: () => sts?.close() });
      return [
        `STS ${sts.url}${node ? " (on the node's address, so the pods reach it)" : ''}, provider ${providerArn}`,
        `trust policy (kirsa trust-policy): ${JSON.stringify(policy.Statement[0]!.Condition)}`,
      ];
    },
  );

  await step(
    options.kube
      ? 'the API server admits the s3-echoer pod and kirsa webhook mutates it'
      : 'kirsa webhook mutates the s3-echoer pod (an AdmissionReview over HTTPS)',
    ['helm install kirsa deploy/helm/kirsa   (the API server then calls it for every new pod)'],
    async () => {
      if (options.kube && !cluster) throw new Error('no API server (the step before failed)');
      const serving = await issueServingCertificate(ca, { hosts: ['127.0.0.1'] });
      await writeFile(join(work, 'webhook.crt'), serving.certPem);
      await writeFile(join(work, 'webhook.key'), serving.keyPem, { mode: 0o600 });
      const identities = join(work, 'identities.json');
      await writeFile(
        identities,
        JSON.stringify({ [`${DEMO_NAMESPACE}/${DEMO_SERVICE_ACCOUNT}`]: { RoleARN: DEMO_ROLE_ARN } }),
      );
      const webhook = await startWebhookProcess([
        '--port=0',
        '--metrics-port=0',
        '--bind-address=127.0.0.1',
        `--tls-cert=${join(work, 'webhook.crt')}`,
        `--tls-key=${join(work, 'webhook.key')}`,
        ...(cluster
          ? [`--kubeconfig=${cluster.kubeconfigPath}`]
          : [`--identities-file=${identities}`, '--watch-service-accounts=false']),
        // On a node the token is where the kubelet mounts it in the pod (the webhook's default path).
        ...(node ? [] : [`--token-mount-path=${tokenMountPath}`]),
        `--aws-default-region=${DEMO_REGION}`,
        '--shutdown-drain-delay=0',
      ]);
      cleanups.push({
        what: `stopped kirsa webhook (pid ${webhook.child.pid})`,
        run: () =>
          new Promise<void>((resolve) => {
            if (webhook.child.exitCode !== null) return resolve();
            webhook.child.once('exit', () => resolve());
            webhook.child.kill('SIGTERM');
          }),
      });
      const pod = seedPod(DEMO_SERVICE_ACCOUNT);
      if (cluster) {
        if (node && !sts) throw new Error('no STS for the pod to call (an earlier step failed)');
        await createServiceAccount(DEMO_SERVICE_ACCOUNT, { 'eks.amazonaws.com/role-arn': DEMO_ROLE_ARN });
        // The install's own webhook configuration (selectors and all), pointed at this process.
        const registered = await cluster.request(
          'POST',
          '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
          webhookConfigurationForUrl(`https://127.0.0.1:${webhook.port}/mutate`, ca.certPem, 'kirsa-demo'),
        );
        if (registered.status !== 201)
          throw new Error(`registering the webhook answered ${registered.status}`);
        mutatedPod = await createMutatedPod('s3-echoer', DEMO_SERVICE_ACCOUNT, pod);
      } else {
        // The review the API server would send; the webhook process answers it with processAdmission.
        const review = podCreateReview(pod, { uid: randomUUID(), namespace: DEMO_NAMESPACE });
        const answer = await postJson(webhook.port, '/mutate', JSON.stringify(review), ca.certPem);
        const response = (JSON.parse(answer.text) as AdmissionReview).response;
        if (answer.status !== 200 || !response?.patch)
          throw new Error(`the webhook answered ${answer.status} without a patch: ${answer.text}`);
        mutatedPod = applyAddOperations(pod, replyPatch(response));
      }
      const container = mutatedPod.spec!.containers![0]!;
      podEnv = Object.fromEntries((container.env ?? []).map((entry) => [entry.name, entry.value ?? '']));
      const volume = mutatedPod.spec!.volumes!.find((candidate) => candidate.name === 'aws-iam-token')!;
      const token = volume.projected?.sources?.[0]?.serviceAccountToken;
      const mount = container.volumeMounts!.find((candidate) => candidate.name === 'aws-iam-token')!;
      return [
        ...Object.entries(podEnv).map(([name, value]) => `env    ${name}=${value}`),
        `volume ${volume.name}: projected service-account token, audience ${token?.audience}, ${token?.expirationSeconds} s`,
        `mount  ${mount.mountPath} (read-only)`,
        ...(node
          ? [
              `kirsa webhook runs here as a host process the API server calls by URL (the chart runs it as pods behind a Service)`,
            ]
          : []),
      ];
    },
  );

  if (options.node) {
    // On the node nothing below is simulated: the kubelet writes the token and runs the image; the demo
    // only reads what happened (the pod's status, the token file while it is mounted, the pod's log).
    // biome-ignore lint/suspicious/noExplicitAny: the API's pod status is walked freely
    let ended: any;
    await step(
      `the kubelet runs the pod as uid ${DEMO_POD_USER} and writes its projected token`,
      ['the same on every node; the kubelet also refreshes the token before it expires'],
      async () => {
        if (!node || !mutatedPod?.metadata?.uid)
          throw new Error('no pod on the node (an earlier step failed)');
        const uid = String(mutatedPod.metadata.uid);
        const run = await runPodToEnd('s3-echoer', uid);
        ended = run.pod;
        const token = run.token;
        const claims = token ? claimsOf(token.text) : {};
        const bound = (claims['kubernetes.io'] as { pod?: { name?: string; uid?: string } } | undefined)?.pod;
        const status = ended.status.containerStatuses?.[0];
        const ranAs = status?.user?.linux?.uid;
        return [
          `pod s3-echoer, uid ${uid}, on ${ended.spec.nodeName}, IP ${ended.status.podIP}: ${ended.status.phase} (exit code ${status?.state?.terminated?.exitCode})`,
          ranAs === undefined
            ? `runAsUser ${ended.spec.securityContext?.runAsUser}, runAsNonRoot ${ended.spec.securityContext?.runAsNonRoot}`
            : `the container ran as uid ${ranAs}, gid ${status.user.linux.gid} (the kubelet's report)`,
          ...(token
            ? [
                `token on the node: ${token.file}`,
                `  mode ${token.mode.toString(8).padStart(4, '0')}, owner ${token.uid}:${token.gid} (fsGroup ${DEMO_POD_USER})`,
                `  iss ${claims.iss}, sub ${claims.sub}, aud ${JSON.stringify(claims.aud)}, ${Number(claims.exp) - Number(claims.iat)} s`,
                `  bound to pod ${bound?.name} (uid ${bound?.uid})`,
              ]
            : ['token on the node: not seen while the pod ran (its volumes go with it)']),
        ];
      },
    );

    await step(
      "the pod's AWS SDK got role credentials through its default chain: its log",
      ['kubectl logs s3-echoer'],
      async () => {
        if (!node || !ended) throw new Error('the pod did not run (an earlier step failed)');
        const where = { namespace: DEMO_NAMESPACE, name: 's3-echoer', uid: ended.metadata.uid as string };
        const log = await node.containerLog(where, 's3-echoer');
        if (ended.status.phase !== 'Succeeded' || !/^identity: /m.test(log))
          throw new Error(`the pod ended ${ended.status.phase} without an identity in its log:\n${log}`);
        return [
          `the kubelet's log file ${join(node.containerLogDir(where, 's3-echoer'), '0.log')}:`,
          ...log.split('\n').map((line) => `  ${line}`),
        ];
      },
    );

    await step(
      `troubleshooting replayed: the same pod as service account "${DEMO_WRONG_SERVICE_ACCOUNT}" is denied, and kirsa explains why`,
      [
        `kirsa explain --role-arn ${DEMO_ROLE_ARN} --token-file <the pod's token>   (or kirsa doctor pod s3-echoer-${DEMO_WRONG_SERVICE_ACCOUNT})`,
      ],
      async () => {
        if (!node || !sts) throw new Error('no node or STS (an earlier step failed)');
        await createServiceAccount(DEMO_WRONG_SERVICE_ACCOUNT, {
          'eks.amazonaws.com/role-arn': DEMO_ROLE_ARN,
        });
        const name = `s3-echoer-${DEMO_WRONG_SERVICE_ACCOUNT}`;
        const created = await createMutatedPod(
          name,
          DEMO_WRONG_SERVICE_ACCOUNT,
          seedPod(DEMO_WRONG_SERVICE_ACCOUNT),
        );
        const where = { namespace: DEMO_NAMESPACE, name, uid: String(created.metadata?.uid) };
        const { pod: denied, token } = await runPodToEnd(name, where.uid);
        const log = await node.containerLog(where, 's3-echoer');
        if (denied.status.phase !== 'Failed' || !/AccessDenied/.test(log))
          throw new Error(
            `expected the pod to fail with AccessDenied, it ended ${denied.status.phase}:\n${log}`,
          );
        if (!token) throw new Error(`the token of pod ${name} was gone before it could be read on the node`);
        // The pod's own token, as the kubelet wrote it, copied out of its volume for kirsa explain.
        const tokenFile = join(work, `token-${name}`);
        await writeFile(tokenFile, token.text);
        const kirsa = kirsaCommand(['explain', '--policy-file', trustPolicyFile, '--token-file', tokenFile]);
        const explain = await run(kirsa.file, kirsa.args, { PATH: process.env.PATH });
        if (explain.code !== 1)
          throw new Error(`kirsa explain exited ${explain.code}: ${explain.stderr.trim()}`);
        return [
          `pod ${name}, uid ${where.uid}: ${denied.status.phase}; its log (${join(node.containerLogDir(where, 's3-echoer'), '0.log')}):`,
          ...log
            .trimEnd()
            .split('\n')
            .map((line) => `  ${line}`),
          `kirsa explain --policy-file ${trustPolicyFile} --token-file ${tokenFile}   (the pod's token, copied from the node):`,
          ...explain.stdout
            .trimEnd()
            .split('\n')
            .map((line) => `  ${line}`),
        ];
      },
    );
  } else {
    await step(
      'a projected token written where AWS_WEB_IDENTITY_TOKEN_FILE says',
      [
        `the kubelet does this in a cluster, and refreshes the token before it expires${options.kube ? '' : ' (here kirsa signs it with the issuer key, with the claims kube-apiserver puts in)'}`,
      ],
      async () => {
        const tokenFile = podEnv.AWS_WEB_IDENTITY_TOKEN_FILE;
        const projection = mutatedPod?.spec?.volumes?.find((volume) => volume.name === 'aws-iam-token')
          ?.projected?.sources?.[0]?.serviceAccountToken;
        if (!tokenFile || !projection)
          throw new Error('the pod has no token env or volume (the step before failed)');
        await mkdir(dirname(tokenFile), { recursive: true });
        const audience = projection.audience ?? DEFAULT_TOKEN_AUDIENCE;
        await writeFile(
          tokenFile,
          await tokenFor(DEMO_SERVICE_ACCOUNT, audience, projection.expirationSeconds ?? 3600, mutatedPod),
        );
        return [
          `${tokenFile}: ${cluster ? 'from the TokenRequest API, bound to the pod' : 'signed with the issuer key'}; iss ${issuerUrl}, sub system:serviceaccount:${DEMO_NAMESPACE}:${DEMO_SERVICE_ACCOUNT}, aud ${audience}`,
        ];
      },
    );

    await step(
      "the pod's AWS SDK gets role credentials through its default chain",
      ['kubectl logs job/s3-echoer'],
      async () => {
        if (!sts) throw new Error('no STS (an earlier step failed)');
        if (!podEnv.AWS_ROLE_ARN) throw new Error('the pod was not mutated (an earlier step failed)');
        const echoer = s3EchoerCommand(['--whoami']);
        const script = echoer.args[0]!;
        if (!runningAsSea && !existsSync(script))
          throw new Error(`the s3-echoer example is not at ${script}`);
        // Exactly the pod's env, plus where STS is: the SDK finds AWS_ROLE_ARN and the token file itself.
        const result = await run(echoer.file, echoer.args, {
          ...echoer.env,
          PATH: process.env.PATH,
          ...podEnv,
          AWS_ENDPOINT_URL_STS: sts.url,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        });
        if (result.code !== 0) throw new Error(`s3-echoer --whoami failed: ${result.stderr.trim()}`);
        return [`node examples/s3-echoer/s3-echoer.ts --whoami  ->  ${result.stdout.trim()}`];
      },
    );

    await step(
      `troubleshooting replayed: the same pod as service account "${DEMO_WRONG_SERVICE_ACCOUNT}" is denied, and kirsa explains why`,
      [
        `kirsa explain --role-arn ${DEMO_ROLE_ARN} --token-file <the pod's token>   (or kirsa doctor pod NAME)`,
      ],
      async () => {
        if (!sts) throw new Error('no STS (an earlier step failed)');
        if (cluster)
          await createServiceAccount(DEMO_WRONG_SERVICE_ACCOUNT, {
            'eks.amazonaws.com/role-arn': DEMO_ROLE_ARN,
          });
        const token = await tokenFor(DEMO_WRONG_SERVICE_ACCOUNT, DEFAULT_TOKEN_AUDIENCE, 3600);
        const tokenFile = join(work, 'token-app');
        await writeFile(tokenFile, token);
        const client = new STSClient({
          endpoint: sts.url,
          region: DEMO_REGION,
          credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
        });
        let denial = '';
        try {
          await client.send(
            new AssumeRoleWithWebIdentityCommand({
              RoleArn: DEMO_ROLE_ARN,
              RoleSessionName: 'demo',
              WebIdentityToken: token,
            }),
          );
        } catch (error) {
          denial = `${(error as Error).name}: ${(error as Error).message.split('. kirsa:')[0]}`;
        }
        if (!denial.startsWith('AccessDenied'))
          throw new Error(`expected AccessDenied, got ${denial || 'credentials'}`);
        const kirsa = kirsaCommand(['explain', '--policy-file', trustPolicyFile, '--token-file', tokenFile]);
        const explain = await run(kirsa.file, kirsa.args, { PATH: process.env.PATH });
        if (explain.code !== 1)
          throw new Error(`kirsa explain exited ${explain.code}: ${explain.stderr.trim()}`);
        return [
          `STS: ${denial}`,
          `kirsa explain --policy-file ${trustPolicyFile} --token-file ${tokenFile}:`,
          ...explain.stdout
            .trimEnd()
            .split('\n')
            .map((line) => `  ${line}`),
        ];
      },
    );
  }

  const seconds = (Date.now() - started) / 1000;
  const interrupted = options.signal?.aborted === true;
  write(
    `\n${interrupted ? `interrupted after ${passed + failed} steps (${failed} failed)` : failed === 0 ? `all ${passed} steps passed` : `${failed} of ${passed + failed} steps failed`} in ${seconds.toFixed(1)} s\n`,
  );
  if (interrupted) {
    // The caller stops it and says what it stopped, as after --keep.
  } else if (options.keep && node && failed === 0) {
    write(
      `\nleft running (Ctrl-C stops it); look at the node and its pods with kubectl:\n` +
        `  export KUBECONFIG=${node.kube.kubeconfigPath}\n` +
        `  kubectl get nodes,pods -o wide\n` +
        `  kubectl get pod s3-echoer -o yaml   (the webhook's env, volume and mount)\n` +
        `  kubectl logs s3-echoer              (through the API server and the kubelet)\n` +
        `the pods' logs as the kubelet wrote them:\n` +
        `  cat ${node.podLogsDir}/${DEMO_NAMESPACE}_s3-echoer*/s3-echoer/0.log\n` +
        `the STS the pods call: ${sts?.url}\n`,
    );
  } else if (options.keep && sts && !node) {
    write(
      `\nleft running (Ctrl-C stops it); try the pod's credentials with the AWS CLI:\n` +
        `  export AWS_ENDPOINT_URL_STS=${sts.url} AWS_REGION=${DEMO_REGION} AWS_DEFAULT_REGION=${DEMO_REGION}\n` +
        `  export AWS_ROLE_ARN=${podEnv.AWS_ROLE_ARN} AWS_WEB_IDENTITY_TOKEN_FILE=${podEnv.AWS_WEB_IDENTITY_TOKEN_FILE}\n` +
        `  aws sts get-caller-identity\n` +
        (cluster
          ? `and the cluster with kubectl (the pod, its token volume, the webhook configuration):\n` +
            `  export KUBECONFIG=${cluster.kubeconfigPath}\n` +
            `  kubectl get pods,serviceaccounts,mutatingwebhookconfigurations -A\n`
          : ''),
    );
  } else {
    await stop();
  }
  return { passed, failed, seconds, error: firstError, interrupted, stop };
}
