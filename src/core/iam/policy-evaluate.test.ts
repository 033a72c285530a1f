import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type ContextValue, contextFromClaims, evaluateTrustPolicy } from './policy-evaluate.ts';
import { type PolicyDocument, type PolicyStatement, parsePolicyDocument } from './policy-grammar.ts';

const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const SUB = `${HOST}:sub`;
const AUD = `${HOST}:aud`;
const AMR = `${HOST}:amr`;

function policy(...statements: PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}

function allow(
  condition?: PolicyStatement['Condition'],
  extra: Partial<PolicyStatement> = {},
): PolicyStatement {
  return {
    Effect: 'Allow',
    Principal: { Federated: PROVIDER },
    Action: 'sts:AssumeRoleWithWebIdentity',
    ...(condition ? { Condition: condition } : {}),
    ...extra,
  };
}

function request(context: Record<string, ContextValue | undefined>, principal = PROVIDER) {
  return { principalFederated: principal, context };
}

const TOKEN = { [SUB]: 'system:serviceaccount:default:s3-echoer', [AUD]: 'sts.amazonaws.com' };

describe('single conditions: every operator, present and missing keys', () => {
  // [operator, policy values, request value (undefined = key missing), expected]
  const rows: Array<[string, string | string[], ContextValue | undefined, 'allow' | 'deny']> = [
    [
      'StringEquals',
      'system:serviceaccount:default:s3-echoer',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    ['StringEquals', 'system:serviceaccount:default:s3-echoer', 'system:serviceaccount:default:app', 'deny'],
    [
      'StringEquals',
      'System:ServiceAccount:default:s3-echoer',
      'system:serviceaccount:default:s3-echoer',
      'deny',
    ],
    ['StringEquals', 'system:serviceaccount:default:*', 'system:serviceaccount:default:s3-echoer', 'deny'],
    ['StringEquals', 'system:serviceaccount:default:*', 'system:serviceaccount:default:*', 'allow'],
    [
      'StringEquals',
      ['a', 'b', 'system:serviceaccount:default:s3-echoer'],
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    ['StringEquals', 'x', undefined, 'deny'],
    [
      'StringNotEquals',
      'system:serviceaccount:default:app',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    [
      'StringNotEquals',
      ['a', 'system:serviceaccount:default:s3-echoer'],
      'system:serviceaccount:default:s3-echoer',
      'deny',
    ],
    ['StringNotEquals', 'x', undefined, 'allow'],
    [
      'StringEqualsIgnoreCase',
      'SYSTEM:SERVICEACCOUNT:DEFAULT:S3-ECHOER',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    [
      'StringEqualsIgnoreCase',
      'system:serviceaccount:default:app',
      'system:serviceaccount:default:s3-echoer',
      'deny',
    ],
    ['StringEqualsIgnoreCase', 'x', undefined, 'deny'],
    [
      'StringNotEqualsIgnoreCase',
      'SYSTEM:SERVICEACCOUNT:DEFAULT:S3-ECHOER',
      'system:serviceaccount:default:s3-echoer',
      'deny',
    ],
    ['StringNotEqualsIgnoreCase', 'other', 'system:serviceaccount:default:s3-echoer', 'allow'],
    ['StringNotEqualsIgnoreCase', 'x', undefined, 'allow'],
    ['StringLike', 'system:serviceaccount:default:*', 'system:serviceaccount:default:s3-echoer', 'allow'],
    ['StringLike', 'system:serviceaccount:*:s3-echoer', 'system:serviceaccount:team-a:s3-echoer', 'allow'],
    ['StringLike', 'system:serviceaccount:kube-system:*', 'system:serviceaccount:default:s3-echoer', 'deny'],
    [
      'StringLike',
      'system:serviceaccount:default:s3-echoe?',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    [
      'StringLike',
      'system:serviceaccount:default:s3-echo?',
      'system:serviceaccount:default:s3-echoer',
      'deny',
    ],
    ['StringLike', '*', '', 'allow'],
    ['StringLike', 'a.c', 'abc', 'deny'],
    ['StringLike', 'x*', undefined, 'deny'],
    [
      'StringNotLike',
      'system:serviceaccount:kube-system:*',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    ['StringNotLike', 'system:serviceaccount:default:*', 'system:serviceaccount:default:s3-echoer', 'deny'],
    ['StringNotLike', 'x*', undefined, 'allow'],
    ['StringEqualsIfExists', 'system:serviceaccount:default:s3-echoer', undefined, 'allow'],
    [
      'StringEqualsIfExists',
      'system:serviceaccount:default:s3-echoer',
      'system:serviceaccount:default:app',
      'deny',
    ],
    [
      'StringEqualsIfExists',
      'system:serviceaccount:default:s3-echoer',
      'system:serviceaccount:default:s3-echoer',
      'allow',
    ],
    ['StringLikeIfExists', 'system:serviceaccount:default:*', undefined, 'allow'],
    ['StringNotEqualsIfExists', 'x', undefined, 'allow'],
    ['StringNotEqualsIfExists', 'x', 'x', 'deny'],
    ['Null', 'true', undefined, 'allow'],
    ['Null', 'true', 'present', 'deny'],
    ['Null', 'false', 'present', 'allow'],
    ['Null', 'false', undefined, 'deny'],
    ['Null', ['true', 'false'], undefined, 'allow'],
  ];
  for (const [operator, wants, seen, expected] of rows) {
    test(`${operator} ${JSON.stringify(wants)} vs ${JSON.stringify(seen)} -> ${expected}`, () => {
      const result = evaluateTrustPolicy(
        policy(allow({ [operator]: { [SUB]: wants } })),
        request({ [SUB]: seen }),
      );
      assert.equal(result.decision, expected, result.reasons.join('\n'));
    });
  }
});

describe('set operators over a multivalued key', () => {
  const rows: Array<[string, string[], ContextValue | undefined, 'allow' | 'deny']> = [
    ['ForAnyValue:StringLike', ['*unauthenticated'], ['authenticated', 'graph.facebook.com'], 'deny'],
    ['ForAnyValue:StringLike', ['authenticated'], ['authenticated', 'graph.facebook.com'], 'allow'],
    ['ForAnyValue:StringLike', ['*'], undefined, 'deny'],
    ['ForAnyValue:StringLike', ['*'], [], 'deny'],
    ['ForAnyValue:StringEquals', ['mfa', 'pwd'], ['otp', 'pwd'], 'allow'],
    ['ForAnyValue:StringNotEquals', ['pwd'], ['pwd'], 'deny'],
    ['ForAnyValue:StringNotEquals', ['pwd'], ['pwd', 'mfa'], 'allow'],
    ['ForAllValues:StringEquals', ['mfa', 'pwd'], ['pwd', 'mfa'], 'allow'],
    ['ForAllValues:StringEquals', ['mfa', 'pwd'], ['pwd', 'otp'], 'deny'],
    ['ForAllValues:StringEquals', ['mfa'], undefined, 'allow'],
    ['ForAllValues:StringEquals', ['mfa'], [], 'allow'],
    ['ForAllValues:StringNotEquals', ['otp'], ['pwd', 'mfa'], 'allow'],
    ['ForAllValues:StringNotEquals', ['otp'], ['pwd', 'otp'], 'deny'],
    ['ForAllValues:StringLike', ['p*', 'm*'], ['pwd', 'mfa'], 'allow'],
    ['ForAllValues:StringEqualsIgnoreCase', ['MFA'], ['mfa'], 'allow'],
    // A plain operator on a multivalued key: positive when any value matches, negated when none does.
    ['StringEquals', ['mfa'], ['pwd', 'mfa'], 'allow'],
    ['StringNotEquals', ['mfa'], ['pwd', 'mfa'], 'deny'],
    ['StringNotEquals', ['otp'], ['pwd', 'mfa'], 'allow'],
  ];
  for (const [operator, wants, seen, expected] of rows) {
    test(`${operator} ${JSON.stringify(wants)} vs ${JSON.stringify(seen)} -> ${expected}`, () => {
      const result = evaluateTrustPolicy(
        policy(allow({ [operator]: { [AMR]: wants } })),
        request({ [AMR]: seen }),
      );
      assert.equal(result.decision, expected, result.reasons.join('\n'));
    });
  }
});

describe("AWS's documented examples", () => {
  test('the EKS IRSA trust policy: StringEquals on :sub and :aud', () => {
    const document = parsePolicyDocument(`{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "${PROVIDER}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"${SUB}": "system:serviceaccount:default:s3-echoer", "${AUD}": "sts.amazonaws.com"}}
      }]
    }`);
    assert.equal(evaluateTrustPolicy(document, request(TOKEN)).decision, 'allow');
    assert.equal(
      evaluateTrustPolicy(document, request({ ...TOKEN, [AUD]: 'amazonaws.com' })).decision,
      'deny',
      'a wrong audience fails the second key (keys AND together)',
    );
  });

  test("Cognito's documented trust: StringEquals :aud and ForAnyValue:StringLike :amr", () => {
    const cognito = 'cognito-identity.amazonaws.com';
    const document = policy({
      Effect: 'Allow',
      Principal: { Federated: cognito },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { [`${cognito}:aud`]: 'us-east-1:12345678-abcd-abcd-abcd-123456790ab' },
        'ForAnyValue:StringLike': { [`${cognito}:amr`]: 'unauthenticated' },
      },
    });
    const base = { [`${cognito}:aud`]: 'us-east-1:12345678-abcd-abcd-abcd-123456790ab' };
    assert.equal(
      evaluateTrustPolicy(document, request({ ...base, [`${cognito}:amr`]: ['unauthenticated'] }, cognito))
        .decision,
      'allow',
    );
    assert.equal(
      evaluateTrustPolicy(
        document,
        request(
          { ...base, [`${cognito}:amr`]: ['authenticated', 'cognito-idp.us-east-1.amazonaws.com/pool'] },
          cognito,
        ),
      ).decision,
      'deny',
    );
  });

  test('the IRSA docs wildcard example: StringLike on a namespace', () => {
    const document = policy(
      allow({
        StringLike: { [SUB]: 'system:serviceaccount:team-*:*' },
        StringEquals: { [AUD]: 'sts.amazonaws.com' },
      }),
    );
    assert.equal(
      evaluateTrustPolicy(
        document,
        request({ [SUB]: 'system:serviceaccount:team-a:app', [AUD]: 'sts.amazonaws.com' }),
      ).decision,
      'allow',
    );
    assert.equal(
      evaluateTrustPolicy(
        document,
        request({ [SUB]: 'system:serviceaccount:default:app', [AUD]: 'sts.amazonaws.com' }),
      ).decision,
      'deny',
    );
  });

  test("the webhook README's StringEquals plus StringLike on the same key: both must hold", () => {
    const document = policy(
      allow({
        StringEquals: { [SUB]: 'system:serviceaccount:default:s3-echoer' },
        StringLike: { [SUB]: 'system:serviceaccount:default:*' },
      }),
    );
    assert.equal(evaluateTrustPolicy(document, request(TOKEN)).decision, 'allow');
    assert.equal(
      evaluateTrustPolicy(document, request({ [SUB]: 'system:serviceaccount:default:other' })).decision,
      'deny',
    );
  });
});

describe('statements: Deny overrides Allow, default deny, principal and action', () => {
  test('an explicit Deny that matches overrides a matching Allow, wherever it stands', () => {
    const deny: PolicyStatement = {
      Sid: 'NoDefaultNamespace',
      Effect: 'Deny',
      Principal: '*',
      Action: 'sts:*',
      Condition: { StringLike: { [SUB]: 'system:serviceaccount:default:*' } },
    };
    for (const document of [policy(allow(), deny), policy(deny, allow())]) {
      const result = evaluateTrustPolicy(document, request(TOKEN));
      assert.equal(result.decision, 'deny');
      assert.equal(result.deniedBy, 'explicit-deny');
      assert.equal(result.matchedStatement?.sid, 'NoDefaultNamespace');
      assert.match(result.reasons[0]!, /explicit Deny overrides every Allow/);
    }
    const elsewhere = evaluateTrustPolicy(
      policy(allow(), deny),
      request({ [SUB]: 'system:serviceaccount:prod:app' }),
    );
    assert.equal(elsewhere.decision, 'allow', 'a Deny whose condition fails does not apply');
  });

  test('no Allow at all is a default deny', () => {
    const result = evaluateTrustPolicy(policy(), request(TOKEN));
    assert.equal(result.decision, 'deny');
    assert.equal(result.deniedBy, 'no-allow');
    assert.match(result.reasons[0]!, /no Allow statement/);
  });

  test('principal forms: Federated exact, "*", {"AWS": "*"}; wildcards inside an ARN never match', () => {
    const cases: Array<[PolicyStatement['Principal'], 'allow' | 'deny']> = [
      [{ Federated: PROVIDER }, 'allow'],
      [{ Federated: ['arn:aws:iam::111122223333:oidc-provider/other', PROVIDER] }, 'allow'],
      ['*', 'allow'],
      [{ AWS: '*' }, 'allow'],
      [{ AWS: 'arn:aws:iam::111122223333:root' }, 'deny'],
      [{ Federated: 'arn:aws:iam::111122223333:oidc-provider/*' }, 'deny'],
      [{ Federated: PROVIDER.toUpperCase() }, 'deny'],
      [{ Service: 'pods.eks.amazonaws.com' }, 'deny'],
    ];
    for (const [principal, expected] of cases) {
      const result = evaluateTrustPolicy(policy(allow(undefined, { Principal: principal })), request(TOKEN));
      assert.equal(result.decision, expected, JSON.stringify(principal));
      if (expected === 'deny') assert.equal(result.failures[0]?.element, 'Principal');
    }
  });

  test('NotPrincipal matches every principal it does not name', () => {
    const notMe = allow(undefined, {
      Principal: undefined,
      NotPrincipal: { Federated: 'arn:aws:iam::999999999999:oidc-provider/x' },
    });
    assert.equal(evaluateTrustPolicy(policy(notMe), request(TOKEN)).decision, 'allow');
    const notYou = allow(undefined, { Principal: undefined, NotPrincipal: { Federated: PROVIDER } });
    assert.equal(evaluateTrustPolicy(policy(notYou), request(TOKEN)).decision, 'deny');
  });

  test('actions match case-insensitively with * and ?; NotAction inverts', () => {
    const cases: Array<[Partial<PolicyStatement>, 'allow' | 'deny']> = [
      [{ Action: 'sts:AssumeRoleWithWebIdentity' }, 'allow'],
      [{ Action: 'STS:assumerolewithwebidentity' }, 'allow'],
      [{ Action: 'sts:*' }, 'allow'],
      [{ Action: '*' }, 'allow'],
      [{ Action: 'sts:AssumeRole*' }, 'allow'],
      [{ Action: 'sts:AssumeRoleWithWebIdentit?' }, 'allow'],
      [{ Action: ['sts:AssumeRole', 'sts:TagSession'] }, 'deny'],
      [{ Action: undefined, NotAction: 'sts:AssumeRole' }, 'allow'],
      [{ Action: undefined, NotAction: 'sts:*' }, 'deny'],
    ];
    for (const [extra, expected] of cases) {
      const result = evaluateTrustPolicy(policy(allow(undefined, extra)), request(TOKEN));
      assert.equal(result.decision, expected, JSON.stringify(extra));
    }
  });

  test('condition key names are case-insensitive, values are not', () => {
    const document = policy(
      allow({ StringEquals: { [SUB.toUpperCase()]: 'system:serviceaccount:default:s3-echoer' } }),
    );
    assert.equal(evaluateTrustPolicy(document, request(TOKEN)).decision, 'allow');
  });

  test('a second statement can grant what the first does not', () => {
    const document = policy(
      allow({ StringEquals: { [SUB]: 'system:serviceaccount:default:other' } }),
      allow({ StringEquals: { [SUB]: 'system:serviceaccount:default:s3-echoer' } }, { Sid: 'Second' }),
    );
    const result = evaluateTrustPolicy(document, request(TOKEN));
    assert.equal(result.decision, 'allow');
    assert.deepEqual(result.matchedStatement, { index: 1, sid: 'Second', effect: 'Allow' });
  });

  test('policy variables resolve under 2012-10-17 only; the star variable is a literal star', () => {
    // IAM's policy-variable syntax, built up so it is not mistaken for a template placeholder.
    const variable = (inner: string) => '$' + '{' + inner + '}';
    const withVariable = policy(allow({ StringLike: { [SUB]: `system:serviceaccount:${variable('*')}` } }));
    assert.equal(
      evaluateTrustPolicy(withVariable, request({ [SUB]: 'system:serviceaccount:*' })).decision,
      'allow',
    );
    assert.equal(evaluateTrustPolicy(withVariable, request(TOKEN)).decision, 'deny');
    const old = { Version: '2008-10-17', Statement: withVariable.Statement };
    assert.equal(
      evaluateTrustPolicy(old, request({ [SUB]: `system:serviceaccount:${variable('*')}` })).decision,
      'allow',
    );
    const fromContext = policy(allow({ StringEquals: { [AUD]: variable(SUB) } }));
    assert.equal(evaluateTrustPolicy(fromContext, request({ [SUB]: 'x', [AUD]: 'x' })).decision, 'allow');
    const missing = policy(allow({ StringEquals: { [AUD]: variable('aws:nothing') } }));
    const result = evaluateTrustPolicy(missing, request(TOKEN));
    assert.equal(result.decision, 'deny');
    assert.match(result.failures[0]!.message, /policy variable/);
    const defaulted = policy(
      allow({ StringEquals: { [AUD]: variable("aws:nothing, 'sts.amazonaws.com'") } }),
    );
    assert.equal(evaluateTrustPolicy(defaulted, request(TOKEN)).decision, 'allow');
  });
});

describe('claims to context', () => {
  test('sub, aud (azp when present) and amr become keys; other claims do not', () => {
    assert.deepEqual(contextFromClaims(HOST, { sub: 's', aud: ['sts.amazonaws.com'], 'kubernetes.io': {} }), {
      [SUB]: 's',
      [AUD]: ['sts.amazonaws.com'],
    });
    assert.deepEqual(contextFromClaims(HOST, { sub: 's', aud: ['a', 'b'], azp: 'b', amr: ['pwd'] }), {
      [SUB]: 's',
      [AUD]: 'b',
      [AMR]: ['pwd'],
    });
  });
});

describe('properties', () => {
  const literal = fc.string({ unit: fc.constantFrom('a', 'b', '-', ':', '.', '*', '?'), maxLength: 8 });

  test('StringNotX is the negation of StringX for a present single value', () => {
    fc.assert(
      fc.property(
        literal,
        literal,
        fc.constantFrom('Equals', 'EqualsIgnoreCase', 'Like'),
        (wanted, seen, kind) => {
          const positive = evaluateTrustPolicy(
            policy(allow({ [`String${kind}`]: { [SUB]: wanted } })),
            request({ [SUB]: seen }),
          );
          const negative = evaluateTrustPolicy(
            policy(allow({ [`StringNot${kind}`]: { [SUB]: wanted } })),
            request({ [SUB]: seen }),
          );
          assert.notEqual(positive.decision, negative.decision);
        },
      ),
    );
  });

  test('StringLike with a pattern free of wildcards is StringEquals', () => {
    const plain = fc.string({
      unit: fc.constantFrom('a', 'b', '-', ':', '.', '^', '$', '(', '\\'),
      maxLength: 8,
    });
    fc.assert(
      fc.property(plain, plain, (wanted, seen) => {
        const like = evaluateTrustPolicy(
          policy(allow({ StringLike: { [SUB]: wanted } })),
          request({ [SUB]: seen }),
        );
        assert.equal(like.decision, wanted === seen ? 'allow' : 'deny');
      }),
    );
  });

  test('adding a matching Deny statement always turns allow into deny', () => {
    fc.assert(
      fc.property(literal, (seen) => {
        const allowed = policy(allow({ StringLike: { [SUB]: '*' } }));
        const denied = policy(...allowed.Statement, { Effect: 'Deny', Principal: '*', Action: '*' });
        assert.equal(evaluateTrustPolicy(allowed, request({ [SUB]: seen })).decision, 'allow');
        assert.equal(evaluateTrustPolicy(denied, request({ [SUB]: seen })).decision, 'deny');
      }),
    );
  });
});
