// The webhook's resource model under attack, as a client inside the cluster would send it to the real
// `kirsa webhook` over TLS on loopback, while a well-behaved client keeps admitting small pods beside it:
// - finding 2: a pod with tens of thousands of containers (one 1 MB review; four 2.7 MB ones at once; one
//   past the ~65,000 arguments a spread takes) is admitted unchanged with a warning and counted, the other
//   admissions keep flowing and memory stays bounded.
// Each test prints the peak RSS and the longest stall of the concurrent small admissions it saw. What they
// assert is order, not time (speed lives in `npm run bench`): a small admission is answered while the large
// reviews are still arriving (their last bytes are held back until it is), and again after they are answered.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, type TestContext, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { apiServerReview } from '../../support/admission-reviews.ts';
import { makeServingCertificate } from '../../support/tls.ts';
import {
  decodeReply,
  eventually,
  httpGet,
  httpsCall,
  metricValue,
  podReview,
  replaceServingPair,
  startWebhook,
  type WebhookFolder,
  type WebhookProcess,
  webhookFolder,
} from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';

let folder: WebhookFolder;
const processes: WebhookProcess[] = [];

before(async () => {
  folder = await webhookFolder('kirsa-resources-', { '*/app': { RoleARN: ROLE } });
});

after(async () => {
  for (const webhook of processes) await webhook.stop('SIGKILL');
  await folder?.cleanup();
});

async function start(extra: string[] = []): Promise<WebhookProcess> {
  const webhook = await startWebhook([...folder.flags, '--aws-default-region', 'eu-west-1', ...extra]);
  processes.push(webhook);
  return webhook;
}

/** VmRSS and VmHWM (peak RSS) of a process, in MB, from /proc. */
export async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

/**
 * A well-behaved client beside the attack: one small admission after another on a keep-alive connection, as
 * the API server sends them. stop() resolves with the longest any of them took, and how many were answered.
 */
export function smallAdmissions(webhook: WebhookProcess, ca: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  let longestMs = 0;
  let answered = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const answer = await httpsCall(webhook.port, { ca, agent, body: podReview(), timeoutMs: 30_000 });
        if (answer.status !== 200 || decodeReply(answer.body).patch === undefined)
          failures.push(`${answer.status} ${answer.body.slice(0, 200)}`);
        else answered += 1;
      } catch (error) {
        failures.push(String(error));
      }
      longestMs = Math.max(longestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    /** How many small admissions have been answered so far. */
    get answered() {
      return answered;
    },
    /** Resolves once `more` small admissions have been answered after this call. */
    async answeredMore(more: number) {
      const target = answered + more;
      await eventually(async () => (answered >= target || failures.length > 0 ? true : undefined));
      assert.deepEqual(failures, [], 'a small admission failed');
    },
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { longestMs: Math.round(longestMs), answered, failures };
    },
  };
}

/**
 * A review sent all but its last kilobyte: the webhook has it part-way in, as a large review arriving slowly
 * from the API server, until release() sends the rest. `answer` settles with the webhook's answer.
 */
function heldBackReview(port: number, ca: string, body: string) {
  const bytes = Buffer.from(body);
  const held = 1024;
  let release = () => {};
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate?timeout=30s',
        ca,
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length },
        timeout: 60_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
    request.write(bytes.subarray(0, bytes.length - held));
    release = () => request.end(bytes.subarray(bytes.length - held));
  });
  return { answer, release };
}

/** A pod CREATE review as the API server sends it, for a pod of `containers` containers. */
function manyContainers(containers: number, image = 'busybox'): string {
  return apiServerReview({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'wide-' },
    spec: {
      serviceAccountName: 'app',
      containers: Array.from({ length: containers }, (_, index) => ({ name: `c${index}`, image })),
    },
  });
}

async function overLimitCount(webhook: WebhookProcess): Promise<number> {
  const { body } = await httpGet(webhook.metricsPort, '/metrics');
  return metricValue(body, 'kirsa_webhook_admissions_total', { outcome: 'over_limit' }) ?? 0;
}

function assertAdmittedUnchangedOverLimit(body: string) {
  const reply = decodeReply(body);
  assert.equal(reply.response.allowed, true);
  assert.equal(reply.patch, undefined, 'no patch for a pod over the container cap');
  assert.match(reply.response.warnings?.join('\n') ?? '', /containers, over the \d+ one admission works on/);
}

test('finding 2: a pod with 60,000 containers is admitted unchanged, warned and counted, without stalling others', async (t: TestContext) => {
  const webhook = await start();
  const ca = folder.cert.caPem;
  const body = manyContainers(60_000);
  assert.ok(body.length > 1_000_000 && body.length < 3 * 1024 * 1024, `${body.length} bytes`);
  const baseline = await memoryOf(webhook.child.pid!);
  const small = smallAdmissions(webhook, ca);
  for (let round = 0; round < 3; round += 1) {
    const large = heldBackReview(webhook.port, ca, body);
    // The small client is served while the large review is part-way in...
    await small.answeredMore(2);
    large.release();
    const answer = await large.answer;
    assert.equal(answer.status, 200);
    assertAdmittedUnchangedOverLimit(answer.body);
    // ...and once it has been answered.
    await small.answeredMore(1);
  }
  const { longestMs, answered, failures } = await small.stop();
  const memory = await memoryOf(webhook.child.pid!);
  t.diagnostic(
    `60,000 containers x3: RSS ${baseline.rssMb} -> peak ${memory.peakMb} MB; longest small admission ${longestMs} ms (${answered} answered)`,
  );
  assert.deepEqual(failures, []);
  assert.ok(memory.peakMb - baseline.rssMb < 100, `RSS grew ${memory.peakMb - baseline.rssMb} MB`);
  assert.equal(await overLimitCount(webhook), 3);
});

test('finding 2: four 2.7 MB reviews at once, and one past the 65,000 arguments a spread takes', async (t: TestContext) => {
  const webhook = await start();
  const ca = folder.cert.caPem;
  // 2.7 MB of containers with real-looking images, as the attack sent them.
  const wide = manyContainers(34_000, 'public.ecr.aws/docker/library/busybox:1.36.1-glibc-x');
  assert.ok(wide.length > 2_600_000 && wide.length < 3 * 1024 * 1024, `${wide.length} bytes`);
  const widest = manyContainers(70_000, 'b');
  assert.ok(widest.length < 3 * 1024 * 1024, `${widest.length} bytes`);
  const baseline = await memoryOf(webhook.child.pid!);
  const small = smallAdmissions(webhook, ca);
  const large = [
    ...Array.from({ length: 4 }, () => heldBackReview(webhook.port, ca, wide)),
    heldBackReview(webhook.port, ca, widest),
  ];
  // Five large reviews part-way in at once, and the small client is still served...
  await small.answeredMore(2);
  for (const review of large) review.release();
  const answers = await Promise.all(large.map((review) => review.answer));
  // ...and still is once all five have been answered.
  await small.answeredMore(1);
  const { longestMs, answered, failures } = await small.stop();
  const memory = await memoryOf(webhook.child.pid!);
  t.diagnostic(
    `4 x 2.7 MB + 70,000 containers: RSS ${baseline.rssMb} -> peak ${memory.peakMb} MB; longest small admission ${longestMs} ms (${answered} answered)`,
  );
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assertAdmittedUnchangedOverLimit(answer.body);
  }
  assert.deepEqual(failures, []);
  assert.ok(memory.peakMb - baseline.rssMb < 150, `RSS grew ${memory.peakMb - baseline.rssMb} MB`);
  assert.equal(await overLimitCount(webhook), 5);
});

test('finding 2: a pod just at the container cap is still given its credentials', async () => {
  const webhook = await start();
  const answer = await httpsCall(webhook.port, { ca: folder.cert.caPem, body: manyContainers(250) });
  const reply = decodeReply(answer.body);
  assert.equal(reply.response.allowed, true);
  const envs = (reply.patch ?? []).filter((op) => /^\/spec\/containers\/\d+\/env$/.test(op.path));
  assert.equal(envs.length, 250);
  assert.equal(await overLimitCount(webhook), 0);
});

// --- Finding 3: bodies, connections and deadlines ------------------------------------------------------------

/** Opens a TLS connection to the webhook, as any client in the cluster can. */
async function tlsSocket(port: number, ca: string): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  return socket;
}

/** Resolves with the first bytes the server answered (if any) and when the connection closed. */
function whenClosed(socket: Socket, started: number): Promise<{ answer: string; afterMs: number }> {
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    if (answer.length < 200) answer += chunk.toString('latin1');
  });
  return new Promise((resolve) =>
    socket.once('close', () => resolve({ answer, afterMs: Math.round(performance.now() - started) })),
  );
}

async function refusedCount(webhook: WebhookProcess, reason: string): Promise<number> {
  const { body } = await httpGet(webhook.metricsPort, '/metrics');
  return metricValue(body, 'kirsa_webhook_refused_total', { reason }) ?? 0;
}

/**
 * The attacker runs in a process of its own, so that encrypting its 300 MB does not stall the well-behaved
 * client's event loop and the stall measured is the webhook's.
 */
const ATTACKER = `
const { connect } = require('node:tls');
const [port, ca, count, declared] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const body = Buffer.alloc(declared - 1, 0x20);
let ready = 0;
for (let i = 0; i < count; i += 1) {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
    socket.write('POST /mutate?timeout=10s HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + declared + '\\r\\n\\r\\n');
    socket.write(body, () => {});
    if (++ready === count) console.log('sent');
  });
  socket.on('error', () => {});
}
setInterval(() => {}, 1000);
`;

test('finding 3: 100 clients each sending 3 MiB less one byte are refused early; memory stays bounded', async (t: TestContext) => {
  const webhook = await start();
  const ca = folder.cert.caPem;
  const baseline = await memoryOf(webhook.child.pid!);
  const small = smallAdmissions(webhook, ca);
  const attacker = spawn(
    process.execPath,
    ['-e', ATTACKER, String(webhook.port), ca, '100', String(3 * 1024 * 1024)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await once(attacker.stdout!, 'data');
    // Every client has had its chance to send; the ones still open hold their body, one byte short. The small
    // client is served while they do.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await small.answeredMore(2);
    const memory = await memoryOf(webhook.child.pid!);
    const { longestMs, answered, failures } = await small.stop();
    const refused = await refusedCount(webhook, 'in_flight_bytes');
    t.diagnostic(
      `100 x (3 MiB - 1): RSS ${baseline.rssMb} -> peak ${memory.peakMb} MB; ${refused} refused; longest small admission ${longestMs} ms (${answered} answered)`,
    );
    assert.deepEqual(failures, []);
    assert.ok(refused >= 90, `only ${refused} refused`);
    assert.ok(memory.peakMb - baseline.rssMb < 100, `RSS grew ${memory.peakMb - baseline.rssMb} MB`);
  } finally {
    attacker.kill('SIGKILL');
  }
});

test('finding 3: connections past the cap are closed on accept and counted; the API server still gets in', async () => {
  const webhook = await start();
  const sockets: Socket[] = [];
  for (let index = 0; index < 530; index += 1) {
    const socket = netConnect({ host: '127.0.0.1', port: webhook.port });
    socket.on('error', () => {});
    sockets.push(socket);
  }
  await Promise.all(sockets.map((socket) => once(socket, 'connect').catch(() => {})));
  await eventually(async () => ((await refusedCount(webhook, 'max_connections')) >= 18 ? true : undefined));
  for (const socket of sockets) socket.destroy();
  // Once the attacker's connections are gone, a real admission is answered.
  await eventually(async () => {
    const answer = await httpsCall(webhook.port, { ca: folder.cert.caPem, body: podReview() });
    return answer.status === 200 ? true : undefined;
  });
});

test('finding 3 and 15: slow headers, an endless body and a silent TLS connection are closed at the documented deadlines', async () => {
  const webhook = await start();
  const ca = folder.cert.caPem;
  // A connection that never starts TLS: closed after the 10 s handshake timeout (Node's default: 120 s).
  const silent = netConnect({ host: '127.0.0.1', port: webhook.port });
  silent.on('error', () => {});
  await once(silent, 'connect');
  const silentClosed = whenClosed(silent, performance.now());
  // Headers sent one byte a second: closed at the 30 s header deadline.
  const slowHeaders = await tlsSocket(webhook.port, ca);
  const slowClosed = whenClosed(slowHeaders, performance.now());
  const headerText = 'POST /mutate HTTP/1.1\r\nHost: localhost\r\nX-Slow: ';
  const drip = setInterval(() => {
    if (!slowHeaders.destroyed) slowHeaders.write('a');
  }, 1_000);
  slowHeaders.write(headerText);
  // An endless chunked body: closed with 408 at the 30 s request deadline.
  const endless = await tlsSocket(webhook.port, ca);
  const endlessClosed = whenClosed(endless, performance.now());
  endless.write(
    'POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  // The same on the metrics port: its deadline is 10 s (it reads no body).
  const metricsEndless = netConnect({ host: '127.0.0.1', port: webhook.metricsPort });
  metricsEndless.on('error', () => {});
  await once(metricsEndless, 'connect');
  const metricsClosed = whenClosed(metricsEndless, performance.now());
  metricsEndless.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
  const feed = setInterval(() => {
    if (!endless.destroyed) endless.write('1\r\n \r\n');
    if (!metricsEndless.destroyed) metricsEndless.write('1\r\n \r\n');
  }, 500);
  try {
    const [silentResult, slowResult, endlessResult, metricsResult] = await Promise.all([
      silentClosed,
      slowClosed,
      endlessClosed,
      metricsClosed,
    ]);
    const within = (what: string, afterMs: number, deadlineMs: number) =>
      assert.ok(
        afterMs >= deadlineMs - 1_000 && afterMs <= deadlineMs + 2_500,
        `${what} closed after ${afterMs} ms, the deadline is ${deadlineMs} ms`,
      );
    within('the silent connection', silentResult.afterMs, 10_000);
    within('the slow headers', slowResult.afterMs, 30_000);
    within('the endless body', endlessResult.afterMs, 30_000);
    assert.match(endlessResult.answer, /^HTTP\/1\.1 408/);
    within('the endless metrics request', metricsResult.afterMs, 10_000);
    assert.ok((await refusedCount(webhook, 'tls_handshake_timeout')) >= 1);
  } finally {
    clearInterval(drip);
    clearInterval(feed);
  }
});

// --- Finding 10: a review that makes the decision throw, sent again and again ---------------------------------

test('finding 10: 300 reviews that make the decision throw log one line, without a stack', async () => {
  const webhook = await start();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const hostile = apiServerReview({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'app-' },
      spec: { serviceAccountName: 'app', containers: [null, { name: 'main', image: 'busybox' }] },
    });
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        httpsCall(webhook.port, { ca: folder.cert.caPem, agent, body: hostile }),
      ),
    );
    for (const answer of answers) assert.equal(decodeReply(answer.body).response.allowed, true);
  } finally {
    agent.destroy();
  }
  const { body } = await httpGet(webhook.metricsPort, '/metrics');
  assert.equal(metricValue(body, 'kirsa_webhook_admissions_total', { outcome: 'error' }), 300);
  const lines = webhook.logs.filter((line) => line.msg === 'admission failed; admitted unchanged');
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.ok(!JSON.stringify(webhook.logs).includes('    at '), 'a stack trace was logged');
});

// --- Finding 9: a certificate swap to a pair for another host ------------------------------------------------

test('finding 9: a new pair that does not name the served host is refused: old one kept, counted, not ready', async () => {
  const own = await webhookFolder('kirsa-cert-swap-', { '*/app': { RoleARN: ROLE } });
  const other = await makeServingCertificate({ hosts: ['attacker.example'] });
  try {
    const webhook = await startWebhook([...own.flags, '--shutdown-drain-delay', '0s']);
    processes.push(webhook);
    const before = await httpsCall(webhook.port, { ca: own.cert.caPem, body: podReview(), peer: true });
    assert.equal(before.status, 200);
    await replaceServingPair(own.dir, other);
    await webhook.waitForLog(
      (line) => line.msg === 'new serving certificate refused; still serving the previous one',
    );
    // Still the old certificate: the client that trusts it still gets answers.
    const after = await httpsCall(webhook.port, { ca: own.cert.caPem, body: podReview(), peer: true });
    assert.equal(after.status, 200);
    assert.equal(after.peerFingerprint, before.peerFingerprint);
    const { body } = await httpGet(webhook.metricsPort, '/metrics');
    assert.equal(metricValue(body, 'kirsa_webhook_certificate_refused_total'), 1);
    const ready = await httpGet(webhook.metricsPort, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /new serving certificate was refused \(it does not name [^)]*localhost/);
  } finally {
    await other.cleanup();
    await own.cleanup();
  }
});
