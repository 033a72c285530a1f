// The list-then-watch loop against a local HTTP server that answers as kube-apiserver does: a watch-list
// (sendInitialEvents) fills the sink up to the initial-events-end bookmark and its answer goes on as the
// watch, without any list request; a server that refuses the watch-list (HTTP 422, as one without the
// WatchList feature gate answers, measured on kube-apiserver 1.37.2) is listed in pages and then watched
// from the list's version; a watch-list that ends before its bookmark commits nothing and is tried again;
// and an event right behind the bookmark applies after the commit, not before it.

import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import {
  initialEventsEndEvent,
  metadataEvent,
  PROTOBUF_WATCH_CONTENT_TYPE,
  statusEvent,
} from '../../test/support/kube-protobuf.ts';
import { createLogger } from '../io/log.ts';
import { anonymousConnection } from '../kube/connection.ts';
import { startListWatch } from './list-watch.ts';
import { createServiceAccountCache, watchServiceAccounts } from './service-accounts.ts';

type Kind = 'watch-list' | 'watch' | 'list';
interface Seen {
  kind: Kind;
  query: URLSearchParams;
  accept: string | undefined;
}

let answer: (kind: Kind, query: URLSearchParams, response: ServerResponse) => void = () => {};
const seen: Seen[] = [];
const open = new Set<ServerResponse>();
const server = createServer((request, response) => {
  const query = new URL(request.url ?? '/', 'http://x').searchParams;
  const kind: Kind =
    query.get('watch') !== '1' ? 'list' : query.get('sendInitialEvents') === 'true' ? 'watch-list' : 'watch';
  seen.push({ kind, query, accept: request.headers.accept });
  open.add(response);
  response.on('close', () => open.delete(response));
  answer(kind, query, response);
});

before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
after(() => {
  for (const response of open) response.destroy();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

function connection() {
  return anonymousConnection(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

function logs() {
  const lines: Array<{ msg: string; [key: string]: unknown }> = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  return { lines, logger };
}

const account = (name: string, resourceVersion: string, role?: string) => ({
  kind: 'PartialObjectMetadata',
  metadata: {
    name,
    namespace: 'default',
    resourceVersion,
    ...(role ? { annotations: { 'eks.amazonaws.com/role-arn': role } } : {}),
  },
});
const event = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
const initialEventsEnd = (resourceVersion: string) =>
  event('BOOKMARK', {
    kind: 'PartialObjectMetadata',
    metadata: { resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
  });

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A sink that records what each relist committed, and the events after. */
function recorder() {
  const commits: string[][] = [];
  const events: string[] = [];
  return {
    commits,
    events,
    beginRelist() {
      const names: string[] = [];
      return {
        add: (item: unknown) => names.push((item as { metadata: { name: string } }).metadata.name),
        commit: () => {
          commits.push(names);
        },
      };
    },
    onEvent(type: string, object: unknown) {
      events.push(`${type} ${(object as { metadata: { name: string } }).metadata.name}`);
    },
  };
}

/** A list-watch of the test server's things into a recorder, with its log lines. */
function watchThings(options: { metadataOnly?: boolean } = {}) {
  const sink = recorder();
  const { lines, logger } = logs();
  const handle = startListWatch({
    name: 'test',
    connection: connection(),
    ...options,
    path: '/api/v1/things',
    ...sink,
    logger,
  });
  return { sink, lines, handle };
}

test('the watch-list fills the sink up to its bookmark and goes on as the watch, with no list request', async () => {
  seen.length = 0;
  answer = (kind, _query, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    if (kind !== 'watch-list') return; // a later plain watch stays open and quiet
    response.write(event('ADDED', account('a', '5')) + event('ADDED', account('b', '7')));
    response.write(initialEventsEnd('10'));
    setTimeout(() => {
      response.write(event('MODIFIED', account('a', '11')));
      setTimeout(() => response.end(), 50);
    }, 50);
  };
  const { sink, handle } = watchThings();
  try {
    await handle.synced;
    assert.deepEqual(sink.commits, [['a', 'b']]);
    await until(() => (sink.events.length > 0 ? true : undefined), 'the event after the bookmark');
    assert.deepEqual(sink.events, ['MODIFIED a']);
    // The watch-list's answer ended: the next watch resumes from the last version it carried.
    const next = await until(() => seen.find((each) => each.kind === 'watch'), 'the next watch');
    assert.equal(next.query.get('resourceVersion'), '11');
    const first = seen[0]!;
    assert.equal(first.kind, 'watch-list');
    assert.equal(first.query.get('resourceVersionMatch'), 'NotOlderThan');
    assert.equal(first.query.get('allowWatchBookmarks'), 'true');
    assert.equal(first.query.get('resourceVersion'), null, 'the state as of now');
    assert.equal(
      seen.some((each) => each.kind === 'list'),
      false,
    );
  } finally {
    handle.stop();
  }
});

test('a server that refuses the watch-list (422) is listed in pages, then watched from the list version', async () => {
  seen.length = 0;
  answer = (kind, query, response) => {
    if (kind === 'watch-list') {
      response.writeHead(422, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: 'Status',
          status: 'Failure',
          reason: 'Invalid',
          code: 422,
          message:
            'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
        }),
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    if (kind === 'watch') return;
    const second = query.get('continue') === 'page-2';
    response.end(
      JSON.stringify({
        kind: 'List',
        metadata: second ? { resourceVersion: '20' } : { resourceVersion: '20', continue: 'page-2' },
        items: [second ? account('b', '7') : account('a', '5')],
      }),
    );
  };
  const { sink, lines, handle } = watchThings();
  try {
    await handle.synced;
    assert.deepEqual(sink.commits, [['a', 'b']]);
    const refused = lines.find(
      (line) => line.msg === 'the API server refuses a watch-list; listing in pages',
    );
    assert.equal(refused?.status, 422);
    const watch = await until(() => seen.find((each) => each.kind === 'watch'), 'the watch');
    assert.equal(watch.query.get('resourceVersion'), '20');
    assert.deepEqual(
      seen.map((each) => each.kind),
      ['watch-list', 'list', 'list', 'watch'],
    );
  } finally {
    handle.stop();
  }
});

test('a watch-list that ends before its bookmark commits nothing and is tried again', async () => {
  seen.length = 0;
  let attempts = 0;
  answer = (kind, _query, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    if (kind !== 'watch-list') return;
    attempts++;
    if (attempts === 1) {
      response.end(event('ADDED', account('a', '5')));
      return;
    }
    response.write(
      event('ADDED', account('a', '5')) + event('ADDED', account('b', '7')) + initialEventsEnd('10'),
    );
  };
  const { sink, lines, handle } = watchThings();
  try {
    await handle.synced;
    assert.equal(attempts, 2);
    assert.deepEqual(sink.commits, [['a', 'b']]);
    const failed = lines.find((line) => line.msg === 'list failed; retrying');
    assert.match(String(failed?.reason), /ended before its initial-events-end bookmark/);
  } finally {
    handle.stop();
  }
});

test('an event right behind the bookmark, in the same chunk, applies after the commit', async () => {
  seen.length = 0;
  const role = 'arn:aws:iam::111122223333:role/a';
  answer = (kind, _query, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    if (kind !== 'watch-list') return;
    response.write(
      event('ADDED', account('a', '5', role)) +
        event('ADDED', account('b', '7', role)) +
        initialEventsEnd('10') +
        event('DELETED', account('a', '11', role)),
    );
  };
  const cache = createServiceAccountCache('eks.amazonaws.com');
  const handle = watchServiceAccounts({ connection: connection(), cache, logger: createLogger('silent') });
  try {
    await handle.synced;
    await until(() => (cache.size === 1 ? true : undefined), 'the deletion');
    assert.equal(cache.get('default', 'a'), undefined);
    assert.equal(cache.get('default', 'b')?.annotations['eks.amazonaws.com/role-arn'], role);
    assert.equal(seen[0]?.query.get('sendInitialEvents'), 'true');
  } finally {
    handle.stop();
  }
});

test('a metadata-only watch asks for protobuf first and takes it in, split anyhow, through a 410 relist', async () => {
  seen.length = 0;
  const role = 'arn:aws:iam::111122223333:role/a';
  const protobufAccount = (name: string, resourceVersion: string) => ({
    name,
    namespace: 'default',
    resourceVersion,
    annotations: { 'eks.amazonaws.com/role-arn': role },
    labels: { 'app.kubernetes.io/name': name },
  });
  let watchLists = 0;
  answer = (kind, _query, response) => {
    response.writeHead(200, { 'content-type': PROTOBUF_WATCH_CONTENT_TYPE });
    if (kind !== 'watch-list') return;
    watchLists++;
    const stream =
      watchLists === 1
        ? Buffer.concat([
            metadataEvent('ADDED', protobufAccount('a', '5')),
            metadataEvent('ADDED', protobufAccount('b', '7')),
            initialEventsEndEvent('10'),
            metadataEvent('MODIFIED', protobufAccount('c', '11')),
            // The history ran out: the API server ends the watch with a Status, and kirsa lists again.
            statusEvent(410, 'too old resource version: 11 (30)'),
          ])
        : Buffer.concat([metadataEvent('ADDED', protobufAccount('b', '31')), initialEventsEndEvent('32')]);
    // In pieces of 7 bytes: frames and their lengths cut anywhere.
    for (let at = 0; at < stream.length; at += 7) response.write(stream.subarray(at, at + 7));
  };
  const cache = createServiceAccountCache('eks.amazonaws.com');
  const { lines, logger } = logs();
  const handle = watchServiceAccounts({ connection: connection(), cache, logger });
  try {
    await handle.synced;
    await until(() => (watchLists === 2 && cache.size === 1 ? true : undefined), 'the relist after the 410');
    assert.equal(cache.get('default', 'a'), undefined);
    assert.equal(cache.get('default', 'c'), undefined);
    assert.equal(cache.get('default', 'b')?.annotations['eks.amazonaws.com/role-arn'], role);
    assert.ok(lines.some((line) => line.msg === 'watch history expired; listing again'));
    assert.match(
      String(seen[0]?.accept),
      /^application\/vnd\.kubernetes\.protobuf;as=PartialObjectMetadata;g=meta\.k8s\.io;v=v1,application\/json;as=PartialObjectMetadata/,
    );
  } finally {
    handle.stop();
  }
});

test('a protobuf watch whose bytes are not events fails, and the list is tried again', async () => {
  seen.length = 0;
  let watchLists = 0;
  answer = (kind, _query, response) => {
    response.writeHead(200, { 'content-type': PROTOBUF_WATCH_CONTENT_TYPE });
    if (kind !== 'watch-list') return;
    watchLists++;
    if (watchLists === 1) response.write(Buffer.from([0, 0, 0, 3, 0x0b, 0x0b, 0x0b]));
    else
      response.write(
        Buffer.concat([
          metadataEvent('ADDED', { name: 'a', namespace: 'default' }),
          initialEventsEndEvent('3'),
        ]),
      );
  };
  const { sink, lines, handle } = watchThings({ metadataOnly: true });
  try {
    await handle.synced;
    assert.deepEqual(sink.commits, [['a']]);
    const failed = lines.find((line) => line.msg === 'list failed; retrying');
    assert.match(String(failed?.reason), /not valid protobuf: protobuf wire type 3/);
  } finally {
    handle.stop();
  }
});
