// The webhook under abuse, as a process over TLS on loopback, bounded in count and time:
// - 100,000 malformed or mutated bodies: it never crashes, and every answer is a well-formed
//   AdmissionReview (allowed, uid echoed, a decodable patch if any) or a 4xx with a JSON error;
// - its certificate files replaced again and again under load: no request fails;
// - SIGTERM under load: no request that arrived before /readyz turned not-ready fails.

import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { after, before, test } from 'node:test';
import { openConnection } from '../../../bench/http1-client.ts';
import { makeReview } from '../../../bench/pods.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  httpsCall,
  replaceServingPair,
  startWebhook,
  type WebhookFolder,
  type WebhookProcess,
  webhookFolder,
} from '../../support/webhook-harness.ts';

const BODIES = 100_000;
/** Keep-alive connections, one request at a time on each, as the API server sends them (Go never pipelines). */
const CONNECTIONS = 32;

let folder: WebhookFolder;
let dir: string;
let cert: ServingCertificate;
const processes: WebhookProcess[] = [];

before(async () => {
  folder = await webhookFolder('kirsa-reliability-', {
    '*/app': { RoleARN: 'arn:aws:iam::111122223333:role/app' },
    'shop/app': { RoleARN: 'arn:aws:iam::111122223333:role/shop' },
    '*/default': { RoleARN: 'arn:aws:iam::111122223333:role/default', UseRegionalSTS: true },
  });
  ({ dir, cert } = folder);
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

// --- Bodies ------------------------------------------------------------------------------------------------

/** A small seeded generator (mulberry32), so a failure can be replayed from its index. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomJson(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return Math.floor(random() * 2 ** 40) * (random() < 0.5 ? -1 : 1);
    case 3:
      return random() * 1e308;
    case 4:
      return ['', 'a/b', '~', 'arn:aws:iam::111122223333:role/x', '\u0000', 'é☃', '*'][
        Math.floor(random() * 7)
      ];
    case 5:
      return 'x'.repeat(Math.floor(random() * 2000));
    case 6:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
          ['name', 'env', 'volumes', 'containers', 'metadata', 'spec', `k${i}`][Math.floor(random() * 7)]!,
          randomJson(random, depth + 1),
        ]),
      );
    default:
      return { name: 'aws-iam-token', mountPath: randomJson(random, depth + 1) };
  }
}

/** Every object and array in the document, with a way to change one of its members. */
function slots(
  document: unknown,
): Array<{ holder: Record<string, unknown> | unknown[]; key: string | number }> {
  const found: Array<{ holder: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        found.push({ holder: value, key: index });
        walk(item);
      });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        found.push({ holder: value as Record<string, unknown>, key });
        walk(item);
      }
    }
  };
  walk(document);
  return found;
}

// Mostly the small pod (cheap to mutate and send), every tenth the 20 KB one.
const templates = [makeReview('small', 'template-small'), makeReview('large', 'template-large')];
const parsedTemplates = templates.map((text) => JSON.parse(text) as Record<string, unknown>);

function abusiveBody(index: number): string | Buffer {
  const random = seeded(index);
  const which = index % 10 === 7 ? 1 : 0;
  const base = templates[which]!;
  const kind = index % 10;
  if (kind === 0) return base.slice(0, Math.floor(random() * base.length)); // truncated
  if (kind === 1) {
    const bytes = Buffer.from(base);
    for (let i = 0; i < 1 + Math.floor(random() * 8); i++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    return bytes; // flipped bytes, possibly invalid UTF-8
  }
  if (kind === 2) return JSON.stringify(randomJson(random)); // any JSON at all
  const document = structuredClone(parsedTemplates[which]!);
  const request = document.request as Record<string, unknown>;
  request.uid = `uid-${index}`;
  if (kind === 3) {
    // Envelope fields replaced.
    const field = ['apiVersion', 'kind', 'request'][Math.floor(random() * 3)]!;
    document[field] = randomJson(random);
    return JSON.stringify(document);
  }
  // Kinds 4-9: a valid envelope around a pod with members replaced or deleted; the mutation must cope.
  const all = slots(request.object);
  for (let i = 0; i < 1 + Math.floor(random() * 4); i++) {
    const slot = all[Math.floor(random() * all.length)];
    if (!slot) break;
    if (random() < 0.3 && !Array.isArray(slot.holder))
      delete (slot.holder as Record<string, unknown>)[slot.key];
    else (slot.holder as Record<string | number, unknown>)[slot.key] = randomJson(random);
  }
  if (kind === 9) request.namespace = randomJson(random);
  return JSON.stringify(document);
}

/** Why an answer is not acceptable, or undefined when it is. */
function judge(status: number, contentType: string | undefined, body: string): string | undefined {
  if (!/^application\/json/.test(contentType ?? '')) return `content-type ${contentType}`;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return `body is not JSON: ${body.slice(0, 200)}`;
  }
  if (status >= 400 && status < 500)
    return typeof parsed.error === 'string' ? undefined : 'a 4xx without an error';
  if (status !== 200) return `status ${status}`;
  if (parsed.kind !== 'AdmissionReview') return 'reply is not an AdmissionReview';
  if (!['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'].includes(String(parsed.apiVersion)))
    return 'apiVersion';
  const response = parsed.response as Record<string, unknown> | undefined;
  if (!response || typeof response.uid !== 'string' || response.uid === '') return 'no response uid';
  if (response.allowed !== true) return 'not allowed';
  if (response.patch !== undefined) {
    if (response.patchType !== 'JSONPatch') return 'patch without patchType';
    const patch = JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8')) as unknown;
    if (!Array.isArray(patch) || patch.some((op) => (op as { op?: string }).op !== 'add'))
      return 'patch is not adds';
  }
  return undefined;
}

test(`${BODIES.toLocaleString()} malformed or mutated bodies: no crash, every answer a review or a 4xx`, async () => {
  const webhook = await start();
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const connection = await openConnection(webhook.port, cert.caPem);
      while (next < BODIES && problems.length < 20) {
        const index = next++;
        try {
          const answer = await connection.post('/mutate?timeout=10s', abusiveBody(index));
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const problem = judge(answer.status, answer.contentType, answer.body);
          if (problem) problems.push(`body #${index}: ${problem}`);
        } catch (error) {
          problems.push(`body #${index}: ${(error as Error).message}`);
        }
      }
      connection.close();
    }),
  );
  assert.deepEqual(problems, [], `after ${next} bodies in ${Date.now() - started} ms`);
  assert.equal(next, BODIES);
  assert.equal(webhook.child.exitCode, null, 'the webhook is still running');
  const health = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/healthz' });
  assert.equal(health.status, 200);
  // The mix really exercised both sides: reviews answered and bodies refused.
  assert.ok((statuses.get(200) ?? 0) > BODIES / 3, JSON.stringify([...statuses]));
  assert.ok((statuses.get(400) ?? 0) > BODIES / 10, JSON.stringify([...statuses]));
  assert.equal(await webhook.stop(), 0);
});

/** Runs requests (some on kept-alive connections, some on fresh ones) until stopped; records each one. */
function loadUntil(port: number, ca: string | string[]) {
  const results: Array<{ started: number; ok: boolean; error?: string }> = [];
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 6, ca });
  let running = true;
  const workers = Array.from({ length: 8 }, async (_, worker) => {
    let index = 0;
    while (running) {
      const started = Date.now();
      try {
        const answer = await httpsCall(port, {
          ca: Array.isArray(ca) ? ca.join('\n') : ca,
          body: makeReview(index % 2 === 0 ? 'small' : 'large', `w${worker}-${index}`),
          ...(worker < 6 ? { agent: keepAlive } : {}),
        });
        const problem = judge(
          answer.status,
          answer.headers['content-type'] as string | undefined,
          answer.body,
        );
        results.push({
          started,
          ok: answer.status === 200 && !problem,
          ...(problem ? { error: problem } : {}),
        });
      } catch (error) {
        results.push({ started, ok: false, error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      index += 1;
    }
  });
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(workers);
      keepAlive.destroy();
    },
  };
}

test('certificate files replaced under load: no request fails', async () => {
  const second = await makeServingCertificate();
  try {
    const webhook = await start();
    const cas = [cert.caPem, second.caPem];
    const load = loadUntil(webhook.port, cas);
    const pairs = [second, cert];
    for (let swap = 0; swap < 12; swap++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await replaceServingPair(dir, pairs[swap % 2]!);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await load.stop();
    const failed = load.results.filter((result) => !result.ok);
    assert.ok(load.results.length > 200, `only ${load.results.length} requests`);
    assert.deepEqual(failed.slice(0, 5), []);
    // The swaps really happened (a few may coalesce into one reload).
    const reloads = webhook.logs.filter((line) => line.msg === 'serving certificate reloaded').length;
    assert.ok(reloads >= 6, `${reloads} reloads`);
    const seen = await httpsCall(webhook.port, { ca: cas.join('\n'), method: 'GET', path: '/healthz' });
    assert.equal(seen.status, 200);
  } finally {
    await second.cleanup();
  }
});

test('SIGTERM under load: no request that arrived before the not-ready flip fails', async () => {
  const drainMs = 1500;
  const webhook = await start(['--shutdown-drain-delay', `${drainMs}ms`]);
  const load = loadUntil(webhook.port, cert.caPem);
  await new Promise((resolve) => setTimeout(resolve, 700));
  webhook.child.kill('SIGTERM');
  // The flip: the first moment /readyz says not ready.
  let flippedAt = 0;
  while (flippedAt === 0) {
    const asked = Date.now();
    const ready = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/readyz' });
    if (ready.status === 503) flippedAt = asked;
  }
  const code = await webhook.exited;
  await load.stop();
  assert.equal(code, 0);
  const before = load.results.filter((result) => result.started < flippedAt);
  const during = load.results.filter(
    (result) => result.started >= flippedAt && result.started < flippedAt + drainMs - 300,
  );
  assert.ok(before.length > 50, `only ${before.length} requests before the flip`);
  assert.deepEqual(before.filter((result) => !result.ok).slice(0, 5), []);
  // Requests during the drain delay are answered too (the API server may still send them).
  assert.ok(during.length > 20, `only ${during.length} requests during the drain`);
  assert.deepEqual(during.filter((result) => !result.ok).slice(0, 5), []);
});
