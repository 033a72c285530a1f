// RFC 6902 operations, built directly from a decision. kirsa only ever emits `add`: it never removes or
// replaces what the user wrote, which is what keeps unknown fields safe and a second pass empty.

export interface AddOperation {
  op: 'add';
  path: string;
  value: unknown;
}

export type PatchOperation = AddOperation;

/** Escapes one reference token of a JSON Pointer (RFC 6901): `~` first, then `/`. */
export function escapePointerToken(token: string | number): string {
  if (typeof token === 'number') return String(token);
  // Nearly every token (field names, indexes) needs no escaping; this runs for every patch path.
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Builds a JSON Pointer from unescaped tokens: pointer('metadata', 'labels', 'a/b') = /metadata/labels/a~1b. */
export function pointer(...tokens: Array<string | number>): string {
  let path = '';
  for (let i = 0; i < tokens.length; i++) path += `/${escapePointerToken(tokens[i]!)}`;
  return path;
}

/** Joins a pointer prefix (for a pod template inside a workload) with a pointer inside the pod. */
export function prefixPatch(prefix: string, operations: readonly PatchOperation[]): PatchOperation[] {
  return prefix === ''
    ? [...operations]
    : operations.map((operation) => ({ ...operation, path: prefix + operation.path }));
}

export function add(path: string, value: unknown): AddOperation {
  return { op: 'add', path, value };
}

/**
 * Applies add operations (the only kind kirsa emits) to a deep copy. RFC 6902 `add`: an array index inserts,
 * `-` appends, an object member is set. Throws when a parent is missing, as the API server would.
 */
export function applyAddOperations<T>(document: T, operations: readonly PatchOperation[]): T {
  const root = structuredClone(document) as unknown;
  for (const operation of operations) {
    const tokens = operation.path
      .split('/')
      .slice(1)
      .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error('kirsa never replaces a whole document');
    let parent = root as Record<string, unknown> | unknown[];
    for (const token of tokens) {
      const next = (parent as Record<string, unknown>)[token];
      if (next === null || typeof next !== 'object')
        throw new Error(`patch path ${operation.path} has no parent`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const value = structuredClone(operation.value);
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else parent[last] = value;
  }
  return root as T;
}
