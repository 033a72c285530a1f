// `kirsa role create` and `kirsa explain --role-arn` as processes against moto's IAM: the role, its trust
// merged without clobbering, managed and inline policies, idempotent reruns, and validation before any change.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { motoUnavailable } from '../../support/moto.ts';
import {
  allowDocument,
  MOTO_ACCOUNT,
  type MotoIam,
  phaseLines,
  startMotoIam,
} from '../../support/moto-iam.ts';
import { assertErrorCode } from '../../support/run-kirsa.ts';

const ISSUER = 'https://oidc.example.com/cluster-a';
const HOST = 'oidc.example.com/cluster-a';
const ACCOUNT = MOTO_ACCOUNT;
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${HOST}`;

let lab: MotoIam;
let iam: IAMClient;
let dir: string;
let policyArn: string;

// Outside CI a missing moto skips these tests with the reason; in CI motoUnavailable throws.
const skip = (await motoUnavailable()) ?? false;

before(async () => {
  if (skip) return;
  lab = await startMotoIam('kirsa-role-');
  ({ iam, dir } = lab);
  policyArn = await lab.createPolicy(
    's3-echoer-write',
    allowDocument('s3:PutObject', 'arn:aws:s3:::bucket/*'),
  );
});

after(async () => {
  await lab?.stop();
});

function kirsa(args: string[]) {
  return lab.kirsa(args);
}

async function trustPolicyOf(roleName: string) {
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  return JSON.parse(decodeURIComponent(Role!.AssumeRolePolicyDocument!));
}

describe('kirsa role create against moto', { skip }, () => {
  test('creates the role, attaches and puts the policies; a rerun is unchanged in every phase', async () => {
    const inline = join(dir, 'inline.json');
    await writeFile(
      inline,
      JSON.stringify(
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
        null,
        2,
      ),
    );
    const args = [
      'role',
      'create',
      '--issuer-url',
      ISSUER,
      '--account-id',
      ACCOUNT,
      '--service-account',
      's3-echoer',
      '--role-name',
      's3-echoer',
      '--policy-arn',
      policyArn,
      '--inline-policy',
      inline,
      '--skip-phases',
      'service-account',
    ];
    const first = await kirsa(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(phaseLines(first.stdout), {
      role: 'created',
      policies: 'updated',
      'inline-policy': 'created',
      'service-account': 'skipped',
    });
    assert.match(
      first.stdout,
      new RegExp(
        `role +created +arn:aws:iam::${ACCOUNT}:role/s3-echoer trusting system:serviceaccount:default:s3-echoer`,
      ),
    );

    assert.deepEqual(await trustPolicyOf('s3-echoer'), {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${HOST}:sub`]: 'system:serviceaccount:default:s3-echoer',
              [`${HOST}:aud`]: 'sts.amazonaws.com',
            },
          },
        },
      ],
    });
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 's3-echoer' }));
    assert.deepEqual(
      attached.AttachedPolicies?.map((policy) => policy.PolicyArn),
      [policyArn],
    );
    const put = await iam.send(
      new GetRolePolicyCommand({ RoleName: 's3-echoer', PolicyName: 'kirsa-inline' }),
    );
    assert.equal(JSON.parse(decodeURIComponent(put.PolicyDocument!)).Statement[0].Action, 's3:GetObject');

    const second = await kirsa(args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(phaseLines(second.stdout), {
      role: 'unchanged',
      policies: 'unchanged',
      'inline-policy': 'unchanged',
      'service-account': 'skipped',
    });
  });

  test("a second service account merges into the trust, keeping someone else's statement", async () => {
    const foreign = {
      Sid: 'Ci',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'sts:AssumeRole',
    };
    const before = await trustPolicyOf('s3-echoer');
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: 's3-echoer',
        PolicyDocument: JSON.stringify({ ...before, Statement: [foreign, ...before.Statement] }),
      }),
    );
    const args = [
      'role',
      'create',
      '--provider-arn',
      PROVIDER,
      '--service-account',
      'default/app',
      '--role-name',
      's3-echoer',
      '--skip-phases',
      'service-account',
    ];
    const run = await kirsa(args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /role +updated .* now also trusts system:serviceaccount:default:app/);
    const after = await trustPolicyOf('s3-echoer');
    assert.deepEqual(after.Statement[0], foreign);
    assert.deepEqual(after.Statement[1].Condition.StringEquals[`${HOST}:sub`], [
      'system:serviceaccount:default:s3-echoer',
      'system:serviceaccount:default:app',
    ]);
    const again = await kirsa(args);
    assert.equal(phaseLines(again.stdout).role, 'unchanged');
  });

  test("without --account-id the provider account is the caller's (STS GetCallerIdentity)", async () => {
    const run = await kirsa([
      'role',
      'create',
      '--issuer-url',
      ISSUER,
      '--service-account',
      'caller',
      '--role-name',
      'from-caller',
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`no --account-id: using ${ACCOUNT}, the account of the credentials in use`),
    );
    const policy = await trustPolicyOf('from-caller');
    assert.equal(policy.Statement[0].Principal.Federated, PROVIDER);
  });

  test('validation runs before any change: a bad inline policy or kubeconfig leaves no role behind', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"Version": "2012-10-17"');
    const badPolicy = await kirsa([
      'role',
      'create',
      '--provider-arn',
      PROVIDER,
      '--service-account',
      'never',
      '--role-name',
      'never-created',
      '--inline-policy',
      broken,
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(badPolicy.code, 2);
    assert.match(badPolicy.stderr, /broken.json is not a policy document/);
    assertErrorCode(badPolicy.stderr, 'POLICY_INVALID');
    const badKubeconfig = await kirsa([
      'role',
      'create',
      '--provider-arn',
      PROVIDER,
      '--service-account',
      'never',
      '--role-name',
      'never-created',
      '--kubeconfig',
      join(dir, 'missing-kubeconfig'),
    ]);
    assert.equal(badKubeconfig.code, 2, badKubeconfig.stderr);
    assert.match(badKubeconfig.stderr, /cannot load the kubeconfig/);
    assertErrorCode(badKubeconfig.stderr, 'KUBECONFIG_UNREADABLE');
    await assert.rejects(iam.send(new GetRoleCommand({ RoleName: 'never-created' })), {
      name: 'NoSuchEntityException',
    });
    const badPhase = await kirsa([
      'role',
      'create',
      '--provider-arn',
      PROVIDER,
      '--service-account',
      'x',
      '--skip-phases',
      'rol',
    ]);
    assert.equal(badPhase.code, 2);
    assert.match(badPhase.stderr, /unknown phase rol/);
    assertErrorCode(badPhase.stderr, 'PHASE_UNKNOWN');
  });
});

describe('kirsa explain --role-arn against moto', { skip }, () => {
  test('reads the trust policy with GetRole: allowed for s3-echoer, denied for another account with the fix', async () => {
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/s3-echoer`;
    const allowed = await kirsa([
      'explain',
      '--role-arn',
      roleArn,
      '--issuer-url',
      ISSUER,
      '--service-account',
      's3-echoer',
    ]);
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /^allowed by statement 2/);
    const denied = await kirsa([
      'explain',
      '--role-arn',
      roleArn,
      '--issuer-url',
      ISSUER,
      '--namespace',
      'prod',
      '--service-account',
      'app',
    ]);
    assert.equal(denied.code, 1, denied.stderr);
    assert.match(denied.stdout, new RegExp(`policy: +role ${roleArn}`));
    assert.match(
      denied.stdout,
      /why: {3}the policy names service account default\/s3-echoer, default\/app in another namespace, the token is for prod\/app/,
    );
    const missing = await kirsa([
      'explain',
      '--role-arn',
      `arn:aws:iam::${ACCOUNT}:role/nope`,
      '--issuer-url',
      ISSUER,
      '--service-account',
      'x',
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /role nope does not exist/);
    assertErrorCode(missing.stderr, 'AWS_NOT_FOUND');
  });
});
