// The thumbprint IAM keeps for an issuer: the SHA-1 of the top certificate the jwks_uri host serves, found
// through the discovery document (issuer/thumbprint.ts). For `issuer thumbprint` and `provider create
// --thumbprint auto` alike.

import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { issuerThumbprint, type ThumbprintResult } from '../issuer/thumbprint.ts';

/** caFile: extra trusted CAs (PEM files) for fetching the discovery document. */
export async function thumbprintOfIssuer(url: string, caFile: readonly string[]): Promise<ThumbprintResult> {
  checkIssuerUrl(url, 'issuer');
  return issuerThumbprint(url, await trustedCertificates(caFile));
}
