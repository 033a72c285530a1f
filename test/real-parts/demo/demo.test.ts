// `kirsa demo` as a user runs it: a process that prints numbered steps and exits 0 when all passed; with
// --keep it leaves the pieces running, and the AWS CLI gets the pod's role with the env it prints. With
// --node the pod runs on a one-node cluster, and the proof is what the kubelet did: the pod's uid, the token
// it wrote bound to that uid, and the identity in the pod's own log.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import { nodeParts } from '../../../src/local/node.ts';
import { realPart } from '../../support/real-parts.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';

test('kirsa demo: every step passes, each with its real-world command, and the folder is removed', async () => {
  const run = await runKirsa(['demo'], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  for (let step = 1; step <= 7; step += 1)
    assert.match(run.stdout, new RegExp(`^ ?${step} ✓ `, 'm'), `step ${step} passed`);
  assert.doesNotMatch(run.stdout, /✗/);
  assert.match(run.stdout, /all 7 steps passed in \d+\.\d s/);
  assert.equal(run.stdout.match(/real world: /g)?.length, 8);
  assert.match(run.stdout, /env {4}AWS_ROLE_ARN=arn:aws:iam::111122223333:role\/s3-echoer/);
  assert.match(run.stdout, /identity: arn:aws:sts::111122223333:assumed-role\/s3-echoer\//);
  assert.match(run.stdout, /STS: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/);
  assert.match(run.stdout, /wants: "system:serviceaccount:default:s3-echoer"/);
  const folder = /work folder: (\S+)/.exec(run.stdout)?.[1];
  assert.ok(folder && !existsSync(folder), 'the demo cleans up after itself');
});

test('kirsa demo --keep: the AWS CLI gets the role with the printed env, and Ctrl-C cleans up', async (context) => {
  const aws = realPart(context, 'KIRSA_AWS_CLI');
  if (!aws) return;
  const demo = spawn(process.execPath, [KIRSA_BIN, 'demo', '--keep'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const output = await new Promise<string>((resolve, reject) => {
      let text = '';
      demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('aws sts get-caller-identity')) resolve(text);
      });
      demo.once('exit', (code) => reject(new Error(`demo exited ${code}: ${text}`)));
    });
    const env: Record<string, string> = {};
    for (const match of output.matchAll(/(AWS_[A-Z_]+)=(\S+)/g)) env[match[1]!] = match[2]!;
    assert.ok(env.AWS_ENDPOINT_URL_STS && env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE);
    const identity = await new Promise<string>((resolve, reject) =>
      execFile(
        aws,
        ['sts', 'get-caller-identity', '--output', 'json'],
        {
          env: {
            PATH: process.env.PATH,
            ...env,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          },
        },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    assert.match(
      JSON.parse(identity).Arn,
      /^arn:aws:sts::111122223333:assumed-role\/s3-echoer\/botocore-session-\d+$/,
    );
    const folder = /work folder: (\S+)/.exec(output)?.[1];
    assert.ok(folder && existsSync(folder));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    let after = '';
    demo.stdout.on('data', (chunk: string) => {
      after += chunk;
    });
    demo.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.ok(!existsSync(folder), 'Ctrl-C removes the folder');
    // ... and says what it stopped and removed.
    assert.match(after, /^cleaned up:$/m);
    assert.match(after, /stopped the local STS http/);
    assert.match(after, new RegExp(`removed ${folder}`));
  } finally {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  }
});

test('kirsa demo --kube: the real API server admits the pod through the webhook, tokens from TokenRequest', async (context) => {
  if (!realPart(context, 'KIRSA_KUBE_APISERVER')) return;
  const run = await runKirsa(['demo', '--kube'], { timeoutMs: 180_000 });
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /kube-apiserver and etcd, signing service-account tokens with the issuer key/);
  assert.match(run.stdout, /the API server admits the s3-echoer pod and kirsa webhook mutates it/);
  assert.match(run.stdout, /from the TokenRequest API, bound to the pod/);
  assert.match(run.stdout, /identity: arn:aws:sts::111122223333:assumed-role\/s3-echoer\//);
  assert.match(run.stdout, /all 8 steps passed/);
});

test('kirsa demo --kube --keep prints a kubeconfig that works, and Ctrl-C stops the API server', async (context) => {
  if (!realPart(context, 'KIRSA_KUBE_APISERVER')) return;
  const demo = spawn(process.execPath, [KIRSA_BIN, 'demo', '--kube', '--keep'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let text = '';
    const output = await new Promise<string>((resolve, reject) => {
      demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('kubectl get pods')) resolve(text);
      });
      demo.once('exit', (code) => reject(new Error(`demo exited ${code}: ${text}`)));
    });
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(output)?.[1];
    assert.ok(kubeconfig && existsSync(kubeconfig), output);
    const kubectl = process.env.KIRSA_KUBECTL;
    if (kubectl) {
      const pods = await new Promise<string>((resolve, reject) =>
        execFile(
          kubectl,
          ['get', 'pods', '-n', 'default', '-o', 'name'],
          { env: { ...process.env, KUBECONFIG: kubeconfig } },
          (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      assert.match(pods, /^pod\/s3-echoer/m);
    }
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    demo.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(text, /stopped kube-apiserver and etcd/);
  } finally {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  }
});

/** True when `kirsa demo --node` cannot run here: the test then skips with the reason (in CI it fails). */
function nodeDemoMissing(context: TestContext): boolean {
  const parts = nodeParts();
  const missing =
    'missing' in parts
      ? parts.missing
      : process.env.KIRSA_S3_ECHOER_OCI
        ? undefined
        : `KIRSA_S3_ECHOER_OCI is not set (${process.env.KIRSA_IMAGE_UNAVAILABLE ?? 'run tools/image/build.sh, or npm test'})`;
  if (!missing) return false;
  if (process.env.CI === 'true') throw new Error(`kirsa demo --node cannot run in CI: ${missing}`);
  context.skip(missing);
  return true;
}

function linkNames(): Promise<string> {
  return new Promise((resolve) => execFile('ip', ['-o', 'link'], (_error, stdout) => resolve(stdout)));
}

test('kirsa demo --node: the kubelet runs the s3-echoer pod as uid 1000 with the token it wrote', async (context) => {
  if (nodeDemoMissing(context)) return;
  const started = Date.now();
  const run = await runKirsa(['demo', '--node'], { timeoutMs: 300_000 });
  context.diagnostic(`kirsa demo --node took ${Date.now() - started} ms`);
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /all 8 steps passed/);
  // The pod was scheduled and run to completion on the node, as the non-root user of the Job's securityContext.
  const pod =
    /pod s3-echoer, uid ([0-9a-f-]{36}), on (kirsa-node-\w+), IP 10\.200\.\d+\.\d+: Succeeded \(exit code 0\)/.exec(
      run.stdout,
    );
  assert.ok(pod, run.stdout);
  const [, uid, nodeName] = pod;
  assert.match(run.stdout, /the container ran as uid 1000|runAsUser 1000, runAsNonRoot true/);
  // The token is the kubelet's, not the demo's: read on the node, bound to this very pod.
  assert.match(run.stdout, new RegExp(`bound to pod s3-echoer \\(uid ${uid}\\)`));
  assert.match(run.stdout, /sub system:serviceaccount:default:s3-echoer, aud \["sts\.amazonaws\.com"\]/);
  assert.doesNotMatch(run.stdout, /signed with the issuer key|from the TokenRequest API/);
  // The identity line comes from the kubelet's log file of that pod.
  assert.match(
    run.stdout,
    new RegExp(
      `log file \\S+/default_s3-echoer_${uid}/s3-echoer/0\\.log:\\n +identity: arn:aws:sts::111122223333:assumed-role/s3-echoer/`,
    ),
  );
  // The wrong service account: a real pod that failed, AccessDenied in its own log.
  assert.match(
    run.stdout,
    /pod s3-echoer-app, uid [0-9a-f-]{36}: Failed; its log \(\S+\):\n +s3-echoer: AccessDenied/,
  );
  assert.match(run.stdout, /wants: "system:serviceaccount:default:s3-echoer"/);
  // Stopped and cleaned: the node's folder and its bridge are gone.
  const nodeDir = /token on the node: (\/tmp\/kn-\w+)\//.exec(run.stdout)?.[1];
  assert.ok(nodeDir && !existsSync(nodeDir), `the node's folder ${nodeDir} is removed`);
  assert.doesNotMatch(await linkNames(), new RegExp(`kirsa${nodeName!.slice('kirsa-node-'.length)}`));
});

test('kirsa demo --node --keep: `kubectl logs s3-echoer` works as printed, and Ctrl-C removes the node', async (context) => {
  if (nodeDemoMissing(context)) return;
  const kubectl = process.env.KIRSA_KUBECTL;
  if (!realPart(context, 'KIRSA_KUBECTL') || !kubectl) return;
  const demo = spawn(process.execPath, [KIRSA_BIN, 'demo', '--node', '--keep'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let text = '';
    const output = await new Promise<string>((resolve, reject) => {
      demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('the STS the pods call')) resolve(text);
      });
      demo.once('exit', (code) => reject(new Error(`demo exited ${code}: ${text}`)));
    });
    assert.match(output, /^ {2}kubectl logs s3-echoer\b/m);
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(output)?.[1];
    assert.ok(kubeconfig && existsSync(kubeconfig), output);
    const logs = await new Promise<string>((resolve, reject) =>
      execFile(
        kubectl,
        ['logs', 's3-echoer'],
        { env: { ...process.env, KUBECONFIG: kubeconfig } },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    // The same line the demo read from the kubelet's log file, now through the API server and the kubelet.
    assert.match(logs, /identity: arn:aws:sts::111122223333:assumed-role\/s3-echoer\//);
    const nodeDir = /token on the node: (\/tmp\/kn-\w+)\//.exec(output)?.[1];
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    demo.kill('SIGINT');
    assert.equal(await exited, 0, text);
    assert.ok(nodeDir && !existsSync(nodeDir), `the node's folder ${nodeDir} is removed`);
  } finally {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  }
});

test('kirsa demo --node without the node parts: the node step fails with the build command, no stack', async () => {
  const run = await runKirsa(['demo', '--node'], { env: { KIRSA_KUBELET: '' }, timeoutMs: 60_000 });
  assert.equal(run.code, 1, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^ 3 ✗ a one-node cluster/m);
  assert.match(run.stdout, /the local node cannot start: KIRSA_KUBELET\b.* not set/);
  assert.match(
    run.stdout,
    /hint: build the node parts and put them in this shell: bash tools\/realparts\/build\.sh && eval "\$\(bash tools\/realparts\/build\.sh --print-env\)"/,
  );
  assert.match(run.stdout, /^ {5}code: REAL_PARTS_MISSING$/m);
  assert.match(run.stdout, /the steps after this one need the node: stopped here/);
  assert.match(run.stdout, /1 of 3 steps failed/);
  assert.doesNotMatch(`${run.stdout}${run.stderr}`, /^\s+at /m);
});

test('kirsa demo --node without the s3-echoer image: the hint names tools/image/build.sh', async (context) => {
  if ('missing' in nodeParts()) {
    context.skip('the node parts are checked first; this case needs them present');
    return;
  }
  const run = await runKirsa(['demo', '--node'], { env: { KIRSA_S3_ECHOER_OCI: '' }, timeoutMs: 60_000 });
  assert.equal(run.code, 1, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /the s3-echoer image is not built: KIRSA_S3_ECHOER_OCI is not set/);
  assert.match(run.stdout, /^ {5}code: IMAGE_NOT_BUILT$/m);
  assert.match(
    run.stdout,
    /hint: .*bash tools\/image\/build\.sh && eval "\$\(bash tools\/image\/build\.sh --print-env\)"/,
  );
  assert.match(run.stdout, /1 of 3 steps failed/);
});

test('kirsa demo --node stopped by Ctrl-C while it runs: the node, its bridge and cgroups are gone', async (context) => {
  if (nodeDemoMissing(context)) return;
  const demo = spawn(process.execPath, [KIRSA_BIN, 'demo', '--node'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let text = '';
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (/^ 4 ✓ /m.test(text)) resolve();
      });
      void exited.then((code) => reject(new Error(`demo exited ${code} before the node was up: ${text}`)));
    });
    // Only the demo gets the signal (a terminal would also send it to the node's processes).
    demo.kill('SIGINT');
    assert.equal(await exited, 130, text);
    assert.match(text, /interrupted after \d+ steps/);
    assert.doesNotMatch(text, /all \d+ steps passed/);
    assert.match(text, /^cleaned up:$/m);
    const id = /node kirsa-node-(\w+) Ready/.exec(text)?.[1];
    assert.ok(id, text);
    assert.match(text, new RegExp(`stopped the node kirsa-node-${id} `));
    assert.doesNotMatch(await linkNames(), new RegExp(`kirsa${id}`));
    assert.ok(!existsSync(`/sys/fs/cgroup/memory/kirsa-${id}`) && !existsSync(`/sys/fs/cgroup/kirsa-${id}`));
  } finally {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  }
});
