// kirsa's local STS under the attacks of issue #12, sent as an attacker would send them: over the socket,
// with requests signed by the real AWS signer (@smithy/signature-v4, what the JavaScript SDK uses) with a
// victim's credentials, which the STS issued to the victim through the SDK.

import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { buildStsConfig } from '../../../src/sts/config.ts';
import { createIssuerKeySource, ISSUER_REFETCH_INTERVAL_MS } from '../../../src/sts/issuer-keys.ts';
import { type RunningSts, startStsServer } from '../../../src/sts/server.ts';
import { startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/victim`;
const VICTIM_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/victim/victim-session`;
const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';

let issuer: TestIssuer;
let sts: RunningSts;
let port: number;
let victim: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
const dir = mkdtempSync(join(tmpdir(), 'kirsa-sts-attacks-'));

/** The STS configuration: one provider (a test issuer) and the victim's role, trusted by its account. */
function stsDocument({ region, from = issuer }: { region?: string; from?: TestIssuer } = {}) {
  const hostPath = from.url.replace('https://', '');
  return {
    ...(region ? { region } : {}),
    providers: [{ url: from.url, clientIds: ['sts.amazonaws.com'] }],
    roles: [
      {
        arn: ROLE,
        trustPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${hostPath}` },
              Action: 'sts:AssumeRoleWithWebIdentity',
              Condition: { StringEquals: { [`${hostPath}:sub`]: 'system:serviceaccount:default:victim' } },
            },
          ],
        },
      },
    ],
  };
}

/** The victim's credentials, as its pod's SDK gets them from an STS. */
async function assumeVictimRole(endpoint: string) {
  const granted = await new STSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  }).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: ROLE,
      RoleSessionName: 'victim-session',
      WebIdentityToken: await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 'victim' }),
    }),
  );
  return {
    accessKeyId: granted.Credentials!.AccessKeyId!,
    secretAccessKey: granted.Credentials!.SecretAccessKey!,
    sessionToken: granted.Credentials!.SessionToken!,
  };
}

before(async () => {
  issuer = await startTestIssuer();
  const config = await buildStsConfig(stsDocument(), 'test', dir);
  sts = await startStsServer({ config, keySource: createIssuerKeySource({ extraCaPem: [issuer.caPem] }) });
  port = Number(new URL(sts.url).port);
  victim = await assumeVictimRole(sts.url);
});

after(async () => {
  await sts?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends exactly these headers and body to the STS (Host included, as captured), one request, one answer. */
function send(options: {
  method?: string;
  path?: string;
  headers: Record<string, string>;
  body: string | Buffer;
}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/',
        headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
        setHost: false,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Signs a request with the victim's credentials as the SDK would, for any service, region and headers. */
async function signAsVictim(options: {
  service: string;
  region: string;
  hostname: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body: string;
  unsignableHeaders?: Set<string>;
}): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: victim,
    region: options.region,
    service: options.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: options.service !== 's3',
    applyChecksum: true,
  });
  const signed = await signer.sign(
    {
      method: options.method ?? 'POST',
      protocol: 'https:',
      hostname: options.hostname,
      path: options.path ?? '/',
      query: {},
      headers: { host: options.hostname, ...options.headers },
      body: options.body,
    },
    options.unsignableHeaders ? { unsignableHeaders: options.unsignableHeaders } : {},
  );
  return signed.headers as Record<string, string>;
}

function errorCode(answer: Answer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(answer.body)?.[1];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('finding 1: SigV4 as AWS verifies it', () => {
  test('the victim signing a GetCallerIdentity for sts itself still works (the baseline)', async () => {
    const hostname = `127.0.0.1:${port}`;
    const headers = await signAsVictim({
      service: 'sts',
      region: 'us-east-1',
      hostname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
    });
    const answer = await send({ headers, body: GET_CALLER_IDENTITY });
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, new RegExp(`<Arn>${VICTIM_ARN}</Arn>`));
    const sdk = await new STSClient({ endpoint: sts.url, region: 'us-east-1', credentials: victim }).send(
      new GetCallerIdentityCommand({}),
    );
    assert.equal(sdk.Arn, VICTIM_ARN);
  });

  test('a PUT the victim signed for S3, replayed with the body Action=GetCallerIdentity, is refused', async () => {
    const s3Host = 'victim-bucket.s3.us-east-1.amazonaws.com';
    const original = 'the object the victim uploaded';
    const headers = await signAsVictim({
      service: 's3',
      region: 'us-east-1',
      hostname: s3Host,
      method: 'PUT',
      path: '/report.csv',
      headers: { 'x-amz-content-sha256': sha256(original) },
      body: original,
    });
    const answer = await send({
      method: 'PUT',
      path: '/report.csv',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), 'SignatureDoesNotMatch');
    assert.doesNotMatch(answer.body, /assumed-role/);
  });

  test('a signature scoped to another region than the STS is configured for is refused', async () => {
    const headers = await signAsVictim({
      service: 'sts',
      region: 'eu-west-1',
      hostname: `127.0.0.1:${port}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
    });
    const answer = await send({ headers, body: GET_CALLER_IDENTITY });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), 'SignatureDoesNotMatch');
    assert.match(answer.body, /scoped to a valid region/);
  });

  test('the region is the configured one: an STS set to eu-west-1 takes eu-west-1 signatures only', async () => {
    await assert.rejects(
      buildStsConfig(stsDocument({ region: 'Europe' }), 'sts.yaml', dir),
      /sts\.yaml: region must be an AWS region name/,
    );
    const config = await buildStsConfig(stsDocument({ region: 'eu-west-1' }), 'sts.yaml', dir);
    const regional = await startStsServer({
      config,
      keySource: createIssuerKeySource({ extraCaPem: [issuer.caPem] }),
    });
    try {
      const credentials = await assumeVictimRole(regional.url);
      const call = (region: string) =>
        new STSClient({ endpoint: regional.url, region, credentials, maxAttempts: 1 }).send(
          new GetCallerIdentityCommand({}),
        );
      assert.equal((await call('eu-west-1')).Arn, VICTIM_ARN);
      await assert.rejects(call('us-east-1'), { name: 'SignatureDoesNotMatch' });
    } finally {
      await regional.close();
    }
  });

  test("a credential scope whose date is not X-Amz-Date's day is refused", async () => {
    const headers = await signAsVictim({
      service: 'sts',
      region: 'us-east-1',
      hostname: `127.0.0.1:${port}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
    });
    headers.authorization = headers.authorization!.replace(/\/\d{8}\//, '/19990101/');
    const answer = await send({ headers, body: GET_CALLER_IDENTITY });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), 'SignatureDoesNotMatch');
    assert.match(answer.body, /Date in Credential scope does not match/);
  });

  test('a signature that does not cover Host is refused', async () => {
    const headers = await signAsVictim({
      service: 'sts',
      region: 'us-east-1',
      hostname: 'sts.amazonaws.com',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
      unsignableHeaders: new Set(['host']),
    });
    assert.doesNotMatch(headers.authorization!, /SignedHeaders=[^,]*\bhost\b/);
    const answer = await send({
      headers: { ...headers, host: `127.0.0.1:${port}` },
      body: GET_CALLER_IDENTITY,
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), 'SignatureDoesNotMatch');
    assert.match(answer.body, /must be a &apos;SignedHeader&apos;/);
  });

  test("the payload hash is the received body's: a signed x-amz-content-sha256 of another body is refused", async () => {
    const signedBody = `${GET_CALLER_IDENTITY}&Padding=whatever-the-victim-sent`;
    const headers = await signAsVictim({
      service: 'sts',
      region: 'us-east-1',
      hostname: `127.0.0.1:${port}`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-amz-content-sha256': sha256(signedBody),
      },
      body: signedBody,
    });
    assert.match(headers.authorization!, /x-amz-content-sha256/);
    const answer = await send({ headers, body: GET_CALLER_IDENTITY });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), 'SignatureDoesNotMatch');
  });

  test('SignedHeaders naming prototype keys is a 4xx, not a 500', async () => {
    const headers = await signAsVictim({
      service: 'sts',
      region: 'us-east-1',
      hostname: `127.0.0.1:${port}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: GET_CALLER_IDENTITY,
    });
    for (const list of ['constructor', 'host;constructor', 'host;__proto__;x-amz-date', 'toString;host']) {
      const forged = headers.authorization!.replace(/SignedHeaders=[^,]+/, `SignedHeaders=${list}`);
      const answer = await send({
        headers: { ...headers, authorization: forged },
        body: GET_CALLER_IDENTITY,
      });
      assert.equal(answer.status, 403, `${list}: ${answer.body}`);
      assert.equal(errorCode(answer), 'SignatureDoesNotMatch', list);
    }
  });
});

/** Reads one HTTP/1.1 answer (Content-Length or chunked) from a socket, or undefined when the socket closes first. */
function readAnswer(socket: Socket): Promise<{ head: string; body: string } | undefined> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const rest = buffered.subarray(end + 4);
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        if (rest.indexOf('\r\n0\r\n\r\n') === -1 && !rest.subarray(0, 5).equals(Buffer.from('0\r\n\r\n')))
          return;
        let body = '';
        for (let at = 0; ; ) {
          const lineEnd = rest.indexOf('\r\n', at);
          const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
          if (!(size > 0)) break;
          body += rest.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8');
          at = lineEnd + 2 + size + 2;
        }
        cleanup();
        resolve({ head, body });
        return;
      }
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (rest.length < length) return;
      cleanup();
      resolve({ head, body: rest.subarray(0, length).toString('utf8') });
    };
    const onClose = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

describe('finding 8: an over-limit body on a keep-alive connection', () => {
  // Without the fix the second request is never answered and the socket stays open: the timeout turns that
  // hang into a failure; a working server answers in milliseconds.
  test('is answered 400 and the connection does not hang', { timeout: 10_000 }, async () => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const oversized = Buffer.alloc(1024 * 1024, 'a');
    socket.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${oversized.length}\r\n\r\n`,
    );
    socket.write(oversized);
    const first = await readAnswer(socket);
    assert.ok(first, 'the over-limit request got an answer');
    assert.match(first.head, /^HTTP\/1\.1 400 /);
    assert.match(first.body, /<Code>ValidationError<\/Code>/);
    // The next request on the same connection is either answered or refused by a close, never left waiting.
    socket.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${GET_CALLER_IDENTITY.length}\r\n\r\n`,
    );
    socket.write(GET_CALLER_IDENTITY);
    const second = await readAnswer(socket);
    // The server said it would close (the rest of the body is never read), and did.
    assert.match(first.head, /\r\nconnection: close/i);
    assert.equal(second, undefined, 'the connection closed instead of taking another request');
    await closed;
  });

  test('an over-limit body sent slowly, without Content-Length, is also answered and closed', {
    timeout: 10_000,
  }, async () => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.alloc(16 * 1024, 'b');
    for (let i = 0; i < 5; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const first = await readAnswer(socket);
    assert.ok(first, 'the over-limit request got an answer before its body ended');
    assert.match(first.head, /^HTTP\/1\.1 400 /);
    assert.match(first.head, /\r\nconnection: close/i);
    assert.equal(await readAnswer(socket), undefined);
  });
});

/** AssumeRoleWithWebIdentity as a raw form POST, so any parameter text reaches the STS as an attacker typed it. */
function assumeRaw(url: string, params: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: 'attacker',
      ...params,
    }).toString(),
  });
}

describe('finding 14: STS edge cases', () => {
  test('time claims that are numbers but no time (exp -1e308, iat 1e308, nbf 1e308) are 400 InvalidIdentityToken', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [{ exp: -1e308 }, { iat: 1e308 }, { nbf: 1e308 }, { exp: 1e308 }, { iat: -1e308 }]) {
      const token = await issuer.serviceAccountToken({
        namespace: 'default',
        serviceAccount: 'victim',
        claims,
      });
      const answer = await assumeRaw(sts.url, { WebIdentityToken: token });
      const body = await answer.text();
      assert.equal(answer.status, 400, `${JSON.stringify(claims)}: ${body}`);
      assert.match(body, /<Code>InvalidIdentityToken<\/Code>/, JSON.stringify(claims));
      assert.match(body, /which is not a time/, JSON.stringify(claims));
    }
    // The SDK reads the same answer as its modelled exception.
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 'victim',
      claims: { iat: now, exp: -1e308 },
    });
    await assert.rejects(
      new STSClient({
        endpoint: sts.url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
        maxAttempts: 1,
      }).send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: ROLE,
          RoleSessionName: 'sdk-session',
          WebIdentityToken: token,
        }),
      ),
      { name: 'InvalidIdentityTokenException' },
    );
  });

  test('DurationSeconds that only Number() reads as an integer (1e3, 0x1000, " 3600") is ValidationError', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 'victim' });
    for (const duration of ['1e3', '0x1000', ' 3600', '3600 ', '3600.0', '0b111000010000', '', '+']) {
      const answer = await assumeRaw(sts.url, { WebIdentityToken: token, DurationSeconds: duration });
      const body = await answer.text();
      assert.equal(answer.status, 400, `${JSON.stringify(duration)}: ${body}`);
      assert.match(body, /<Code>ValidationError<\/Code>/, JSON.stringify(duration));
    }
    const plain = await assumeRaw(sts.url, { WebIdentityToken: token, DurationSeconds: '3600' });
    assert.equal(plain.status, 200, await plain.text());
  });

  test('an issuer publishing more than 100 RSA keys has its tokens refused, as STS refuses them', async () => {
    const crowded = await startTestIssuer({ extraKeys: 100 });
    const config = await buildStsConfig(stsDocument({ from: crowded }), 'test', dir);
    const local = await startStsServer({
      config,
      keySource: createIssuerKeySource({ extraCaPem: [crowded.caPem] }),
    });
    try {
      const token = await crowded.serviceAccountToken({ namespace: 'default', serviceAccount: 'victim' });
      const answer = await assumeRaw(local.url, { WebIdentityToken: token });
      const body = await answer.text();
      assert.equal(answer.status, 400, body);
      assert.match(body, /<Code>InvalidIdentityToken<\/Code>/);
      assert.match(body, /the JWKS has 101 RSA keys; STS accepts at most 100/);
    } finally {
      await local.close();
      await crowded.close();
    }
  });
});

describe('finding 6: tokens with unknown kids', () => {
  test('50 concurrent calls with random kids share one fetch; more come only after the refetch interval', async (context) => {
    const fresh = await startTestIssuer();
    let clock = Date.now();
    const config = await buildStsConfig(stsDocument({ from: fresh }), 'test', dir);
    // The key source's clock is the test's, so "after the interval" needs no waiting.
    const local = await startStsServer({
      config,
      keySource: createIssuerKeySource({ extraCaPem: [fresh.caPem], now: () => clock }),
    });
    const fetches = () => ({ discovery: fresh.discoveryRequests(), jwks: fresh.jwksRequests() });
    const wave = async () => {
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const token = await fresh.serviceAccountToken({
            namespace: 'default',
            serviceAccount: 'victim',
            kid: randomUUID(),
          });
          const answer = await assumeRaw(local.url, { WebIdentityToken: token });
          return { status: answer.status, body: await answer.text() };
        }),
      );
      for (const answer of answers) {
        assert.equal(answer.status, 400, answer.body);
        assert.match(answer.body, /<Code>InvalidIdentityToken<\/Code>.*no key with kid/);
      }
    };
    try {
      await wave();
      const first = fetches();
      assert.deepEqual(first, { discovery: 1, jwks: 1 });
      const good = await fresh.serviceAccountToken({ namespace: 'default', serviceAccount: 'victim' });
      assert.equal((await assumeRaw(local.url, { WebIdentityToken: good })).status, 200);
      await wave();
      assert.deepEqual(fetches(), { discovery: 1, jwks: 1 });
      clock += ISSUER_REFETCH_INTERVAL_MS;
      await wave();
      assert.deepEqual(fetches(), { discovery: 2, jwks: 2 });
      context.diagnostic(
        `150 calls with random kids in three waves of 50: ${fresh.discoveryRequests()} discovery and ${fresh.jwksRequests()} JWKS fetches`,
      );
    } finally {
      await local.close();
      await fresh.close();
    }
  });
});
