// `kirsa manifests`: the install objects as plain YAML, the same ones the Helm chart renders.

import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { KirsaError } from '../errors.ts';
import {
  caBundleOf,
  DEFAULT_INSTALL_SETTINGS,
  FAILURE_POLICIES,
  type FailurePolicy,
  type InstallSettings,
  type LabelSelector,
  renderInstallManifests,
  TLS_MODES,
  type TlsMode,
  WEBHOOK_MODES,
  type WebhookMode,
} from '../install/manifests.ts';
import { readInputText } from '../io/read-input.ts';
import { parseBooleanFlag, parseIntegerFlag } from './flags.ts';
import { finishVerb } from './phases.ts';

interface ManifestsFlags {
  name: string;
  fullnameOverride?: string;
  namespace: string;
  priorityClassName: string;
  dnsDomain: string;
  webhookMode: string;
  failurePolicy: string;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  optInLabel: string;
  createNamespace: boolean;
  image: string;
  replicas: number;
  tlsMode: string;
  tlsSecret?: string;
  caBundleFile?: string;
  annotationPrefix: string;
  tokenAudience: string;
  tokenExpiration: number;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  watchConfigMap: boolean;
  readEnvFromConfigMaps: boolean;
  configMapNamespace: string;
}

/** One of a fixed list, or a usage error naming the list (the chart's schema holds the same lists). */
function oneOf<T extends string>(flag: string, choices: readonly T[], value: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new KirsaError(
    'FLAG_INVALID',
    `--${flag} takes ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not "${value}"`,
  );
}

/** A label selector given as JSON or YAML (`{matchLabels: {team: a}}`), as the chart's values take it. */
function parseSelectorFlag(flag: string): (text: string) => LabelSelector {
  return (text) => {
    let value: unknown;
    try {
      value = parse(text);
    } catch {
      value = undefined;
    }
    const known = ['matchLabels', 'matchExpressions'];
    if (
      value === null ||
      typeof value !== 'object' ||
      Array.isArray(value) ||
      Object.keys(value).some((key) => !known.includes(key))
    ) {
      throw new KirsaError('FLAG_INVALID', `--${flag} takes a label selector, not "${text}"`, {
        hint: `write it as JSON or YAML, e.g. --${flag} '{"matchLabels":{"team":"payments"}}'`,
      });
    }
    return value as LabelSelector;
  };
}

export function registerManifests(program: Command): void {
  const d = DEFAULT_INSTALL_SETTINGS;
  program
    .command('manifests')
    .description(
      'print the webhook install manifests as YAML (the same objects as the Helm chart in deploy/helm/kirsa)',
    )
    .option(
      '--name <release>',
      "the objects' names derive from it as from a Helm release name (kirsa: kirsa-webhook)",
      d.name,
    )
    .option('--fullname-override <name>', 'name every object this (the chart value fullnameOverride)')
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
    .option(
      '--tls-secret <name>',
      "Secret holding tls.crt and tls.key (default: the objects' name, then -tls)",
    )
    .option(
      '--ca-bundle-file <file>',
      'with --tls-mode secret: PEM of the CA that signed the serving certificate',
    )
    .option(
      '--webhook-mode <mode>',
      'all: every pod of the selected namespaces (kube-system included); opt-in: only pods, or namespaces, labelled --opt-in-label=true',
      d.webhook.mode,
    )
    .option(
      '--failure-policy <policy>',
      'Ignore (admit pods when kirsa is down) or Fail (refuse them; safe with --webhook-mode opt-in)',
      d.webhook.failurePolicy,
    )
    .option(
      '--namespace-selector <selector>',
      'only namespaces this label selector matches (JSON or YAML); default every namespace',
      parseSelectorFlag('namespace-selector'),
    )
    .option(
      '--object-selector <selector>',
      'only pods this label selector matches (JSON or YAML), besides the skip label',
      parseSelectorFlag('object-selector'),
    )
    .option(
      '--opt-in-label <key>',
      'with --webhook-mode opt-in: the label (value "true") that opts in',
      d.webhook.optInLabel,
    )
    .option(
      '--priority-class-name <name>',
      "the webhook pods' PriorityClass ('' for none)",
      d.priorityClassName,
    )
    .option('--dns-domain <domain>', "the cluster's DNS domain, for the serving certificate", d.dnsDomain)
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
      '--read-env-from-config-maps [bool]',
      "kirsa: read the ConfigMaps pods' envFrom names to decide on their region (adds get configmaps cluster-wide)",
      parseBooleanFlag('read-env-from-config-maps'),
      false,
    )
    .option(
      '--config-map-namespace <namespace>',
      "with --watch-config-map: the mapping ConfigMap's namespace when not --namespace (kOps: kube-system); adds a Role there for that one ConfigMap",
      d.webhook.configMapNamespace,
    )
    .action(async (flags: ManifestsFlags) => {
      const tlsMode: TlsMode = oneOf('tls-mode', TLS_MODES, flags.tlsMode);
      const webhookMode: WebhookMode = oneOf('webhook-mode', WEBHOOK_MODES, flags.webhookMode);
      const failurePolicy: FailurePolicy = oneOf('failure-policy', FAILURE_POLICIES, flags.failurePolicy);
      let caBundle = '';
      if (flags.tlsMode === 'secret') {
        if (!flags.caBundleFile) {
          throw new KirsaError('FLAG_REQUIRED', '--tls-mode secret needs --ca-bundle-file', {
            hint: 'pass the PEM file of the CA that signed the certificate in your Secret',
          });
        }
        caBundle = caBundleOf(await readInputText(flags.caBundleFile, 'CA bundle'), flags.caBundleFile);
      }
      const settings: InstallSettings = {
        ...d,
        name: flags.name,
        fullnameOverride: flags.fullnameOverride ?? '',
        namespace: flags.namespace,
        image: flags.image,
        replicas: flags.replicas,
        priorityClassName: flags.priorityClassName,
        dnsDomain: flags.dnsDomain,
        tls: { mode: tlsMode, secretName: flags.tlsSecret ?? '', caBundle },
        webhook: {
          ...d.webhook,
          mode: webhookMode,
          failurePolicy,
          namespaceSelector: flags.namespaceSelector ?? d.webhook.namespaceSelector,
          objectSelector: flags.objectSelector ?? d.webhook.objectSelector,
          optInLabel: flags.optInLabel,
          annotationPrefix: flags.annotationPrefix,
          tokenAudience: flags.tokenAudience,
          tokenExpiration: flags.tokenExpiration,
          awsDefaultRegion: flags.awsDefaultRegion,
          stsRegionalEndpoint: flags.stsRegionalEndpoint,
          watchConfigMap: flags.watchConfigMap,
          configMapNamespace: flags.configMapNamespace,
          readEnvFromConfigMaps: flags.readEnvFromConfigMaps,
        },
      };
      const manifests = renderInstallManifests(settings).filter(
        (manifest) => flags.createNamespace || manifest.kind !== 'Namespace',
      );
      // No anchors: an object used twice (the labels in a selector) is printed twice, as kubectl and helm
      // print it; GitOps diffs and some YAML readers handle `&a1`/`*a1` poorly. YAML 1.1 scalars: kubectl
      // reads YAML 1.1, where a plain yes, on or n is a boolean, so such strings (a label value) are quoted.
      const yamlOptions = { lineWidth: 0, aliasDuplicateObjects: false, version: '1.1' } as const;
      process.stdout.write(manifests.map((manifest) => stringify(manifest, yamlOptions)).join('---\n'));
      // On stderr: the YAML on stdout goes to kubectl apply, and this line stays on the terminal.
      finishVerb(false, {}, [
        'kirsa role create -n <namespace> --service-account <name> --provider-arn <provider ARN> --policy-arn <policy ARN>',
      ]);
    });
}
