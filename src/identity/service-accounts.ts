// The ServiceAccount cache: every account in the cluster, trimmed at ingest to its namespace, name and the
// annotations under the prefix (so 50,000 accounts stay around 10 MB), fed by a list-watch, with waiters for
// the miss path (a pod whose account the watch has not delivered yet).

import { CoreV1Api, type KubeConfig, Observable } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ServiceAccountView, trimServiceAccount } from '../core/identity/identity.ts';
import { type KubeObjectLike, type ListWatchHandle, startListWatch } from './list-watch.ts';

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
  kubeConfig: KubeConfig;
  cache: ServiceAccountCache;
  logger: Logger;
  onSyncedChange?(synced: boolean): void;
}

/** Lists and watches ServiceAccounts in all namespaces into the cache. */
export function watchServiceAccounts(options: ServiceAccountWatchOptions): ListWatchHandle {
  return startListWatch({
    name: 'service-accounts',
    kubeConfig: options.kubeConfig,
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

/** Per-call options that make a generated API call abortable: a middleware that hands the request a signal. */
function abortWith(signal: AbortSignal): Parameters<CoreV1Api['readNamespacedServiceAccount']>[1] {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

export function serviceAccountFetcher(kubeConfig: KubeConfig): ServiceAccountFetcher {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return async (namespace, name, signal) => {
    try {
      return await api.readNamespacedServiceAccount({ namespace, name }, abortWith(signal));
    } catch (error) {
      if ((error as { code?: unknown })?.code === 404) return undefined;
      throw error;
    }
  };
}
