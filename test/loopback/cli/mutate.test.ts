// `kirsa mutate` as a process, on real files.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { applyJsonPatch } from '../../support/json-tools.ts';
import { assertErrorCode, runKirsa } from '../../support/run-kirsa.ts';

const ROLE = 'arn:aws:iam::111122223333:role/s3-echoer';
const dir = mkdtempSync(join(tmpdir(), 'kirsa-mutate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: s3-echoer
spec:
  serviceAccountName: s3-echoer
  containers:
    - name: main
      image: s3-echoer
      startupProbe: {grpc: {port: 1}}
`;

const WORKLOADS = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: shop
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app
    eks.amazonaws.com/token-expiration: "3600"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      serviceAccountName: app
      containers: [{name: web, image: nginx}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: app
          containers: [{name: job, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: shop}
spec:
  template:
    spec:
      serviceAccountName: nobody
      containers: [{name: x, image: x}]
`;

type Env = Array<{ name: string; value?: string }>;

describe('kirsa mutate', () => {
  test('prints the mutated pod as YAML, keeping every field', async () => {
    const run = await runKirsa(['mutate', '-f', file('pod.yaml', POD), '--role-arn', ROLE]);
    assert.equal(run.code, 0, run.stderr);
    const pod = parse(run.stdout);
    const container = pod.spec.containers[0];
    assert.deepEqual(container.startupProbe, { grpc: { port: 1 } });
    assert.deepEqual(container.env, [
      { name: 'AWS_ROLE_ARN', value: ROLE },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ]);
    assert.equal(pod.spec.volumes[0].projected.sources[0].serviceAccountToken.audience, 'sts.amazonaws.com');
    assert.equal(run.stderr, '');
  });

  test('reads standard input and prints JSON; flags take the reference forms', async () => {
    const run = await runKirsa(
      [
        'mutate',
        '-f',
        '-',
        '--role-arn',
        ROLE,
        '-o',
        'json',
        '--sts-regional-endpoint',
        '--aws-default-region=eu-west-1',
        '--token-expiration',
        '100',
      ],
      { input: POD },
    );
    assert.equal(run.code, 0, run.stderr);
    const pod = JSON.parse(run.stdout);
    assert.deepEqual(
      (pod.spec.containers[0].env as Env).map((entry) => entry.name),
      [
        'AWS_STS_REGIONAL_ENDPOINTS',
        'AWS_DEFAULT_REGION',
        'AWS_REGION',
        'AWS_ROLE_ARN',
        'AWS_WEB_IDENTITY_TOKEN_FILE',
      ],
    );
    assert.equal(pod.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds, 600);
    const off = await runKirsa(
      ['mutate', '-f', '-', '--role-arn', ROLE, '-o', 'json', '--sts-regional-endpoint=false'],
      { input: POD },
    );
    assert.ok(
      !(JSON.parse(off.stdout).spec.containers[0].env as Env).some(
        (entry) => entry.name === 'AWS_STS_REGIONAL_ENDPOINTS',
      ),
    );
  });

  test('workloads take the identity of their service account from the same file', async () => {
    const run = await runKirsa(['mutate', '-f', file('workloads.yaml', WORKLOADS)]);
    assert.equal(run.code, 0, run.stderr);
    const [serviceAccount, web, nightly, other] = parseAllDocuments(run.stdout).map((document) =>
      document.toJS(),
    );
    assert.equal(serviceAccount.kind, 'ServiceAccount');
    assert.equal(web.spec.template.spec.containers[0].env[0].value, 'arn:aws:iam::111122223333:role/app');
    assert.equal(
      web.spec.template.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds,
      3600,
    );
    assert.equal(nightly.spec.jobTemplate.spec.template.spec.containers[0].env[0].name, 'AWS_ROLE_ARN');
    assert.equal(other.spec.template.spec.containers[0].env, undefined);
    assert.match(run.stderr, /Deployment\/other: service account shop\/nobody has no role; left unchanged/);
  });

  test('-o patch prints operations that apply to each document', async () => {
    const run = await runKirsa(['mutate', '-f', file('workloads2.yaml', WORKLOADS), '-o', 'patch']);
    assert.equal(run.code, 0, run.stderr);
    const patches = JSON.parse(run.stdout) as Array<{ kind: string; name: string; patch: unknown[] }>;
    assert.deepEqual(
      patches.map((entry) => [entry.kind, entry.name, entry.patch.length > 0]),
      [
        ['Deployment', 'web', true],
        ['CronJob', 'nightly', true],
        ['Deployment', 'other', false],
      ],
    );
    const deployment = parseAllDocuments(WORKLOADS)[1]!.toJS();
    const patched = applyJsonPatch(deployment, patches[0]!.patch);
    assert.equal(patched.spec.template.spec.containers[0].volumeMounts[0].name, 'aws-iam-token');
  });

  test('identities from --service-account and --identities-file', async () => {
    const serviceAccount = file(
      'sa.yaml',
      `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: s3-echoer\n  annotations:\n    eks.amazonaws.com/role-arn: ${ROLE}\n    eks.amazonaws.com/audience: custom\n`,
    );
    const fromSa = await runKirsa([
      'mutate',
      '-f',
      file('pod2.yaml', POD),
      '--service-account',
      serviceAccount,
      '-o',
      'json',
    ]);
    assert.equal(fromSa.code, 0, fromSa.stderr);
    assert.equal(
      JSON.parse(fromSa.stdout).spec.volumes[0].projected.sources[0].serviceAccountToken.audience,
      'custom',
    );

    const mapping = file(
      'ids.json',
      JSON.stringify({ 'default/s3-echoer': { RoleARN: ROLE, TokenExpiration: 7200 }, broken: {} }),
    );
    const fromMapping = await runKirsa([
      'mutate',
      '-f',
      file('pod3.yaml', POD),
      '--identities-file',
      mapping,
      '-o',
      'json',
    ]);
    assert.equal(fromMapping.code, 0, fromMapping.stderr);
    assert.equal(
      JSON.parse(fromMapping.stdout).spec.volumes[0].projected.sources[0].serviceAccountToken
        .expirationSeconds,
      7200,
    );
    assert.match(fromMapping.stderr, /key "broken" is not "namespace\/serviceaccount"; skipped/);
  });

  test('conflicts are warnings on stderr, the pod is printed unchanged; a bad --role-arn exits 2', async () => {
    const conflicted = `${POD}  volumes:\n    - name: aws-iam-token\n      hostPath: {path: /x}\n`;
    const run = await runKirsa([
      'mutate',
      '-f',
      file('conflict.yaml', conflicted),
      '--role-arn',
      ROLE,
      '-o',
      'json',
    ]);
    assert.equal(run.code, 0);
    assert.equal(JSON.parse(run.stdout).spec.containers[0].env, undefined);
    assert.match(
      run.stderr,
      /Pod\/s3-echoer: warning: kirsa: the pod already has a volume "aws-iam-token" \(a hostPath volume\)/,
    );
    // A flag is the user's own input: refused (exit 2), unlike a bad annotation the webhook would meet.
    const bad = await runKirsa(['mutate', '-f', file('pod4.yaml', POD), '--role-arn', 's3-echoer']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^kirsa: "s3-echoer" is not an IAM role ARN/);
    assertErrorCode(bad.stderr, 'ARN_INVALID');
    assert.equal(bad.stdout, '');
  });

  test('the kirsa extensions, offline: wildcard accounts, regions, session names, include-containers, fsGroup', async () => {
    const mapping = file(
      'wildcards.json',
      JSON.stringify({
        'team-a/ci-*': { RoleARN: 'arn:aws:iam::111122223333:role/ci', Region: 'eu-west-1' },
        'team-*/*': { RoleARN: 'arn:aws:iam::111122223333:role/team' },
      }),
    );
    const pod = (name: string, namespace: string, serviceAccount: string, extra = '') =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  serviceAccountName: ${serviceAccount}\n  containers: [{name: app, image: x}]\n${extra}`;
    const manifests = [
      'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: gov\n  namespace: gov\n  annotations: {eks.amazonaws.com/role-arn: "arn:aws-us-gov:iam::111122223333:role/team!ops/app"}\n',
      pod('ci-1', 'team-a', 'ci-runner'),
      pod('web-1', 'team-b', 'web'),
      pod('gov-1', 'gov', 'gov'),
      `apiVersion: v1\nkind: Pod\nmetadata: {name: from-env, namespace: team-b}\nspec:\n  serviceAccountName: web\n  containers: [{name: app, envFrom: [{configMapRef: {name: settings}}]}]\n`,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: some, namespace: team-b, annotations: {eks.amazonaws.com/include-containers: app}}\nspec:\n  serviceAccountName: web\n  containers: [{name: app}, {name: proxy}]\n`,
      pod('plain-1', 'other', 'nobody'),
    ].join('---\n');
    const run = await runKirsa([
      'mutate',
      '-f',
      file('extensions.yaml', manifests),
      '--identities-file',
      mapping,
      '--aws-default-region',
      'us-east-1',
      '--inject-role-session-name',
      '--inject-region-without-role',
      '--inject-fs-group',
      '65534',
      '-o',
      'json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const byName = Object.fromEntries(
      JSON.parse(run.stdout).items.map((item: { metadata: { name: string } }) => [item.metadata.name, item]),
    );
    const env = (name: string, index = 0) =>
      Object.fromEntries(
        (byName[name].spec.containers[index].env ?? []).map((entry: { name: string; value?: string }) => [
          entry.name,
          entry.value ?? entry,
        ]),
      );
    assert.equal(
      env('ci-1').AWS_ROLE_ARN,
      'arn:aws:iam::111122223333:role/ci',
      'exact namespace, account glob',
    );
    assert.equal(env('ci-1').AWS_REGION, 'eu-west-1', "the entry's Region");
    assert.deepEqual(env('ci-1').AWS_ROLE_SESSION_NAME, {
      name: 'AWS_ROLE_SESSION_NAME',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    assert.equal(env('web-1').AWS_ROLE_ARN, 'arn:aws:iam::111122223333:role/team', 'both globs');
    assert.equal(env('gov-1').AWS_ROLE_ARN, 'arn:aws-us-gov:iam::111122223333:role/team!ops/app');
    assert.equal(env('gov-1').AWS_REGION, 'us-gov-west-1', "the role's partition");
    assert.equal(env('gov-1').AWS_STS_REGIONAL_ENDPOINTS, 'regional');
    assert.equal(env('from-env').AWS_REGION, undefined);
    assert.match(run.stderr, /Pod\/from-env: warning: kirsa: container "app" takes env from envFrom/);
    assert.equal(env('some', 0).AWS_ROLE_ARN, 'arn:aws:iam::111122223333:role/team');
    assert.equal(env('some', 1).AWS_ROLE_ARN, undefined, 'proxy is not included');
    assert.deepEqual(byName['web-1'].spec.securityContext, { fsGroup: 65534 });
    assert.match(run.stderr, /Pod\/web-1: warning: kirsa: the pod sets no fsGroup/);
    assert.deepEqual(env('plain-1'), { AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1' });
    assert.equal(byName['plain-1'].spec.securityContext, undefined, 'no token, no fsGroup');
    assert.match(
      run.stderr,
      /Pod\/plain-1: service account other\/nobody has no role; only the region was injected/,
    );
  });

  test('--read-env-from-config-maps, offline: the ConfigMaps given decide the region; others are not found', async () => {
    const pod = (name: string, configMap: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  serviceAccountName: app\n  containers: [{name: app, envFrom: [{configMapRef: {name: ${configMap}}}]}]\n`;
    const configMaps = file(
      'config-maps.yaml',
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: shop}\ndata: {LOG_LEVEL: debug}\n',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: regional, namespace: shop}\ndata: {AWS_REGION: us-west-2}\n',
      ].join('---\n'),
    );
    const run = await runKirsa([
      'mutate',
      '-f',
      file(
        'env-from.yaml',
        [pod('plain', 'plain'), pod('regional', 'regional'), pod('gone', 'gone')].join('---\n'),
      ),
      '--config-map',
      configMaps,
      '--read-env-from-config-maps',
      '--role-arn',
      ROLE,
      '--aws-default-region',
      'eu-west-1',
      '-o',
      'json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const region = Object.fromEntries(
      JSON.parse(run.stdout).items.map(
        (item: {
          metadata: { name: string };
          spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> };
        }) => [
          item.metadata.name,
          item.spec.containers[0]!.env.find((entry) => entry.name === 'AWS_REGION')?.value,
        ],
      ),
    );
    assert.deepEqual(region, { plain: 'eu-west-1', regional: undefined, gone: undefined });
    assert.match(run.stderr, /Pod\/gone: warning: .*ConfigMap "gone" was not found/);
    assert.doesNotMatch(run.stderr, /Pod\/(plain|regional): warning/);
  });

  test('unreadable input exits 2 naming the file and line, with no stack', async () => {
    const broken = file('broken.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n');
    const run = await runKirsa(['mutate', '-f', broken, '--role-arn', ROLE]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      new RegExp(`kirsa: ${broken.replaceAll('/', '\\/')}:\\d+:\\d+: not valid YAML or JSON`),
    );
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.equal(run.stdout, '');

    const missing = await runKirsa(['mutate', '-f', join(dir, 'nope.yaml'), '--role-arn', ROLE]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.yaml: no such file\n {2}hint: /);
    assertErrorCode(missing.stderr, 'FILE_UNREADABLE');

    const scalar = await runKirsa(['mutate', '-f', '-', '--role-arn', ROLE], {
      input: 'kind: Pod\n---\njust text\n',
    });
    assert.equal(scalar.code, 2);
    assert.match(scalar.stderr, /<stdin>:3: expected a Kubernetes object, found string/);
    assertErrorCode(scalar.stderr, 'MANIFEST_NOT_OBJECT');
  });

  test('usage errors exit 2 with a hint', async () => {
    const noIdentity = await runKirsa(['mutate', '-f', file('pod5.yaml', POD)]);
    assert.equal(noIdentity.code, 2);
    assert.match(noIdentity.stderr, /no identity to inject.*\n {2}hint: add --role-arn/);
    assertErrorCode(noIdentity.stderr, 'NO_IDENTITY_SOURCE');
    const badBool = await runKirsa([
      'mutate',
      '-f',
      file('pod6.yaml', POD),
      '--role-arn',
      ROLE,
      '--sts-regional-endpoint=maybe',
    ]);
    assert.equal(badBool.code, 2);
    assert.match(badBool.stderr, /--sts-regional-endpoint takes true or false, not "maybe"/);
    assertErrorCode(badBool.stderr, 'FLAG_INVALID');
    const both = await runKirsa([
      'mutate',
      '-f',
      file('pod7.yaml', POD),
      '--role-arn',
      ROLE,
      '--identities-file',
      'x',
    ]);
    assert.equal(both.code, 2);
  });
});
