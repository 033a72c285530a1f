// The miss path: a pod names a ServiceAccount the watch has not delivered yet, typically because both were
// created by the same apply (the reference's #174). Within the grace period it waits for whichever comes
// first, the watch delivering the account or one direct GET of it, and then answers. Concurrent misses for
// one account share a single lookup; GETs are rate-limited (a token bucket) and aborted at the grace
// deadline; an account the API server says does not exist is remembered briefly so a burst of pods does not
// turn into a burst of GETs. Without a token the miss still waits for the watch, just without a GET.

import { loggableError, loggableIdentifier } from '../core/admission/loggable.ts';
import type { ServiceAccountView } from '../core/identity/identity.ts';
import type { LookupResult } from '../core/identity/source.ts';
import type { Logger } from '../io/log.ts';
import type { ServiceAccountCache, ServiceAccountFetcher } from './service-accounts.ts';

export interface MissLookupOptions {
  cache: ServiceAccountCache;
  fetch: ServiceAccountFetcher;
  graceMs: number;
  ratePerSecond: number;
  burst: number;
  negativeCacheMs: number;
  countLookup(result: LookupResult): void;
  logger: Logger;
  /** Milliseconds; injected for tests of the bucket and the negative cache. */
  now?: () => number;
}

export type MissLookup = (namespace: string, name: string) => Promise<ServiceAccountView | undefined>;

export function createMissLookup(options: MissLookupOptions): MissLookup {
  const { cache, graceMs, logger } = options;
  const now = options.now ?? (() => performance.now());
  const inFlight = new Map<string, Promise<ServiceAccountView | undefined>>();
  const absentUntil = new Map<string, number>();
  let tokens = options.burst;
  let refilledAt = now();

  // A stored account (from the watch or a GET) ends any negative answer about it.
  cache.onStored((key) => absentUntil.delete(key));

  function rememberAbsent(key: string) {
    const at = now();
    // Names that are never asked for again would pile up; sweep the expired ones now and then.
    if (absentUntil.size >= 10_000)
      for (const [name, until] of absentUntil) if (until <= at) absentUntil.delete(name);
    absentUntil.set(key, at + options.negativeCacheMs);
  }

  function takeToken(): boolean {
    const at = now();
    tokens = Math.min(options.burst, tokens + ((at - refilledAt) / 1000) * options.ratePerSecond);
    refilledAt = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  async function lookUp(
    namespace: string,
    name: string,
    key: string,
  ): Promise<ServiceAccountView | undefined> {
    const fromWatch = cache.waitFor(namespace, name, graceMs);
    if (!takeToken()) {
      options.countLookup('rate_limited');
      return fromWatch;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), graceMs);
    timer.unref();
    const fromApi = options.fetch(namespace, name, controller.signal).then(
      (object) => {
        if (object === undefined) {
          options.countLookup('not_found');
          rememberAbsent(key);
          return { settled: true as const, view: undefined };
        }
        options.countLookup('found');
        cache.upsert(object); // next pods of this account hit the cache; waiters wake up
        return { settled: true as const, view: cache.get(namespace, name) };
      },
      (error: unknown) => {
        options.countLookup('failed');
        if (!controller.signal.aborted) {
          // The name comes from the pod and the API server's message quotes it: identifiers and codes only.
          logger.warn(
            {
              serviceAccount: `${loggableIdentifier(namespace)}/${loggableIdentifier(name)}`,
              ...loggableError(error),
            },
            'direct service account lookup failed; waiting for the watch',
          );
        }
        return { settled: false as const, view: undefined };
      },
    );
    try {
      const first = await Promise.race([fromWatch.then((view) => ({ settled: true, view })), fromApi]);
      // A failed GET is no answer: the watch may still deliver within the grace period.
      return first.settled ? first.view : await fromWatch;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  return (namespace, name) => {
    const key = `${namespace}/${name}`;
    const until = absentUntil.get(key);
    if (until !== undefined) {
      if (until > now()) {
        options.countLookup('negative_cached');
        return Promise.resolve(undefined);
      }
      absentUntil.delete(key);
    }
    const running = inFlight.get(key);
    if (running) return running;
    const started = lookUp(namespace, name, key).finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
}
