// A failed connection, as fetch really reports it (a "fetch failed" TypeError with the socket's error as its
// cause), classified by code into refused, DNS, TLS; an error that is no network failure stays unclassified.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { networkFailure } from './network-failure.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function fetchError(url: string): Promise<unknown> {
  return fetch(url).then(
    () => assert.fail(`${url} answered`),
    (error: unknown) => error,
  );
}

describe('networkFailure', () => {
  test('a refused connection under fetch failed', async () => {
    const error = await fetchError(`http://127.0.0.1:${await closedPort()}/`);
    assert.equal((error as Error).message, 'fetch failed');
    const failure = networkFailure(error);
    assert.equal(failure?.kind, 'refused');
    assert.equal(failure?.code, 'ECONNREFUSED');
    assert.match(failure?.reason ?? '', /^connection refused/);
  });

  test('a name that does not resolve is DNS, naming the host', async () => {
    const failure = networkFailure(await fetchError('https://kirsa-no-such-host.invalid/'));
    assert.equal(failure?.kind, 'dns');
    assert.match(failure?.reason ?? '', /kirsa-no-such-host\.invalid/);
  });

  test('a bare EAI_AGAIN (no network) is DNS, and a certificate error is TLS', () => {
    const again = Object.assign(new Error('getaddrinfo EAI_AGAIN iam.amazonaws.com'), {
      code: 'EAI_AGAIN',
      hostname: 'iam.amazonaws.com',
    });
    assert.match(
      networkFailure(again)?.reason ?? '',
      /^DNS lookup of iam\.amazonaws\.com failed \(EAI_AGAIN\)/,
    );
    const tls = new TypeError('fetch failed', {
      cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    });
    assert.equal(networkFailure(tls)?.kind, 'tls');
  });

  test('other errors are not network failures', () => {
    assert.equal(networkFailure(new Error('boom')), undefined);
    assert.equal(networkFailure(Object.assign(new Error('x'), { name: 'NoSuchEntity' })), undefined);
    assert.equal(networkFailure(undefined), undefined);
  });
});
