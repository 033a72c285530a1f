// Verifies the SigV4 signature of a request signed with credentials the local STS issued, by signing the
// same request again with the AWS SDK's own signer and comparing. Only the headers the caller signed take
// part, as in the real service.
//
// The signer trusts what it is given (the scope's region and service, an x-amz-content-sha256 header), so
// everything an attacker controls is checked here first, as AWS checks it: the scope must name this STS's
// region, the service `sts` and X-Amz-Date's day; `host` must be signed; the payload hash is the hash of the
// bytes received. Without these, a signature a victim made for S3 (any body, any region) within the last 15
// minutes would be accepted here as a GetCallerIdentity call.

import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { type StsError, stsError } from '../core/sts/protocol.ts';

export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The body bytes as received: the payload hash is computed from them, never taken from a header. */
  body: Uint8Array;
}

export interface SigningSecret {
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What a signature must be scoped to: this STS's region and the service name `sts`. */
export interface SigningScope {
  region: string;
  service: string;
}

/** AWS accepts a request signed up to 15 minutes before or after its own clock. */
const SIGNATURE_WINDOW_MS = 15 * 60_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** An HTTP header name as SigV4 lists it: lower case token characters. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Headers the signer adds or reads by itself: they take part only when the caller signed them. */
const SIGNER_HEADERS = ['x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

function header(request: ReceivedRequest, name: string): string | undefined {
  // Own keys only: a signed header named `constructor` or `__proto__` must read as absent, not as a function.
  if (!Object.hasOwn(request.headers, name)) return undefined;
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Parses X-Amz-Date (20261130T101500Z). */
function parseAmzDate(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function mismatch(message: string): StsError {
  return stsError('SignatureDoesNotMatch', message);
}

/** Returns the access key id when the signature holds, or the STS error the real service would answer. */
export async function verifySigV4(
  request: ReceivedRequest,
  lookup: (accessKeyId: string) => SigningSecret | undefined,
  now: Date,
  scope: SigningScope,
): Promise<{ accessKeyId: string } | StsError> {
  const authorization = header(request, 'authorization');
  if (!authorization)
    return stsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
  const match = AUTHORIZATION.exec(authorization);
  if (!match) return mismatch('The Authorization header is not an AWS4-HMAC-SHA256 signature.');
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] =
    match as unknown as string[];
  const secret = lookup(accessKeyId!);
  if (!secret)
    return stsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (header(request, 'x-amz-security-token') !== secret.sessionToken) {
    return stsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  if (secret.expiration.getTime() <= now.getTime()) {
    return stsError('ExpiredToken', 'The security token included in the request is expired');
  }
  if (service !== scope.service)
    return mismatch(`Credential should be scoped to correct service: '${scope.service}'.`);
  if (region !== scope.region)
    return mismatch(`Credential should be scoped to a valid region: '${scope.region}', not '${region}'.`);
  const amzDate = header(request, 'x-amz-date') ?? '';
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) return mismatch('The request has no valid X-Amz-Date header.');
  if (scopeDate !== amzDate.slice(0, 8)) {
    return mismatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (Math.abs(signingDate.getTime() - now.getTime()) > SIGNATURE_WINDOW_MS) {
    return mismatch('Signature expired: the request time is more than 15 minutes from the server time.');
  }

  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.every((name) => HEADER_NAME.test(name)))
    return mismatch('SignedHeaders lists a name that is not a lower-case HTTP header name.');
  if (!signedHeaders.includes('host'))
    return mismatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  const headers: Record<string, string> = Object.create(null);
  for (const name of signedHeaders) headers[name] = header(request, name) ?? '';
  // The signer would take this header as the payload's hash without hashing anything: it must be the hash
  // of what arrived.
  if (signedHeaders.includes('x-amz-content-sha256') && headers['x-amz-content-sha256'] !== payloadHash)
    return mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.");
  const host = headers.host ?? '';
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: secret.secretAccessKey,
      sessionToken: secret.sessionToken,
    },
    region: scope.region,
    service: scope.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
    // Never add x-amz-content-sha256 of our own: a header the caller did not sign must not be signed here
    // (botocore does not sign it; the JS SDK does, and then it is among the copied headers).
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path: request.path,
      query: request.query,
      headers: { ...headers },
      body: request.body,
    },
    {
      signingDate,
      signableHeaders: new Set(signedHeaders),
      unsignableHeaders: new Set(SIGNER_HEADERS.filter((name) => !signedHeaders.includes(name))),
    },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(
      String(resigned.headers.authorization ?? resigned.headers.Authorization),
    )?.[1] ?? '';
  const same =
    expected.length === signature!.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature!));
  if (!same) {
    return mismatch(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { accessKeyId: accessKeyId! };
}
