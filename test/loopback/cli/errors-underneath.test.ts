// Errors from underneath (issue #15) as a user meets them, each a process: exit code, the catalogue code
// (with -o json) and the first line. No kubeconfig at all; a cluster that is down (its URL and "refused"
// named); IAM with no region configured (IAM is global: defaulted, so the next failure is the network one);
// an AWS endpoint whose name does not resolve (DNS named, not a bare errno).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../support/processes.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

let home: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kirsa-underneath-'));
  // A machine with nothing configured: no kubeconfig, no AWS region or profile, fake keys (never accepted).
  env = {
    HOME: home,
    KUBECONFIG: '',
    KUBERNETES_SERVICE_HOST: '',
    AWS_REGION: '',
    AWS_DEFAULT_REGION: '',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
  };
});

after(async () => {
  await rm(home, { recursive: true, force: true });
});

function jsonError(stderr: string): { code: string; message: string; hint: string | null } {
  return (JSON.parse(stderr) as { error: { code: string; message: string; hint: string | null } }).error;
}

describe('errors from underneath', () => {
  test('no kubeconfig at all: said so, not a TLS-settings message', async () => {
    for (const args of [
      ['doctor', 'pod', 'app'],
      [
        'role',
        'create',
        '--service-account',
        'app',
        '--provider-arn',
        'arn:aws:iam::111122223333:oidc-provider/i.example/c',
        '--skip-phases',
        'role,policies,inline-policy',
      ],
    ]) {
      const run = await runKirsa([...args, '-o', 'json'], { env });
      assert.equal(run.code, 1, run.stderr);
      const error = jsonError(run.stderr);
      assert.equal(error.code, 'KUBECONFIG_NOT_FOUND');
      assert.equal(
        error.message,
        'no kubeconfig found: KUBECONFIG unset, ~/.kube/config missing, not in a cluster',
      );
    }
  });

  test('a cluster that is down: the server URL and "connection refused"', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const kubeconfig = join(home, 'down.kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
    );
    const run = await runKirsa(['doctor', 'pod', 'app', '--kubeconfig', kubeconfig, '--no-aws'], { env });
    assert.equal(run.code, 1, run.stderr);
    const first = run.stderr.split('\n')[0] ?? '';
    assert.ok(first.includes(`cannot reach the API server at ${server}: connection refused`), first);
    const json = await runKirsa(
      ['doctor', 'pod', 'app', '--kubeconfig', kubeconfig, '--no-aws', '-o', 'json'],
      { env },
    );
    assert.equal(jsonError(json.stderr).code, 'KUBE_UNREACHABLE');
  });

  test('provider create with no region configured: IAM defaults it, no "Region is missing"', async () => {
    const run = await runKirsa(
      [
        'provider',
        'create',
        '--issuer-url',
        'https://issuer.example.test/c1',
        '--thumbprint',
        '0000000000000000000000000000000000000000',
        '--endpoint-url',
        `http://127.0.0.1:${await freePort()}`,
        '-o',
        'json',
      ],
      { env },
    );
    assert.equal(run.code, 1, run.stderr);
    const error = jsonError(run.stderr);
    assert.equal(error.code, 'AWS_UNREACHABLE');
    assert.match(error.message, /cannot reach AWS: connection refused/);
  });

  test('an AWS host that does not resolve: DNS named, not a bare errno', async () => {
    const run = await runKirsa(
      [
        'role',
        'create',
        '--service-account',
        'app',
        '--provider-arn',
        'arn:aws:iam::111122223333:oidc-provider/issuer.example.test/c1',
        '--endpoint-url',
        'https://kirsa-no-such-host.invalid',
        '--skip-phases',
        'service-account',
      ],
      { env },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr.split('\n')[0] ?? '', /^kirsa: GetRole kirsa-default-app: cannot reach AWS: DNS/);
  });
});
