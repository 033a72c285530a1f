// `issuer serve`: an issuer folder's documents over HTTPS, on the issuer URL's port unless told otherwise,
// with the certificate given or one from a development CA kept in the folder (issuer/development-tls.ts).
// Returns the running server; the CLI waits for a stop signal and closes it.

import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { developmentCertificate } from '../issuer/development-tls.ts';
import { type IssuerServer, startIssuerServer } from '../issuer/server.ts';
import { loadIssuer } from '../issuer/store.ts';

export interface ServeInput {
  dir: string;
  /** Default: the issuer URL's port, else 443. */
  port?: number | undefined;
  host: string;
  /** The serving chain and its key (PEM files), both or neither. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

export async function serveIssuer(
  input: ServeInput,
  { warn }: { warn: (line: string) => void },
): Promise<{ issuer: string; server: IssuerServer }> {
  if ((input.tlsCert === undefined) !== (input.tlsKey === undefined))
    throw new KirsaError('FLAG_REQUIRED', '--tls-cert and --tls-key go together');
  const { state } = await loadIssuer(input.dir);
  const issuerUrl = new URL(state.issuer);
  const port = input.port ?? Number(issuerUrl.port || 443);
  let tls: { cert: string; key: string };
  if (input.tlsCert && input.tlsKey) {
    tls = {
      cert: await readInputText(input.tlsCert, 'certificate'),
      key: await readInputText(input.tlsKey, 'key'),
    };
  } else {
    const made = await developmentCertificate(input.dir, issuerUrl.hostname);
    tls = made;
    warn(
      `serving a certificate from a development CA for ${issuerUrl.hostname}; clients need --ca-file ${made.caFile}`,
    );
  }
  const server = await startIssuerServer({
    dir: input.dir,
    port,
    host: input.host,
    tlsCert: tls.cert,
    tlsKey: tls.key,
  });
  return { issuer: state.issuer, server };
}
