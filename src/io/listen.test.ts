import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { isKirsaError } from '../errors.ts';
import { listen } from './listen.ts';

describe('listen', () => {
  test('port 0 resolves to the port the OS chose', async () => {
    const server = createServer();
    const port = await listen(server, { port: 0, host: '127.0.0.1', what: 'a test' });
    assert.ok(port > 0);
    server.close();
  });

  test('a port in use is PORT_IN_USE with the flag in the hint, and the server is left closed', async () => {
    const holder = createServer();
    const port = await listen(holder, { port: 0, host: '127.0.0.1', what: 'the holder' });
    const second = createServer();
    await assert.rejects(
      listen(second, { port, host: '127.0.0.1', what: 'the STS', portFlag: '--sts-port' }),
      (error) => {
        assert.ok(isKirsaError(error));
        assert.equal(error.code, 'PORT_IN_USE');
        assert.equal(error.exitCode, 1);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port} for the STS: EADDRINUSE`));
        assert.match(error.hint ?? '', /--sts-port/);
        return true;
      },
    );
    assert.equal(second.listening, false);
    holder.close();
  });

  test('an address that is not on this host is LISTEN_FAILED', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never assigned to a host, so bind() fails locally with EADDRNOTAVAIL
    // and nothing is sent anywhere.
    await assert.rejects(listen(createServer(), { port: 0, host: '192.0.2.1', what: 'a test' }), (error) => {
      assert.ok(isKirsaError(error));
      assert.equal(error.code, 'LISTEN_FAILED');
      return true;
    });
  });
});
