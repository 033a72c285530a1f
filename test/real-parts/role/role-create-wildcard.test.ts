// `kirsa role create` with a wildcard service account, as processes against moto's IAM and a real
// kube-apiserver: the trust is a StringLike, and instead of skipping the service-account phase it writes the
// mapping entry the webhook reads (the ConfigMap, or an identities file by flag), keeping every other entry,
// idempotently, and refusing to re-point an entry that names another role unless --overwrite.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lookupMapping } from '../../../src/core/identity/identity.ts';
import { parseIdentityMapping } from '../../../src/core/identity/mapping-reader.ts';
import {
  type KubeApiserver,
  kubeApiserverUnavailable,
  startKubeApiserver,
} from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const HOST = 'oidc.example.com/cluster-w';
const ACCOUNT = '123456789012'; // moto's default account
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${HOST}`;
const env = motoClientEnv();

// Outside CI missing real parts skip these tests with the reason; in CI they fail.
const skip = (await motoUnavailable()) ?? (await kubeApiserverUnavailable()) ?? false;

let moto: MotoServer;
let kube: KubeApiserver;
let dir: string;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'kirsa-role-wildcard-'));
  [moto, kube] = await Promise.all([startMoto(), startKubeApiserver()]);
  const created = await kube.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kirsa' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
});

after(async () => {
  await Promise.all([moto?.stop(), kube?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function roleCreate(serviceAccount: string, roleName: string, extra: string[] = []) {
  return runKirsa(
    [
      'role',
      'create',
      '--provider-arn',
      PROVIDER,
      '--service-account',
      serviceAccount,
      '--role-name',
      roleName,
      '--endpoint-url',
      moto.endpoint,
      '--kubeconfig',
      kube.kubeconfigPath,
      ...extra,
    ],
    { env },
  );
}

function phaseStatus(stdout: string, phase: string): string | undefined {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find(([name]) => name === phase)?.[1];
}

async function mappingConfigMap() {
  const answer = await kube.request('GET', '/api/v1/namespaces/kirsa/configmaps/pod-identity-webhook');
  return answer.status === 200 ? (answer.json.data.config as string) : undefined;
}

describe('role create with a wildcard service account', { skip }, () => {
  test('writes the entry to the mapping ConfigMap, keeps other entries, and is idempotent', async () => {
    const first = await roleCreate('team-a/*', 'team-a-any');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(phaseStatus(first.stdout, 'service-account'), 'created', first.stdout);
    assert.match(first.stdout, /wrote mapping entry "team-a\/\*" in ConfigMap kirsa\/pod-identity-webhook/);
    const arn = `arn:aws:iam::${ACCOUNT}:role/team-a-any`;
    const { mapping } = parseIdentityMapping((await mappingConfigMap())!);
    assert.equal(lookupMapping(mapping, 'team-a', 'any-account')?.entry.roleArn, arn);
    assert.equal(lookupMapping(mapping, 'team-b', 'any-account'), undefined);

    const again = await roleCreate('team-a/*', 'team-a-any');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(phaseStatus(again.stdout, 'service-account'), 'unchanged', again.stdout);

    const second = await roleCreate('team-*/ci-*', 'teams-ci');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(phaseStatus(second.stdout, 'service-account'), 'created', second.stdout);
    const both = parseIdentityMapping((await mappingConfigMap())!).mapping;
    assert.equal(lookupMapping(both, 'team-a', 'web')?.entry.roleArn, arn, 'the first entry is kept');
    assert.equal(
      lookupMapping(both, 'team-b', 'ci-runner')?.entry.roleArn,
      `arn:aws:iam::${ACCOUNT}:role/teams-ci`,
    );
  });

  test('an entry naming another role is refused before any change, --overwrite re-points it', async () => {
    const before = await mappingConfigMap();
    const taken = await roleCreate('team-a/*', 'someone-else');
    assert.equal(taken.code, 1, taken.stderr);
    assert.match(
      taken.stderr,
      /entry "team-a\/\*" already names role arn:aws:iam::123456789012:role\/team-a-any/,
    );
    assert.match(taken.stderr, /hint: nothing was changed; pass --overwrite/);
    assert.equal(await mappingConfigMap(), before, 'the ConfigMap is unchanged');
    const overwritten = await roleCreate('team-a/*', 'someone-else', ['--overwrite']);
    assert.equal(overwritten.code, 0, overwritten.stderr);
    assert.equal(phaseStatus(overwritten.stdout, 'service-account'), 'updated', overwritten.stdout);
    const { mapping } = parseIdentityMapping((await mappingConfigMap())!);
    assert.equal(
      lookupMapping(mapping, 'team-a', 'x')?.entry.roleArn,
      `arn:aws:iam::${ACCOUNT}:role/someone-else`,
    );
  });

  test('--mapping-file writes an identities file instead, keeping what it holds', async () => {
    const file = join(dir, 'identities.json');
    await writeFile(file, JSON.stringify({ 'other/app': { RoleARN: `arn:aws:iam::${ACCOUNT}:role/other` } }));
    const run = await roleCreate('*/batch-*', 'batch', ['--mapping-file', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`wrote mapping entry "\\*/batch-\\*" in ${file}`));
    const { mapping, problems } = parseIdentityMapping(await readFile(file, 'utf8'));
    assert.deepEqual(problems, []);
    assert.equal(
      lookupMapping(mapping, 'any', 'batch-nightly')?.entry.roleArn,
      `arn:aws:iam::${ACCOUNT}:role/batch`,
    );
    assert.equal(lookupMapping(mapping, 'other', 'app')?.entry.roleArn, `arn:aws:iam::${ACCOUNT}:role/other`);
  });

  test('a namespace pattern gets no `next: kirsa doctor` line: it names no one account to check', async () => {
    const file = join(dir, 'identities-ns-pattern.json');
    const run = await roleCreate('team-*/app', 'team-app', ['--mapping-file', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /wrote mapping entry "team-\*\/app"/);
    assert.doesNotMatch(run.stderr, /kirsa doctor/);
  });
});
