// Publishing the issuer of a cluster that signs its own tokens (kubeadm, k3s, RKE2, Talos, Cluster API all
// generate a key): the documents come from what its API server serves, checked as STS would read them.
// Pure.

import { KirsaError } from '../../errors.ts';
import { buildDiscoveryDocument, checkJwks, formatJson, issuerOfDiscovery } from './documents.ts';
import { checkIssuerUrl, jwksUriFor } from './issuer-url.ts';

export interface ClusterIssuerSource {
  /** The API server's /.well-known/openid-configuration, parsed. */
  discovery: unknown;
  /** Its /openid/v1/jwks, parsed. */
  jwks: unknown;
}

export interface ClusterDocuments {
  issuer: string;
  /** The two documents, as published: kirsa's discovery document (its jwks_uri the public one), the JWKS. */
  discovery: string;
  jwks: string;
  warnings: string[];
}

/**
 * The documents to publish for the cluster's issuer. The public URL must be the issuer the cluster puts in
 * its tokens (STS compares iss with the provider's URL character for character); the cluster's own
 * discovery document is not published as is, because its jwks_uri names the API server, not the public copy.
 */
export function clusterDocuments(
  source: ClusterIssuerSource,
  options: { publicIssuer: string | undefined; jwksPath: string },
): ClusterDocuments {
  const clusterIssuer = issuerOfDiscovery(
    source.discovery,
    "the API server's /.well-known/openid-configuration",
  );
  const publicIssuer = options.publicIssuer ?? clusterIssuer;
  if (publicIssuer !== clusterIssuer)
    throw new KirsaError(
      'CLUSTER_ISSUER_MISMATCH',
      `the cluster signs tokens with iss ${clusterIssuer}, not ${publicIssuer}: STS would refuse every one of them for documents published at ${publicIssuer}`,
      {
        hint: `change one kube-apiserver flag, --service-account-issuer=${publicIssuer} (kirsa apiserver-config --current-issuer ${clusterIssuer} keeps the old one accepted, so running pods keep working until their tokens refresh, at most their lifetime), restart it, then publish again; or publish at ${clusterIssuer} if that is a public https URL`,
      },
    );
  const { url, warnings } = checkIssuerUrl(publicIssuer, 'the cluster issuer');
  const failed = checkJwks(source.jwks).filter((check) => check.status === 'fail');
  if (failed.length > 0)
    throw new KirsaError(
      'CLUSTER_JWKS_UNUSABLE',
      `the API server's /openid/v1/jwks would not work with STS: ${failed.map((check) => check.message).join('; ')}`,
      { hint: 'the cluster must sign with RSA keys for IRSA (--service-account-signing-key-file)' },
    );
  return {
    issuer: url,
    discovery: formatJson(buildDiscoveryDocument(url, jwksUriFor(url, options.jwksPath))),
    jwks: formatJson(source.jwks),
    warnings,
  };
}
