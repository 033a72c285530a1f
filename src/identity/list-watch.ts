// A list-then-watch loop over one Kubernetes collection, over node:https (kube/connection.ts) rather than
// @kubernetes/client-node, whose ListWatch keeps whole objects and whose import alone costs the webhook
// about 40 MB: here every object goes straight to callbacks that keep only what they need, and a source
// that reads only metadata asks for PartialObjectMetadata, its watch in protobuf (kube/watch-protobuf.ts:
// the API server encodes a 51,000-account watch-list in half the CPU and wall time it needs for JSON).
//
// The list is a watch-list first (`sendInitialEvents=true`: the API server streams every object as an ADDED
// event from its watch cache, then a bookmark annotated `k8s.io/initial-events-end`, and the same answer goes
// on as the watch), as client-go's reflector does by default since 1.35 (the reference webhook included).
// The API server encodes while kirsa parses, and nothing bigger than one event is ever held. Measured on
// kube-apiserver 1.37.2 with 50,001 metadata-only ServiceAccounts (37 MB of JSON), kirsa run as the image
// runs it, on a shared 2-core machine (load 4-20): the API server spent 1.2-1.5 s of CPU on the watch-list
// against 2.4 s on pages of 500 (see LIST_PAGE_SIZE for why pages cost it that much); kirsa's RSS 20 s later
// was 84.5-88 MB against 91.7-98 MB with pages; spawn to the right answer for the last account took
// 1.86-2.22 s at load 4-10 (the reference 1.43-1.97 s in the same rounds), pages of 500 4.2-5.7 s at load
// 7-11 (the reference 2.2-5.4 s in those rounds); at higher loads wall times scatter too widely to compare.
// A server that refuses it (HTTP 422 without the WatchList feature gate, on by default from 1.32; older
// servers refuse `resourceVersionMatch` on a watch the same way) or any other refusal (a user allowed to
// list but not to watch) gets the paged list (list-page.ts) in the same attempt, then a watch from its
// resourceVersion. The watch asks for bookmarks and resumes from the last resourceVersion, "410 Gone" lists
// again, and any other failure retries with a doubling backoff, forever, until stop().

import type { IncomingMessage } from 'node:http';
import {
  LIST_PAGE_SIZE,
  WATCH_BACKOFF_MAX_MS,
  WATCH_BACKOFF_MIN_MS,
  WATCH_IDLE_TIMEOUT_MS,
  WATCH_TIMEOUT_SECONDS,
} from '../consts.ts';
import type { Logger } from '../io/log.ts';
import { apiErrorOf, type KubeApiError, type KubeConnection, kubeGet } from '../kube/connection.ts';
import { decodeWatchEvent, frameSplitter, PROTOBUF_CONTENT_TYPE } from '../kube/watch-protobuf.ts';
import { listPage } from './list-page.ts';
import { returnGarbageSoon } from './return-garbage.ts';

export interface KubeObjectLike {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string> | null;
  } | null;
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

/** What a relist fills: its items, then one commit that replaces the current state. */
type RelistSink = ReturnType<ListWatchOptions['beginRelist']>;

/** The annotation of the bookmark that ends a watch-list's initial events (KEP-3157). */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** Metadata-only answers (the API server's meta.k8s.io/v1 conversion), with plain JSON as the fallback. */
export const METADATA_ONLY_LIST =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
/**
 * A metadata-only watch (and watch-list) in protobuf first (kube/watch-protobuf.ts says why), JSON from a
 * server that cannot: the answer's Content-Type says which came, and each has its decoder here.
 */
export const METADATA_ONLY_WATCH = `${PROTOBUF_CONTENT_TYPE};as=PartialObjectMetadata;g=meta.k8s.io;v=v1,${METADATA_ONLY}`;

/** One event of a watch, as either decoder gives it. */
interface WatchEvent {
  type: string;
  object: KubeObjectLike & { code?: number; message?: string };
}

function isProtobuf(response: IncomingMessage): boolean {
  return (response.headers['content-type'] ?? '').startsWith(PROTOBUF_CONTENT_TYPE);
}

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

  /** The list in pages (list-page.ts), for a server that refuses the watch-list. */
  async function listInPages(sink: RelistSink): Promise<string> {
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

  /**
   * The whole collection into a new sink: a watch-list, whose answer goes on as the watch (`watching`), or,
   * when the server refuses one, the paged list (and the caller then starts a watch from its version).
   */
  async function relist(): Promise<{ resourceVersion: string; watching?: Promise<string> }> {
    const sink = options.beginRelist();
    let items = 0;
    const counted: RelistSink = {
      add(item) {
        items++;
        sink.add(item);
      },
      commit: () => sink.commit(),
    };
    let listed: { resourceVersion: string; watching?: Promise<string> };
    const stream = await openWatch('', counted);
    if ('refused' in stream) {
      logger.info(
        { source: name, status: stream.refused.statusCode, reason: stream.refused.message },
        'the API server refuses a watch-list; listing in pages',
      );
      listed = { resourceVersion: await listInPages(counted) };
    } else {
      listed = { resourceVersion: await stream.listed, watching: stream.ended };
    }
    // A list of more than a page's worth leaves garbage that outlived the young generation.
    if (items >= LIST_PAGE_SIZE) returnGarbageSoon();
    return listed;
  }

  /** A plain watch from `fromVersion`; resolves with the last resourceVersion seen when it ends. */
  async function watchOnce(fromVersion: string): Promise<string> {
    const stream = await openWatch(fromVersion);
    if ('refused' in stream) throw stream.refused;
    return stream.ended;
  }

  /**
   * One watch request. Given `initial`, a watch-list: the events up to the initial-events-end bookmark go to
   * that sink, committed at the bookmark, and `listed` resolves then with the bookmark's resourceVersion.
   * `ended` resolves with the last resourceVersion seen when the server or the timeout ends the watch. A
   * watch-list answered with another status than 200 is `refused` (the caller lists in pages instead); a
   * plain watch answered 410 rejects with Expired.
   */
  async function openWatch(
    fromVersion: string,
    initial?: RelistSink,
  ): Promise<{ listed: Promise<string>; ended: Promise<string> } | { refused: KubeApiError }> {
    let resourceVersion = fromVersion;
    const search = new URLSearchParams({
      watch: '1',
      allowWatchBookmarks: 'true',
      // As client-go's reflector: the API server ends the watch after 5-10 min, and it resumes from there.
      timeoutSeconds: String(Math.floor(WATCH_TIMEOUT_SECONDS * (1 + Math.random()))),
    });
    if (resourceVersion !== '') search.set('resourceVersion', resourceVersion);
    if (initial) {
      // The state as of now (a consistent read, served from the watch cache), then the changes after it.
      search.set('sendInitialEvents', 'true');
      search.set('resourceVersionMatch', 'NotOlderThan');
    }
    if (options.fieldSelector) search.set('fieldSelector', options.fieldSelector);
    controller = new AbortController();
    if (stopped) controller.abort();
    let response: IncomingMessage;
    try {
      response = await kubeGet(options.connection, {
        path: `${options.path}?${search}`,
        accept: options.metadataOnly ? METADATA_ONLY_WATCH : 'application/json',
        signal: controller.signal,
        idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS,
      });
    } catch (error) {
      if (stopped) {
        const done = Promise.resolve(resourceVersion);
        return { listed: done, ended: done };
      }
      throw error;
    }
    if (response.statusCode === 410 && !initial) {
      response.resume();
      throw new Expired();
    }
    if (response.statusCode !== 200) {
      const refusal = await apiErrorOf(response);
      if (initial) return { refused: refusal };
      throw refusal;
    }
    let inInitialEvents = initial !== undefined;
    let settleListed!: { resolve(version: string | Promise<string>): void; reject(error: Error): void };
    const listed = new Promise<string>((resolve, reject) => {
      settleListed = { resolve, reject };
    });
    const ended = new Promise<string>((resolve, reject) => {
      let expired = false;
      const onWatchEvent = (event: WatchEvent) => {
        const { type, object } = event;
        if (type === 'ERROR') {
          if (object?.code === 410) expired = true;
          else
            logger.warn({ source: name, code: object?.code, reason: object?.message }, 'watch error event');
          response.destroy();
          return;
        }
        if (inInitialEvents) {
          // Until the bookmark only ADDED events come, one per object, in no order of resourceVersion.
          if (type === 'ADDED') initial!.add(object);
          else if (type === 'BOOKMARK' && object?.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true') {
            inInitialEvents = false;
            resourceVersion = object.metadata.resourceVersion ?? resourceVersion;
            const version = resourceVersion;
            // Committed now, synchronously, before the events after the bookmark are applied.
            let committed: Promise<void>;
            try {
              committed = Promise.resolve(initial!.commit());
            } catch (error) {
              committed = Promise.reject(error);
            }
            settleListed.resolve(committed.then(() => version));
          }
          return;
        }
        const version = object?.metadata?.resourceVersion;
        if (version) resourceVersion = version;
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') options.onEvent(type, object);
      };
      const undecodable = (error: unknown, encoding: string) => {
        response.destroy();
        finish(new Error(`a watch event is not valid ${encoding}: ${(error as Error).message}`), true);
      };
      if (isProtobuf(response)) {
        const push = frameSplitter((bytes, start, end) => onWatchEvent(decodeWatchEvent(bytes, start, end)));
        response.on('data', (chunk: Buffer) => {
          try {
            push(chunk);
          } catch (error) {
            undecodable(error, 'protobuf');
          }
        });
      } else {
        let buffered = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffered += chunk;
          let start = 0;
          let end = buffered.indexOf('\n');
          while (end !== -1) {
            const line = buffered.slice(start, end);
            start = end + 1;
            if (line.trim() !== '') {
              try {
                onWatchEvent(JSON.parse(line) as WatchEvent);
              } catch (error) {
                undecodable(error, 'JSON');
                return;
              }
            }
            end = buffered.indexOf('\n', start);
          }
          buffered = buffered.slice(start);
        });
      }
      const finish = (error?: Error, fatal = false) => {
        if (inInitialEvents) {
          inInitialEvents = false;
          if (stopped) settleListed.resolve(resourceVersion);
          else
            settleListed.reject(
              error ?? new Error('the watch-list ended before its initial-events-end bookmark'),
            );
        }
        if (expired) return reject(new Expired());
        if (error && !stopped && (fatal || error.name !== 'TimeoutError')) return reject(error);
        resolve(resourceVersion);
      };
      response.on('end', () => finish());
      response.on('close', () => finish());
      response.on('error', finish);
    });
    // A watch-list that fails before its bookmark rejects both; the caller awaits `listed` alone then.
    ended.catch(() => {});
    listed.catch(() => {});
    if (!initial) settleListed.resolve(resourceVersion);
    return { listed, ended };
  }

  const setSynced = (value: boolean) => options.onSyncedChange?.(value);

  async function run(): Promise<void> {
    let backoff = WATCH_BACKOFF_MIN_MS;
    while (!stopped) {
      let resourceVersion: string;
      // After a watch-list, the watch its answer goes on with.
      let watching: Promise<string> | undefined;
      try {
        ({ resourceVersion, watching } = await relist());
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
          const current = watching ?? watchOnce(resourceVersion);
          watching = undefined;
          resourceVersion = await current;
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
