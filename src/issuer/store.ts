// The issuer folder on disk: the signing key, the published documents and the rotation state. Every
// change is computed by the pure core (src/core/oidc/) and written with the atomic helpers, state last,
// so an interrupted command leaves the folder as it was.
//
//   sa-signer.key  sa-signer.pub    the signing key (0600) and its SPKI public key
//   discovery.json keys.json        the two documents to publish
//   sa-published.pub                every published public key in one PEM file (multi-key file)
//   keys/state.json                 stages of every key generation
//   keys/sa-signer-<n>.key .pub     each generation's key pair (the private half removed on retire)

import { generateKeyPair } from 'node:crypto';
import { access, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SIGNING_KEY_BITS } from '../consts.ts';
import type { IssuerKeyMaterial } from '../core/apiserver-config.ts';
import { buildDiscoveryDocument, buildJwks, formatJson } from '../core/oidc/documents.ts';
import { jwksUriFor } from '../core/oidc/issuer-url.ts';
import { parseKeysPem, spkiPem } from '../core/oidc/keys.ts';
import {
  activeKey,
  checkKirsaOwnsKeys,
  clusterOwnedState,
  type IssuerState,
  initialState,
  type KeyRecord,
  parseIssuerState,
  promoteStaged,
  publishedKeys,
  retirePrevious,
  stageKey,
} from '../core/oidc/rotation.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { createFolderAtomically, type FileToWrite, replaceFilesAtomically } from './files.ts';

export const ISSUER_FILES = {
  signingKey: 'sa-signer.key',
  signingPublicKey: 'sa-signer.pub',
  discovery: 'discovery.json',
  jwks: 'keys.json',
  bundle: 'sa-published.pub',
  state: 'keys/state.json',
} as const;

export function generationKeyFile(generation: number): string {
  return `keys/sa-signer-${generation}.key`;
}

export function generationPublicKeyFile(generation: number): string {
  return `keys/sa-signer-${generation}.pub`;
}

const PRIVATE = 0o600;
const PUBLIC = 0o644;

export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  kid: string;
}

export async function generateSigningKey(): Promise<SigningKeyPair> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: SIGNING_KEY_BITS });
  return signingKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'generated key');
}

/** An existing private key (PEM) as a signing key pair, checked by the core (RSA, >= 2048 bits). */
export function signingKeyFromPem(text: string, source: string): SigningKeyPair {
  const keys = parseKeysPem(text, source);
  const [key] = keys;
  if (keys.length !== 1 || !key?.privateKey) {
    throw new KirsaError('KEY_INVALID', `${source}: expected exactly one private key`, {
      hint: 'give the PEM private key kube-apiserver will sign with (e.g. /etc/kubernetes/pki/sa.key)',
    });
  }
  return {
    privateKeyPem: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: spkiPem(key.publicKey),
    kid: key.kid,
  };
}

/** The documents and the multi-key file for a state, given each published generation's public PEM. */
function documentFiles(state: IssuerState, publicPems: ReadonlyMap<number, string>): FileToWrite[] {
  const published = publishedKeys(state);
  const pems = published.map((key) => publicPems.get(key.generation)!);
  const publicKeys = pems.flatMap((pem) => parseKeysPem(pem, 'public key').map((key) => key.publicKey));
  const jwks = buildJwks(publicKeys, { legacyEmptyKid: state.legacyEmptyKid });
  const discovery = buildDiscoveryDocument(state.issuer, jwksUriFor(state.issuer, state.jwksPath));
  return [
    { path: ISSUER_FILES.jwks, content: formatJson(jwks), mode: PUBLIC },
    { path: ISSUER_FILES.discovery, content: formatJson(discovery), mode: PUBLIC },
    { path: ISSUER_FILES.bundle, content: pems.join(''), mode: PUBLIC },
  ];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export interface InitOptions {
  dir: string;
  issuer: string;
  jwksPath: string;
  legacyEmptyKid: boolean;
  key: SigningKeyPair;
  now: Date;
}

/** Refuses a folder that already holds an issuer, or anything else, before any key is generated. */
export async function checkInitTarget(dir: string): Promise<void> {
  if ((await exists(join(dir, ISSUER_FILES.signingKey))) || (await exists(join(dir, ISSUER_FILES.state)))) {
    // A folder made by init --from-cluster has no key to rotate: the cluster's new keys reach it by
    // publish --from-cluster, so that is the way to point the user at.
    const clusterOwned = await readFile(join(dir, ISSUER_FILES.state), 'utf8')
      .then((text) => (JSON.parse(text) as { keySource?: string }).keySource === 'cluster')
      .catch(() => false);
    throw new KirsaError('ISSUER_EXISTS', `${dir} already holds an issuer; refusing to overwrite it`, {
      hint: clusterOwned
        ? `the cluster holds its key: after the cluster's key changes, run kirsa issuer publish --from-cluster; or choose another --dir`
        : `to replace the key without breaking tokens, run kirsa issuer rotate --dir ${dir}`,
    });
  }
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') {
      throw new KirsaError('DIR_NOT_EMPTY', `${dir} is a file, not a folder`, {
        hint: 'choose another --dir',
      });
    }
    throw new KirsaError('FILE_UNREADABLE', `cannot read ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (entries.length > 0) {
    throw new KirsaError('DIR_NOT_EMPTY', `${dir} is not empty`, {
      hint: 'give --dir a new or empty folder',
    });
  }
}

export async function initIssuer(options: InitOptions): Promise<IssuerState> {
  await checkInitTarget(options.dir);
  const state = initialState(
    {
      issuer: options.issuer,
      jwksPath: options.jwksPath,
      legacyEmptyKid: options.legacyEmptyKid,
      kid: options.key.kid,
    },
    options.now,
  );
  const { privateKeyPem, publicKeyPem } = options.key;
  await createFolderAtomically(options.dir, [
    { path: ISSUER_FILES.signingKey, content: privateKeyPem, mode: PRIVATE },
    { path: ISSUER_FILES.signingPublicKey, content: publicKeyPem, mode: PUBLIC },
    { path: generationKeyFile(1), content: privateKeyPem, mode: PRIVATE },
    { path: generationPublicKeyFile(1), content: publicKeyPem, mode: PUBLIC },
    ...documentFiles(state, new Map([[1, publicKeyPem]])),
    { path: ISSUER_FILES.state, content: formatJson(state), mode: PUBLIC },
  ]);
  return state;
}

/**
 * An issuer folder for a cluster that signs with its own key (issuer init --from-cluster): the two documents
 * as the cluster's API served them and a state saying the cluster holds the key. No private key, no key
 * files: kirsa never sees the cluster's private half.
 */
export async function initClusterIssuer(options: {
  dir: string;
  issuer: string;
  jwksPath: string;
  discovery: string;
  jwks: string;
}): Promise<IssuerState> {
  await checkInitTarget(options.dir);
  const state = clusterOwnedState(options);
  await createFolderAtomically(options.dir, [
    { path: ISSUER_FILES.jwks, content: options.jwks, mode: PUBLIC },
    { path: ISSUER_FILES.discovery, content: options.discovery, mode: PUBLIC },
    { path: ISSUER_FILES.state, content: formatJson(state), mode: PUBLIC },
  ]);
  return state;
}

export interface LoadedIssuer {
  dir: string;
  state: IssuerState;
  /** Public PEM of every published generation. */
  publicPems: Map<number, string>;
}

export async function loadIssuer(dir: string): Promise<LoadedIssuer> {
  const statePath = join(dir, ISSUER_FILES.state);
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KirsaError(
        'ISSUER_DIR_INVALID',
        `${dir} holds no kirsa issuer (${ISSUER_FILES.state} is missing)`,
        {
          hint: 'run kirsa issuer init --issuer-url https://... --dir DIR first, or point --dir at its folder',
        },
      );
    }
    throw new KirsaError('FILE_UNREADABLE', `cannot read ${statePath}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const state = parseIssuerState(text, statePath);
  const publicPems = new Map<number, string>();
  for (const key of publishedKeys(state)) {
    const path = join(dir, generationPublicKeyFile(key.generation));
    const pem = await readInputText(path);
    const [parsed] = parseKeysPem(pem, path);
    if (parsed?.kid !== key.kid) {
      throw new KirsaError(
        'ISSUER_STATE_INVALID',
        `${path} does not hold key ${key.kid} recorded in the state`,
        {
          hint: 'restore the key files from a backup; kirsa never rewrites them',
        },
      );
    }
    publicPems.set(key.generation, pem);
  }
  return { dir, state, publicPems };
}

/** Stages a new key: it is published (JWKS, multi-key file) but does not sign yet. */
export async function stageNewKey(issuer: LoadedIssuer, key: SigningKeyPair, now: Date): Promise<KeyRecord> {
  const state = stageKey(issuer.state, key.kid, now);
  const staged = state.keys.find((record) => record.stage === 'staged')!;
  const publicPems = new Map(issuer.publicPems).set(staged.generation, key.publicKeyPem);
  await replaceFilesAtomically(issuer.dir, [
    { path: generationKeyFile(staged.generation), content: key.privateKeyPem, mode: PRIVATE },
    { path: generationPublicKeyFile(staged.generation), content: key.publicKeyPem, mode: PUBLIC },
    ...documentFiles(state, publicPems),
    { path: ISSUER_FILES.state, content: formatJson(state), mode: PUBLIC },
  ]);
  return staged;
}

/** The staged key becomes the signer: sa-signer.key/.pub now hold it. */
export async function promoteKey(issuer: LoadedIssuer, now: Date): Promise<KeyRecord> {
  const state = promoteStaged(issuer.state, now);
  const active = activeKey(state);
  const privateKeyPem = await readInputText(join(issuer.dir, generationKeyFile(active.generation)));
  await replaceFilesAtomically(issuer.dir, [
    { path: ISSUER_FILES.signingKey, content: privateKeyPem, mode: PRIVATE },
    { path: ISSUER_FILES.signingPublicKey, content: issuer.publicPems.get(active.generation)!, mode: PUBLIC },
    ...documentFiles(state, issuer.publicPems),
    { path: ISSUER_FILES.state, content: formatJson(state), mode: PUBLIC },
  ]);
  return active;
}

/** Drops previous keys from the JWKS once no token they signed can be valid, and deletes their private half. */
export async function retireKeys(
  issuer: LoadedIssuer,
  now: Date,
  maxTokenLifetimeSeconds: number,
): Promise<KeyRecord[]> {
  const state = retirePrevious(issuer.state, now, maxTokenLifetimeSeconds);
  const retired = state.keys.filter(
    (key) =>
      key.stage === 'retired' &&
      issuer.state.keys.find((old) => old.generation === key.generation)?.stage !== 'retired',
  );
  await replaceFilesAtomically(issuer.dir, [
    ...documentFiles(state, issuer.publicPems),
    { path: ISSUER_FILES.state, content: formatJson(state), mode: PUBLIC },
  ]);
  for (const key of retired) await rm(join(issuer.dir, generationKeyFile(key.generation)), { force: true });
  return retired;
}

/** What apiserver-config needs: the published public keys, the multi-key file and the signing key. */
export async function issuerKeyMaterial(issuer: LoadedIssuer): Promise<IssuerKeyMaterial> {
  checkKirsaOwnsKeys(
    issuer.state,
    'apiserver-config',
    "the cluster's key flags stay as they are: --service-account-issuer must already be the issuer URL (init --from-cluster checked it)",
  );
  return {
    publicKeys: publishedKeys(issuer.state).map((key) => ({
      fileName: generationPublicKeyFile(key.generation),
      pem: issuer.publicPems.get(key.generation)!,
    })),
    bundleFileName: ISSUER_FILES.bundle,
    bundlePem: await readInputText(join(issuer.dir, ISSUER_FILES.bundle)),
    signingKeyFileName: ISSUER_FILES.signingKey,
    signingKeyPem: await readInputText(join(issuer.dir, ISSUER_FILES.signingKey)),
  };
}

export function absoluteDir(dir: string): string {
  return resolve(dir);
}
