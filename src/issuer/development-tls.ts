// The serving certificate `kirsa issuer serve` uses when given none: a throwaway CA signs a certificate for
// the issuer's host, made in-process (tls/certificates.ts) and kept in DIR/serve-tls so that clients trust
// the same CA across restarts. The CA's private key is never written: nothing else can be signed with it.

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, issueServingCertificate } from '../tls/certificates.ts';
import { createFolderAtomically } from './files.ts';

export const DEVELOPMENT_TLS_FOLDER = 'serve-tls';

/** A year, like the certificate `openssl req -days 365` made before: a development issuer outlives no more. */
const VALID_DAYS = 365;

export interface DevelopmentCertificate {
  cert: string;
  key: string;
  /** The file clients trust (--ca-file). */
  caFile: string;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The certificate kept in DIR/serve-tls, made the first time for `host` (a DNS name or an IP address). */
export async function developmentCertificate(
  dir: string,
  host: string,
  now: Date = new Date(),
): Promise<DevelopmentCertificate> {
  const folder = join(dir, DEVELOPMENT_TLS_FOLDER);
  const files = { ca: join(folder, 'ca.pem'), cert: join(folder, 'cert.pem'), key: join(folder, 'key.pem') };
  if ((await exists(files.cert)) && (await exists(files.key))) {
    return {
      cert: await readFile(files.cert, 'utf8'),
      key: await readFile(files.key, 'utf8'),
      // A folder from kirsa versions that shelled out to openssl holds a self-signed cert.pem and no CA.
      caFile: (await exists(files.ca)) ? files.ca : files.cert,
    };
  }
  // URL.hostname keeps an IPv6 address in brackets; the certificate names the bare address.
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const ca = await createCertificateAuthority({
    commonName: `kirsa issuer serve development CA (${bare})`,
    validDays: VALID_DAYS,
    now,
  });
  const serving = await issueServingCertificate(ca, { hosts: [bare], validDays: VALID_DAYS, now });
  await createFolderAtomically(folder, [
    { path: 'ca.pem', content: ca.certPem, mode: 0o644 },
    { path: 'cert.pem', content: serving.certPem, mode: 0o644 },
    { path: 'key.pem', content: serving.keyPem, mode: 0o600 },
  ]);
  return { cert: serving.certPem, key: serving.keyPem, caFile: files.ca };
}
