// How `issuer status` describes an issuer folder's keys: newest generation first, each with its stage and the
// time that stage began, and for a key that stopped signing, whether (or from when) it may be retired. Pure:
// the clock and the longest token lifetime come in as arguments; the retirement rule itself is rotation.ts's.

import { isRetirable, type KeyRecord, retirableAt } from './rotation.ts';

/** The keys, newest generation first (the order status lists them in). */
export function keysNewestFirst(keys: readonly KeyRecord[]): KeyRecord[] {
  return [...keys].sort((a, b) => b.generation - a.generation);
}

/** One row of the key table: generation, stage, kid, and when that stage began. */
export function describeKey(key: KeyRecord): string {
  const when =
    key.stage === 'previous'
      ? `stopped signing ${key.stoppedSigningAt}`
      : key.stage === 'retired'
        ? `retired ${key.retiredAt}`
        : key.stage === 'active'
          ? `signing since ${key.activatedAt}`
          : `staged ${key.createdAt}`;
  return `${String(key.generation).padStart(3)}  ${key.stage.padEnd(8)}  ${key.kid}  ${when}`;
}

/** For a key that stopped signing: may it be retired now, and if not, from when. */
export function retirementLine(key: KeyRecord, now: Date, maxTokenLifetimeSeconds: number): string {
  return isRetirable(key, now, maxTokenLifetimeSeconds)
    ? `generation ${key.generation} can be retired now`
    : `generation ${key.generation} can be retired after ${retirableAt(key, maxTokenLifetimeSeconds)?.toISOString() ?? 'an unknown time (no stop-signing time recorded)'}`;
}

/** The keys as `issuer status -o json` lists them: a previous key also says whether and when it may retire. */
export function keyStatuses(
  keys: readonly KeyRecord[],
  now: Date,
  maxTokenLifetimeSeconds: number,
): Array<KeyRecord & { retirable?: boolean; retirableAt?: string | null }> {
  return keysNewestFirst(keys).map((key) => ({
    ...key,
    ...(key.stage === 'previous'
      ? {
          retirable: isRetirable(key, now, maxTokenLifetimeSeconds),
          retirableAt: retirableAt(key, maxTokenLifetimeSeconds)?.toISOString() ?? null,
        }
      : {}),
  }));
}
