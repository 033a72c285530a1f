// A list-then-watch loop over one Kubernetes collection, written on @kubernetes/client-node's Watch because
// its ListWatch keeps whole objects and offers no transform: here every object goes straight to callbacks
// that keep only what they need. The list is paged and each page streamed item by item
// (streamed-list.ts), so memory stays bounded on a relist of 50,000 accounts;
// the watch asks for bookmarks and resumes from the last resourceVersion, "410 Gone" relists, and any other
// failure retries with a doubling backoff, forever, until stop().

import type { KubeConfig } from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { WATCH_BACKOFF_MAX_MS, WATCH_BACKOFF_MIN_MS } from '../consts.ts';
import { listPageStreamed } from './streamed-list.ts';

export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string } | null;
}

export interface ListWatchOptions {
  /** For logs and metrics: "service-accounts", "mapping-config-map". */
  name: string;
  kubeConfig: KubeConfig;
  /** API path of the collection, e.g. /api/v1/serviceaccounts. */
  path: string;
  fieldSelector?: string;
  /**
   * A full list starts: the sink collects its items and replaces the current state at commit. A commit
   * that returns a promise is awaited before the source counts as synced.
   */
  beginRelist(): { add(item: unknown): void; commit(): void | Promise<void> };
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void;
  onSyncedChange?(synced: boolean): void;
  logger: Logger;
}

export interface ListWatchHandle {
  /** True once a full list has been taken in (it stays true across reconnects: the data is still there). */
  hasSynced(): boolean;
  /** Resolves at the first complete list. */
  synced: Promise<void>;
  stop(): void;
}

class Expired extends Error {}

function statusCodeOf(error: unknown): number | undefined {
  const value = error as { statusCode?: unknown; code?: unknown } | null;
  if (typeof value?.statusCode === 'number') return value.statusCode;
  if (typeof value?.code === 'number') return value.code;
  return undefined;
}

export function startListWatch(options: ListWatchOptions): ListWatchHandle {
  const { logger, name } = options;
  const watcher = new Watch(options.kubeConfig);
  let stopped = false;
  let everSynced = false;
  let controller: AbortController | undefined;
  let wake: (() => void) | undefined;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((resolve) => {
    resolveSynced = resolve;
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function relist(): Promise<string> {
    const sink = options.beginRelist();
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await listPageStreamed(
        options.kubeConfig,
        { path: options.path, fieldSelector: options.fieldSelector, continueToken },
        (item) => sink.add(item),
      );
      if (stopped) return '';
      resourceVersion = page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken !== undefined);
    await sink.commit();
    return resourceVersion;
  }

  /** One watch request; resolves with the last resourceVersion seen when the server or the timeout ends it. */
  function watchOnce(fromVersion: string): Promise<string> {
    let resourceVersion = fromVersion;
    return new Promise<string>((resolve, reject) => {
      let expired = false;
      const query: Record<string, string | boolean | number> = {
        resourceVersion,
        allowWatchBookmarks: true,
      };
      if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
      watcher
        .watch(
          options.path,
          query,
          (type: string, object: KubeObjectLike & { code?: number; message?: string }) => {
            if (type === 'ERROR') {
              if (object?.code === 410) expired = true;
              else
                logger.warn(
                  { source: name, code: object?.code, reason: object?.message },
                  'watch error event',
                );
              controller?.abort();
              return;
            }
            const version = object?.metadata?.resourceVersion;
            if (version) resourceVersion = version;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') options.onEvent(type, object);
          },
          (error: unknown) => {
            if (expired || statusCodeOf(error) === 410) return reject(new Expired());
            const timedOut = (error as { name?: string } | null)?.name === 'TimeoutError';
            if (error && !timedOut && !stopped) return reject(error);
            resolve(resourceVersion);
          },
        )
        .then((abort) => {
          controller = abort;
          if (stopped) abort.abort();
        }, reject);
    });
  }

  const setSynced = (value: boolean) => options.onSyncedChange?.(value);

  async function run(): Promise<void> {
    let backoff = WATCH_BACKOFF_MIN_MS;
    while (!stopped) {
      let resourceVersion: string;
      try {
        resourceVersion = await relist();
        if (stopped) return;
        if (!everSynced) {
          everSynced = true;
          resolveSynced();
          logger.info({ source: name }, 'initial list complete');
        }
        setSynced(true);
        backoff = WATCH_BACKOFF_MIN_MS;
      } catch (error) {
        if (stopped) return;
        setSynced(false);
        logger.error(
          {
            source: name,
            status: statusCodeOf(error),
            reason: (error as Error)?.message,
            retryInMs: backoff,
          },
          statusCodeOf(error) === 403
            ? 'list forbidden: grant the webhook list and watch on this resource (RBAC)'
            : 'list failed; retrying',
        );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
        continue;
      }
      while (!stopped) {
        try {
          resourceVersion = await watchOnce(resourceVersion);
          backoff = WATCH_BACKOFF_MIN_MS;
          setSynced(true);
        } catch (error) {
          if (stopped) return;
          if (error instanceof Expired) {
            logger.info({ source: name }, 'watch history expired; listing again');
            break;
          }
          setSynced(false);
          logger.warn(
            {
              source: name,
              status: statusCodeOf(error),
              reason: (error as Error)?.message,
              retryInMs: backoff,
            },
            'watch failed; reconnecting',
          );
          await sleep(backoff);
          backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
        }
      }
    }
  }

  void run().catch((error: unknown) => logger.error({ source: name, err: error }, 'list-watch loop ended'));

  return {
    hasSynced: () => everSynced,
    synced,
    stop() {
      stopped = true;
      controller?.abort();
      wake?.();
    },
  };
}
