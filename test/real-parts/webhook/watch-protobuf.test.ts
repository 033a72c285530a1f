// The docs say the webhook's 51,000-account sync is fast because its metadata-only watch asks for protobuf
// (src/kube/watch-protobuf.ts). That holds only while the real API server answers that request in protobuf:
// a server that answered JSON would still work, through the JSON decoder, and the claim would be silently
// false. Here the real kube-apiserver is asked exactly as startListWatch asks (its Accept header, a
// watch-list), and the answer must be protobuf frames that decode to the account, its annotation and the
// initial-events-end bookmark.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { METADATA_ONLY_WATCH } from '../../../src/identity/list-watch.ts';
import { kubeConfigFileConnection, kubeGet } from '../../../src/kube/connection.ts';
import {
  type DecodedWatchEvent,
  decodeWatchEvent,
  frameSplitter,
  PROTOBUF_CONTENT_TYPE,
} from '../../../src/kube/watch-protobuf.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';

const ROLE = 'arn:aws:iam::111122223333:role/protobuf';
let kube: KubeApiserver | undefined;

before(async (t) => {
  if (!realPart(t, 'KIRSA_KUBE_APISERVER') || !realPart(t, 'KIRSA_ETCD')) return;
  kube = await startKubeApiserver();
});

after(async () => {
  await kube?.stop();
});

test("the real API server answers kirsa's metadata-only watch-list in protobuf, and it decodes", async (t) => {
  if (!kube) return t.skip('needs the real kube-apiserver and etcd');
  const created = await kube.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
    metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
  });
  assert.equal(created.status, 201);
  const connection = await kubeConfigFileConnection(kube.kubeconfigPath);
  const controller = new AbortController();
  const response = await kubeGet(connection, {
    path: '/api/v1/serviceaccounts?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=0',
    accept: METADATA_ONLY_WATCH,
    signal: controller.signal,
    idleTimeoutMs: 30_000,
  });
  try {
    assert.equal(response.statusCode, 200);
    assert.ok(
      (response.headers['content-type'] ?? '').startsWith(PROTOBUF_CONTENT_TYPE),
      String(response.headers['content-type']),
    );
    const events: DecodedWatchEvent[] = [];
    const push = frameSplitter((bytes, start, end) => events.push(decodeWatchEvent(bytes, start, end)));
    for await (const chunk of response) {
      push(chunk as Buffer);
      if (events.some((event) => event.type === 'BOOKMARK')) break;
    }
    const app = events.find((event) => event.object.metadata.name === 'app');
    assert.equal(app?.type, 'ADDED');
    assert.equal(app?.object.metadata.namespace, 'default');
    assert.equal(app?.object.metadata.annotations?.['eks.amazonaws.com/role-arn'], ROLE);
    assert.match(app?.object.metadata.resourceVersion ?? '', /^\d+$/);
    const bookmark = events.find((event) => event.type === 'BOOKMARK');
    assert.equal(bookmark?.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
  } finally {
    controller.abort();
    response.destroy();
  }
});
