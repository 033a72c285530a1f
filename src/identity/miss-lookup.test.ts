// The miss path's own rules, with the real cache and a fetcher the test controls (the fetcher against a
// real kube-apiserver is exercised in test/real-parts/webhook/kube-watch.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LookupResult } from '../core/identity/source.ts';
import { createLogger } from '../io/log.ts';
import { createMissLookup } from './miss-lookup.ts';
import { createServiceAccountCache, type ServiceAccountFetcher } from './service-accounts.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';

function account(namespace: string, name: string) {
  return {
    metadata: { namespace, name, annotations: { 'eks.amazonaws.com/role-arn': ROLE, other: 'dropped' } },
  };
}

function setup(
  fetch: ServiceAccountFetcher,
  overrides: { graceMs?: number; burst?: number; now?: () => number } = {},
) {
  const cache = createServiceAccountCache('eks.amazonaws.com');
  const counted: LookupResult[] = [];
  const lookUp = createMissLookup({
    cache,
    fetch,
    graceMs: overrides.graceMs ?? 200,
    ratePerSecond: 10,
    burst: overrides.burst ?? 20,
    negativeCacheMs: 1000,
    countLookup: (result) => counted.push(result),
    logger: createLogger('silent'),
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  return { cache, counted, lookUp };
}

describe('miss lookup', () => {
  test('concurrent misses for one account share one GET, and the result lands in the cache', async () => {
    let calls = 0;
    const { cache, counted, lookUp } = setup(async (namespace, name) => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return account(namespace, name);
    });
    const views = await Promise.all([lookUp('ns', 'app'), lookUp('ns', 'app'), lookUp('ns', 'app')]);
    assert.equal(calls, 1);
    for (const view of views) assert.deepEqual(view?.annotations, { 'eks.amazonaws.com/role-arn': ROLE });
    assert.deepEqual(counted, ['found']);
    assert.equal(cache.get('ns', 'app')?.name, 'app');
  });

  test('a 404 is remembered for a while, and forgotten when the watch stores the account', async () => {
    let clock = 0;
    let calls = 0;
    const { cache, counted, lookUp } = setup(
      async () => {
        calls += 1;
        return undefined;
      },
      { now: () => clock },
    );
    assert.equal(await lookUp('ns', 'ghost'), undefined);
    assert.equal(await lookUp('ns', 'ghost'), undefined);
    assert.equal(calls, 1);
    assert.deepEqual(counted, ['not_found', 'negative_cached']);
    clock += 1001;
    assert.equal(await lookUp('ns', 'ghost'), undefined);
    assert.equal(calls, 2);
    cache.upsert(account('ns', 'ghost'));
    // Stored by the watch: the negative answer is gone (still within its time), so a miss asks again.
    assert.equal(cache.get('ns', 'ghost')?.name, 'ghost');
    await lookUp('ns', 'ghost');
    assert.equal(calls, 3);
    assert.deepEqual(counted, ['not_found', 'negative_cached', 'not_found', 'not_found']);
  });

  test('the GET is aborted at the grace deadline and the answer is "not found"', async () => {
    let aborted = false;
    const { counted, lookUp } = setup(
      (_namespace, _name, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
      { graceMs: 50 },
    );
    const started = performance.now();
    assert.equal(await lookUp('ns', 'slow'), undefined);
    const waited = performance.now() - started;
    assert.ok(waited >= 45 && waited < 1000, `waited ${waited} ms`);
    assert.equal(aborted, true);
    assert.deepEqual(counted, ['failed']);
  });

  test('a failed GET still lets the watch deliver within the grace period', async () => {
    // A grace period far above the delivery delay: the test is about the failed GET not ending the wait,
    // and a loaded machine can hold a 30 ms timer past a 200 ms one.
    const { cache, lookUp } = setup(
      async () => {
        throw Object.assign(new Error('boom'), { code: 500 });
      },
      { graceMs: 5000 },
    );
    const pending = lookUp('ns', 'late');
    setTimeout(() => cache.upsert(account('ns', 'late')), 30);
    assert.equal((await pending)?.name, 'late');
  });

  test('without a token it does not GET, and waits for the watch', async () => {
    let calls = 0;
    const { cache, counted, lookUp } = setup(
      async () => {
        calls += 1;
        return undefined;
      },
      { burst: 1, now: () => 0 },
    );
    assert.equal(await lookUp('ns', 'one'), undefined);
    const pending = lookUp('ns', 'two');
    setTimeout(() => cache.upsert(account('ns', 'two')), 20);
    assert.equal((await pending)?.name, 'two');
    assert.equal(calls, 1);
    assert.deepEqual(counted, ['not_found', 'rate_limited']);
  });
});
