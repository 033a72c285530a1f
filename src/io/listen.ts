// The one way kirsa's servers (the webhook and its metrics port, the local STS, issuer serve) start
// listening, so a port that is taken, privileged or not on this host gets the same code and hint from
// each of them.

import type { Server } from 'node:net';
import { KirsaError } from '../errors.ts';

export interface ListenTarget {
  port: number;
  /** Undefined: every interface, as Node's default. */
  host?: string | undefined;
  /** What listens, for the message ("the webhook", "metrics", "the STS"). */
  what: string;
  /** The flag that sets the port, for the hint ("--port"). */
  portFlag?: string;
}

/** Listens and resolves to the port bound (the one the OS chose for port 0). */
export function listen(server: Server, target: ListenTarget): Promise<number> {
  const where = `${target.host ?? '*'}:${target.port}`;
  const flag = target.portFlag ?? '--port';
  return new Promise<number>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason = `cannot listen on ${where} for ${target.what}: ${error.code ?? error.message}`;
      if (error.code === 'EADDRINUSE')
        reject(
          new KirsaError('PORT_IN_USE', reason, {
            hint: `another process holds it: stop it, or choose another ${flag} (0 picks a free one)`,
            cause: error,
          }),
        );
      else if (error.code === 'EACCES' || error.code === 'EPERM')
        reject(
          new KirsaError('PORT_NOT_PERMITTED', reason, {
            hint: `ports below 1024 need CAP_NET_BIND_SERVICE (or a lower net.ipv4.ip_unprivileged_port_start); choose another ${flag}`,
            cause: error,
          }),
        );
      else
        reject(
          new KirsaError('LISTEN_FAILED', reason, {
            hint: 'check the address is one of this host (EADDRNOTAVAIL means it is not)',
            cause: error,
          }),
        );
    };
    server.once('error', onError);
    server.listen({ port: target.port, ...(target.host ? { host: target.host } : {}) }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : target.port);
    });
  });
}
