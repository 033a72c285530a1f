import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podEvent, podNotice } from './pod-event.ts';

const WARNING =
  'kirsa: service account apps/x was not found in time; no AWS credentials were injected. Recreate it.';

test('a named pod is the subject; the reason is the outcome; only outcomes the owner can fix', () => {
  const notice = podNotice({ metadata: { name: 'web-1' } }, 'apps', 'service_account_missing', WARNING);
  assert.deepEqual(notice, {
    reason: 'ServiceAccountNotFound',
    message: 'service account apps/x was not found in time; no AWS credentials were injected. Recreate it.',
    subject: { apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'apps' },
    key: 'apps/web-1/ServiceAccountNotFound',
  });
  for (const outcome of ['mutated', 'no_identity', 'unchanged', 'error'])
    assert.equal(podNotice({ metadata: { name: 'web-1' } }, 'apps', outcome, WARNING), undefined, outcome);
});

test('a generated pod is told through its controller (with its uid), keyed by its prefix; no owner, no notice', () => {
  const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'u-1', controller: true };
  const notice = podNotice(
    {
      metadata: {
        generateName: 'web-7d9-',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Other', name: 'o' }, owner],
      },
    },
    'apps',
    'conflict',
    'kirsa: blocked; no AWS credentials were injected.',
  );
  assert.deepEqual(notice?.subject, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: 'web-7d9',
    namespace: 'apps',
    uid: 'u-1',
  });
  assert.equal(notice?.message, 'pod web-7d9-<generated>: blocked; no AWS credentials were injected.');
  assert.equal(notice?.key, 'apps/web-7d9-*/AWSCredentialsBlocked');
  assert.equal(podNotice({ metadata: { generateName: 'x-' } }, 'apps', 'conflict', WARNING), undefined);
});

test('the Event is a core/v1 Warning with a bounded message', () => {
  const notice = podNotice(
    { metadata: { name: 'p' } },
    'apps',
    'invalid_identity',
    `kirsa: ${'x'.repeat(3000)}`,
  )!;
  const event = podEvent(notice, { now: new Date('2026-12-01T00:00:00Z'), reportingInstance: 'kirsa-0' });
  assert.equal(event.type, 'Warning');
  assert.equal(event.reason, 'InvalidAWSRole');
  assert.equal((event.message as string).length, 1000);
  assert.deepEqual(event.metadata, { generateName: 'p.', namespace: 'apps' });
  assert.equal(event.firstTimestamp, '2026-12-01T00:00:00.000Z');
});
