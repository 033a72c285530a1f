// Helpers shared by the tiers that compare Kubernetes objects. The patches are applied with fast-json-patch,
// an RFC 6902 implementation independent of kirsa's own patch building.

import jsonPatch from 'fast-json-patch';

/** Applies RFC 6902 operations to a deep copy, validating each one; throws if any does not apply. */
export function applyJsonPatch<T>(document: T, operations: readonly unknown[]): T {
  const copy = structuredClone(document);
  return jsonPatch.applyPatch(copy, structuredClone(operations) as jsonPatch.Operation[], true, true)
    .newDocument;
}

/** Drops nulls and empty objects recursively: the Go serialisation artefacts the reference leaves behind. */
export function dropEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropEmpty);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const cleaned = dropEmpty(child);
      if (cleaned === null || cleaned === undefined) continue;
      if (typeof cleaned === 'object' && !Array.isArray(cleaned) && Object.keys(cleaned).length === 0)
        continue;
      out[key] = cleaned;
    }
    return out;
  }
  return value;
}

export interface Difference {
  path: string;
  ours: unknown;
  theirs: unknown;
}

/** Lists every JSON Pointer where the two documents differ (objects by key, arrays by index). */
export function diffDocuments(ours: unknown, theirs: unknown, path = ''): Difference[] {
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    const out: Difference[] = [];
    for (let index = 0; index < Math.max(ours.length, theirs.length); index += 1) {
      out.push(...diffDocuments(ours[index], theirs[index], `${path}/${index}`));
    }
    return out;
  }
  const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
  if (isObject(ours) && isObject(theirs)) {
    const a = ours as Record<string, unknown>;
    const b = theirs as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((key) =>
      diffDocuments(a[key], b[key], `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`),
    );
  }
  return JSON.stringify(ours) === JSON.stringify(theirs) ? [] : [{ path, ours, theirs }];
}

/** Reads the value at a JSON Pointer, or undefined. */
export function valueAt(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const raw of path.split('/').slice(1)) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}
