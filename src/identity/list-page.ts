// One page of a Kubernetes list (at most LIST_PAGE_SIZE items), read whole and parsed with JSON.parse, its
// items handed to a callback one by one and garbage once the page is done. A page is small: 1,000
// metadata-only ServiceAccounts are about 740 KB. JSON.parse takes 51,000 of them in about 0.25 s of CPU,
// where a streaming JSON parser in JavaScript took 0.8-1.3 s (measured on the benchmark's accounts), and a
// whole page at a time is what keeps the list from being one object graph in memory. (The typed list
// calls of @kubernetes/client-node parsed a page and then copied it into model objects: for 50,000 full
// ServiceAccounts that garbage grew the heap by about 90 MB, which V8 kept.)
// The answer is decoded to text as it arrives, chunk by chunk, rather than kept as Buffers and joined: the
// Buffers are malloc'd, and a page of them at a time left glibc's heap 16 MB larger for good (21.8 MB against
// 5.6 MB of [heap] RSS after 50,001 accounts in pages of 1,000), where strings live and die in V8's heap.

import { LIST_PAGE_SIZE, LIST_PAGE_TIMEOUT_MS } from '../consts.ts';
import { apiErrorOf, type KubeConnection, kubeGet } from '../kube/connection.ts';

export interface ListPageQuery {
  /** API path of the collection, e.g. /api/v1/serviceaccounts. */
  path: string;
  fieldSelector?: string | undefined;
  continueToken?: string | undefined;
  /** The Accept header: plain JSON, or a metadata-only list (PartialObjectMetadataList). */
  accept: string;
}

export interface ListPage {
  resourceVersion: string;
  continueToken: string | undefined;
}

/** GETs one page of the collection and hands each of its items to `onItem`. */
export async function listPage(
  connection: KubeConnection,
  query: ListPageQuery,
  onItem: (item: unknown) => void,
): Promise<ListPage> {
  const search = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
  if (query.fieldSelector) search.set('fieldSelector', query.fieldSelector);
  if (query.continueToken) search.set('continue', query.continueToken);
  const response = await kubeGet(connection, {
    path: `${query.path}?${search}`,
    accept: query.accept,
    idleTimeoutMs: LIST_PAGE_TIMEOUT_MS,
  });
  if (response.statusCode !== 200) throw await apiErrorOf(response);
  const texts: string[] = [];
  response.setEncoding('utf8');
  for await (const text of response) texts.push(text as string);
  if (!response.complete) throw new Error('the list answer ended early');
  let page: { metadata?: { resourceVersion?: string; continue?: string }; items?: unknown };
  try {
    page = JSON.parse(texts.join('')) as typeof page;
  } catch (error) {
    throw new Error(`the list answer is not valid JSON: ${(error as Error).message}`);
  }
  texts.length = 0;
  // An empty metadata-only list comes as `"items": null`: the API server converts its objects into a
  // PartialObjectMetadataList whose Go slice stays nil when there is nothing to convert, while the typed lists
  // say `[]`. So a cluster (or a namespace) with no ServiceAccounts yet is an empty page, not a bad answer.
  if (page.items === null) page.items = [];
  if (!Array.isArray(page.items)) throw new Error('the list answer has no items');
  for (const item of page.items) onItem(item);
  return {
    resourceVersion: page.metadata?.resourceVersion ?? '',
    continueToken: page.metadata?.continue || undefined,
  };
}
