// Two more views of kirsa's local STS: the AWS CLI (botocore, a second real client) against it, and the same
// successful calls through the JavaScript SDK against moto, whose STS does not judge tokens, to show the SDK
// reads both services' answers alike.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandOutput,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { buildStsConfig } from '../../../src/sts/config.ts';
import { createIssuerKeySource } from '../../../src/sts/issuer-keys.ts';
import { type RunningSts, startStsServer } from '../../../src/sts/server.ts';
import { type MotoServer, startMoto } from '../../support/moto.ts';
import { startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';
import { realPart } from '../../support/real-parts.ts';

const ACCOUNT = '123456789012'; // moto's default account, so both services name the same role
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-echoer`;
const testing = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let issuer: TestIssuer;
let sts: RunningSts;
const dir = mkdtempSync(join(tmpdir(), 'kirsa-sts-clients-'));

before(async () => {
  issuer = await startTestIssuer();
  const hostPath = issuer.url.replace('https://', '');
  const config = await buildStsConfig(
    {
      providers: [{ url: issuer.url, clientIds: ['sts.amazonaws.com'] }],
      roles: [
        {
          arn: ROLE,
          trustPolicy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${hostPath}` },
                Action: 'sts:AssumeRoleWithWebIdentity',
                Condition: {
                  StringEquals: { [`${hostPath}:sub`]: 'system:serviceaccount:default:s3-echoer' },
                },
              },
            ],
          },
        },
      ],
    },
    'test',
    dir,
  );
  sts = await startStsServer({ config, keySource: createIssuerKeySource({ extraCaPem: [issuer.caPem] }) });
});

after(async () => {
  await sts?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

function aws(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      binary,
      args,
      {
        env: {
          PATH: process.env.PATH,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_DEFAULT_REGION: 'us-east-1',
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) || 1 : 0, stdout, stderr }),
    ),
  );
}

describe('the AWS CLI against kirsa sts serve', () => {
  test('aws sts assume-role-with-web-identity returns the role credentials', async (context) => {
    const cli = realPart(context, 'KIRSA_AWS_CLI');
    if (!cli) return;
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' });
    const run = await aws(
      cli,
      [
        'sts',
        'assume-role-with-web-identity',
        '--role-arn',
        ROLE,
        '--role-session-name',
        'cli',
        '--web-identity-token',
        token,
        '--duration-seconds',
        '900',
        '--output',
        'json',
      ],
      { AWS_ENDPOINT_URL_STS: sts.url },
    );
    assert.equal(run.code, 0, run.stderr);
    const answer = JSON.parse(run.stdout);
    assert.match(answer.Credentials.AccessKeyId, /^ASIA/);
    assert.equal(answer.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/cli`);
    assert.equal(answer.SubjectFromWebIdentityToken, 'system:serviceaccount:default:s3-echoer');
    const lifetime = (Date.parse(answer.Credentials.Expiration) - Date.now()) / 1000;
    assert.ok(lifetime > 880 && lifetime <= 900, `${lifetime}`);
  });

  test('aws sts get-caller-identity through the web-identity env, and a denial with its code', async (context) => {
    const cli = realPart(context, 'KIRSA_AWS_CLI');
    if (!cli) return;
    const tokenFile = join(dir, 'token');
    writeFileSync(
      tokenFile,
      await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' }),
    );
    const env = { AWS_ENDPOINT_URL_STS: sts.url, AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile };
    const identity = await aws(cli, ['sts', 'get-caller-identity', '--output', 'json'], env);
    assert.equal(identity.code, 0, identity.stderr);
    assert.match(
      JSON.parse(identity.stdout).Arn,
      new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/botocore-session-\\d+$`),
    );

    writeFileSync(
      tokenFile,
      await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 'app' }),
    );
    const denied = await aws(cli, ['sts', 'get-caller-identity'], env);
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /\(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation: Not authorized/,
    );
    assert.match(denied.stderr, /the token is for default\/app/);
  });
});

describe('the same successful calls against moto and kirsa: the SDK reads both alike', () => {
  let moto: MotoServer | undefined;
  after(async () => moto?.stop());

  test('AssumeRoleWithWebIdentity and GetCallerIdentity have the same shape from both', async (context) => {
    if (!realPart(context, 'KIRSA_MOTO_SERVER')) return;
    moto = await startMoto();
    await new IAMClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: testing }).send(
      new CreateRoleCommand({
        RoleName: 's3-echoer',
        AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
      }),
    );
    const token = await issuer.serviceAccountToken({ namespace: 'default', serviceAccount: 's3-echoer' });
    const shapes: string[] = [];
    const identities: string[] = [];
    for (const endpoint of [sts.url, moto.endpoint]) {
      const client = new STSClient({ endpoint, region: 'us-east-1', credentials: testing });
      const granted: AssumeRoleWithWebIdentityCommandOutput = await client.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: ROLE,
          RoleSessionName: 'both',
          WebIdentityToken: token,
        }),
      );
      const { $metadata, ...output } = granted;
      assert.equal($metadata.httpStatusCode, 200);
      // The fields the SDK filled and their types, independent of the values each service chose.
      const shape = (value: unknown): unknown =>
        value instanceof Date
          ? 'Date'
          : value && typeof value === 'object'
            ? Object.fromEntries(
                Object.entries(value)
                  .sort()
                  .map(([key, inner]) => [key, shape(inner)]),
              )
            : typeof value;
      shapes.push(
        JSON.stringify(shape({ Credentials: output.Credentials, AssumedRoleUser: output.AssumedRoleUser })),
      );
      assert.ok(granted.Credentials!.Expiration!.getTime() > Date.now());
      assert.match(
        granted.AssumedRoleUser!.Arn!,
        new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/both$`),
      );
      const signed = new STSClient({
        endpoint,
        region: 'us-east-1',
        credentials: {
          accessKeyId: granted.Credentials!.AccessKeyId!,
          secretAccessKey: granted.Credentials!.SecretAccessKey!,
          sessionToken: granted.Credentials!.SessionToken!,
        },
      });
      identities.push((await signed.send(new GetCallerIdentityCommand({}))).Arn!);
    }
    assert.equal(shapes[0], shapes[1], 'kirsa and moto answers fill the same fields with the same types');
    assert.deepEqual(identities, [
      `arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/both`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/s3-echoer/both`,
    ]);
  });
});
