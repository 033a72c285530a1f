// V8's memory-reducing full collection, the one a low-memory notification runs: it compacts the heap and gives
// empty pages back to the system, which a plain gc() does not. The webhook runs it after a large read
// (identity/return-garbage.ts) and once a burst of admissions is over (webhook/idle-release.ts). `gc` exists
// only when node runs with --expose-gc (the container image does); elsewhere there is nothing to run.

/** The last-resort collection, or undefined when gc is not exposed. */
export function lastResortCollection(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options?: Record<string, string>) => unknown }).gc;
  if (gc === undefined) return undefined;
  return () => {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}
