// Verifies the SigV4 signature of a request signed with credentials the local STS issued, by signing the
// same request again with the AWS SDK's own signer and comparing. Only the headers the caller signed take
// part, as in the real service.

import { timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { type StsError, stsError } from '../core/sts/protocol.ts';

export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SigningSecret {
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

function header(request: ReceivedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Parses X-Amz-Date (20261130T101500Z). */
function parseAmzDate(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** Returns the access key id when the signature holds, or the STS error the real service would answer. */
export async function verifySigV4(
  request: ReceivedRequest,
  lookup: (accessKeyId: string) => SigningSecret | undefined,
  now: Date,
): Promise<{ accessKeyId: string } | StsError> {
  const authorization = header(request, 'authorization');
  if (!authorization)
    return stsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
  const match = AUTHORIZATION.exec(authorization);
  if (!match)
    return stsError(
      'SignatureDoesNotMatch',
      'The Authorization header is not an AWS4-HMAC-SHA256 signature.',
    );
  const [, accessKeyId, , region, service, signedHeaderList, signature] = match as unknown as string[];
  const secret = lookup(accessKeyId!);
  if (!secret)
    return stsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (header(request, 'x-amz-security-token') !== secret.sessionToken) {
    return stsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  if (secret.expiration.getTime() <= now.getTime()) {
    return stsError('ExpiredToken', 'The security token included in the request is expired');
  }
  const signingDate = parseAmzDate(header(request, 'x-amz-date') ?? '');
  if (!signingDate) return stsError('SignatureDoesNotMatch', 'The request has no valid X-Amz-Date header.');
  if (Math.abs(signingDate.getTime() - now.getTime()) > 15 * 60_000) {
    return stsError(
      'SignatureDoesNotMatch',
      'Signature expired: the request time is more than 15 minutes from the server time.',
    );
  }

  const signedHeaders = signedHeaderList!.split(';');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = header(request, name) ?? '';
  const host = headers.host ?? '';
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: secret.secretAccessKey,
      sessionToken: secret.sessionToken,
    },
    region: region!,
    service: service!,
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
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders), unsignableHeaders: new Set() },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(
      String(resigned.headers.authorization ?? resigned.headers.Authorization),
    )?.[1] ?? '';
  const same =
    expected.length === signature!.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature!));
  if (!same) {
    return stsError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { accessKeyId: accessKeyId! };
}
