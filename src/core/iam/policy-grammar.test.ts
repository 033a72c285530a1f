import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { KirsaError } from '../../errors.ts';
import { evaluateTrustPolicy } from './policy-evaluate.ts';
import { canonicalPolicyJson, parsePolicyDocument, wildcardPattern } from './policy-grammar.ts';

const AMR = 'oidc.example.com/cluster-a:amr';
const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-a';

describe('parsing', () => {
  test('accepts a single Statement object, URL-encoded text (GetRole), and scalar condition values', () => {
    const text = JSON.stringify({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Principal: '*', Action: 'sts:*', Condition: { Null: { [AMR]: true } } },
    });
    const parsed = parsePolicyDocument(encodeURIComponent(text));
    assert.equal(parsed.Statement.length, 1);
    assert.equal(
      evaluateTrustPolicy(parsed, { principalFederated: PROVIDER, context: {} }).decision,
      'allow',
    );
  });

  test('rejects what is not a policy, with POLICY_INVALID', () => {
    for (const bad of [
      'nope',
      '[]',
      '{}',
      '{"Statement":[{"Effect":"Maybe"}]}',
      '{"Statement":[{"Effect":"Allow","Action":[1]}]}',
    ]) {
      assert.throws(
        () => parsePolicyDocument(bad),
        (error: unknown) => error instanceof KirsaError && error.code === 'POLICY_INVALID',
        bad,
      );
    }
  });
});

describe('permissions policies', () => {
  test('an inline permissions policy is read by the same grammar, refused with its own name and example', () => {
    const good =
      '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}';
    assert.equal(parsePolicyDocument(good, { kind: 'permissions' }).Statement.length, 1);
    for (const bad of [
      '{"Version": "2012-10-17"',
      '{"Version": "2012-10-17"}',
      '{"Statement": [{"Effect": "allow"}]}',
    ])
      assert.throws(
        () => parsePolicyDocument(bad, { kind: 'permissions', name: 'inline.json is not a policy document' }),
        (error: unknown) =>
          error instanceof KirsaError &&
          error.code === 'POLICY_INVALID' &&
          error.message.startsWith('inline.json is not a policy document: ') &&
          error.hint?.includes('"Resource"') === true &&
          !error.hint.includes('Principal'),
        bad,
      );
  });
});

describe('canonical JSON', () => {
  test('key order and formatting do not count; values and list order do', () => {
    const a =
      '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"]}]}';
    const b =
      '{\n  "Statement": [ { "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow" } ],\n  "Version": "2012-10-17"\n}';
    assert.equal(canonicalPolicyJson(a), canonicalPolicyJson(b));
    assert.equal(
      canonicalPolicyJson('{"b": 1, "a": {"d": [2, {"f": 0, "e": 1}], "c": 3}}'),
      '{"a":{"c":3,"d":[2,{"e":1,"f":0}]},"b":1}',
    );
    const reordered = a.replace('"s3:GetObject", "s3:ListBucket"', '"s3:ListBucket", "s3:GetObject"');
    assert.notEqual(canonicalPolicyJson(a), canonicalPolicyJson(reordered));
  });
});

describe('wildcards', () => {
  const literal = fc.string({ unit: fc.constantFrom('a', 'b', '-', ':', '.', '*', '?'), maxLength: 8 });

  test('wildcardPattern agrees with a reference matcher', () => {
    const reference = (pattern: string, text: string): boolean => {
      if (pattern === '') return text === '';
      const [head, rest] = [pattern[0]!, pattern.slice(1)];
      if (head === '*')
        return [...Array(text.length + 1).keys()].some((skip) => reference(rest, text.slice(skip)));
      if (text === '') return false;
      return (head === '?' || head === text[0]) && reference(rest, text.slice(1));
    };
    fc.assert(
      fc.property(
        literal,
        fc.string({ unit: fc.constantFrom('a', 'b', '-', '*', '?'), maxLength: 8 }),
        (pattern, text) => {
          assert.equal(wildcardPattern(pattern).test(text), reference(pattern, text));
        },
      ),
    );
  });
});
