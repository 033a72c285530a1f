// `issuer init`: a new issuer folder. Either kirsa's own (a signing key made or given, the two documents
// built for it) or a copy of a running cluster's issuer (`--from-cluster`: the documents read through the
// API, the cluster keeping its key). Every check that can fail runs before the folder is written; the
// folder itself is written atomically by issuer/store.ts. The CLI prints what is returned.

import { jwksKids } from '../core/oidc/documents.ts';
import { checkIssuerUrl, checkJwksPath } from '../core/oidc/issuer-url.ts';
import { readInputText } from '../io/read-input.ts';
import {
  checkInitTarget,
  generateSigningKey,
  initClusterIssuer,
  initIssuer,
  signingKeyFromPem,
} from '../issuer/store.ts';
import { type ClusterSourceInput, clusterSource } from './issuer-source.ts';

export interface IssuerInitInput {
  dir: string;
  issuerUrl: string;
  jwksPath: string;
  legacyEmptyKid: boolean;
  /** A PEM file (or `-`) holding the RSA key to sign with; absent: a new one is made. */
  signingKey?: string | undefined;
}

/** A folder with kirsa's own signing key. */
export async function createIssuerFolder(
  input: IssuerInitInput,
  { warn }: { warn: (line: string) => void },
): Promise<{ issuer: string; jwksPath: string; kid: string }> {
  const { url: issuer, warnings } = checkIssuerUrl(input.issuerUrl);
  for (const warning of warnings) warn(warning);
  const jwksPath = checkJwksPath(input.jwksPath);
  await checkInitTarget(input.dir);
  const key = input.signingKey
    ? signingKeyFromPem(await readInputText(input.signingKey, 'signing key'), input.signingKey)
    : await generateSigningKey();
  await initIssuer({
    dir: input.dir,
    issuer,
    jwksPath,
    legacyEmptyKid: input.legacyEmptyKid,
    key,
    now: new Date(),
  });
  return { issuer, jwksPath, kid: key.kid };
}

/**
 * The folder for a cluster that already signs with its own key: the documents come from the API (the same
 * reading and issuer check as publish --from-cluster); no key is made or kept.
 */
export async function createIssuerFolderFromCluster(
  input: ClusterSourceInput & { dir: string },
  { warn }: { warn: (line: string) => void },
): Promise<{ issuerUrl: string; jwksPath: string; kids: string[] }> {
  await checkInitTarget(input.dir);
  const source = await clusterSource(input, warn);
  await initClusterIssuer({
    dir: input.dir,
    issuer: source.issuerUrl,
    jwksPath: source.jwksPath,
    discovery: source.discovery,
    jwks: source.jwks,
  });
  return { issuerUrl: source.issuerUrl, jwksPath: source.jwksPath, kids: jwksKids(source.jwks, '(no kid)') };
}
