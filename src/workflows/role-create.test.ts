import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MEMORY_ACCOUNT, memoryIam, memoryServiceAccounts } from '../../test/support/memory-ports.ts';
import { silenced } from '../../test/support/terminal.ts';
import { buildTrustPolicy } from '../core/iam/trust-policy.ts';
import { KirsaError } from '../errors.ts';
import { createRole, DEFAULT_MAPPING_NAMESPACE, type RoleCreateInput } from './role-create.ts';

const PROVIDER_A = `arn:aws:iam::${MEMORY_ACCOUNT}:oidc-provider/issuer.example.test/a`;
const PROVIDER_B = `arn:aws:iam::${MEMORY_ACCOUNT}:oidc-provider/issuer.example.test/b`;
const APP = { namespace: 'shop', name: 'app' };

function input(more: Partial<RoleCreateInput> = {}): RoleCreateInput {
  return {
    request: { providerArns: [PROVIDER_A], serviceAccounts: [APP], audiences: ['sts.amazonaws.com'] },
    roleName: 'kirsa-shop-app',
    defaultName: true,
    settings: { tags: {} },
    policyArns: [],
    annotationPrefix: 'eks.amazonaws.com',
    overwrite: false,
    mappingNamespace: DEFAULT_MAPPING_NAMESPACE,
    kube: {},
    aws: {},
    ...more,
  };
}

/** The role another cluster (provider B) already made under the default name, at path /. */
function otherClustersRole() {
  return {
    name: 'kirsa-shop-app',
    arn: `arn:aws:iam::${MEMORY_ACCOUNT}:role/kirsa-shop-app`,
    path: '/',
    trustPolicy: buildTrustPolicy({
      providerArns: [PROVIDER_B],
      serviceAccounts: [APP],
      audiences: ['sts.amazonaws.com'],
    }),
    tags: {},
  };
}

describe('createRole', () => {
  test('warnings go to the warn callback and outcomes to report; nothing is written to a terminal', async () => {
    const iam = memoryIam([otherClustersRole()]);
    const serviceAccounts = memoryServiceAccounts({ 'shop/app': {} });
    const warnings: string[] = [];
    const reported: string[] = [];
    const { result, terminal } = await silenced(() =>
      createRole(
        input({ settings: { path: '/team/', tags: {} } }),
        {
          report: (phase, outcome) => reported.push(`${phase.name} ${outcome.status}`),
          warn: (line) => warnings.push(line),
        },
        { iam, serviceAccounts },
      ),
    );
    assert.equal(terminal, '');
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`already trusts ${PROVIDER_B}: .*give --cluster NAME`));
    assert.match(warnings[1]!, /path is \/, not \/team\/: IAM cannot move a role/);
    assert.deepEqual(reported, [
      'role updated',
      'policies skipped',
      'inline-policy skipped',
      'service-account updated',
    ]);
    assert.equal(result.roleArn, otherClustersRole().arn);
  });

  test('a ServiceAccount naming another role is refused while validating: no role is created', async () => {
    const iam = memoryIam();
    const serviceAccounts = memoryServiceAccounts({
      'shop/app': { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${MEMORY_ACCOUNT}:role/someone-else` },
    });
    const reported: string[] = [];
    await assert.rejects(
      createRole(
        input(),
        { report: (phase) => reported.push(phase.name), warn: () => {} },
        { iam, serviceAccounts },
      ),
      (error) => error instanceof KirsaError && error.code === 'SERVICE_ACCOUNT_ROLE_TAKEN',
    );
    assert.deepEqual(iam.writes, []);
    assert.deepEqual(serviceAccounts.writes, []);
    assert.deepEqual(reported, []);
  });
});
