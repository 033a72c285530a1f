// The -o json shapes docs/cli-json.md promises, parsed from real runs: provider create, role create and
// issuer publish against moto (their phases, result fields and next commands, and the `next:` line text mode
// prints on stderr), issuer status and verify, and explain. A shape change breaks a test here first.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const ISSUER = 'https://json-bucket.s3.eu-west-1.amazonaws.com/cluster-1';
const skip = (await motoUnavailable()) ?? false;

let work: string;
let dir: string;
let moto: MotoServer | undefined;
let issuer: TestIssuer;
const env = { ...motoClientEnv(), AWS_REGION: 'eu-west-1' };

interface PhaseJson {
  name: string;
  status: string;
  detail: string;
  lines: string[];
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-json-'));
  dir = join(work, 'issuer');
  const init = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
  issuer = await startTestIssuer();
  if (!skip) moto = await startMoto();
});

after(async () => {
  await issuer?.close();
  await moto?.stop();
  await rm(work, { recursive: true, force: true });
});

function assertPhases(phases: PhaseJson[], names: string[]): void {
  assert.deepEqual(
    phases.map((phase) => phase.name),
    names,
  );
  for (const phase of phases) {
    assert.match(phase.status, /^(created|updated|deleted|unchanged|skipped|done|failed)$/);
    assert.equal(typeof phase.detail, 'string');
    assert.ok(Array.isArray(phase.lines));
  }
}

describe('-o json on the commands that change something (moto)', { skip }, () => {
  test('provider create: arn, phases, and next is the role create line with the ARN', async () => {
    const args = ['provider', 'create', '--issuer-url', ISSUER, '--endpoint-url', moto!.endpoint];
    const run = await runKirsa([...args, '-o', 'json'], { env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      arn: string;
      issuerUrl: string;
      phases: PhaseJson[];
      next: string[];
    };
    assert.match(
      result.arn,
      /^arn:aws:iam::\d{12}:oidc-provider\/json-bucket\.s3\.eu-west-1\.amazonaws\.com\/cluster-1$/,
    );
    assert.equal(result.issuerUrl, ISSUER);
    assertPhases(result.phases, ['provider']);
    assert.equal(result.phases[0]!.status, 'created');
    assert.ok(result.next[0]!.startsWith('kirsa role create '), result.next[0]);
    assert.ok(result.next[0]!.includes(`--provider-arn ${result.arn}`));

    // Text mode: the ARN alone on stdout for scripts, the same next command on stderr.
    const text = await runKirsa(args, { env });
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.trim(), result.arn);
    assert.ok(text.stderr.includes(`next: ${result.next[0]}`), text.stderr);
  });

  test('role create: roleName, roleArn, serviceAccounts, phases and a doctor next step', async () => {
    const provider = `arn:aws:iam::123456789012:oidc-provider/json-bucket.s3.eu-west-1.amazonaws.com/cluster-1`;
    const args = [
      'role',
      'create',
      '-n',
      'default',
      '--service-account',
      's3-echoer',
      '--provider-arn',
      provider,
      '--endpoint-url',
      moto!.endpoint,
      '--skip-phases',
      'service-account',
    ];
    const run = await runKirsa([...args, '-o', 'json'], { env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      roleName: string;
      roleArn: string;
      serviceAccounts: string[];
      phases: PhaseJson[];
      next: string[];
    };
    assert.equal(result.roleName, 'kirsa-default-s3-echoer');
    assert.equal(result.roleArn, 'arn:aws:iam::123456789012:role/kirsa-default-s3-echoer');
    assert.deepEqual(result.serviceAccounts, ['default/s3-echoer']);
    assertPhases(result.phases, ['role', 'policies', 'inline-policy', 'service-account']);
    assert.equal(result.phases[0]!.status, 'created');
    assert.equal(result.phases[3]!.status, 'skipped');
    assert.deepEqual(result.next, ['kirsa doctor serviceaccount s3-echoer -n default']);
    const again = await runKirsa(args, { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^role +unchanged/m);
    assert.match(again.stderr, /^next: kirsa doctor serviceaccount s3-echoer -n default$/m);
  });

  test('issuer publish: issuer, bucket, objects, phases, and provider create next', async () => {
    const s3 = new S3Client({
      region: 'eu-west-1',
      endpoint: moto!.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'json-bucket',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    s3.destroy();
    const run = await runKirsa(
      [
        'issuer',
        'publish',
        '--dir',
        dir,
        '--bucket',
        'json-bucket',
        '--endpoint-url',
        moto!.endpoint,
        '--no-verify',
        '-o',
        'json',
      ],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      issuer: string;
      bucket: string;
      objects: string[];
      phases: PhaseJson[];
      next: string[];
    };
    assert.equal(result.issuer, ISSUER);
    assert.equal(result.bucket, 'json-bucket');
    assert.deepEqual(result.objects, [
      's3://json-bucket/cluster-1/.well-known/openid-configuration',
      's3://json-bucket/cluster-1/keys.json',
    ]);
    assert.ok(result.phases.length >= 2);
    assert.deepEqual(result.next, [`kirsa provider create --issuer-url ${ISSUER}`]);
  });
});

describe('-o json on the commands that read', () => {
  test('issuer status: the issuer and its keys', async () => {
    const run = await runKirsa(['issuer', 'status', '--dir', dir, '-o', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const status = JSON.parse(run.stdout) as {
      issuer: string;
      jwksPath: string;
      published: number;
      keys: Array<{ generation: number; kid: string; stage: string }>;
    };
    assert.equal(status.issuer, ISSUER);
    assert.equal(status.jwksPath, 'keys.json');
    assert.equal(status.published, 1);
    assert.equal(status.keys[0]!.stage, 'active');
    assert.equal(status.keys[0]!.generation, 1);
  });

  test('issuer verify: ok and the checks; a failing issuer keeps the checks and adds the JSON error', async () => {
    const run = await runKirsa(['issuer', 'verify', issuer.url, '--ca-file', issuer.caFile, '-o', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const verified = JSON.parse(run.stdout) as {
      issuer: string;
      ok: boolean;
      checks: Array<{ status: string; message: string }>;
    };
    assert.equal(verified.issuer, issuer.url);
    assert.equal(verified.ok, true);
    assert.ok(verified.checks.length > 0);
    assert.ok(verified.checks.every((check) => check.status !== 'fail'));
    // Without the test CA the certificate is not trusted: exit 1 with a code on stderr.
    const untrusted = await runKirsa(['issuer', 'verify', issuer.url, '-o', 'json']);
    assert.equal(untrusted.code, 1);
    const error = (JSON.parse(untrusted.stderr) as { error: { code: string } }).error;
    assert.match(error.code, /^(CHECKS_FAILED|ISSUER_UNREACHABLE)$/);
  });

  test('explain: the decision, why, and what was judged', async () => {
    const policy = join(work, 'trust.json');
    const host = 'issuer.example.test/c1';
    await writeFile(
      policy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${host}` },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringEquals: { [`${host}:sub`]: 'system:serviceaccount:default:s3-echoer' } },
          },
        ],
      }),
    );
    const args = ['explain', '--policy-file', policy, '--issuer-url', `https://${host}`, '-o', 'json'];
    const allowed = await runKirsa([...args, '--service-account', 's3-echoer']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(JSON.parse(allowed.stdout).decision, 'allow');
    const denied = await runKirsa([...args, '--service-account', 'app']);
    assert.equal(denied.code, 1);
    const result = JSON.parse(denied.stdout) as {
      decision: string;
      deniedBy: string;
      reasons: string[];
      failures: unknown[];
      principalFederated: string;
      context: Record<string, string>;
    };
    assert.equal(result.decision, 'deny');
    assert.equal(result.deniedBy, 'no-allow');
    assert.ok(result.failures.length > 0);
    assert.equal(result.principalFederated, `arn:aws:iam::111122223333:oidc-provider/${host}`);
    assert.equal(result.context[`${host}:sub`], 'system:serviceaccount:default:app');
  });
});
