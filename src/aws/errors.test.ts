import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import {
  GetRoleCommand,
  IAMClient,
  LimitExceededException,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { NoSuchBucket, S3ServiceException } from '@aws-sdk/client-s3';
import { awsError, awsErrorCode } from './errors.ts';

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

describe('one AWS error mapper, by name and status', () => {
  test('service exceptions map to their codes whatever their message says', () => {
    assert.equal(
      awsErrorCode(new NoSuchEntityException({ message: 'credentials are fine', ...metadata(404) })),
      'AWS_NOT_FOUND',
    );
    assert.equal(
      awsErrorCode(new MalformedPolicyDocumentException({ message: 'bad', ...metadata(400) })),
      'AWS_REJECTED_INPUT',
    );
    assert.equal(
      awsErrorCode(new LimitExceededException({ message: 'x', ...metadata(409) })),
      'AWS_LIMIT_EXCEEDED',
    );
    assert.equal(awsErrorCode(new NoSuchBucket({ message: 'x', ...metadata(404) })), 'AWS_NOT_FOUND');
  });

  test('an unnamed 403 (as moto sends S3 Control) is access denied, an unnamed 500 is a plain failure', () => {
    const forbidden = new S3ServiceException({
      name: 'Unknown',
      $fault: 'client',
      message: 'x',
      ...metadata(403),
    });
    assert.equal(awsErrorCode(forbidden), 'AWS_ACCESS_DENIED');
    const broken = new S3ServiceException({
      name: 'Unknown',
      $fault: 'server',
      message: 'x',
      ...metadata(500),
    });
    assert.equal(awsErrorCode(broken), 'AWS_FAILED');
  });

  test('a message mentioning credentials does not make an error a credentials error', () => {
    // The old S3 mapper matched /credential/ in the message; IAM's own messages mention credentials.
    const error = new S3ServiceException({
      name: 'InternalError',
      $fault: 'server',
      message: 'could not validate the credentials',
      ...metadata(500),
    });
    assert.equal(awsErrorCode(error), 'AWS_FAILED');
  });

  test('a refused connection from the real SDK is unreachable, with the call named and a hint', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new IAMClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const failure = await client.send(new GetRoleCommand({ RoleName: 'app' })).then(
      () => assert.fail('the call should fail'),
      (error: unknown) => error,
    );
    const mapped = awsError(failure, 'GetRole app');
    assert.equal(mapped.code, 'AWS_UNREACHABLE');
    assert.equal(mapped.category, 'UNREACHABLE');
    assert.equal(mapped.exitCode, 1);
    assert.match(mapped.message, /^GetRole app: cannot reach AWS: connection refused \(ECONNREFUSED\)/);
    assert.match(mapped.hint ?? '', /--endpoint-url/);
  });

  test('a caller may give a better hint for its own service', () => {
    const denied = new S3ServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      message: 'no',
      ...metadata(403),
    });
    const mapped = awsError(denied, 'bucket b', { AWS_ACCESS_DENIED: 'grant s3:PutObject' });
    assert.equal(mapped.code, 'AWS_ACCESS_DENIED');
    assert.equal(mapped.message, 'bucket b: access denied (no)');
    assert.equal(mapped.hint, 'grant s3:PutObject');
  });
});
