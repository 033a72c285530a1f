import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateTrustPolicy } from './policy-evaluate.ts';
import type { PolicyDocument } from './policy-grammar.ts';
import {
  buildTrustPolicy,
  federatedPrincipals,
  mergeTrustPolicy,
  policySize,
  removeTrust,
  sizeWarning,
} from './trust-policy.ts';

const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const PROVIDER_B = 'arn:aws:iam::111122223333:oidc-provider/s3.eu-west-1.amazonaws.com/cluster-b';

function ask(
  policy: PolicyDocument,
  namespace: string,
  name: string,
  audience = 'sts.amazonaws.com',
  provider = PROVIDER,
) {
  const hostPath = provider.slice(provider.indexOf('/') + 1);
  return evaluateTrustPolicy(policy, {
    principalFederated: provider,
    context: {
      [`${hostPath}:sub`]: `system:serviceaccount:${namespace}:${name}`,
      [`${hostPath}:aud`]: audience,
    },
  }).decision;
}

describe('building', () => {
  test('one service account: StringEquals on :sub and :aud, the shape eksctl and the EKS docs use', () => {
    const policy = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.deepEqual(policy, {
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
    assert.equal(ask(policy, 'default', 's3-echoer'), 'allow');
    assert.equal(ask(policy, 'default', 'app'), 'deny');
    assert.equal(ask(policy, 'default', 's3-echoer', 'amazonaws.com'), 'deny');
  });

  test('a wildcard switches :sub to StringLike and keeps :aud StringEquals', () => {
    const policy = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [
        { namespace: 'team-*', name: 'app' },
        { namespace: 'default', name: 's3-echoer' },
      ],
      audiences: ['sts.amazonaws.com'],
    });
    const condition = policy.Statement[0]!.Condition!;
    assert.deepEqual(condition.StringLike, {
      [`${HOST}:sub`]: ['system:serviceaccount:team-*:app', 'system:serviceaccount:default:s3-echoer'],
    });
    assert.deepEqual(condition.StringEquals, { [`${HOST}:aud`]: 'sts.amazonaws.com' });
    assert.equal(ask(policy, 'team-a', 'app'), 'allow');
    assert.equal(ask(policy, 'default', 's3-echoer'), 'allow');
    assert.equal(ask(policy, 'default', 'app'), 'deny');
  });

  test('several providers (clusters) give one statement each, every account trusted by each', () => {
    const policy = buildTrustPolicy({
      providerArns: [PROVIDER, PROVIDER_B],
      serviceAccounts: [
        { namespace: 'default', name: 's3-echoer' },
        { namespace: 'prod', name: 'app' },
      ],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(policy.Statement.length, 2);
    for (const provider of [PROVIDER, PROVIDER_B]) {
      assert.equal(ask(policy, 'default', 's3-echoer', 'sts.amazonaws.com', provider), 'allow');
      assert.equal(ask(policy, 'prod', 'app', 'sts.amazonaws.com', provider), 'allow');
      assert.equal(ask(policy, 'prod', 's3-echoer', 'sts.amazonaws.com', provider), 'deny');
    }
  });

  test('property: the policy for (ns, sa) allows exactly that subject', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, label, label, (namespace, name, otherNamespace, otherName) => {
        const policy = buildTrustPolicy({
          providerArns: [PROVIDER],
          serviceAccounts: [{ namespace, name }],
          audiences: ['sts.amazonaws.com'],
        });
        assert.equal(ask(policy, namespace, name), 'allow');
        const same = otherNamespace === namespace && otherName === name;
        assert.equal(ask(policy, otherNamespace, otherName), same ? 'allow' : 'deny');
      }),
    );
  });

  test('property: a namespace wildcard allows every name in matching namespaces only', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, (namespace, name) => {
        const policy = buildTrustPolicy({
          providerArns: [PROVIDER],
          serviceAccounts: [{ namespace: 'team-*', name: '*' }],
          audiences: ['sts.amazonaws.com'],
        });
        assert.equal(ask(policy, namespace, name), namespace.startsWith('team-') ? 'allow' : 'deny');
      }),
    );
  });
});

describe('merging into an existing policy', () => {
  const base = () =>
    buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });

  test('no existing policy: the built one', () => {
    const result = mergeTrustPolicy(undefined, {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(result.changed, true);
    assert.deepEqual(result.policy, base());
  });

  test('an already trusted account changes nothing', () => {
    const result = mergeTrustPolicy(base(), {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(result.changed, false);
    assert.deepEqual(result.policy, base());
  });

  test("a new account joins kirsa's statement; a rerun is unchanged", () => {
    const request = {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 'app' }],
      audiences: ['sts.amazonaws.com'],
    };
    const first = mergeTrustPolicy(base(), request);
    assert.equal(first.changed, true);
    assert.deepEqual(first.added, [`system:serviceaccount:default:app from ${PROVIDER}`]);
    assert.equal(first.policy.Statement.length, 1);
    assert.deepEqual(first.policy.Statement[0]!.Condition!.StringEquals![`${HOST}:sub`], [
      'system:serviceaccount:default:s3-echoer',
      'system:serviceaccount:default:app',
    ]);
    assert.equal(ask(first.policy, 'default', 's3-echoer'), 'allow');
    assert.equal(ask(first.policy, 'default', 'app'), 'allow');
    const second = mergeTrustPolicy(first.policy, request);
    assert.equal(second.changed, false);
    assert.deepEqual(second.policy, first.policy);
  });

  test("someone else's statements are kept whole; ours is appended", () => {
    const foreign: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Ec2',
          Effect: 'Allow',
          Principal: { Service: 'ec2.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
        {
          Sid: 'Strict',
          Effect: 'Allow',
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:x:y', [`${HOST}:amr`]: 'z' } },
        },
      ],
    };
    const result = mergeTrustPolicy(structuredClone(foreign), {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(result.policy.Statement.length, 3);
    assert.deepEqual(result.policy.Statement.slice(0, 2), foreign.Statement);
    assert.deepEqual(result.policy.Statement[2], base().Statement[0]);
  });

  test("a kube2iam node role's statement (with its external ID) is kept while web identity is added", () => {
    const node: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:role/nodes' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': 'e-123' } },
        },
      ],
    };
    const request = {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'shop', name: 'cart' }],
      audiences: ['sts.amazonaws.com'],
    };
    const result = mergeTrustPolicy(structuredClone(node), request);
    assert.deepEqual(result.policy.Statement[0], node.Statement[0]);
    assert.equal(result.policy.Statement.length, 2);
    assert.equal(ask(result.policy, 'shop', 'cart'), 'allow');
    assert.equal(mergeTrustPolicy(result.policy, request).changed, false);
  });

  test('a different audience set gets its own statement, so no audience is widened', () => {
    const result = mergeTrustPolicy(base(), {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 'app' }],
      audiences: ['amazonaws.com'],
    });
    assert.equal(result.policy.Statement.length, 2);
    assert.equal(ask(result.policy, 'default', 's3-echoer', 'amazonaws.com'), 'deny');
    assert.equal(ask(result.policy, 'default', 'app', 'amazonaws.com'), 'allow');
  });

  test('a wildcard added to an exact list moves the list to StringLike', () => {
    const result = mergeTrustPolicy(base(), {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'team-*', name: '*' }],
      audiences: ['sts.amazonaws.com'],
    });
    const condition = result.policy.Statement[0]!.Condition!;
    assert.deepEqual(condition.StringLike, {
      [`${HOST}:sub`]: ['system:serviceaccount:default:s3-echoer', 'system:serviceaccount:team-*:*'],
    });
    assert.deepEqual(condition.StringEquals, { [`${HOST}:aud`]: 'sts.amazonaws.com' });
  });

  test('an explicit Deny is reported, never removed', () => {
    const policy = base();
    policy.Statement.push({
      Effect: 'Deny',
      Principal: '*',
      Action: '*',
      Condition: { StringLike: { [`${HOST}:sub`]: '*:app' } },
    });
    const result = mergeTrustPolicy(policy, {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 'app' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(result.changed, false);
    assert.match(result.problems[0]!, /explicit Deny/);
  });

  test('property: merging any sequence of accounts trusts them all and keeps earlier ones', () => {
    const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,6}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(label, label), { minLength: 1, maxLength: 6 }), (accounts) => {
        let policy: PolicyDocument | undefined;
        for (const [namespace, name] of accounts) {
          policy = mergeTrustPolicy(policy, {
            providerArns: [PROVIDER],
            serviceAccounts: [{ namespace, name }],
            audiences: ['sts.amazonaws.com'],
          }).policy;
        }
        for (const [namespace, name] of accounts) assert.equal(ask(policy!, namespace, name), 'allow');
        assert.equal(policy!.Statement.length, 1);
      }),
    );
  });
});

describe('removing: the inverse of merging', () => {
  const app = { namespace: 'default', name: 'app' };
  const foreign = {
    Sid: 'Ci',
    Effect: 'Allow' as const,
    Principal: { AWS: 'arn:aws:iam::111122223333:root' },
    Action: 'sts:AssumeRole',
  };

  test("only this provider's subject goes; another cluster's statement and someone's own stay", () => {
    let policy = buildTrustPolicy({
      providerArns: [PROVIDER, PROVIDER_B],
      serviceAccounts: [app],
      audiences: ['sts.amazonaws.com'],
    });
    policy = { ...policy, Statement: [foreign, ...policy.Statement] };
    const result = removeTrust(policy, { providerArns: [PROVIDER], serviceAccounts: [app] });
    assert.equal(result.changed, true);
    assert.deepEqual(result.removed, [`system:serviceaccount:default:app from ${PROVIDER}`]);
    assert.equal(result.policy.Statement.length, 2);
    assert.deepEqual(result.policy.Statement[0], foreign);
    assert.equal(ask(result.policy, 'default', 'app'), 'deny');
    assert.equal(ask(result.policy, 'default', 'app', 'sts.amazonaws.com', PROVIDER_B), 'allow');
    assert.deepEqual(federatedPrincipals(result.policy), [PROVIDER_B]);
    assert.deepEqual(removeTrust(result.policy, { providerArns: [PROVIDER], serviceAccounts: [app] }), {
      policy: result.policy,
      changed: false,
      removed: [],
    });
  });

  test('a shared statement keeps its other subjects, back to one string and StringEquals', () => {
    const built = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [app],
      audiences: ['sts.amazonaws.com'],
    });
    const merged = mergeTrustPolicy(built, {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'team-*', name: '*' }],
      audiences: ['sts.amazonaws.com'],
    }).policy;
    assert.ok(merged.Statement[0]!.Condition!.StringLike);
    const removed = removeTrust(merged, {
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'team-*', name: '*' }],
    });
    assert.deepEqual(removed.policy, built);
  });

  test('a statement of another shape naming the subject is left alone', () => {
    const extra = {
      Effect: 'Allow' as const,
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:default:app' },
        IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
      },
    };
    const policy = { Version: '2012-10-17', Statement: [extra] };
    assert.equal(removeTrust(policy, { providerArns: [PROVIDER], serviceAccounts: [app] }).changed, false);
  });

  test('property: removing what a merge added gives back the policy before it', () => {
    const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,6}[a-z0-9])?$/);
    const account = fc.record({
      namespace: fc.oneof(label, fc.constant('team-*')),
      name: fc.oneof(label, fc.constant('*')),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(account, {
          minLength: 2,
          maxLength: 6,
          selector: (ref) => `${ref.namespace}/${ref.name}`,
        }),
        fc.nat(),
        fc.constantFrom([PROVIDER], [PROVIDER_B], [PROVIDER, PROVIDER_B]),
        fc.boolean(),
        (accounts, cut, providers, withForeign) => {
          const split = 1 + (cut % (accounts.length - 1));
          const first = accounts.slice(0, split);
          const later = accounts.slice(split);
          const base = buildTrustPolicy({
            providerArns: [PROVIDER],
            serviceAccounts: first,
            audiences: ['sts.amazonaws.com'],
          });
          const before = withForeign ? { ...base, Statement: [foreign, ...base.Statement] } : base;
          const request = {
            providerArns: [...providers],
            serviceAccounts: later,
            audiences: ['sts.amazonaws.com'],
          };
          const merged = mergeTrustPolicy(before, request);
          const removed = removeTrust(merged.policy, request);
          assert.deepEqual(removed.policy, before);
          assert.deepEqual(removed.removed.toSorted(), merged.added.toSorted());
          assert.equal(removeTrust(removed.policy, request).changed, false);
        },
      ),
    );
  });
});

describe('size', () => {
  test('counts characters without whitespace, and warns near and over the quota', () => {
    const small = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
      audiences: ['sts.amazonaws.com'],
    });
    assert.equal(policySize(small), JSON.stringify(small).length);
    assert.equal(sizeWarning(small), undefined);
    const accounts = Array.from({ length: 40 }, (_, index) => ({
      namespace: 'namespace',
      name: `service-account-${index}`,
    }));
    const big = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: accounts,
      audiences: ['sts.amazonaws.com'],
    });
    assert.match(sizeWarning(big)!, /over IAM's 2048-character quota/);
    const near = buildTrustPolicy({
      providerArns: [PROVIDER],
      serviceAccounts: accounts.slice(0, 32),
      audiences: ['sts.amazonaws.com'],
    });
    const size = policySize(near);
    assert.ok(size >= 2048 * 0.9 && size <= 2048, `fixture size ${size}`);
    assert.match(sizeWarning(near)!, new RegExp(`${size} of IAM's 2048 characters`));
  });
});
