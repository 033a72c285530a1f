import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MEMORY_ACCOUNT,
  memoryCluster,
  memoryIam,
  memoryServiceAccounts,
} from '../../test/support/memory-ports.ts';
import { silenced } from '../../test/support/terminal.ts';
import type { PolicyDocument } from '../core/iam/policy-grammar.ts';
import { buildMigrationPlan, type InventoryWorkload } from '../core/migration/plan.ts';
import { KirsaError } from '../errors.ts';
import { applyMigration, type MigrationRunInput } from './migrate.ts';

const BASE = `arn:aws:iam::${MEMORY_ACCOUNT}:role/`;
const NODE = `${BASE}nodes`;
const PROVIDER = `arn:aws:iam::${MEMORY_ACCOUNT}:oidc-provider/issuer.example.test/cluster`;
const HOST = 'issuer.example.test/cluster';
const CART: InventoryWorkload = {
  kind: 'Deployment',
  namespace: 'shop',
  name: 'cart',
  serviceAccountName: 'cart',
  annotations: { 'iam.amazonaws.com/role': 'cart' },
};
const NODE_TRUST: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: NODE }, Action: 'sts:AssumeRole' }],
};

/** The plan for one Deployment whose kube2iam role trusts only the node role. */
function run(more: Partial<MigrationRunInput> = {}): MigrationRunInput {
  const plan = buildMigrationPlan(
    {
      workloads: [CART],
      namespaces: [{ name: 'shop', annotations: {} }],
      serviceAccounts: [{ namespace: 'shop', name: 'cart', annotations: {} }],
      roles: { [`${BASE}cart`]: { trustPolicy: NODE_TRUST } },
    },
    {
      baseRoleArn: BASE,
      providerArn: PROVIDER,
      audiences: ['sts.amazonaws.com'],
      annotationPrefix: 'eks.amazonaws.com',
      nodeRoleArns: [NODE],
    },
  );
  return { plan, dryRun: false, removeNodeTrust: false, kube: {}, aws: {}, ...more };
}

function ports(workloads: InventoryWorkload[], trustPolicy: PolicyDocument = NODE_TRUST) {
  return {
    iam: memoryIam([{ name: 'cart', arn: `${BASE}cart`, path: '/', trustPolicy, tags: {} }]),
    cluster: memoryCluster(workloads),
    serviceAccounts: memoryServiceAccounts({ 'shop/cart': {} }),
  };
}

describe('applyMigration', () => {
  test('a workload changed since the plan is refused after the trust and accounts validate, before any change', async () => {
    const dependencies = ports([{ ...CART, serviceAccountName: 'someone-else' }]);
    await assert.rejects(
      applyMigration(run(), { report: () => {}, warn: () => {} }, dependencies),
      (error) => error instanceof KirsaError && error.code === 'MIGRATION_PLAN_STALE',
    );
    assert.deepEqual(dependencies.iam.writes, []);
    assert.deepEqual(dependencies.serviceAccounts.writes, []);
    assert.deepEqual(dependencies.cluster.writes, []);
  });

  test("role create's warnings reach apply's warn callback, never a terminal; --dry-run changes nothing", async () => {
    // A Deny for the account, which kirsa's merge does not remove: role create warns about it.
    const denied: PolicyDocument = {
      ...NODE_TRUST,
      Statement: [
        ...NODE_TRUST.Statement,
        {
          Effect: 'Deny',
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:shop:cart' } },
        },
      ],
    };
    const dependencies = ports([CART], denied);
    const warnings: string[] = [];
    const reported: string[] = [];
    const { terminal } = await silenced(() =>
      applyMigration(
        run({ dryRun: true }),
        {
          report: (phase, outcome) => reported.push(`${phase.name} ${outcome.status}`),
          warn: (line) => warnings.push(line),
        },
        dependencies,
      ),
    );
    assert.equal(terminal, '');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /system:serviceaccount:shop:cart from .*kirsa does not remove Deny statements/,
    );
    assert.deepEqual(reported, ['trust unchanged', 'service-accounts updated', 'workloads updated']);
    assert.deepEqual(dependencies.iam.writes, []);
    assert.deepEqual(dependencies.serviceAccounts.writes, []);
    assert.deepEqual(dependencies.cluster.writes, []);
  });
});
