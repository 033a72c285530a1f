// `kirsa role create` with the settings enterprise accounts require (permissions boundary, tags, path,
// maximum session, description) and the --cluster default name, against moto; read back with the real AWS CLI.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type MotoServer, motoUnavailable } from '../../support/moto.ts';
import {
  allowDocument,
  MOTO_ACCOUNT,
  type MotoIam,
  phaseLines,
  startMotoIam,
} from '../../support/moto-iam.ts';
import { realPart } from '../../support/real-parts.ts';
import { assertErrorCode } from '../../support/run-kirsa.ts';

const run = promisify(execFile);
const ACCOUNT = MOTO_ACCOUNT;
const PROVIDER_A = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/cluster-a`;
const PROVIDER_B = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/cluster-b`;
const skip = (await motoUnavailable()) ?? false;

let lab: MotoIam;
let moto: MotoServer;
let env: NodeJS.ProcessEnv;
let boundary: string;
let otherBoundary: string;

before(async () => {
  if (skip) return;
  lab = await startMotoIam('kirsa-role-options-');
  ({ moto, env } = lab);
  boundary = await lab.createPolicy('boundary', allowDocument('s3:*'));
  otherBoundary = await lab.createPolicy('other-boundary', allowDocument('s3:*'));
});

after(async () => {
  await lab?.stop();
});

function kirsa(args: string[]) {
  return lab.kirsa(args);
}

/** `aws iam get-role` through the real AWS CLI, as a user would check. */
async function awsGetRole(aws: string, name: string) {
  const { stdout } = await run(
    aws,
    ['iam', 'get-role', '--role-name', name, '--endpoint-url', moto.endpoint, '--output', 'json'],
    { env: { ...process.env, ...env, AWS_DEFAULT_REGION: 'us-east-1' } },
  );
  return (JSON.parse(stdout) as { Role: Record<string, unknown> }).Role as {
    Path: string;
    Arn: string;
    Description: string;
    MaxSessionDuration: number;
    PermissionsBoundary?: { PermissionsBoundaryArn: string };
    Tags?: Array<{ Key: string; Value: string }>;
  };
}

const tagsOf = (role: { Tags?: Array<{ Key: string; Value: string }> }) =>
  Object.fromEntries((role.Tags ?? []).map((tag) => [tag.Key, tag.Value]));

describe('role create: boundary, tags, path, maximum session, description', { skip }, () => {
  const base = [
    'role',
    'create',
    '--provider-arn',
    PROVIDER_A,
    '--service-account',
    'payments/api',
    '--cluster',
    'prod-a',
    '--skip-phases',
    'service-account',
  ];

  test('created with every setting; aws iam get-role shows them; a rerun is unchanged in every phase', async (t) => {
    const aws = realPart(t, 'KIRSA_AWS_CLI');
    if (!aws) return;
    const args = [
      ...base,
      '--permissions-boundary',
      boundary,
      '--tag',
      'team=payments',
      '--tag',
      'cost-center=42',
      '--path',
      '/irsa/',
      '--max-session-duration',
      '7200',
      '--description',
      'payments api',
    ];
    const first = await kirsa(args);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(phaseLines(first.stdout).role, 'created');
    const role = await awsGetRole(aws, 'kirsa.prod-a.payments.api');
    assert.equal(role.Path, '/irsa/');
    assert.equal(role.Arn, `arn:aws:iam::${ACCOUNT}:role/irsa/kirsa.prod-a.payments.api`);
    assert.equal(role.Description, 'payments api');
    assert.equal(role.MaxSessionDuration, 7200);
    assert.equal(role.PermissionsBoundary?.PermissionsBoundaryArn, boundary);
    assert.deepEqual(tagsOf(role), { team: 'payments', 'cost-center': '42', 'kirsa/created-by': 'kirsa' });

    const second = await kirsa(args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(phaseLines(second.stdout), {
      role: 'unchanged',
      policies: 'skipped',
      'inline-policy': 'skipped',
      'service-account': 'skipped',
    });
  });

  test('a rerun with other settings changes exactly those and says which; tags not named stay', async (t) => {
    const aws = realPart(t, 'KIRSA_AWS_CLI');
    if (!aws) return;
    const changed = await kirsa([
      ...base,
      '--permissions-boundary',
      otherBoundary,
      '--tag',
      'team=infra',
      '--max-session-duration',
      '3600',
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(
      changed.stdout,
      new RegExp(
        `role +updated +\\S+: max session 7200s -> 3600s; permissions boundary ${boundary} -> ${otherBoundary}; tags team\\n`,
      ),
    );
    const role = await awsGetRole(aws, 'kirsa.prod-a.payments.api');
    assert.equal(role.MaxSessionDuration, 3600);
    assert.equal(role.PermissionsBoundary?.PermissionsBoundaryArn, otherBoundary);
    assert.equal(role.Description, 'payments api');
    assert.deepEqual(tagsOf(role), { team: 'infra', 'cost-center': '42', 'kirsa/created-by': 'kirsa' });
    // IAM cannot move a role: another --path is a warning, not a change.
    const moved = await kirsa([...base, '--path', '/other/']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(phaseLines(moved.stdout).role, 'unchanged');
    assert.match(moved.stderr, /path is \/irsa\/, not \/other\/: IAM cannot move a role/);
  });

  test('--cluster gives each cluster its own role; the old default name warns when it serves another cluster', async () => {
    const other = await kirsa([
      ...base.slice(0, 2),
      '--provider-arn',
      PROVIDER_B,
      ...base.slice(4, 6),
      '--cluster',
      'prod-b',
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(other.code, 0, other.stderr);
    assert.match(
      other.stdout,
      /role +created +arn:aws:iam::123456789012:role\/kirsa\.prod-b\.payments\.api /,
    );
    assert.doesNotMatch(other.stderr, /warning/);
    // The same cluster name with another provider: the role would serve two clusters, so say so.
    const reused = await kirsa([
      ...base.slice(0, 2),
      '--provider-arn',
      PROVIDER_A,
      ...base.slice(4, 6),
      '--cluster',
      'prod-b',
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(reused.code, 0, reused.stderr);
    assert.match(
      reused.stderr,
      new RegExp(
        `role kirsa\\.prod-b\\.payments\\.api already trusts ${PROVIDER_B}: .* give this one a --cluster name other than prod-b`,
      ),
    );

    const shared = [
      'role',
      'create',
      '--service-account',
      'payments/api',
      '--skip-phases',
      'service-account',
    ];
    const onA = await kirsa([...shared, '--provider-arn', PROVIDER_A]);
    assert.equal(onA.code, 0, onA.stderr);
    assert.match(onA.stdout, /role\/kirsa-payments-api /);
    const onB = await kirsa([...shared, '--provider-arn', PROVIDER_B]);
    assert.equal(onB.code, 0, onB.stderr);
    assert.match(
      onB.stderr,
      new RegExp(`warning: role kirsa-payments-api already trusts ${PROVIDER_A}: .* give --cluster NAME`),
    );
  });

  test('settings that break IAM rules are refused before any call, with their code', async () => {
    for (const [flag, value] of [
      ['--path', 'irsa'],
      ['--max-session-duration', '60'],
      ['--tag', 'kirsa/created-by=me'],
      ['--permissions-boundary', 'boundary'],
    ] as const) {
      const refused = await kirsa([...base, flag, value, '--debug']);
      assert.equal(refused.code, 2, `${flag} ${value}: ${refused.stderr}`);
      assert.match(
        refused.stderr,
        /ROLE_OPTION_INVALID|breaks IAM|not an IAM path|out of range|reserved|not a managed policy/,
      );
    }
    const badCluster = await kirsa([...base.slice(0, 6), '--cluster', 'prod.example.com']);
    assert.equal(badCluster.code, 2);
    assert.match(badCluster.stderr, /not a cluster name kirsa can put in a role name/);
    assertErrorCode(badCluster.stderr, 'CLUSTER_NAME_INVALID');
  });
});
