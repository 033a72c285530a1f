// `kirsa role delete` and `kirsa provider delete` against moto: the first run removes exactly what create
// added (another cluster's trust and a user's own policy on the same role survive), the second changes nothing.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AttachRolePolicyCommand,
  GetRoleCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { motoUnavailable } from '../../support/moto.ts';
import {
  allowDocument,
  MOTO_ACCOUNT,
  type MotoIam,
  phaseLines,
  startMotoIam,
} from '../../support/moto-iam.ts';

const ACCOUNT = MOTO_ACCOUNT;
const ISSUER_A = 'https://oidc.example.com/cluster-a';
const PROVIDER_A = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/cluster-a`;
const PROVIDER_B = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/cluster-b`;
const skip = (await motoUnavailable()) ?? false;

let lab: MotoIam;
let iam: IAMClient;
let kirsaPolicy: string;
let userPolicy: string;
let inline: string;

before(async () => {
  if (skip) return;
  lab = await startMotoIam('kirsa-role-delete-');
  iam = lab.iam;
  const document = allowDocument('s3:GetObject');
  kirsaPolicy = await lab.createPolicy('app-read', document);
  userPolicy = await lab.createPolicy('users-own', document);
  inline = join(lab.dir, 'inline.json');
  await writeFile(inline, document);
});

after(async () => {
  await lab?.stop();
});

function kirsa(args: string[]) {
  return lab.kirsa(args);
}

async function roleState(name: string) {
  try {
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: name }));
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }));
    const inlineNames = await iam.send(new ListRolePoliciesCommand({ RoleName: name }));
    return {
      trust: JSON.parse(decodeURIComponent(Role!.AssumeRolePolicyDocument!)) as {
        Statement: Array<{ Principal: { Federated?: string } }>;
      },
      attached: (attached.AttachedPolicies ?? []).map((policy) => policy.PolicyArn).toSorted(),
      inline: inlineNames.PolicyNames ?? [],
    };
  } catch (error) {
    if ((error as Error).name === 'NoSuchEntityException') return undefined;
    throw error;
  }
}

const ALL_UNCHANGED = {
  'service-account': 'skipped',
  'inline-policy': 'unchanged',
  policies: 'unchanged',
  role: 'unchanged',
};

describe('kirsa role delete against moto', { skip }, () => {
  const shared = ['--service-account', 'app', '--role-name', 'shared', '--skip-phases', 'service-account'];

  test("on a shared role: only this cluster's trust goes; the other cluster's and the user's policy stay", async () => {
    const created = await kirsa([
      'role',
      'create',
      '--provider-arn',
      PROVIDER_A,
      ...shared,
      '--policy-arn',
      kirsaPolicy,
      '--inline-policy',
      inline,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const second = await kirsa(['role', 'create', '--provider-arn', PROVIDER_B, ...shared]);
    assert.equal(second.code, 0, second.stderr);
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'shared', PolicyArn: userPolicy }));
    const before = await roleState('shared');
    assert.equal(before!.trust.Statement.length, 2);

    const first = await kirsa(['role', 'delete', '--provider-arn', PROVIDER_A, ...shared]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(phaseLines(first.stdout), { ...ALL_UNCHANGED, role: 'updated' });
    assert.match(
      first.stdout,
      new RegExp(`no longer trusts system:serviceaccount:default:app from ${PROVIDER_A}`),
    );
    assert.match(first.stdout, /policies +unchanged +kept: the role still has 1 other trust statement/);
    const after = await roleState('shared');
    assert.deepEqual(after, {
      trust: { ...before!.trust, Statement: [before!.trust.Statement[1]] },
      attached: [kirsaPolicy, userPolicy].toSorted(),
      inline: ['kirsa-inline'],
    });
    assert.equal(after!.trust.Statement[0]!.Principal.Federated, PROVIDER_B);

    const again = await kirsa(['role', 'delete', '--provider-arn', PROVIDER_A, ...shared]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(phaseLines(again.stdout), ALL_UNCHANGED);
    assert.deepEqual(await roleState('shared'), after);
  });

  test("the last cluster's delete keeps a role holding a user's policy whole, and says why; --force deletes it", async () => {
    const kept = await kirsa(['role', 'delete', '--provider-arn', PROVIDER_B, ...shared]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.deepEqual(phaseLines(kept.stdout), ALL_UNCHANGED);
    assert.match(
      kept.stdout,
      /role +unchanged +kept: nothing else trusts the role, but policies kirsa did not attach are on it \(.*users-own\)/,
    );
    assert.equal((await roleState('shared'))!.trust.Statement.length, 1);

    const forced = await kirsa(['role', 'delete', '--provider-arn', PROVIDER_B, ...shared, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(phaseLines(forced.stdout), {
      'service-account': 'skipped',
      'inline-policy': 'deleted',
      policies: 'deleted',
      role: 'deleted',
    });
    assert.equal(await roleState('shared'), undefined);
  });

  test("a role of kirsa's own with only this trust goes with what kirsa put on it; a second run changes nothing", async () => {
    const args = [
      '--provider-arn',
      PROVIDER_A,
      '--service-account',
      'web',
      '--cluster',
      'prod-a',
      '--skip-phases',
      'service-account',
    ];
    const created = await kirsa([
      'role',
      'create',
      ...args,
      '--policy-arn',
      kirsaPolicy,
      '--inline-policy',
      inline,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(await roleState('kirsa.prod-a.default.web'));
    // Named by issuer URL without --account-id: as create does, delete takes the caller's account.
    const byIssuer = ['--issuer-url', ISSUER_A, ...args.slice(2)];
    const first = await kirsa(['role', 'delete', ...byIssuer]);
    assert.match(
      first.stderr,
      new RegExp(`no --account-id: using ${ACCOUNT}, the account of the credentials in use`),
    );
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(phaseLines(first.stdout), {
      'service-account': 'skipped',
      'inline-policy': 'deleted',
      policies: 'deleted',
      role: 'deleted',
    });
    assert.match(first.stdout, new RegExp(`policies +deleted +detached ${kirsaPolicy}`));
    assert.equal(await roleState('kirsa.prod-a.default.web'), undefined);
    const second = await kirsa(['role', 'delete', ...args]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(phaseLines(second.stdout), ALL_UNCHANGED);
    assert.match(second.stdout, /role +unchanged +role kirsa\.prod-a\.default\.web does not exist/);
  });
});

describe('kirsa provider delete against moto', { skip }, () => {
  test('refused with the trusting roles listed; --force deletes; a second run is unchanged', async () => {
    const provider = await kirsa(['provider', 'create', '--issuer-url', ISSUER_A]);
    assert.equal(provider.code, 0, provider.stderr);
    const role = await kirsa([
      'role',
      'create',
      '--provider-arn',
      PROVIDER_A,
      '--service-account',
      'api',
      '--role-name',
      'uses-a',
      '--skip-phases',
      'service-account',
    ]);
    assert.equal(role.code, 0, role.stderr);

    const refused = await kirsa(['provider', 'delete', '--issuer-url', ISSUER_A]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`1 role\\(s\\) trust ${PROVIDER_A}: arn:aws:iam::${ACCOUNT}:role/uses-a`),
    );
    const listed = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    assert.deepEqual(
      listed.OpenIDConnectProviderList?.map((entry) => entry.Arn),
      [PROVIDER_A],
    );

    const forced = await kirsa(['provider', 'delete', '--issuer-url', ISSUER_A, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout.trim(), PROVIDER_A);
    assert.match(forced.stderr, /still trusted by .*role\/uses-a/);
    const after = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    assert.deepEqual(after.OpenIDConnectProviderList ?? [], []);

    const again = await kirsa(['provider', 'delete', '--issuer-url', ISSUER_A]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      /no IAM OIDC provider for https:\/\/oidc\.example\.com\/cluster-a; nothing to delete/,
    );
  });
});
