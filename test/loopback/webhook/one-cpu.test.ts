// On one CPU the webhook has V8 mark its heap on the webhook's own thread, in small steps between admissions,
// instead of beside it: with one CPU there is no "beside", and V8's concurrent marker took whole milliseconds
// from the webhook in turns (docs/webhook.md, "Marking on one CPU"). Which CPUs a process has is what libuv
// reads: the affinity mask (taskset here, a cpuset in a pod) and the cgroup's CPU limit.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { admittedRole, startWebhook } from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const ONE_CPU_LINE =
  "one CPU to run on: V8 marks the heap on the webhook's thread, in steps between admissions";

let dir: string;
let cert: ServingCertificate;
let identities: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-one-cpu-'));
  cert = await makeServingCertificate();
  identities = join(dir, 'identities.json');
  await writeFile(identities, JSON.stringify({ 'default/app': { RoleARN: ROLE } }));
});

after(async () => {
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function runOn(launcher: string[]): Promise<{ oneCpuLines: unknown[] }> {
  const webhook = await startWebhook(
    ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--identities-file', identities],
    { launcher },
  );
  try {
    // Marking on the main thread changes when V8 works, never what the webhook answers.
    assert.equal((await admittedRole(webhook, cert.caPem, 'default', 'app')).role, ROLE);
  } finally {
    assert.equal(await webhook.stop('SIGTERM'), 0);
  }
  return { oneCpuLines: webhook.logs.filter((line) => line.msg === ONE_CPU_LINE) };
}

test('held to one CPU, the webhook turns off concurrent marking and says so once', async () => {
  const { oneCpuLines } = await runOn(['taskset', '-c', '0']);
  assert.equal(oneCpuLines.length, 1);
  assert.deepEqual(oneCpuLines[0], {
    ...(oneCpuLines[0] as object),
    level: 'info',
    cpus: 1,
    v8Flags: ['--no-concurrent-marking'],
  });
});

test("with two CPUs or more, V8's default stays", {
  skip: availableParallelism() < 2 && 'this machine has one CPU',
}, async () => {
  const { oneCpuLines } = await runOn(['taskset', '-c', '0,1']);
  assert.deepEqual(oneCpuLines, []);
});
