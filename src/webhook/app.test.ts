// The app's decisions through admit(), without sockets (the HTTP side runs over real TLS in test/loopback/webhook).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_TOKEN_MOUNT_PATH } from '../consts.ts';
import { podCreateReview } from '../core/admission/review.ts';
import type { IdentitySource } from '../core/identity/source.ts';
import { createLogger } from '../io/log.ts';
import { createWebhookApp, type HttpAnswer } from './app.ts';
import { createWebhookMetrics } from './metrics.ts';
import { isLegacyTlsVersion, parseTlsMinVersion, serverCiphers } from './server.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const review = JSON.stringify(
  podCreateReview(
    { spec: { serviceAccountName: 'app', containers: [{ name: 'c', image: 'x' }] } },
    { uid: 'u-1', namespace: 'ns' },
  ),
);

function app(identities: IdentitySource, admissionDeadlineMs = 1000) {
  const metrics = createWebhookMetrics({ defaultMetrics: false });
  return {
    metrics,
    app: createWebhookApp({
      identities,
      mutation: {
        annotationPrefix: 'eks.amazonaws.com',
        tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
        defaultRegion: '',
        random: () => 0,
      },
      metrics,
      logger: createLogger('silent'),
      notReadyReasons: () => [],
      admissionDeadlineMs,
    }),
  };
}

const identity = {
  mode: 'web-identity' as const,
  roleArn: ROLE,
  audience: 'sts.amazonaws.com',
  regionalSts: false,
  tokenExpirationSeconds: 86400,
  source: 'test',
};

function reply(answer: HttpAnswer) {
  return JSON.parse(String(answer.body)) as {
    response: { uid: string; allowed: boolean; patch?: string; warnings?: string[] };
  };
}

describe('admit', () => {
  test('a cache hit is answered synchronously', () => {
    const { app: webhook } = app({ identityFor: () => ({ identity, serviceAccountMissing: false }) });
    const answer = webhook.admit(review);
    assert.ok(!(answer instanceof Promise));
    assert.equal(answer.outcome, 'mutated');
    assert.ok(reply(answer).response.patch);
  });

  test('an identity source that throws: admitted unchanged, with a warning, counted as an error', async () => {
    const { app: webhook } = app({
      identityFor: () => {
        throw new Error('boom');
      },
    });
    const answer = (await webhook.admit(review)) as HttpAnswer;
    assert.equal(answer.status, 200);
    assert.equal(answer.outcome, 'error');
    assert.equal(reply(answer).response.allowed, true);
    assert.equal(reply(answer).response.patch, undefined);
    assert.match(reply(answer).response.warnings?.[0] ?? '', /internal error/);
  });

  test('a lookup that rejects, or never answers: admitted unchanged within the deadline', async () => {
    const rejecting = app({ identityFor: () => Promise.reject(new Error('down')) }).app;
    const failed = await rejecting.admit(review);
    assert.equal(failed.outcome, 'error');
    assert.equal(reply(failed).response.uid, 'u-1');

    const hanging = app({ identityFor: () => new Promise(() => {}) }, 50).app;
    const started = performance.now();
    const late = await hanging.admit(review);
    assert.ok(performance.now() - started < 1000);
    assert.equal(late.outcome, 'error');
    assert.match(reply(late).response.warnings?.[0] ?? '', /no answer within 50 ms/);
  });

  test('a missing service account is told apart from one without a role, with a warning', async () => {
    const missing = app({
      identityFor: async () => ({ identity: undefined, serviceAccountMissing: true }),
    }).app;
    const answer = await missing.admit(review);
    assert.equal(answer.outcome, 'service_account_missing');
    assert.match(reply(answer).response.warnings?.[0] ?? '', /ns\/app was not found/);
    const roleless = app({ identityFor: () => ({ identity: undefined, serviceAccountMissing: false }) }).app;
    const plain = (await roleless.admit(review)) as HttpAnswer;
    assert.equal(plain.outcome, 'no_identity');
    assert.equal(reply(plain).response.warnings, undefined);
  });
});

describe('parseTlsMinVersion', () => {
  test("takes the reference's spellings of 1.0 to 1.3; 1.0 and 1.1 lower OpenSSL's security level", () => {
    assert.equal(parseTlsMinVersion('1.2'), 'TLSv1.2');
    assert.equal(parseTlsMinVersion('VersionTLS13'), 'TLSv1.3');
    assert.equal(parseTlsMinVersion('1.0'), 'TLSv1');
    assert.equal(parseTlsMinVersion('VersionTLS11'), 'TLSv1.1');
    assert.throws(() => parseTlsMinVersion('tls12'), {
      code: 'FLAG_INVALID',
      message: /takes 1.0, 1.1, 1.2 or 1.3/,
    });
    assert.equal(isLegacyTlsVersion('TLSv1.1'), true);
    assert.equal(isLegacyTlsVersion('TLSv1.2'), false);
    assert.equal(serverCiphers(undefined, 'TLSv1.2'), undefined);
    assert.equal(serverCiphers('AES128-SHA', 'TLSv1.2'), 'AES128-SHA');
    assert.equal(serverCiphers('AES128-SHA', 'TLSv1'), 'AES128-SHA:@SECLEVEL=0');
    assert.match(serverCiphers(undefined, 'TLSv1.1') ?? '', /:@SECLEVEL=0$/);
  });
});
