// A lean HTTP/1.1-over-TLS client for load: one TLS socket, requests written in order, answers read in
// order (pipelined when more than one is outstanding). node:https spends more CPU per request than the
// webhook does, so on a 2-core machine it would measure itself; this keeps the work on the server's side.
// It reads answers with a Content-Length (kirsa and the floors) or chunked ones (the reference webhook: Go's
// net/http chunks an answer over 2 KB whose handler set no length, as its 20 KB-pod answers are).
// Every post settles: once the socket has ended, closed or failed, outstanding posts reject and later ones
// reject at once (`closed` says so beforehand), and an answer not read within ANSWER_TIMEOUT_MS rejects too.
// A server that closes an idle keep-alive connection (Node's default after 5 s) used to leave the next post
// on it waiting forever, and the benchmark with it.

import { once } from 'node:events';
import { connect } from 'node:tls';

export interface RawAnswer {
  status: number;
  contentType: string | undefined;
  body: string;
  /** From writing the request to reading the last byte of the answer. */
  ms: number;
}

/** As the API server's `?timeout=10s`: an answer later than this fails the request and the connection. */
export const ANSWER_TIMEOUT_MS = 10_000;

export interface RawConnection {
  /** Requests written and not yet answered. */
  readonly outstanding: number;
  /**
   * True once the connection can carry no more requests (the server ended or closed it, or it failed): a
   * pool drops it, as the API server's client drops an idle connection its server closed.
   */
  readonly closed: boolean;
  post(path: string, body: string | Buffer): Promise<RawAnswer>;
  close(): void;
}

/**
 * A chunked body starting at `from`: its text and where the answer ends, undefined while incomplete, 'bad'
 * when a chunk size is not hex. Servers under test send no trailers, so the last chunk ends with a blank line.
 */
export function chunkedBody(
  buffered: Buffer,
  from: number,
): { body: string; end: number } | undefined | 'bad' {
  const chunks: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buffered.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const sizeText = buffered.subarray(at, lineEnd).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-f]+$/i.test(sizeText)) return 'bad';
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) {
      if (buffered.length < lineEnd + 4) return undefined;
      return { body: Buffer.concat(chunks).toString('utf8'), end: lineEnd + 4 };
    }
    if (buffered.length < lineEnd + 2 + size + 2) return undefined;
    chunks.push(buffered.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

export async function openConnection(port: number, ca: string | string[]): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  await once(socket, 'secureConnect');
  socket.setNoDelay(true);
  const waiting: Array<{ started: number; resolve(answer: RawAnswer): void; reject(error: Error): void }> =
    [];
  let buffered: Buffer = Buffer.alloc(0);
  let closedBecause: Error | undefined;
  /** Rejects every outstanding post and every later one: the connection is done. */
  const failAll = (error: Error) => {
    closedBecause ??= error;
    socket.destroy();
    for (const entry of waiting.splice(0)) entry.reject(error);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      const headerEnd = buffered.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const head = buffered.subarray(0, headerEnd).toString('latin1');
      let body: string;
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        const chunked = chunkedBody(buffered, headerEnd + 4);
        if (chunked === 'bad') return failAll(new Error(`malformed chunked answer: ${head}`));
        if (chunked === undefined) return;
        body = chunked.body;
        buffered = buffered.subarray(chunked.end);
      } else {
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
        if (Number.isNaN(length)) return failAll(new Error(`answer without Content-Length: ${head}`));
        if (buffered.length < headerEnd + 4 + length) return;
        body = buffered.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
        buffered = buffered.subarray(headerEnd + 4 + length);
      }
      const entry = waiting.shift();
      entry?.resolve({
        status: Number(head.slice(9, 12)),
        contentType: /\r\ncontent-type: *([^\r]*)/i.exec(head)?.[1],
        body,
        ms: performance.now() - entry.started,
      });
    }
  });
  socket.on('error', failAll);
  // 'end': the server will send nothing more (an idle keep-alive connection it closed ends so).
  socket.on('end', () => failAll(new Error('the server ended the connection')));
  socket.on('close', () => failAll(new Error('the connection closed')));
  // One timer per connection, not per request: the oldest outstanding post is the one that would be late.
  const watchdog = setInterval(() => {
    const oldest = waiting[0];
    if (oldest !== undefined && performance.now() - oldest.started > ANSWER_TIMEOUT_MS)
      failAll(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`));
  }, 1_000);
  watchdog.unref();
  socket.once('close', () => clearInterval(watchdog));
  return {
    get outstanding() {
      return waiting.length;
    },
    get closed() {
      return closedBecause !== undefined || socket.destroyed || !socket.writable;
    },
    post(path, body) {
      if (closedBecause !== undefined || socket.destroyed || !socket.writable)
        return Promise.reject(closedBecause ?? new Error('the connection is closed'));
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const started = performance.now();
      const answer = new Promise<RawAnswer>((resolve, reject) => waiting.push({ started, resolve, reject }));
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`,
      );
      socket.write(bytes);
      return answer;
    },
    close: () => {
      closedBecause ??= new Error('closed by the client');
      socket.end();
    },
  };
}

/** Keep-alive connections to one server, handed out one request at a time, as the API server's client does. */
export interface ConnectionPool {
  /** Opens `count` connections up front, idle in the pool. */
  open(count: number): Promise<void>;
  /** An idle open connection, a new one while fewer than the cap exist, or the next one released. */
  acquire(): Promise<RawConnection>;
  /** Gives a connection back after its answer (or failure): a closed one is dropped, freeing its place. */
  release(connection: RawConnection): void;
  closeAll(): void;
  /** Connections opened so far. */
  readonly opened: number;
  /**
   * Connections that closed before the pool was done with them (the server closed them, or a request on them
   * failed), counted when found: on acquire, on release, or by closeAll.
   */
  readonly dropped: number;
}

export function connectionPool(port: number, ca: string | string[], max: number): ConnectionPool {
  const idle: RawConnection[] = [];
  const live = new Set<RawConnection>();
  const waiters: Array<{ resolve(connection: RawConnection): void; reject(error: unknown): void }> = [];
  let opening = 0;
  let opened = 0;
  let dropped = 0;
  const fresh = async (): Promise<RawConnection> => {
    opening += 1; // counted before the handshake, so a burst does not overshoot the cap
    try {
      const connection = await openConnection(port, ca);
      live.add(connection);
      opened += 1;
      return connection;
    } finally {
      opening -= 1;
    }
  };
  const drop = (connection: RawConnection) => {
    live.delete(connection);
    dropped += 1;
    // A request waiting for a connection would otherwise wait for one that will never be released.
    const waiter = waiters.shift();
    if (waiter) fresh().then(waiter.resolve, waiter.reject);
  };
  return {
    async open(count) {
      idle.push(...(await Promise.all(Array.from({ length: count }, fresh))));
    },
    acquire() {
      for (let connection = idle.pop(); connection !== undefined; connection = idle.pop()) {
        if (!connection.closed) return Promise.resolve(connection);
        drop(connection);
      }
      if (live.size + opening < max) return fresh();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    release(connection) {
      if (connection.closed) return drop(connection);
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(connection);
      else idle.push(connection);
    },
    closeAll() {
      for (const connection of live) {
        if (connection.closed) dropped += 1; // closed while idle in the pool, never picked again
        connection.close();
      }
      live.clear();
      idle.length = 0;
    },
    get opened() {
      return opened;
    },
    get dropped() {
      return dropped;
    },
  };
}
