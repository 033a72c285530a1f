// `kirsa trust-policy` and `kirsa explain` as processes: real files, real exit codes, the printed explanation.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

const ISSUER = 'https://oidc.example.com/cluster-a';
const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kirsa-policy-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function token(claims: Record<string, unknown>, expiresIn = '1h'): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-kid' })
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(privateKey);
  const path = join(dir, `token-${Math.random().toString(36).slice(2)}.jwt`);
  await writeFile(path, `${jwt}\n`);
  return path;
}

/** The trust policy for the seed's service account, default/s3-echoer, from the issuer URL. */
function seedTrustPolicy() {
  return runKirsa([
    'trust-policy',
    '--issuer-url',
    ISSUER,
    '--account-id',
    '111122223333',
    '--service-account',
    's3-echoer',
  ]);
}

/** The seed's service account merged into the trust policy in `existing`. */
function mergeSeedInto(existing: string) {
  return runKirsa([
    'trust-policy',
    '--provider-arn',
    PROVIDER,
    '--service-account',
    's3-echoer',
    '--merge-into',
    existing,
  ]);
}

describe('kirsa trust-policy', () => {
  test('prints the policy for the seed service account', async () => {
    const run = await seedTrustPolicy();
    assert.equal(run.code, 0, run.stderr);
    const policy = JSON.parse(run.stdout);
    assert.deepEqual(policy.Statement[0].Principal, { Federated: PROVIDER });
    assert.deepEqual(policy.Statement[0].Condition.StringEquals, {
      [`${HOST}:sub`]: 'system:serviceaccount:default:s3-echoer',
      [`${HOST}:aud`]: 'sts.amazonaws.com',
    });
  });

  test('merges several accounts and clusters; --merge-into keeps foreign statements and a rerun is unchanged', async () => {
    const run = await runKirsa([
      'trust-policy',
      '--provider-arn',
      PROVIDER,
      '--provider-arn',
      'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-b',
      '--service-account',
      'team-*/app',
      '--service-account',
      'default/s3-echoer',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const policy = JSON.parse(run.stdout);
    assert.equal(policy.Statement.length, 2);
    assert.deepEqual(policy.Statement[1].Condition.StringLike, {
      'oidc.example.com/cluster-b:sub': [
        'system:serviceaccount:team-*:app',
        'system:serviceaccount:default:s3-echoer',
      ],
    });

    const existing = join(dir, 'existing.json');
    await writeFile(
      existing,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    );
    const merged = await mergeSeedInto(existing);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, /added system:serviceaccount:default:s3-echoer/);
    const mergedPolicy = JSON.parse(merged.stdout);
    assert.equal(mergedPolicy.Statement.length, 2);
    assert.equal(mergedPolicy.Statement[0].Principal.Service, 'ec2.amazonaws.com');
    await writeFile(existing, merged.stdout);
    const again = await mergeSeedInto(existing);
    assert.match(again.stderr, /unchanged/);
    assert.deepEqual(JSON.parse(again.stdout), mergedPolicy);
  });

  test('warns near the size quota', async () => {
    const accounts = Array.from({ length: 40 }, (_, index) => [
      '--service-account',
      `namespace/service-account-${index}`,
    ]).flat();
    const run = await runKirsa(['trust-policy', '--provider-arn', PROVIDER, ...accounts]);
    assert.equal(run.code, 0);
    assert.match(run.stderr, /warning: the trust policy is \d+ characters, over IAM's 2048-character quota/);
  });

  test('bad input is one line and a hint, exit 2', async () => {
    const run = await runKirsa([
      'trust-policy',
      '--issuer-url',
      'http://oidc.example.com',
      '--account-id',
      '111122223333',
      '--service-account',
      'x',
    ]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^kirsa: issuer URL http:\/\/oidc.example.com: it must use https, not http\n {2}hint: /,
    );
    const missing = await runKirsa(['trust-policy', '--issuer-url', ISSUER, '--service-account', 'x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--issuer-url needs --account-id/);
    assertErrorCode(missing.stderr, 'FLAG_REQUIRED');
  });
});

describe('kirsa explain', () => {
  let policyFile: string;
  const explainFor = (serviceAccount: string, ...extra: string[]) =>
    runKirsa([
      'explain',
      '--policy-file',
      policyFile,
      '--issuer-url',
      ISSUER,
      '--service-account',
      serviceAccount,
      ...extra,
    ]);
  before(async () => {
    const run = await seedTrustPolicy();
    policyFile = join(dir, 'trust.json');
    await writeFile(policyFile, run.stdout);
  });

  test("the seed's AccessDenied: the pod runs as default/app, exit 1 with the failed condition and fix", async () => {
    const run = await explainFor('app');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^denied: no Allow statement matches sts:AssumeRoleWithWebIdentity/);
    assert.match(
      run.stdout,
      /statement 1, Condition StringEquals oidc.example.com\/cluster-a:sub\n {2}why: {3}the policy names service account default\/s3-echoer, the token is for default\/app\n {2}saw: {3}"system:serviceaccount:default:app"\n {2}wants: "system:serviceaccount:default:s3-echoer"\n {2}fix: /,
    );
  });

  test('allowed is exit 0', async () => {
    const run = await explainFor('s3-echoer');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^allowed by statement 1/);
  });

  test('--token-file reads iss, sub and aud without verifying, and says so', async () => {
    const good = await token({ sub: 'system:serviceaccount:default:s3-echoer', aud: ['sts.amazonaws.com'] });
    const run = await runKirsa(['explain', '--policy-file', policyFile, '--token-file', good, '-o', 'json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const answer = JSON.parse(run.stdout);
    assert.equal(answer.decision, 'allow');
    assert.equal(answer.principalFederated, PROVIDER);
    assert.match(answer.notes.join('\n'), /without verifying its signature/);

    const wrongAudience = await token({
      sub: 'system:serviceaccount:default:s3-echoer',
      aud: 'amazonaws.com',
    });
    const denied = await runKirsa(['explain', '--policy-file', policyFile, '--token-file', wrongAudience]);
    assert.equal(denied.code, 1);
    assert.match(
      denied.stdout,
      /why: {3}the audience is "amazonaws.com", the policy wants "sts.amazonaws.com"/,
    );

    const expired = await token(
      { sub: 'system:serviceaccount:default:s3-echoer', aud: 'sts.amazonaws.com' },
      '-2h',
    );
    const late = await runKirsa(['explain', '--policy-file', policyFile, '--token-file', expired]);
    assert.match(late.stdout, /ExpiredTokenException/);
  });

  test('--token-file: the claims are judged by the STS token rules, clock skew included', async () => {
    const notesFor = async (file: string) => {
      const run = await runKirsa([
        'explain',
        '--policy-file',
        policyFile,
        '--token-file',
        file,
        '-o',
        'json',
      ]);
      return (JSON.parse(run.stdout) as { notes: string[] }).notes.join('\n');
    };
    const sub = 'system:serviceaccount:default:s3-echoer';
    // A minute past exp is inside the five minutes of clock skew STS allows: not refused.
    assert.doesNotMatch(await notesFor(await token({ sub, aud: 'sts.amazonaws.com' }, '-1m')), /expired/);
    assert.match(
      await notesFor(await token({ sub, aud: 'sts.amazonaws.com' }, '-2h')),
      /STS would refuse the token before reading the trust policy: the token expired at \S+ \(ExpiredTokenException\)/,
    );
    assert.match(
      await notesFor(await token({ sub, aud: ['sts.amazonaws.com', 'other'] })),
      /STS would refuse the token before reading the trust policy: the token has several audiences and no azp/,
    );
  });

  test('a provider in another account is named as the principal failure', async () => {
    const run = await explainFor('s3-echoer', '--account-id', '444455556666');
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /Principal\n {2}why: {3}the policy trusts the provider in account 111122223333, the token was checked by the provider in account 444455556666/,
    );
  });

  test('usage errors exit 2', async () => {
    const both = await runKirsa(['explain', '--issuer-url', ISSUER, '--service-account', 'x']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give exactly one of --policy-file and --role-arn/);
    assertErrorCode(both.stderr, 'FLAG_CONFLICT');
    const notJwt = join(dir, 'not.jwt');
    await writeFile(notJwt, 'hello');
    const bad = await runKirsa(['explain', '--policy-file', policyFile, '--token-file', notJwt]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a JWT/);
    assertErrorCode(bad.stderr, 'TOKEN_MALFORMED');
  });
});
