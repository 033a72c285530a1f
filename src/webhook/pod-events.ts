// Posts the core's pod notices as Events, rate-limited: at most one per notice key per interval, and a token
// bucket across all keys. Posting never delays an admission (it is not awaited) and its failure is logged,
// never thrown: an Event is advice, the admission has been answered already.

import { loggableError, loggableIdentifier } from '../core/admission/loggable.ts';
import { type PodNotice, podEvent } from '../core/admission/pod-event.ts';
import type { Logger } from '../io/log.ts';

export interface PodEventsOptions {
  /** Creates one Event (the kube shell's createNamespacedEvent). */
  post: (namespace: string, event: Record<string, unknown>) => Promise<void>;
  logger: Logger;
  /** Who posts: the pod name of this replica, for the Event's reportingInstance. */
  reportingInstance: string;
  intervalMs: number;
  ratePerSecond: number;
  burst: number;
  now?: () => number;
}

export interface PodEvents {
  /** Sends the notice's Event unless its key was sent within the interval or the bucket is empty. */
  report(notice: PodNotice): 'sent' | 'repeated' | 'rate_limited';
  /** Resolves once every Event posted so far has been answered (for shutdown and tests). */
  settled(): Promise<void>;
}

/** Keys remembered at most; beyond it, the ones older than the interval are dropped first. */
const MAX_KEYS = 10_000;

export function createPodEvents(options: PodEventsOptions): PodEvents {
  const now = options.now ?? Date.now;
  const sentAt = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let tokens = options.burst;
  let refilledAt = now();

  function takeToken(at: number): boolean {
    tokens = Math.min(options.burst, tokens + ((at - refilledAt) / 1000) * options.ratePerSecond);
    refilledAt = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function forgetOld(at: number) {
    if (sentAt.size < MAX_KEYS) return;
    for (const [key, time] of sentAt) if (at - time >= options.intervalMs) sentAt.delete(key);
    // Still full: everything is recent; drop the oldest, so memory stays bounded whatever the load.
    for (const key of sentAt.keys()) {
      if (sentAt.size < MAX_KEYS) break;
      sentAt.delete(key);
    }
  }

  return {
    report(notice) {
      const at = now();
      const last = sentAt.get(notice.key);
      if (last !== undefined && at - last < options.intervalMs) return 'repeated';
      if (!takeToken(at)) return 'rate_limited';
      forgetOld(at);
      sentAt.delete(notice.key);
      sentAt.set(notice.key, at);
      const event = podEvent(notice, { now: new Date(at), reportingInstance: options.reportingInstance });
      const posted = options
        .post(notice.subject.namespace, event)
        .catch((error: unknown) => {
          // The API server's message may quote the Event, which quotes the pod: its class and status only.
          options.logger.warn(
            {
              ...loggableError(error),
              reason: notice.reason,
              object: `${loggableIdentifier(notice.subject.kind)}/${loggableIdentifier(notice.subject.name)}`,
              namespace: loggableIdentifier(notice.subject.namespace),
            },
            'could not post the Event for a pod admitted without AWS credentials (RBAC: create events)',
          );
        })
        .finally(() => pending.delete(posted));
      pending.add(posted);
      return 'sent';
    },
    async settled() {
      await Promise.all([...pending]);
    },
  };
}
