// --read-env-from-config-maps: the ConfigMaps a pod's envFrom names, read on demand and kept in a small cache.
//
// Why GETs and a bounded cache rather than a watch of every ConfigMap: a watch would need list and watch on
// all ConfigMaps of the cluster, stream every one of them (dashboards, CA bundles, configuration files, up
// to 1 MiB each) through the webhook at every start and change, and hold them, to serve the few pods that
// use envFrom. A GET needs only `get`, costs nothing for the pods without envFrom (the hot path never sees
// this module), and the cache makes a Deployment's replicas share one read. The price is staleness: a
// ConfigMap changed to set AWS_REGION can be seen up to CONFIG_MAP_KEYS_TTL_MS late (docs/webhook.md).
//
// Only the keys that could become a region variable are kept (regionKeysOf), never values, so the cache
// costs a few bytes per ConfigMap whatever their size. Concurrent misses of one ConfigMap share one GET; a
// failed read is remembered for a shorter time, so a forbidden or unreachable API server is not asked for
// every pod.

import {
  type ConfigMapKeys,
  type ConfigMapReadResult,
  type ConfigMapSource,
  readResultOf,
  regionKeysOf,
} from '../core/mutation/env-from.ts';

export interface ConfigMapKeysCacheOptions {
  /** GETs one ConfigMap: its parsed JSON, undefined when it does not exist; throws on any other failure. */
  fetch(namespace: string, name: string, signal: AbortSignal): Promise<unknown>;
  /** How long a found or absent ConfigMap is remembered. */
  ttlMs: number;
  /** How long a failed read is remembered. */
  failureTtlMs: number;
  /** Entries kept at most; the least recently used go first. */
  maxEntries: number;
  /** A read not answered in this time counts as unreadable. */
  timeoutMs: number;
  /** Told of each GET's result (not of cache hits), for kirsa_webhook_config_map_reads_total. */
  countRead?: (result: ConfigMapReadResult) => void;
  now?: () => number;
}

export interface ConfigMapKeysCache extends ConfigMapSource {
  readonly size: number;
}

interface Entry {
  keys: ConfigMapKeys;
  until: number;
}

function keysOfObject(object: unknown): ConfigMapKeys {
  const data = (object as { data?: unknown } | null)?.data;
  if (data === undefined || data === null) return { found: true, regionKeys: [] };
  if (typeof data !== 'object' || Array.isArray(data)) return { found: false, why: 'unreadable' };
  return { found: true, regionKeys: regionKeysOf(Object.keys(data)) };
}

export function createConfigMapKeysCache(options: ConfigMapKeysCacheOptions): ConfigMapKeysCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<ConfigMapKeys>>();

  function remember(key: string, keys: ConfigMapKeys) {
    const ttl = !keys.found && keys.why === 'unreadable' ? options.failureTtlMs : options.ttlMs;
    entries.delete(key);
    entries.set(key, { keys, until: now() + ttl });
    for (const oldest of entries.keys()) {
      if (entries.size <= options.maxEntries) break;
      entries.delete(oldest);
    }
  }

  async function read(namespace: string, name: string): Promise<ConfigMapKeys> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    timer.unref();
    try {
      const object = await options.fetch(namespace, name, controller.signal);
      return object === undefined ? { found: false, why: 'absent' } : keysOfObject(object);
    } catch {
      // Why it failed (RBAC, timeout, the API server away) is the same for the pod: unknown, so no region.
      return { found: false, why: 'unreadable' };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    keysOf(namespace, name) {
      const key = `${namespace}/${name}`;
      const entry = entries.get(key);
      if (entry !== undefined && entry.until > now()) {
        // Most recently used last, so eviction takes the coldest.
        entries.delete(key);
        entries.set(key, entry);
        return entry.keys;
      }
      const running = inFlight.get(key);
      if (running !== undefined) return running;
      const started = read(namespace, name).then((keys) => {
        inFlight.delete(key);
        options.countRead?.(readResultOf(keys));
        remember(key, keys);
        return keys;
      });
      inFlight.set(key, started);
      return started;
    },
    get size() {
      return entries.size;
    },
  };
}
