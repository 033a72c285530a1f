import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkLines, checksFailure } from './check-report.ts';
import type { Check } from './documents.ts';

const checks: Check[] = [
  { status: 'pass', message: 'discovery document found' },
  { status: 'warn', message: 'served without caching headers' },
  { status: 'fail', message: 'jwks_uri unreachable' },
  { status: 'fail', message: 'no RS256 key' },
];

describe('check report', () => {
  test('each check is one line, marks four characters wide so the messages align', () => {
    const lines = checkLines(checks);
    assert.deepEqual(lines, [
      'ok   discovery document found',
      'warn served without caching headers',
      'FAIL jwks_uri unreachable',
      'FAIL no RS256 key',
    ]);
  });

  test('failed checks give CHECKS_FAILED counting only the failures, with the hint given', () => {
    const error = checksFailure(checks, 'verify https://issuer.example', 'fix them');
    assert.equal(error?.code, 'CHECKS_FAILED');
    assert.match(error?.message ?? '', /^verify https:\/\/issuer\.example: 2 check\(s\) failed$/);
    assert.equal(error?.hint, 'fix them');
  });

  test('warnings alone do not fail', () => {
    assert.equal(checksFailure(checks.slice(0, 2), 'verify', 'hint'), undefined);
    assert.equal(checksFailure([], 'verify', 'hint'), undefined);
  });
});
