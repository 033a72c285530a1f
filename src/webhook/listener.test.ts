// The webhook's request listener over a real socket, without TLS: a plain node:http server on loopback
// mounts the same listener the HTTPS server mounts (TLS itself, certificate reloads and the process-level
// drain are covered by test/loopback/webhook). Identities come from the real provider, ServiceAccount cache and miss
// lookup; only the GET of a missing account is a function here, in place of the API server.

import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TOKEN_MOUNT_PATH } from '../consts.ts';
import { podCreateReview } from '../core/admission/review.ts';
import { createMissLookup } from '../identity/miss-lookup.ts';
import { createIdentityProvider } from '../identity/provider.ts';
import { createServiceAccountCache } from '../identity/service-accounts.ts';
import { createLogger } from '../io/log.ts';
import { createWebhookApp, type WebhookApp } from './app.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';

const PREFIX = 'eks.amazonaws.com';
const ROLE = 'arn:aws:iam::111122223333:role/app';

function account(namespace: string, name: string) {
  return { metadata: { namespace, name, annotations: { [`${PREFIX}/role-arn`]: ROLE } } };
}

function review(serviceAccountName: string, containers: unknown[], uid = `u-${serviceAccountName}`) {
  return JSON.stringify(
    podCreateReview(
      { metadata: { name: 'p' }, spec: { serviceAccountName, containers } },
      { uid, namespace: 'ns' },
    ),
  );
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request on a fresh connection; fails after `timeoutMs` rather than waiting for an answer forever. */
function call(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  timeoutMs = 3000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function responseOf(answer: Answer) {
  return (
    JSON.parse(answer.text) as {
      response: { uid: string; allowed: boolean; patch?: string; warnings?: string[] };
    }
  ).response;
}

let server: Server;
let port: number;
let app: WebhookApp;
let metrics: WebhookMetrics;
let notReady: string[] = [];
let fetches = 0;

before(async () => {
  const cache = createServiceAccountCache(PREFIX);
  cache.upsert(account('ns', 'cached'));
  const lookUpMiss = createMissLookup({
    cache,
    fetch: async (namespace, name) => {
      fetches += 1;
      return account(namespace, name);
    },
    graceMs: 1000,
    ratePerSecond: 100,
    burst: 100,
    negativeCacheMs: 1000,
    countLookup: () => {},
    logger: createLogger('silent'),
  });
  const identities = createIdentityProvider({
    annotationPrefix: PREFIX,
    defaults: { audience: 'sts.amazonaws.com', regionalSts: false, tokenExpirationSeconds: 86400 },
    containerCredentials: {
      audience: 'pods.eks.amazonaws.com',
      mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
      volumeName: 'eks-pod-identity-token',
      tokenFileName: 'eks-pod-identity-token',
      fullUri: 'http://169.254.170.23/v1/credentials',
    },
    serviceAccounts: { cache, lookUpMiss },
  });
  metrics = createWebhookMetrics({ defaultMetrics: false });
  app = createWebhookApp({
    identities,
    mutation: {
      annotationPrefix: PREFIX,
      tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
      defaultRegion: '',
      random: () => 0,
    },
    metrics,
    logger: createLogger('silent'),
    notReadyReasons: () => notReady,
    bodyLimitBytes: 4096,
  });
  server = createServer(app.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function errorCount(): Promise<number> {
  const text = await metrics.registry.metrics();
  return Number(/kirsa_webhook_admissions_total\{outcome="error"\} (\d+)/.exec(text)?.[1]);
}

describe('a pod whose mutation throws', () => {
  // A container that is null is no pod the API server would send, but any client in the cluster can.
  const hostile = [null, { name: 'c', image: 'x' }];

  test('cache hit: 200, allowed, no patch, a warning, counted as an error', async () => {
    const before = await errorCount();
    const answer = await call(port, 'POST', '/mutate', review('cached', hostile));
    assert.equal(answer.status, 200);
    const response = responseOf(answer);
    assert.equal(response.uid, 'u-cached');
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
    assert.match(response.warnings?.[0] ?? '', /admitted without AWS credentials/);
    assert.equal(await errorCount(), before + 1);
  });

  test('cache miss: the same answer once the lookup has found the account', async () => {
    const before = await errorCount();
    const fetched = fetches;
    const answer = await call(port, 'POST', '/mutate', review('fresh', hostile));
    assert.equal(fetches, fetched + 1, 'the miss path was taken');
    assert.equal(answer.status, 200);
    const response = responseOf(answer);
    assert.equal(response.uid, 'u-fresh');
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
    assert.match(response.warnings?.[0] ?? '', /admitted without AWS credentials/);
    assert.equal(await errorCount(), before + 1);
  });

  test('the same listener still mutates a well-formed pod on both paths', async () => {
    for (const name of ['cached', 'later']) {
      const answer = await call(port, 'POST', '/mutate', review(name, [{ name: 'c', image: 'x' }]));
      assert.equal(answer.status, 200);
      assert.ok(responseOf(answer).patch, `${name}: a patch`);
    }
  });
});

describe('routing and refusals', () => {
  test('unknown paths 404; wrong methods 405 with Allow; the query string is ignored', async () => {
    const missing = await call(port, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.text).error, /no such path \/nope/);
    const get = await call(port, 'GET', '/mutate');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const post = await call(port, 'POST', '/healthz', '{}');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const withQuery = await call(port, 'POST', '/mutate?timeout=10s', review('cached', [{ name: 'c' }]));
    assert.equal(withQuery.status, 200);
  });

  test('415 for another media type; a charset parameter is fine', async () => {
    const text = await call(port, 'POST', '/mutate', review('cached', []), { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.match(JSON.parse(text.text).error, /expected application\/json/);
    const charset = await call(port, 'POST', '/mutate', review('cached', []), {
      'content-type': 'application/json; charset=utf-8',
    });
    assert.equal(charset.status, 200);
  });

  test('413 for a body announced or streamed over the limit, and the connection is closed', async () => {
    const big = 'x'.repeat(5000);
    const announced = await call(port, 'POST', '/mutate', big);
    assert.equal(announced.status, 413);
    assert.equal(announced.headers.connection, 'close');
    const streamed = await call(port, 'POST', '/mutate', big, {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    assert.equal(streamed.status, 413);
    assert.match(JSON.parse(streamed.text).error, /over the 4096-byte limit/);
  });

  test('400 with the reason for a body that is not an AdmissionReview', async () => {
    const answer = await call(port, 'POST', '/mutate', '{"kind":"Pod"}');
    assert.equal(answer.status, 400);
    assert.match(JSON.parse(answer.text).error, /kind is "Pod"/);
  });
});

describe('health, readiness and drain', () => {
  test('healthz is ok; readyz lists the reasons it is not ready', async () => {
    assert.deepEqual(JSON.parse((await call(port, 'GET', '/healthz')).text), { status: 'ok' });
    notReady = ['the ServiceAccount watch has not synced yet'];
    const waiting = await call(port, 'GET', '/readyz');
    assert.equal(waiting.status, 503);
    assert.deepEqual(JSON.parse(waiting.text).reasons, notReady);
    notReady = [];
    assert.equal((await call(port, 'GET', '/readyz')).status, 200);
  });

  // Last: the drain is one-way.
  test('draining: not ready, still admitting, every answer asks the client to reconnect', async () => {
    app.beginDrain();
    assert.equal(app.draining, true);
    const ready = await call(port, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(JSON.parse(ready.text).reasons, ['shutting down']);
    assert.equal(ready.headers.connection, 'close');
    const admitted = await call(port, 'POST', '/mutate', review('cached', [{ name: 'c' }]));
    assert.equal(admitted.status, 200);
    assert.ok(responseOf(admitted).patch);
    assert.equal(admitted.headers.connection, 'close');
  });
});
