// The least an HTTPS admission server can do: read the body, answer a fixed allowed review. The admission
// benchmark drives it with the same load as the webhook, so its figures show what this machine and Node's
// TLS allow before the webhook does any work of its own.
//
// Given a third argument, a JSON file of patches by the pod's container count (init containers included),
// it is the parsing floor instead: the least a Node webhook that reads the pod must do. It parses the whole
// review with JSON.parse, as any such webhook does, and answers that review's uid with kirsa's own patch
// for a pod of that many containers (computed by the benchmark with kirsa's core), so its answers are as
// long as kirsa's and pass the same check. Between the two floors: the price of parsing the review and
// writing a patch; between the parsing floor and kirsa: kirsa's own decision.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { setFlagsFromString } from 'node:v8';

const [certFile, keyFile, patchesFile] = process.argv.slice(2);
const fixedAnswer = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: 'fixed', allowed: true },
});
const patches: Record<string, string> | undefined =
  patchesFile === undefined ? undefined : JSON.parse(readFileSync(patchesFile, 'utf8'));

interface Review {
  request?: { uid?: string; object?: { spec?: { containers?: unknown[]; initContainers?: unknown[] } } };
}

/** The parsing floor's answer: kirsa's patch for a pod with as many containers, under the review's uid. */
function patchedAnswer(body: string): string {
  const review = JSON.parse(body) as Review;
  const spec = review.request?.object?.spec;
  const containers = (spec?.containers?.length ?? 0) + (spec?.initContainers?.length ?? 0);
  const patch = patches![String(containers)];
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: review.request?.uid ?? '',
      allowed: true,
      ...(patch === undefined ? {} : { patchType: 'JSONPatch', patch }),
    },
  });
}

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
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      if (patches !== undefined) chunks.push(chunk);
    });
    request.on('end', () => {
      const answer =
        patches === undefined
          ? fixedAnswer
          : patchedAnswer(chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString());
      response.writeHead(200, {
        'Content-Type': 'application/json',
        // The fixed answer is ASCII: its length is its byte count, with nothing to count per request.
        'Content-Length': patches === undefined ? fixedAnswer.length : Buffer.byteLength(answer),
      });
      response.end(answer);
    });
  },
);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  console.log(JSON.stringify({ msg: 'listening', port: address.port }));
  // As kirsa's webhook does once it listens (src/io/v8-flags.ts): the image starts node with a Maglev
  // threshold meant for loading only, and its environment names the flags that undo it. Read here rather
  // than imported: the floor runs as a lone copy in .kirsa-scratch and must load nothing of kirsa's.
  const flags = process.env.KIRSA_V8_FLAGS_WHEN_LISTENING;
  if (flags) for (const flag of flags.split(/\s+/).filter(Boolean)) setFlagsFromString(flag);
});
