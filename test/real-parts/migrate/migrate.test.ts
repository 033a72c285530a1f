// `kirsa migrate` on the real kube-apiserver and moto's IAM: a cluster annotated for kube2iam and kiam (short
// names, an ARN, a ServiceAccount shared by two roles and a workload with none, a namespace whose `permitted`
// regex forbids one role, an external ID, a bare pod), roles that trust the node role. The plan is asserted
// case by case; apply makes exactly the planned objects, the roles trust the node role and the accounts, and
// a rerun changes nothing; `kirsa explain` allows each migrated account's TokenRequest token; cleanup refuses
// while a pod has no web identity env, then removes the legacy annotations and the node trust, nothing else.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  type KubeApiserver,
  kubeApiserverUnavailable,
  startKubeApiserver,
} from '../../support/kube-apiserver.ts';
import { type MotoServer, motoClientEnv, motoUnavailable, startMoto } from '../../support/moto.ts';
import { clusterSigningAs, startTestIssuer, type TestIssuer } from '../../support/oidc-issuer.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const ACCOUNT = '123456789012';
const BASE = `arn:aws:iam::${ACCOUNT}:role/`;
const NODE = `${BASE}k8s-nodes`;
const env = motoClientEnv();

let moto: MotoServer;
let kube: KubeApiserver;
let testIssuer: TestIssuer | undefined;
let issuer = '';
let providerArn = '';
let core: CoreV1Api;
let apps: AppsV1Api;
let batch: BatchV1Api;
let iam: IAMClient;
let planFile = '';

// Outside CI missing real parts skip these tests with the reason; in CI they fail.
const skip = (await motoUnavailable()) ?? (await kubeApiserverUnavailable()) ?? false;

const kirsa = (args: string[]) => runKirsa(args, { env });
const access = () => ['--kubeconfig', kube.kubeconfigPath, '--endpoint-url', moto.endpoint];

/** A trust policy as kube2iam needs it: the node role may assume the role (with an external ID if given). */
function nodeTrust(externalId?: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: NODE },
        Action: 'sts:AssumeRole',
        ...(externalId ? { Condition: { StringEquals: { 'sts:ExternalId': externalId } } } : {}),
      },
    ],
  });
}

async function trustOf(name: string): Promise<{ Statement: Array<Record<string, unknown>> }> {
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: name }));
  return JSON.parse(decodeURIComponent(Role!.AssumeRolePolicyDocument!));
}

function podTemplate(app: string, serviceAccount: string, annotations: Record<string, string>) {
  return {
    metadata: { labels: { app }, annotations },
    spec: { serviceAccountName: serviceAccount, containers: [{ name: 'app', image: 'example/app:1' }] },
  };
}

const role = (name: string, more: Record<string, string> = {}) => ({
  'iam.amazonaws.com/role': name,
  ...more,
});

async function deployment(
  namespace: string,
  name: string,
  serviceAccount: string,
  annotations: Record<string, string>,
) {
  return apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, namespace },
      spec: {
        selector: { matchLabels: { app: name } },
        template: podTemplate(name, serviceAccount, annotations),
      },
    },
  });
}

/** A pod made before any webhook ran, owned by `owner` as a controller would make it. */
async function pod(
  namespace: string,
  name: string,
  serviceAccount: string,
  annotations: Record<string, string>,
  owner?: { kind: string; name: string; uid: string; apiVersion: string },
) {
  return core.createNamespacedPod({
    namespace,
    body: {
      metadata: {
        name,
        namespace,
        annotations,
        ...(owner ? { ownerReferences: [{ ...owner, controller: true }] } : {}),
      },
      spec: {
        serviceAccountName: serviceAccount,
        containers: [{ name: 'app', image: 'example/app:1' }],
      },
    },
  });
}

/** A shop pod with the legacy annotation as `kirsa mutate` (the webhook's mutation) admits it for this role. */
async function mutatedPod(
  name: string,
  serviceAccount: string,
  roleArn: string,
  owner?: { kind: string; name: string; uid: string; apiVersion: string },
) {
  const body = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      annotations: role('cart'),
      ...(owner ? { ownerReferences: [{ ...owner, controller: true }] } : {}),
    },
    spec: { serviceAccountName: serviceAccount, containers: [{ name: 'app', image: 'example/app:1' }] },
  };
  const run = await runKirsa(['mutate', '-f', '-', '--role-arn', roleArn, '-o', 'json'], {
    input: JSON.stringify(body),
  });
  assert.equal(run.code, 0, run.stderr);
  await core.createNamespacedPod({ namespace: 'shop', body: JSON.parse(run.stdout) });
}

/** The doctor's kube2iam-kiam line for a shop pod. */
async function doctorLine(name: string): Promise<{ status: string; reason: string }> {
  const run = await kirsa([
    'doctor',
    'pod',
    name,
    '-n',
    'shop',
    '--issuer-ca-file',
    testIssuer!.caFile,
    '-o',
    'json',
    ...access(),
  ]);
  // 3: nothing failed but the AWS checks did not run (docs/cli-json.md).
  assert.ok(run.code === 0 || run.code === 1 || run.code === 3, run.stderr);
  const report = JSON.parse(run.stdout) as { checks: Array<{ id: string; status: string; reason: string }> };
  const line = report.checks.find((check) => check.id === 'kube2iam-kiam');
  assert.ok(line, `no kube2iam-kiam line for ${name}: ${run.stdout}`);
  if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`doctor ${name}: ${line.status} ${line.reason}\n`);
  return line;
}

before(async () => {
  if (skip) return;
  moto = await startMoto();
  testIssuer = await startTestIssuer();
  issuer = testIssuer.url;
  kube = await startKubeApiserver(clusterSigningAs(testIssuer, [issuer, 'sts.amazonaws.com']));
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfigPath);
  core = config.makeApiClient(CoreV1Api);
  apps = config.makeApiClient(AppsV1Api);
  batch = config.makeApiClient(BatchV1Api);

  iam = new IAMClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  providerArn = (
    await iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: issuer,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
      }),
    )
  ).OpenIDConnectProviderArn!;
  for (const [name, externalId] of [
    ['cart', undefined],
    ['orders', undefined],
    ['ledger', undefined],
    ['report', 'e-42'],
    ['team-a', undefined],
    ['bystander', undefined],
  ] as const)
    await iam.send(
      new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: nodeTrust(externalId) }),
    );

  // shop: no restriction. kiam-ns: kiam's permitted regex lets only team-* roles in.
  await core.createNamespace({ body: { metadata: { name: 'shop' } } });
  await core.createNamespace({
    body: { metadata: { name: 'kiam-ns', annotations: { 'iam.amazonaws.com/permitted': '^team-.*' } } },
  });
  for (const [namespace, name] of [
    ['shop', 'default'],
    ['shop', 'cart'],
    ['shop', 'report'],
    ['shop', 'debug'],
    ['shop', 'importer'],
    ['kiam-ns', 'default'],
    ['kiam-ns', 'allowed'],
  ] as const)
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } })
      .catch((error: { code?: number }) => {
        if (error.code !== 409) throw error;
      });

  // cart: its own account, a short name; its ReplicaSet and a pod made before any webhook ran.
  const cart = await deployment('shop', 'cart', 'cart', role('cart'));
  const replicaSet = await apps.createNamespacedReplicaSet({
    namespace: 'shop',
    body: {
      metadata: {
        name: 'cart-6f7',
        namespace: 'shop',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'cart',
            uid: cart.metadata!.uid!,
            controller: true,
          },
        ],
      },
      spec: {
        selector: { matchLabels: { app: 'cart' } },
        template: podTemplate('cart', 'cart', role('cart')),
      },
    },
  });
  await pod('shop', 'cart-6f7-abcde', 'cart', role('cart'), {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: 'cart-6f7',
    uid: replicaSet.metadata!.uid!,
  });
  // default is shared: orders (an ARN), ledger (a short name, a StatefulSet) and web (no role at all).
  await deployment('shop', 'orders', 'default', role(`${BASE}orders`));
  await apps.createNamespacedStatefulSet({
    namespace: 'shop',
    body: {
      metadata: { name: 'ledger', namespace: 'shop' },
      spec: {
        serviceName: 'ledger',
        selector: { matchLabels: { app: 'ledger' } },
        template: podTemplate('ledger', 'default', role('ledger')),
      },
    },
  });
  await deployment('shop', 'web', 'default', {});
  // report: a CronJob with kube2iam's external ID and a session name.
  await batch.createNamespacedCronJob({
    namespace: 'shop',
    body: {
      metadata: { name: 'report', namespace: 'shop' },
      spec: {
        schedule: '0 3 * * *',
        jobTemplate: {
          spec: {
            template: {
              ...podTemplate(
                'report',
                'report',
                role('report', {
                  'iam.amazonaws.com/external-id': 'e-42',
                  'iam.amazonaws.com/session-name': 'nightly-report',
                }),
              ),
              spec: {
                serviceAccountName: 'report',
                restartPolicy: 'OnFailure',
                containers: [{ name: 'app', image: 'example/app:1' }],
              },
            },
          },
        },
      },
    },
  });
  // debug: a bare pod. nightly-import: a Job (its template cannot change).
  await pod('shop', 'debug', 'debug', role('cart'));
  await batch.createNamespacedJob({
    namespace: 'shop',
    body: {
      metadata: { name: 'nightly-import', namespace: 'shop' },
      spec: {
        template: {
          metadata: { annotations: role('orders') },
          spec: {
            serviceAccountName: 'importer',
            restartPolicy: 'Never',
            containers: [{ name: 'app', image: 'example/app:1' }],
          },
        },
      },
    },
  });
  // kiam-ns: team-a is permitted; cart is not (kiam refuses it today).
  await deployment('kiam-ns', 'allowed', 'allowed', role('team-a'));
  await deployment('kiam-ns', 'forbidden', 'default', role('cart'));
});

after(async () => {
  iam?.destroy();
  await kube?.stop();
  await moto?.stop();
  await testIssuer?.close();
});

interface PlanJson {
  roles: Array<{
    arn: string;
    serviceAccounts: string[];
    adds: string[];
    nodeTrust: string[];
    providerArn: string;
  }>;
  serviceAccounts: Array<{
    namespace: string;
    name: string;
    roleArn: string;
    action: string;
    splitFrom?: string;
  }>;
  workloads: Array<{
    kind: string;
    namespace: string;
    name: string;
    roleArn?: string;
    serviceAccount: { from: string; to: string };
    change: string;
    blocked?: string;
    externalId?: string;
  }>;
  findings: Array<{ severity: string; code: string; subject: string }>;
}

describe('kirsa migrate on the real API server and moto', { skip }, () => {
  let plan: PlanJson;

  test('plan: every workload, its account, its role, and what blocks it', async () => {
    const run = await kirsa([
      'migrate',
      'plan',
      '-A',
      '--provider-arn',
      providerArn,
      '--node-role-arn',
      NODE,
      '-o',
      'json',
      ...access(),
    ]);
    assert.equal(run.code, 0, run.stderr);
    // No --base-role-arn: short names are completed with the caller's account (STS GetCallerIdentity).
    assert.match(
      run.stderr,
      new RegExp(`short role names are completed with ${BASE.replaceAll('/', '\\/')}`),
    );
    plan = JSON.parse(run.stdout) as PlanJson;
    planFile = join(kube.dir, 'plan.json');
    await writeFile(planFile, run.stdout);

    const row = (namespace: string, name: string) => {
      const found = plan.workloads.find((w) => w.namespace === namespace && w.name === name);
      assert.ok(found, `${namespace}/${name} is not in the plan`);
      return found;
    };
    assert.deepEqual(
      plan.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`),
      [
        'Deployment kiam-ns/allowed',
        'Deployment kiam-ns/forbidden',
        'Deployment shop/cart',
        'Deployment shop/orders',
        'StatefulSet shop/ledger',
        'CronJob shop/report',
        'Job shop/nightly-import',
        'Pod shop/debug',
      ],
      'the ReplicaSet and the pod of cart are reported through cart; web has no role',
    );
    // A short name in its own account: annotated in place.
    assert.deepEqual(row('shop', 'cart').serviceAccount, { from: 'cart', to: 'cart' });
    assert.equal(row('shop', 'cart').roleArn, `${BASE}cart`);
    assert.equal(row('shop', 'cart').change, 'patch');
    // The shared default account: one new account per role; web keeps default, unannotated.
    assert.deepEqual(row('shop', 'orders').serviceAccount, { from: 'default', to: 'default-orders' });
    assert.deepEqual(row('shop', 'ledger').serviceAccount, { from: 'default', to: 'default-ledger' });
    assert.ok(
      plan.findings.some(
        (f) => f.code === 'shared-service-account' && f.subject === 'ServiceAccount shop/default',
      ),
    );
    // The external ID and the session name.
    assert.equal(row('shop', 'report').externalId, 'e-42');
    assert.ok(plan.findings.some((f) => f.code === 'external-id' && f.subject === 'CronJob shop/report'));
    assert.ok(plan.findings.some((f) => f.code === 'session-name' && f.subject === 'CronJob shop/report'));
    // The bare pod and the Job cannot change: they are recreated.
    assert.equal(row('shop', 'debug').change, 'recreate');
    assert.equal(row('shop', 'nightly-import').change, 'recreate');
    // kiam's permitted regex: team-a passes, cart is blocked and left alone.
    assert.equal(row('kiam-ns', 'allowed').change, 'patch');
    assert.equal(row('kiam-ns', 'forbidden').change, 'none');
    assert.match(
      row('kiam-ns', 'forbidden').blocked!,
      /iam\.amazonaws\.com\/permitted \(\^team-\.\*\) does not permit cart/,
    );
    assert.deepEqual(
      plan.findings.filter((f) => f.severity === 'blocker').map((f) => `${f.code} ${f.subject}`),
      ['role-not-permitted Deployment kiam-ns/forbidden'],
    );
    // The accounts and roles.
    assert.deepEqual(
      plan.serviceAccounts.map(
        (sa) => `${sa.namespace}/${sa.name} ${sa.action} ${sa.roleArn.slice(BASE.length)}`,
      ),
      [
        'kiam-ns/allowed annotate team-a',
        'shop/cart annotate cart',
        'shop/debug annotate cart',
        'shop/default-ledger create ledger',
        'shop/default-orders create orders',
        'shop/importer annotate orders',
        'shop/report annotate report',
      ],
    );
    assert.deepEqual(
      plan.roles.map((r) => [r.arn.slice(BASE.length), r.serviceAccounts, r.nodeTrust]),
      [
        ['cart', ['shop/cart', 'shop/debug'], [NODE]],
        ['ledger', ['shop/default-ledger'], [NODE]],
        ['orders', ['shop/default-orders', 'shop/importer'], [NODE]],
        ['report', ['shop/report'], [NODE]],
        ['team-a', ['kiam-ns/allowed'], [NODE]],
      ],
    );
    assert.ok(plan.roles.every((r) => r.providerArn === providerArn));

    const text = await kirsa([
      'migrate',
      'plan',
      '-A',
      '--base-role-arn',
      BASE,
      '--provider-arn',
      providerArn,
      '--node-role-arn',
      NODE,
      ...access(),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^8 workload\(s\) use kube2iam\/kiam annotations: 7 to migrate, 1 blocked$/m);
    assert.match(
      text.stdout,
      /^Deployment kiam-ns\/forbidden .*\n {2}BLOCKED: +namespace kiam-ns's iam\.amazonaws\.com\/permitted/m,
    );
    assert.match(
      text.stdout,
      /^Deployment shop\/orders {2}\(iam\.amazonaws\.com\/role: arn:aws:iam::123456789012:role\/orders\)$/m,
    );
    assert.match(text.stdout, /service account: {2}shop\/default-orders \(create, split from default\)/);
    assert.match(
      text.stdout,
      /manifest: {9}spec\.template\.spec\.serviceAccountName: default -> default-orders/,
    );
    assert.match(
      text.stdout,
      /keep {2}Allow AWS arn:aws:iam::123456789012:role\/k8s-nodes \(sts:AssumeRole\) if sts:ExternalId/,
    );
    assert.match(text.stdout, /^Not checked: SDK versions/m);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`${text.stdout}\n`);
  });

  test('apply --dry-run changes nothing; apply makes exactly the planned objects; a rerun changes nothing', async () => {
    const accountsBefore = (await core.listServiceAccountForAllNamespaces()).items.length;
    const dry = await kirsa(['migrate', 'apply', planFile, '--dry-run', ...access()]);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`dry:\n${dry.stdout}${dry.stderr}\n`);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would create shop\/default-orders/);
    assert.equal((await core.listServiceAccountForAllNamespaces()).items.length, accountsBefore);
    assert.equal((await trustOf('cart')).Statement.length, 1);

    const first = await kirsa(['migrate', 'apply', planFile, ...access()]);
    assert.equal(first.code, 0, first.stderr);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`${first.stdout}\n`);
    // Exactly two new accounts, both split from default and annotated.
    const accounts = (await core.listServiceAccountForAllNamespaces()).items;
    assert.equal(accounts.length, accountsBefore + 2);
    const annotated = accounts
      .filter((sa) => sa.metadata?.annotations?.['eks.amazonaws.com/role-arn'])
      .map(
        (sa) =>
          `${sa.metadata!.namespace}/${sa.metadata!.name} ${sa.metadata!.annotations!['eks.amazonaws.com/role-arn']!.slice(BASE.length)}`,
      )
      .sort();
    assert.deepEqual(
      annotated,
      plan.serviceAccounts.map((sa) => `${sa.namespace}/${sa.name} ${sa.roleArn.slice(BASE.length)}`),
    );
    const shared = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'default' });
    assert.equal(
      shared.metadata?.annotations?.['eks.amazonaws.com/role-arn'],
      undefined,
      'the shared account stays unannotated',
    );
    // Each role trusts the node role (its statement untouched) and its accounts.
    for (const planned of plan.roles) {
      const name = planned.arn.slice(BASE.length);
      const trust = await trustOf(name);
      assert.deepEqual(
        trust.Statement[0],
        JSON.parse(nodeTrust(name === 'report' ? 'e-42' : undefined)).Statement[0],
      );
      const federated = trust.Statement[1] as {
        Principal: { Federated: string };
        Condition: { StringEquals: Record<string, unknown> };
      };
      assert.equal(federated.Principal.Federated, providerArn);
      const subjects = [federated.Condition.StringEquals[`${issuer.slice('https://'.length)}:sub`]].flat();
      assert.deepEqual(
        subjects,
        planned.serviceAccounts.map((id) => `system:serviceaccount:${id.replace('/', ':')}`),
      );
    }
    assert.equal((await trustOf('bystander')).Statement.length, 1, 'a role outside the plan is not touched');
    // Templates: the planned account and the migration annotation; the blocked and the unannotated untouched.
    const orders = await apps.readNamespacedDeployment({ namespace: 'shop', name: 'orders' });
    assert.equal(orders.spec?.template.spec?.serviceAccountName, 'default-orders');
    assert.equal(
      orders.spec?.template.metadata?.annotations?.['kirsa.dev/migrated-role-arn'],
      `${BASE}orders`,
    );
    assert.equal(
      orders.spec?.template.metadata?.annotations?.['iam.amazonaws.com/role'],
      `${BASE}orders`,
      'kube2iam keeps working until cleanup',
    );
    const ledger = await apps.readNamespacedStatefulSet({ namespace: 'shop', name: 'ledger' });
    assert.equal(ledger.spec?.template.spec?.serviceAccountName, 'default-ledger');
    const report = await batch.readNamespacedCronJob({ namespace: 'shop', name: 'report' });
    assert.equal(
      report.spec?.jobTemplate.spec?.template.metadata?.annotations?.['kirsa.dev/migrated-role-arn'],
      `${BASE}report`,
    );
    const forbidden = await apps.readNamespacedDeployment({ namespace: 'kiam-ns', name: 'forbidden' });
    assert.equal(forbidden.metadata?.generation, 1);
    const web = await apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' });
    assert.equal(web.metadata?.generation, 1);
    assert.match(first.stdout, /shop\/debug: recreate it to take the role/);

    const versions = async () =>
      JSON.stringify([
        (await core.listServiceAccountForAllNamespaces()).items.map((sa) => sa.metadata?.resourceVersion),
        (await apps.listDeploymentForAllNamespaces()).items.map((d) => d.metadata?.resourceVersion),
        (await trustOf('cart')).Statement,
      ]);
    const before = await versions();
    const again = await kirsa(['migrate', 'apply', planFile, ...access()]);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`again:\n${again.stdout}${again.stderr}\n`);
    assert.equal(again.code, 0, again.stderr);
    for (const line of again.stdout.split('\n').filter((l) => /^\S/.test(l)))
      assert.match(line, /^\S+ +(unchanged|skipped) /, line);
    assert.equal(await versions(), before);
  });

  test('kirsa explain allows a TokenRequest token of each migrated account for its role', async () => {
    for (const planned of plan.roles)
      for (const id of planned.serviceAccounts) {
        const [namespace, name] = id.split('/') as [string, string];
        const answer = await core.createNamespacedServiceAccountToken({
          namespace,
          name,
          body: { spec: { audiences: ['sts.amazonaws.com'] } },
        });
        const tokenFile = join(kube.dir, `${namespace}-${name}.token`);
        await writeFile(tokenFile, answer.status!.token!);
        const explain = await kirsa([
          'explain',
          '--role-arn',
          planned.arn,
          '--token-file',
          tokenFile,
          '--endpoint-url',
          moto.endpoint,
        ]);
        assert.equal(explain.code, 0, `${id} -> ${planned.arn}: ${explain.stdout}${explain.stderr}`);
        assert.match(explain.stdout, /allow/i);
      }
    // The shared account was not given any role.
    const answer = await core.createNamespacedServiceAccountToken({
      namespace: 'shop',
      name: 'default',
      body: { spec: { audiences: ['sts.amazonaws.com'] } },
    });
    const tokenFile = join(kube.dir, 'shop-default.token');
    await writeFile(tokenFile, answer.status!.token!);
    const denied = await kirsa([
      'explain',
      '--role-arn',
      `${BASE}orders`,
      '--token-file',
      tokenFile,
      '--endpoint-url',
      moto.endpoint,
    ]);
    assert.equal(denied.code, 1, denied.stdout);
  });

  test('cleanup refuses while a pod runs without web identity, then removes the legacy annotations and node trust only', async () => {
    const refused = await kirsa(['migrate', 'cleanup', planFile, '--remove-node-trust', ...access()]);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`refused:\n${refused.stdout}${refused.stderr}\n`);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /still running without the web identity env: Deployment shop\/cart \(pods cart-6f7-abcde\); Pod shop\/debug \(pods debug\)/,
    );
    assert.equal((await trustOf('cart')).Statement.length, 2, 'nothing changed');

    // The doctor says the old pod has only kube2iam/kiam.
    const before = await doctorLine('cart-6f7-abcde');
    assert.equal(before.status, 'fail');
    assert.match(before.reason, /only kube2iam\/kiam \(iam\.amazonaws\.com\/role: cart/);

    // The rollout and the recreation, as the controllers would do them and the webhook would admit them.
    const replicaSet = await apps.readNamespacedReplicaSet({ namespace: 'shop', name: 'cart-6f7' });
    await core.deleteNamespacedPod({ namespace: 'shop', name: 'cart-6f7-abcde', gracePeriodSeconds: 0 });
    await mutatedPod('cart-6f7-fghij', 'cart', `${BASE}cart`, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'cart-6f7',
      uid: replicaSet.metadata!.uid!,
    });
    await core.deleteNamespacedPod({ namespace: 'shop', name: 'debug', gracePeriodSeconds: 0 });
    await mutatedPod('debug', 'debug', `${BASE}cart`);
    // Both mechanisms now: the doctor says web identity wins.
    const mixed = await doctorLine('cart-6f7-fghij');
    assert.equal(mixed.status, 'pass');
    assert.match(mixed.reason, /^both: .*so the pod uses arn:aws:iam::123456789012:role\/cart /);

    const cleaned = await kirsa(['migrate', 'cleanup', planFile, '--remove-node-trust', ...access()]);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`${cleaned.stdout}\n`);
    const legacy = (annotations: Record<string, string> | undefined) =>
      Object.keys(annotations ?? {}).filter((key) => key.startsWith('iam.amazonaws.com/'));
    for (const [namespace, name] of [
      ['shop', 'cart'],
      ['shop', 'orders'],
      ['kiam-ns', 'allowed'],
    ] as const) {
      const d = await apps.readNamespacedDeployment({ namespace, name });
      assert.deepEqual(legacy(d.spec?.template.metadata?.annotations), [], `${namespace}/${name}`);
      assert.ok(d.spec?.template.metadata?.annotations?.['kirsa.dev/migrated-role-arn']);
    }
    const report = await batch.readNamespacedCronJob({ namespace: 'shop', name: 'report' });
    assert.deepEqual(legacy(report.spec?.jobTemplate.spec?.template.metadata?.annotations), []);
    const ledger = await apps.readNamespacedStatefulSet({ namespace: 'shop', name: 'ledger' });
    assert.deepEqual(legacy(ledger.spec?.template.metadata?.annotations), []);
    const job = await batch.readNamespacedJob({ namespace: 'shop', name: 'nightly-import' });
    assert.deepEqual(legacy(job.spec?.template.metadata?.annotations), ['iam.amazonaws.com/role']);
    assert.match(cleaned.stdout, /skipped: Job shop\/nightly-import: a Job's template cannot change/);
    const debug = await core.readNamespacedPod({ namespace: 'shop', name: 'debug' });
    assert.deepEqual(legacy(debug.metadata?.annotations), []);
    // Nothing else: the blocked workload, the namespace restriction, the bystander role.
    const forbidden = await apps.readNamespacedDeployment({ namespace: 'kiam-ns', name: 'forbidden' });
    assert.deepEqual(legacy(forbidden.spec?.template.metadata?.annotations), ['iam.amazonaws.com/role']);
    const kiamNs = await core.readNamespace({ name: 'kiam-ns' });
    assert.equal(kiamNs.metadata?.annotations?.['iam.amazonaws.com/permitted'], '^team-.*');
    assert.deepEqual((await trustOf('bystander')).Statement, JSON.parse(nodeTrust()).Statement);
    // The roles trust only their accounts now.
    for (const planned of plan.roles) {
      const trust = await trustOf(planned.arn.slice(BASE.length));
      assert.equal(trust.Statement.length, 1);
      assert.deepEqual((trust.Statement[0] as { Principal: unknown }).Principal, { Federated: providerArn });
    }
    const again = await kirsa(['migrate', 'cleanup', planFile, '--remove-node-trust', ...access()]);
    if (process.env.KIRSA_SHOW_OUTPUT) process.stdout.write(`again:\n${again.stdout}${again.stderr}\n`);
    assert.equal(again.code, 0, again.stderr);
    for (const line of again.stdout.split('\n').filter((l) => /^\S/.test(l)))
      assert.match(line, /^\S+ +(unchanged|skipped) /, line);
  });

  test('refusals: a file that is not a plan, a plan the cluster no longer matches, node trust a role still needs', async () => {
    const bogus = join(kube.dir, 'bogus.yaml');
    await writeFile(bogus, 'kind: Deployment\n');
    const run = await kirsa(['migrate', 'apply', bogus, ...access()]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /not a kirsa migration plan: kind is "Deployment"/);
    assert.match(run.stderr, /^ {2}code: MIGRATION_PLAN_INVALID$/m);

    // The plan says orders runs as another account than the cluster's: apply refuses before any change.
    const stale = structuredClone(plan);
    const orders = stale.workloads.find((w) => w.name === 'orders')!;
    orders.serviceAccount = { from: 'elsewhere', to: 'elsewhere-orders' };
    const staleFile = join(kube.dir, 'stale.json');
    await writeFile(staleFile, JSON.stringify(stale));
    const trustBefore = await trustOf('orders');
    const refused = await kirsa(['migrate', 'apply', staleFile, ...access()]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /Deployment shop\/orders now runs as default-orders since the plan was made/,
    );
    assert.match(refused.stderr, /^ {2}code: MIGRATION_PLAN_STALE$/m);
    assert.deepEqual(await trustOf('orders'), trustBefore);

    // A plan whose role does not trust its account by web identity: its node trust is not removed.
    const bystander = structuredClone(plan);
    bystander.workloads = [];
    bystander.roles = [{ ...plan.roles[0]!, arn: `${BASE}bystander`, serviceAccounts: ['shop/cart'] }];
    const bystanderFile = join(kube.dir, 'bystander.json');
    await writeFile(bystanderFile, JSON.stringify(bystander));
    const kept = await kirsa(['migrate', 'cleanup', bystanderFile, '--remove-node-trust', ...access()]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.match(kept.stderr, /bystander would not trust system:serviceaccount:shop:cart by web identity/);
    assert.match(kept.stderr, /^ {2}code: MIGRATION_TRUST_MISSING$/m);
    // Without --remove-node-trust the node trust is not touched at all.
    const flagless = await kirsa(['migrate', 'cleanup', bystanderFile, ...access()]);
    assert.equal(flagless.code, 0, flagless.stderr);
    assert.match(flagless.stdout, /^node-trust +skipped +no --remove-node-trust$/m);
    assert.deepEqual((await trustOf('bystander')).Statement, JSON.parse(nodeTrust()).Statement);
  });
});
