import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastResortCollection } from '../io/last-resort-gc.ts';
import { createIdleRelease } from './idle-release.ts';

const MB = 2 ** 20;

/** A webhook's counters and memory as the release sees them, moved by the test. */
function world(startRss: number, options: { started?: () => boolean } = {}) {
  const state = { admissions: 0, rss: startRss, collected: 0, rssAfterCollect: startRss };
  const causes: string[] = [];
  const release = createIdleRelease({
    ...options,
    onRelease: (_before, _after, cause) => causes.push(cause),
    admissions: () => state.admissions,
    residentBytes: () => state.rss,
    collect: () => {
      state.collected += 1;
      state.rss = state.rssAfterCollect;
    },
    growthBytes: 8 * MB,
  });
  return { state, release, causes };
}

test('no release while admissions keep coming, one once they stop and memory grew', () => {
  const { state, release } = world(70 * MB);
  for (let i = 0; i < 5; i++) {
    state.admissions += 1000;
    state.rss += 10 * MB;
    assert.equal(release.check(), false);
  }
  state.rssAfterCollect = 85 * MB;
  assert.equal(release.check(), true);
  assert.equal(state.collected, 1);
});

test('a quiet webhook is collected once after start-up, then never while it does not grow', () => {
  const { state, release, causes } = world(70 * MB);
  state.admissions += 3;
  assert.equal(release.check(), false, 'an admission since the last look: not quiet');
  state.rssAfterCollect = 66 * MB;
  assert.equal(release.check(), true, "the first quiet look gives the start's garbage back");
  state.rss = 66 * MB + 8 * MB - 1;
  for (let i = 0; i < 10; i++) assert.equal(release.check(), false);
  assert.equal(state.collected, 1);
  assert.deepEqual(causes, ['start']);
});

test('the start-up release waits until every source has synced', () => {
  let synced = false;
  const { state, release, causes } = world(70 * MB, { started: () => synced });
  for (let i = 0; i < 5; i++) assert.equal(release.check(), false, 'quiet, but the first list is not in');
  synced = true;
  state.rssAfterCollect = 64 * MB;
  assert.equal(release.check(), true);
  for (let i = 0; i < 5; i++) assert.equal(release.check(), false);
  assert.equal(state.collected, 1);
  assert.deepEqual(causes, ['start']);
});

test('after a release, only new growth beyond its result brings another', () => {
  const { state, release } = world(70 * MB);
  state.admissions += 1000;
  state.rss = 120 * MB;
  release.check();
  state.rssAfterCollect = 86 * MB;
  assert.equal(release.check(), true);
  // What the collection could not return (malloc arenas) is the new baseline: quiet checks leave it alone.
  for (let i = 0; i < 10; i++) assert.equal(release.check(), false);
  state.admissions += 1000;
  state.rss = 93 * MB;
  release.check();
  assert.equal(release.check(), false, '7 MB over the last release is under the growth that pays');
  state.admissions += 1000;
  state.rss = 95 * MB;
  release.check();
  assert.equal(release.check(), true);
  assert.equal(state.collected, 2);
});

test('the collection is a real last-resort GC where gc is exposed, absent where it is not', () => {
  const collect = lastResortCollection();
  if ((globalThis as { gc?: unknown }).gc === undefined) assert.equal(collect, undefined);
  else assert.doesNotThrow(() => collect!());
});
