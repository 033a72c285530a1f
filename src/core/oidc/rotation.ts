// Key rotation as a state machine: staged (published, not signing) -> active (signs; exactly one) ->
// previous (stopped signing, still published) -> retired (gone from the JWKS). Pure: the clock comes in as
// an argument; src/issuer/store.ts keeps the state on disk.

import { KirsaError } from '../../errors.ts';

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
  /**
   * Who holds the signing key. Absent (kirsa): the folder's own keys, rotated by kirsa. 'cluster' (issuer init
   * --from-cluster): the API server keeps its private key; the folder holds the JWKS it served and no key
   * records (`keys` is empty), so nothing here can stage, promote or retire a key.
   */
  keySource?: 'cluster';
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
    throw new KirsaError('ISSUER_STATE_INVALID', `${source} is not JSON`, {
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
    (state.keySource === 'cluster'
      ? state.keys.length === 0
      : state.keySource === undefined && state.keys.filter((key) => key.stage === 'active').length === 1);
  if (!valid) {
    throw new KirsaError(
      'ISSUER_STATE_INVALID',
      `${source} is not a kirsa issuer state (version 1, one active key, or no key when the cluster holds it)`,
      {
        hint: 'point --dir at a folder made by kirsa issuer init',
      },
    );
  }
  return { ...state, legacyEmptyKid: state.legacyEmptyKid === true };
}

/** The state of an issuer whose key the cluster holds: its URL and JWKS path, no key of kirsa's. */
export function clusterOwnedState(options: { issuer: string; jwksPath: string }): IssuerState {
  return {
    version: 1,
    issuer: options.issuer,
    jwksPath: options.jwksPath,
    legacyEmptyKid: false,
    keySource: 'cluster',
    keys: [],
  };
}

/**
 * Refuses a key operation on a folder whose signing key the cluster holds: kirsa has no private key there to
 * rotate or hand to kube-apiserver, and a key it made would sign nothing (the API server signs with its own).
 */
export function checkKirsaOwnsKeys(
  state: IssuerState,
  what: string,
  hint = 'rotate the key on the cluster (its --service-account-signing-key-file, keeping the old public key in --service-account-key-file), then run kirsa issuer publish --from-cluster to publish its new JWKS',
): void {
  if (state.keySource !== 'cluster') return;
  throw new KirsaError(
    'ISSUER_KEYS_CLUSTER_OWNED',
    `${what}: the cluster holds the signing key of ${state.issuer} (this folder was made by issuer init --from-cluster and has no private key)`,
    { hint },
  );
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
  checkKirsaOwnsKeys(state, 'issuer rotate');
  const staged = state.keys.find((key) => key.stage === 'staged');
  if (staged) {
    throw new KirsaError('KEY_ALREADY_STAGED', `key generation ${staged.generation} is already staged`, {
      hint: 'publish it, wait until every API server and cache has the new JWKS, then run kirsa issuer rotate --promote',
    });
  }
  if (state.keys.some((key) => key.kid === kid)) {
    throw new KirsaError('KEY_ALREADY_PRESENT', `key ${kid} is already in this issuer`, {
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
  checkKirsaOwnsKeys(state, 'issuer rotate --promote');
  if (!state.keys.some((key) => key.stage === 'staged')) {
    throw new KirsaError('NO_STAGED_KEY', 'no staged key to promote', {
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
 * When a key that stopped signing may leave the JWKS: a key that stopped signing at T signed tokens valid
 * until T + the longest token lifetime. Undefined when the stop time is not recorded (never retirable).
 */
export function retirableAt(key: KeyRecord, maxTokenLifetimeSeconds: number): Date | undefined {
  const stopped = Date.parse(key.stoppedSigningAt ?? '');
  return Number.isFinite(stopped) ? new Date(stopped + maxTokenLifetimeSeconds * 1000) : undefined;
}

export function isRetirable(key: KeyRecord, now: Date, maxTokenLifetimeSeconds: number): boolean {
  const at = retirableAt(key, maxTokenLifetimeSeconds);
  return at !== undefined && at.getTime() <= now.getTime();
}

/**
 * Drops every previous key from the JWKS, refusing while a token one of them signed may still be valid:
 * a key that stopped signing at T signed tokens valid until T + the longest token lifetime.
 */
export function retirePrevious(state: IssuerState, now: Date, maxTokenLifetimeSeconds: number): IssuerState {
  checkKirsaOwnsKeys(state, 'issuer rotate --retire');
  const previous = state.keys.filter((key) => key.stage === 'previous');
  if (previous.length === 0) {
    throw new KirsaError('NO_PREVIOUS_KEY', 'no previous key to retire', {
      hint: 'kirsa issuer status shows the stages; promote a staged key first',
    });
  }
  for (const key of previous) {
    if (!isRetirable(key, now, maxTokenLifetimeSeconds)) {
      const when = retirableAt(key, maxTokenLifetimeSeconds)?.toISOString() ?? 'an unknown time';
      throw new KirsaError(
        'RETIRE_TOO_EARLY',
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
