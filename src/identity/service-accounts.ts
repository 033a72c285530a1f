// The ServiceAccount cache: every account in the cluster, trimmed at ingest to its namespace, name and the
// annotations under the prefix (so 50,000 accounts stay around 10 MB), fed by a list-watch, with waiters for
// the miss path (a pod whose account the watch has not delivered yet).

import { LIST_PAGE_TIMEOUT_MS } from '../consts.ts';
import { type ServiceAccountView, trimServiceAccount } from '../core/identity/identity.ts';
import type { Logger } from '../io/log.ts';
import { type KubeConnection, kubeGetJson } from '../kube/connection.ts';
import { type KubeObjectLike, type ListWatchHandle, METADATA_ONLY, startListWatch } from './list-watch.ts';

const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});

export interface ServiceAccountCache {
  get(namespace: string, name: string): ServiceAccountView | undefined;
  readonly size: number;
  /** Takes in an object as the API server sent it (trimmed here). */
  upsert(object: unknown): void;
  remove(object: unknown): void;
  beginRelist(): { add(object: unknown): void; commit(): void };
  /** Resolves with the account as soon as it is stored, or undefined after `ms`. */
  waitFor(namespace: string, name: string, ms: number): Promise<ServiceAccountView | undefined>;
  /** Called with the key of every account stored; the miss path uses it to forget a negative answer. */
  onStored(listener: (key: string) => void): void;
}

export function createServiceAccountCache(annotationPrefix: string): ServiceAccountCache {
  // ns/name -> prefixed annotations; accounts without any share one frozen empty object.
  let accounts = new Map<string, Readonly<Record<string, string>>>();
  const waiters = new Map<string, Set<(view: ServiceAccountView) => void>>();
  const storedListeners: Array<(key: string) => void> = [];

  function trim(object: unknown): { key: string; view: ServiceAccountView } | undefined {
    const view = trimServiceAccount(object as Parameters<typeof trimServiceAccount>[0], annotationPrefix);
    if (view.name === '' || view.namespace === '') return undefined;
    return { key: `${view.namespace}/${view.name}`, view };
  }

  function compact(view: ServiceAccountView): Readonly<Record<string, string>> {
    return Object.keys(view.annotations).length === 0 ? NO_ANNOTATIONS : view.annotations;
  }

  function stored(key: string, view: ServiceAccountView) {
    const waiting = waiters.get(key);
    if (waiting) {
      waiters.delete(key);
      for (const wake of waiting) wake(view);
    }
    for (const listener of storedListeners) listener(key);
  }

  return {
    get(namespace, name) {
      const annotations = accounts.get(`${namespace}/${name}`);
      return annotations === undefined ? undefined : { namespace, name, annotations };
    },
    get size() {
      return accounts.size;
    },
    upsert(object) {
      const trimmed = trim(object);
      if (!trimmed) return;
      accounts.set(trimmed.key, compact(trimmed.view));
      stored(trimmed.key, trimmed.view);
    },
    remove(object) {
      const trimmed = trim(object);
      if (trimmed) accounts.delete(trimmed.key);
    },
    beginRelist() {
      const next = new Map<string, Readonly<Record<string, string>>>();
      const added: Array<[string, ServiceAccountView]> = [];
      return {
        add(object) {
          const trimmed = trim(object);
          if (!trimmed) return;
          next.set(trimmed.key, compact(trimmed.view));
          if (waiters.has(trimmed.key)) added.push([trimmed.key, trimmed.view]);
        },
        commit() {
          accounts = next;
          for (const [key, view] of added) stored(key, view);
        },
      };
    },
    waitFor(namespace, name, ms) {
      const key = `${namespace}/${name}`;
      return new Promise((resolve) => {
        let set = waiters.get(key);
        if (!set) {
          set = new Set();
          waiters.set(key, set);
        }
        const wake = (view: ServiceAccountView) => {
          clearTimeout(timer);
          resolve(view);
        };
        const timer = setTimeout(() => {
          const current = waiters.get(key);
          current?.delete(wake);
          if (current?.size === 0) waiters.delete(key);
          resolve(undefined);
        }, ms);
        set.add(wake);
      });
    },
    onStored(listener) {
      storedListeners.push(listener);
    },
  };
}

export interface ServiceAccountWatchOptions {
  connection: KubeConnection;
  cache: ServiceAccountCache;
  logger: Logger;
  onSyncedChange?(synced: boolean): void;
}

/**
 * Lists and watches ServiceAccounts in all namespaces into the cache, metadata only: the annotations are all
 * kirsa reads of an account, and the API server then leaves out its secrets and image pull secrets.
 */
export function watchServiceAccounts(options: ServiceAccountWatchOptions): ListWatchHandle {
  return startListWatch({
    name: 'service-accounts',
    connection: options.connection,
    metadataOnly: true,
    path: '/api/v1/serviceaccounts',
    beginRelist: () => options.cache.beginRelist(),
    onEvent(type, object) {
      if (type === 'DELETED') options.cache.remove(object as KubeObjectLike);
      else options.cache.upsert(object);
    },
    ...(options.onSyncedChange ? { onSyncedChange: options.onSyncedChange } : {}),
    logger: options.logger,
  });
}

/** One ServiceAccount by a direct GET: the object, undefined when the API server says 404, or a throw. */
export type ServiceAccountFetcher = (
  namespace: string,
  name: string,
  signal: AbortSignal,
) => Promise<unknown>;

export function serviceAccountFetcher(connection: KubeConnection): ServiceAccountFetcher {
  return (namespace, name, signal) =>
    kubeGetJson(connection, {
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}`,
      accept: METADATA_ONLY,
      signal,
      // The miss lookup aborts it after its grace period; this only bounds a GET nobody waits for.
      idleTimeoutMs: LIST_PAGE_TIMEOUT_MS,
    });
}
