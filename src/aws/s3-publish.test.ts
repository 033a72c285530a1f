import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { issuerReadStatement, mergeIssuerPolicy } from './s3-publish.ts';

describe('the issuer bucket policy merge', () => {
  const statement = issuerReadStatement('bucket', ['c/keys.json']);

  test("kirsa's statement handed back with its keys reordered (as Terraform and S3 do) is unchanged", () => {
    const sorted = (value: object) =>
      Object.fromEntries(Object.entries(value).sort(([left], [right]) => left.localeCompare(right)));
    const existing = JSON.stringify(sorted({ Version: '2012-10-17', Statement: [sorted(statement)] }));
    assert.equal(mergeIssuerPolicy(existing, statement), undefined);
  });

  test('another resource list is a change; other statements are kept', () => {
    const theirs = {
      Sid: 'Theirs',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject',
      Resource: '*',
    };
    const existing = JSON.stringify({
      Version: '2012-10-17',
      Statement: [theirs, issuerReadStatement('bucket', ['old/keys.json'])],
    });
    assert.deepEqual(JSON.parse(mergeIssuerPolicy(existing, statement)!).Statement, [theirs, statement]);
  });
});
