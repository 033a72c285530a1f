// Finding 10 of the hardening issue, its last part: no pod content in logs. Anything that reaches the
// webhook's port can send a review, and every string in it is the sender's; before, a malformed label
// value in container-credentials mode reached the error log inside V8's TypeError message, the debug line
// of each admission carried the warnings that quote the pod, and the miss lookup and the Event post logged
// the API server's messages, which quote the service-account name and the Event. Here the real `kirsa
// webhook` (debug level, container credentials, the miss lookup and Events on) gets reviews over TLS whose
// every non-identifier string holds a marker, and reaches an API server stand-in on loopback that, as the
// real one does, quotes the name it refuses and (as a proxy might) the body it was sent. The marker must be
// in no log line, while each of those paths is still logged, by identifiers and codes.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  decodeReply,
  httpsCall,
  podReview,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

const MARK = 'POD-CONTENT-7c1e';
const ROLE = 'arn:aws:iam::111122223333:role/app';

let apiServer: Server;
let dir: string;
let cert: ServingCertificate;
let webhook: WebhookProcess;
const refused: string[] = [];

function status(code: number, message: string) {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    message,
    reason: 'Forbidden',
  });
}

before(async () => {
  // An API server with no ServiceAccounts that refuses every single GET and every Event, quoting the name
  // (as kube-apiserver does) and the body (as a proxy in front of it may).
  apiServer = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const watching = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    if (url.pathname === '/api/v1/serviceaccounts' && !watching) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '5' }, items: [] }),
      );
      return;
    }
    if (url.pathname === '/api/v1/serviceaccounts') {
      response.writeHead(200, { 'Content-Type': 'application/json' }); // a quiet watch, held open
      return;
    }
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      refused.push(`${request.method} ${url.pathname}`);
      const name = decodeURIComponent(url.pathname.split('/').at(-1) ?? '');
      response.writeHead(403, { 'Content-Type': 'application/json' });
      response.end(status(403, `serviceaccounts "${name}" is forbidden; request: ${body}`));
    });
  });
  apiServer.listen(0, '127.0.0.1');
  await once(apiServer, 'listening');
  dir = await mkdtemp(join(tmpdir(), 'kirsa-log-pod-'));
  cert = await makeServingCertificate();
  const { port } = apiServer.address() as AddressInfo;
  await writeFile(
    join(dir, 'kubeconfig'),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'u', user: { token: 'not-a-secret-here' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  // `cc` uses container credentials (EKS Pod Identity); `app` web identity; both from files, so the pods'
  // decisions do not wait for the API server.
  await writeFile(join(dir, 'identities.json'), JSON.stringify({ 'apps/app': { RoleARN: ROLE } }));
  await writeFile(
    join(dir, 'container-credentials.json'),
    JSON.stringify({ identities: [{ namespace: 'apps', serviceAccount: 'cc' }] }),
  );
  webhook = await startWebhook([
    '--tls-cert',
    cert.certFile,
    '--tls-key',
    cert.keyFile,
    '--kubeconfig',
    join(dir, 'kubeconfig'),
    '--identities-file',
    join(dir, 'identities.json'),
    '--watch-container-credentials-config',
    join(dir, 'container-credentials.json'),
    '--service-account-lookup-grace-period',
    '200ms',
    '--log-level',
    'debug',
    '--aws-default-region',
    'eu-west-1',
    '--shutdown-drain-delay',
    '0s',
  ]);
});

after(async () => {
  await webhook?.stop('SIGKILL');
  apiServer?.closeAllConnections();
  apiServer?.close();
  await cert?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function send(pod: Record<string, unknown>, uid: string) {
  const answer = await httpsCall(webhook.port, {
    ca: cert.caPem,
    body: podReview({ uid, namespace: 'apps', pod: { apiVersion: 'v1', kind: 'Pod', ...pod } }),
    timeoutMs: 5000,
  });
  assert.equal(answer.status, 200);
  return decodeReply(answer.body);
}

test('finding 10: what a pod holds reaches no log line; identifiers and codes still do', async () => {
  // 1. Container credentials, a label map that is a string: the mutation throws a TypeError quoting it.
  const thrown = await send(
    {
      metadata: { name: 'victim', labels: `${MARK} label value` },
      spec: { serviceAccountName: 'cc', containers: [{ name: 'main', image: 'x' }] },
    },
    'uid-1',
  );
  assert.match(thrown.response.warnings?.[0] ?? '', /internal error/);
  // 2. Web identity; the envFrom warning quotes the container; name, uid and annotation are text.
  await send(
    {
      metadata: {
        name: `${MARK} name`,
        annotations: { 'eks.amazonaws.com/token-expiration': `${MARK} lifetime` },
      },
      spec: {
        serviceAccountName: 'app',
        containers: [
          { name: `${MARK}-container`, image: 'x', envFrom: [{ configMapRef: { name: `${MARK} cm` } }] },
        ],
      },
    },
    `${MARK} uid`,
  );
  // 3. A generated pod whose account is unknown and whose name is text: the direct GET is refused (the
  //    answer quotes the name), then the Event for the missing account is refused (quoting the Event).
  await send(
    {
      metadata: { name: 'victim' },
      spec: { serviceAccountName: `${MARK} account`, containers: [{ name: 'main', image: 'x' }] },
    },
    'uid-3',
  );
  await send(
    {
      metadata: { generateName: `${MARK} prefix-` },
      spec: { serviceAccountName: 'app', containers: [{ name: 'main', image: 'x' }] },
    },
    'uid-4',
  );

  // The Event is refused last (after the admission that the refused lookup ended): every line is in by then.
  await webhook.waitForLog((line) => line.msg === 'admission failed; admitted unchanged');
  await webhook.waitForLog((line) => /could not post the Event/.test(line.msg));
  await webhook.stop('SIGTERM');
  const output = webhook.logs.map((line) => JSON.stringify(line)).join('\n') + webhook.stderr();
  const leaks = output.split('\n').filter((line) => line.includes(MARK));
  assert.deepEqual(leaks, [], 'pod content in the log');

  // Every path was logged, by identifiers and codes.
  const logged = (predicate: (line: (typeof webhook.logs)[number]) => boolean) => {
    const found = webhook.logs.find(predicate);
    assert.ok(found, 'a log line is missing');
    return found;
  };
  const failed = logged((line) => line.msg === 'admission failed; admitted unchanged');
  assert.equal(failed.error, 'TypeError');
  assert.match(String(failed.at), /mutate-pod\.ts/);
  assert.equal(failed.uid, 'uid-1');
  const lookup = logged(
    (line) =>
      /direct service account lookup failed/.test(line.msg) &&
      String(line.serviceAccount).startsWith('apps/<not an identifier'),
  );
  assert.equal(lookup.status, 403);
  assert.equal(lookup.serviceAccount, 'apps/<not an identifier: 24 chars>');
  const event = logged((line) => /could not post the Event/.test(line.msg));
  assert.equal(event.status, 403);
  assert.equal(event.object, 'Pod/victim');
  const admitted = webhook.logs.filter((line) => line.msg === 'admitted');
  assert.equal(admitted.length, 3, JSON.stringify(admitted));
  assert.ok(
    admitted.some((line) => line.pod === 'apps/<not an identifier: 21 chars>' && line.warnings === 1),
  );
  assert.ok(admitted.some((line) => line.uid === '<not an identifier: 20 chars>'));
  assert.ok(admitted.some((line) => line.serviceAccount === '<not an identifier: 24 chars>'));
  assert.ok(admitted.some((line) => line.pod === 'apps/<not an identifier: 24 chars><generated>'));
  assert.ok(refused.some((call) => call.startsWith('POST /api/v1/namespaces/apps/events')));
});
