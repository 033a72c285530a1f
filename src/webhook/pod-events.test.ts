import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podNotice } from '../core/admission/pod-event.ts';
import { createLogger } from '../io/log.ts';
import { createPodEvents } from './pod-events.ts';

const notice = (name: string) =>
  podNotice(
    { metadata: { name } },
    'apps',
    'invalid_identity',
    'kirsa: bad; no AWS credentials were injected.',
  )!;

test('one Event per key per interval, and a token bucket across keys; a failed post is logged, not thrown', async () => {
  let clock = 0;
  const posted: string[] = [];
  const events = createPodEvents({
    post: async (_namespace, event) => {
      posted.push((event.involvedObject as { name: string }).name);
      if (posted.length === 3) throw new Error('forbidden');
    },
    logger: createLogger('silent'),
    reportingInstance: 'test',
    intervalMs: 60_000,
    ratePerSecond: 1,
    burst: 2,
    now: () => clock,
  });
  assert.equal(events.report(notice('a')), 'sent');
  assert.equal(events.report(notice('a')), 'repeated');
  assert.equal(events.report(notice('b')), 'sent');
  assert.equal(events.report(notice('c')), 'rate_limited', 'the bucket of 2 is empty');
  clock = 1_000;
  assert.equal(events.report(notice('c')), 'sent', 'one token back after a second');
  clock = 61_000;
  assert.equal(events.report(notice('a')), 'sent', 'the key is free again after the interval');
  await events.settled();
  assert.deepEqual(posted, ['a', 'b', 'c', 'a']);
});
