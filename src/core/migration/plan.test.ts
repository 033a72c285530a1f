import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { PolicyDocument } from '../iam/policy-grammar.ts';
import { podUsesWebIdentity, removeNodeTrust } from './cleanup.ts';
import { namespaceAllows, resolveLegacyRole } from './legacy.ts';
import {
  buildMigrationPlan,
  type Inventory,
  type InventoryWorkload,
  type MigrationPlan,
  type PlanOptions,
  splitAccountName,
} from './plan.ts';
import { checkMigrationPlan, formatPlanText } from './plan-file.ts';

const BASE = 'arn:aws:iam::111122223333:role/';
const NODE = 'arn:aws:iam::111122223333:role/nodes';
const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/issuer.example.com/cluster';
const nodeTrust = (): { trustPolicy: PolicyDocument } => ({
  trustPolicy: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: NODE }, Action: 'sts:AssumeRole' }],
  },
});
const OPTIONS: PlanOptions = {
  baseRoleArn: BASE,
  providerArn: PROVIDER,
  audiences: ['sts.amazonaws.com'],
  annotationPrefix: 'eks.amazonaws.com',
  nodeRoleArns: [NODE],
};

function workload(
  kind: InventoryWorkload['kind'],
  name: string,
  role: string | undefined,
  extra: Partial<InventoryWorkload> = {},
): InventoryWorkload {
  return {
    kind,
    namespace: 'shop',
    name,
    serviceAccountName: 'default',
    annotations: role ? { 'iam.amazonaws.com/role': role } : {},
    ...extra,
  };
}

function inventory(workloads: InventoryWorkload[], more: Partial<Inventory> = {}): Inventory {
  return {
    workloads,
    namespaces: [{ name: 'shop', annotations: {} }],
    serviceAccounts: [{ namespace: 'shop', name: 'default', annotations: {} }],
    roles: { [`${BASE}cart`]: nodeTrust(), [`${BASE}orders`]: nodeTrust() },
    ...more,
  };
}

describe('kube2iam/kiam rules', () => {
  test('a short name is completed with the base ARN, an ARN is kept, garbage is refused', () => {
    assert.equal(resolveLegacyRole('cart', BASE), `${BASE}cart`);
    assert.equal(resolveLegacyRole('/team/cart', BASE), `${BASE}team/cart`);
    assert.equal(
      resolveLegacyRole('arn:aws:iam::444455556666:role/x', BASE),
      'arn:aws:iam::444455556666:role/x',
    );
    assert.equal(resolveLegacyRole('not a role', BASE), undefined);
  });

  test("kiam's permitted regex is unanchored and tried on the name and the ARN; kube2iam's allowed-roles are globs", () => {
    const permitted = { 'iam.amazonaws.com/permitted': 'shop-.*' };
    assert.equal(namespaceAllows(permitted, 'shop-cart', `${BASE}shop-cart`, BASE).allowed, true);
    assert.equal(namespaceAllows(permitted, 'cart', `${BASE}cart`, BASE).allowed, false);
    const allowed = {
      'iam.amazonaws.com/allowed-roles': '["cart", "arn:aws:iam::111122223333:role/team-*"]',
    };
    assert.equal(namespaceAllows(allowed, 'cart', `${BASE}cart`, BASE).allowed, true);
    assert.equal(namespaceAllows(allowed, 'team-a', `${BASE}team-a`, BASE).allowed, true);
    assert.equal(namespaceAllows(allowed, 'orders', `${BASE}orders`, BASE).allowed, false);
    const broken = namespaceAllows(
      { 'iam.amazonaws.com/allowed-roles': 'cart' },
      'cart',
      `${BASE}cart`,
      BASE,
    );
    assert.equal(broken.allowed, false);
    assert.ok(broken.unreadable);
    assert.equal(namespaceAllows(undefined, 'x', `${BASE}x`, BASE).allowed, true);
  });

  test('split account names are DNS labels of at most 63 characters', () => {
    assert.equal(splitAccountName('default', `${BASE}Cart_Role`), 'default-cart-role');
    assert.equal(splitAccountName('a'.repeat(60), `${BASE}cart`).length, 63);
  });
});

describe('buildMigrationPlan', () => {
  test('a service account used by one role only is annotated in place; the role gains its subject and keeps the node', () => {
    const plan = buildMigrationPlan(
      inventory([workload('Deployment', 'cart', 'cart', { serviceAccountName: 'cart' })], {
        serviceAccounts: [{ namespace: 'shop', name: 'cart', annotations: {} }],
      }),
      OPTIONS,
    );
    assert.deepEqual(plan.workloads[0]!.serviceAccount, { from: 'cart', to: 'cart' });
    assert.equal(plan.workloads[0]!.change, 'patch');
    assert.deepEqual(plan.serviceAccounts, [
      { namespace: 'shop', name: 'cart', roleArn: `${BASE}cart`, action: 'annotate' },
    ]);
    assert.deepEqual(plan.roles[0]!.adds, [`system:serviceaccount:shop:cart from ${PROVIDER}`]);
    assert.deepEqual(plan.roles[0]!.nodeTrust, [NODE]);
    assert.match(
      plan.roles[0]!.keeps[0]!,
      /^Allow AWS arn:aws:iam::111122223333:role\/nodes \(sts:AssumeRole\)$/,
    );
  });

  test('a shared account is split per role, and one also used without a role is never annotated', () => {
    const plan = buildMigrationPlan(
      inventory([
        workload('Deployment', 'cart', 'cart'),
        workload('StatefulSet', 'orders', `${BASE}orders`),
        workload('Deployment', 'web', undefined),
      ]),
      OPTIONS,
    );
    assert.deepEqual(
      plan.workloads.map((w) => [w.name, w.serviceAccount.to]),
      [
        ['cart', 'default-cart'],
        ['orders', 'default-orders'],
      ],
    );
    assert.deepEqual(
      plan.serviceAccounts.map((sa) => [sa.name, sa.action, sa.splitFrom]),
      [
        ['default-cart', 'create', 'default'],
        ['default-orders', 'create', 'default'],
      ],
    );
    assert.ok(
      plan.findings.some(
        (f) => f.code === 'shared-service-account' && f.subject === 'ServiceAccount shop/default',
      ),
    );
  });

  test('pods and ReplicaSets of an annotated Deployment are not listed again', () => {
    const plan = buildMigrationPlan(
      inventory([
        workload('Deployment', 'cart', 'cart'),
        workload('ReplicaSet', 'cart-5d4', 'cart', { owner: { kind: 'Deployment', name: 'cart' } }),
        workload('Pod', 'cart-5d4-x', 'cart', { owner: { kind: 'ReplicaSet', name: 'cart-5d4' } }),
        workload('Pod', 'lonely', 'cart'),
      ]),
      OPTIONS,
    );
    assert.deepEqual(
      plan.workloads.map((w) => `${w.kind} ${w.name} ${w.change}`),
      ['Deployment cart patch', 'Pod lonely recreate'],
    );
  });

  test('a role the namespace does not permit, a missing role and an unresolvable name are blocked, not migrated', () => {
    const plan = buildMigrationPlan(
      inventory(
        [
          workload('Deployment', 'cart', 'cart'),
          workload('Deployment', 'ghost', 'ghost'),
          workload('Pod', 'bad', 'a b'),
        ],
        { namespaces: [{ name: 'shop', annotations: { 'iam.amazonaws.com/permitted': '^(ghost|a b)$' } }] },
      ),
      OPTIONS,
    );
    assert.deepEqual(
      plan.findings.filter((f) => f.severity === 'blocker').map((f) => `${f.code} ${f.subject}`),
      [
        'role-not-permitted Deployment shop/cart',
        'role-missing Deployment shop/ghost',
        'role-unresolved Pod shop/bad',
      ],
    );
    assert.deepEqual(plan.roles, []);
    assert.deepEqual(plan.serviceAccounts, []);
    assert.ok(plan.workloads.every((w) => w.change === 'none' && w.blocked));
  });

  test('an external ID and a session name are reported with what to do', () => {
    const plan = buildMigrationPlan(
      inventory([
        workload('Deployment', 'cart', 'cart', {
          annotations: {
            'iam.amazonaws.com/role': 'cart',
            'iam.amazonaws.com/external-id': 'e-123',
            'iam.amazonaws.com/session-name': 'cart-session',
          },
        }),
      ]),
      OPTIONS,
    );
    assert.deepEqual(
      plan.findings.map((f) => f.code),
      ['external-id', 'session-name'],
    );
    assert.equal(plan.workloads[0]!.externalId, 'e-123');
    assert.match(plan.findings[1]!.action, /AWS_ROLE_SESSION_NAME=cart-session/);
  });

  test('a role in another account trusts the same issuer through the provider in its own account', () => {
    const other = 'arn:aws:iam::444455556666:role/cart';
    const plan = buildMigrationPlan(
      inventory([workload('Deployment', 'cart', other, { serviceAccountName: 'cart' })], {
        roles: { [other]: nodeTrust() },
      }),
      OPTIONS,
    );
    assert.equal(
      plan.roles[0]!.providerArn,
      'arn:aws:iam::444455556666:oidc-provider/issuer.example.com/cluster',
    );
    assert.ok(plan.findings.some((f) => f.code === 'provider-in-role-account'));
  });

  test('the plan survives its file: checkMigrationPlan accepts it, and refuses an edited kind', () => {
    const plan = buildMigrationPlan(inventory([workload('Deployment', 'cart', 'cart')]), OPTIONS);
    assert.deepEqual(checkMigrationPlan(JSON.parse(JSON.stringify(plan))), plan);
    assert.throws(() => checkMigrationPlan({ ...plan, kind: 'Other' }), { code: 'MIGRATION_PLAN_INVALID' });
    assert.throws(
      () => checkMigrationPlan({ ...plan, workloads: [{ ...plan.workloads[0], change: 'delete' }] }),
      { code: 'MIGRATION_PLAN_INVALID' },
    );
    assert.ok(formatPlanText(plan).some((line) => line.includes('manifest:')));
  });
});

describe('cleanup rules', () => {
  test("removing node trust keeps every other principal and statement, and a policy's web identity statement", () => {
    const policy: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: [NODE, 'arn:aws:iam::999988887777:root'] },
          Action: 'sts:AssumeRole',
        },
        {
          Effect: 'Allow',
          Principal: { AWS: NODE },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': 'e' } },
        },
        { Effect: 'Deny', Principal: { AWS: NODE }, Action: 'sts:AssumeRole' },
        { Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity' },
      ],
    };
    const { policy: after, removed } = removeNodeTrust(policy, [NODE]);
    assert.deepEqual(removed, [NODE]);
    assert.deepEqual(after.Statement, [
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999988887777:root' }, Action: 'sts:AssumeRole' },
      policy.Statement[2],
      policy.Statement[3],
    ]);
    assert.deepEqual(removeNodeTrust(after, [NODE]).removed, []);
  });

  test('a pod counts as switched only when every container has the role and a token file', () => {
    const irsa = [
      { name: 'AWS_ROLE_ARN', value: `${BASE}cart` },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ];
    assert.equal(podUsesWebIdentity([{ name: 'a', env: irsa }], `${BASE}cart`), true);
    assert.equal(podUsesWebIdentity([{ name: 'a', env: irsa }, { name: 'b' }], `${BASE}cart`), false);
    assert.equal(podUsesWebIdentity([{ name: 'a', env: irsa }], `${BASE}orders`), false);
    assert.equal(podUsesWebIdentity([], `${BASE}cart`), false);
  });
});

describe('plan properties', () => {
  const arbitraryInventory = fc
    .array(
      fc.record({
        kind: fc.constantFrom('Deployment', 'StatefulSet', 'Pod', 'CronJob') as fc.Arbitrary<
          InventoryWorkload['kind']
        >,
        name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
        namespace: fc.constantFrom('shop', 'ops'),
        serviceAccountName: fc.constantFrom('default', 'shared', 'own'),
        role: fc.option(fc.constantFrom('cart', 'orders', `${BASE}cart`), { nil: undefined }),
      }),
      { maxLength: 12 },
    )
    .map((items) => {
      const seen = new Set<string>();
      return items
        .filter((item) => {
          const id = `${item.namespace}/${item.kind}/${item.name}`;
          return !seen.has(id) && seen.add(id);
        })
        .map(
          ({ role, ...item }): InventoryWorkload => ({
            ...item,
            annotations: role ? { 'iam.amazonaws.com/role': role } : {},
          }),
        );
    });

  const planOf = (workloads: InventoryWorkload[]): MigrationPlan =>
    buildMigrationPlan(
      inventory(workloads, {
        namespaces: [
          { name: 'shop', annotations: {} },
          { name: 'ops', annotations: {} },
        ],
        serviceAccounts: [],
      }),
      OPTIONS,
    );

  test('no service account is given two roles, or given one any unmigrated user does not take', () => {
    fc.assert(
      fc.property(arbitraryInventory, (workloads) => {
        const plan = planOf(workloads);
        const roleOf = new Map<string, string>();
        for (const sa of plan.serviceAccounts) {
          const id = `${sa.namespace}/${sa.name}`;
          assert.ok(!roleOf.has(id), `${id} planned twice`);
          roleOf.set(id, sa.roleArn);
        }
        for (const w of plan.workloads.filter((w) => !w.blocked))
          assert.equal(roleOf.get(`${w.namespace}/${w.serviceAccount.to}`), w.roleArn);
        for (const w of workloads.filter((w) => !w.annotations['iam.amazonaws.com/role']))
          assert.ok(!roleOf.has(`${w.namespace}/${w.serviceAccountName}`), `${w.name} would gain a role`);
        for (const role of plan.roles)
          for (const sa of role.serviceAccounts) assert.equal(roleOf.get(sa), role.arn);
      }),
    );
  });

  test('the plan does not depend on the order the cluster listed things in', () => {
    fc.assert(
      fc.property(arbitraryInventory, fc.integer(), (workloads, seed) => {
        const shuffled = [...workloads].sort(
          (a, b) => ((a.name.charCodeAt(0) * seed) % 7) - ((b.name.charCodeAt(0) * seed) % 7),
        );
        assert.deepEqual(planOf(shuffled), planOf(workloads));
      }),
    );
  });
});
