// The node tier: the one-node cluster's kubelet is handed a port found free a moment before, and another
// process may take it first (tests running beside each other do). The kubelet then exits before the node is
// Ready, and startLocalNode must say so with a PortTakenError, the failure startWithFreshPorts starts again
// from nothing (src/local/processes.ts; its retry count is src/local/processes.test.ts's subject). Here the
// port is held by this test for every try, so the start ends with that error.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { nodeParts, startLocalNode } from '../../src/local/node.ts';
import { PortTakenError } from '../../src/local/processes.ts';

const parts = nodeParts();
const skipReason = 'missing' in parts ? parts.missing : undefined;
if (skipReason && process.env.CI === 'true') throw new Error(`the node tier cannot run in CI: ${skipReason}`);

test('a kubelet whose port another process took exits, and the start fails with a PortTakenError naming it', {
  skip: skipReason,
}, async (t) => {
  if ('missing' in parts) return;
  // On every address: the kubelet binds the node's address on its bridge, which is new on each try.
  const holder = createServer().listen(0, '0.0.0.0');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const started = startLocalNode(parts, { kubeletConfig: { port } });
  const error = await started.then(
    async (node) => {
      await node.stop();
      return undefined;
    },
    (failure: unknown) => failure,
  );
  assert.ok(
    error instanceof PortTakenError,
    `the start should fail with a PortTakenError, got ${String(error)}`,
  );
  assert.match(error.message, /^the node's kubelet exited during start-up:/);
  assert.match(error.message, new RegExp(`\\[kubelet\\] .*:${port}: bind: address already in use`));
});
