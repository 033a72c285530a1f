// The IAM OIDC thumbprint: hex SHA-1 of the top certificate of the chain the jwks_uri host serves (AWS's
// definition: the last certificate `openssl s_client -showcerts` displays, the top intermediate when the
// root is not sent). Node completes peer chains from its trust store, so the served chain is read over a
// connection that trusts nothing; trust is then checked on a second, verifying connection.

import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { STS_FETCH_TIMEOUT_MS } from '../consts.ts';
import { checkDiscoveryDocument } from '../core/oidc/documents.ts';
import { discoveryUrlFor } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { fetchIssuerDocument } from './https.ts';

export interface ServedCertificate {
  subject: string;
  issuer: string;
  sha1: string;
}

export interface ThumbprintResult {
  host: string;
  port: number;
  /** The chain as served, leaf first, ordered by issuer. */
  chain: ServedCertificate[];
  /** The certificate hashed: the top of the served chain. */
  top: ServedCertificate;
  thumbprint: string;
  /** Whether Node's public roots trust the chain; AWS then ignores the thumbprint. */
  publiclyTrusted: boolean;
}

function openSocket(
  host: string,
  port: number,
  ca: string[] | undefined,
  rejectUnauthorized: boolean,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI names a host; TLS forbids an IP address there.
      ...(isIP(host) ? {} : { servername: host }),
      ca,
      rejectUnauthorized,
    });
    socket.setTimeout(STS_FETCH_TIMEOUT_MS, () =>
      socket.destroy(new Error(`no TLS handshake within ${STS_FETCH_TIMEOUT_MS} ms`)),
    );
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (error) =>
      reject(
        new KirsaError('ISSUER_UNREACHABLE', `TLS to ${host}:${port}: ${error.message}`, {
          hint: 'check the host answers HTTPS on that port',
          cause: error,
        }),
      ),
    );
  });
}

function describe(certificate: DetailedPeerCertificate): ServedCertificate {
  const x509 = new X509Certificate(certificate.raw);
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    sha1: createHash('sha1').update(certificate.raw).digest('hex'),
  };
}

/** The chain the host sends, leaf first. With an empty trust store Node cannot append anything. */
export async function servedChain(host: string, port: number): Promise<ServedCertificate[]> {
  const socket = await openSocket(host, port, [], false);
  try {
    const chain: ServedCertificate[] = [];
    const seen = new Set<string>();
    let certificate: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    while (certificate?.raw && !seen.has(certificate.fingerprint256)) {
      seen.add(certificate.fingerprint256);
      chain.push(describe(certificate));
      certificate = certificate.issuerCertificate;
    }
    if (chain.length === 0) throw new KirsaError('ISSUER_UNREACHABLE', `${host}:${port} sent no certificate`);
    return chain;
  } finally {
    socket.destroy();
  }
}

async function trustedByPublicRoots(host: string, port: number): Promise<boolean> {
  const socket = await openSocket(host, port, undefined, false);
  const authorized = socket.authorized;
  socket.destroy();
  return authorized;
}

/** Thumbprint of the jwks_uri host of this issuer (the discovery document is fetched to find it). */
export async function issuerThumbprint(issuer: string, ca: string[] | undefined): Promise<ThumbprintResult> {
  const fetched = await fetchIssuerDocument(discoveryUrlFor(issuer), { ca });
  const document = fetched.json;
  const { jwksUri } = checkDiscoveryDocument(issuer, document);
  if (!jwksUri) {
    throw new KirsaError('ISSUER_JWKS_URI_INVALID', `${fetched.url} has no usable https jwks_uri`, {
      hint: `run kirsa issuer verify ${issuer} to see what is wrong`,
    });
  }
  const url = new URL(jwksUri);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return hostThumbprint(host, port);
}

export async function hostThumbprint(host: string, port: number): Promise<ThumbprintResult> {
  const chain = await servedChain(host, port);
  const top = chain.at(-1)!;
  return {
    host,
    port,
    chain,
    top,
    thumbprint: top.sha1,
    publiclyTrusted: await trustedByPublicRoots(host, port),
  };
}
