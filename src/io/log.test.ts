import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { createLogger, type Logger, type LogLevel, redactSecrets } from './log.ts';

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

/** The value down `keys` in a parsed line (undefined where the path stops). */
function at(value: unknown, ...keys: Array<string | number>): unknown {
  for (const key of keys) value = (value as Record<string | number, unknown> | undefined)?.[key];
  return value;
}

/** A logger at `level` whose lines are kept, as text and parsed. */
function recording(level: LogLevel = 'trace', name?: string) {
  const lines: string[] = [];
  const logger: Logger = createLogger(level, { write: (line) => lines.push(line) }, name);
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { lines, logger, parsed };
}

test('a line is one JSON object: level, time, pid, hostname, name, the fields in their order, msg last', () => {
  const { lines, logger, parsed } = recording('info', 'kirsa-test');
  logger.info({ source: 'files', entries: 3, nested: { ok: true } }, 'loaded');
  logger.warn('no fields');
  logger.error({ reason: 'none given' });
  assert.equal(lines.length, 3);
  assert.ok(lines.every((line) => line.endsWith('}\n') && line.indexOf('\n') === line.length - 1));
  const [first, second, third] = parsed();
  assert.deepEqual(Object.keys(first!), [
    'level',
    'time',
    'pid',
    'hostname',
    'name',
    'source',
    'entries',
    'nested',
    'msg',
  ]);
  assert.deepEqual(
    { ...first, time: undefined },
    {
      level: 'info',
      time: undefined,
      pid: process.pid,
      hostname: hostname(),
      name: 'kirsa-test',
      source: 'files',
      entries: 3,
      nested: { ok: true },
      msg: 'loaded',
    },
  );
  assert.deepEqual(Object.keys(second!), ['level', 'time', 'pid', 'hostname', 'name', 'msg']);
  assert.equal(second!.level, 'warn');
  assert.deepEqual(
    Object.keys(third!),
    ['level', 'time', 'pid', 'hostname', 'name', 'reason'],
    'no msg without one',
  );
  const unnamed = recording('info');
  unnamed.logger.info('x');
  assert.equal(unnamed.parsed()[0]!.name, 'kirsa-webhook', 'the default name');
});

test('a field cannot replace the level, time, pid, hostname or name of a line', () => {
  const { logger, parsed } = recording();
  logger.info({ level: 'fatal', name: 'someone', msg: 'from the fields' });
  logger.info({ msg: 'from the fields' }, 'given');
  const [line, given] = parsed();
  assert.equal(line!.level, 'info');
  assert.equal(line!.name, 'kirsa-webhook');
  assert.equal(line!._level, 'fatal');
  assert.equal(line!._name, 'someone');
  assert.equal(line!.msg, 'from the fields', 'a msg field is the message when none is given');
  assert.equal(given!.msg, 'given');
});

test('levels below the logger level write nothing; isLevelEnabled says which are written', () => {
  const { logger, parsed } = recording('warn');
  let read = 0;
  const fields = {
    get costly() {
      read++;
      return 'x';
    },
  };
  logger.trace(fields, 'trace');
  logger.debug(fields, 'debug');
  logger.info(fields, 'info');
  logger.warn('warn');
  logger.error('error');
  logger.fatal('fatal');
  assert.deepEqual(
    parsed().map((line) => [line.level, line.msg]),
    [
      ['warn', 'warn'],
      ['error', 'error'],
      ['fatal', 'fatal'],
    ],
  );
  assert.equal(read, 0, 'the fields of a line not written are not read');
  const enabled = (level: LogLevel) =>
    (['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const).filter((wanted) =>
      createLogger(level, { write() {} }).isLevelEnabled(wanted),
    );
  assert.deepEqual(enabled('warn'), ['warn', 'error', 'fatal']);
  assert.deepEqual(enabled('trace'), ['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  assert.deepEqual(enabled('silent'), []);
  const silent = recording('silent');
  for (const method of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)
    silent.logger[method]('x');
  assert.deepEqual(silent.lines, []);
});

class ApiError extends Error {
  code = 'E_API';
  statusCode = 409;
}

test('an Error as first argument goes under err, with type, message, stack and its own properties; its message is msg', () => {
  const { logger, parsed } = recording();
  const error = new ApiError('conflict on the lease');
  logger.error(error);
  logger.error(error, 'renewing failed');
  const [alone, withMessage] = parsed();
  for (const line of [alone, withMessage]) {
    assert.deepEqual(at(line, 'err'), {
      type: 'ApiError',
      message: 'conflict on the lease',
      stack: error.stack,
      code: 'E_API',
      statusCode: 409,
    });
  }
  assert.equal(at(alone, 'msg'), 'conflict on the lease');
  assert.equal(at(withMessage, 'msg'), 'renewing failed');
});

test('an Error as a field value is written as an object, with its cause and the cause of that', () => {
  const { logger, parsed } = recording();
  const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const middle = new TypeError('fetch failed', { cause: root });
  logger.warn({ source: 'watch', err: new Error('list failed', { cause: middle }) }, 'retrying');
  const [line] = parsed();
  assert.equal(at(line, 'err', 'type'), 'Error');
  assert.equal(at(line, 'err', 'message'), 'list failed');
  assert.match(String(at(line, 'err', 'stack')), /^Error: list failed\n {4}at /);
  assert.equal(at(line, 'err', 'cause', 'type'), 'TypeError');
  assert.equal(at(line, 'err', 'cause', 'message'), 'fetch failed');
  assert.equal(at(line, 'err', 'cause', 'cause', 'type'), 'Error');
  assert.equal(at(line, 'err', 'cause', 'cause', 'message'), 'socket hang up');
  assert.equal(at(line, 'err', 'cause', 'cause', 'code'), 'ECONNRESET');
});

test('values under a secret key name are redacted at any depth and in any case', () => {
  const { logger, lines, parsed } = recording();
  logger.info({ token: 'opaque-1', user: 'kept' });
  logger.info({ a: { b: { user: { token: 'opaque-2', name: 'kept' } } } });
  logger.info({ request: { headers: { Authorization: 'opaque-3', Cookie: 'opaque-4', accept: 'kept' } } });
  logger.info({
    kubeconfig: { users: [{ user: { keyData: 'opaque-5', CertData: 'opaque-6', password: 'opaque-7' } }] },
  });
  logger.info({
    PRIVATEKEY: { kty: 'EC', d: 'opaque-8' },
    secret: 'opaque-9',
    accessToken: 'opaque-10',
    key: 'opaque-11',
  });
  const text = lines.join('');
  for (let n = 1; n <= 11; n++) assert.ok(!text.includes(`opaque-${n}"`), `opaque-${n} is in ${text}`);
  const [top, deep, headers, kubeconfig, keys] = parsed();
  assert.equal(at(top, 'token'), '[redacted]');
  assert.equal(at(top, 'user'), 'kept');
  assert.deepEqual(at(deep, 'a'), { b: { user: { token: '[redacted]', name: 'kept' } } });
  assert.deepEqual(at(headers, 'request', 'headers'), {
    Authorization: '[redacted]',
    Cookie: '[redacted]',
    accept: 'kept',
  });
  assert.deepEqual(at(kubeconfig, 'kubeconfig', 'users', 0, 'user'), {
    keyData: '[redacted]',
    CertData: '[redacted]',
    password: '[redacted]',
  });
  assert.equal(at(keys, 'PRIVATEKEY'), '[redacted]', 'the whole value, an object too');
  assert.equal(at(keys, 'key'), '[redacted]');
});

test("an Error's body is redacted, and so are secret keys among its own properties", () => {
  const { logger, lines, parsed } = recording();
  const error = Object.assign(new Error('HTTP request failed'), {
    statusCode: 401,
    body: { kind: 'Status', message: 'opaque-body' },
    headers: { authorization: 'opaque-header' },
  });
  logger.error({ err: new Error('watch ended', { cause: error }) });
  logger.error(Object.assign(new Error('refused'), { body: 'opaque-body-2' }));
  const text = lines.join('');
  assert.ok(!/opaque-body|opaque-header/.test(text), text);
  const [nested, first] = parsed();
  assert.equal(at(nested, 'err', 'cause', 'body'), '[redacted]');
  assert.deepEqual(at(nested, 'err', 'cause', 'headers'), { authorization: '[redacted]' });
  assert.equal(at(nested, 'err', 'cause', 'statusCode'), 401);
  assert.equal(at(first, 'err', 'body'), '[redacted]');
});

test('free text is redacted in msg, in field values and in an error message and stack', () => {
  const { logger, lines, parsed } = recording();
  logger.warn(
    { reason: `Unauthorized; Authorization: Bearer opaque-token-9` },
    `the token ${JWT} was refused`,
  );
  logger.error(new Error(`refused: Bearer ${JWT}`));
  const text = lines.join('');
  assert.ok(!text.includes('opaque-token-9'), text);
  assert.ok(!text.includes(JWT.slice(-12)), text);
  const [warned, failed] = parsed();
  assert.equal(at(warned, 'msg'), 'the token [redacted] was refused');
  assert.match(String(at(warned, 'reason')), /Authorization: \[redacted\]/);
  assert.equal(at(failed, 'msg'), 'refused: Bearer [redacted]');
  assert.equal(at(failed, 'err', 'message'), 'refused: Bearer [redacted]');
  assert.match(String(at(failed, 'err', 'stack')), /^Error: refused: Bearer \[redacted\]\n/);
});

test('a cycle, a deep object and values JSON cannot hold do not throw', () => {
  const { logger, parsed } = recording();
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const cause = new Error('a');
  (cause as { cause?: unknown }).cause = cause;
  const shared = { n: 1 };
  logger.info({ cyclic, shared: [shared, shared], err: cause });
  logger.info({
    big: 12345678901234567890n,
    nested: { big: -1n },
    gone: undefined,
    fn: () => 1,
    list: [undefined, 2n],
  });
  let deep: Record<string, unknown> = { bottom: true };
  for (let i = 0; i < 10; i++) deep = { deeper: deep };
  logger.info({ deep });
  const [cycles, values, tooDeep] = parsed();
  assert.deepEqual(at(cycles, 'cyclic'), { name: 'loop', self: '[circular]' });
  assert.deepEqual(
    at(cycles, 'shared'),
    [{ n: 1 }, { n: 1 }],
    'a value met twice, not in a cycle, is written twice',
  );
  assert.equal(at(cycles, 'err', 'cause'), '[circular]');
  assert.equal(at(values, 'big'), '12345678901234567890');
  assert.deepEqual(at(values, 'nested'), { big: '-1' });
  assert.deepEqual(at(values, 'list'), [null, '2']);
  assert.ok(!('gone' in values!) && !('fn' in values!));
  // Objects at depths 1 to 6 are written; the one at depth 7 is not.
  const path = Array.from({ length: 6 }, () => 'deeper');
  assert.equal(typeof at(tooDeep, 'deep', ...path.slice(1)), 'object');
  assert.equal(at(tooDeep, 'deep', ...path), '[too deep]');
});

test('a field that throws when read still gives a line', () => {
  const { logger, parsed } = recording();
  logger.error(
    {
      get broken() {
        throw new Error('getter failed');
      },
    },
    'something',
  );
  assert.deepEqual(
    parsed().map((line) => [line.msg, line.logError]),
    [['something', 'getter failed']],
  );
});
