// `kirsa issuer publish -o terraform|cloudformation`, applied on moto: the objects and the bucket policy
// Terraform makes (or the bucket policy a CloudFormation stack makes; it has no S3 object resource) are what
// the API mode then finds in place: its bucket-policy phase changes nothing and the objects read back.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetBucketPolicyCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { applyAgainstMoto, terraformOrReason } from '../../support/terraform.ts';

const run = promisify(execFile);
const env = motoClientEnv(); // us-east-1
const skip = (await motoUnavailable()) ?? false;
const terraform = skip ? undefined : await terraformOrReason();

let moto: MotoServer;
let s3: S3Client;
let work: string;

before(async () => {
  if (skip) return;
  moto = await startMoto();
  work = await mkdtemp(join(tmpdir(), 'kirsa-issuer-iac-'));
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** An issuer in its own bucket, and the bucket. */
async function issuerIn(bucket: string): Promise<string> {
  const dir = join(work, bucket);
  const init = await runKirsa([
    'issuer',
    'init',
    '--issuer-url',
    `https://${bucket}.s3.us-east-1.amazonaws.com/cluster-1`,
    '--dir',
    dir,
  ]);
  assert.equal(init.code, 0, init.stderr);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return dir;
}

function publish(dir: string, bucket: string, extra: string[] = []) {
  return runKirsa(
    [
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      bucket,
      '--endpoint-url',
      moto.endpoint,
      '--no-verify',
      ...extra,
    ],
    { env },
  );
}

describe('issuer publish -o terraform, applied on moto', {
  skip: skip || (typeof terraform === 'string' ? terraform : false),
}, () => {
  test('terraform puts both objects and the policy; the API mode then finds the policy unchanged', async () => {
    const dir = await issuerIn('kirsa-tf-issuer');
    const out = join(work, 'tf');
    const written = await runKirsa([
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      'kirsa-tf-issuer',
      '-o',
      'terraform',
      '--output-dir',
      out,
    ]);
    assert.equal(written.code, 0, written.stderr);
    assert.equal(written.stdout.trim(), join(out, 'issuer-kirsa-tf-issuer.tf.json'));
    const applied = await applyAgainstMoto(
      terraform as Exclude<typeof terraform, string | undefined>,
      out,
      moto.endpoint,
    );
    assert.match(applied, /Apply complete! Resources: 3 added/);
    const stored = await s3.send(
      new GetObjectCommand({ Bucket: 'kirsa-tf-issuer', Key: 'cluster-1/keys.json' }),
    );
    assert.equal(stored.ContentType, 'application/json');

    // Terraform hands the policy to S3 with its keys sorted; the API mode compares by meaning, not text.
    const { Policy } = await s3.send(new GetBucketPolicyCommand({ Bucket: 'kirsa-tf-issuer' }));
    assert.match(Policy!, /^\{"Statement":\[\{"Action"/);
    const api = await publish(dir, 'kirsa-tf-issuer', ['--skip-phases', 'upload']);
    assert.equal(api.code, 0, api.stderr);
    assert.match(api.stdout, /bucket policy: already grants anonymous read of those two keys/);
    assert.match(api.stdout, /ok {3}both objects read back as uploaded, Content-Type application\/json/);
  });
});

describe('issuer publish -o cloudformation on moto', { skip }, () => {
  // moto's CloudFormation (5.2.5) accepts AWS::S3::BucketPolicy but makes no policy, so this checks the
  // template (cfn-lint, and that it deploys) and what it declares, not the bucket afterwards.
  test('cfn-lint passes and the stack deploys; the template holds the statement the API mode puts', async (t) => {
    const aws = realPart(t, 'KIRSA_AWS_CLI');
    if (!aws) return;
    const dir = await issuerIn('kirsa-cfn-issuer');
    const out = join(work, 'cfn');
    const written = await runKirsa([
      'issuer',
      'publish',
      '--dir',
      dir,
      '--bucket',
      'kirsa-cfn-issuer',
      '-o',
      'cloudformation',
      '--output-dir',
      out,
    ]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stderr, /CloudFormation has no S3 object resource/);
    const template = written.stdout.trim();
    const lint = await run(join(dirname(aws), 'cfn-lint'), ['--', template]).catch((error) => error);
    assert.equal(lint.code ?? 0, 0, `${lint.stdout}${lint.stderr}`);
    await run(
      aws,
      [
        'cloudformation',
        'deploy',
        '--stack-name',
        'kirsa-issuer',
        '--template-file',
        template,
        '--endpoint-url',
        moto.endpoint,
      ],
      { env: { ...process.env, ...env, AWS_DEFAULT_REGION: 'us-east-1' } },
    );
    // The API mode's statement, put by the API mode, equals the template's.
    const api = await publish(dir, 'kirsa-cfn-issuer');
    assert.equal(api.code, 0, api.stderr);
    const { Policy } = await s3.send(new GetBucketPolicyCommand({ Bucket: 'kirsa-cfn-issuer' }));
    const declared = JSON.parse(await readFile(template, 'utf8')).Resources.IssuerBucketPolicy.Properties;
    assert.equal(declared.Bucket, 'kirsa-cfn-issuer');
    assert.deepEqual(JSON.parse(Policy!), declared.PolicyDocument);
  });
});
