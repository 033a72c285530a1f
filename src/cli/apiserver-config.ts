// `kirsa apiserver-config --for DISTRIBUTION`: the kube-apiserver settings that make it sign tokens as the
// issuer, in the format each distribution reads. The snippet goes to standard output (for `--for flags`,
// one flag per line, ready for a process's argument list); what to do with it goes to standard error. The
// work is in src/workflows/apiserver-config.ts.

import type { Command } from 'commander';
import { DEFAULT_ISSUER_DIR } from '../consts.ts';
import { DISTRIBUTIONS } from '../core/apiserver-config.ts';
import { type ApiserverConfigRequest, apiserverConfigFor } from '../workflows/apiserver-config.ts';
import { collect, printNote, printWarning } from './flags.ts';

type ApiserverConfigFlags = Omit<ApiserverConfigRequest, 'distribution'> & { for: string };

async function runApiserverConfig({ for: distribution, ...flags }: ApiserverConfigFlags): Promise<void> {
  const config = await apiserverConfigFor(
    { ...flags, distribution },
    { note: (line) => printNote(`note: ${line}`), warn: printWarning },
  );
  process.stdout.write(config.text);
  for (const note of config.notes) printNote(`note: ${note}`);
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
