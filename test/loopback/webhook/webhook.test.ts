// `kirsa webhook` as a process, over real TLS on loopback, with identities from a file: both review
// versions, the bad-input table, TLS versions, certificate reload, the identities file (including a
// ConfigMap volume's `..data` symlink swap), metrics, readiness and the drain at SIGTERM.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  decodeReply,
  envOf,
  eventually,
  httpGet,
  httpsCall,
  metricValue,
  podReview,
  replaceServingPair,
  startWebhook,
  type WebhookFolder,
  type WebhookProcess,
  webhookFolder,
} from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const OTHER_ROLE = 'arn:aws:iam::111122223333:role/other';

let folder: WebhookFolder;
let dir: string;
let cert: ServingCertificate;
let webhook: WebhookProcess;
let agent: Agent;

function mapping(entries: Record<string, string>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(entries).map(([key, role]) => [key, { RoleARN: role }])),
  );
}

before(async () => {
  folder = await webhookFolder('kirsa-webhook-test-', {
    'default/app': { RoleARN: ROLE },
    'team-*/worker': { RoleARN: OTHER_ROLE, TokenExpiration: 3600 },
    'default/not-a-role': { RoleARN: 'not-an-arn' },
    'no-slash': { RoleARN: ROLE },
  });
  ({ dir, cert } = folder);
  webhook = await startWebhook([
    ...folder.flags,
    '--aws-default-region',
    'eu-west-1',
    '--shutdown-drain-delay',
    '1s',
  ]);
  agent = new Agent({ keepAlive: true, maxSockets: 4, ca: cert.caPem });
});

after(async () => {
  agent?.destroy();
  await webhook?.stop('SIGKILL');
  await folder?.cleanup();
});

const call = (options: Omit<Parameters<typeof httpsCall>[1], 'ca'>) =>
  httpsCall(webhook.port, { agent, ca: cert.caPem, ...options });

describe('admission over TLS', () => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    test(`${apiVersion}: echoes apiVersion, kind and uid and returns the patch`, async () => {
      const answer = await call({ body: podReview({ apiVersion, uid: `uid-${apiVersion}` }) });
      assert.equal(answer.status, 200);
      assert.match(String(answer.headers['content-type']), /^application\/json/);
      const reply = decodeReply(answer.body);
      assert.equal(reply.apiVersion, apiVersion);
      assert.equal(reply.kind, 'AdmissionReview');
      assert.equal(reply.response.uid, `uid-${apiVersion}`);
      assert.equal(reply.response.allowed, true);
      assert.equal(reply.response.patchType, 'JSONPatch');
      const env = envOf(reply.patch);
      assert.equal(env.AWS_ROLE_ARN, ROLE);
      assert.equal(
        env.AWS_WEB_IDENTITY_TOKEN_FILE,
        '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      );
      assert.equal(env.AWS_REGION, 'eu-west-1');
      assert.deepEqual(reply.patch?.[0], {
        op: 'add',
        path: '/spec/volumes',
        value: [
          {
            name: 'aws-iam-token',
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: 'sts.amazonaws.com',
                    expirationSeconds: 86400,
                    path: 'token',
                  },
                },
              ],
            },
          },
        ],
      });
    });
  }

  test('a namespace glob entry applies, with its own lifetime', async () => {
    const reply = decodeReply(
      (await call({ body: podReview({ namespace: 'team-blue', serviceAccountName: 'worker' }) })).body,
    );
    assert.equal(envOf(reply.patch).AWS_ROLE_ARN, OTHER_ROLE);
    assert.match(JSON.stringify(reply.patch), /"expirationSeconds":3600/);
  });

  test('no identity: allowed, no patch, no patchType', async () => {
    const reply = decodeReply((await call({ body: podReview({ serviceAccountName: 'nobody' }) })).body);
    assert.deepEqual(Object.keys(reply.response).sort(), ['allowed', 'uid']);
    assert.equal(reply.response.allowed, true);
  });

  test('a role that is not an ARN: allowed, no patch, a warning', async () => {
    const reply = decodeReply((await call({ body: podReview({ serviceAccountName: 'not-a-role' }) })).body);
    assert.equal(reply.response.patch, undefined);
    assert.match(reply.response.warnings?.[0] ?? '', /not an IAM role ARN/);
  });

  test('a pod whose token volume name is taken: allowed, no patch, the warning says why', async () => {
    const pod = {
      metadata: { name: 'p' },
      spec: {
        serviceAccountName: 'app',
        volumes: [{ name: 'aws-iam-token', emptyDir: {} }],
        containers: [{ name: 'main', image: 'x' }],
      },
    };
    const reply = decodeReply((await call({ body: podReview({ pod }) })).body);
    assert.equal(reply.response.allowed, true);
    assert.equal(reply.response.patch, undefined);
    assert.match(reply.response.warnings?.[0] ?? '', /already has a volume "aws-iam-token"/);
  });

  test('other kinds and other operations: allowed with no patch', async () => {
    for (const body of [
      podReview({ operation: 'UPDATE' }),
      podReview({ operation: 'DELETE' }),
      podReview({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }),
    ]) {
      const answer = await call({ body });
      assert.equal(answer.status, 200);
      const reply = decodeReply(answer.body);
      assert.equal(reply.response.allowed, true);
      assert.equal(reply.response.patch, undefined);
      assert.equal(reply.response.uid, JSON.parse(body).request.uid);
    }
  });
});

describe('bad input', () => {
  const cases: Array<[string, Omit<Parameters<typeof httpsCall>[1], 'ca'>, number, RegExp]> = [
    ['not JSON', { body: '{"apiVersion": "admission' }, 400, /not JSON/],
    ['an empty body', { body: '' }, 400, /empty/],
    ['JSON that is not a review', { body: '{"hello": "world"}' }, 400, /kind/],
    [
      'a review without request',
      { body: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' },
      400,
      /no request/,
    ],
    [
      'a review of another version',
      { body: podReview({ apiVersion: 'admission.k8s.io/v2' }) },
      400,
      /apiVersion/,
    ],
    ['a body over 3 MiB', { body: `{"pad":"${'x'.repeat(3 * 1024 * 1024)}"}` }, 413, /limit/],
    ['GET /mutate', { method: 'GET' }, 405, /use POST/],
    [
      'text/plain',
      { body: podReview(), headers: { 'Content-Type': 'text/plain' } },
      415,
      /application\/json/,
    ],
    ['an unknown path', { method: 'GET', path: '/debug/alpha/cache/clear' }, 404, /no such path/],
    ['POST /healthz', { path: '/healthz', body: '{}' }, 405, /use GET/],
  ];
  for (const [name, options, status, message] of cases) {
    test(`${name} -> ${status} with a JSON error`, async () => {
      // A fresh connection each: a 413 closes its connection.
      const answer = await httpsCall(webhook.port, { ca: cert.caPem, ...options });
      assert.equal(answer.status, status);
      assert.match(String(answer.headers['content-type']), /^application\/json/);
      assert.match((JSON.parse(answer.body) as { error: string }).error, message);
    });
  }

  test('a body announced over the limit is refused before it is read', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: webhook.port,
          method: 'POST',
          path: '/mutate',
          ca: cert.caPem,
          agent: false,
          headers: { 'Content-Type': 'application/json', 'Content-Length': 50 * 1024 * 1024 },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.write('{"a":');
    });
    assert.equal(answer, 413);
  });

  test('the server is still healthy after all of that', async () => {
    const answer = await call({ method: 'GET', path: '/healthz' });
    assert.equal(answer.status, 200);
  });
});

describe('TLS', () => {
  test('refuses TLS 1.1 and speaks 1.2 and 1.3', async () => {
    await assert.rejects(
      httpsCall(webhook.port, {
        ca: cert.caPem,
        method: 'GET',
        path: '/healthz',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
      }),
    );
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const answer = await httpsCall(webhook.port, {
        ca: cert.caPem,
        method: 'GET',
        path: '/healthz',
        minVersion: version,
        maxVersion: version,
      });
      assert.equal(answer.status, 200);
    }
  });
});

describe('identities file', () => {
  test('is re-read when it changes', async () => {
    const file = join(dir, 'identities.json');
    const original = await readFile(file, 'utf8');
    await writeFile(file, mapping({ 'default/app': OTHER_ROLE }));
    await eventually(async () => {
      const reply = decodeReply((await call({ body: podReview() })).body);
      return envOf(reply.patch).AWS_ROLE_ARN === OTHER_ROLE ? true : undefined;
    });
    // An invalid file keeps the last good mapping.
    await writeFile(file, '{"default/app": ');
    await webhook.waitForLog(
      (line) => line.msg === 'identities file is invalid; keeping the previous mapping',
    );
    const reply = decodeReply((await call({ body: podReview() })).body);
    assert.equal(envOf(reply.patch).AWS_ROLE_ARN, OTHER_ROLE);
    await writeFile(file, original);
    await eventually(async () => {
      const again = decodeReply((await call({ body: podReview() })).body);
      return envOf(again.patch).AWS_ROLE_ARN === ROLE ? true : undefined;
    });
  });

  test('follows a ConfigMap volume`s ..data symlink swap', async () => {
    // The kubelet's layout: <dir>/..<timestamp>/config.json, <dir>/..data -> ..<timestamp>,
    // <dir>/config.json -> ..data/config.json; an update writes a new timestamp dir and renames a new ..data over.
    const volume = join(dir, 'volume');
    await mkdir(join(volume, '..2026_11_30_first'), { recursive: true });
    await writeFile(join(volume, '..2026_11_30_first', 'config.json'), mapping({ 'swap/app': ROLE }));
    await symlink('..2026_11_30_first', join(volume, '..data'));
    await symlink('..data/config.json', join(volume, 'config.json'));
    const second = await startWebhook([
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--identities-file',
      join(volume, 'config.json'),
    ]);
    try {
      const ask = async () =>
        envOf(
          decodeReply(
            (await httpsCall(second.port, { ca: cert.caPem, body: podReview({ namespace: 'swap' }) })).body,
          ).patch,
        ).AWS_ROLE_ARN;
      assert.equal(await ask(), ROLE);
      await mkdir(join(volume, '..2026_11_30_second'));
      await writeFile(
        join(volume, '..2026_11_30_second', 'config.json'),
        mapping({ 'swap/app': OTHER_ROLE }),
      );
      await symlink('..2026_11_30_second', join(volume, '..data_tmp'));
      await rename(join(volume, '..data_tmp'), join(volume, '..data'));
      await rm(join(volume, '..2026_11_30_first'), { recursive: true });
      await eventually(async () => ((await ask()) === OTHER_ROLE ? true : undefined));
    } finally {
      await second.stop('SIGKILL');
    }
  });
});

/** Waits until a new connection is served the certificate with this fingerprint. */
async function untilServed(ca: string, fingerprint: string): Promise<void> {
  await eventually(async () => {
    const fresh = await httpsCall(webhook.port, { ca, method: 'GET', path: '/healthz', peer: true });
    return fresh.peerFingerprint === fingerprint ? true : undefined;
  });
}

describe('certificate reload', () => {
  test('new connections get the new certificate, the open connection keeps working', async () => {
    const replacement = await makeServingCertificate();
    try {
      const pinned = new Agent({ keepAlive: true, maxSockets: 1, ca: [cert.caPem, replacement.caPem] });
      const before = await httpsCall(webhook.port, {
        agent: pinned,
        ca: [cert.caPem, replacement.caPem].join('\n'),
        body: podReview(),
        peer: true,
      });
      const oldFingerprint = new X509Certificate(cert.certPem).fingerprint256;
      assert.equal(before.peerFingerprint, oldFingerprint);
      await replaceServingPair(dir, replacement);
      const newFingerprint = new X509Certificate(replacement.certPem).fingerprint256;
      await untilServed(replacement.caPem, newFingerprint);
      // The keep-alive connection made before the swap still answers.
      const onOld = await httpsCall(webhook.port, {
        agent: pinned,
        ca: [cert.caPem, replacement.caPem].join('\n'),
        body: podReview(),
        peer: true,
      });
      assert.equal(onOld.status, 200);
      assert.equal(onOld.reusedSocket, true);
      assert.equal(onOld.peerFingerprint, oldFingerprint);
      pinned.destroy();
      // Clients that trust only the old CA now fail: the swap really happened.
      await assert.rejects(httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/healthz' }));
      const metrics = await httpGet(webhook.metricsPort, '/metrics');
      assert.equal(
        metricValue(metrics.body, 'kirsa_webhook_certificate_expiry_timestamp_seconds'),
        new Date(new X509Certificate(replacement.certPem).validTo).getTime() / 1000,
      );
      // Put the first certificate back for the other tests.
      await replaceServingPair(dir, cert);
      await untilServed(cert.caPem, oldFingerprint);
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 4, ca: cert.caPem });
    } finally {
      await replacement.cleanup();
    }
  });

  test('a key that does not match keeps the previous certificate in service', async () => {
    const other = await makeServingCertificate();
    try {
      await copyFile(other.keyFile, join(dir, 'tls.key'));
      await webhook.waitForLog((line) => /do not make a usable pair/.test(line.msg));
      const answer = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/healthz' });
      assert.equal(answer.status, 200);
      await copyFile(cert.keyFile, join(dir, 'tls.key'));
    } finally {
      await other.cleanup();
    }
  });
});

describe('metrics', () => {
  test('count outcomes, time admissions from 0.5 ms, and show the sources', async () => {
    const before = await httpGet(webhook.metricsPort, '/metrics');
    const mutatedBefore =
      metricValue(before.body, 'kirsa_webhook_admissions_total', { outcome: 'mutated' }) ?? 0;
    const badBefore =
      metricValue(before.body, 'kirsa_webhook_admissions_total', { outcome: 'bad_request' }) ?? 0;
    await call({ body: podReview() });
    await call({ body: podReview() });
    await httpsCall(webhook.port, { ca: cert.caPem, body: 'nope' });
    const { status, body } = await httpGet(webhook.metricsPort, '/metrics');
    assert.equal(status, 200);
    assert.equal(
      metricValue(body, 'kirsa_webhook_admissions_total', { outcome: 'mutated' }),
      mutatedBefore + 2,
    );
    assert.equal(
      metricValue(body, 'kirsa_webhook_admissions_total', { outcome: 'bad_request' }),
      badBefore + 1,
    );
    for (const outcome of ['no_identity', 'service_account_missing', 'conflict', 'error']) {
      assert.notEqual(metricValue(body, 'kirsa_webhook_admissions_total', { outcome }), undefined, outcome);
    }
    assert.notEqual(
      metricValue(body, 'kirsa_webhook_admission_duration_seconds_bucket', { le: '0.0005' }),
      undefined,
    );
    assert.equal(metricValue(body, 'kirsa_webhook_source_synced', { source: 'identities-file' }), 1);
    assert.equal(metricValue(body, 'kirsa_webhook_identities', { source: 'identities-file' }), 3);
    // The process and Node series (src/webhook/process-metrics.ts), unprefixed as the Go client's are in the reference.
    assert.ok((metricValue(body, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.notEqual(metricValue(body, 'nodejs_eventloop_lag_max_seconds'), undefined);
    assert.equal((await httpGet(webhook.metricsPort, '/')).status, 404);
  });

  test('logs carry no key material', () => {
    const text = JSON.stringify(webhook.logs);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.doesNotMatch(text, /BEGIN CERTIFICATE/);
  });
});

describe('readiness and drain', () => {
  test('ready with the file loaded; at SIGTERM not ready at once, still answering, then exits 0', async () => {
    const drained = await startWebhook([...folder.flags, '--shutdown-drain-delay', '1500ms']);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1, ca: cert.caPem });
    try {
      const ready = await httpsCall(drained.port, {
        agent: keepAlive,
        ca: cert.caPem,
        method: 'GET',
        path: '/readyz',
      });
      assert.equal(ready.status, 200);
      assert.equal(
        (await httpsCall(drained.port, { agent: keepAlive, ca: cert.caPem, body: podReview() })).status,
        200,
      );
      const signalled = Date.now();
      drained.child.kill('SIGTERM');
      await drained.waitForLog((line) => line.msg === 'signal received');
      const notReady = await httpsCall(drained.port, {
        agent: keepAlive,
        ca: cert.caPem,
        method: 'GET',
        path: '/readyz',
      });
      assert.equal(notReady.status, 503);
      assert.match(notReady.body, /shutting down/);
      assert.equal(notReady.reusedSocket, true);
      assert.equal(notReady.headers.connection, 'close');
      // During the drain delay admissions are still answered, on new connections too.
      const during = await httpsCall(drained.port, { agent: keepAlive, ca: cert.caPem, body: podReview() });
      assert.equal(during.status, 200);
      assert.equal(decodeReply(during.body).response.allowed, true);
      assert.ok(Date.now() - signalled < 1500, 'answered within the drain delay');
      assert.equal(await drained.exited, 0);
      assert.ok(Date.now() - signalled >= 1400, 'stayed up for the drain delay');
    } finally {
      keepAlive.destroy();
      await drained.stop('SIGKILL');
    }
  });
});

describe('command line', () => {
  test('--help lists the reference flags with their defaults', async () => {
    const { runKirsa } = await import('../../support/run-kirsa.ts');
    const help = await runKirsa(['webhook', '--help']);
    assert.equal(help.code, 0);
    for (const flag of [
      '--annotation-prefix',
      '--token-audience',
      '--token-mount-path',
      '--token-expiration',
      '--aws-default-region',
      '--sts-regional-endpoint',
      '--watch-config-map',
      '--namespace',
      '--kubeconfig',
      '--metrics-port',
      '--tls-cert',
      '--tls-key',
      '--tls-min-version',
      '--service-account-lookup-grace-period',
      '--watch-container-credentials-config',
    ]) {
      assert.match(help.stdout, new RegExp(`${flag}\\b`), flag);
    }
    assert.match(help.stdout, /default: 443\)/);
    assert.match(help.stdout, /default: 9999/);
    assert.match(help.stdout, /default: "eks"/);
    assert.match(help.stdout, /default: "1\.2"/);
  });

  test('refuses to start without any identity source, or with an unknown log level', async () => {
    const { runKirsa } = await import('../../support/run-kirsa.ts');
    const none = await runKirsa(
      ['webhook', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')],
      {
        env: { KUBERNETES_SERVICE_HOST: '' },
      },
    );
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no identity source/);
    assert.match(none.stderr, /hint:/);
    const loud = await runKirsa(['webhook', '--log-level', 'loud']);
    assert.equal(loud.code, 2);
    assert.match(
      loud.stderr,
      /--log-level takes one of trace, debug, info, warn, error, fatal, silent, not "loud"/,
    );
  });

  test('refuses a KIRSA_V8_FLAGS_WHEN_LISTENING that is not V8 flags, before it listens', async () => {
    const { runKirsa, assertErrorCode } = await import('../../support/run-kirsa.ts');
    const run = await runKirsa(['webhook', ...folder.flags], {
      env: { KUBERNETES_SERVICE_HOST: '', KIRSA_V8_FLAGS_WHEN_LISTENING: '--max-opt=2 rm' },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /KIRSA_V8_FLAGS_WHEN_LISTENING has "rm", not a V8 flag/);
    assert.match(run.stderr, /hint: .*--invocation-count-for-maglev=400/);
    assertErrorCode(run.stderr, 'FLAG_INVALID');
  });

  test('in a pod without a service-account token it serves from --identities-file', async () => {
    // automountServiceAccountToken: false still leaves KUBERNETES_SERVICE_HOST set (the kubelet always adds
    // it); the webhook used to exit 2 on the missing token instead of using the file it was given.
    const podLike = await startWebhook([...folder.flags, '--watch-service-accounts=false'], {
      env: { ...process.env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
    });
    assert.equal((await httpsCall(podLike.port, { ca: cert.caPem, body: podReview() })).status, 200);
    assert.equal(await podLike.stop(), 0);
  });

  test('accepts the reference manifest flags it does not need', async () => {
    const compatible = await startWebhook([
      ...folder.flags,
      '--in-cluster=false',
      '--logtostderr',
      '--service-name=pod-identity-webhook',
      '-v=2',
      '--shutdown-drain-delay',
      '0s',
    ]);
    assert.equal((await httpsCall(compatible.port, { ca: cert.caPem, body: podReview() })).status, 200);
    assert.equal(await compatible.stop(), 0);
  });
});
