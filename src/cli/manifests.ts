// `kirsa manifests`: the install objects as plain YAML, the same ones the Helm chart renders.

import type { Command } from 'commander';
import { stringify } from 'yaml';
import { KirsaError } from '../errors.ts';
import {
  DEFAULT_INSTALL_SETTINGS,
  type InstallSettings,
  renderInstallManifests,
  TLS_MODES,
  type TlsMode,
} from '../install/manifests.ts';
import { readInputText } from '../io/read-input.ts';
import { parseBooleanFlag, parseIntegerFlag } from './flags.ts';
import { finishVerb } from './phases.ts';

interface ManifestsFlags {
  namespace: string;
  createNamespace: boolean;
  image: string;
  replicas: number;
  tlsMode: string;
  tlsSecret: string;
  caBundleFile?: string;
  annotationPrefix: string;
  tokenAudience: string;
  tokenExpiration: number;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  watchConfigMap: boolean;
  configMapNamespace: string;
}

export function registerManifests(program: Command): void {
  const d = DEFAULT_INSTALL_SETTINGS;
  program
    .command('manifests')
    .description(
      'print the webhook install manifests as YAML (the same objects as the Helm chart in deploy/helm/kirsa)',
    )
    .option('--namespace <namespace>', 'namespace the webhook runs in', d.namespace)
    .option(
      '--create-namespace [bool]',
      'include the Namespace object',
      parseBooleanFlag('create-namespace'),
      true,
    )
    .option('--image <image>', 'webhook image', d.image)
    .option('--replicas <n>', 'webhook replicas', parseIntegerFlag('replicas', { min: 1 }), d.replicas)
    .option(
      '--tls-mode <mode>',
      'cert-manager (Issuer + Certificate), secret (your Secret and CA), or self-managed (kirsa makes, renews and publishes its own)',
      d.tls.mode,
    )
    .option('--tls-secret <name>', 'Secret holding tls.crt and tls.key', d.tls.secretName)
    .option(
      '--ca-bundle-file <file>',
      'with --tls-mode secret: PEM of the CA that signed the serving certificate',
    )
    .option('--annotation-prefix <prefix>', 'annotation prefix', d.webhook.annotationPrefix)
    .option('--token-audience <audience>', 'default token audience', d.webhook.tokenAudience)
    .option(
      '--token-expiration <seconds>',
      'default token lifetime',
      parseIntegerFlag('token-expiration'),
      d.webhook.tokenExpiration,
    )
    .option('--aws-default-region <region>', 'inject this region into pods', d.webhook.awsDefaultRegion)
    .option(
      '--sts-regional-endpoint [bool]',
      'regional STS by default',
      parseBooleanFlag('sts-regional-endpoint'),
      false,
    )
    .option(
      '--watch-config-map [bool]',
      'read the identity mapping ConfigMap',
      parseBooleanFlag('watch-config-map'),
      false,
    )
    .option(
      '--config-map-namespace <namespace>',
      "with --watch-config-map: the mapping ConfigMap's namespace when not --namespace (kOps: kube-system); adds a Role there for that one ConfigMap",
      d.webhook.configMapNamespace,
    )
    .action(async (flags: ManifestsFlags) => {
      if (!(TLS_MODES as readonly string[]).includes(flags.tlsMode)) {
        throw new KirsaError(
          'USAGE',
          `--tls-mode takes ${TLS_MODES.slice(0, -1).join(', ')} or ${TLS_MODES.at(-1)}, not "${flags.tlsMode}"`,
        );
      }
      let caBundle = '';
      if (flags.tlsMode === 'secret') {
        if (!flags.caBundleFile) {
          throw new KirsaError('USAGE', '--tls-mode secret needs --ca-bundle-file', {
            hint: 'pass the PEM file of the CA that signed the certificate in your Secret',
          });
        }
        const pem = await readInputText(flags.caBundleFile, 'CA bundle');
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
          throw new KirsaError('INPUT_INVALID', `${flags.caBundleFile} holds no PEM certificate`, {
            hint: 'give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)',
          });
        }
        caBundle = Buffer.from(pem).toString('base64');
      }
      const settings: InstallSettings = {
        namespace: flags.namespace,
        image: flags.image,
        replicas: flags.replicas,
        tls: { mode: flags.tlsMode as TlsMode, secretName: flags.tlsSecret, caBundle },
        webhook: {
          ...d.webhook,
          annotationPrefix: flags.annotationPrefix,
          tokenAudience: flags.tokenAudience,
          tokenExpiration: flags.tokenExpiration,
          awsDefaultRegion: flags.awsDefaultRegion,
          stsRegionalEndpoint: flags.stsRegionalEndpoint,
          watchConfigMap: flags.watchConfigMap,
          configMapNamespace: flags.configMapNamespace,
        },
      };
      const manifests = renderInstallManifests(settings).filter(
        (manifest) => flags.createNamespace || manifest.kind !== 'Namespace',
      );
      // No anchors: an object used twice (the labels in a selector) is printed twice, as kubectl and helm
      // print it; GitOps diffs and some YAML readers handle `&a1`/`*a1` poorly.
      const yamlOptions = { lineWidth: 0, aliasDuplicateObjects: false };
      process.stdout.write(manifests.map((manifest) => stringify(manifest, yamlOptions)).join('---\n'));
      // On stderr: the YAML on stdout goes to kubectl apply, and this line stays on the terminal.
      finishVerb(false, {}, [
        'kirsa role create -n <namespace> --service-account <name> --provider-arn <provider ARN> --policy-arn <policy ARN>',
      ]);
    });
}
