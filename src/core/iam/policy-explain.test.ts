import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateTrustPolicy } from './policy-evaluate.ts';
import { formatEvaluation, parseServiceAccountSubject } from './policy-explain.ts';
import type { PolicyStatement } from './policy-grammar.ts';

const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const SUB = `${HOST}:sub`;
const AUD = `${HOST}:aud`;
const TOKEN = { [SUB]: 'system:serviceaccount:default:s3-echoer', [AUD]: 'sts.amazonaws.com' };

/** STS's verdict for the token `context` on a policy of these Allow statements (web identity unless overridden). */
function judge(statements: Array<Partial<PolicyStatement>>, context: Record<string, string> = TOKEN) {
  const allow = {
    Effect: 'Allow',
    Principal: { Federated: PROVIDER },
    Action: 'sts:AssumeRoleWithWebIdentity',
  } as const;
  return evaluateTrustPolicy(
    { Version: '2012-10-17', Statement: statements.map((fields) => ({ ...allow, ...fields })) },
    { principalFederated: PROVIDER, context },
  );
}

describe('explanations of a denial', () => {
  test("the seed's AccessDenied: the policy names default/s3-echoer, the pod runs as default/app", () => {
    const result = judge(
      [{ Condition: { StringEquals: { [SUB]: TOKEN[SUB], [AUD]: 'sts.amazonaws.com' } } }],
      { [SUB]: 'system:serviceaccount:default:app', [AUD]: 'sts.amazonaws.com' },
    );
    assert.equal(result.decision, 'deny');
    assert.equal(result.failures.length, 1);
    const failure = result.failures[0]!;
    assert.equal(failure.operator, 'StringEquals');
    assert.equal(failure.key, SUB);
    assert.deepEqual(failure.saw, ['system:serviceaccount:default:app']);
    assert.deepEqual(failure.wants, ['system:serviceaccount:default:s3-echoer']);
    assert.equal(
      failure.message,
      'the policy names service account default/s3-echoer, the token is for default/app',
    );
    assert.match(failure.fix!, /--namespace default --service-account app/);
  });

  test('StringEquals with * says to use StringLike', () => {
    const failure = judge([{ Condition: { StringEquals: { [SUB]: 'system:serviceaccount:default:*' } } }])
      .failures[0]!;
    assert.match(failure.message, /`StringEquals` with `\*` never matches, though StringLike would match/);
    assert.match(failure.fix!, /use `StringLike`/);
  });

  test('a wrong audience names both audiences', () => {
    const failure = judge([{ Condition: { StringEquals: { [AUD]: 'amazonaws.com' } } }]).failures[0]!;
    assert.equal(failure.message, 'the audience is "sts.amazonaws.com", the policy wants "amazonaws.com"');
    assert.match(failure.fix!, /eks.amazonaws.com\/audience/);
  });

  test('a key written with https:// is never in the request', () => {
    const failure = judge([{ Condition: { StringEquals: { [`https://${SUB}`]: TOKEN[SUB] } } }]).failures[0]!;
    assert.equal(failure.saw, undefined);
    assert.match(failure.message, /with its scheme/);
    assert.equal(failure.fix, `write the key as ${SUB}`);
  });

  test('a key for another issuer, and an arbitrary claim, say so', () => {
    const other = judge([{ Condition: { StringEquals: { 'oidc.example.com/cluster-b:sub': TOKEN[SUB] } } }]);
    assert.match(other.failures[0]!.message, /names issuer oidc.example.com\/cluster-b/);
    const claim = judge([
      { Condition: { StringEquals: { [`${HOST}:kubernetes.io/namespace`]: 'default' } } },
    ]);
    assert.match(claim.failures[0]!.message, /only the sub, aud and amr/);
  });

  test('a case-only difference and a provider in another account are named', () => {
    const cased = judge([
      { Condition: { StringEquals: { [SUB]: 'system:serviceaccount:default:S3-Echoer' } } },
    ]);
    assert.match(cased.failures[0]!.message, /only in case/);
    const failure = judge([{ Principal: { Federated: `arn:aws:iam::444455556666:oidc-provider/${HOST}` } }])
      .failures[0]!;
    assert.equal(failure.element, 'Principal');
    assert.match(failure.message, /account 444455556666.*account 111122223333/);
  });

  test('the closest statement explains first', () => {
    const result = judge([
      { Sid: 'WrongAction', Action: 'sts:AssumeRole' },
      { Sid: 'WrongSub', Condition: { StringEquals: { [SUB]: 'system:serviceaccount:default:other' } } },
    ]);
    assert.equal(result.failures[0]!.statement.sid, 'WrongSub');
    assert.match(result.reasons[1]!, /statement 2 \(Sid "WrongSub"\)/);
  });

  test('unsupported operators warn and count as failing', () => {
    const result = judge([{ Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } } }]);
    assert.equal(result.decision, 'deny');
    assert.match(result.warnings[0]!, /does not evaluate NumericLessThan/);
    const unknown = judge([{ Condition: { StringIsh: { [SUB]: 'x' } } }]);
    assert.match(unknown.failures[0]!.message, /not an IAM condition operator/);
  });

  test('as text: the verdict, the header, the closest failures with their fixes, the others counted', () => {
    const result = judge([
      { Sid: 'WrongAction', Action: 'sts:AssumeRole' },
      { Sid: 'WrongSub', Condition: { StringEquals: { [SUB]: 'system:serviceaccount:default:other' } } },
    ]);
    const lines = formatEvaluation(result, { Statement: [] }, ['  header']).split('\n');
    assert.equal(lines[0], result.reasons[0]);
    assert.equal(lines[2], '  header');
    assert.equal(lines[4], `statement 2 (Sid "WrongSub"), Condition StringEquals ${SUB}`);
    assert.ok(
      lines.some((line) => line.startsWith('  fix:   add "system:serviceaccount:default:s3-echoer"')),
    );
    assert.equal(lines.at(-2), '(1 more failed element in other statements; -o json lists them all)');
    assert.equal(lines.at(-1), '');
  });

  test('as text, an explicit Deny shows the statement and how to narrow it', () => {
    const deny = { Effect: 'Deny', Principal: '*', Action: '*' } as const;
    const document = { Statement: [deny] };
    const text = formatEvaluation(
      evaluateTrustPolicy(document, { principalFederated: PROVIDER, context: TOKEN }),
      document,
      [],
    );
    assert.match(text, /^denied: statement 1 is a Deny/);
    assert.match(text, /the Deny statement:\n {2}\{\n {4}"Effect": "Deny"/);
    assert.match(text, /fix: {3}narrow or remove the Deny statement/);
  });

  test('parseServiceAccountSubject splits only service-account subjects', () => {
    assert.deepEqual(parseServiceAccountSubject('system:serviceaccount:ns:sa'), {
      namespace: 'ns',
      name: 'sa',
    });
    assert.equal(parseServiceAccountSubject('system:node:x'), undefined);
    assert.equal(parseServiceAccountSubject('system:serviceaccount:ns:'), undefined);
  });
});
