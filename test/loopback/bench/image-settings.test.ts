// The benchmarks measure the webhook as the image runs it: the node flags and environment come from the
// Dockerfile itself (bench/webhook-process.ts), so the figures in the README cannot drift from what ships.
// test/image checks the built image runs node with the same; this checks what the benchmarks read.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeReview } from '../../../bench/pods.ts';
import {
  floorAsImageRunsIt,
  imageEnvironment,
  imageNodeFlags,
  webhookAsImageRunsIt,
} from '../../../bench/webhook-process.ts';
import { V8_FLAGS_WHEN_LISTENING } from '../../../src/io/v8-flags.ts';
import { makeServingCertificate } from '../../support/tls.ts';
import {
  decodeReply,
  envOf,
  type HttpAnswer,
  httpGet,
  httpsCall,
  type LogLine,
  podReview,
  startServerProcess,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

const DOCKERFILE = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');

/**
 * Sends 2,000 reviews (100 rounds of 20, over four keep-alive connections) to a server started with
 * --trace-opt, and splits V8's Maglev decisions, which it writes to the same stdout as the server's log lines,
 * at the "listening" line: their order shows which came while loading.
 */
async function maglevMarksAroundListening(
  server: WebhookProcess,
  ca: string,
  body: string,
  checkAnswer: (answer: HttpAnswer) => void = () => {},
): Promise<{
  beforeListening: LogLine[];
  afterListening: LogLine[];
  baselineBeforeListening: LogLine[];
  baselineAfterListening: LogLine[];
}> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    for (let round = 0; round < 100; round++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => httpsCall(server.port, { ca, agent, body })),
      );
      for (const answer of answers) checkAnswer(answer);
    }
  } finally {
    agent.destroy();
  }
  const maglev = (line: LogLine) => line.level === 'raw' && /for optimization to MAGLEV/.test(line.msg);
  // Sparkplug's compiles, where the server runs with --trace-baseline-batch-compilation.
  const baseline = (line: LogLine) =>
    line.level === 'raw' && /^\[Baseline batch compilation\] Enqueued SFI/.test(line.msg);
  const listeningAt = server.logs.findIndex((line) => line.msg === 'listening');
  return {
    beforeListening: server.logs.slice(0, listeningAt).filter(maglev),
    afterListening: server.logs.slice(listeningAt).filter(maglev),
    baselineBeforeListening: server.logs.slice(0, listeningAt).filter(baseline),
    baselineAfterListening: server.logs.slice(listeningAt).filter(baseline),
  };
}

test("the benchmarks' node flags are the image's", () => {
  const flags = imageNodeFlags();
  for (const flag of ['--max-opt=2', '--expose-gc', '--max-semi-space-size=4'])
    assert.ok(flags.includes(flag), flag);
  assert.ok(flags.every((flag) => DOCKERFILE.includes(flag)));
});

test("the benchmarks' environment is the final stage's ENV lines, NODE_OPTIONS aside", () => {
  const environment = imageEnvironment();
  // README's Performance section and docs/webhook.md ("Memory after load: glibc's arenas") rest on it.
  assert.equal(environment.MALLOC_MMAP_THRESHOLD_, '32768');
  // ...and docs/webhook.md's "glibc's top pad" on this one.
  assert.equal(environment.MALLOC_TOP_PAD_, '0');
  assert.equal(environment.NODE_ENV, 'production');
  assert.equal(environment.NODE_OPTIONS, undefined, 'NODE_OPTIONS reaches node as flags, not twice');
  const finalStage = DOCKERFILE.slice(DOCKERFILE.lastIndexOf('\nFROM '));
  for (const [name, value] of Object.entries(environment))
    assert.match(finalStage, new RegExp(`^ENV .*\\b${name}="?${value}`, 'm'));
});

test('the do-nothing Node floor runs with the flags and environment kirsa runs with', async () => {
  // Read from the running process: a floor started without the image's malloc settings or young generation
  // would make every ratio to it in the benchmark mean something else.
  const cert = await makeServingCertificate();
  const { command, env } = await floorAsImageRunsIt(cert.certFile, cert.keyFile);
  const floor = await startServerProcess(command, env);
  try {
    const pid = floor.child.pid!;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const scriptAt = argv.findIndex((word) => word.endsWith('floor-server.mjs'));
    assert.deepEqual(argv.slice(1, scriptAt), imageNodeFlags());
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(imageEnvironment()))
      assert.ok(environ.includes(`${name}=${value}`), `${name}=${value}`);
  } finally {
    await floor.stop('SIGKILL');
    await cert.cleanup();
  }
});

test('the do-nothing Node floor undoes the start-up Maglev threshold once it listens, as kirsa does', async () => {
  // Without it the floor would answer its load in Sparkplug's baseline code for 100,000 calls while kirsa's
  // hot path reaches Maglev, and every ratio to the floor would flatter kirsa.
  const cert = await makeServingCertificate();
  const { command, env } = await floorAsImageRunsIt(cert.certFile, cert.keyFile);
  const floor = await startServerProcess([command[0]!, '--trace-opt', ...command.slice(1)], env);
  try {
    const body = podReview({ namespace: 'default', serviceAccountName: 'floor' });
    const marks = await maglevMarksAroundListening(floor, cert.caPem, body);
    assert.equal(marks.beforeListening.length, 0, 'no Maglev compile while starting');
    // With the start-up threshold left in place, none of the floor's functions gets there in 2,000 requests
    // (checked): any compile after "listening" is the default threshold back.
    assert.ok(marks.afterListening.length > 0, 'after 2,000 requests the floor compiled with Maglev');
  } finally {
    await floor.stop('SIGKILL');
    await cert.cleanup();
  }
});

test("under the image's flags Node refuses the code cache of its own modules (README, docs/webhook.md)", () => {
  // The start-up cost the docs put on --max-opt=2 and --expose-gc: Node's code cache for its built-in
  // modules is accepted only under the flags it was made with. If a Node upgrade accepts it, the docs'
  // "about 55 ms at each start" no longer holds.
  const verdicts = (flags: string[]) => {
    const run = spawnSync(process.execPath, [...flags, '-e', "require('node:https')"], {
      encoding: 'utf8',
      env: { ...process.env, NODE_DEBUG_NATIVE: 'CODE_CACHE' },
    });
    assert.equal(run.status, 0, run.stderr);
    return {
      accepted: (run.stderr.match(/ is accepted/g) ?? []).length,
      rejected: (run.stderr.match(/ is rejected/g) ?? []).length,
    };
  };
  const bare = verdicts([]);
  assert.ok(bare.accepted > 10 && bare.rejected === 0, JSON.stringify(bare));
  for (const flag of ['--max-opt=2', '--expose-gc']) {
    assert.ok(imageNodeFlags().includes(flag), flag);
    const under = verdicts([flag]);
    assert.ok(under.rejected >= bare.accepted && under.accepted === 0, `${flag}: ${JSON.stringify(under)}`);
  }
  // The young generation's size leaves it accepted: only the two flags above cost the start-up.
  assert.deepEqual(verdicts(['--max-semi-space-size=4']), bare);
});

/** V8's default for one of its integer flags, as this node reports it. */
function v8Default(flag: string): number {
  const run = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
  const value = new RegExp(`default: ${flag}=(\\d+)`).exec(run.stdout)?.[1];
  assert.ok(value !== undefined, `node --v8-options lists ${flag}`);
  return Number(value);
}

test("the image's start-up Maglev threshold and Sparkplug switch are for loading only: once listening, V8's defaults again", () => {
  // The Dockerfile's claim: NODE_FLAGS keeps start-up out of Maglev and Sparkplug, and
  // KIRSA_V8_FLAGS_WHEN_LISTENING is V8's own defaults. A Node upgrade that changes a default, or an edit of
  // either half, fails here.
  const atStart = imageNodeFlags().find((flag) => flag.startsWith('--invocation-count-for-maglev='));
  assert.ok(atStart !== undefined, 'the image starts node with a Maglev threshold');
  const byDefault = v8Default('--invocation-count-for-maglev');
  assert.ok(Number(atStart.split('=')[1]) > 100 * byDefault, `${atStart} is far above V8's ${byDefault}`);
  assert.ok(imageNodeFlags().includes('--no-sparkplug'), 'the image starts node without Sparkplug');
  const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  assert.match(
    options,
    /--sparkplug \(enable Sparkplug baseline compiler\)\s+type: bool\s+default: --sparkplug\b/,
  );
  assert.equal(
    imageEnvironment()[V8_FLAGS_WHEN_LISTENING],
    `--invocation-count-for-maglev=${byDefault} --sparkplug`,
  );
});

/**
 * The compiled webhook as the image runs it, with `nodeFlags` before its own and one account (`namespace/name`)
 * mapped to `role` in an identities file; the caller stops it and cleans the certificate up.
 */
async function compiledWebhookWithOneRole(
  account: string,
  role: string,
  options: { nodeFlags: string[]; args?: string[] },
): Promise<{ webhook: WebhookProcess; cert: Awaited<ReturnType<typeof makeServingCertificate>> }> {
  const cert = await makeServingCertificate();
  const identities = join(cert.dir, 'identities.json');
  writeFileSync(identities, JSON.stringify({ [account]: { RoleARN: role } }));
  const { nodeArgs, env } = await webhookAsImageRunsIt();
  const webhook = await startWebhook(
    [
      '--tls-cert',
      cert.certFile,
      '--tls-key',
      cert.keyFile,
      '--identities-file',
      identities,
      ...(options.args ?? []),
    ],
    { kirsa: [...options.nodeFlags, ...nodeArgs], env },
  );
  return { webhook, cert };
}

test('as the image runs it, nothing reaches Maglev or Sparkplug before the webhook listens, and its code does after', async () => {
  // The point of the two halves above, run: --trace-opt writes V8's decisions to the same stdout as the
  // webhook's log lines, so their order shows which came before "listening".
  const role = 'arn:aws:iam::111122223333:role/hot';
  const { webhook, cert } = await compiledWebhookWithOneRole('default/hot', role, {
    nodeFlags: ['--trace-opt', '--trace-baseline-batch-compilation'],
  });
  try {
    const body = podReview({ namespace: 'default', serviceAccountName: 'hot' });
    const marks = await maglevMarksAroundListening(webhook, cert.caPem, body, (answer) =>
      assert.equal(envOf(decodeReply(answer.body).patch).AWS_ROLE_ARN, role),
    );
    assert.deepEqual(marks.beforeListening, [], 'no Maglev compile while loading');
    assert.deepEqual(marks.baselineBeforeListening, [], 'no Sparkplug compile while loading');
    assert.ok(
      marks.baselineAfterListening.length > 0,
      'after 2,000 admissions Sparkplug compiled some of the webhook’s code: it is on again',
    );
    // processAdmission (src/core/admission/process.ts) runs once per admission: it reaches Maglev only with V8's
    // default threshold back (with the start-up one it would take 100,000 admissions).
    assert.ok(
      marks.afterListening.some((line) => /<JSFunction processAdmission /.test(line.msg)),
      `after 2,000 admissions the webhook's per-admission code reached Maglev: ${marks.afterListening.length} compiles`,
    );
  } finally {
    await webhook.stop('SIGKILL');
    await cert.cleanup();
  }
});

/**
 * The bytes each young-generation collection moved to the old generation, from V8's --trace-gc-nvp lines on
 * the webhook's stdout, over the collections in the second half of 3,000 admissions of the benchmark's
 * 20 KB pod (the first half is start-up's and warm-up's).
 */
async function promotedPerScavenge(
  gcMetrics: boolean,
): Promise<{ median: number; count: number; metrics: string }> {
  const role = 'arn:aws:iam::111122223333:role/app';
  const { webhook, cert } = await compiledWebhookWithOneRole('shop/app', role, {
    nodeFlags: ['--trace-gc-nvp'],
    args: gcMetrics ? ['--gc-metrics'] : [],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    for (let round = 0; round < 150; round++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          httpsCall(webhook.port, { ca: cert.caPem, agent, body: makeReview('large', `uid-${round}-${i}`) }),
        ),
      );
      for (const answer of answers) assert.equal(envOf(decodeReply(answer.body).patch).AWS_ROLE_ARN, role);
    }
    const scrape = await httpGet(webhook.metricsPort, '/metrics');
    assert.equal(scrape.status, 200);
    const metrics = scrape.body;
    const listeningAt = webhook.logs.findIndex((line) => line.msg === 'listening');
    const promoted = webhook.logs
      .slice(listeningAt)
      .filter((line) => line.level === 'raw' && / gc=s /.test(line.msg))
      .map((line) => Number(/ promoted=(\d+)/.exec(line.msg)?.[1]));
    const late = promoted.slice(Math.floor(promoted.length / 2)).sort((a, b) => a - b);
    return { median: late[Math.floor(late.length / 2)]!, count: late.length, metrics };
  } finally {
    agent.destroy();
    await webhook.stop('SIGKILL');
    await cert.cleanup();
  }
}

test('as the image runs it, young collections promote next to nothing unless --gc-metrics watches them (docs/webhook.md)', async () => {
  // The docs' reason for leaving nodejs_gc_duration_seconds off by default: while Node's 'gc' entries are
  // observed, each scavenge moves about 4 KB into the old generation, which under load fills it and brings
  // full collections onto the admissions' thread. If a Node upgrade stops doing that, the second half fails
  // and the default can be revisited.
  const quiet = await promotedPerScavenge(false);
  assert.ok(quiet.count >= 10, `${quiet.count} scavenges measured`);
  assert.ok(quiet.median < 1_000, `median ${quiet.median} bytes promoted per scavenge without --gc-metrics`);
  assert.doesNotMatch(quiet.metrics, /^nodejs_gc_duration_seconds/m);
  const watched = await promotedPerScavenge(true);
  assert.ok(watched.count >= 10, `${watched.count} scavenges measured`);
  assert.ok(
    watched.median >= 4_000,
    `median ${watched.median} bytes promoted per scavenge with --gc-metrics`,
  );
  assert.match(watched.metrics, /^nodejs_gc_duration_seconds_count\{kind="minor"\} [1-9]/m);
});
