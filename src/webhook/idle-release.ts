// Memory back to the system once a burst of admissions is over. Under load V8 promotes request garbage, grows
// its old space and, after each mark-compact, keeps the freed pages in a pool for reuse; its memory reducer,
// which would give them back, judged the webhook busy for as long as it was measured (`--trace-memory-reducer`:
// "high alloc" every 8 s, 20 s after the last admission). So an idle webhook kept what its busiest minute
// needed: 75 MB of RSS at start, 104-133 MB 20 s after 20 s of 1,000 admissions/s with 20 KB pods.
//
// When the webhook has answered no admission for a while and its RSS has grown since the last release, one
// memory-reducing collection runs; and once after start-up, at the first quiet look after every source has
// synced, whatever the growth: the start's garbage (module loading, the kubeconfig, the first list) grew
// the young generation and filled old-space pages that an idle webhook would keep for its whole life (RSS
// 20 s after the first right answer, one account, as the image runs it: 77.1-77.5 MB without, 72.1-72.9 MB
// with; docs/webhook.md). The collection is V8's last-resort flavour (the one a low-memory notification runs), which
// also empties the page pool and shrinks the young generation. It takes 20-45 ms of CPU at this heap size
// and blocks the event loop while it runs, so it runs only after a quiet spell, and at most once per growth:
// a webhook that stays at its size is never collected again. What it cannot return is glibc's: freed
// malloc memory the allocator keeps in its arenas, which the image keeps small by giving blocks of 32 KB and
// more their own mappings (docs/webhook.md, "Memory after load: glibc's arenas").
//
// The collection itself is io/last-resort-gc.ts: only where node runs with --expose-gc (the container image does).

/** What the idle release reads and calls: injected, so a test drives it with its own clock and numbers. */
export interface IdleReleaseOptions {
  /** Admissions answered so far (a counter that only grows). */
  admissions: () => number;
  /** The process's resident memory in bytes. */
  residentBytes: () => number;
  /** Runs the memory-reducing collection. */
  collect: () => void;
  /** Called after each release with RSS before and after, and what brought it, for the log. */
  onRelease?: (before: number, after: number, cause: 'start' | 'growth') => void;
  /** RSS growth since the last release (or the start) that makes a release worth its pause. */
  growthBytes: number;
  /**
   * Whether start-up is over (every source synced): the first quiet look after it releases once, whatever
   * the growth. Absent: start-up counts as over from the first look.
   */
  started?: () => boolean;
}

export interface IdleRelease {
  /**
   * One look, every `quietMs` (the webhook's unref'd timer): releases when no admission came since the previous
   * look and RSS grew by `growthBytes` since the last release. Returns true when it released.
   */
  check(): boolean;
}

export function createIdleRelease(options: IdleReleaseOptions): IdleRelease {
  let seen = options.admissions();
  let baseline = options.residentBytes();
  let startReleased = false;
  return {
    check() {
      // An admission since the last look: not quiet yet.
      const admissions = options.admissions();
      if (admissions !== seen) {
        seen = admissions;
        return false;
      }
      const before = options.residentBytes();
      const startOver = !startReleased && (options.started?.() ?? true);
      if (startOver) startReleased = true;
      else if (before < baseline + options.growthBytes) {
        // Below the last release's size (the OS took pages back, or a lighter load since): the new baseline.
        baseline = Math.min(baseline, before);
        return false;
      }
      options.collect();
      baseline = options.residentBytes();
      options.onRelease?.(before, baseline, startOver ? 'start' : 'growth');
      return true;
    },
  };
}
