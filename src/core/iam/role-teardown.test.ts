import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attachedPolicyTag } from './role-settings.ts';
import { annotationNamesRole, planRoleTeardown } from './role-teardown.ts';
import { buildTrustPolicy } from './trust-policy.ts';

const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-a';
const PROVIDER_B = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-b';
const OURS = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const THEIRS = 'arn:aws:iam::111122223333:policy/theirs';
const app = { namespace: 'default', name: 'app' };
const request = { providerArns: [PROVIDER], serviceAccounts: [app] };
const [oursKey, oursValue] = attachedPolicyTag(OURS)!;
const createdTags = { 'kirsa/created-by': 'kirsa', [oursKey]: oursValue };

function role(providers: string[], overrides: Partial<Parameters<typeof planRoleTeardown>[0]> = {}) {
  return {
    trustPolicy: buildTrustPolicy({
      providerArns: providers,
      serviceAccounts: [app],
      audiences: ['sts.amazonaws.com'],
    }),
    tags: createdTags,
    attachedPolicyArns: [OURS],
    inlinePolicyNames: ['kirsa-inline'],
    ...overrides,
  };
}

describe('what role delete takes away', () => {
  test("kirsa's role with only this trust: everything kirsa put there goes, and the role", () => {
    const plan = planRoleTeardown(role([PROVIDER]), request);
    assert.deepEqual(plan, {
      removedSubjects: [`system:serviceaccount:default:app from ${PROVIDER}`],
      detach: [OURS],
      deleteInline: ['kirsa-inline'],
      deleteRole: true,
    });
  });

  test("another cluster still trusts it: only this cluster's subject goes; policies serve the other", () => {
    const plan = planRoleTeardown(
      role([PROVIDER, PROVIDER_B], { attachedPolicyArns: [OURS, THEIRS] }),
      request,
    );
    assert.equal(plan.deleteRole, false);
    assert.deepEqual(plan.detach, []);
    assert.deepEqual(plan.deleteInline, []);
    assert.equal(plan.updatedTrust!.Statement.length, 1);
    assert.equal((plan.updatedTrust!.Statement[0]!.Principal as { Federated: string }).Federated, PROVIDER_B);
    assert.match(plan.keptBecause!, /1 other trust statement/);
    // Run again on the result: nothing left to take.
    const again = planRoleTeardown(role([PROVIDER_B], { attachedPolicyArns: [OURS, THEIRS] }), request);
    assert.equal(again.updatedTrust, undefined);
    assert.deepEqual(again.removedSubjects, []);
    assert.equal(again.deleteRole, false);
  });

  test("a user's policy, a user's inline policy, or a role kirsa did not create keeps the role whole", () => {
    for (const [overrides, reason] of [
      [{ attachedPolicyArns: [OURS, THEIRS] }, /policies kirsa did not attach are on it \(.*theirs\)/],
      [{ inlinePolicyNames: ['kirsa-inline', 'mine'] }, /inline policies not kirsa's are on it \(mine\)/],
      [{ tags: { [oursKey]: oursValue } }, /kirsa did not create it/],
    ] as Array<[Partial<Parameters<typeof planRoleTeardown>[0]>, RegExp]>) {
      const plan = planRoleTeardown(role([PROVIDER], overrides), request);
      assert.deepEqual(
        { ...plan, keptBecause: undefined },
        {
          removedSubjects: [],
          detach: [],
          deleteInline: [],
          deleteRole: false,
          stillTrusted: true,
          keptBecause: undefined,
        },
      );
      assert.match(plan.keptBecause!, reason);
      assert.match(plan.keptBecause!, /--force deletes it/);
    }
  });

  test('--force takes everything, whatever trusts the role and whoever put it there', () => {
    const plan = planRoleTeardown(
      role([PROVIDER, PROVIDER_B], {
        attachedPolicyArns: [OURS, THEIRS],
        inlinePolicyNames: ['kirsa-inline', 'mine'],
        tags: {},
      }),
      request,
      { force: true },
    );
    assert.deepEqual(plan.detach, [OURS, THEIRS]);
    assert.deepEqual(plan.deleteInline, ['kirsa-inline', 'mine']);
    assert.equal(plan.deleteRole, true);
  });
});

describe('which annotation names the role', () => {
  test('by account and name, whatever the path; another account or name is not this role', () => {
    const role = { name: 'app', accountId: '111122223333' };
    assert.equal(annotationNamesRole('arn:aws:iam::111122223333:role/app', role), true);
    assert.equal(annotationNamesRole('arn:aws:iam::111122223333:role/irsa/app', role), true);
    assert.equal(annotationNamesRole('arn:aws:iam::444455556666:role/app', role), false);
    assert.equal(annotationNamesRole('arn:aws:iam::111122223333:role/app2', role), false);
    assert.equal(annotationNamesRole('not an arn', role), false);
    assert.equal(annotationNamesRole(undefined, role), false);
  });
});
