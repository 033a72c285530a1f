// `kirsa apiserver-config --for DISTRIBUTION`: the kube-apiserver settings that make it sign tokens as the
// issuer, in the format each distribution reads. The snippet goes to standard output (for `--for flags`,
// one flag per line, ready for a process's argument list); what to do with it goes to standard error.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_ISSUER_DIR } from '../consts.ts';
import {
  apiAudiencesFor,
  DISTRIBUTIONS,
  type Distribution,
  defaultKeyDir,
  previousIssuersFor,
  renderApiserverConfig,
  stsAudienceWarnings,
} from '../core/apiserver-config.ts';
import { issuerOfDiscovery } from '../core/oidc/documents.ts';
import { checkIssuerUrl, jwksUriFor } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { issuerKeyMaterial, loadIssuer } from '../issuer/store.ts';
import { collect } from './flags.ts';

interface ApiserverConfigFlags {
  for: string;
  dir: string;
  issuerUrl?: string;
  audience: string[];
  previousIssuer: string[];
  keyDir?: string;
  kopsPlainContent: boolean;
  currentIssuer?: string;
  keepCurrentIssuer: boolean;
  currentKeyFile: string[];
  kubeconfig?: string;
  context?: string;
}

/**
 * The cluster's current issuer: as given, else read through the API when a kubeconfig is named, else
 * unknown (nothing is kept that the user did not name).
 */
async function currentIssuer(flags: ApiserverConfigFlags): Promise<string | undefined> {
  if (flags.currentIssuer !== undefined) return flags.currentIssuer;
  if (flags.kubeconfig === undefined && flags.context === undefined) return undefined;
  const kube = await import('../kube/client.ts');
  const config = await kube.loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  const { discovery } = await kube.readClusterIssuer(config);
  return issuerOfDiscovery(discovery, "the API server's /.well-known/openid-configuration");
}

async function runApiserverConfig(flags: ApiserverConfigFlags): Promise<void> {
  if (!(DISTRIBUTIONS as readonly string[]).includes(flags.for))
    throw new KirsaError('FLAG_INVALID', `--for takes ${DISTRIBUTIONS.join(', ')}, not "${flags.for}"`);
  const distribution = flags.for as Distribution;
  const issuer = await loadIssuer(flags.dir);
  if (flags.issuerUrl !== undefined && flags.issuerUrl !== issuer.state.issuer) {
    throw new KirsaError(
      'ISSUER_URL_MISMATCH',
      `--issuer-url ${flags.issuerUrl} differs from ${issuer.state.issuer}, the issuer ${flags.dir} was made for`,
      {
        hint: 'the tokens must carry the issuer the published documents name: drop --issuer-url or use another --dir',
      },
    );
  }
  for (const previous of flags.previousIssuer) checkIssuerUrl(previous, '--previous-issuer');
  const current = await currentIssuer(flags);
  const previousIssuers = previousIssuersFor({
    issuer: issuer.state.issuer,
    current,
    given: flags.previousIssuer,
    keepCurrent: flags.keepCurrentIssuer,
  });
  if (current !== undefined)
    process.stderr.write(
      current === issuer.state.issuer
        ? `note: the cluster already uses ${current}; no previous issuer to keep.\n`
        : flags.keepCurrentIssuer
          ? `note: the cluster's current issuer ${current} is kept as a previous issuer, so tokens already issued stay valid (--no-keep-current-issuer drops it).\n`
          : `kirsa: warning: --no-keep-current-issuer: tokens issued under ${current} are rejected once kube-apiserver restarts, until each is refreshed.\n`,
    );
  const apiAudiences = apiAudiencesFor(flags.audience, issuer.state.issuer, previousIssuers);
  for (const warning of stsAudienceWarnings(apiAudiences))
    process.stderr.write(`kirsa: warning: ${warning}\n`);
  const keyDir = flags.keyDir ?? defaultKeyDir(distribution, resolve(flags.dir));
  const config = renderApiserverConfig({
    distribution,
    issuer: issuer.state.issuer,
    previousIssuers,
    apiAudiences,
    jwksUri: jwksUriFor(issuer.state.issuer, issuer.state.jwksPath),
    currentKeyFiles: flags.currentKeyFile.map((file) => resolve(file)),
    keys: await issuerKeyMaterial(issuer),
    keyDir,
    kopsPlainContent: flags.kopsPlainContent,
  });
  process.stdout.write(config.text);
  for (const note of config.notes) process.stderr.write(`note: ${note}\n`);
  for (const warning of config.warnings) process.stderr.write(`kirsa: WARNING: ${warning}\n`);
}

export function registerApiserverConfig(program: Command): void {
  program
    .command('apiserver-config')
    .description(
      'print the kube-apiserver settings for the issuer, for kops, kubeadm, k3s, rke2, talos or plain flags',
    )
    .requiredOption('--for <distribution>', DISTRIBUTIONS.join(' | '))
    .option('--dir <dir>', 'issuer folder (from kirsa issuer init)', DEFAULT_ISSUER_DIR)
    .option('--issuer-url <url>', 'the issuer; must be the one the folder was made for (a check)')
    .option(
      '--audience <audience>',
      "the API server's own audiences, --api-audiences (repeatable; default the issuer). Not sts.amazonaws.com",
      collect,
      [],
    )
    .option(
      '--previous-issuer <url>',
      'an issuer still accepted while migrating (repeatable; Kubernetes >= 1.22)',
      collect,
      [],
    )
    .option(
      '--key-dir <path>',
      'folder holding the key files on control-plane nodes (default per distribution; the issuer dir for flags)',
    )
    .option(
      '--current-issuer <url>',
      "the cluster's current --service-account-issuer (default: read through the API with --kubeconfig)",
    )
    .option('--kubeconfig <file>', "read the cluster's current issuer through this kubeconfig's API server")
    .option('--context <name>', 'kubeconfig context')
    .option(
      '--no-keep-current-issuer',
      "do not keep the cluster's current issuer as a previous issuer (its tokens are then rejected until refreshed)",
    )
    .option(
      '--current-key-file <file>',
      "for --for flags: the cluster's current public key file, kept trusted for the tokens it signed (repeatable)",
      collect,
      [],
    )
    .option('--kops-plain-content', 'kOps fileAssets with PEM text instead of unpadded base64', false)
    .action((flags: ApiserverConfigFlags) => runApiserverConfig(flags));
}
