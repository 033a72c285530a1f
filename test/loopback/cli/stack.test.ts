// `kirsa stack` offline: its one configuration holds exactly what `issuer publish`, `provider create` and
// `role create` write with `-o terraform` for the same inputs (so the stack and the per-command output
// cannot disagree), and a roles file kirsa cannot read as role create flags is refused before anything is
// written. test/real-parts/role/role-iac.test.ts applies the stack on moto.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

const ISSUER = 'https://kirsa-stack.s3.us-east-1.amazonaws.com/cluster-1';
const ACCOUNT = '111122223333';
const POLICY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
let work: string;
let issuerDir: string;

type Terraform = { resource: Record<string, Record<string, Record<string, unknown>>> };

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-stack-cli-'));
  issuerDir = join(work, 'issuer');
  const init = await runKirsa(['issuer', 'init', '--issuer-url', ISSUER, '--dir', issuerDir]);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function stack(roles: string, extra: string[] = []) {
  const file = join(work, `roles-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, roles);
  return runKirsa([
    'stack',
    '-o',
    'terraform',
    '--dir',
    issuerDir,
    '--bucket',
    'kirsa-stack',
    '--account-id',
    ACCOUNT,
    '--roles',
    file,
    ...extra,
  ]);
}

async function terraformOf(args: string[]): Promise<Terraform> {
  const written = await runKirsa([...args, '-o', 'terraform']);
  assert.equal(written.code, 0, written.stderr);
  return JSON.parse(written.stdout);
}

describe('kirsa stack', () => {
  test('one configuration holding what each command writes with -o terraform', async () => {
    const written = await stack(
      [
        'roles:',
        '  - service-account: payments/api',
        '    cluster: prod',
        '    tag: {team: payments}',
        '    max-session-duration: 7200',
        `    policy-arn: ${POLICY}`,
        '  - service-account: [billing/worker, billing/cron]',
        '    role-name: billing',
        '',
      ].join('\n'),
    );
    assert.equal(written.code, 0, written.stderr);
    const document = JSON.parse(written.stdout) as Terraform;

    const issuer = await terraformOf(['issuer', 'publish', '--dir', issuerDir, '--bucket', 'kirsa-stack']);
    const provider = await terraformOf(['provider', 'create', '--issuer-url', ISSUER]);
    const trust = ['--issuer-url', ISSUER, '--account-id', ACCOUNT];
    const api = await terraformOf([
      'role',
      'create',
      ...trust,
      '--service-account',
      'payments/api',
      '--cluster',
      'prod',
      '--tag',
      'team=payments',
      '--max-session-duration',
      '7200',
      '--policy-arn',
      POLICY,
    ]);
    const billing = await terraformOf([
      'role',
      'create',
      ...trust,
      '--service-account',
      'billing/worker',
      '--service-account',
      'billing/cron',
      '--role-name',
      'billing',
    ]);
    const providerId = Object.keys(provider.resource.aws_iam_openid_connect_provider!)[0]!;
    // The stack adds one thing: each role waits for the provider its trust names.
    const roles = Object.fromEntries(
      Object.entries(document.resource.aws_iam_role!).map(([id, role]) => {
        const { depends_on: dependsOn, ...rest } = role;
        assert.deepEqual(dependsOn, [`aws_iam_openid_connect_provider.${providerId}`]);
        return [id, rest];
      }),
    );
    assert.deepEqual(
      { ...document.resource, aws_iam_role: roles },
      {
        ...issuer.resource,
        ...provider.resource,
        aws_iam_role: { ...api.resource.aws_iam_role, ...billing.resource.aws_iam_role },
        aws_iam_role_policy_attachment: api.resource.aws_iam_role_policy_attachment,
      },
    );
  });

  test('the ServiceAccounts of every role go to one manifest file beside the configuration', async () => {
    const out = join(work, 'out');
    const written = await stack('roles:\n  - service-account: [a/one, b/two]\n', ['--output-dir', out]);
    assert.equal(written.code, 0, written.stderr);
    assert.deepEqual(written.stdout.trim().split('\n'), [
      join(out, 'kirsa-stack.tf.json'),
      join(out, 'kirsa-stack.serviceaccount.yaml'),
    ]);
    const manifests = await readFile(join(out, 'kirsa-stack.serviceaccount.yaml'), 'utf8');
    assert.equal(manifests.match(/kind: ServiceAccount/g)?.length, 2);
    assert.match(manifests, new RegExp(`role-arn: arn:aws:iam::${ACCOUNT}:role/kirsa-a-one\\n`));
  });

  test('a roles file that is not role create flags is refused, naming the entry and the key', async () => {
    const unknown = await stack('roles:\n  - service-account: a/b\n    provider-arn: x\n');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^kirsa: .*roles\[0\]: provider-arn is not a key of a role entry$/m);
    assert.match(unknown.stderr, /hint: use namespace, service-account, role-name/);
    assertErrorCode(unknown.stderr, 'STACK_FILE_INVALID');

    const wrongType = await stack('roles:\n  - service-account: a/b\n    max-session-duration: long\n');
    assert.equal(wrongType.code, 2);
    assert.match(wrongType.stderr, /roles\[0\]: max-session-duration takes a whole number/);
    assertErrorCode(wrongType.stderr, 'STACK_FILE_INVALID');

    const noList = await stack('service-account: a/b\n');
    assert.equal(noList.code, 2);
    assert.match(noList.stderr, /has no roles: list/);
    assertErrorCode(noList.stderr, 'STACK_FILE_INVALID');

    const twice = await stack('roles:\n  - service-account: a/b\n  - service-account: a/b\n');
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /^kirsa: two roles of the stack are named kirsa-a-b$/m);
    assertErrorCode(twice.stderr, 'IAC_OUTPUT_INVALID');
    assert.equal(twice.stdout, '', 'nothing written');
  });
});
