// Finding 10 of the hardening issue: an API server (or a proxy in front of it) whose errors echo the
// request's Authorization header put the webhook's bearer token into its logs, because redaction went by
// field path and these arrive as free text. The real `kirsa webhook` is pointed with a kubeconfig at such an
// API server on loopback: every list answers 401 with the header echoed in the Status message, and the
// ServiceAccount watch gets an ERROR event whose Status.message carries it too. The token (opaque and
// JWT-shaped) must appear in no log line, while the failures themselves are still logged.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { startWebhook, type WebhookProcess } from '../../support/webhook-harness.ts';

const JWT_TOKEN = `eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.${Buffer.from('{"sub":"system:serviceaccount:kirsa:webhook"}').toString('base64url')}.c2lnbmF0dXJlLWJ5dGVz`;
const OPAQUE_TOKEN = 'kirsa-secret-9f8e7d6c5b4a';

let apiServer: Server;
let lists = 0;
let dir: string;
let cert: ServingCertificate;
const webhooks: WebhookProcess[] = [];

before(async () => {
  // An API server that lists ServiceAccounts (empty) every other time and refuses the others with a 401
  // echoing the header, ends each watch with an ERROR event echoing it, and refuses everything else so.
  apiServer = createServer((request, response) => {
    const echoed = `Authorization: ${request.headers.authorization ?? ''}`;
    const url = new URL(request.url ?? '/', 'http://localhost');
    // As the API server reads it (Go's ParseBool): kirsa's own watch sends watch=1, client-node watch=true.
    const watching = ['1', 't', 'true', 'True', 'TRUE'].includes(url.searchParams.get('watch') ?? '');
    // Every other list is refused, so both the refused list and the watch's ERROR event are seen.
    if (
      url.pathname === '/api/v1/serviceaccounts' &&
      !watching &&
      lists++ % 2 === 1 // the first list of each webhook is refused
    ) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({
          kind: 'ServiceAccountList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '7' },
          items: [],
        }),
      );
      return;
    }
    if (url.pathname === '/api/v1/serviceaccounts' && watching) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 500,
        message: `watch broke; ${echoed}`,
      };
      response.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    response.writeHead(401, { 'Content-Type': 'application/json' });
    response.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 401,
        message: `Unauthorized; ${echoed}`,
        reason: 'Unauthorized',
      }),
    );
  });
  apiServer.listen(0, '127.0.0.1');
  await once(apiServer, 'listening');
  dir = await mkdtemp(join(tmpdir(), 'kirsa-log-secrets-'));
  cert = await makeServingCertificate();
});

after(async () => {
  for (const webhook of webhooks) await webhook.stop('SIGKILL');
  apiServer?.closeAllConnections();
  apiServer?.close();
  await cert?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function kubeconfig(token: string): Promise<string> {
  const { port } = apiServer.address() as AddressInfo;
  const path = join(dir, `kubeconfig-${token.length}`);
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return path;
}

for (const [kind, token] of [
  ['an opaque token', OPAQUE_TOKEN],
  ['a JWT', JWT_TOKEN],
] as const) {
  test(`finding 10: ${kind} echoed by the API server never reaches the log`, async () => {
    const webhook = await startWebhook([
      '--tls-cert',
      cert.certFile,
      '--tls-key',
      cert.keyFile,
      '--kubeconfig',
      await kubeconfig(token),
      '--shutdown-drain-delay',
      '0s',
    ]);
    webhooks.push(webhook);
    // Both paths were taken: the watch's ERROR event and a refused list were logged.
    await webhook.waitForLog((line) => line.msg === 'watch error event', 20_000);
    await webhook.waitForLog((line) => line.msg === 'list failed; retrying', 20_000);
    await webhook.stop('SIGTERM');
    const output = webhook.logs.map((line) => JSON.stringify(line)).join('\n') + webhook.stderr();
    assert.ok(!output.includes(token), 'the token is in the log');
    // A part of the token long enough to matter is not either (no partial redaction).
    assert.ok(!output.includes(token.slice(-16)), 'a part of the token is in the log');
    assert.match(output, /\[redacted\]/);
  });
}
