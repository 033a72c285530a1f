// A cluster that already exists moving to kirsa's issuer, on the real kube-apiserver started with its OWN
// generated key and its default issuer: `kirsa apiserver-config --kubeconfig` reads the current issuer
// through the API and keeps it as a previous issuer, so after kube-apiserver restarts on exactly the printed
// flags a token issued before the change still authenticates (TokenReview). The control: the same restart
// with --no-keep-current-issuer rejects that token, so the test can tell the two apart. Last, the objects
// `kirsa issuer cronjob` prints are accepted by the API server, and their binding is what lets the job's
// service account read the cluster's JWKS once the default discovery binding is gone.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { parseAllDocuments } from 'yaml';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const OLD_ISSUER = 'https://kubernetes.default.svc';
const NEW_ISSUER = 'https://kirsa-issuer.s3.eu-west-1.amazonaws.com/cluster-1';

let work: string;
let apiserver: KubeApiserver | undefined;

async function mintToken(): Promise<string> {
  // No audiences: the API server's own (its --api-audiences), as an in-cluster client's token has.
  const minted = await apiserver!.request('POST', '/api/v1/namespaces/default/serviceaccounts/app/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  assert.equal(minted.status, 201, JSON.stringify(minted.json));
  return (minted.json as { status: { token: string } }).status.token;
}

async function authenticated(token: string): Promise<boolean> {
  const review = await apiserver!.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token },
  });
  assert.equal(review.status, 201, JSON.stringify(review.json));
  return (review.json as { status: { authenticated?: boolean } }).status.authenticated === true;
}

describe('apiserver-config on a cluster that already has an issuer', () => {
  before(async (context) => {
    if (!realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
    work = await mkdtemp(join(tmpdir(), 'kirsa-existing-'));
    apiserver = await startKubeApiserver({ issuer: OLD_ISSUER });
    const created = await apiserver.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'app' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const init = await runKirsa([
      'issuer',
      'init',
      '--issuer-url',
      NEW_ISSUER,
      '--dir',
      join(work, 'issuer'),
    ]);
    assert.equal(init.code, 0, init.stderr);
  });

  after(async () => {
    await apiserver?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function config(...extra: string[]) {
    return runKirsa([
      'apiserver-config',
      '--for',
      'flags',
      '--dir',
      join(work, 'issuer'),
      '--kubeconfig',
      apiserver!.kubeconfigPath,
      '--current-key-file',
      apiserver!.serviceAccountKeyFiles.public,
      ...extra,
    ]);
  }

  test('the current issuer is read through the API and kept; an old token survives the restart', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const oldToken = await mintToken();
    assert.equal(decodeJwt(oldToken).iss, OLD_ISSUER);
    assert.ok(await authenticated(oldToken), 'authenticates before the change');

    const printed = await config();
    assert.equal(printed.code, 0, printed.stderr);
    const flags = printed.stdout.trimEnd().split('\n');
    assert.deepEqual(
      flags.filter((flag) => flag.startsWith('--service-account-issuer=')),
      [`--service-account-issuer=${NEW_ISSUER}`, `--service-account-issuer=${OLD_ISSUER}`],
      'the new issuer signs, the current one is still accepted',
    );
    assert.ok(flags.includes(`--service-account-jwks-uri=${NEW_ISSUER}/keys.json`));
    assert.ok(flags.includes(`--api-audiences=${NEW_ISSUER},${OLD_ISSUER}`));
    assert.match(
      printed.stderr,
      /current issuer https:\/\/kubernetes\.default\.svc is kept as a previous issuer/,
    );

    await apiserver.restartApiserver(0, { serviceAccountFlags: flags });
    const discovery = await apiserver.request('GET', '/.well-known/openid-configuration');
    assert.equal((discovery.json as { issuer: string }).issuer, NEW_ISSUER, 'restarted on the new issuer');
    assert.equal(
      (discovery.json as { jwks_uri: string }).jwks_uri,
      `${NEW_ISSUER}/keys.json`,
      'the API server names the published JWKS',
    );
    assert.ok(await authenticated(oldToken), 'a token of the old issuer still authenticates');
    const newToken = await mintToken();
    assert.equal(decodeJwt(newToken).iss, NEW_ISSUER);
    assert.ok(await authenticated(newToken));

    // The control: the cluster now reports the new issuer, so name the old one by flag and drop it.
    const dropped = await config('--current-issuer', OLD_ISSUER, '--no-keep-current-issuer');
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.match(dropped.stderr, /warning: --no-keep-current-issuer: tokens issued under/);
    const droppedFlags = dropped.stdout.trimEnd().split('\n');
    assert.deepEqual(
      droppedFlags.filter((flag) => flag.startsWith('--service-account-issuer=')),
      [`--service-account-issuer=${NEW_ISSUER}`],
    );
    await apiserver.restartApiserver(0, { serviceAccountFlags: droppedFlags });
    assert.equal(await authenticated(oldToken), false, 'without the previous issuer the old token fails');
    assert.ok(await authenticated(newToken));
  });

  test('k3s and RKE2 cannot keep it: a loud warning says what breaks and for how long', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    for (const distribution of ['k3s', 'rke2']) {
      const result = await runKirsa([
        'apiserver-config',
        '--for',
        distribution,
        '--dir',
        join(work, 'issuer'),
        '--current-issuer',
        OLD_ISSUER,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /kirsa: WARNING: (k3s|RKE2) passes only one --service-account-issuer, so https:\/\/kubernetes\.default\.svc is NOT kept/,
      );
      assert.match(result.stderr, /at 80% of its requested lifetime .*at most the token's whole lifetime/);
      assert.deepEqual(
        result.stdout.split('\n').filter((line) => line.includes('service-account-issuer=')),
        [`  - service-account-issuer=${NEW_ISSUER}`],
        'only the new issuer is in the snippet',
      );
      assert.match(result.stdout, /service-account-jwks-uri=https:\/\/kirsa-issuer/);
    }
  });

  test('issuer cronjob: the API server accepts its objects, and its binding alone lets the job read the JWKS', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const printed = await runKirsa([
      'issuer',
      'cronjob',
      '--bucket',
      'kirsa-issuer',
      '--issuer-url',
      NEW_ISSUER,
      '--region',
      'eu-west-1',
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    const objects = parseAllDocuments(printed.stdout).map((document) => document.toJSON());
    assert.deepEqual(
      objects.map((object) => object.kind),
      ['ServiceAccount', 'ClusterRoleBinding', 'CronJob'],
    );
    assert.deepEqual(objects[2].spec.jobTemplate.spec.template.spec.containers[0].args.slice(0, 3), [
      'issuer',
      'publish',
      '--from-cluster',
    ]);
    // Without the default binding (clusters may remove it), only the printed one grants the read.
    const removed = await apiserver.request(
      'DELETE',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:service-account-issuer-discovery',
    );
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    assert.equal(
      (await apiserver.request('POST', '/api/v1/namespaces', { metadata: { name: 'kirsa' } })).status,
      201,
    );
    const create = (path: string, body: unknown) => apiserver!.request('POST', path, body);
    assert.equal((await create('/api/v1/namespaces/kirsa/serviceaccounts', objects[0])).status, 201);
    const minted = await apiserver.request(
      'POST',
      '/api/v1/namespaces/kirsa/serviceaccounts/kirsa-issuer-publisher/token',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    );
    const jobToken = (minted.json as { status: { token: string } }).status.token;
    const ca = await readFile(apiserver.caFile);
    const readJwks = () =>
      new Promise<number>((resolve, reject) => {
        httpsRequest(
          new URL('/openid/v1/jwks', apiserver!.url),
          { ca, headers: { authorization: `Bearer ${jobToken}` } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end();
      });
    assert.equal(await readJwks(), 403, 'no binding: the job could not read the keys');
    const binding = await create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', objects[1]);
    assert.equal(binding.status, 201, JSON.stringify(binding.json));
    const cronJob = await create('/apis/batch/v1/namespaces/kirsa/cronjobs', objects[2]);
    assert.equal(cronJob.status, 201, JSON.stringify(cronJob.json));
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 200; attempt += 1) {
      status = await readJwks();
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(status, 200, 'with the printed binding the job reads /openid/v1/jwks');
  });
});
