// fetchInstanceIdentity against a local HTTP server that answers as IMDS does (IMDSv2 with a token, or an
// IMDSv1-only service that refuses the token request), reached through the SDKs' endpoint variable.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { isKirsaError } from '../errors.ts';
import { fetchInstanceIdentity } from './instance-identity.ts';

const DOCUMENT = { accountId: '444455556666', region: 'cn-northwest-1', instanceId: 'i-0123' };

async function imds(
  answer: (request: IncomingMessage) => { status: number; body: string },
): Promise<{ endpoint: string; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers['x-aws-ec2-metadata-token'] ?? '-'}`);
    const { status, body } = answer(request);
    response.writeHead(status).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, seen, close: () => server.close() };
}

test('IMDSv2: a session token, then the document; the partition comes from the region', async () => {
  const server = await imds((request) =>
    request.method === 'PUT'
      ? { status: 200, body: 'session-token' }
      : request.headers['x-aws-ec2-metadata-token'] === 'session-token'
        ? { status: 200, body: JSON.stringify(DOCUMENT) }
        : { status: 401, body: '' },
  );
  try {
    const identity = await fetchInstanceIdentity({ AWS_EC2_METADATA_SERVICE_ENDPOINT: server.endpoint });
    assert.deepEqual(identity, { accountId: '444455556666', region: 'cn-northwest-1', partition: 'aws-cn' });
    assert.deepEqual(server.seen, [
      'PUT /latest/api/token -',
      'GET /latest/dynamic/instance-identity/document session-token',
    ]);
  } finally {
    server.close();
  }
});

test('an IMDSv1-only service (token request refused with 403) is asked without a token', async () => {
  const server = await imds((request) =>
    request.method === 'PUT'
      ? { status: 403, body: '' }
      : { status: 200, body: JSON.stringify({ ...DOCUMENT, region: 'us-east-2' }) },
  );
  try {
    const identity = await fetchInstanceIdentity({ AWS_EC2_METADATA_SERVICE_ENDPOINT: server.endpoint });
    assert.equal(identity.partition, 'aws');
  } finally {
    server.close();
  }
});

test('no IMDS, a disabled IMDS or a document without an account: AWS_UNREACHABLE with a hint', async () => {
  const server = await imds(() => ({ status: 200, body: JSON.stringify({ region: 'us-east-1' }) }));
  server.close();
  for (const env of [
    { AWS_EC2_METADATA_SERVICE_ENDPOINT: server.endpoint },
    { AWS_EC2_METADATA_DISABLED: 'true' },
  ]) {
    await assert.rejects(fetchInstanceIdentity(env), (error) => {
      assert.ok(isKirsaError(error));
      assert.equal(error.code, 'AWS_UNREACHABLE');
      assert.match(error.hint ?? '', /full role ARNs/);
      return true;
    });
  }
  const partial = await imds(() => ({ status: 200, body: JSON.stringify({ region: 'us-east-1' }) }));
  try {
    await assert.rejects(
      fetchInstanceIdentity({ AWS_EC2_METADATA_SERVICE_ENDPOINT: partial.endpoint }),
      (error) => isKirsaError(error) && error.code === 'AWS_UNREACHABLE',
    );
  } finally {
    partial.close();
  }
});
