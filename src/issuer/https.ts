// Anonymous HTTPS GETs as STS makes them: no credentials, no redirects followed, a short timeout, a size
// cap, and certificate verification always on (extra CAs may be added for private or test issuers).

import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ISSUER_DOCUMENT_MAX_BYTES, STS_FETCH_TIMEOUT_MS } from '../consts.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../read-input.ts';

/** The public roots plus the PEM certificates in these files; undefined (Node's defaults) when none. */
export async function trustedCertificates(caFiles: readonly string[]): Promise<string[] | undefined> {
  if (caFiles.length === 0) return undefined;
  const extra = await Promise.all(caFiles.map((file) => readInputText(file, 'CA file')));
  return [...rootCertificates, ...extra];
}

export interface FetchedDocument {
  url: string;
  status: number;
  contentType: string | undefined;
  location: string | undefined;
  body: string;
}

export interface FetchOptions {
  ca?: string[] | undefined;
  timeoutMs?: number;
}

function networkError(url: string, error: NodeJS.ErrnoException): KirsaError {
  const tlsTrouble = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/.test(
    `${error.code ?? ''} ${error.message}`,
  );
  return new KirsaError('UNREACHABLE', `GET ${url}: ${error.message}`, {
    hint: tlsTrouble
      ? 'STS needs a certificate it trusts; for a private or test CA pass --ca-file CA.pem here (and register a thumbprint with the provider)'
      : 'check the URL, DNS and that the host answers HTTPS from where STS runs (the public internet)',
    cause: error,
  });
}

export function httpsGet(url: string, options: FetchOptions = {}): Promise<FetchedDocument> {
  const timeoutMs = options.timeoutMs ?? STS_FETCH_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new KirsaError('USAGE', `${url} is not a URL`));
      return;
    }
    if (target.protocol !== 'https:') {
      reject(new KirsaError('CHECK_FAILED', `${url} is not https; STS fetches over HTTPS only`));
      return;
    }
    const req = request(
      target,
      { method: 'GET', ca: options.ca, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > ISSUER_DOCUMENT_MAX_BYTES) {
            req.destroy(new Error(`response larger than ${ISSUER_DOCUMENT_MAX_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            url,
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            location: res.headers.location,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (error) => reject(networkError(url, error)));
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (error) => reject(networkError(url, error)));
    req.end();
  });
}
