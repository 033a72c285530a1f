// kirsa's local STS against the real AWS SDK for JavaScript: every outcome of AssumeRoleWithWebIdentity and
// GetCallerIdentity, with tokens from a real HTTPS issuer on loopback.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandOutput,
  GetCallerIdentityCommand,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { buildStsConfig } from '../../../src/sts/config.ts';
import { createIssuerKeySource } from '../../../src/sts/issuer-keys.ts';
import { type RunningSts, startStsServer } from '../../../src/sts/server.ts';
import { startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-echoer`;
const LONG_ROLE = `arn:aws:iam::${ACCOUNT}:role/long-sessions`;
const dummyCredentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'not-used-for-unsigned-calls',
};

let issuer: TestIssuer;
let sts: RunningSts;
let client: STSClient;
const dir = mkdtempSync(join(tmpdir(), 'kirsa-sts-'));

function trustPolicy(hostPath: string, subject: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${hostPath}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { [`${hostPath}:sub`]: subject, [`${hostPath}:aud`]: 'sts.amazonaws.com' },
        },
      },
    ],
  };
}

before(async () => {
  issuer = await startTestIssuer();
  const hostPath = issuer.url.replace('https://', '');
  const config = await buildStsConfig(
    {
      providers: [
        { url: issuer.url, clientIds: ['sts.amazonaws.com'] },
        // A provider whose issuer does not answer: STS cannot reach the identity provider.
        { url: 'https://127.0.0.1:9', clientIds: ['sts.amazonaws.com'] },
      ],
      roles: [
        { arn: ROLE, trustPolicy: trustPolicy(hostPath, 'system:serviceaccount:default:s3-echoer') },
        {
          arn: LONG_ROLE,
          maxSessionDuration: 7200,
          trustPolicy: JSON.stringify(trustPolicy(hostPath, 'system:serviceaccount:default:s3-echoer')),
        },
        {
          arn: `arn:aws:iam::${ACCOUNT}:role/unreachable`,
          trustPolicy: trustPolicy('127.0.0.1:9', 'system:serviceaccount:default:s3-echoer'),
        },
      ],
    },
    'test config',
    dir,
  );
  sts = await startStsServer({
    config,
    // No refetch interval here: the unknown-kid test below wants its one fresh look right after the others
    // fetched (the interval has its own test in test/loopback/reliability/sts-attacks.test.ts).
    keySource: createIssuerKeySource({ extraCaPem: [issuer.caPem], timeoutMs: 1000, refetchIntervalMs: 0 }),
  });
  client = new STSClient({ endpoint: sts.url, region: 'us-east-1', credentials: dummyCredentials });
});

after(async () => {
  await sts?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function assume(token: string, extra: { RoleArn?: string; DurationSeconds?: number } = {}) {
  return client.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: ROLE,
      RoleSessionName: 'test-session',
      WebIdentityToken: token,
      ...extra,
    }),
  );
}

async function assumeFails(
  token: string,
  extra: { RoleArn?: string; DurationSeconds?: number } = {},
): Promise<STSServiceException> {
  try {
    await assume(token, extra);
  } catch (error) {
    assert.ok(error instanceof STSServiceException, `expected an STS error, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

describe('kirsa sts: AssumeRoleWithWebIdentity', () => {
  let granted: AssumeRoleWithWebIdentityCommandOutput;

  test('a token for the trusted service account gets credentials the SDK reads', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' });
    const started = Date.now();
    granted = await assume(token);
    assert.match(granted.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/);
    assert.equal(granted.Credentials?.SecretAccessKey?.length, 40);
    assert.ok(granted.Credentials?.SessionToken);
    const lifetime = (granted.Credentials!.Expiration!.getTime() - started) / 1000;
    assert.ok(lifetime > 3590 && lifetime <= 3601, `default session is one hour, got ${lifetime}`);
    assert.equal(granted.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/test-session`);
    assert.match(granted.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z2-7]{17}:test-session$/);
    assert.equal(granted.SubjectFromWebIdentityToken, 'system:serviceaccount:default:s3-echoer');
    assert.equal(granted.Audience, 'sts.amazonaws.com');
    assert.equal(granted.Provider, issuer.url);
  });

  test('GetCallerIdentity with those credentials answers with the assumed role', async () => {
    const signed = new STSClient({
      endpoint: sts.url,
      region: 'us-east-1',
      credentials: {
        accessKeyId: granted.Credentials!.AccessKeyId!,
        secretAccessKey: granted.Credentials!.SecretAccessKey!,
        sessionToken: granted.Credentials!.SessionToken!,
      },
    });
    const identity = await signed.send(new GetCallerIdentityCommand({}));
    assert.equal(identity.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/test-session`);
    assert.equal(identity.Account, ACCOUNT);
    assert.equal(identity.UserId, granted.AssumedRoleUser?.AssumedRoleId);
  });

  test('GetCallerIdentity: a wrong secret, an unknown key and a missing signature are refused', async () => {
    const base = {
      accessKeyId: granted.Credentials!.AccessKeyId!,
      secretAccessKey: granted.Credentials!.SecretAccessKey!,
      sessionToken: granted.Credentials!.SessionToken!,
    };
    const call = (credentials: typeof base) =>
      new STSClient({ endpoint: sts.url, region: 'us-east-1', credentials, maxAttempts: 1 }).send(
        new GetCallerIdentityCommand({}),
      );
    await assert.rejects(
      call({ ...base, secretAccessKey: `${base.secretAccessKey.slice(0, -1)}x` }),
      (error: STSServiceException) => {
        assert.equal(error.name, 'SignatureDoesNotMatch');
        assert.equal(error.$metadata.httpStatusCode, 403);
        return true;
      },
    );
    await assert.rejects(call({ ...base, accessKeyId: 'ASIAAAAAAAAAAAAAAAAA' }), {
      name: 'InvalidClientTokenId',
    });
    await assert.rejects(call({ ...base, sessionToken: 'forged' }), { name: 'InvalidClientTokenId' });
    const unsigned = await fetch(sts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /<Code>MissingAuthenticationToken<\/Code>/);
  });

  test('the wrong audience is InvalidIdentityToken', async () => {
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      audience: 'vault',
    });
    const error = await assumeFails(token);
    // The SDK names modelled errors by class: this proves the wire code is the one the STS model defines.
    assert.equal(error.name, 'InvalidIdentityTokenException');
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.match(error.message, /^Incorrect token audience: "vault"/);
  });

  test('an issuer without a provider is InvalidIdentityToken naming it', async () => {
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      claims: { iss: 'https://elsewhere.example.com' },
    });
    const error = await assumeFails(token);
    assert.equal(error.name, 'InvalidIdentityTokenException');
    assert.equal(
      error.message,
      'No OpenIDConnect provider found in your account for https://elsewhere.example.com',
    );
  });

  test('a token signed by another key under the published kid is InvalidIdentityToken', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      key: privateKey,
    });
    const error = await assumeFails(token);
    assert.equal(error.name, 'InvalidIdentityTokenException');
    assert.match(error.message, /signature does not verify/);
  });

  test('a kid the JWKS does not publish is refused after one fresh look at the JWKS', async () => {
    const before = issuer.jwksRequests();
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      kid: 'rotated-in-later',
    });
    const error = await assumeFails(token);
    assert.equal(error.name, 'InvalidIdentityTokenException');
    assert.match(
      error.message,
      /^Couldn't retrieve verification key from your identity provider.*kid "rotated-in-later"/,
    );
    assert.equal(issuer.jwksRequests() - before, 1);
  });

  test('a token expired beyond the five-minute skew is ExpiredTokenException; within it, still good', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      claims: { iat: now - 4000, nbf: now - 4000, exp: now - 301 - 5 },
    });
    const error = await assumeFails(expired);
    assert.equal(error.name, 'ExpiredTokenException');
    assert.equal(error.$metadata.httpStatusCode, 400);
    const withinSkew = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      claims: { iat: now - 4000, nbf: now - 4000, exp: now - 200 },
    });
    assert.ok((await assume(withinSkew)).Credentials);
  });

  test('a token without iat is refused: STS requires it', async () => {
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      claims: { iat: undefined },
    });
    const error = await assumeFails(token);
    assert.equal(error.message, 'Missing a required claim: iat');
  });

  test('an empty aud list is a missing aud, even with azp naming a client ID', async () => {
    // The STS used to take azp as the audience here and grant the role; AWS reads no audience in [].
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      audience: [],
      claims: { azp: 'sts.amazonaws.com' },
    });
    const error = await assumeFails(token);
    assert.equal(error.name, 'InvalidIdentityTokenException');
    assert.equal(error.message, 'Missing a required claim: aud');
  });

  test('a trust policy for another service account is AccessDenied with kirsa explaining the condition', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 'app' });
    const error = await assumeFails(token);
    assert.equal(error.name, 'AccessDenied');
    assert.equal(error.$metadata.httpStatusCode, 403);
    assert.match(error.message, /^Not authorized to perform sts:AssumeRoleWithWebIdentity\. kirsa: denied:/);
    assert.match(
      error.message,
      /the policy names service account default\/s3-echoer, the token is for default\/app; fix: /,
    );
  });

  test('a role the STS does not know is AccessDenied', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' });
    const error = await assumeFails(token, { RoleArn: `arn:aws:iam::${ACCOUNT}:role/nope` });
    assert.equal(error.name, 'AccessDenied');
    assert.match(error.message, /no role .*role\/nope is configured/);
  });

  test('session length: DurationSeconds is honoured up to the role maximum', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' });
    const started = Date.now();
    const short = await assume(token, { DurationSeconds: 900 });
    const lifetime = (short.Credentials!.Expiration!.getTime() - started) / 1000;
    assert.ok(lifetime > 890 && lifetime <= 901, `got ${lifetime}`);
    const tooLong = await assumeFails(token, { DurationSeconds: 7200 });
    assert.equal(tooLong.name, 'ValidationError');
    assert.match(tooLong.message, /exceeds the MaxSessionDuration set for this role \(3600 seconds\)/);
    const long = await assume(token, { RoleArn: LONG_ROLE, DurationSeconds: 7200 });
    assert.ok(long.Credentials!.Expiration!.getTime() - started > 7100 * 1000);
    const outOfRange = await assumeFails(token, { DurationSeconds: 100 });
    assert.equal(outOfRange.name, 'ValidationError');
  });

  test('an unreachable identity provider is IDPCommunicationError', async () => {
    const token = await issuer.serviceAccountToken({
      namespace: 'default',
      serviceAccount: 's3-echoer',
      claims: { iss: 'https://127.0.0.1:9' },
    });
    const error = await assumeFails(token, { RoleArn: `arn:aws:iam::${ACCOUNT}:role/unreachable` });
    assert.equal(error.name, 'IDPCommunicationErrorException');
  });

  test('not a JWT, and missing parameters, are refused with the real codes', async () => {
    assert.equal((await assumeFails('not.a.jwt')).name, 'InvalidIdentityTokenException');
    const response = await fetch(sts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x',
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /<Code>ValidationError<\/Code>/);
    const unknown = await fetch(`${sts.url}/?Action=AssumeRole&Version=2011-06-15`);
    assert.match(await unknown.text(), /<Code>InvalidAction<\/Code>/);
  });
});

describe('kirsa sts serve as a process', () => {
  test('the SDK default credential chain in a child process gets the role through AWS_ENDPOINT_URL_STS', async () => {
    const config = join(dir, 'sts.yaml');
    const hostPath = issuer.url.replace('https://', '');
    writeFileSync(
      config,
      `providers:\n  - url: ${issuer.url}\n    clientIds: [sts.amazonaws.com]\nextraCaFiles: [${issuer.caFile}]\nroles:\n  - arn: ${ROLE}\n    trustPolicy: ${JSON.stringify(JSON.stringify(trustPolicy(hostPath, 'system:serviceaccount:default:s3-echoer')))}\n`,
    );
    const { spawn } = await import('node:child_process');
    const { KIRSA_BIN } = await import('../../support/run-kirsa.ts');
    const server = spawn(process.execPath, [KIRSA_BIN, 'sts', 'serve', '--config', config, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        server.once('exit', (code) => reject(new Error(`kirsa sts serve exited ${code}`)));
      });
      const tokenFile = join(dir, 'token');
      writeFileSync(
        tokenFile,
        await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' }),
      );
      const echoer = join(import.meta.dirname, '../../../examples/s3-echoer/s3-echoer.ts');
      const { execFile } = await import('node:child_process');
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [echoer, '--whoami'],
          {
            env: {
              PATH: process.env.PATH,
              AWS_ROLE_ARN: ROLE,
              AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
              AWS_REGION: 'us-east-1',
              AWS_ENDPOINT_URL_STS: url,
            },
          },
          (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      assert.match(
        output,
        new RegExp(`identity: arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/aws-sdk-js-session-\\d+`),
      );
    } finally {
      server.kill('SIGTERM');
    }
  });

  test('a bad config file is one line and a hint, exit 2', async () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'providers: []\nroles: []\n');
    const run = await runKirsa(['sts', 'serve', '--config', config]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /bad\.yaml: providers must be a non-empty list\n {2}hint: /);
  });
});
