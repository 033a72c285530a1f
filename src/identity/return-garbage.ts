// After a large read (a mapping file of megabytes, a list of tens of thousands of objects), V8 keeps the
// pages that the read's garbage filled: with the image's 1 MB young generation most of it outlived a
// scavenge, and an idle webhook may not run a full GC for a long time (a 4 MB mapping file left about 10 MB). The container image runs node with
// --expose-gc so that one memory-reducing collection can run right away; elsewhere gc is not exposed and this
// does nothing. Measured with 50,001 ServiceAccounts listed: V8's heap (committed) 28.5 MB -> 21.2 MB and
// the process's RSS 96.7 MB -> 87.0 MB 20 s later, for about 30 ms of CPU; a plain gc() frees the objects but
// keeps the pages (heap still 38 MB).

import { lastResortCollection } from '../io/last-resort-gc.ts';

/** From this size on, a mapping's text is followed by a collection (mapping-text.ts). */
export const LARGE_READ_BYTES = 1024 * 1024;

export function returnGarbageSoon(): void {
  const collect = lastResortCollection();
  if (collect === undefined) return;
  // Soon, not now: what was read is garbage only once the caller that read it has returned.
  setTimeout(collect, 200).unref();
}
