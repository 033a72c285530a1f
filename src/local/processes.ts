// Small process and port helpers for whatever starts local servers: the demo, the local control plane and
// the test tiers.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A loopback port free right now. The caller's server binds it a moment later, and another process may take
 * it in between (tests running beside each other did: etcd's "bind: address already in use"); a start that
 * hands such ports to a child process goes through startWithFreshPorts.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** How many times startWithFreshPorts tries. */
export const PORT_RACE_ATTEMPTS = 3;

/**
 * Runs `start` (which picks its ports with freePort and cleans up after itself when it fails) again, up to
 * PORT_RACE_ATTEMPTS times in all, while it fails because a port it picked was taken before its child bound
 * it; any other failure, or the last one, is thrown as it came.
 */
export async function startWithFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const raced = /address already in use/i.test(error instanceof Error ? error.message : String(error));
      if (!raced || attempt >= PORT_RACE_ATTEMPTS) throw error;
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(child: ChildProcess | undefined, graceMs = 5_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
