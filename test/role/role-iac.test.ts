// `-o terraform` and `-o cloudformation` on role create and provider create, applied for real: the
// CloudFormation template passes cfn-lint and deploys on moto's CloudFormation, the Terraform JSON is
// applied by terraform against moto's IAM; afterwards the API mode on the same inputs finds everything
// unchanged, which shows the two modes build the same thing.
//
// moto's CloudFormation (5.2.5, checked by hand) differs from AWS's in three ways: it ignores a role's
// ManagedPolicyArns and AWS::IAM::OIDCProvider resources, and it stores an inline policy from the template
// as the text of a Python dict, not JSON. The test says so where it meets them and checks the rest;
// Terraform's path (plain IAM API calls) covers the provider, the attachments and the inline policy.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  CreatePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { parseAllDocuments } from 'yaml';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../support/moto.ts';
import { realPart } from '../support/real-parts.ts';
import { runKirsa } from '../support/run-kirsa.ts';
import { applyAgainstMoto, terraformOrReason } from '../support/terraform.ts';

const run = promisify(execFile);
const ACCOUNT = '123456789012'; // moto's default account
const ISSUER = 'https://oidc.example.com/iac';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/iac`;
const env = motoClientEnv();
const skip = (await motoUnavailable()) ?? false;
const terraform = skip ? undefined : await terraformOrReason();

let moto: MotoServer;
let iam: IAMClient;
let dir: string;
let boundary: string;
let readPolicy: string;
let inline: string;

before(async () => {
  if (skip) return;
  moto = await startMoto();
  dir = await mkdtemp(join(tmpdir(), 'kirsa-iac-'));
  iam = new IAMClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const document = (action: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
    });
  boundary = (
    await iam.send(new CreatePolicyCommand({ PolicyName: 'boundary', PolicyDocument: document('s3:*') }))
  ).Policy!.Arn!;
  readPolicy = (
    await iam.send(new CreatePolicyCommand({ PolicyName: 'read', PolicyDocument: document('s3:GetObject') }))
  ).Policy!.Arn!;
  inline = join(dir, 'inline.json');
  // A policy variable: literal in the role's policy, which Terraform must not read as its own template.
  await writeFile(
    inline,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:PutObject',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, meant literally
          Resource: 'arn:aws:s3:::bucket/${aws:userid}/*',
        },
      ],
    }),
  );
});

after(async () => {
  iam?.destroy();
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function kirsa(args: string[]) {
  return runKirsa([...args, '--endpoint-url', moto.endpoint], { env });
}

function phaseLines(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).slice(0, 2)),
  );
}

/** Every option of role create, for the cluster given. */
function roleInputs(cluster: string): string[] {
  return [
    '--provider-arn',
    PROVIDER,
    '-n',
    'payments',
    '--service-account',
    'api',
    '--cluster',
    cluster,
    '--permissions-boundary',
    boundary,
    '--tag',
    'team=payments',
    '--path',
    '/irsa/',
    '--max-session-duration',
    '7200',
    '--description',
    'payments api',
    '--policy-arn',
    readPolicy,
    '--inline-policy',
    inline,
  ];
}

async function writeIac(verb: string[], format: string, outDir: string): Promise<string[]> {
  const written = await runKirsa([...verb, '-o', format, '--output-dir', outDir]);
  assert.equal(written.code, 0, written.stderr);
  return written.stdout.trim().split('\n');
}

async function expectAllowed(roleArn: string) {
  const explained = await kirsa([
    'explain',
    '--role-arn',
    roleArn,
    '--issuer-url',
    ISSUER,
    '-n',
    'payments',
    '--service-account',
    'api',
  ]);
  assert.equal(explained.code, 0, explained.stdout + explained.stderr);
  assert.match(explained.stdout, /^allowed/);
}

describe('role create -o cloudformation, deployed on moto', { skip }, () => {
  test('cfn-lint passes; the stack deploys; the API mode then finds the role unchanged', async (t) => {
    const aws = realPart(t, 'KIRSA_AWS_CLI');
    if (!aws) return;
    const out = join(dir, 'cfn');
    const [roleFile, manifestFile] = await writeIac(
      ['role', 'create', ...roleInputs('cfn')],
      'cloudformation',
      out,
    );
    assert.equal(roleFile, join(out, 'role-kirsa_cfn_payments_api.cfn.json'));
    assert.equal(manifestFile, join(out, 'role-kirsa_cfn_payments_api.serviceaccount.yaml'));
    const [providerFile] = await writeIac(
      ['provider', 'create', '--issuer-url', ISSUER],
      'cloudformation',
      out,
    );

    // cfn-lint comes with moto[server] into the same venv as the AWS CLI (tools/realparts/requirements.lock).
    const cfnLint = join(dirname(aws), 'cfn-lint');
    const lint = await run(cfnLint, ['--', roleFile!, providerFile!]).catch((error) => error);
    assert.equal(lint.code ?? 0, 0, `${lint.stdout}${lint.stderr}`);

    const awsEnv = { ...process.env, ...env, AWS_DEFAULT_REGION: 'us-east-1' };
    for (const [stack, file] of [
      ['kirsa-role', roleFile!],
      ['kirsa-provider', providerFile!],
    ] as const)
      await run(
        aws,
        [
          'cloudformation',
          'deploy',
          '--stack-name',
          stack,
          '--template-file',
          file,
          '--capabilities',
          'CAPABILITY_NAMED_IAM',
          '--endpoint-url',
          moto.endpoint,
        ],
        { env: awsEnv },
      );
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: 'kirsa.cfn.payments.api' }));
    assert.equal(Role!.Arn, `arn:aws:iam::${ACCOUNT}:role/irsa/kirsa.cfn.payments.api`);
    assert.equal(Role!.PermissionsBoundary?.PermissionsBoundaryArn, boundary);
    assert.equal(Role!.MaxSessionDuration, 7200);

    const manifest = parseAllDocuments(await readFile(manifestFile!, 'utf8')).map((document) =>
      document.toJS(),
    );
    assert.deepEqual(manifest, [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {
          name: 'api',
          namespace: 'payments',
          annotations: { 'eks.amazonaws.com/role-arn': Role!.Arn },
        },
      },
    ]);
    await expectAllowed(Role!.Arn!);

    const api = await kirsa(['role', 'create', ...roleInputs('cfn'), '--skip-phases', 'service-account']);
    assert.equal(api.code, 0, api.stderr);
    // The role itself (trust, path, boundary, maximum session, description, tags) is what the API mode
    // would have made. moto's CloudFormation ignored ManagedPolicyArns, so the API mode attaches exactly the
    // template's list; and it kept the inline policy as non-JSON text, which the API mode replaces.
    assert.deepEqual(phaseLines(api.stdout), {
      role: 'unchanged',
      policies: 'updated',
      'inline-policy': 'updated',
      'service-account': 'skipped',
    });
    const template = JSON.parse(await readFile(roleFile!, 'utf8'));
    assert.deepEqual(template.Resources.Role.Properties.ManagedPolicyArns, [readPolicy]);
    assert.match(api.stdout, new RegExp(`policies +updated +attached ${readPolicy}\\n`));
    assert.match(api.stdout, /inline-policy +updated +"kirsa-inline" \(the one there was not JSON\)/);
    const again = await kirsa(['role', 'create', ...roleInputs('cfn'), '--skip-phases', 'service-account']);
    assert.deepEqual(phaseLines(again.stdout), {
      role: 'unchanged',
      policies: 'unchanged',
      'inline-policy': 'unchanged',
      'service-account': 'skipped',
    });
  });
});

describe('role create and provider create -o terraform, applied on moto', {
  skip: skip || (typeof terraform === 'string' ? terraform : false),
}, () => {
  test('terraform applies; the API mode then finds the provider and the role unchanged in every phase', async () => {
    const out = join(dir, 'terraform');
    const [roleFile, manifestFile] = await writeIac(
      ['role', 'create', ...roleInputs('tf')],
      'terraform',
      out,
    );
    assert.match(roleFile!, /role-kirsa_tf_payments_api\.tf\.json$/);
    assert.match(manifestFile!, /\.serviceaccount\.yaml$/);
    await writeIac(['provider', 'create', '--issuer-url', ISSUER], 'terraform', out);
    const applied = await applyAgainstMoto(
      terraform as Exclude<typeof terraform, string | undefined>,
      out,
      moto.endpoint,
    );
    assert.match(applied, /Apply complete! Resources: 4 added/);

    const provider = await kirsa(['provider', 'create', '--issuer-url', ISSUER]);
    assert.equal(provider.code, 0, provider.stderr);
    assert.equal(provider.stdout.trim(), PROVIDER);
    assert.match(provider.stderr, /the provider existed with everything asked; nothing changed/);

    const api = await kirsa(['role', 'create', ...roleInputs('tf'), '--skip-phases', 'service-account']);
    assert.equal(api.code, 0, api.stderr);
    assert.deepEqual(phaseLines(api.stdout), {
      role: 'unchanged',
      policies: 'unchanged',
      'inline-policy': 'unchanged',
      'service-account': 'skipped',
    });
    const attached = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: 'kirsa.tf.payments.api' }),
    );
    assert.deepEqual(
      attached.AttachedPolicies?.map((policy) => policy.PolicyArn),
      [readPolicy],
    );
    await expectAllowed(`arn:aws:iam::${ACCOUNT}:role/irsa/kirsa.tf.payments.api`);

    // What Terraform made, kirsa can take down again: its tags say the attachment is kirsa's.
    const deleted = await kirsa([
      'role',
      'delete',
      '--provider-arn',
      PROVIDER,
      '-n',
      'payments',
      '--service-account',
      'api',
      '--cluster',
      'tf',
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(phaseLines(deleted.stdout), {
      'service-account': 'skipped',
      'inline-policy': 'deleted',
      policies: 'deleted',
      role: 'deleted',
    });
  });
});
