// The issuer as STS sees it: one anonymous HTTPS GET of a discovery document or JWKS, as STS makes it. Every
// caller that reads an issuer's documents (issuer verify, the local STS, the doctor, the thumbprint) goes
// through fetchIssuerDocument, so they agree on what an issuer must serve:
// - certificate verification always on (extra CAs may be added for private or test issuers);
// - a TOTAL deadline per fetch, from the request to the last byte: a server that drips bytes cannot keep
//   the caller waiting (an idle timeout would be reset by every byte);
// - a size cap, checked against Content-Length first and then counted;
// - redirects refused, not followed (STS does not follow them);
// - one error shape: a KirsaError whose ISSUER_* code says what went wrong.

import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ISSUER_DOCUMENT_MAX_BYTES, STS_FETCH_TIMEOUT_MS } from '../consts.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';

/** The public roots plus the PEM certificates in these files; undefined (Node's defaults) when none. */
export async function trustedCertificates(caFiles: readonly string[]): Promise<string[] | undefined> {
  if (caFiles.length === 0) return undefined;
  const extra = await Promise.all(caFiles.map((file) => readInputText(file, 'CA file')));
  return [...rootCertificates, ...extra];
}

export interface FetchOptions {
  /** Trusted CAs, replacing Node's defaults (pass trustedCertificates() to add to the public roots). */
  ca?: string[] | undefined;
  /** Total time for the whole fetch, connection to last byte. */
  deadlineMs?: number;
  maxBytes?: number;
}

export interface IssuerDocument {
  url: string;
  contentType: string | undefined;
  /** The parsed JSON body. */
  json: unknown;
}

const NOT_HTTPS_HINT = 'serve the issuer and its jwks_uri over https, e.g. from S3 (kirsa issuer publish)';

const TLS_TROUBLE = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/;

function networkError(url: string, error: NodeJS.ErrnoException): KirsaError {
  const tlsTrouble = TLS_TROUBLE.test(`${error.code ?? ''} ${error.message}`);
  return new KirsaError('ISSUER_UNREACHABLE', `GET ${url}: ${error.message}`, {
    hint: tlsTrouble
      ? 'STS needs a certificate it trusts; for a private or test CA pass --ca-file CA.pem here (and register a thumbprint with the provider)'
      : 'check the URL, DNS and that the host answers HTTPS from where STS runs (the public internet)',
    cause: error,
  });
}

function statusError(url: string, status: number, location: string | undefined): KirsaError {
  if (status >= 300 && status < 400)
    return new KirsaError('ISSUER_REDIRECT', `${url} redirects (${status}) to ${location ?? '?'}`, {
      hint: 'STS does not follow redirects: serve the document at this URL directly',
    });
  if (status === 401 || status === 403)
    return new KirsaError('ISSUER_HTTP_STATUS', `${url} answered ${status}: not anonymously readable`, {
      hint: 'on S3: the bucket policy or Block Public Access; run kirsa issuer publish',
    });
  return new KirsaError('ISSUER_HTTP_STATUS', `${url} answered ${status}`, {
    hint: 'publish the issuer documents (kirsa issuer publish) and check with kirsa issuer verify',
  });
}

/** GETs one issuer document and parses it as JSON, within the deadline and the size cap. */
export function fetchIssuerDocument(url: string, options: FetchOptions = {}): Promise<IssuerDocument> {
  const deadlineMs = options.deadlineMs ?? STS_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? ISSUER_DOCUMENT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new KirsaError('ISSUER_NOT_HTTPS', `${url} is not a URL`, { hint: NOT_HTTPS_HINT }));
      return;
    }
    if (target.protocol !== 'https:') {
      reject(
        new KirsaError('ISSUER_NOT_HTTPS', `${url} is not https; STS fetches over HTTPS only`, {
          hint: NOT_HTTPS_HINT,
        }),
      );
      return;
    }
    let settled = false;
    const finish = (error: KirsaError | undefined, document?: IssuerDocument) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      if (error) reject(error);
      else resolve(document!);
    };
    const req = request(target, { method: 'GET', ca: options.ca, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        finish(statusError(url, status, res.headers.location));
        return;
      }
      const tooLarge = () =>
        new KirsaError('ISSUER_TOO_LARGE', `${url} is larger than ${maxBytes} bytes`, {
          hint: 'a discovery document or JWKS is a few KB: check the URL points at the document',
        });
      if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
        finish(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) finish(tooLarge());
        else chunks.push(chunk);
      });
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          finish(
            new KirsaError('ISSUER_NOT_JSON', `${url} did not return JSON`, {
              hint: 'publish the document (kirsa issuer publish); a web page or error page is not it',
            }),
          );
          return;
        }
        finish(undefined, { url, contentType: res.headers['content-type'], json });
      });
      res.on('error', (error) => finish(networkError(url, error)));
    });
    const deadline = setTimeout(
      () =>
        finish(
          new KirsaError('ISSUER_TIMEOUT', `GET ${url}: no complete answer within ${deadlineMs} ms`, {
            hint: 'STS gives up after a few seconds too: serve the documents from a fast, static host',
          }),
        ),
      deadlineMs,
    );
    req.on('error', (error) => finish(networkError(url, error)));
    req.end();
  });
}
