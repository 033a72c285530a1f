import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PolicyDocument } from '../iam/policy-grammar.ts';
import { buildTrustPolicy } from '../iam/trust-policy.ts';
import { legacyAnnotationsLeft, removeNodeTrust, subjectsNotTrusted } from './cleanup.ts';
import { legacyRoleArns } from './legacy.ts';
import type { PlannedRole } from './plan.ts';

const BASE = 'arn:aws:iam::111122223333:role/';
const NODE = `${BASE}nodes`;
const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/issuer.example.com/cluster';
const ROLE: PlannedRole = {
  arn: `${BASE}cart`,
  providerArn: PROVIDER,
  serviceAccounts: ['shop/cart', 'shop/cart-worker'],
  adds: [],
  keeps: [],
  nodeTrust: [NODE],
};

describe('cleanup rules', () => {
  test('the kube2iam/kiam annotations a template still carries, and only those', () => {
    assert.deepEqual(
      legacyAnnotationsLeft({
        kind: 'Deployment',
        namespace: 'shop',
        name: 'cart',
        serviceAccountName: 'cart',
        annotations: { 'iam.amazonaws.com/role': 'cart', team: 'shop' },
      }),
      ['iam.amazonaws.com/role'],
    );
  });

  test('the node trust may go only when web identity trusts every planned account', () => {
    const nodeOnly: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: NODE }, Action: 'sts:AssumeRole' }],
    };
    const oneAccount = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'shop', name: 'cart' }],
      audiences: ['sts.amazonaws.com'],
    });
    const after = (policy: PolicyDocument) => removeNodeTrust(policy, [NODE]).policy;
    assert.deepEqual(subjectsNotTrusted(after(nodeOnly), ROLE, ['sts.amazonaws.com']), [
      'system:serviceaccount:shop:cart',
      'system:serviceaccount:shop:cart-worker',
    ]);
    const merged = { ...oneAccount, Statement: [...nodeOnly.Statement, ...oneAccount.Statement] };
    assert.deepEqual(subjectsNotTrusted(after(merged), ROLE, ['sts.amazonaws.com']), [
      'system:serviceaccount:shop:cart-worker',
    ]);
    assert.deepEqual(subjectsNotTrusted(after(merged), { ...ROLE, serviceAccounts: ['shop/cart'] }, []), []);
  });

  test('the roles a plan reads: each resolved role once, workloads without one left out', () => {
    const annotated = (role?: string): { annotations: Record<string, string> } => ({
      annotations: role ? { 'iam.amazonaws.com/role': role } : {},
    });
    assert.deepEqual(
      [
        ...legacyRoleArns(
          [annotated('cart'), annotated(`${BASE}cart`), annotated(), annotated('orders')],
          BASE,
        ),
      ],
      [`${BASE}cart`, `${BASE}orders`],
    );
  });
});
