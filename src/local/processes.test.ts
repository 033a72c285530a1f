// A start whose free port was taken before its child bound it is tried again with new ports, a bounded
// number of times; any other failure is not retried.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PORT_RACE_ATTEMPTS, startWithFreshPorts } from './processes.ts';

const etcdRaced = () =>
  new Error(
    'kube-apiserver or etcd exited during start-up:\n{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:36157: bind: address already in use"}',
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
      throw new Error('kube-apiserver not ready in 60000 ms');
    }),
    /not ready/,
  );
  assert.equal(calls, 1);
});
