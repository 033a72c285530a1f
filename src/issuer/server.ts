// Serves an issuer folder's two documents over HTTPS: for development clusters, tests and the demo, where
// no S3 bucket is at hand. The files are read on every request, so a rotation shows at once.

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { DISCOVERY_PATH, ISSUER_SERVER_KEEP_ALIVE_MS } from '../consts.ts';
import { jwksUriFor } from '../core/oidc/issuer-url.ts';
import { listen } from '../io/listen.ts';
import { ISSUER_FILES, loadIssuer } from './store.ts';

export interface IssuerServerOptions {
  dir: string;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: a development issuer is not meant for other machines unless asked. */
  host?: string;
  /** PEM text of the serving certificate (chain) and its key. */
  tlsCert: string;
  tlsKey: string;
}

export interface IssuerServer {
  /** Base URL actually listened on, e.g. https://127.0.0.1:40123 */
  url: string;
  port: number;
  /** The issuer URL the documents name. */
  issuer: string;
  /** Paths served, for messages. */
  paths: string[];
  close(): Promise<void>;
}

export async function startIssuerServer(options: IssuerServerOptions): Promise<IssuerServer> {
  const { state } = await loadIssuer(options.dir);
  const issuerPath = new URL(state.issuer).pathname.replace(/\/+$/, '');
  const jwksPath = new URL(jwksUriFor(state.issuer, state.jwksPath)).pathname;
  const routes = new Map<string, string>([
    [`${issuerPath}/${DISCOVERY_PATH}`, ISSUER_FILES.discovery],
    [jwksPath, ISSUER_FILES.jwks],
  ]);
  const server = createServer({ cert: options.tlsCert, key: options.tlsKey }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://issuer.invalid').pathname;
    const file = routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    readFile(join(options.dir, file)).then(
      (body) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('cannot read the document\n'),
    );
  });
  // STS and verify fetch two documents and go; idle connections need not linger.
  server.keepAliveTimeout = ISSUER_SERVER_KEEP_ALIVE_MS;
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, { port: options.port, host, what: 'the issuer' });
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    issuer: state.issuer,
    paths: [...routes.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
