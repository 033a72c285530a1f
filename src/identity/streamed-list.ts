// One page of a Kubernetes list, read as it streams in: each item goes to a callback as soon as it is parsed,
// and is garbage by the next one. The typed list calls of @kubernetes/client-node parse a whole page, then
// copy it into model objects: for 50,000 ServiceAccounts that garbage grew the webhook's heap by about 90 MB,
// which V8 then kept. Authentication, TLS and proxies still come from the client's KubeConfig.

import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { JSONParser } from '@streamparser/json';
import { LIST_PAGE_SIZE, LIST_PAGE_TIMEOUT_MS } from '../consts.ts';

export interface ListPageQuery {
  /** API path of the collection, e.g. /api/v1/serviceaccounts. */
  path: string;
  fieldSelector?: string | undefined;
  continueToken?: string | undefined;
}

export interface StreamedPage {
  resourceVersion: string;
  continueToken: string | undefined;
}

/** An API error as the callers expect it: the HTTP status as statusCode, the server's message as message. */
function apiError(status: number, body: string): Error {
  let message = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status object: keep the text
  }
  return Object.assign(new Error(`HTTP ${status}: ${message}`), { statusCode: status });
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (text.length < 65_536) text += chunk;
    });
    response.on('end', () => resolve(text));
    response.on('error', reject);
  });
}

/** GETs one page of the collection and hands each item to `onItem` while the body is still arriving. */
export async function listPageStreamed(
  kubeConfig: KubeConfig,
  query: ListPageQuery,
  onItem: (item: unknown) => void,
): Promise<StreamedPage> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + query.path);
  url.searchParams.set('limit', String(LIST_PAGE_SIZE));
  if (query.fieldSelector) url.searchParams.set('fieldSelector', query.fieldSelector);
  if (query.continueToken) url.searchParams.set('continue', query.continueToken);
  const options: RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kubeConfig.applyToHTTPSOptions(options);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<StreamedPage>((resolve, reject) => {
    const call = request(url, { ...options, timeout: LIST_PAGE_TIMEOUT_MS }, (response) => {
      if (response.statusCode !== 200) {
        readText(response).then((body) => reject(apiError(response.statusCode ?? 0, body)), reject);
        return;
      }
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
    call.on('timeout', () => call.destroy(new Error(`no list answer within ${LIST_PAGE_TIMEOUT_MS} ms`)));
    call.on('error', reject);
    call.end();
  });
}
