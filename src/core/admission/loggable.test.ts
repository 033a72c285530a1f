// What may reach a log line: identifiers as they are, anything else by its length; errors by class, code,
// status and the place they were thrown, never by the message that quotes the pod, even when the message
// is shaped to look like a stack frame.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KirsaError } from '../../errors.ts';
import { loggableError, loggableIdentifier } from './loggable.ts';

test('identifiers pass; other text, objects and nothing become placeholders', () => {
  for (const value of ['apps', 'app-7f9c', 'worker-', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'a.b:c_d'])
    assert.equal(loggableIdentifier(value), value);
  assert.equal(loggableIdentifier('secret value'), '<not an identifier: 12 chars>');
  assert.equal(loggableIdentifier('x\n{"level":"info"}'), '<not an identifier: 18 chars>');
  assert.equal(loggableIdentifier(''), '<not an identifier: 0 chars>');
  assert.equal(loggableIdentifier('a'.repeat(254)), '<not an identifier: 254 chars>');
  assert.equal(loggableIdentifier({ name: 'x' }), '<not an identifier: object>');
  assert.equal(loggableIdentifier(undefined), '<none>');
});

test("an error's class and where it was thrown, never its message", () => {
  let thrown: unknown;
  try {
    const labels = 'label value SECRET\n    at forged (SECRET.ts:1:1)' as unknown as object;
    void ('eks.amazonaws.com/pod-identity' in labels);
  } catch (error) {
    thrown = error;
  }
  const logged = loggableError(thrown);
  assert.equal(logged.error, 'TypeError');
  assert.match(logged.at ?? '', /loggable\.test\.ts:\d+:\d+/);
  assert.doesNotMatch(JSON.stringify(logged), /SECRET/);
});

test('codes and statuses are kept when they look like codes', () => {
  const kirsa = loggableError(new KirsaError('KUBE_FORBIDDEN', 'refused for "SECRET"'));
  assert.equal(kirsa.error, 'KirsaError');
  assert.equal(kirsa.code, 'KUBE_FORBIDDEN');
  const api = loggableError(Object.assign(new Error('HTTP 403: SECRET'), { statusCode: 403 }));
  assert.equal(api.status, 403);
  const system = loggableError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  assert.equal(system.code, 'ECONNREFUSED');
  const odd = loggableError(Object.assign(new Error('x'), { name: 'SECRET name', code: 'SECRET code' }));
  assert.deepEqual([odd.error, odd.code], ['Error', undefined]);
  assert.deepEqual(loggableError('SECRET string'), { error: 'string' });
});
