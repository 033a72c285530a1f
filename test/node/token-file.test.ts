// The node tier: a one-node cluster (control plane, controllers, containerd with runc, a real kubelet) on
// this machine. A pod created through the API server is mutated by `kirsa webhook` (called by the API
// server over TLS), scheduled, and RUN by the kubelet as a non-root user. The test then reads what the
// kubelet wrote for the projected web-identity token: the file's mode and owner on the node, the same file
// as the container sees it and whether the container could read it, and the token's claims. Three pods
// record what the kubelet does: no fsGroup, fsGroup, and two containers with different runAsUser.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { TOKEN_VOLUME_NAME } from '../../src/consts.ts';
import { type LocalNode, nodeParts, startLocalNode } from '../../src/local/node.ts';
import { makeServingCertificate, type ServingCertificate } from '../support/tls.ts';
import { eventually, httpsCall, startWebhook, type WebhookProcess } from '../support/webhook-harness.ts';

const execFileAsync = promisify(execFile);
const ROLE = 'arn:aws:iam::111122223333:role/node-tier';
const NAMESPACE = 'apps';
const ACCOUNT = 'app';

const parts = nodeParts();
const skipReason = 'missing' in parts ? parts.missing : undefined;
if (skipReason && process.env.CI === 'true') throw new Error(`the node tier cannot run in CI: ${skipReason}`);

let node: LocalNode | undefined;
let webhook: WebhookProcess | undefined;
let cert: ServingCertificate | undefined;

before(async () => {
  if ('missing' in parts) return;
  node = await startLocalNode(parts);
  cert = await makeServingCertificate();
  webhook = await startWebhook([
    '--tls-cert',
    cert.certFile,
    '--tls-key',
    cert.keyFile,
    '--kubeconfig',
    node.kube.kubeconfigPath,
    '--shutdown-drain-delay',
    '0s',
  ]);
  const ca = cert.caPem;
  const port = webhook.port;
  await eventually(
    async () =>
      (await httpsCall(port, { ca, method: 'GET', path: '/readyz' })).status === 200 ? true : undefined,
    40_000,
  );
  const kube = node.kube;
  await must(kube.request('POST', '/api/v1/namespaces', { metadata: { name: NAMESPACE } }));
  await must(
    kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
      metadata: { name: ACCOUNT, annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
    }),
  );
  await must(
    kube.request('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      metadata: { name: 'kirsa' },
      webhooks: [
        {
          name: 'pod-identity.kirsa.dev',
          clientConfig: {
            url: `https://127.0.0.1:${port}/mutate`,
            caBundle: Buffer.from(ca).toString('base64'),
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
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } },
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'IfNeeded',
          timeoutSeconds: 10,
        },
      ],
    }),
  );
});

after(async () => {
  await webhook?.stop('SIGKILL');
  await node?.stop();
  await cert?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely
async function must(answer: Promise<{ status: number; json: any }>): Promise<any> {
  const { status, json } = await answer;
  if (status >= 300) throw new Error(`API answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

interface SeenFile {
  mode: string;
  uid: number;
  gid: number;
}

interface ProbeReport {
  uid: number;
  gid: number;
  groups: number[] | null;
  env: string[];
  file: SeenFile & { path: string; error?: string };
  target: SeenFile & { path: string };
  readable: boolean;
  readError?: string;
  token?: string;
}

interface Observation {
  pod: string;
  /** The token file on the node (the kubelet's projected volume, symlink followed). */
  onNode: SeenFile;
  /** Each container's report, by container name. */
  containers: Record<string, ProbeReport>;
}

function probe(name: string, runAsUser: number) {
  return {
    name,
    image: process.env.KIRSA_PROBE_IMAGE,
    // Never pull: the image was imported into the node's containerd, and no registry is reachable.
    imagePullPolicy: 'Never',
    env: [{ name: 'PROBE_SLEEP', value: '10m' }],
    securityContext: {
      runAsUser,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

/** Creates the pod, waits for it to run, and reads the token file from the node and from each container. */
async function observe(
  t: TestContext,
  name: string,
  podSecurity: Record<string, unknown>,
  users: Record<string, number>,
): Promise<Observation> {
  const kube = node!.kube;
  const created = await must(
    kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
      metadata: { name },
      spec: {
        serviceAccountName: ACCOUNT,
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 0,
        // The pod's own user is the first container's (the sandbox takes it; a group alone is refused).
        securityContext: { runAsUser: Object.values(users)[0], runAsGroup: 3000, ...podSecurity },
        containers: Object.entries(users).map(([container, uid]) => probe(container, uid)),
      },
    }),
  );
  // The webhook's mutation is in the stored pod: the role, the token path, and the projected volume.
  const volume = created.spec.volumes.find((v: { name: string }) => v.name === TOKEN_VOLUME_NAME);
  assert.ok(volume?.projected, `pod ${name} was not mutated: ${JSON.stringify(created.spec)}`);
  for (const container of created.spec.containers)
    assert.ok(
      container.env.some(
        (e: { name: string; value: string }) => e.name === 'AWS_ROLE_ARN' && e.value === ROLE,
      ),
    );

  const uid: string = created.metadata.uid;
  const running = await eventually(
    async () => {
      const pod = await must(kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`));
      if (pod.status.phase === 'Failed' || pod.status.phase === 'Succeeded')
        throw new Error(`pod ${name} ended: ${JSON.stringify(pod.status)}`);
      return pod.status.phase === 'Running' ? pod : undefined;
    },
    90_000,
    250,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${node!.output().slice(-5000)}`);
  });
  assert.equal(running.spec.nodeName, node!.nodeName);

  const tokenOnNode = join(
    node!.kubeletRoot,
    'pods',
    uid,
    'volumes',
    'kubernetes.io~projected',
    TOKEN_VOLUME_NAME,
    'token',
  );
  const st = await stat(tokenOnNode);
  const onNode = { mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), uid: st.uid, gid: st.gid };

  const containers: Record<string, ProbeReport> = {};
  for (const container of Object.keys(users)) {
    const logFile = join(node!.podLogsDir, `${NAMESPACE}_${name}_${uid}`, container, '0.log');
    containers[container] = await eventually(
      async () => {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        // CRI log lines: "<time> stdout F <line>".
        const line = text.split('\n').find((l) => l.includes(' stdout F {'));
        return line ? (JSON.parse(line.slice(line.indexOf('{'))) as ProbeReport) : undefined;
      },
      30_000,
      200,
    );
  }
  const observation = { pod: name, onNode, containers };
  t.diagnostic(
    `kubelet wrote ${onNode.mode} ${onNode.uid}:${onNode.gid}; ${Object.entries(containers)
      .map(([c, r]) => `${c} (uid ${r.uid}, groups ${JSON.stringify(r.groups)}) read it: ${r.readable}`)
      .join('; ')}`,
  );
  return observation;
}

/** What POSIX permission bits say about `report`'s process reading a file with `seen` mode and owner. */
function permitsRead(seen: SeenFile, report: ProbeReport): boolean {
  const mode = Number.parseInt(seen.mode, 8);
  if (report.uid === 0) return true;
  if (report.uid === seen.uid) return (mode & 0o400) !== 0;
  if (report.gid === seen.gid || (report.groups ?? []).includes(seen.gid)) return (mode & 0o040) !== 0;
  return (mode & 0o004) !== 0;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

/** The checks every observation must pass, whatever mode the kubelet chose. */
function assertConsistent(observation: Observation): void {
  for (const [name, report] of Object.entries(observation.containers)) {
    // The container sees the node's file (through the ..data symlink), with the same mode and owner.
    assert.deepEqual(
      { mode: report.target.mode, uid: report.target.uid, gid: report.target.gid },
      observation.onNode,
      `${name} sees another file than the node has`,
    );
    assert.notEqual(report.uid, 0, `${name} runs as root`);
    // Readability follows from the bits: the probe's outcome is what the permission model predicts.
    assert.equal(report.readable, permitsRead(observation.onNode, report), `${name}: ${report.readError}`);
    assert.ok(
      report.env.includes(`AWS_ROLE_ARN=${ROLE}`) &&
        report.env.some((e) => e.startsWith('AWS_WEB_IDENTITY_TOKEN_FILE=')),
    );
    if (report.token) {
      const claims = claimsOf(report.token);
      assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
      assert.equal(claims.sub, `system:serviceaccount:${NAMESPACE}:${ACCOUNT}`);
      const kubernetes = claims['kubernetes.io'] as { pod: { name: string }; node?: { name: string } };
      assert.equal(kubernetes.pod.name, observation.pod);
      // The kubelet asks for the token bound to the pod and (since 1.30) to its node.
      assert.equal(kubernetes.node?.name, node!.nodeName);
      const lifetime = (claims.exp as number) - (claims.iat as number);
      assert.ok(lifetime >= 600, `token lifetime ${lifetime}s`);
    }
  }
}

// What kubelet v1.37 was seen to write (the doctor's token-readable check and docs/troubleshooting.md say
// the same): the owner is the pod's one runAsUser when every container runs as it, else root; with
// fsGroup the group is the fsGroup and the mode 0640, else 0600 for a single user and 0644 for root.
// Every non-root container could read it; the seed's "permission denied" needs a kubelet before 1.19.
describe('a real kubelet projects the web-identity token of a pod kirsa mutated', {
  skip: skipReason,
}, () => {
  test("non-root, no fsGroup, one runAsUser: the file is that user's, 0600", async (t) => {
    const seen = await observe(t, 'no-fsgroup', {}, { probe: 1000 });
    assertConsistent(seen);
    assert.deepEqual(seen.onNode, { mode: '0600', uid: 1000, gid: 0 });
    assert.equal(seen.containers.probe!.readable, true);
  });

  test('non-root with fsGroup: the file is group-owned by the fsGroup, 0640', async (t) => {
    const seen = await observe(t, 'with-fsgroup', { fsGroup: 2000 }, { probe: 1000 });
    assertConsistent(seen);
    assert.deepEqual(seen.onNode, { mode: '0640', uid: 1000, gid: 2000 });
    assert.equal(seen.containers.probe!.readable, true);
  });

  test("two containers with different runAsUser, no fsGroup: root's file, 0644, both read it", async (t) => {
    const seen = await observe(t, 'two-users', {}, { first: 1000, second: 1001 });
    assertConsistent(seen);
    assert.deepEqual(seen.onNode, { mode: '0644', uid: 0, gid: 0 });
    assert.ok(seen.containers.first!.readable && seen.containers.second!.readable);
  });

  test('two containers with different runAsUser and fsGroup: both read it through the group', async (t) => {
    const seen = await observe(t, 'two-users-fsgroup', { fsGroup: 2000 }, { first: 1000, second: 1001 });
    assertConsistent(seen);
    assert.deepEqual(seen.onNode, { mode: '0640', uid: 0, gid: 2000 });
    assert.ok(seen.containers.first!.readable && seen.containers.second!.readable);
  });
});

// `kubectl logs` (and exec, attach, port-forward) go from the API server to the kubelet: the node gives the
// API server a client certificate the kubelet trusts, and RBAC lets that user use the kubelet's API.
test('kubectl logs reads a container log through the API server and the kubelet', {
  skip: skipReason,
}, async (t) => {
  const kubectl = process.env.KIRSA_KUBECTL;
  if (!kubectl) return t.skip('KIRSA_KUBECTL is not set (tools/realparts/build.sh --print-env)');
  const kube = node!.kube;
  const name = 'logged';
  await must(
    kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
      metadata: { name },
      spec: {
        serviceAccountName: ACCOUNT,
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 0,
        securityContext: { runAsUser: 1000, runAsGroup: 3000 },
        containers: [probe('probe', 1000)],
      },
    }),
  );
  const pod = await eventually(
    async () => {
      const current = await must(kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`));
      return current.status.phase === 'Running' || current.status.phase === 'Succeeded' ? current : undefined;
    },
    90_000,
    250,
  );
  const fromFile = await eventually(
    async () => {
      const text = await node!.containerLog({ namespace: NAMESPACE, name, uid: pod.metadata.uid }, 'probe');
      return text.includes('{') ? text : undefined;
    },
    30_000,
    200,
  );
  const result = await execFileAsync(
    kubectl,
    ['--kubeconfig', kube.kubeconfigPath, '-n', NAMESPACE, 'logs', name],
    {
      encoding: 'utf8',
    },
  ).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`kubectl logs failed: ${error.stderr ?? error.message}`);
  });
  assert.equal(result.stdout.trimEnd(), fromFile.trimEnd());
  assert.match(result.stdout, /"uid":1000/);
});
