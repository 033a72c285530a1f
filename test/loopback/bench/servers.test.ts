// The benchmarks' measuring parts, checked so a figure cannot come from a server that answered wrong:
// - the load generator's HTTP/1.1 client reads chunked answers (how Go's net/http sends the reference
//   webhook's large ones) as well as ones with a Content-Length, on one keep-alive connection;
// - the Go floor (bench/go-floor/, built as the benchmark builds it) answers a review exactly as the Node
//   floor does: status, content type and body (skipped, with the reason, where Go is not installed);
// - a connection the server closed (idle, or on a failed request) fails its posts at once instead of
//   leaving them waiting forever, and the load's pool drops it and opens another in its place: the Node
//   floor's 5 s keep-alive used to hang the admission benchmark this way;
// - the Node parsing floor parses each review and answers its uid with kirsa's own patch for the pod;
// - a reply counts as giving a role whether the patch adds env entries (kirsa) or whole containers (the
//   reference webhook).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { goFloorBinary, patchGivesRole, startGoFloor } from '../../../bench/go-servers.ts';
import { connectionPool, openConnection } from '../../../bench/http1-client.ts';
import { kirsaPatches, makeReview } from '../../../bench/pods.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { startServerProcess } from '../../support/webhook-harness.ts';

const NODE_FLOOR = new URL('../../../bench/floor-server.ts', import.meta.url).pathname;

let cert: ServingCertificate;
before(async () => {
  cert = await makeServingCertificate();
});
after(async () => {
  await cert.cleanup();
});

test('the load client reads chunked and sized answers in turn on one connection', async () => {
  const large = 'x'.repeat(23_000);
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.url === '/chunked') {
        // No Content-Length and several writes: Node sends it chunked, as Go does past 2 KB.
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.write('{"a":"');
        response.write(large);
        response.end('"}');
      } else {
        const body = '{"b":1}';
        response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
        response.end(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const connection = await openConnection(port, cert.caPem);
  try {
    for (const path of ['/chunked', '/sized', '/chunked']) {
      const answer = await connection.post(path, '{}');
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body), path === '/sized' ? { b: 1 } : { a: large });
    }
  } finally {
    connection.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** An HTTPS server answering {} to any request, and destroying the connection of a request to /drop. */
async function plainServer() {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (request, response) => {
    if (request.url === '/drop') return request.socket.destroy();
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as { port: number }).port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// The timeout only keeps a regression from hanging the suite: nothing here measures time.
test('a connection the server closed while idle fails at once, and the pool replaces it', {
  timeout: 30_000,
}, async () => {
  const { server, port, close } = await plainServer();
  const pool = connectionPool(port, cert.caPem, 2);
  try {
    await pool.open(1);
    const first = await pool.acquire();
    assert.equal((await first.post('/', '{}')).status, 200);
    pool.release(first);
    server.closeIdleConnections(); // what Node's keep-alive timeout does to an idle connection
    while (!first.closed) await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(first.post('/', '{}'));
    const next = await pool.acquire();
    assert.notEqual(next, first);
    assert.equal((await next.post('/', '{}')).status, 200);
    assert.deepEqual({ opened: pool.opened, dropped: pool.dropped }, { opened: 2, dropped: 1 });
  } finally {
    pool.closeAll();
    await close();
  }
});

test('a request waiting for a connection gets a new one when a busy one fails', {
  timeout: 30_000,
}, async () => {
  const { port, close } = await plainServer();
  const pool = connectionPool(port, cert.caPem, 1);
  try {
    const only = await pool.acquire();
    const waiting = pool.acquire(); // at the cap: waits for a connection to come back
    await assert.rejects(only.post('/drop', '{}'));
    pool.release(only);
    const replacement = await waiting;
    assert.notEqual(replacement, only);
    assert.equal((await replacement.post('/', '{}')).status, 200);
  } finally {
    pool.closeAll();
    await close();
  }
});

test('the Go floor answers a review as the Node floor does', async (t) => {
  const built = goFloorBinary();
  if ('skipped' in built) return t.skip(built.skipped);
  const review = makeReview('large', 'uid-floor');
  const answers = [];
  for (const command of [
    [built.binary, cert.certFile, cert.keyFile],
    [process.execPath, NODE_FLOOR, cert.certFile, cert.keyFile],
  ]) {
    const floor = await startServerProcess(command);
    try {
      const connection = await openConnection(floor.port, cert.caPem);
      const first = await connection.post('/mutate?timeout=10s', review);
      const second = await connection.post('/mutate?timeout=10s', review);
      connection.close();
      assert.deepEqual(second.body, first.body);
      answers.push({ status: first.status, contentType: first.contentType, body: first.body });
    } finally {
      await floor.stop('SIGKILL');
    }
  }
  assert.deepEqual(answers[0], answers[1]);
  assert.equal(answers[0]!.status, 200);
  assert.equal(JSON.parse(answers[0]!.body).response.allowed, true);
});

test("the Node parsing floor answers each review's uid with kirsa's patch for a pod of its size", async () => {
  const role = 'arn:aws:iam::123456789012:role/shop-app';
  const [small, large] = [makeReview('small', 'uid-small'), makeReview('large', 'uid-large')];
  const patches = await kirsaPatches([small, large], role, 'eu-west-1');
  // One patch per pod shape: 1 container, and 4 containers with 1 init container.
  assert.deepEqual(Object.keys(patches).sort(), ['1', '5']);
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-parse-floor-'));
  const file = join(dir, 'patches.json');
  await writeFile(file, JSON.stringify(patches));
  const floor = await startServerProcess([process.execPath, NODE_FLOOR, cert.certFile, cert.keyFile, file]);
  try {
    const connection = await openConnection(floor.port, cert.caPem);
    for (const [review, uid, shape] of [
      [large, 'uid-large', '5'],
      [small, 'uid-small', '1'],
    ] as const) {
      const answer = await connection.post('/mutate?timeout=10s', review);
      assert.equal(answer.status, 200);
      const { response } = JSON.parse(answer.body);
      assert.equal(response.uid, uid);
      assert.equal(response.patch, patches[shape]);
      assert.equal(patchGivesRole(answer.body, role), true);
    }
    connection.close();
  } finally {
    await floor.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('startGoFloor is what the benchmarks start: it listens on loopback and says its port', async (t) => {
  const built = goFloorBinary();
  if ('skipped' in built) return t.skip(built.skipped);
  const floor = await startGoFloor(built.binary, cert.certFile, cert.keyFile);
  try {
    assert.ok(floor.port > 0);
    const connection = await openConnection(floor.port, cert.caPem);
    assert.equal((await connection.post('/', '')).status, 200);
    connection.close();
  } finally {
    await floor.stop('SIGKILL');
  }
});

test('a reply gives a role through added env entries or through whole rewritten containers', () => {
  const role = 'arn:aws:iam::111122223333:role/app';
  const reply = (patch: unknown) =>
    JSON.stringify({
      response: { uid: 'u', allowed: true, patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
    });
  const envEntries = [
    { op: 'add', path: '/spec/containers/0/env/-', value: { name: 'AWS_ROLE_ARN', value: role } },
  ];
  const wholeContainers = [
    {
      op: 'add',
      path: '/spec/containers',
      value: [
        {
          name: 'main',
          env: [
            { name: 'AWS_REGION', value: 'eu-west-1' },
            { name: 'AWS_ROLE_ARN', value: role },
          ],
        },
      ],
    },
  ];
  assert.equal(patchGivesRole(reply(envEntries), role), true);
  assert.equal(patchGivesRole(reply(wholeContainers), role), true);
  assert.equal(patchGivesRole(reply(wholeContainers), 'arn:aws:iam::111122223333:role/other'), false);
  assert.equal(patchGivesRole(JSON.stringify({ response: { uid: 'u', allowed: true } }), role), false);
});
