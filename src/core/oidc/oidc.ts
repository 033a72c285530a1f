// The OIDC issuer as data: issuer-URL rules, the discovery document, the JWKS and its key IDs, the key
// rotation state machine, and the kube-apiserver configuration each distribution needs. Pure: the key
// parsing and hashing below are deterministic computations on bytes handed in; files, clocks and networks
// belong to src/issuer/.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { stringify } from 'yaml';
import {
  DEFAULT_TOKEN_AUDIENCE,
  DISCOVERY_PATH,
  EXISTING_SERVICE_ACCOUNT_KEY,
  KUBERNETES_AUTHORIZATION_ENDPOINT,
  MAX_JWKS_RSA_KEYS,
  NODE_KEY_DIR,
  SIGNING_ALGORITHM,
  SIGNING_KEY_BITS,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

// --- Issuer URL ------------------------------------------------------------------------------------------

export interface IssuerUrlProblem {
  /** error: IAM or kube-apiserver refuses it; warning: works for development, not with IAM. */
  severity: 'error' | 'warning';
  rule: string;
}

/** Every rule the issuer URL breaks, in the words of the rule (IAM's and kube-apiserver's). */
export function issuerUrlProblems(text: string): IssuerUrlProblem[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [{ severity: 'error', rule: 'it is not an absolute URL (write https://host/path)' }];
  }
  const problems: IssuerUrlProblem[] = [];
  const error = (rule: string) => problems.push({ severity: 'error', rule });
  if (url.protocol !== 'https:') error(`it must use https, not ${url.protocol.replace(':', '')}`);
  if (url.username || url.password) error('it must not carry a user name or password');
  if (text.includes('?')) error('it must not have a query string');
  if (text.includes('#')) error('it must not have a fragment');
  if (text.replace(/[?#].*$/, '').endsWith('/'))
    error('it must not end with a slash (the token iss must match exactly, and kube-apiserver adds none)');
  if (url.port)
    problems.push({
      severity: 'warning',
      rule: `IAM refuses issuer URLs with a port (:${url.port}); fine for a development issuer only`,
    });
  return problems;
}

/** The issuer URL if it has no error; warnings are returned for the caller to print. */
export function checkIssuerUrl(text: string, flag = '--issuer-url'): { url: string; warnings: string[] } {
  const problems = issuerUrlProblems(text);
  const errors = problems.filter((problem) => problem.severity === 'error');
  if (errors.length > 0) {
    throw new KirsaError('USAGE', `${flag} ${text}: ${errors.map((problem) => problem.rule).join('; ')}`, {
      hint: 'use the public https URL the documents will be served from, e.g. https://my-bucket.s3.eu-west-1.amazonaws.com/cluster-1',
    });
  }
  return { url: text, warnings: problems.map((problem) => `${flag} ${text}: ${problem.rule}`) };
}

/** `host/path` of the issuer: the IAM provider's name in its ARN and the prefix of trust-policy keys. */
export function issuerHostPath(issuer: string): string {
  return issuer.replace(/^https:\/\//, '');
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function discoveryUrlFor(issuer: string): string {
  return joinUrl(issuer, DISCOVERY_PATH);
}

export function jwksUriFor(issuer: string, jwksPath: string): string {
  return joinUrl(issuer, jwksPath);
}

// --- Documents -------------------------------------------------------------------------------------------

/** Field names as on the wire (OpenID Connect Discovery 1.0). */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  claims_supported: string[];
}

export function buildDiscoveryDocument(issuer: string, jwksUri: string): DiscoveryDocument {
  return {
    issuer,
    jwks_uri: jwksUri,
    authorization_endpoint: KUBERNETES_AUTHORIZATION_ENDPOINT,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALGORITHM],
    claims_supported: ['sub', 'iss'],
  };
}

export interface RsaJwk {
  use: 'sig';
  kty: 'RSA';
  kid: string;
  alg: 'RS256';
  n: string;
  e: string;
}

export interface Jwks {
  keys: RsaJwk[];
}

/** Documents are written with two-space indentation and a final newline, so diffs stay readable. */
export function formatJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

// --- Keys ------------------------------------------------------------------------------------------------

/** kube-apiserver's key ID: base64url (unpadded) of SHA-256 over the DER SubjectPublicKeyInfo. */
export function keyIdFromSpkiDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

export function keyIdOf(publicKey: KeyObject): string {
  return keyIdFromSpkiDer(publicKey.export({ format: 'der', type: 'spki' }));
}

export function spkiPem(publicKey: KeyObject): string {
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

export interface ParsedKey {
  publicKey: KeyObject;
  /** Present when the PEM block held a private key. */
  privateKey?: KeyObject;
  kid: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Every RSA key in a PEM file (public, private or certificate blocks); anything else is refused by name. */
export function parseKeysPem(text: string, source: string): ParsedKey[] {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    const hint = /^ssh-rsa /m.test(text)
      ? `it is an OpenSSH public key; convert it with: ssh-keygen -e -m PKCS8 -f ${source} > key.pub`
      : 'give a PEM file (-----BEGIN PUBLIC KEY----- or -----BEGIN PRIVATE KEY-----)';
    throw new KirsaError('INPUT_INVALID', `${source}: no PEM key found`, { hint });
  }
  const keys: ParsedKey[] = [];
  for (const [block, label] of blocks) {
    keys.push(parseBlock(block, label!, source));
  }
  return keys;
}

function parseBlock(block: string, label: string, source: string): ParsedKey {
  if (label === 'OPENSSH PRIVATE KEY') {
    throw new KirsaError(
      'INPUT_INVALID',
      `${source}: OpenSSH-format private key, which has no standard parser`,
      {
        hint: `convert it in place to PEM with: ssh-keygen -p -N '' -m PEM -f ${source}`,
      },
    );
  }
  if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block)) {
    throw new KirsaError('INPUT_INVALID', `${source}: the private key is encrypted`, {
      hint: `kube-apiserver needs it unencrypted too: openssl pkey -in ${source} -out sa-signer.key`,
    });
  }
  let publicKey: KeyObject;
  let privateKey: KeyObject | undefined;
  try {
    if (label.endsWith('PRIVATE KEY')) {
      privateKey = createPrivateKey(block);
      publicKey = createPublicKey(privateKey);
    } else {
      publicKey = createPublicKey(block);
    }
  } catch (error) {
    throw new KirsaError('INPUT_INVALID', `${source}: the ${label} block does not parse`, {
      hint: 'check the file is a complete PEM key (openssl pkey -in FILE -noout shows why)',
      cause: error,
    });
  }
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new KirsaError(
      'INPUT_INVALID',
      `${source}: ${publicKey.asymmetricKeyType?.toUpperCase() ?? 'unknown'} key; kirsa signs with RSA (RS256)`,
      {
        hint: 'STS and every Kubernetes distribution accept RSA-2048: let kirsa issuer init make one, or openssl genrsa -out sa-signer.key 2048',
      },
    );
  }
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < SIGNING_KEY_BITS) {
    throw new KirsaError(
      'INPUT_INVALID',
      `${source}: RSA key of ${bits} bits; RS256 needs at least ${SIGNING_KEY_BITS}`,
      {
        hint: 'generate a new key (kirsa issuer init, or openssl genrsa -out sa-signer.key 2048)',
      },
    );
  }
  return privateKey
    ? { publicKey, privateKey, kid: keyIdOf(publicKey) }
    : { publicKey, kid: keyIdOf(publicKey) };
}

export function publicJwk(publicKey: KeyObject): RsaJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  return { use: 'sig', kty: 'RSA', kid: keyIdOf(publicKey), alg: 'RS256', n: jwk.n!, e: jwk.e! };
}

/**
 * The JWKS for these keys, deduplicated by kid, in the order given. `legacyEmptyKid` adds each key a second
 * time with `kid: ""`: kube-apiserver before 1.16 signed tokens without a kid.
 */
export function buildJwks(publicKeys: readonly KeyObject[], { legacyEmptyKid = false } = {}): Jwks {
  const seen = new Set<string>();
  const keys: RsaJwk[] = [];
  for (const key of publicKeys) {
    const jwk = publicJwk(key);
    if (seen.has(jwk.kid)) continue;
    seen.add(jwk.kid);
    keys.push(jwk);
    if (legacyEmptyKid) keys.push({ ...jwk, kid: '' });
  }
  if (keys.filter((key) => key.kty === 'RSA').length > MAX_JWKS_RSA_KEYS) {
    throw new KirsaError(
      'INPUT_INVALID',
      `${keys.length} RSA keys: STS accepts at most ${MAX_JWKS_RSA_KEYS}`,
      {
        hint: 'retire old keys (kirsa issuer rotate --retire)',
      },
    );
  }
  return { keys };
}

/** kOps decodes fileAssets with Go's RawStdEncoding: standard alphabet, no `=` padding. */
export function kopsBase64(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

// --- Rotation state ----------------------------------------------------------------------------------------

/**
 * staged: published in the JWKS, not signing yet. active: signs (exactly one). previous: stopped signing,
 * still published while tokens it signed may live. retired: gone from the JWKS.
 */
export type KeyStage = 'staged' | 'active' | 'previous' | 'retired';

export interface KeyRecord {
  generation: number;
  kid: string;
  stage: KeyStage;
  createdAt: string;
  activatedAt?: string;
  stoppedSigningAt?: string;
  retiredAt?: string;
}

export interface IssuerState {
  version: 1;
  issuer: string;
  jwksPath: string;
  legacyEmptyKid: boolean;
  keys: KeyRecord[];
}

export const STAGE_ORDER: readonly KeyStage[] = ['active', 'staged', 'previous', 'retired'];

export function initialState(
  options: { issuer: string; jwksPath: string; legacyEmptyKid: boolean; kid: string },
  now: Date,
): IssuerState {
  const at = now.toISOString();
  return {
    version: 1,
    issuer: options.issuer,
    jwksPath: options.jwksPath,
    legacyEmptyKid: options.legacyEmptyKid,
    keys: [{ generation: 1, kid: options.kid, stage: 'active', createdAt: at, activatedAt: at }],
  };
}

export function parseIssuerState(text: string, source: string): IssuerState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KirsaError('INPUT_UNREADABLE', `${source} is not JSON`, {
      hint: 'restore it from a backup; kirsa writes it whole, so a hand edit broke it',
      cause: error,
    });
  }
  const state = value as IssuerState;
  const valid =
    state !== null &&
    typeof state === 'object' &&
    state.version === 1 &&
    typeof state.issuer === 'string' &&
    typeof state.jwksPath === 'string' &&
    Array.isArray(state.keys) &&
    state.keys.every(
      (key) =>
        Number.isInteger(key?.generation) && typeof key.kid === 'string' && STAGE_ORDER.includes(key.stage),
    ) &&
    state.keys.filter((key) => key.stage === 'active').length === 1;
  if (!valid) {
    throw new KirsaError(
      'INPUT_INVALID',
      `${source} is not a kirsa issuer state (version 1, one active key)`,
      {
        hint: 'point --dir at a folder made by kirsa issuer init',
      },
    );
  }
  return { ...state, legacyEmptyKid: state.legacyEmptyKid === true };
}

export function activeKey(state: IssuerState): KeyRecord {
  return state.keys.find((key) => key.stage === 'active')!;
}

/** Keys in the JWKS and in --service-account-key-file: the signer first, then staged, then previous. */
export function publishedKeys(state: IssuerState): KeyRecord[] {
  return state.keys
    .filter((key) => key.stage !== 'retired')
    .sort(
      (a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage) || b.generation - a.generation,
    );
}

/** Adds a new key as staged: published, not signing. One staged key at a time. */
export function stageKey(state: IssuerState, kid: string, now: Date): IssuerState {
  const staged = state.keys.find((key) => key.stage === 'staged');
  if (staged) {
    throw new KirsaError('ALREADY_EXISTS', `key generation ${staged.generation} is already staged`, {
      hint: 'publish it, wait until every API server and cache has the new JWKS, then run kirsa issuer rotate --promote',
    });
  }
  if (state.keys.some((key) => key.kid === kid)) {
    throw new KirsaError('ALREADY_EXISTS', `key ${kid} is already in this issuer`, {
      hint: 'rotate to a newly generated key',
    });
  }
  const generation = Math.max(...state.keys.map((key) => key.generation)) + 1;
  return {
    ...state,
    keys: [...state.keys, { generation, kid, stage: 'staged', createdAt: now.toISOString() }],
  };
}

/** The staged key starts signing; the active one becomes previous, remembering when it stopped. */
export function promoteStaged(state: IssuerState, now: Date): IssuerState {
  if (!state.keys.some((key) => key.stage === 'staged')) {
    throw new KirsaError('NOT_FOUND', 'no staged key to promote', {
      hint: 'stage one first with kirsa issuer rotate, and publish the JWKS',
    });
  }
  const at = now.toISOString();
  return {
    ...state,
    keys: state.keys.map((key): KeyRecord => {
      if (key.stage === 'active') return { ...key, stage: 'previous', stoppedSigningAt: at };
      if (key.stage === 'staged') return { ...key, stage: 'active', activatedAt: at };
      return key;
    }),
  };
}

/**
 * Drops every previous key from the JWKS, refusing while a token one of them signed may still be valid:
 * a key that stopped signing at T signed tokens valid until T + the longest token lifetime.
 */
export function retirePrevious(state: IssuerState, now: Date, maxTokenLifetimeSeconds: number): IssuerState {
  const previous = state.keys.filter((key) => key.stage === 'previous');
  if (previous.length === 0) {
    throw new KirsaError('NOT_FOUND', 'no previous key to retire', {
      hint: 'kirsa issuer status shows the stages; promote a staged key first',
    });
  }
  for (const key of previous) {
    const stopped = Date.parse(key.stoppedSigningAt ?? '');
    const safeAt = stopped + maxTokenLifetimeSeconds * 1000;
    if (!Number.isFinite(stopped) || safeAt > now.getTime()) {
      const when = Number.isFinite(safeAt) ? new Date(safeAt).toISOString() : 'an unknown time';
      throw new KirsaError(
        'CHECK_FAILED',
        `key generation ${key.generation} stopped signing at ${key.stoppedSigningAt ?? '(unknown)'}; tokens it signed may be valid until ${when}`,
        {
          hint: `retry after ${when}, or pass --max-token-lifetime SECONDS if your cluster's tokens live shorter than ${maxTokenLifetimeSeconds} s`,
        },
      );
    }
  }
  const at = now.toISOString();
  return {
    ...state,
    keys: state.keys.map((key) =>
      key.stage === 'previous' ? { ...key, stage: 'retired', retiredAt: at } : key,
    ),
  };
}

// --- kube-apiserver configuration ------------------------------------------------------------------------

export const DISTRIBUTIONS = ['kops', 'kubeadm', 'k3s', 'rke2', 'talos', 'flags'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

export interface ApiserverSettings {
  issuer: string;
  /** Issuers still accepted but no longer signing (migration from an old issuer, Kubernetes >= 1.22). */
  previousIssuers: string[];
  /** The API server's own audiences (--api-audiences); default: the issuers. */
  apiAudiences: string[];
  /** Public key files, one per published key, signer first. */
  publicKeyFiles: string[];
  signingKeyFile: string;
}

/** The flags, one per element, repeated flags repeated (kube-apiserver accepts repeats for these two). */
export function apiserverFlags(settings: ApiserverSettings): string[] {
  return [
    `--service-account-issuer=${settings.issuer}`,
    ...settings.previousIssuers.map((issuer) => `--service-account-issuer=${issuer}`),
    ...settings.publicKeyFiles.map((file) => `--service-account-key-file=${file}`),
    `--service-account-signing-key-file=${settings.signingKeyFile}`,
    `--api-audiences=${settings.apiAudiences.join(',')}`,
  ];
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
}

export interface ApiserverConfig {
  /** The snippet, in the format the distribution reads. */
  text: string;
  /** What to do with it and what the distribution does to repeated flags, one sentence each. */
  notes: string[];
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
      const flags = apiserverFlags(
        settingsFor(
          input,
          keys.publicKeys.map((key) => at(keyDir, key.fileName)),
        ),
      );
      return { text: `${flags.join('\n')}\n`, notes: [] };
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
        ],
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
          ...(input.previousIssuers.length > 0
            ? [
                `previous issuers (${input.previousIssuers.join(', ')}) cannot be kept: only one service-account-issuer value survives.`,
              ]
            : []),
        ],
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
      };
    }
  }
}

export function defaultNodeKeyDir(distribution: Exclude<Distribution, 'flags'>): string {
  return NODE_KEY_DIR[distribution];
}

// --- Checks as STS makes them -------------------------------------------------------------------------------

export interface Check {
  status: 'pass' | 'fail' | 'warn';
  message: string;
}

const pass = (message: string): Check => ({ status: 'pass', message });
const fail = (message: string): Check => ({ status: 'fail', message });
const warn = (message: string): Check => ({ status: 'warn', message });

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Content-Type STS and browsers read as JSON (parameters such as charset allowed). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType ?? '');
}

/** The discovery document against the issuer the token will carry; returns jwks_uri when usable. */
export function checkDiscoveryDocument(
  issuer: string,
  document: unknown,
): { checks: Check[]; jwksUri?: string } {
  if (!isObject(document)) return { checks: [fail('the discovery document is not a JSON object')] };
  const checks: Check[] = [];
  if (document.issuer === issuer) checks.push(pass(`issuer is exactly ${issuer}`));
  else
    checks.push(
      fail(
        `issuer is ${JSON.stringify(document.issuer)}, not ${issuer}: STS needs them equal, character for character`,
      ),
    );
  const jwksUri = document.jwks_uri;
  if (typeof jwksUri !== 'string') {
    checks.push(fail('jwks_uri is missing'));
    return { checks };
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(jwksUri);
  } catch {
    checks.push(fail(`jwks_uri ${jwksUri} is not an absolute URL`));
    return { checks };
  }
  if (parsed.protocol !== 'https:') {
    checks.push(fail(`jwks_uri ${jwksUri} is not https; STS fetches keys over HTTPS only`));
    return { checks };
  }
  checks.push(pass(`jwks_uri is https: ${jwksUri}`));
  const algs = document.id_token_signing_alg_values_supported;
  if (Array.isArray(algs) && !algs.some((alg) => /^(RS|ES)(256|384|512)$/.test(String(alg))))
    checks.push(
      warn(`id_token_signing_alg_values_supported ${JSON.stringify(algs)} names no algorithm STS accepts`),
    );
  return { checks, jwksUri };
}

function jwkProblem(key: unknown, index: number, count: number): Check | undefined {
  const name =
    isObject(key) && typeof key.kid === 'string' ? `key ${JSON.stringify(key.kid)}` : `key #${index + 1}`;
  if (!isObject(key)) return fail(`${name} is not an object`);
  if (key.kty !== 'RSA' && key.kty !== 'EC')
    return fail(`${name} has kty ${JSON.stringify(key.kty)}; STS takes RSA (or EC) keys`);
  if (key.kty === 'RSA' && (typeof key.n !== 'string' || typeof key.e !== 'string'))
    return fail(`${name} lacks n or e`);
  if ('key_ops' in key) return fail(`${name} has key_ops, which STS refuses`);
  if (typeof key.kid !== 'string' && count > 1)
    return fail(`${name} has no kid; STS needs one when the JWKS holds several keys`);
  if (key.use !== undefined && key.use !== 'sig') return fail(`${name} has use ${String(key.use)}, not sig`);
  if (key.kty === 'EC') return warn(`${name} is an EC key; older STS regions accept only RSA`);
  return undefined;
}

/** The JWKS as STS reads it: 1-100 RSA keys, each with kid (unless alone), no key_ops. */
export function checkJwks(jwks: unknown): Check[] {
  if (!isObject(jwks) || !Array.isArray(jwks.keys))
    return [fail('the JWKS is not a JSON object with a keys array')];
  const keys = jwks.keys as unknown[];
  const checks: Check[] = [];
  if (keys.length === 0) return [fail('the JWKS has no keys')];
  const rsa = keys.filter((key) => isObject(key) && key.kty === 'RSA');
  if (rsa.length > MAX_JWKS_RSA_KEYS)
    checks.push(fail(`the JWKS has ${rsa.length} RSA keys; STS accepts at most ${MAX_JWKS_RSA_KEYS}`));
  keys.forEach((key, index) => {
    const problem = jwkProblem(key, index, keys.length);
    if (problem) checks.push(problem);
  });
  if (!checks.some((check) => check.status === 'fail'))
    checks.push(
      pass(
        `the JWKS holds ${keys.length} usable key(s): ${keys.map((key) => (key as RsaJwk).kid).join(', ')}`,
      ),
    );
  return checks;
}

export interface TokenParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** Splits a compact JWS without verifying it, for the claim checks and messages. */
export function decodeToken(token: string): TokenParts {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new KirsaError('INPUT_INVALID', 'the token is not a compact JWT (three dot-separated parts)');
  try {
    const [header, payload] = parts
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    if (!isObject(header) || !isObject(payload)) throw new Error('not objects');
    return { header, payload };
  } catch (error) {
    throw new KirsaError('INPUT_INVALID', 'the token header or payload is not base64url JSON', {
      cause: error,
    });
  }
}

export interface TokenCheckInput extends TokenParts {
  issuer: string;
  /** Audiences the IAM provider lists; empty means "any audience, but one must be present". */
  audiences: readonly string[];
  jwksKids: readonly string[];
  nowSeconds: number;
  skewSeconds: number;
}

/** The claims STS checks on AssumeRoleWithWebIdentity (signature is checked by the caller). */
export function checkTokenClaims(input: TokenCheckInput): Check[] {
  const { header, payload, nowSeconds, skewSeconds } = input;
  const checks: Check[] = [];
  if (typeof header.alg !== 'string' || !/^(RS|ES)(256|384|512)$/.test(header.alg))
    checks.push(
      fail(`alg ${JSON.stringify(header.alg)} is not one STS accepts (RS256/384/512, ES256/384/512)`),
    );
  if (typeof header.kid === 'string') {
    if (input.jwksKids.includes(header.kid)) checks.push(pass(`kid ${header.kid} is in the JWKS`));
    else
      checks.push(
        fail(
          `kid ${header.kid} is not in the published JWKS (publish the JWKS after rotating, before promoting)`,
        ),
      );
  } else if (input.jwksKids.length > 1)
    checks.push(fail('the token has no kid and the JWKS holds several keys'));
  if (payload.iss === input.issuer) checks.push(pass(`iss is ${input.issuer}`));
  else checks.push(fail(`iss is ${JSON.stringify(payload.iss)}, not ${input.issuer}`));
  const audiences =
    typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (audiences.length === 0) checks.push(fail('aud is missing ("Missing a required claim: aud")'));
  else if (input.audiences.length > 0 && !audiences.some((audience) => input.audiences.includes(audience)))
    checks.push(
      fail(
        `aud ${JSON.stringify(payload.aud)} is not among ${input.audiences.join(', ')} ("Incorrect token audience")`,
      ),
    );
  else checks.push(pass(`aud is ${audiences.join(', ')}`));
  if (audiences.length > 1 && typeof payload.azp !== 'string')
    checks.push(fail('the token has several audiences and no azp; STS then needs azp'));
  if (typeof payload.exp !== 'number') checks.push(fail('exp is missing'));
  else if (payload.exp + skewSeconds < nowSeconds)
    checks.push(
      fail(`the token expired at ${new Date(payload.exp * 1000).toISOString()} (ExpiredTokenException)`),
    );
  else checks.push(pass(`exp is ${new Date(payload.exp * 1000).toISOString()}`));
  if (typeof payload.iat !== 'number') checks.push(fail('iat is missing; STS requires it'));
  if (typeof payload.nbf === 'number' && payload.nbf - skewSeconds > nowSeconds)
    checks.push(fail(`the token is not valid before ${new Date(payload.nbf * 1000).toISOString()}`));
  if (typeof payload.sub !== 'string') checks.push(fail('sub is missing'));
  return checks;
}
