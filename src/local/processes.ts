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

/**
 * What the local servers' children printed: all of it interleaved, each chunk marked with the child's name
 * (for a failure's message), and each child's own tail, so a failure is read from the child that failed and
 * not from a neighbour's lines.
 */
export class ChildOutput {
  #all = '';
  readonly #own = new Map<ChildProcess, string>();
  readonly #names = new Map<ChildProcess, string>();
  readonly #limit: number;
  /** Keeps the interleaved text under `limit` characters (halving it), and each child's under a tenth. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  collect(name: string, child: ChildProcess): void {
    this.#names.set(child, name);
    const ownLimit = Math.max(1, Math.floor(this.#limit / 10));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      // Every line gets the child's name, however the pipe splits them: a chunk may end mid-line and hold
      // many, so what follows its last newline waits for the rest (or for the stream's end).
      let partial = '';
      /** Complete lines, without their last newline. */
      const addLines = (lines: string) => {
        this.#all += `${lines.replace(/^/gm, `[${name}] `)}\n`;
        if (this.#all.length > this.#limit) this.#all = this.#all.slice(-(this.#limit >> 1));
      };
      stream.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        this.#own.set(child, `${this.#own.get(child) ?? ''}${text}`.slice(-ownLimit));
        const lines = partial + text;
        const end = lines.lastIndexOf('\n');
        partial = lines.slice(end + 1);
        if (end !== -1) addLines(lines.slice(0, end));
      });
      stream.on('end', () => {
        if (partial !== '') addLines(partial);
        partial = '';
      });
    }
  }

  /** The interleaved output; its last `tail` characters when given. */
  text(tail?: number): string {
    return tail === undefined ? this.#all : this.#all.slice(-tail);
  }

  /** The name a child was collected under. */
  nameOf(child: ChildProcess): string | undefined {
    return this.#names.get(child);
  }

  /** The end of what one child printed. */
  of(child: ChildProcess): string {
    return this.#own.get(child) ?? '';
  }
}

/** A child exited because a port it was handed was taken before it bound it: startWithFreshPorts tries again. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/**
 * The error for a child that exited while its server was starting: a PortTakenError when the child's own
 * output says it could not bind (Go's and Node's words for EADDRINUSE alike), else a plain Error; either way
 * with the end of all the output, which shows what the others were doing.
 */
export function exitedDuringStart(
  what: string,
  child: ChildProcess,
  output: ChildOutput,
  tail: number,
): Error {
  const message = `${what} exited during start-up:\n${output.text(tail)}`;
  return /address already in use/i.test(output.of(child)) ? new PortTakenError(message) : new Error(message);
}

/** How many times startWithFreshPorts tries. */
export const PORT_RACE_ATTEMPTS = 3;

/**
 * Runs `start` (which picks its ports with freePort and cleans up after itself when it fails) again, up to
 * PORT_RACE_ATTEMPTS times in all, while it fails with a PortTakenError; any other failure, or the last one,
 * is thrown as it came.
 */
export async function startWithFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= PORT_RACE_ATTEMPTS) throw error;
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
