import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, redactSecrets } from './logger.ts';

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

test("log lines carry toISOString's text without calling it (it loads ICU's time-zone tables: utc-time.ts)", () => {
  const lines: string[] = [];
  const original = Object.getOwnPropertyDescriptor(Date.prototype, 'toISOString')!;
  Object.defineProperty(Date.prototype, 'toISOString', {
    ...original,
    value() {
      throw new Error('the webhook logger called Date#toISOString');
    },
  });
  let before: number;
  let after: number;
  try {
    const logger = createLogger('info', { write: (line: string) => lines.push(line) });
    before = Date.now();
    logger.info('one line');
    after = Date.now();
  } finally {
    Object.defineProperty(Date.prototype, 'toISOString', original);
  }
  assert.equal(lines.length, 1);
  const time = (JSON.parse(lines[0]!) as { time: string }).time;
  assert.match(time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  const at = Date.parse(time);
  assert.ok(at >= before && at <= after, `${time} is the moment of the line`);
});
