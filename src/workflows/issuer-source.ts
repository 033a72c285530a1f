// Where an issuer's URL and two documents come from: an issuer folder (what `issuer init` made), or the
// running cluster's API (`--from-cluster`: a cluster that keeps its own signing key). Read here once for
// `issuer init`, `issuer publish` and the IaC output, so they upload and render the same bytes.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterDocuments } from '../core/oidc/from-cluster.ts';
import { checkIssuerUrl, checkJwksPath } from '../core/oidc/issuer-url.ts';
import { ISSUER_FILES, loadIssuer } from '../issuer/store.ts';

export interface IssuerSource {
  issuerUrl: string;
  jwksPath: string;
  discovery: string;
  jwks: string;
}

/** Which cluster to read, and the public URL its issuer must be. */
export interface ClusterSourceInput {
  /** The public issuer URL; absent: the cluster's own --service-account-issuer. */
  issuerUrl?: string | undefined;
  jwksPath: string;
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/**
 * The running cluster's issuer, read through its API (kubeconfig): refused unless its issuer is the public
 * URL asked (CLUSTER_ISSUER_MISMATCH). What the reading finds questionable goes to warn.
 */
export async function clusterSource(
  input: ClusterSourceInput,
  warn: (line: string) => void,
): Promise<IssuerSource> {
  const kube = await import('../kube/client.ts');
  const config = await kube.loadKubeConfig({
    ...(input.kubeconfig ? { kubeconfig: input.kubeconfig } : {}),
    ...(input.context ? { context: input.context } : {}),
  });
  const jwksPath = checkJwksPath(input.jwksPath);
  const documents = clusterDocuments(await kube.readClusterIssuer(config), {
    publicIssuer: input.issuerUrl,
    jwksPath,
  });
  for (const warning of documents.warnings) warn(warning);
  return { issuerUrl: documents.issuer, jwksPath, discovery: documents.discovery, jwks: documents.jwks };
}

/** An issuer folder's URL and documents, as publish uploads them. */
export async function folderSource(dir: string): Promise<IssuerSource> {
  const issuer = await loadIssuer(dir);
  // A folder made before init checked bucket names: the same rule, refused here before any AWS call.
  checkIssuerUrl(issuer.state.issuer, 'the issuer');
  const [discovery, jwks] = await Promise.all(
    [ISSUER_FILES.discovery, ISSUER_FILES.jwks].map((file) => readFile(join(dir, file), 'utf8')),
  );
  return {
    issuerUrl: issuer.state.issuer,
    jwksPath: issuer.state.jwksPath,
    discovery: discovery!,
    jwks: jwks!,
  };
}
