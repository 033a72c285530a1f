// Exit codes and output shapes scripts rely on (issue #15), as processes: bad input exits 2 with a specific
// catalogue code (read from the -o json error object, never from the text), and -o patch has one shape.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runKirsa } from '../../support/run-kirsa.ts';

const dir = mkdtempSync(join(tmpdir(), 'kirsa-exit-codes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const ROLE = 'arn:aws:iam::111122223333:role/s3-echoer';
const POD = `apiVersion: v1
kind: Pod
metadata:
  name: s3-echoer
spec:
  serviceAccountName: s3-echoer
  containers:
    - name: main
      image: s3-echoer
`;

/** Runs kirsa with -o json added, and returns the exit code and the error's catalogue code. */
async function failure(
  args: string[],
  jsonArgs = [...args, '-o', 'json'],
): Promise<{ code: number | null; error: string; first: string }> {
  const text = await runKirsa(args);
  const json = await runKirsa(jsonArgs);
  assert.equal(json.code, text.code, 'the exit code is the same with -o json');
  return {
    code: text.code,
    error: (JSON.parse(json.stderr) as { error: { code: string } }).error.code,
    first: text.stderr.split('\n')[0] ?? '',
  };
}

describe('exit codes for scripts', () => {
  test('mutate --role-arn that is not an ARN is bad input: exit 2', async () => {
    const result = await failure(['mutate', '-f', file('pod.yaml', POD), '--role-arn', 'my-role']);
    assert.equal(result.code, 2);
    assert.equal(result.error, 'ARN_INVALID');
    assert.equal(result.first, 'kirsa: "my-role" is not an IAM role ARN');
  });

  test('a stray --- that leaves a document without kind: exit 2 naming the line', async () => {
    const split = POD.replace('spec:\n', '---\nspec:\n');
    const result = await failure(['mutate', '-f', file('split.yaml', split), '--role-arn', ROLE]);
    assert.equal(result.code, 2);
    assert.equal(result.error, 'MANIFEST_NO_KIND');
    assert.match(result.first, /split\.yaml:6: this document has no kind$/);
  });

  test('mutate -f empty.yaml says the file is empty, not "no identity"', async () => {
    const result = await failure(['mutate', '-f', file('empty.yaml', '# nothing\n')]);
    assert.equal(result.code, 2);
    assert.equal(result.error, 'MANIFEST_EMPTY');
    assert.match(result.first, /empty\.yaml holds no Kubernetes object$/);
  });

  test('-o patch is a list of {kind, name, namespace, patch} for one workload as for two', async () => {
    const run = await runKirsa(['mutate', '-f', file('one.yaml', POD), '--role-arn', ROLE, '-o', 'patch']);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as Array<{
      kind: string;
      name: string;
      namespace: string;
      patch: unknown[];
    }>;
    assert.equal(printed.length, 1);
    assert.deepEqual(Object.keys(printed[0]!), ['kind', 'name', 'namespace', 'patch']);
    assert.equal(printed[0]!.kind, 'Pod');
    assert.ok(printed[0]!.patch.length > 0);
  });

  test('apiserver-config --dir naming no issuer is bad input: exit 2', async () => {
    // apiserver-config prints a snippet and has no -o: the same folder through issuer status gives the code.
    const nope = join(dir, 'nope');
    const result = await failure(
      ['apiserver-config', '--for', 'flags', '--dir', nope],
      ['issuer', 'status', '--dir', nope, '-o', 'json'],
    );
    assert.equal(result.code, 2);
    assert.equal(result.error, 'ISSUER_DIR_INVALID');
    assert.match(result.first, /holds no kirsa issuer/);
  });

  test('explain on a permissions policy says so instead of judging the account', async () => {
    const permissions = file(
      'permissions.json',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }],
      }),
    );
    const args = ['explain', '--policy-file', permissions, '--issuer-url', 'https://issuer.example.test/c1'];
    const result = await failure([...args, '--service-account', 'app']);
    assert.equal(result.code, 2);
    assert.equal(result.error, 'POLICY_NOT_TRUST');
    assert.match(result.first, /is a permissions policy \(no statement names a Principal\)/);
  });
});
