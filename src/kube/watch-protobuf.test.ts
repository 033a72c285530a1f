// The protobuf watch decoder: a stream captured from kube-apiserver 1.37.2 decodes to what its JSON said; the
// fields a watcher never reads are skipped whatever their wire type; any split of the stream into chunks
// gives the same events; and a stream that is not one fails with a reason instead of decoding garbage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  enveloped,
  field,
  frame,
  initialEventsEndEvent,
  metadataEvent,
  numberField,
  statusEvent,
  varint,
  watchEventMessage,
} from '../../test/support/kube-protobuf.ts';
import {
  type DecodedWatchEvent,
  decodeWatchEvent,
  frameSplitter,
  MAX_FRAME_BYTES,
} from './watch-protobuf.ts';

/**
 * A watch-list of the namespace "fixture" from kube-apiserver 1.37.2 (Accept:
 * application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1): one account created with
 * curl, with a label, managedFields, and annotations holding non-ASCII text, quotes, backslashes, a NUL, a
 * newline and the text "managedFields":[{}]; then the initial-events-end bookmark.
 */
const CAPTURED = Buffer.from(
  'AAAB3goFQURERUQS1AMK0QNrOHMACicKDm1ldGEuazhzLmlvL3YxEhVQYXJ0aWFsT2JqZWN0TWV0YWRhdGESnQMKmgMKDHVuaWNv' +
    'ZGUtdGVzdBIAGgdmaXh0dXJlIgAqJDE4ZDdhNmVhLTYwZjQtNGUxMi04OThkLWQ4MGNmZjQxMmNjNzIFNTE4MjY4AEIICIzGvdgG' +
    'EABaBgoBYRIBYmJLChpla3MuYW1hem9uYXdzLmNvbS9yb2xlLWFybhItYXJuOmF3czppYW06OjEyMzQ1Njc4OTAxMjpyb2xlL8O8' +
    'bsOvLeKYgy3wn5iAYksKBG5vdGUSQ2EgInF1b3RlZCIgXCBiYWNrXHNsYXNoLCAibWFuYWdlZEZpZWxkcyI6W3t9XSwgazhzACBh' +
    'bmQgCiBhIG5ld2xpbmWKAaABCgRjdXJsEgZVcGRhdGUaAnYxIggIjMa92AYQADIIRmllbGRzVjE6dgp0eyJmOm1ldGFkYXRhIjp7' +
    'ImY6YW5ub3RhdGlvbnMiOnsiLiI6e30sImY6ZWtzLmFtYXpvbmF3cy5jb20vcm9sZS1hcm4iOnt9LCJmOm5vdGUiOnt9fSwiZjps' +
    'YWJlbHMiOnsiLiI6e30sImY6YSI6e319fX1CABoAIgAAAAB7CghCT09LTUFSSxJvCm1rOHMACicKDm1ldGEuazhzLmlvL3YxEhVQ' +
    'YXJ0aWFsT2JqZWN0TWV0YWRhdGESOgo4CgASABoAIgAqADIFNTE4MjY4AEIAYiEKGWs4cy5pby9pbml0aWFsLWV2ZW50cy1lbmQS' +
    'BHRydWUaACIA',
  'base64',
);

/** What the same API server answered in JSON for that watch-list. */
const CAPTURED_EVENTS: DecodedWatchEvent[] = [
  {
    type: 'ADDED',
    object: {
      kind: 'PartialObjectMetadata',
      metadata: {
        name: 'unicode-test',
        namespace: 'fixture',
        resourceVersion: '51826',
        annotations: {
          'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/ünï-☃-😀',
          note: 'a "quoted" \\ back\\slash, "managedFields":[{}], k8s\u0000 and \n a newline',
        },
      },
    },
  },
  {
    type: 'BOOKMARK',
    object: {
      kind: 'PartialObjectMetadata',
      metadata: {
        name: '',
        namespace: '',
        resourceVersion: '51826',
        annotations: { 'k8s.io/initial-events-end': 'true' },
      },
    },
  },
];

function decodeAll(chunks: Buffer[]): DecodedWatchEvent[] {
  const events: DecodedWatchEvent[] = [];
  const push = frameSplitter((bytes, start, end) => events.push(decodeWatchEvent(bytes, start, end)));
  for (const chunk of chunks) push(chunk);
  return events;
}

test('a watch-list captured from kube-apiserver decodes to the fields its JSON had', () => {
  assert.deepEqual(decodeAll([CAPTURED]), CAPTURED_EVENTS);
});

test('every split of the stream into two or three chunks gives the same events', () => {
  for (let first = 0; first <= CAPTURED.length; first++) {
    const second = Math.min(CAPTURED.length, first + 3);
    const chunks = [CAPTURED.subarray(0, first), CAPTURED.subarray(first, second), CAPTURED.subarray(second)];
    assert.deepEqual(decodeAll(chunks), CAPTURED_EVENTS, `split at ${first} and ${second}`);
  }
  // One byte at a time: each frame's length arrives in four pieces.
  const bytes = [...CAPTURED].map((byte) => Buffer.from([byte]));
  assert.deepEqual(decodeAll(bytes), CAPTURED_EVENTS);
});

test('frames larger than the reused buffer, split across chunks, decode whole and in order', () => {
  const big = 'x'.repeat(100_000) + 'é';
  const stream = Buffer.concat([
    metadataEvent('ADDED', { name: 'small', namespace: 'a', annotations: { note: 'before' } }),
    metadataEvent('ADDED', { name: 'big', namespace: 'a', annotations: { note: big } }),
    metadataEvent('ADDED', { name: 'after', namespace: 'a', annotations: { note: 'after' } }),
  ]);
  for (const size of [1_000, 4_096, 70_000]) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
    const events = decodeAll(chunks);
    assert.deepEqual(
      events.map((event) => [event.object.metadata.name, event.object.metadata.annotations?.note]),
      [
        ['small', 'before'],
        ['big', big],
        ['after', 'after'],
      ],
      `chunks of ${size}`,
    );
  }
});

test('fields of every wire type a watcher does not read are skipped, known ones kept', () => {
  const unknown = [
    numberField(200, 2 ** 40), // a varint past 32 bits, with a two-byte tag
    Buffer.concat([varint(201 * 8 + 1), Buffer.alloc(8, 0xff)]), // fixed64
    Buffer.concat([varint(202 * 8 + 5), Buffer.alloc(4, 0xff)]), // fixed32
    field(17, field(1, 'kubectl')), // managedFields
    field(203, Buffer.from([0x0a, 0x02, 0x6e, 0x6f])), // bytes that look like a name field
  ];
  const events = decodeAll([
    metadataEvent('MODIFIED', {
      name: 'app',
      namespace: 'team',
      resourceVersion: '42',
      labels: { 'app.kubernetes.io/name': 'app' },
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/app', empty: '' },
      extra: unknown,
    }),
  ]);
  assert.deepEqual(events, [
    {
      type: 'MODIFIED',
      object: {
        kind: 'PartialObjectMetadata',
        metadata: {
          name: 'app',
          namespace: 'team',
          resourceVersion: '42',
          annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/app', empty: '' },
        },
      },
    },
  ]);
});

test('an ERROR event gives its Status code and message; a bookmark its annotation', () => {
  const [expired, bookmark] = decodeAll([
    statusEvent(410, 'too old resource version: 5 (20)'),
    initialEventsEndEvent('20'),
  ]);
  assert.equal(expired?.type, 'ERROR');
  assert.equal(expired?.object.kind, 'Status');
  assert.equal(expired?.object.code, 410);
  assert.equal(expired?.object.message, 'too old resource version: 5 (20)');
  assert.equal(bookmark?.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
  assert.equal(bookmark?.object.metadata.resourceVersion, '20');
});

test('a stream that is not one fails with its reason', () => {
  // A message cut short: its object's length claims more bytes than there are.
  assert.throws(() => decodeWatchEvent(CAPTURED, 4, 40), /runs past its message/);
  const cases: Array<[string, Buffer, RegExp]> = [
    [
      'an object without the k8s envelope',
      frame(watchEventMessage('ADDED', Buffer.from('{"kind":"x"}'))),
      /lacks the Kubernetes protobuf envelope/,
    ],
    [
      'a group (wire type 3)',
      frame(watchEventMessage('ADDED', enveloped('v1', 'X', Buffer.from([0x0b])))),
      /wire type 3/,
    ],
    ['an event without an object', frame(field(1, 'ADDED')), /no type or no object/],
  ];
  for (const [what, bytes, reason] of cases) assert.throws(() => decodeAll([bytes]), reason, what);
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
  assert.throws(() => decodeAll([huge]), /larger than any event/);
});
