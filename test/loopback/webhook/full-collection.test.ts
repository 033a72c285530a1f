// The admission path's compiled code through a full collection (src/webhook/app.ts, "the last admission's
// objects"; docs/webhook.md, "Compiled code through a full collection"). V8's optimized code embeds the
// hidden classes of the objects it handles, and a full collection that finds no object of such a class left
// throws the code away ("embedded weak objects cleared" under --trace-deopt). The webhook holds its last
// small review and what it built from it, so the idle release's collection leaves the code in place.
//
// A child node runs the app from the sources under the image's node flags (with the flags the webhook sets
// once it listens), admits the benchmark's 20 KB review 3,000 times, runs the idle release's collection, and
// admits a few more. Two children: one whose last review is held, one whose last review was over the length
// the webhook holds, so the second shows the test sees the code thrown away when nothing holds the shapes.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Agent } from 'node:https';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeReview } from '../../../bench/pods.ts';
import { imageEnvironment, imageNodeFlags } from '../../../bench/webhook-process.ts';
import { SHAPES_KEPT_MAX_BODY_LENGTH } from '../../../src/consts.ts';
import { makeServingCertificate } from '../../support/tls.ts';
import { httpsCall } from '../../support/webhook-harness.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// Functions on the admission path that V8 compiled with the review's or the reply's classes embedded, as
// --trace-deopt named them when nothing held those objects.
const ADMISSION_PATH = [
  'admit',
  'answered',
  'parseAdmissionReview',
  'processAdmission',
  'mutatePod',
  'planContainer',
  'forEachSelectedContainer',
  'admissionReply',
];

// What both children start with: the app as the webhook builds it (holding up to KIRSA_TEST_KEEP_UP_TO
// characters of review), and the idle release's collection.
const APP = `
const root = process.env.KIRSA_TEST_ROOT;
const { createWebhookApp } = await import(root + 'src/webhook/app.ts');
const { createWebhookMetrics } = await import(root + 'src/webhook/metrics.ts');
const { createLogger } = await import(root + 'src/io/log.ts');
const { setV8Flags, v8FlagsWhenListening } = await import(root + 'src/io/v8-flags.ts');
const { lastResortCollection } = await import(root + 'src/io/last-resort-gc.ts');
const { DEFAULT_TOKEN_MOUNT_PATH } = await import(root + 'src/consts.ts');
const identity = { mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/app', audience: 'sts.amazonaws.com',
  regionalSts: false, tokenExpirationSeconds: 86400, source: 'test' };
const metrics = createWebhookMetrics({ defaultMetrics: false });
const logger = createLogger('silent');
const app = createWebhookApp({
  identities: { identityFor: () => ({ identity, serviceAccountMissing: false }) },
  mutation: { annotationPrefix: 'eks.amazonaws.com', tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
    defaultRegion: 'eu-west-1', random: Math.random },
  metrics, logger, notReadyReasons: () => [],
  shapesKeptMaxBodyLength: Number(process.env.KIRSA_TEST_KEEP_UP_TO),
});
const collect = lastResortCollection();
if (collect === undefined) throw new Error('gc is not exposed');
`;

const CHILD = `${APP}
const { makeReview } = await import(root + 'bench/pods.ts');
setV8Flags(v8FlagsWhenListening(process.env));
const reviews = Array.from({ length: 16 }, (_, i) => makeReview('large', 'uid-' + i, 'app'));
const admit = (body) => {
  const answer = app.admit(body);
  if (answer.status !== 200 || !answer.body.includes('"patch"')) throw new Error('not patched: ' + answer.body);
};
for (let i = 0; i < 3000; i++) admit(reviews[i % 16]);
// Built in a function, so that no variable of this script holds the parsed review's objects.
const longReview = () => {
  const review = JSON.parse(reviews[0]);
  review.request.object.metadata.annotations = { note: 'x'.repeat(Number(process.env.KIRSA_TEST_LENGTH)) };
  return JSON.stringify(review);
};
if (process.env.KIRSA_TEST_LAST === 'long') admit(longReview());
collect();
for (let i = 0; i < 100; i++) admit(reviews[i % 16]);
`;

/** What V8 compiled and threw away on the admission path, by function name, in one child's run. */
function runChild(last: 'held' | 'long'): { compiled: Set<string>; cleared: Set<string> } {
  const run = spawnSync(
    process.execPath,
    [...imageNodeFlags(), '--trace-opt', '--trace-deopt', '--input-type=module', '-e', CHILD],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      env: {
        ...process.env,
        ...imageEnvironment(),
        KIRSA_TEST_ROOT: ROOT,
        KIRSA_TEST_LAST: last,
        KIRSA_TEST_LENGTH: String(SHAPES_KEPT_MAX_BODY_LENGTH + 1),
        KIRSA_TEST_KEEP_UP_TO: String(SHAPES_KEPT_MAX_BODY_LENGTH),
      },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  return compiledAndCleared(run.stdout.split('\n'), ADMISSION_PATH);
}

/**
 * Of the functions named, those V8 compiled and those whose code a full collection threw away, from a
 * child's --trace-opt --trace-deopt lines. "Embedded weak objects cleared" is a collection's reason only,
 * so the lines can be read whole, whatever order the child's own output came in.
 */
function compiledAndCleared(
  lines: string[],
  names: string[],
): { compiled: Set<string>; cleared: Set<string> } {
  const named = (pattern: RegExp) =>
    new Set(
      lines
        .map((line) => pattern.exec(line)?.[1])
        .filter((name): name is string => name !== undefined && names.includes(name)),
    );
  return {
    compiled: named(/^\[completed compiling .*<JSFunction ([\w.]+) /),
    cleared: named(
      /^\[marking dependent code .*<SharedFunctionInfo ([\w.]+)>.*embedded weak objects cleared/,
    ),
  };
}

test('a full collection leaves the admission path compiled while the last review is held', () => {
  const held = runChild('held');
  assert.ok(held.compiled.size >= 4, `compiled: ${[...held.compiled].join(', ')}`);
  assert.deepEqual([...held.cleared], [], 'code thrown away by the collection');
});

test('a review too long to hold leaves nothing holding the shapes: the collection throws the code away', () => {
  const long = runChild('long');
  assert.ok(long.compiled.size >= 4, `compiled: ${[...long.compiled].join(', ')}`);
  assert.ok(long.cleared.size >= 1, `code thrown away: ${[...long.cleared].join(', ') || 'none'}`);
});

// The same through HTTPS: Node's own HTTP and stream code (parserOnIncoming, IncomingMessage, resOnFinish,
// Readable.resume, ...) is compiled with the classes of the request, the response and the TLS socket embedded,
// and none of those is left once the API server's connections close. The webhook holds its last admission's
// request, response and headers with the review, so the idle release's collection leaves that code compiled
// too. The child serves the app with the webhook's own server (src/webhook/server.ts); this process is its
// client, so no client object in the child shares those classes. Two children again, the same traffic: one
// holding as the webhook does, one told to hold nothing (shapesKeptMaxBodyLength 0).

const HTTP_CHILD = `${APP}
const { startWebhookServer } = await import(root + 'src/webhook/server.ts');
const { createInterface } = await import('node:readline');
const server = await startWebhookServer({ app, metrics, logger, certFile: process.env.KIRSA_TEST_CERT,
  keyFile: process.env.KIRSA_TEST_KEY, minVersion: 'TLSv1.2', host: '127.0.0.1', port: 0, metricsPort: 0,
  drainDelayMs: 0 });
setV8Flags(v8FlagsWhenListening(process.env));
console.log('listening ' + server.port);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'collect') {
    // Once the client's connections are closed here too, and what closing them ran is over: that code
    // meets sockets in states it was not compiled for, which is no part of the collection.
    while (process.getActiveResourcesInfo().includes('TCPSocketWrap')) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    collect();
    console.log('collected');
  }
  if (line === 'exit') process.exit(0);
}
`;

/** Sends each body in turn over `sockets` keep-alive connections; resolves when every answer is a patch. */
async function sendAll(port: number, ca: string, bodies: string[], sockets: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const one = async (body: string) => {
    const answer = await httpsCall(port, { agent, ca, body });
    if (answer.status !== 200 || !answer.body.includes('"patch"'))
      throw new Error(`not patched: ${answer.status} ${answer.body.slice(0, 200)}`);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: sockets }, async () => {
      while (next < bodies.length) await one(bodies[next++]!);
    }),
  );
  // The connections close, as the API server's do when its load goes: no request, response or socket is
  // left in the child but what the webhook holds.
  agent.destroy();
}

// Functions of Node's HTTP server and streams, and kirsa's around them, that V8 compiled with the request's,
// the response's or the headers' classes embedded, as --trace-deopt named them when nothing held those objects.
const HTTP_PATH = [
  'IncomingMessage',
  'ServerResponse',
  'OutgoingMessage',
  'writeHead',
  '_storeHeader',
  '_addHeaderLines',
  'strictContentLength',
  'parserOnBody',
  'onParserExecuteCommon',
  'Readable.resume',
  'resume_',
  'listener',
  'handleMutate',
  'send',
  'finishAdmission',
];

/** One child's run over HTTPS: what it compiled and threw away on the HTTP path. */
async function httpChild(held: boolean): Promise<{ compiled: Set<string>; cleared: Set<string> }> {
  const cert = await makeServingCertificate();
  const child = spawn(
    process.execPath,
    [...imageNodeFlags(), '--trace-opt', '--trace-deopt', '--input-type=module', '-e', HTTP_CHILD],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...imageEnvironment(),
        KIRSA_TEST_ROOT: ROOT,
        KIRSA_TEST_CERT: cert.certFile,
        KIRSA_TEST_KEY: cert.keyFile,
        KIRSA_TEST_KEEP_UP_TO: String(held ? SHAPES_KEPT_MAX_BODY_LENGTH : 0),
      },
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines: string[] = [];
  const waiting: Array<{ pattern: RegExp; found: (line: string) => void }> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wait of waiting.splice(0)) {
      if (wait.pattern.test(line)) wait.found(line);
      else waiting.push(wait);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const lineLike = (pattern: RegExp) =>
    Promise.race([
      new Promise<string>((found) => waiting.push({ pattern, found })),
      exited.then((code) => {
        throw new Error(`the child exited (${code}) before a line like ${pattern}: ${stderr}`);
      }),
    ]);
  try {
    const port = Number((await lineLike(/^listening \d+$/)).split(' ')[1]);
    const reviews = Array.from({ length: 16 }, (_, i) => makeReview('large', `uid-${i}`, 'app'));
    // Three rounds of connections opened and closed, so that V8 has also compiled what closing them runs: code
    // first compiled without it is thrown away when a connection closes, before any collection could.
    for (let round = 0; round < 3; round++)
      await sendAll(
        port,
        cert.caPem,
        Array.from({ length: 1000 }, (_, i) => reviews[i % 16]!),
        4,
      );
    child.stdin.write('collect\n');
    await lineLike(/^collected$/);
    // New connections after the collection, as the API server's next ones: still answered right.
    await sendAll(
      port,
      cert.caPem,
      Array.from({ length: 100 }, (_, i) => reviews[i % 16]!),
      4,
    );
    child.stdin.write('exit\n');
    assert.equal(await exited, 0, stderr);
    return compiledAndCleared(lines, HTTP_PATH);
  } finally {
    child.kill();
    await cert.cleanup();
  }
}

test("over HTTPS, a full collection leaves Node's HTTP code compiled while the last admission is held", async () => {
  const held = await httpChild(true);
  assert.ok(held.compiled.size >= 6, `compiled: ${[...held.compiled].join(', ')}`);
  assert.deepEqual([...held.cleared], [], 'code thrown away by the collection');
});

// With nothing held, V8's collection throws most of the code away in most children: 100-118 functions, these
// fifteen among them, 12-15 of these in a child. In about one child in twenty (17 of some 310 in session 22's
// scratch runs) the same collection threw away far less: at most 9 of these (fewer than 3, this control's bar,
// in 7 children), 13-29 functions in all where counted, kirsa's own admission path left compiled too, although a
// heap snapshot right after it found no response alive and no class of the response's left but the constructor's
// first one. A second collection 100 ms later changed nothing, and the cause was not found. So the control runs
// up to three children: what it shows is that this test sees the code thrown away when nothing holds it, which a
// hold that kept everything (or a trace this test could not read) would fail in all three.
test("over HTTPS, with nothing held the collection throws Node's HTTP code away", async () => {
  /** How many of HTTP_PATH a child must show thrown away. */
  const enough = 3;
  const children: Array<{ compiled: Set<string>; cleared: Set<string> }> = [];
  while (children.length < 3 && (children.at(-1)?.cleared.size ?? 0) < enough)
    children.push(await httpChild(false));
  const list = (names: Set<string>) => [...names].join(', ') || 'none';
  const last = children.at(-1)!;
  assert.ok(last.compiled.size >= 6, `compiled: ${list(last.compiled)}`);
  assert.ok(
    last.cleared.size >= enough,
    `code thrown away, child by child: ${children.map((child) => list(child.cleared)).join(' | ')}`,
  );
});
