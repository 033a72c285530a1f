// The service-account phases of `kirsa role create` and `kirsa role delete` on a real kube-apiserver (with
// IAM on moto): delete removes the role annotations only from a ServiceAccount that names this role, keeps
// every other annotation and the ServiceAccount itself, and a second run changes nothing.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const run = promisify(execFile);
const ACCOUNT = '123456789012'; // moto's default account
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/cluster-a`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/kirsa.prod-a.payments.api`;
const FOREIGN_ROLE = `arn:aws:iam::${ACCOUNT}:role/someone-elses`;
const env = motoClientEnv();
const skip = (await motoUnavailable()) ?? false;

let moto: MotoServer | undefined;
let kube: KubeApiserver | undefined;

before(async (t) => {
  const context = t as TestContext;
  if (skip || !realPart(context, 'KIRSA_KUBE_APISERVER') || !realPart(context, 'KIRSA_ETCD')) return;
  moto = await startMoto();
  kube = await startKubeApiserver();
  await kube.request('POST', '/api/v1/namespaces', { metadata: { name: 'payments' } });
});

after(async () => {
  await kube?.stop();
  await moto?.stop();
});

function kirsa(args: string[]) {
  return runKirsa([...args, '--endpoint-url', moto!.endpoint, '--kubeconfig', kube!.kubeconfigPath], { env });
}

async function annotationsOf(name: string): Promise<Record<string, string> | undefined> {
  const answer = await kube!.request('GET', `/api/v1/namespaces/payments/serviceaccounts/${name}`);
  return answer.status === 404 ? undefined : (answer.json.metadata.annotations ?? {});
}

describe('role delete on a real kube-apiserver', { skip }, () => {
  test('the annotations go only where they name this role; the rest stays; a second run changes nothing', async (t) => {
    if (!kube) return t.skip('no kube-apiserver');
    const trust = [
      '-n',
      'payments',
      '--service-account',
      'api',
      '--service-account',
      'web',
      '--cluster',
      'prod-a',
      '--provider-arn',
      PROVIDER,
    ];
    // role create annotates api only; web is made afterwards, naming someone else's role.
    const created = await kirsa([
      'role',
      'create',
      ...trust.slice(0, 4),
      ...trust.slice(6),
      '--audience',
      'custom',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(await annotationsOf('api'), {
      'eks.amazonaws.com/role-arn': ROLE_ARN,
      'eks.amazonaws.com/audience': 'custom',
    });
    // Someone's own annotation on the same ServiceAccount, added as a person would.
    const kubectl = realPart(t, 'KIRSA_KUBECTL');
    if (!kubectl) return;
    await run(kubectl, [
      '--kubeconfig',
      kube.kubeconfigPath,
      'annotate',
      'serviceaccount',
      'api',
      '-n',
      'payments',
      'team=payments',
    ]);
    await kube.request('POST', '/api/v1/namespaces/payments/serviceaccounts', {
      metadata: { name: 'web', annotations: { 'eks.amazonaws.com/role-arn': FOREIGN_ROLE } },
    });

    const first = await kirsa(['role', 'delete', ...trust]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /service-account +updated +removed eks\.amazonaws\.com\/role-arn, eks\.amazonaws\.com\/audience from payments\/api\n/,
    );
    assert.match(first.stdout, /role +deleted +arn:aws:iam::123456789012:role\/kirsa\.prod-a\.payments\.api/);
    assert.deepEqual(await annotationsOf('api'), { team: 'payments' });
    assert.deepEqual(await annotationsOf('web'), { 'eks.amazonaws.com/role-arn': FOREIGN_ROLE });

    const second = await kirsa(['role', 'delete', ...trust]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /service-account +unchanged +no ServiceAccount named names this role/);
    assert.match(second.stdout, /role +unchanged +role kirsa\.prod-a\.payments\.api does not exist/);
    assert.deepEqual(await annotationsOf('api'), { team: 'payments' });
  });
});
