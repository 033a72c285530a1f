// s3-echoer: writes a message into an S3 bucket using nothing but the AWS SDK's default credential chain.
// In a pod that kirsa mutated, that chain finds AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, exchanges
// the projected token for role credentials with STS AssumeRoleWithWebIdentity, and signs the upload.
// It prints who it is (STS GetCallerIdentity) first, so a run shows which role the pod really got.
//
//   s3-echoer BUCKET [MESSAGE]     the message defaults to standard input
//   s3-echoer --whoami             only print the caller identity

import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(args: string[]): Promise<number> {
  const [bucket, ...words] = args;
  if (bucket === undefined || bucket === '--help') {
    process.stderr.write('usage: s3-echoer BUCKET [MESSAGE] | s3-echoer --whoami\n');
    return 2;
  }
  const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  process.stdout.write(`identity: ${identity.Arn}\n`);
  if (bucket === '--whoami') return 0;

  const message = words.length > 0 ? words.join(' ') : await readStdin();
  // Emulators serve buckets by path, not by virtual host; real S3 is happy with either.
  const s3 = new S3Client({
    forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL),
  });
  const key = `s3-echoer-${Date.now()}-${randomUUID().slice(0, 8)}`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: message, ContentType: 'text/plain' }));
  const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const readBack = await stored.Body?.transformToString();
  process.stdout.write(`uploaded: s3://${bucket}/${key}\nread back: ${readBack}\n`);
  return readBack === message ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error & { name?: string }) => {
    process.stderr.write(`s3-echoer: ${error.name}: ${error.message}\n`);
    process.exitCode = 1;
  },
);
