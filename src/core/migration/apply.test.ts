import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MIGRATION_TEMPLATE_ANNOTATION } from '../../consts.ts';
import { staleSincePlan, templateChange } from './apply.ts';
import type { InventoryWorkload, PlannedWorkload } from './plan.ts';

const ROLE_ARN = 'arn:aws:iam::111122223333:role/cart';
const PLANNED: PlannedWorkload = {
  kind: 'Deployment',
  namespace: 'shop',
  name: 'cart',
  role: 'cart',
  roleArn: ROLE_ARN,
  serviceAccount: { from: 'default', to: 'cart' },
  change: 'patch',
};
const AS_PLANNED: InventoryWorkload = {
  kind: 'Deployment',
  namespace: 'shop',
  name: 'cart',
  serviceAccountName: 'default',
  annotations: { 'iam.amazonaws.com/role': 'cart' },
};

describe('staleSincePlan', () => {
  test('a workload as the plan saw it, or already moved to its planned account, may be applied', () => {
    assert.equal(staleSincePlan(PLANNED, AS_PLANNED), undefined);
    assert.equal(staleSincePlan(PLANNED, { ...AS_PLANNED, serviceAccountName: 'cart' }), undefined);
  });

  test('deleted, another account, or another role: stale, saying which', () => {
    assert.equal(staleSincePlan(PLANNED, undefined), 'was deleted');
    assert.equal(
      staleSincePlan(PLANNED, { ...AS_PLANNED, serviceAccountName: 'other' }),
      'now runs as other',
    );
    assert.equal(
      staleSincePlan(PLANNED, { ...AS_PLANNED, annotations: { 'iam.amazonaws.com/role': 'orders' } }),
      'now names role orders',
    );
  });

  test('a bare pod or Job to be recreated may be gone: that is what recreating it looks like', () => {
    assert.equal(staleSincePlan({ ...PLANNED, kind: 'Pod', change: 'recreate' }, undefined), undefined);
  });
});

describe('templateChange', () => {
  test('the planned account and the migration annotation, when missing; nothing on a rerun', () => {
    assert.deepEqual(templateChange(PLANNED, AS_PLANNED), {
      serviceAccountName: 'cart',
      annotations: { [MIGRATION_TEMPLATE_ANNOTATION]: ROLE_ARN },
    });
    const applied = {
      ...AS_PLANNED,
      serviceAccountName: 'cart',
      annotations: { ...AS_PLANNED.annotations, [MIGRATION_TEMPLATE_ANNOTATION]: ROLE_ARN },
    };
    assert.equal(templateChange(PLANNED, applied), undefined);
  });

  test('an account that stays the same is not patched; only the annotation is', () => {
    const same = { ...PLANNED, serviceAccount: { from: 'default', to: 'default' } };
    assert.deepEqual(templateChange(same, AS_PLANNED), {
      annotations: { [MIGRATION_TEMPLATE_ANNOTATION]: ROLE_ARN },
    });
  });
});
