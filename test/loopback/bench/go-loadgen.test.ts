// The Go load generator (bench/go-loadgen/, built and run as the admission benchmark builds and runs it)
// against small HTTPS servers in this test that count what they answer:
// - open loop at a fixed rate: the server gets rate x (warm-up + duration) requests, exactly, and the report
//   counts rate x duration answers, every one right, whether sent chunked or with a length;
// - every answer is checked: a wrong status, a refusal, a patch without the role or no patch at all is
//   counted as wrong, exactly as often as the server sent one, and only the right ones are measured;
// - a connection the server drops with a request on it fails that request, is replaced, and the run ends.
// Skipped, with the reason, where the real parts' Go is not there. Nothing here is timed: the figures it
// prints are only checked to be there.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { goLoad } from '../../../bench/go-load.ts';
import { type GoBinary, goLoadgenBinary } from '../../../bench/go-servers.ts';
import { makeReview } from '../../../bench/pods.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';

let cert: ServingCertificate;
let built: GoBinary;
let bodiesFile: string;
before(async () => {
  cert = await makeServingCertificate();
  built = goLoadgenBinary();
  bodiesFile = join(cert.dir, 'bodies.jsonl');
  await writeFile(
    bodiesFile,
    `${Array.from({ length: 8 }, (_, i) => makeReview('small', `uid-${i}`)).join('\n')}\n`,
  );
});
after(async () => {
  await cert.cleanup();
});

/** An answer that allows the pod with a patch setting AWS_ROLE_ARN to `role` (as kirsa's env entries do). */
function patched(role: string): string {
  const patch = [
    { op: 'add', path: '/spec/containers/0/env/-', value: { name: 'AWS_ROLE_ARN', value: role } },
  ];
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: 'u',
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    },
  });
}

/**
 * An answer, sent with a Content-Length or chunked (in two writes without one, as Go's net/http sends the
 * reference webhook's large answers); or the connection dropped.
 */
type Reply = { status: number; body: string; chunked?: true } | 'drop';

/** An HTTPS server answering its n-th request (from 0) with `reply(n)`, counting the requests. */
async function countingServer(reply: (n: number) => Reply) {
  let requests = 0;
  const server = createServer(
    { cert: cert.certPem, key: cert.keyPem, keepAliveTimeout: 95_000 },
    (request, response) => {
      const n = requests++;
      request.resume();
      request.on('end', () => {
        const answer = reply(n);
        if (answer === 'drop') return request.socket.destroy();
        if (answer.chunked) {
          response.writeHead(answer.status, { 'Content-Type': 'application/json' });
          response.write(answer.body.slice(0, 10));
          return response.end(answer.body.slice(10));
        }
        response.writeHead(answer.status, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(answer.body),
        });
        response.end(answer.body);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const options = { rate: 200, connections: 25, open: 8 };

// The timeouts only keep a regression from hanging the suite: nothing here measures time.
test('at a fixed rate the server gets rate x (warm-up + duration) requests and every answer is counted', {
  timeout: 60_000,
}, async (t) => {
  if ('skipped' in built) return t.skip(built.skipped);
  const server = await countingServer((n) => ({
    status: 200,
    body: patched(ROLE),
    ...(n % 2 === 0 ? { chunked: true as const } : {}),
  }));
  try {
    const report = await goLoad(built.binary, {
      ...options,
      port: server.port,
      caFile: cert.caFile,
      bodiesFile,
      seconds: 2,
      warmupSeconds: 0.5,
      role: ROLE,
    });
    assert.equal(server.requests, 200 * 2.5);
    assert.deepEqual(
      {
        scheduled: report.scheduled,
        warmup: report.warmupScheduled,
        count: report.count,
        right: report.right,
        wrong: report.wrong,
        errors: report.errors,
      },
      { scheduled: 400, warmup: 100, count: 400, right: 400, wrong: 0, errors: 0 },
    );
    for (const figure of [
      report.p50Ms,
      report.p99Ms,
      report.p999Ms,
      report.maxMs,
      report.lagP99Ms,
      report.lagMaxMs,
    ])
      assert.ok(typeof figure === 'number' && figure >= 0, String(figure));
    assert.ok(report.connections >= options.open && report.connections <= options.connections);
  } finally {
    await server.close();
  }
});

test('a server that answers wrong is reported as wrong, as often as it did, and only right answers are measured', {
  timeout: 60_000,
}, async (t) => {
  if ('skipped' in built) return t.skip(built.skipped);
  const wrongAnswers = [
    { status: 500, body: patched(ROLE) },
    { status: 200, body: JSON.stringify({ response: { uid: 'u', allowed: false } }) },
    { status: 200, body: patched('arn:aws:iam::111122223333:role/other') },
    { status: 200, body: JSON.stringify({ response: { uid: 'u', allowed: true } }) },
  ];
  let sentWrong = 0;
  const server = await countingServer((n) => {
    if (n % 5 === 0) return { status: 200, body: patched(ROLE) };
    sentWrong += 1;
    return wrongAnswers[(n % 5) - 1]!;
  });
  try {
    const report = await goLoad(built.binary, {
      ...options,
      port: server.port,
      caFile: cert.caFile,
      bodiesFile,
      seconds: 1,
      role: ROLE,
    });
    assert.equal(server.requests, 200);
    assert.deepEqual(
      { count: report.count, right: report.right, wrong: report.wrong, errors: report.errors },
      { count: 200, right: 200 - sentWrong, wrong: sentWrong, errors: 0 },
    );
    assert.equal(sentWrong, 160);
    assert.equal(typeof report.firstWrong, 'string');
  } finally {
    await server.close();
  }
  // Without a role (a floor's answers carry no patch) only the status and the refusal are wrong.
  let refused = 0;
  const floor = await countingServer((n) => {
    const answer =
      n % 2 === 0 ? { status: 200, body: '{"response":{"uid":"u","allowed":true}}' } : wrongAnswers[1]!;
    if (n % 2 === 1) refused += 1;
    return answer;
  });
  try {
    const report = await goLoad(built.binary, {
      ...options,
      port: floor.port,
      caFile: cert.caFile,
      bodiesFile,
      seconds: 1,
    });
    assert.deepEqual({ right: report.right, wrong: report.wrong }, { right: 200 - refused, wrong: refused });
  } finally {
    await floor.close();
  }
});

test('a connection dropped with a request on it fails that request only, and the run ends', {
  timeout: 60_000,
}, async (t) => {
  if ('skipped' in built) return t.skip(built.skipped);
  let dropped = 0;
  const server = await countingServer((n) => {
    if (n % 40 !== 7) return { status: 200, body: patched(ROLE) };
    dropped += 1;
    return 'drop';
  });
  try {
    const report = await goLoad(built.binary, {
      ...options,
      port: server.port,
      caFile: cert.caFile,
      bodiesFile,
      seconds: 1,
      role: ROLE,
    });
    assert.equal(dropped, 5);
    assert.deepEqual(
      { count: report.count, right: report.right, errors: report.errors, dropped: report.dropped },
      { count: 200 - dropped, right: 200 - dropped, errors: dropped, dropped },
    );
  } finally {
    await server.close();
  }
});
