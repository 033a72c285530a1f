// The ConfigMap cache behind --read-env-from-config-maps: only region keys kept, concurrent misses share one
// GET, hits are synchronous until the TTL, failures are remembered for a shorter time, a slow read gives up,
// and the cache never holds more than its bound.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigMapKeysCache } from './env-from-config-maps.ts';

function setup(fetch: (namespace: string, name: string, signal: AbortSignal) => Promise<unknown>) {
  let clock = 1_000;
  const calls: string[] = [];
  const counted: string[] = [];
  const cache = createConfigMapKeysCache({
    fetch: (namespace, name, signal) => {
      calls.push(`${namespace}/${name}`);
      return fetch(namespace, name, signal);
    },
    ttlMs: 30_000,
    failureTtlMs: 5_000,
    maxEntries: 3,
    timeoutMs: 50,
    now: () => clock,
    countRead: (result) => counted.push(result),
  });
  return { cache, calls, counted, advance: (ms: number) => (clock += ms) };
}

test('a miss reads once for concurrent pods, keeps only region keys, then answers synchronously', async () => {
  const { cache, calls, advance } = setup(async () => ({
    data: { AWS_REGION: 'eu-west-1', 'big.json': 'x'.repeat(1000), REGION: 'y' },
  }));
  const first = cache.keysOf('apps', 'settings');
  const second = cache.keysOf('apps', 'settings');
  assert.ok(first instanceof Promise && second instanceof Promise);
  assert.deepEqual(await first, { found: true, regionKeys: ['AWS_REGION', 'REGION'] });
  assert.deepEqual(await second, await first);
  assert.deepEqual(cache.keysOf('apps', 'settings'), { found: true, regionKeys: ['AWS_REGION', 'REGION'] });
  assert.equal(calls.length, 1);
  advance(30_001);
  assert.ok(cache.keysOf('apps', 'settings') instanceof Promise, 'read again after the TTL');
  assert.equal(calls.length, 2);
});

test('absent is remembered like found; a failure for the shorter time; both are not found', async () => {
  const { cache, calls, counted, advance } = setup(async (_namespace, name) => {
    if (name === 'denied') throw Object.assign(new Error('forbidden'), { statusCode: 403 });
    return undefined;
  });
  assert.deepEqual(await cache.keysOf('apps', 'gone'), { found: false, why: 'absent' });
  assert.deepEqual(await cache.keysOf('apps', 'denied'), { found: false, why: 'unreadable' });
  advance(5_001);
  assert.deepEqual(cache.keysOf('apps', 'gone'), { found: false, why: 'absent' });
  assert.ok(cache.keysOf('apps', 'denied') instanceof Promise);
  assert.deepEqual(calls, ['apps/gone', 'apps/denied', 'apps/denied']);
  await cache.keysOf('apps', 'denied');
  assert.deepEqual(counted, ['absent', 'unreadable', 'unreadable'], 'one count per GET, none per hit');
});

test('a read that does not answer in time is unreadable (the signal aborts it)', async () => {
  const { cache } = setup(
    (_namespace, _name, signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
  );
  assert.deepEqual(await cache.keysOf('apps', 'slow'), { found: false, why: 'unreadable' });
});

test('never more than the bound: the least recently used goes first', async () => {
  const { cache, calls } = setup(async () => ({ data: {} }));
  for (const name of ['a', 'b', 'c']) await cache.keysOf('ns', name);
  cache.keysOf('ns', 'a'); // used again: now the most recent
  await cache.keysOf('ns', 'd');
  assert.equal(cache.size, 3);
  assert.ok(!(cache.keysOf('ns', 'a') instanceof Promise), 'a stayed');
  assert.ok(cache.keysOf('ns', 'b') instanceof Promise, 'b, the coldest, went');
  assert.equal(calls.filter((call) => call === 'ns/b').length, 2);
});

test('a ConfigMap with no data sets nothing; a data field of the wrong shape is unreadable', async () => {
  const { cache } = setup(async (_namespace, name) =>
    name === 'empty' ? { metadata: { name } } : { data: ['AWS_REGION'] },
  );
  assert.deepEqual(await cache.keysOf('ns', 'empty'), { found: true, regionKeys: [] });
  assert.deepEqual(await cache.keysOf('ns', 'odd'), { found: false, why: 'unreadable' });
});
