// A list-then-watch loop over one Kubernetes collection, over node:https (kube/connection.ts) rather than
// @kubernetes/client-node, whose ListWatch keeps whole objects and whose import alone costs the webhook
// about 40 MB: here every object goes straight to callbacks that keep only what they need, and a source
// that reads only metadata asks for PartialObjectMetadata. The list is paged (list-page.ts), so memory stays
// bounded on a relist of 50,000 accounts;
// the watch asks for bookmarks and resumes from the last resourceVersion, "410 Gone" relists, and any other
// failure retries with a doubling backoff, forever, until stop().

import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import {
  WATCH_BACKOFF_MAX_MS,
  WATCH_BACKOFF_MIN_MS,
  WATCH_IDLE_TIMEOUT_MS,
  WATCH_TIMEOUT_SECONDS,
} from '../consts.ts';
import { apiErrorOf, type KubeConnection, kubeGet } from '../kube/connection.ts';
import { listPage } from './list-page.ts';

export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string } | null;
}

export interface ListWatchOptions {
  /** For logs and metrics: "service-accounts", "mapping-config-map". */
  name: string;
  connection: KubeConnection;
  /**
   * Ask for PartialObjectMetadata (name, namespace, labels, annotations, resourceVersion) instead of whole
   * objects: fewer bytes to send and parse when only metadata is read.
   */
  metadataOnly?: boolean;
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

/** Metadata-only answers (the API server's meta.k8s.io/v1 conversion), with plain JSON as the fallback. */
export const METADATA_ONLY_LIST =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

function statusCodeOf(error: unknown): number | undefined {
  const value = error as { statusCode?: unknown; code?: unknown } | null;
  if (typeof value?.statusCode === 'number') return value.statusCode;
  if (typeof value?.code === 'number') return value.code;
  return undefined;
}

export function startListWatch(options: ListWatchOptions): ListWatchHandle {
  const { logger, name } = options;
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
      const page = await listPage(
        options.connection,
        {
          path: options.path,
          fieldSelector: options.fieldSelector,
          continueToken,
          accept: options.metadataOnly ? METADATA_ONLY_LIST : 'application/json',
        },
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
  async function watchOnce(fromVersion: string): Promise<string> {
    let resourceVersion = fromVersion;
    const search = new URLSearchParams({
      watch: '1',
      resourceVersion,
      allowWatchBookmarks: 'true',
      // As client-go's reflector: the API server ends the watch after 5-10 min, and it resumes from there.
      timeoutSeconds: String(Math.floor(WATCH_TIMEOUT_SECONDS * (1 + Math.random()))),
    });
    if (options.fieldSelector) search.set('fieldSelector', options.fieldSelector);
    controller = new AbortController();
    if (stopped) controller.abort();
    let response: IncomingMessage;
    try {
      response = await kubeGet(options.connection, {
        path: `${options.path}?${search}`,
        accept: options.metadataOnly ? METADATA_ONLY : 'application/json',
        signal: controller.signal,
        idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS,
      });
    } catch (error) {
      if (stopped) return resourceVersion;
      throw error;
    }
    if (response.statusCode === 410) {
      response.resume();
      throw new Expired();
    }
    if (response.statusCode !== 200) throw await apiErrorOf(response);
    return new Promise<string>((resolve, reject) => {
      let expired = false;
      let buffered = '';
      const onLine = (line: string) => {
        const event = JSON.parse(line) as {
          type: string;
          object: KubeObjectLike & { code?: number; message?: string };
        };
        const { type, object } = event;
        if (type === 'ERROR') {
          if (object?.code === 410) expired = true;
          else
            logger.warn({ source: name, code: object?.code, reason: object?.message }, 'watch error event');
          response.destroy();
          return;
        }
        const version = object?.metadata?.resourceVersion;
        if (version) resourceVersion = version;
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') options.onEvent(type, object);
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        let end = buffered.indexOf('\n');
        while (end !== -1) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          if (line.trim() !== '') {
            try {
              onLine(line);
            } catch (error) {
              response.destroy();
              reject(new Error(`a watch event is not valid JSON: ${(error as Error).message}`));
              return;
            }
          }
          end = buffered.indexOf('\n');
        }
      });
      const finish = (error?: Error) => {
        if (expired) return reject(new Expired());
        if (error && error.name !== 'TimeoutError' && !stopped) return reject(error);
        resolve(resourceVersion);
      };
      response.on('end', () => finish());
      response.on('close', () => finish());
      response.on('error', finish);
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
