import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KirsaError } from '../../errors.ts';
import {
  attachedByKirsa,
  attachedPolicyTag,
  buildRolePlan,
  checkMaxSessionDuration,
  checkPermissionsBoundary,
  checkRolePath,
  createdByKirsa,
  parseTags,
  rolePlanFor,
  roleSettingsChanges,
  tagsAtCreation,
} from './role-settings.ts';

const optionError = (error: unknown) => error instanceof KirsaError && error.code === 'ROLE_OPTION_INVALID';
const BOUNDARY = 'arn:aws:iam::111122223333:policy/boundary';
const POLICY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const TRUST = { Version: '2012-10-17', Statement: [] };

describe('role settings: each value checked against IAM rules', () => {
  test('paths start and end with /', () => {
    for (const path of ['/', '/irsa/', '/team/irsa/']) assert.equal(checkRolePath(path), path);
    for (const path of ['', 'irsa', '/irsa', 'irsa/', '//', '/a//b/', `/${'x'.repeat(511)}/`])
      assert.throws(() => checkRolePath(path), optionError, path);
  });

  test('the maximum session is 1 to 12 hours in whole seconds', () => {
    assert.equal(checkMaxSessionDuration(3600), 3600);
    assert.equal(checkMaxSessionDuration(43_200), 43_200);
    for (const seconds of [3599, 43_201, 7200.5, 0])
      assert.throws(() => checkMaxSessionDuration(seconds), optionError, String(seconds));
  });

  test('the boundary is a managed policy ARN', () => {
    assert.equal(checkPermissionsBoundary(BOUNDARY), BOUNDARY);
    assert.throws(() => checkPermissionsBoundary('boundary'), optionError);
  });

  test('tags are key=value; aws: and kirsa/ keys are refused; the last value of a key wins', () => {
    assert.deepEqual(parseTags(['team=payments', 'expr=a=b', 'empty=', 'team=infra']), {
      team: 'infra',
      expr: 'a=b',
      empty: '',
    });
    for (const text of [
      'novalue',
      '=v',
      'aws:x=1',
      'kirsa/created-by=me',
      'bad,char=1',
      `${'k'.repeat(129)}=v`,
    ])
      assert.throws(() => parseTags([text]), optionError, text);
  });
});

describe("kirsa's own tags", () => {
  test('one tag per attached policy, keyed by a hash of its ARN, read back as the ARN', () => {
    const tag = attachedPolicyTag(POLICY)!;
    assert.match(tag[0], /^kirsa\/attached-policy-[0-9a-f]{8}$/);
    assert.equal(tag[1], POLICY);
    assert.notEqual(attachedPolicyTag(BOUNDARY)![0], tag[0]);
    assert.deepEqual(attachedByKirsa({ [tag[0]]: tag[1], team: 'x', 'kirsa/created-by': 'kirsa' }), [POLICY]);
    // IAM refuses a comma in a tag value, so such an ARN cannot be recorded.
    assert.equal(attachedPolicyTag('arn:aws:iam::111122223333:policy/a,b'), undefined);
  });

  test('the plan carries the user tags, the created mark and the attachment records', () => {
    const plan = buildRolePlan({
      name: 'app',
      partition: 'aws',
      accountId: '111122223333',
      trustPolicy: TRUST,
      subjects: ['system:serviceaccount:default:app'],
      settings: { path: '/irsa/', tags: { team: 'payments' }, maxSessionDuration: 7200 },
      managedPolicyArns: [POLICY, POLICY],
    });
    assert.equal(plan.arn, 'arn:aws:iam::111122223333:role/irsa/app');
    assert.equal(plan.description, 'IRSA role for system:serviceaccount:default:app, created by kirsa');
    assert.deepEqual(plan.managedPolicyArns, [POLICY]);
    assert.equal(createdByKirsa(plan.tags), true);
    assert.deepEqual(attachedByKirsa(plan.tags), [POLICY]);
    assert.equal(plan.tags.team, 'payments');
    assert.equal(plan.maxSessionDuration, 7200);
    assert.equal(plan.permissionsBoundary, undefined);
  });

  test('more than 50 tags in all is refused before any call', () => {
    const tags = Object.fromEntries(Array.from({ length: 49 }, (_, index) => [`t${index}`, 'v']));
    const input = {
      name: 'app',
      partition: 'aws',
      accountId: '111122223333',
      trustPolicy: TRUST,
      subjects: [],
      settings: { tags },
      managedPolicyArns: [] as string[],
    };
    assert.equal(Object.keys(buildRolePlan(input).tags).length, 50);
    assert.throws(() => buildRolePlan({ ...input, managedPolicyArns: [POLICY] }), optionError);
  });
});

describe('what a rerun changes', () => {
  const current = {
    path: '/irsa/',
    description: 'mine',
    maxSessionDuration: 3600,
    permissionsBoundary: BOUNDARY,
    tags: { team: 'payments', owner: 'someone', 'kirsa/created-by': 'kirsa' },
  };

  test('nothing when the role already has what is asked, or nothing is asked', () => {
    const same = roleSettingsChanges(current, {
      path: '/irsa/',
      description: 'mine',
      maxSessionDuration: 3600,
      permissionsBoundary: BOUNDARY,
      tags: { team: 'payments' },
    });
    assert.deepEqual(same, { tags: {}, lines: [], problems: [] });
    assert.deepEqual(roleSettingsChanges(current, { tags: {} }), { tags: {}, lines: [], problems: [] });
    // A role created without a maximum reports none (or 3600): asking for 3600 changes nothing.
    const { maxSessionDuration: _, ...noMax } = current;
    assert.deepEqual(roleSettingsChanges(noMax, { maxSessionDuration: 3600, tags: {} }).lines, []);
  });

  test('each difference asked for is one change; tags not named stay', () => {
    const changes = roleSettingsChanges(current, {
      description: 'new',
      maxSessionDuration: 7200,
      permissionsBoundary: POLICY,
      tags: { team: 'infra', cost: '42' },
    });
    assert.deepEqual(changes.update, { description: 'new', maxSessionDuration: 7200 });
    // The current description goes along with another field, so UpdateRole cannot clear it.
    assert.deepEqual(roleSettingsChanges(current, { maxSessionDuration: 7200, tags: {} }).update, {
      maxSessionDuration: 7200,
      description: 'mine',
    });
    assert.equal(changes.permissionsBoundary, POLICY);
    assert.deepEqual(changes.tags, { team: 'infra', cost: '42' });
    assert.deepEqual(changes.lines, [
      'description',
      'max session 3600s -> 7200s',
      `permissions boundary ${BOUNDARY} -> ${POLICY}`,
      'tags team, cost',
    ]);
  });

  test('a different path cannot be changed: a problem, not a change', () => {
    const changes = roleSettingsChanges(current, { path: '/other/', tags: {} });
    assert.deepEqual(changes.lines, []);
    assert.match(changes.problems[0]!, /path is \/irsa\/, not \/other\/: IAM cannot move a role/);
  });
});

describe('the role kirsa wants for a trust request', () => {
  const request = {
    providerArns: [
      'arn:aws-cn:iam::444455556666:oidc-provider/oidc.example.com/a',
      'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/b',
    ],
    serviceAccounts: [{ namespace: 'shop', name: 'app' }],
    audiences: ['sts.amazonaws.com'],
  };

  test('it lives in the account and partition of the first provider; the inline policy is canonical', () => {
    const plan = rolePlanFor(
      request,
      'app',
      { path: '/irsa/', tags: {} },
      [POLICY],
      '{ "Version": "2012-10-17", "Statement": [] }',
    );
    assert.equal(plan.arn, 'arn:aws-cn:iam::444455556666:role/irsa/app');
    assert.equal(plan.description, 'IRSA role for system:serviceaccount:shop:app, created by kirsa');
    assert.equal(plan.inlinePolicy?.document, '{"Statement":[],"Version":"2012-10-17"}');
    assert.deepEqual(plan.managedPolicyArns, [POLICY]);
  });

  test('a managed policy ARN that is not one is refused', () => {
    assert.throws(
      () => rolePlanFor(request, 'app', { tags: {} }, ['arn:aws:iam::aws:role/x'], undefined),
      (error) => error instanceof KirsaError && error.code === 'ARN_INVALID',
    );
  });

  test("a new role carries the plan's tags except those recording attachments, which come as each is attached", () => {
    const plan = rolePlanFor(request, 'app', { tags: { team: 'shop' } }, [POLICY], undefined);
    const recorded = attachedPolicyTag(POLICY)!;
    assert.equal(plan.tags[recorded[0]], recorded[1]);
    const tags = tagsAtCreation(plan);
    assert.equal(tags[recorded[0]], undefined);
    assert.equal(tags.team, 'shop');
    assert.ok(createdByKirsa(tags));
  });
});
