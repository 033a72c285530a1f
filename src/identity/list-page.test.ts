// One list page as the API server writes it: the items handed over one by one with the page's
// resourceVersion and continue token, and an empty metadata-only list, which the API server writes as
// `"items": null` (kube-apiserver v1.37 does, measured), read as empty rather than as a bad answer: before,
// a cluster with no ServiceAccounts yet never synced. The answer is decoded as it arrives, so a character of
// several bytes split across two chunks must come out whole.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { anonymousConnection } from '../kube/connection.ts';
import { listPage } from './list-page.ts';
import { METADATA_ONLY_LIST } from './list-watch.ts';

let server: Server;
let answer = '';
const seen: Array<{ url: string; accept: string }> = [];
before(async () => {
  server = createServer((request, response) => {
    seen.push({ url: request.url ?? '', accept: String(request.headers.accept) });
    response.writeHead(200, { 'content-type': 'application/json' });
    // Cut inside the first character of several bytes, if any, and sent in two writes apart in time: the
    // character arrives split across two chunks.
    const bytes = Buffer.from(answer);
    const cut = bytes.findIndex((byte) => byte >= 0x80) + 1;
    if (cut === 0) return void response.end(bytes);
    response.write(bytes.subarray(0, cut));
    setTimeout(() => response.end(bytes.subarray(cut)), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function read(body: string) {
  answer = body;
  const items: unknown[] = [];
  const connection = anonymousConnection(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return listPage(connection, { path: '/api/v1/serviceaccounts', accept: METADATA_ONLY_LIST }, (item) =>
    items.push(item),
  ).then((page) => ({ page, items }));
}

test('the items of a page, its resourceVersion and its continue token', async () => {
  const { page, items } = await read(
    JSON.stringify({
      kind: 'PartialObjectMetadataList',
      metadata: { resourceVersion: '42', continue: 'next' },
      items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }],
    }),
  );
  assert.deepEqual(items, [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }]);
  assert.deepEqual(page, { resourceVersion: '42', continueToken: 'next' });
  assert.equal(seen.at(-1)?.accept, METADATA_ONLY_LIST);
});

test('a page whose characters of several bytes arrive split across chunks reads as the API server wrote it', async () => {
  const annotations = { 'example.com/team': 'équipe ✓ 東京' };
  const { items } = await read(
    JSON.stringify({ metadata: { resourceVersion: '1' }, items: [{ metadata: { annotations } }] }),
  );
  assert.deepEqual(items, [{ metadata: { annotations } }]);
});

test('an empty metadata-only list, written with "items": null, is an empty page', async () => {
  // The exact bytes kube-apiserver answers for a metadata-only list of a collection with nothing in it.
  const { page, items } = await read(
    '{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"209"},"items":null}\n',
  );
  assert.deepEqual(items, []);
  assert.deepEqual(page, { resourceVersion: '209', continueToken: undefined });
});

test('an answer that is not a list is still refused', async () => {
  await assert.rejects(read('{"kind":"Status","metadata":{}}'), /the list answer has no items/);
  await assert.rejects(read('{"kind":"X","items":{"a":1}}'), /the list answer has no items/);
});
