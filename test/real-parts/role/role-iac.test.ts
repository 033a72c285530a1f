// `-o terraform` and `-o cloudformation` on role create and provider create, applied for real: the
// CloudFormation template passes cfn-lint and deploys on moto's CloudFormation, the Terraform JSON is
// applied by terraform against moto's IAM; afterwards the API mode on the same inputs finds everything
// unchanged, which shows the two modes build the same thing.
//
// moto's CloudFormation (5.2.5, checked by hand) differs from AWS's in three ways: it ignores a role's
// ManagedPolicyArns and AWS::IAM::OIDCProvider resources, and it stores an inline policy from the template
// as the text of a Python dict, not JSON. The test says so where it meets them and checks the rest;
// Terraform's path (plain IAM API calls) covers the provider, the attachments and the inline policy.
//
// `kirsa stack` writes the same parts (issuer objects and bucket policy, provider, several roles) as one
// configuration or template; it is applied the same ways and read back the same way, role by role. Its
// issuer is a bucket URL without a port (IAM refuses ports), which this machine cannot serve over HTTPS, so
// the issuer side is checked by the API mode of issuer publish (policy unchanged, objects read back), not by
// `issuer verify` (test/real-parts/issuer/from-cluster.test.ts verifies a published issuer through an HTTPS front).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { GetRoleCommand, type IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { parseAllDocuments } from 'yaml';
import { type MotoServer, motoClientEnv, motoUnavailable } from '../../support/moto.ts';
import {
  allowDocument,
  MOTO_ACCOUNT,
  type MotoIam,
  phaseLines,
  startMotoIam,
} from '../../support/moto-iam.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';
import { applyAgainstMoto, terraformOrReason } from '../../support/terraform.ts';

const run = promisify(execFile);
const ACCOUNT = MOTO_ACCOUNT;
const ISSUER = 'https://oidc.example.com/iac';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/iac`;
const env = motoClientEnv();
const skip = (await motoUnavailable()) ?? false;
const terraform = skip ? undefined : await terraformOrReason();

let lab: MotoIam;
let moto: MotoServer;
let iam: IAMClient;
let dir: string;
let boundary: string;
let readPolicy: string;
let inline: string;

before(async () => {
  if (skip) return;
  lab = await startMotoIam('kirsa-iac-');
  ({ moto, iam, dir } = lab);
  boundary = await lab.createPolicy('boundary', allowDocument('s3:*'));
  readPolicy = await lab.createPolicy('read', allowDocument('s3:GetObject'));
  inline = join(dir, 'inline.json');
  // A policy variable: literal in the role's policy, which Terraform must not read as its own template.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, meant literally
  await writeFile(inline, allowDocument('s3:PutObject', 'arn:aws:s3:::bucket/${aws:userid}/*'));
});

after(async () => {
  await lab?.stop();
});

function kirsa(args: string[]) {
  return lab.kirsa(args);
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

async function expectAllowed(roleArn: string, issuer = ISSUER, account = 'payments/api') {
  const explained = await kirsa([
    'explain',
    '--role-arn',
    roleArn,
    '--issuer-url',
    issuer,
    '--service-account',
    account,
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

// --- kirsa stack: the whole setup as one configuration / one template -----------------------------------------

const STACK_ROLES = ['payments/api', 'billing/worker'] as const;

/** An issuer folder for its own bucket (made too), and a roles file: one role with every option, one plain. */
async function stackInputs(bucket: string, cluster: string) {
  const issuer = `https://${bucket}.s3.us-east-1.amazonaws.com/cluster-1`;
  const issuerDir = join(dir, `${bucket}-issuer`);
  const init = await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', issuerDir]);
  assert.equal(init.code, 0, init.stderr);
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const rolesFile = join(dir, `${bucket}-roles.yaml`);
  await writeFile(
    rolesFile,
    [
      'roles:',
      `  - service-account: ${STACK_ROLES[0]}`,
      `    cluster: ${cluster}`,
      `    permissions-boundary: ${boundary}`,
      '    tag: {team: payments}',
      '    path: /irsa/',
      '    max-session-duration: 7200',
      '    description: payments api',
      `    policy-arn: [${readPolicy}]`,
      `    inline-policy: ${inline}`,
      `  - service-account: ${STACK_ROLES[1]}`,
      `    role-name: ${cluster}-billing-worker`,
      `    policy-arn: ${readPolicy}`,
      '',
    ].join('\n'),
  );
  // The same roles as role create flags, for the API mode's read-back.
  const apiInputs = [
    [
      '--service-account',
      STACK_ROLES[0],
      '--cluster',
      cluster,
      ...roleInputs(cluster).slice(roleInputs(cluster).indexOf('--permissions-boundary')),
    ],
    [
      '--service-account',
      STACK_ROLES[1],
      '--role-name',
      `${cluster}-billing-worker`,
      '--policy-arn',
      readPolicy,
    ],
  ].map((inputs) => [
    'role',
    'create',
    '--issuer-url',
    issuer,
    '--account-id',
    ACCOUNT,
    ...inputs,
    '--skip-phases',
    'service-account',
  ]);
  return {
    issuer,
    issuerDir,
    s3,
    apiInputs,
    roleArns: [
      `arn:aws:iam::${ACCOUNT}:role/irsa/kirsa.${cluster}.payments.api`,
      `arn:aws:iam::${ACCOUNT}:role/${cluster}-billing-worker`,
    ],
    stackArgs: [
      'stack',
      '--dir',
      issuerDir,
      '--bucket',
      bucket,
      '--account-id',
      ACCOUNT,
      '--roles',
      rolesFile,
    ],
  };
}

/** The manifests file holds one annotated ServiceAccount per account, naming its role. */
async function expectManifests(file: string, roleArns: readonly string[]) {
  const manifests = parseAllDocuments(await readFile(file, 'utf8')).map((document) => document.toJS());
  assert.deepEqual(
    manifests.map((manifest) => [
      `${manifest.metadata.namespace}/${manifest.metadata.name}`,
      manifest.metadata.annotations['eks.amazonaws.com/role-arn'],
    ]),
    STACK_ROLES.map((account, index) => [account, roleArns[index]]),
  );
}

describe('kirsa stack -o terraform, applied on moto', {
  skip: skip || (typeof terraform === 'string' ? terraform : false),
}, () => {
  test('one configuration: the issuer objects and policy, the provider and both roles; the API mode finds each unchanged', async () => {
    const inputs = await stackInputs('kirsa-stack-tf', 'stack-tf');
    const out = join(dir, 'stack-tf');
    const [configuration, manifests] = await writeIac(inputs.stackArgs, 'terraform', out);
    assert.equal(configuration, join(out, 'kirsa-stack.tf.json'));
    assert.equal(manifests, join(out, 'kirsa-stack.serviceaccount.yaml'));
    await expectManifests(manifests!, inputs.roleArns);
    const applied = await applyAgainstMoto(
      terraform as Exclude<typeof terraform, string | undefined>,
      out,
      moto.endpoint,
    );
    // 2 objects + bucket policy + provider + (role, attachment, inline policy) + (role, attachment).
    assert.match(applied, /Apply complete! Resources: 9 added/);

    const provider = await kirsa(['provider', 'create', '--issuer-url', inputs.issuer]);
    assert.equal(provider.code, 0, provider.stderr);
    assert.match(provider.stderr, /the provider existed with everything asked; nothing changed/);
    for (const [index, args] of inputs.apiInputs.entries()) {
      const api = await kirsa(args);
      assert.equal(api.code, 0, api.stderr);
      assert.deepEqual(phaseLines(api.stdout), {
        role: 'unchanged',
        policies: 'unchanged',
        'inline-policy': index === 0 ? 'unchanged' : 'skipped',
        'service-account': 'skipped',
      });
      await expectAllowed(inputs.roleArns[index]!, inputs.issuer, STACK_ROLES[index]);
    }
    const published = await kirsa([
      'issuer',
      'publish',
      '--dir',
      inputs.issuerDir,
      '--bucket',
      'kirsa-stack-tf',
      '--no-verify',
      '--skip-phases',
      'upload',
    ]);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /bucket policy: already grants anonymous read of those two keys/);
    assert.match(
      published.stdout,
      /ok {3}both objects read back as uploaded, Content-Type application\/json/,
    );
    inputs.s3.destroy();
  });
});

describe('kirsa stack -o cloudformation, deployed on moto', { skip }, () => {
  test('one template passes cfn-lint and deploys; what moto makes of it, the API mode finds unchanged', async (t) => {
    const aws = realPart(t, 'KIRSA_AWS_CLI');
    if (!aws) return;
    const inputs = await stackInputs('kirsa-stack-cfn', 'stack-cfn');
    const out = join(dir, 'stack-cfn');
    const written = await runKirsa([...inputs.stackArgs, '-o', 'cloudformation', '--output-dir', out]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stderr, /CloudFormation has no S3 object resource/);
    const [template, manifests] = written.stdout.trim().split('\n');
    assert.equal(template, join(out, 'kirsa-stack.cfn.json'));
    await expectManifests(manifests!, inputs.roleArns);
    const declared = JSON.parse(await readFile(template!, 'utf8'));
    assert.deepEqual(Object.keys(declared.Resources), [
      'IssuerBucketPolicy',
      'OidcProvider',
      'Rolekirsastackcfnpaymentsapi',
      'Rolestackcfnbillingworker',
    ]);

    const lint = await run(join(dirname(aws), 'cfn-lint'), ['--', template!]).catch((error) => error);
    assert.equal(lint.code ?? 0, 0, `${lint.stdout}${lint.stderr}`);
    await run(
      aws,
      [
        'cloudformation',
        'deploy',
        '--stack-name',
        'kirsa-stack',
        '--template-file',
        template!,
        '--capabilities',
        'CAPABILITY_NAMED_IAM',
        '--endpoint-url',
        moto.endpoint,
      ],
      { env: { ...process.env, ...env, AWS_DEFAULT_REGION: 'us-east-1' } },
    );

    // moto's CloudFormation made the roles but ignored the provider, the managed policies and the bucket
    // policy, and kept the inline policy as non-JSON text: the API mode adds exactly what the template
    // declares for those, and finds every role itself (trust, path, boundary, session, description) unchanged.
    const provider = await kirsa(['provider', 'create', '--issuer-url', inputs.issuer]);
    assert.equal(provider.code, 0, provider.stderr);
    assert.equal(
      provider.stdout.trim(),
      `arn:aws:iam::${ACCOUNT}:oidc-provider/kirsa-stack-cfn.s3.us-east-1.amazonaws.com/cluster-1`,
    );
    for (const [index, args] of inputs.apiInputs.entries()) {
      const api = await kirsa(args);
      assert.equal(api.code, 0, api.stderr);
      assert.deepEqual(phaseLines(api.stdout), {
        role: 'unchanged',
        policies: 'updated',
        'inline-policy': index === 0 ? 'updated' : 'skipped',
        'service-account': 'skipped',
      });
      const again = await kirsa(args);
      assert.equal(phaseLines(again.stdout).policies, 'unchanged');
      await expectAllowed(inputs.roleArns[index]!, inputs.issuer, STACK_ROLES[index]);
    }
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: 'kirsa.stack-cfn.payments.api' }));
    assert.equal(Role!.PermissionsBoundary?.PermissionsBoundaryArn, boundary);
    assert.equal(Role!.MaxSessionDuration, 7200);

    const published = await kirsa([
      'issuer',
      'publish',
      '--dir',
      inputs.issuerDir,
      '--bucket',
      'kirsa-stack-cfn',
      '--no-verify',
    ]);
    assert.equal(published.code, 0, published.stderr);
    const { Policy } = await inputs.s3.send(new GetBucketPolicyCommand({ Bucket: 'kirsa-stack-cfn' }));
    assert.deepEqual(JSON.parse(Policy!), declared.Resources.IssuerBucketPolicy.Properties.PolicyDocument);
    inputs.s3.destroy();
  });
});
