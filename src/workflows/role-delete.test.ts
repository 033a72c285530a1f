import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MEMORY_ACCOUNT, memoryIam, memoryServiceAccounts } from '../../test/support/memory-ports.ts';
import { silenced } from '../../test/support/terminal.ts';
import { KIRSA_CREATED_TAG, KIRSA_CREATED_TAG_VALUE } from '../consts.ts';
import { buildTrustPolicy } from '../core/iam/trust-policy.ts';
import { deleteRole, type RoleDeleteInput } from './role-delete.ts';

const PROVIDER = `arn:aws:iam::${MEMORY_ACCOUNT}:oidc-provider/issuer.example.test/a`;
const APP = { namespace: 'shop', name: 'app' };
const ROLE_ARN = `arn:aws:iam::${MEMORY_ACCOUNT}:role/kirsa-shop-app`;
const request = { providerArns: [PROVIDER], serviceAccounts: [APP], audiences: ['sts.amazonaws.com'] };

function input(more: Partial<RoleDeleteInput> = {}): RoleDeleteInput {
  return {
    request,
    roleName: 'kirsa-shop-app',
    force: false,
    annotationPrefix: 'eks.amazonaws.com',
    kube: {},
    aws: {},
    ...more,
  };
}

describe('deleteRole', () => {
  test("kirsa's own role goes, and its annotation; outcomes reach report, nothing reaches a terminal", async () => {
    const iam = memoryIam([
      {
        name: 'kirsa-shop-app',
        arn: ROLE_ARN,
        path: '/',
        trustPolicy: buildTrustPolicy(request),
        tags: { [KIRSA_CREATED_TAG]: KIRSA_CREATED_TAG_VALUE },
      },
    ]);
    const serviceAccounts = memoryServiceAccounts({
      'shop/app': { 'eks.amazonaws.com/role-arn': ROLE_ARN, team: 'shop' },
    });
    const reported: string[] = [];
    const { terminal } = await silenced(() =>
      deleteRole(
        input(),
        { report: (phase, outcome) => reported.push(`${phase.name} ${outcome.status}`) },
        {
          iam,
          serviceAccounts,
        },
      ),
    );
    assert.equal(terminal, '');
    assert.deepEqual(reported, [
      'service-account updated',
      'inline-policy unchanged',
      'policies unchanged',
      'role deleted',
    ]);
    assert.deepEqual(iam.writes, ['deleteRole kirsa-shop-app']);
    assert.deepEqual(serviceAccounts.accounts.get('shop/app'), { team: 'shop' });
  });
});
