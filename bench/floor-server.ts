// The least an HTTPS admission server can do: read the body, answer a fixed allowed review. The admission
// benchmark drives it with the same load as the webhook, so its figures show what this machine and Node's
// TLS allow before the webhook does any work of its own.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [certFile, keyFile] = process.argv.slice(2);
const answer = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: 'fixed', allowed: true },
});
const server = createServer(
  {
    cert: readFileSync(certFile!),
    key: readFileSync(keyFile!),
    // As kirsa's webhook (WEBHOOK_KEEP_ALIVE_MS in src/consts.ts): above the API server's 90 s idle time, so
    // the client, never the server, closes an idle connection. Node's default closes one after 5 s, and the
    // floor's connections would churn under the load where kirsa's do not.
    keepAliveTimeout: 95_000,
  },
  (request, response) => {
    request.on('data', () => {});
    request.on('end', () => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': answer.length });
      response.end(answer);
    });
  },
);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  console.log(JSON.stringify({ msg: 'listening', port: address.port }));
});
