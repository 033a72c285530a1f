// A lean HTTP/1.1-over-TLS client for load: one TLS socket, requests written in order, answers read in
// order (pipelined when more than one is outstanding). node:https spends more CPU per request than the
// webhook does, so on a 2-core machine it would measure itself; this keeps the work on the server's side.
// It reads answers with a Content-Length (kirsa and the floors) or chunked ones (the reference webhook: Go's
// net/http chunks an answer over 2 KB whose handler set no length, as its 20 KB-pod answers are).

import { once } from 'node:events';
import { connect } from 'node:tls';

export interface RawAnswer {
  status: number;
  contentType: string | undefined;
  body: string;
  /** From writing the request to reading the last byte of the answer. */
  ms: number;
}

export interface RawConnection {
  /** Requests written and not yet answered. */
  readonly outstanding: number;
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
  const failAll = (error: Error) => {
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
  socket.on('close', () => failAll(new Error('connection closed with answers outstanding')));
  return {
    get outstanding() {
      return waiting.length;
    },
    post(path, body) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const started = performance.now();
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`,
      );
      socket.write(bytes);
      return new Promise((resolve, reject) => waiting.push({ started, resolve, reject }));
    },
    close: () => socket.end(),
  };
}
