// On one CPU the webhook has V8 collect garbage on the webhook's own thread: marking in small steps between
// admissions instead of beside it, scavenging without splitting it into tasks. With one CPU there is no
// "beside": V8's concurrent marker took whole milliseconds from the webhook in turns, and a scavenge's tasks
// only made its pause longer (docs/webhook.md, "Marking on one CPU", "Scavenging on one CPU"). One CPU is an affinity mask of one
// (taskset here, an exclusive cpuset in a pod) or a CPU limit of 1 or less (a pod's limits.cpu: a cgroup's
// CFS quota, made here in the machine's own cgroup hierarchy when the test may write it).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { admittedRole, startWebhook } from '../../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app';
const ONE_CPU_LINE = "one CPU to run on: V8 collects garbage on the webhook's thread alone";

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

/**
 * A cgroup of its own with a CPU limit of half a CPU, and the launcher that runs a command inside it; or why
 * this machine gives none (not root, no writable cpu hierarchy).
 */
function halfCpuCgroup(): { launcher: string[]; remove: () => void } | string {
  const name = `kirsa-one-cpu-test-${process.pid}`;
  let dir: string;
  try {
    if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
      dir = `/sys/fs/cgroup/cpu/${name}`; // v1, its cpu hierarchy
      mkdirSync(dir);
      writeFileSync(`${dir}/cpu.cfs_period_us`, '100000');
      writeFileSync(`${dir}/cpu.cfs_quota_us`, '50000');
    } else if (readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('cpu')) {
      writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+cpu'); // v2: the cpu controller for children
      dir = `/sys/fs/cgroup/${name}`;
      mkdirSync(dir);
      writeFileSync(`${dir}/cpu.max`, '50000 100000');
    } else return 'this machine has no cgroup cpu controller to limit';
  } catch (error) {
    return `this machine's cgroups cannot be written here (${(error as Error).message})`;
  }
  return {
    // The shell moves itself into the cgroup, then becomes the webhook, which starts inside it.
    launcher: ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir],
    remove: () => rmdirSync(dir),
  };
}

async function runOn(launcher: string[], env: NodeJS.ProcessEnv = {}): Promise<{ oneCpuLines: unknown[] }> {
  const webhook = await startWebhook(
    ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--identities-file', identities],
    { launcher, env },
  );
  try {
    // Marking on the main thread changes when V8 works, never what the webhook answers.
    assert.equal((await admittedRole(webhook, cert.caPem, 'default', 'app')).role, ROLE);
  } finally {
    assert.equal(await webhook.stop('SIGTERM'), 0);
  }
  return { oneCpuLines: webhook.logs.filter((line) => line.msg === ONE_CPU_LINE) };
}

test('held to one CPU, the webhook turns off concurrent marking and parallel scavenging, and says so once', async () => {
  const { oneCpuLines } = await runOn(['taskset', '-c', '0']);
  assert.equal(oneCpuLines.length, 1);
  assert.deepEqual(oneCpuLines[0], {
    ...(oneCpuLines[0] as object),
    level: 'info',
    cpus: 1,
    v8Flags: ['--no-concurrent-marking', '--no-parallel-scavenge'],
  });
});

test("on one CPU, a collector flag named in KIRSA_V8_FLAGS_WHEN_LISTENING is the operator's choice", async () => {
  const { oneCpuLines } = await runOn(['taskset', '-c', '0'], {
    KIRSA_V8_FLAGS_WHEN_LISTENING: '--concurrent-marking',
  });
  assert.equal(oneCpuLines.length, 1);
  assert.deepEqual((oneCpuLines[0] as { v8Flags: unknown }).v8Flags, ['--no-parallel-scavenge']);
  const both = await runOn(['taskset', '-c', '0'], {
    KIRSA_V8_FLAGS_WHEN_LISTENING: '--concurrent-marking --parallel-scavenge',
  });
  assert.deepEqual(both.oneCpuLines, []);
});

test('under a CPU limit of half a CPU, the same', async (t) => {
  const cgroup = halfCpuCgroup();
  if (typeof cgroup === 'string') return t.skip(cgroup);
  try {
    const { oneCpuLines } = await runOn(cgroup.launcher);
    assert.equal(oneCpuLines.length, 1);
    assert.deepEqual(oneCpuLines[0], {
      ...(oneCpuLines[0] as object),
      cpus: 0.5,
      v8Flags: ['--no-concurrent-marking', '--no-parallel-scavenge'],
    });
  } finally {
    cgroup.remove();
  }
});

test("with two CPUs or more, V8's default stays", {
  skip: availableParallelism() < 2 && 'this machine has one CPU',
}, async () => {
  const { oneCpuLines } = await runOn(['taskset', '-c', '0,1']);
  assert.deepEqual(oneCpuLines, []);
});
