// The one resource model of kirsa's HTTP servers (the webhook and its metrics port, the local STS): how long
// a client may take to send its headers and its whole request, how many connections are open at once, and
// how long a connection may sit before it starts TLS. Node has these knobs but defaults that suit none of
// them: requests are checked only every 30 s (a 30 s deadline closed slow clients at ~60 s), a request may
// take 300 s, connections are unbounded and a silent TLS connection is held 120 s.

import type { Server } from 'node:net';

export interface ServerLimits {
  /** The request line and headers must have arrived within this. */
  headersTimeoutMs: number;
  /** The whole request, body included, must have arrived within this (then 408 and close). */
  requestTimeoutMs: number;
  /** Connections open at once; one more is closed as soon as it is accepted. */
  maxConnections: number;
  keepAliveTimeoutMs?: number;
}

/**
 * How often Node looks for requests past their deadline: a deadline is kept to within this. Each look walks
 * the open connections, which are capped, so once a second costs nothing measurable.
 */
export const DEADLINE_CHECK_INTERVAL_MS = 1_000;

/** The options of http(s).createServer that carry the deadlines (some are read only at construction). */
export function deadlineOptions(limits: ServerLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    ...(limits.keepAliveTimeoutMs !== undefined ? { keepAliveTimeout: limits.keepAliveTimeoutMs } : {}),
  };
}

/**
 * Caps the connections of a server; `onRefused` is told of each connection closed for it (count it: a
 * client refused this way sees only a reset, and nothing else would say why).
 */
export function capConnections(server: Server, limits: ServerLimits, onRefused: () => void): void {
  server.maxConnections = limits.maxConnections;
  server.on('drop', onRefused);
}
