import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onStopSignal, untilStopSignal } from './signals.ts';

// process.emit(name, name) calls the listeners as a delivered signal does (Node passes the name), without
// signalling the test process.
const listeners = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');

test('the first SIGINT or SIGTERM resolves the wait, and its listeners are gone after it', async () => {
  const before = listeners();
  const waiting = untilStopSignal();
  assert.equal(listeners(), before + 2);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(await waiting, 'SIGTERM');
  assert.equal(listeners(), before);
});

test('with onRepeat, later signals reach it until released (a draining server closes at once)', async () => {
  const before = listeners();
  const repeats: string[] = [];
  const stop = onStopSignal((signal) => repeats.push(signal));
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await stop.received, 'SIGINT');
  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGINT', 'SIGINT');
  assert.deepEqual(repeats, ['SIGTERM', 'SIGINT']);
  stop.release();
  assert.equal(listeners(), before);
});
