// `apiserver-config`: the kube-apiserver settings for an issuer folder, in the format a distribution reads
// (core/apiserver-config.ts renders them). This side reads the folder, its keys, and the cluster's current
// issuer (given, or read through the API when a kubeconfig is named), so that an issuer change keeps the
// tokens already issued valid. What the reading finds is told through note and warn as it is found.

import { resolve } from 'node:path';
import {
  type ApiserverConfig,
  apiAudiencesFor,
  checkDistribution,
  currentIssuerNotice,
  defaultKeyDir,
  previousIssuersFor,
  renderApiserverConfig,
  stsAudienceWarnings,
} from '../core/apiserver-config.ts';
import { issuerOfDiscovery } from '../core/oidc/documents.ts';
import { checkIssuerUrl, jwksUriFor } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { issuerKeyMaterial, loadIssuer } from '../issuer/store.ts';

export interface ApiserverConfigRequest {
  /** One of core/apiserver-config.ts's DISTRIBUTIONS. */
  distribution: string;
  dir: string;
  /** A check only: must be the issuer the folder was made for. */
  issuerUrl?: string | undefined;
  audience: readonly string[];
  previousIssuer: readonly string[];
  keyDir?: string | undefined;
  kopsPlainContent: boolean;
  /** The cluster's current issuer; absent: read through the API when kubeconfig or context is given. */
  currentIssuer?: string | undefined;
  keepCurrentIssuer: boolean;
  currentKeyFile: readonly string[];
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/**
 * The cluster's current issuer: as given, else read through the API when a kubeconfig is named, else
 * unknown (nothing is kept that the user did not name).
 */
async function currentIssuer(request: ApiserverConfigRequest): Promise<string | undefined> {
  if (request.currentIssuer !== undefined) return request.currentIssuer;
  if (request.kubeconfig === undefined && request.context === undefined) return undefined;
  const kube = await import('../kube/client.ts');
  const config = await kube.loadKubeConfig({
    ...(request.kubeconfig ? { kubeconfig: request.kubeconfig } : {}),
    ...(request.context ? { context: request.context } : {}),
  });
  const { discovery } = await kube.readClusterIssuer(config);
  return issuerOfDiscovery(discovery, "the API server's /.well-known/openid-configuration");
}

export async function apiserverConfigFor(
  request: ApiserverConfigRequest,
  { note, warn }: { note: (line: string) => void; warn: (line: string) => void },
): Promise<ApiserverConfig> {
  const distribution = checkDistribution(request.distribution);
  const issuer = await loadIssuer(request.dir);
  if (request.issuerUrl !== undefined && request.issuerUrl !== issuer.state.issuer) {
    throw new KirsaError(
      'ISSUER_URL_MISMATCH',
      `--issuer-url ${request.issuerUrl} differs from ${issuer.state.issuer}, the issuer ${request.dir} was made for`,
      {
        hint: 'the tokens must carry the issuer the published documents name: drop --issuer-url or use another --dir',
      },
    );
  }
  for (const previous of request.previousIssuer) checkIssuerUrl(previous, '--previous-issuer');
  const current = await currentIssuer(request);
  const previousIssuers = previousIssuersFor({
    issuer: issuer.state.issuer,
    current,
    given: request.previousIssuer,
    keepCurrent: request.keepCurrentIssuer,
  });
  if (current !== undefined) {
    const notice = currentIssuerNotice({
      issuer: issuer.state.issuer,
      current,
      keepCurrent: request.keepCurrentIssuer,
    });
    (notice.level === 'note' ? note : warn)(notice.text);
  }
  const apiAudiences = apiAudiencesFor(request.audience, issuer.state.issuer, previousIssuers);
  for (const warning of stsAudienceWarnings(apiAudiences)) warn(warning);
  return renderApiserverConfig({
    distribution,
    issuer: issuer.state.issuer,
    previousIssuers,
    apiAudiences,
    jwksUri: jwksUriFor(issuer.state.issuer, issuer.state.jwksPath),
    currentKeyFiles: request.currentKeyFile.map((file) => resolve(file)),
    keys: await issuerKeyMaterial(issuer),
    keyDir: request.keyDir ?? defaultKeyDir(distribution, resolve(request.dir)),
    kopsPlainContent: request.kopsPlainContent,
  });
}
