// One page of a Kubernetes list, read as it streams in: each item goes to a callback as soon as it is parsed,
// and is garbage by the next one. The typed list calls of @kubernetes/client-node parse a whole page, then
// copy it into model objects: for 50,000 ServiceAccounts that garbage grew the webhook's heap by about 90 MB,
// which V8 then kept. The request goes over node:https with the connection's credentials (kube/connection.ts).

import { JSONParser } from '@streamparser/json';
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

export interface StreamedPage {
  resourceVersion: string;
  continueToken: string | undefined;
}

/** GETs one page of the collection and hands each item to `onItem` while the body is still arriving. */
export async function listPageStreamed(
  connection: KubeConnection,
  query: ListPageQuery,
  onItem: (item: unknown) => void,
): Promise<StreamedPage> {
  const search = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
  if (query.fieldSelector) search.set('fieldSelector', query.fieldSelector);
  if (query.continueToken) search.set('continue', query.continueToken);
  const response = await kubeGet(connection, {
    path: `${query.path}?${search}`,
    accept: query.accept,
    idleTimeoutMs: LIST_PAGE_TIMEOUT_MS,
  });
  if (response.statusCode !== 200) throw await apiErrorOf(response);
  return new Promise<StreamedPage>((resolve, reject) => {
    let metadata: { resourceVersion?: string; continue?: string } = {};
    const parser = new JSONParser({ paths: ['$.items.*', '$.metadata'], keepStack: false });
    parser.onValue = ({ key, value }) => {
      if (typeof key === 'number') onItem(value);
      else if (key === 'metadata' && value !== null && typeof value === 'object' && !Array.isArray(value))
        metadata = value as typeof metadata;
    };
    response.on('data', (chunk: Buffer) => {
      try {
        parser.write(chunk);
      } catch (error) {
        response.destroy();
        reject(new Error(`the list answer is not valid JSON: ${(error as Error).message}`));
      }
    });
    response.on('end', () => {
      if (!parser.isEnded) return reject(new Error('the list answer ended early'));
      resolve({
        resourceVersion: metadata.resourceVersion ?? '',
        continueToken: metadata.continue || undefined,
      });
    });
    response.on('error', reject);
  });
}
