// The one reader of "the issuer as STS sees it" (src/issuer/https.ts) against a real loopback HTTPS server
// that misbehaves: one that drips a byte a second (the deadline is total, not idle), one that answers more
// than the size cap, one that redirects. Then each caller (issuer verify, the local STS's key source, the
// doctor's fetcher, the thumbprint) meets the same server and fails with the reader's error.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ISSUER_DOCUMENT_MAX_BYTES, STS_FETCH_TIMEOUT_MS } from '../../../src/consts.ts';
import { isStsError } from '../../../src/core/sts/protocol.ts';
import { httpsJsonFetcher } from '../../../src/doctor/gather.ts';
import { isKirsaError } from '../../../src/errors.ts';
import { fetchIssuerDocument } from '../../../src/issuer/https.ts';
import { issuerThumbprint } from '../../../src/issuer/thumbprint.ts';
import { verifyIssuer } from '../../../src/issuer/verify.ts';
import { createIssuerKeySource } from '../../../src/sts/issuer-keys.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';

/** How far past the deadline an answer may come: timers and a loaded 2-core machine, not another drip. */
const SLACK_MS = 1_500;
/** The drip server gives up after this, so a reader without a total deadline fails the test, not hangs it. */
const DRIP_FOR_MS = 20_000;

let tls: ServingCertificate;
let server: Server;
let base: string;

before(async () => {
  tls = await makeServingCertificate();
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/drip/')) {
      // Headers at once, then one byte a second: every byte resets an idle timeout.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(' ');
      const timer = setInterval(() => res.write(' '), 1_000);
      const stop = setTimeout(() => res.end('{}'), DRIP_FOR_MS);
      res.on('close', () => {
        clearInterval(timer);
        clearTimeout(stop);
      });
    } else if (path.startsWith('/big/')) {
      // Chunked, no Content-Length: the reader must count.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`"${'x'.repeat(ISSUER_DOCUMENT_MAX_BYTES)}"`);
    } else if (path.startsWith('/big-declared/')) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(ISSUER_DOCUMENT_MAX_BYTES + 1),
      });
      res.end(`"${'x'.repeat(ISSUER_DOCUMENT_MAX_BYTES - 1)}"`);
    } else if (path.startsWith('/redirect/')) {
      res.writeHead(302, { location: `${base}/fine${path.slice('/redirect'.length)}` });
      res.end();
    } else if (path === '/fine/doc') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await tls?.cleanup();
});

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isKirsaError(error), `expected a KirsaError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.hint, 'every reader error carries a hint');
    return error;
  }
  assert.fail(`expected ${code}, got an answer`);
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

describe('fetchIssuerDocument: the issuer as STS reads it', () => {
  test('reads a JSON document', async () => {
    const document = await fetchIssuerDocument(`${base}/fine/doc`, { ca: [tls.caPem] });
    assert.deepEqual(document.json, { ok: true });
    assert.equal(document.contentType, 'application/json');
  });

  test('the default deadline is total: a server dripping a byte a second is cut off at 5 s', async () => {
    const { ms } = await timed(() =>
      rejectsWith(fetchIssuerDocument(`${base}/drip/doc`, { ca: [tls.caPem] }), 'ISSUER_TIMEOUT'),
    );
    assert.ok(ms >= STS_FETCH_TIMEOUT_MS - 50, `gave up early, after ${Math.round(ms)} ms`);
    assert.ok(ms < STS_FETCH_TIMEOUT_MS + SLACK_MS, `answered after ${Math.round(ms)} ms`);
  });

  test('a body over the size cap is refused, counted or declared', async () => {
    await rejectsWith(fetchIssuerDocument(`${base}/big/doc`, { ca: [tls.caPem] }), 'ISSUER_TOO_LARGE');
    await rejectsWith(
      fetchIssuerDocument(`${base}/big-declared/doc`, { ca: [tls.caPem] }),
      'ISSUER_TOO_LARGE',
    );
  });

  test('a redirect is refused, not followed', async () => {
    const error = await rejectsWith(
      fetchIssuerDocument(`${base}/redirect/doc`, { ca: [tls.caPem] }),
      'ISSUER_REDIRECT',
    );
    assert.match(error.message, /redirects \(302\) to https:\/\/127\.0\.0\.1:\d+\/fine\/doc/);
  });

  test('plain http, an unknown CA and a 404 each get their code', async () => {
    await rejectsWith(fetchIssuerDocument(`http://127.0.0.1:1/doc`), 'ISSUER_NOT_HTTPS');
    await rejectsWith(fetchIssuerDocument(`${base}/fine/doc`), 'ISSUER_UNREACHABLE');
    await rejectsWith(fetchIssuerDocument(`${base}/missing`, { ca: [tls.caPem] }), 'ISSUER_HTTP_STATUS');
  });
});

describe('every caller reads through it', () => {
  const shortDeadline = 1_500;

  test('issuer verify: the drip, the oversize and the redirect are failed checks naming the cause', async () => {
    const verify = (prefix: string) =>
      verifyIssuer({
        issuer: `${base}/${prefix}`,
        ca: [tls.caPem],
        deadlineMs: shortDeadline,
        now: new Date(),
      });
    const { ms, value: slow } = await timed(() => verify('drip'));
    assert.ok(ms < shortDeadline + SLACK_MS, `verify answered after ${Math.round(ms)} ms`);
    const failed = (report: Awaited<ReturnType<typeof verify>>) =>
      report.checks.filter((check) => check.status === 'fail').map((check) => check.message);
    assert.match(failed(slow).join('\n'), /^discovery: GET .* no complete answer within 1500 ms/);
    assert.match(failed(await verify('big')).join('\n'), /^discovery: .* is larger than/);
    assert.match(failed(await verify('redirect')).join('\n'), /^discovery: .* redirects \(302\)/);
  });

  test('the local STS: the drip and the oversize are IDPCommunicationError, the redirect InvalidIdentityToken', async () => {
    const keys = createIssuerKeySource({ extraCaPem: [tls.caPem], timeoutMs: shortDeadline });
    const { ms, value: slow } = await timed(() => keys.getKeys(`${base}/drip`));
    assert.ok(ms < shortDeadline + SLACK_MS, `the STS answered after ${Math.round(ms)} ms`);
    assert.ok(isStsError(slow) && slow.code === 'IDPCommunicationError', JSON.stringify(slow));
    assert.match(slow.message, /no complete answer within/);
    const big = await keys.getKeys(`${base}/big`);
    assert.ok(isStsError(big) && big.code === 'IDPCommunicationError' && /larger than/.test(big.message));
    const redirected = await keys.getKeys(`${base}/redirect`);
    assert.ok(
      isStsError(redirected) &&
        redirected.code === 'InvalidIdentityToken' &&
        /redirects \(302\)/.test(redirected.message),
      JSON.stringify(redirected),
    );
  });

  test("the doctor: the reader's errors, within STS's deadline", async () => {
    const fetchJson = httpsJsonFetcher(tls.caPem);
    const { ms } = await timed(() => rejectsWith(fetchJson(`${base}/drip/doc`), 'ISSUER_TIMEOUT'));
    assert.ok(ms < STS_FETCH_TIMEOUT_MS + SLACK_MS, `the doctor answered after ${Math.round(ms)} ms`);
    await rejectsWith(fetchJson(`${base}/big/doc`), 'ISSUER_TOO_LARGE');
    await rejectsWith(fetchJson(`${base}/redirect/doc`), 'ISSUER_REDIRECT');
    assert.deepEqual(await fetchJson(`${base}/fine/doc`), { ok: true });
  });

  test('the thumbprint refuses a redirecting discovery document', async () => {
    await rejectsWith(issuerThumbprint(`${base}/redirect`, [tls.caPem]), 'ISSUER_REDIRECT');
  });
});
