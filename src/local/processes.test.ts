// A start whose free port was taken before its child bound it is tried again with new ports, a bounded
// number of times; any other failure is not retried. Which failure it was is read from the child that
// exited, not from a neighbour's output.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import {
  ChildOutput,
  exitedDuringStart,
  PORT_RACE_ATTEMPTS,
  PortTakenError,
  startWithFreshPorts,
} from './processes.ts';

const etcdRaced = () =>
  new PortTakenError(
    'etcd exited during start-up:\n{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:36157: bind: address already in use"}',
  );

test('a start that lost its port to another process is tried again, and its answer returned', async () => {
  let calls = 0;
  const answer = await startWithFreshPorts(async () => {
    calls += 1;
    if (calls < PORT_RACE_ATTEMPTS) throw etcdRaced();
    return 'up';
  });
  assert.equal(answer, 'up');
  assert.equal(calls, PORT_RACE_ATTEMPTS);
});

test('it stops after PORT_RACE_ATTEMPTS, and never retries another failure', async () => {
  let calls = 0;
  await assert.rejects(
    startWithFreshPorts(async () => {
      calls += 1;
      throw etcdRaced();
    }),
    /address already in use/,
  );
  assert.equal(calls, PORT_RACE_ATTEMPTS);

  calls = 0;
  await assert.rejects(
    startWithFreshPorts(async () => {
      calls += 1;
      // The words alone are not the sign: only the exited child's own output makes a PortTakenError.
      throw new Error('kube-apiserver not ready in 60000 ms:\n[kube-proxy] bind: address already in use');
    }),
    /not ready/,
  );
  assert.equal(calls, 1);
});

/** A child that binds `port` on loopback and then waits, or exits as Node does when it cannot. */
function listenOn(port: number) {
  return spawn(
    process.execPath,
    [
      '-e',
      `require('node:net').createServer().listen(${port}, '127.0.0.1', () => setTimeout(() => {}, 60000))`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

test('a child that could not bind its port makes a PortTakenError; a neighbour saying so does not', async (t) => {
  const holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;

  const output = new ChildOutput(10_000);
  const loser = listenOn(port);
  output.collect('loser', loser);
  await once(loser, 'exit');
  const lost = exitedDuringStart('loser', loser, output, 4000);
  assert.ok(lost instanceof PortTakenError, lost.message);
  assert.match(lost.message, /^loser exited during start-up:\n\[loser\] .*EADDRINUSE/s);

  // The same words in another child's output, and a child that exits for its own reason.
  const bystander = spawn(
    process.execPath,
    ['-e', 'console.error("listen tcp: bind: address already in use")'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const quitter = spawn(process.execPath, ['-e', 'console.error("no config"); process.exit(3)'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output.collect('bystander', bystander);
  output.collect('quitter', quitter);
  await Promise.all([once(bystander, 'close'), once(quitter, 'close')]);
  const failed = exitedDuringStart('quitter', quitter, output, 4000);
  assert.ok(!(failed instanceof PortTakenError));
  assert.match(failed.message, /\[quitter\] no config/);
  assert.match(failed.message, /\[bystander\] listen tcp: bind: address already in use/);
  assert.equal(output.of(quitter), 'no config\n');
  assert.equal(output.nameOf(quitter), 'quitter');
});

test('the interleaved output keeps its newest half when it outgrows its limit', async () => {
  const output = new ChildOutput(100);
  const child = spawn(
    process.execPath,
    ['-e', 'for (let i = 0; i < 40; i++) console.log(String(i).padStart(9, "-"))'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  output.collect('counter', child);
  await once(child, 'close');
  assert.ok(output.text().length <= 100, output.text());
  assert.match(output.text(), /------39\n$/);
  assert.ok(output.of(child).length <= 10);
  assert.equal(output.text(12), output.text().slice(-12));
});

test('every line of the interleaved output names its child, however the pipe splits the lines', async () => {
  const output = new ChildOutput(10_000);
  // Three lines in one write, then a line in two writes 50 ms apart, then a last line with no newline.
  const child = spawn(
    process.execPath,
    [
      '-e',
      'process.stdout.write("one\\ntwo\\nthree\\nfo"); setTimeout(() => { process.stdout.write("ur\\n"); process.stderr.write("last") }, 50)',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  output.collect('writer', child);
  await once(child, 'close');
  assert.equal(output.text(), '[writer] one\n[writer] two\n[writer] three\n[writer] four\n[writer] last\n');
  assert.equal(output.of(child), 'one\ntwo\nthree\nfour\nlast');
});
