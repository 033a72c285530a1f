// Finding 15 of the hardening issue, for the local STS: a client that sends an endless chunked body was kept
// open past 100 s (Node's 300 s request timeout, checked every 30 s). Sent over a socket as an attacker
// would, it is now closed with 408 at the 30 s request deadline (STS_LIMITS), checked every second.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildStsConfig } from '../../../src/sts/config.ts';
import { createIssuerKeySource } from '../../../src/sts/issuer-keys.ts';
import { STS_LIMITS, startStsServer } from '../../../src/sts/server.ts';

test('finding 15: the STS closes an endless chunked body at its request deadline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kirsa-sts-deadline-'));
  const config = await buildStsConfig(
    {
      providers: [{ url: 'https://issuer.example.com/cluster', clientIds: ['sts.amazonaws.com'] }],
      roles: [],
    },
    'test',
    dir,
  );
  const sts = await startStsServer({ config, keySource: createIssuerKeySource() });
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(sts.url).port) });
  socket.on('error', () => {});
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  await once(socket, 'connect');
  const started = performance.now();
  socket.write(
    'POST / HTTP/1.1\r\nHost: sts.localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const feed = setInterval(() => {
    if (!socket.destroyed) socket.write('1\r\nA\r\n');
  }, 500);
  try {
    await once(socket, 'close');
    const afterMs = performance.now() - started;
    assert.ok(
      afterMs >= STS_LIMITS.requestTimeoutMs - 1_000 && afterMs <= STS_LIMITS.requestTimeoutMs + 2_500,
      `closed after ${Math.round(afterMs)} ms`,
    );
    assert.match(answer, /^HTTP\/1\.1 408/);
  } finally {
    clearInterval(feed);
    socket.destroy();
    await sts.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
