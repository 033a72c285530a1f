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
  renderApiserverConfig,
  stsAudienceWarnings,
} from '../core/apiserver-config.ts';
import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
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
}

async function runApiserverConfig(flags: ApiserverConfigFlags): Promise<void> {
  if (!(DISTRIBUTIONS as readonly string[]).includes(flags.for))
    throw new KirsaError('USAGE', `--for takes ${DISTRIBUTIONS.join(', ')}, not "${flags.for}"`);
  const distribution = flags.for as Distribution;
  const issuer = await loadIssuer(flags.dir);
  if (flags.issuerUrl !== undefined && flags.issuerUrl !== issuer.state.issuer) {
    throw new KirsaError(
      'USAGE',
      `--issuer-url ${flags.issuerUrl} differs from ${issuer.state.issuer}, the issuer ${flags.dir} was made for`,
      {
        hint: 'the tokens must carry the issuer the published documents name: drop --issuer-url or use another --dir',
      },
    );
  }
  for (const previous of flags.previousIssuer) checkIssuerUrl(previous, '--previous-issuer');
  const apiAudiences = apiAudiencesFor(flags.audience, issuer.state.issuer, flags.previousIssuer);
  for (const warning of stsAudienceWarnings(apiAudiences))
    process.stderr.write(`kirsa: warning: ${warning}\n`);
  const keyDir = flags.keyDir ?? defaultKeyDir(distribution, resolve(flags.dir));
  const config = renderApiserverConfig({
    distribution,
    issuer: issuer.state.issuer,
    previousIssuers: flags.previousIssuer,
    apiAudiences,
    keys: await issuerKeyMaterial(issuer),
    keyDir,
    kopsPlainContent: flags.kopsPlainContent,
  });
  process.stdout.write(config.text);
  for (const note of config.notes) process.stderr.write(`note: ${note}\n`);
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
    .option('--kops-plain-content', 'kOps fileAssets with PEM text instead of unpadded base64', false)
    .action((flags: ApiserverConfigFlags) => runApiserverConfig(flags));
}
