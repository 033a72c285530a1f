// The kube-apiserver configuration each distribution needs to sign with kirsa's key and trust the keys it
// publishes: plain flags, a kOps cluster spec, a kubeadm ClusterConfiguration, k3s/RKE2 config and a Talos
// machine-config patch, each with notes on how that distribution treats repeated flags. Pure.

import { stringify } from 'yaml';
import { DEFAULT_TOKEN_AUDIENCE, EXISTING_SERVICE_ACCOUNT_KEY, NODE_KEY_DIR } from '../consts.ts';
import { KirsaError } from '../errors.ts';

export const DISTRIBUTIONS = ['kops', 'kubeadm', 'k3s', 'rke2', 'talos', 'flags'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

export function checkDistribution(text: string): Distribution {
  if (!(DISTRIBUTIONS as readonly string[]).includes(text))
    throw new KirsaError('FLAG_INVALID', `--for takes ${DISTRIBUTIONS.join(', ')}, not "${text}"`);
  return text as Distribution;
}

export interface ApiserverSettings {
  issuer: string;
  /** Issuers still accepted but no longer signing (migration from an old issuer, Kubernetes >= 1.22). */
  previousIssuers: string[];
  /** The API server's own audiences (--api-audiences); default: the issuers. */
  apiAudiences: string[];
  /** Public key files, one per published key, signer first. */
  publicKeyFiles: string[];
  signingKeyFile: string;
  /** --service-account-jwks-uri: the published JWKS, named in the API server's own discovery document. */
  jwksUri?: string | undefined;
}

/** The flags, one per element, repeated flags repeated (kube-apiserver accepts repeats for these two). */
export function apiserverFlags(settings: ApiserverSettings): string[] {
  return [
    `--service-account-issuer=${settings.issuer}`,
    ...settings.previousIssuers.map((issuer) => `--service-account-issuer=${issuer}`),
    ...(settings.jwksUri ? [`--service-account-jwks-uri=${settings.jwksUri}`] : []),
    ...settings.publicKeyFiles.map((file) => `--service-account-key-file=${file}`),
    `--service-account-signing-key-file=${settings.signingKeyFile}`,
    `--api-audiences=${settings.apiAudiences.join(',')}`,
  ];
}

/**
 * The issuers kube-apiserver keeps accepting after the change: those given, plus the cluster's current one
 * (read from the cluster or given) unless told not to. Without it, every token already issued under the
 * current issuer is rejected once the API server restarts. The new issuer itself and repeats are dropped.
 */
export function previousIssuersFor(options: {
  issuer: string;
  current: string | undefined;
  given: readonly string[];
  keepCurrent: boolean;
}): string[] {
  const kept = [...options.given, ...(options.keepCurrent && options.current ? [options.current] : [])];
  return [...new Set(kept)].filter((issuer) => issuer !== options.issuer);
}

/**
 * What to tell about the cluster's current issuer once it is known: nothing to keep when it is already the
 * issuer; kept as a previous issuer (a note); or dropped on request (a warning: its tokens stop working).
 */
export function currentIssuerNotice(options: { issuer: string; current: string; keepCurrent: boolean }): {
  level: 'note' | 'warning';
  text: string;
} {
  if (options.current === options.issuer)
    return {
      level: 'note',
      text: `the cluster already uses ${options.current}; no previous issuer to keep.`,
    };
  return options.keepCurrent
    ? {
        level: 'note',
        text: `the cluster's current issuer ${options.current} is kept as a previous issuer, so tokens already issued stay valid (--no-keep-current-issuer drops it).`,
      }
    : {
        level: 'warning',
        text: `--no-keep-current-issuer: tokens issued under ${options.current} are rejected once kube-apiserver restarts, until each is refreshed.`,
      };
}

/**
 * What breaks, and for how long, when a distribution that passes one --service-account-issuer drops the
 * cluster's current one. The kubelet replaces a projected token once 80% of its requested lifetime has
 * passed (pkg/kubelet/token), so pods recover within that; Secret-based tokens are never replaced.
 */
function droppedIssuerWarning(who: string, dropped: readonly string[]): string {
  return `${who} passes only one --service-account-issuer, so ${dropped.join(', ')} is NOT kept: once kube-apiserver restarts, every token issued under it is rejected (401). In-cluster clients fail until the kubelet replaces their projected token, at 80% of its requested lifetime (about 48 minutes for the default 1 h), at most the token's whole lifetime; tokens stored in Secrets never refresh and must be recreated. Restart the pods that matter right after the change, or schedule it for a quiet hour.`;
}

/** Audiences that would let STS accept every pod's default API token: never the API server's own. */
export function stsAudienceWarnings(apiAudiences: readonly string[]): string[] {
  return apiAudiences
    .filter((audience) => audience === DEFAULT_TOKEN_AUDIENCE || audience === 'amazonaws.com')
    .map(
      (audience) =>
        `--audience ${audience} would make every pod's default API token acceptable to STS; the API server's audiences should be its own (the issuer)`,
    );
}

/**
 * The API server's own audiences: those given, else its issuers, current and previous, so that a token it
 * issued under an issuer it still accepts keeps an audience it accepts. Repeats are dropped, order kept.
 */
export function apiAudiencesFor(
  given: readonly string[],
  issuer: string,
  previousIssuers: readonly string[],
): string[] {
  return [...new Set(given.length > 0 ? given : [issuer, ...previousIssuers])];
}

export interface IssuerKeyMaterial {
  /** SPKI PEM of each published key, signer first, with its path relative to the issuer dir. */
  publicKeys: Array<{ fileName: string; pem: string }>;
  /** All published public keys in one PEM file, for distributions that keep one flag value. */
  bundleFileName: string;
  bundlePem: string;
  signingKeyFileName: string;
  signingKeyPem: string;
}

export interface ApiserverConfigInput {
  distribution: Distribution;
  issuer: string;
  previousIssuers: string[];
  apiAudiences: string[];
  keys: IssuerKeyMaterial;
  /** Folder the key files live in: the issuer dir for `flags`, a folder on control-plane nodes otherwise. */
  keyDir: string;
  /** For kOps: put PEM text in `content` instead of unpadded base64 with `isBase64: true`. */
  kopsPlainContent: boolean;
  /** The published JWKS URL, for --service-account-jwks-uri; none when undefined. */
  jwksUri?: string | undefined;
  /**
   * For plain flags: the cluster's current public key file(s), kept trusted so the tokens it already signed
   * (under the previous issuer) keep verifying. The other distributions name their own current key.
   */
  currentKeyFiles?: string[] | undefined;
}

export interface ApiserverConfig {
  /** The snippet, in the format the distribution reads. */
  text: string;
  /** What to do with it and what the distribution does to repeated flags, one sentence each. */
  notes: string[];
  /** What will break if applied as is (an issuer the distribution cannot keep): printed loudly. */
  warnings: string[];
}

function at(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

function settingsFor(input: ApiserverConfigInput, publicKeyFiles: string[]): ApiserverSettings {
  return {
    issuer: input.issuer,
    previousIssuers: input.previousIssuers,
    apiAudiences: input.apiAudiences,
    publicKeyFiles,
    signingKeyFile: at(input.keyDir, input.keys.signingKeyFileName),
    jwksUri: input.jwksUri,
  };
}

/** name=value pairs without the leading dashes, for configuration files that take them that way. */
function flagPairs(settings: ApiserverSettings): Array<{ name: string; value: string }> {
  return apiserverFlags(settings).map((flag) => {
    const equals = flag.indexOf('=');
    return { name: flag.slice(2, equals), value: flag.slice(equals + 1) };
  });
}

const ONE_VALUE_NOTE = (who: string, issue: string) =>
  `${who} keeps only one value of a repeated flag (${issue}), so every key kirsa publishes goes in one multi-key file; to keep tokens signed by the cluster's current key valid, append its public half to that file too.`;

export function renderApiserverConfig(input: ApiserverConfigInput): ApiserverConfig {
  const { keys, keyDir } = input;
  const signingPath = at(keyDir, keys.signingKeyFileName);
  const bundlePath = at(keyDir, keys.bundleFileName);
  const copyNote = `copy ${keys.signingKeyFileName} (mode 0600) and ${keys.bundleFileName} from the issuer dir to ${keyDir}/ on every control-plane node, then restart kube-apiserver.`;
  switch (input.distribution) {
    case 'flags': {
      const current = input.currentKeyFiles ?? [];
      const flags = apiserverFlags(
        settingsFor(input, [...keys.publicKeys.map((key) => at(keyDir, key.fileName)), ...current]),
      );
      return {
        text: `${flags.join('\n')}\n`,
        notes:
          input.previousIssuers.length > 0 && current.length === 0
            ? [
                "tokens issued under the previous issuer were signed by the cluster's current key: add its public key file (--current-key-file FILE) so they keep verifying.",
              ]
            : [],
        warnings: [],
      };
    }
    case 'kops': {
      const existing = EXISTING_SERVICE_ACCOUNT_KEY.kops;
      const asset = (name: string, fileName: string, pem: string) => ({
        name,
        path: at(keyDir, fileName),
        roles: ['ControlPlane'],
        ...(input.kopsPlainContent ? { content: pem } : { isBase64: true, content: kopsBase64(pem) }),
      });
      const spec = {
        spec: {
          fileAssets: [
            asset('kirsa-sa-signer-key', keys.signingKeyFileName, keys.signingKeyPem),
            ...keys.publicKeys.map((key) =>
              asset(`kirsa-${key.fileName.replace(/^.*\//, '').replace(/\./g, '-')}`, key.fileName, key.pem),
            ),
          ],
          kubeAPIServer: {
            serviceAccountIssuer: input.issuer,
            ...(input.previousIssuers.length > 0
              ? { additionalServiceAccountIssuers: input.previousIssuers }
              : {}),
            ...(input.jwksUri ? { serviceAccountJWKSURI: input.jwksUri } : {}),
            serviceAccountKeyFile: [existing, ...keys.publicKeys.map((key) => at(keyDir, key.fileName))],
            serviceAccountSigningKeyFile: signingPath,
            apiAudiences: input.apiAudiences,
          },
        },
      };
      return {
        text: stringify(spec, { lineWidth: 0 }),
        notes: [
          'merge this into your cluster spec (kops edit cluster), then kops update cluster --yes and kops rolling-update cluster --yes.',
          `serviceAccountKeyFile keeps ${existing}, the cluster's current key, so tokens already issued stay valid; drop it after the longest token lifetime.`,
          'kOps decodes isBase64 content without padding (Go RawStdEncoding), so the base64 here has no trailing "="; --kops-plain-content writes the PEM text instead.',
          'kOps before 1.26 names the control-plane role Master instead of ControlPlane; kOps 1.13 joined repeated serviceAccountKeyFile values with commas (fixed in 1.15).',
        ],
        warnings: [],
      };
    }
    case 'kubeadm': {
      const settings = settingsFor(input, [EXISTING_SERVICE_ACCOUNT_KEY.kubeadm, bundlePath]);
      const config = {
        apiVersion: 'kubeadm.k8s.io/v1beta4',
        kind: 'ClusterConfiguration',
        apiServer: { extraArgs: flagPairs(settings) },
      };
      return {
        text: stringify(config, { lineWidth: 0 }),
        notes: [
          copyNote,
          `kubeadm v1beta4 (kubeadm 1.31+) keeps repeated extraArgs, so ${EXISTING_SERVICE_ACCOUNT_KEY.kubeadm} (the cluster's current key) stays trusted beside ${keys.bundleFileName}.`,
          `${ONE_VALUE_NOTE('kubeadm v1beta3 (a map of extraArgs)', 'kubeadm#2735')} e.g. cat ${EXISTING_SERVICE_ACCOUNT_KEY.kubeadm} >> ${bundlePath}, and give service-account-key-file once.`,
          ...(input.previousIssuers.length > 0
            ? [
                'kubeadm v1beta3 also keeps one service-account-issuer: there only the new issuer survives, and tokens under the previous one are rejected until refreshed.',
              ]
            : []),
        ],
        warnings: [],
      };
    }
    case 'k3s':
    case 'rke2': {
      const existing = EXISTING_SERVICE_ACCOUNT_KEY[input.distribution];
      const settings = settingsFor(input, [bundlePath]);
      const pairs = flagPairs(settings);
      // k3s and RKE2 keep one value per flag name, so only the signing issuer is passed.
      const single = pairs.filter((pair, index) => pair.name !== 'service-account-issuer' || index === 0);
      const config = { 'kube-apiserver-arg': single.map((pair) => `${pair.name}=${pair.value}`) };
      const file =
        input.distribution === 'k3s' ? '/etc/rancher/k3s/config.yaml' : '/etc/rancher/rke2/config.yaml';
      return {
        text: stringify(config, { lineWidth: 0 }),
        notes: [
          `add this to ${file} on every server node. ${copyNote}`,
          `${ONE_VALUE_NOTE(input.distribution === 'k3s' ? 'k3s' : 'RKE2', input.distribution === 'k3s' ? 'k3s#4162, k3s#5374' : 'rancher#51942')} e.g. openssl pkey -in ${existing} -pubout >> ${bundlePath}.`,
        ],
        warnings:
          input.previousIssuers.length > 0
            ? [droppedIssuerWarning(input.distribution === 'k3s' ? 'k3s' : 'RKE2', input.previousIssuers)]
            : [],
      };
    }
    case 'talos': {
      const settings = settingsFor(input, [bundlePath]);
      const extraArgs: Record<string, string> = {};
      for (const pair of flagPairs(settings)) {
        if (pair.name === 'service-account-signing-key-file') continue; // Talos signs with cluster.serviceAccount.key
        if (pair.name === 'service-account-issuer' && extraArgs[pair.name]) continue;
        extraArgs[pair.name] = pair.value;
      }
      const patch = {
        machine: {
          files: [{ path: bundlePath, permissions: 0o644, op: 'create', content: keys.bundlePem }],
        },
        cluster: {
          serviceAccount: { key: Buffer.from(keys.signingKeyPem).toString('base64') },
          apiServer: {
            extraArgs,
            extraVolumes: [{ hostPath: keyDir, mountPath: keyDir, readonly: true }],
          },
        },
      };
      return {
        text: stringify(patch, { lineWidth: 0 }),
        notes: [
          'apply this machine-config patch to every control-plane node (talosctl patch machineconfig --patch @patch.yaml).',
          `${ONE_VALUE_NOTE('Talos (extraArgs is a map)', 'one key per flag')} Talos's own key is ${EXISTING_SERVICE_ACCOUNT_KEY.talos}.`,
        ],
        warnings:
          input.previousIssuers.length > 0
            ? [droppedIssuerWarning('Talos (extraArgs is a map)', input.previousIssuers)]
            : [],
      };
    }
  }
}

/**
 * Where kube-apiserver reads the key files: for plain flags the issuer folder itself (the API server runs
 * where kirsa does, as in a test or a hand-run control plane), else the distribution's folder on its nodes.
 */
export function defaultKeyDir(distribution: Distribution, issuerDir: string): string {
  return distribution === 'flags' ? issuerDir : NODE_KEY_DIR[distribution];
}

/** kOps decodes fileAssets with Go's RawStdEncoding: standard alphabet, no `=` padding. */
export function kopsBase64(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}
