// The keys of an issuer folder: the JWKS of keys given as files (`issuer jwks`), one rotation step
// (`issuer rotate`: stage, promote or retire) and what the folder holds (`issuer status`). The rules are in
// core/oidc/ (rotation, key status); the files are issuer/store.ts's; the CLI prints what is returned.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildJwks, type Jwks, jwksKids } from '../core/oidc/documents.ts';
import { parseKeysPem } from '../core/oidc/keys.ts';
import type { IssuerState, KeyRecord } from '../core/oidc/rotation.ts';
import { readInputText } from '../io/read-input.ts';
import {
  generateSigningKey,
  ISSUER_FILES,
  loadIssuer,
  promoteKey,
  retireKeys,
  signingKeyFromPem,
  stageNewKey,
} from '../issuer/store.ts';

/** The JWKS of every key in the files given (public or private PEM, several keys a file allowed). */
export async function jwksOfKeyFiles(files: readonly string[], legacyEmptyKid: boolean): Promise<Jwks> {
  const keys = [];
  for (const file of files) keys.push(...parseKeysPem(await readInputText(file, 'public key'), file));
  return buildJwks(
    keys.map((key) => key.publicKey),
    { legacyEmptyKid },
  );
}

export interface RotateInput {
  dir: string;
  /** stage: a new key, published but not signing; promote: the staged key signs; retire: drop previous keys. */
  step: 'stage' | 'promote' | 'retire';
  maxTokenLifetime: number;
  /** With stage: a PEM file (or `-`) holding the key to stage; absent: a new one is made. */
  signingKey?: string | undefined;
}

export type RotateResult =
  | { step: 'stage'; staged: KeyRecord }
  | { step: 'promote'; active: KeyRecord }
  | { step: 'retire'; retired: KeyRecord[] };

/** One step of the rotation, the clock read once. */
export async function rotateIssuerKeys(input: RotateInput): Promise<RotateResult> {
  const issuer = await loadIssuer(input.dir);
  const now = new Date();
  if (input.step === 'promote') return { step: 'promote', active: await promoteKey(issuer, now) };
  if (input.step === 'retire')
    return { step: 'retire', retired: await retireKeys(issuer, now, input.maxTokenLifetime) };
  const key = input.signingKey
    ? signingKeyFromPem(await readInputText(input.signingKey, 'signing key'), input.signingKey)
    : await generateSigningKey();
  return { step: 'stage', staged: await stageNewKey(issuer, key, now) };
}

/**
 * The folder's state, and for a folder whose key the cluster holds (it records no key) the key ids of the
 * JWKS the cluster served, which is what it publishes.
 */
export async function readIssuerStatus(
  dir: string,
): Promise<{ state: IssuerState; clusterKids: string[] | undefined }> {
  const { state } = await loadIssuer(dir);
  const clusterKids =
    state.keySource === 'cluster'
      ? jwksKids(await readFile(join(dir, ISSUER_FILES.jwks), 'utf8'), '')
      : undefined;
  return { state, clusterKids };
}
