// `kirsa demo` as a user runs it: a process that prints numbered steps and exits 0 when all passed; with
// --keep it leaves the pieces running, and the AWS CLI gets the pod's role with the env it prints.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { realPart } from '../support/real-parts.ts';
import { KIRSA_BIN, runKirsa } from '../support/run-kirsa.ts';

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
