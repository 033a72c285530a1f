import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactSecrets } from './logger.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl';

test('redactSecrets removes bearer and basic credentials, Authorization values and JWTs from free text', () => {
  const cases: Array<[string, string]> = [
    [`Bearer ${JWT}`, 'secret'],
    ['Unauthorized; Authorization: Bearer opaque-token-1', 'opaque-token-1'],
    ['{"headers":{"Authorization":["Bearer opaque-token-2"]}}', 'opaque-token-2'],
    ['authorization=Basic dXNlcjpwYXNz', 'dXNlcjpwYXNz'],
    [`the token ${JWT} was refused`, JWT.slice(-12)],
  ];
  for (const [text, secret] of cases) {
    const redacted = redactSecrets(text);
    assert.ok(!redacted.includes(secret === 'secret' ? JWT : secret), redacted);
    assert.match(redacted, /\[redacted\]/);
  }
});

test('redactSecrets leaves text without credentials as it is', () => {
  for (const text of ['Unauthorized', 'list failed; retrying', 'Basically fine', 'the bearer of bad news']) {
    assert.equal(redactSecrets(text), text);
  }
});
