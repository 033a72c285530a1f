// S3's public face for tests: an HTTPS server (a test CA's certificate for 127.0.0.1) that answers every
// GET https://127.0.0.1:PORT/PATH with the object s3://BUCKET/PATH from moto, as a virtual-hosted bucket or
// a CloudFront distribution serves it. STS, and `kirsa issuer verify`, fetch issuers over HTTPS only, while
// moto speaks HTTP; an issuer URL https://127.0.0.1:PORT/cluster-1 then publishes to the keys cluster-1/...
// of BUCKET (issuerKeyPrefix maps a non-S3 host's path to the key prefix).
// The objects are read with a signed GetObject, not anonymously: moto picks the service of an unsigned
// request by its path, and answers any .../.well-known/openid-configuration from its Cognito emulation
// (moto 5.2.5). moto does not enforce bucket policies for anonymous reads anyway (test/real-parts/issuer/aws.test.ts).

import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeServingCertificate } from './tls.ts';

export interface S3Https {
  /** https://HOST:PORT, or https://HOST on 443 */
  url: string;
  /** The CA that verifies the server: pass it to kirsa as --ca-file. */
  caFile: string;
  stop(): Promise<void>;
}

export async function startS3Https(
  motoEndpoint: string,
  bucket: string,
  {
    host = '127.0.0.1',
    port = 0,
  }: {
    /** Any loopback address (127.0.0.0/8): with port 443, an issuer URL without a port, as IAM wants. */
    host?: string;
    port?: number;
  } = {},
): Promise<S3Https> {
  const tls = await makeServingCertificate({ hosts: [host] });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: motoEndpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, async (request, response) => {
    const key = decodeURIComponent(new URL(request.url ?? '/', 'https://x').pathname.slice(1));
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await object.Body!.transformToByteArray());
      response.writeHead(200, {
        ...(object.ContentType ? { 'content-type': object.ContentType } : {}),
        'content-length': body.length,
      });
      response.end(body);
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      response.writeHead(status ?? 502, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    s3.destroy();
    await tls.cleanup();
    throw error;
  }
  const bound = (server.address() as { port: number }).port;
  return {
    url: bound === 443 ? `https://${host}` : `https://${host}:${bound}`,
    caFile: tls.caFile,
    async stop() {
      server.closeAllConnections();
      server.close();
      s3.destroy();
      await tls.cleanup();
    },
  };
}
