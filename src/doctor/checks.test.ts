import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTrustPolicy } from '../core/iam/trust-policy.ts';
import {
  type CheckResult,
  type DoctorFacts,
  doctorVerdict,
  formatChecks,
  type PodFact,
  runChecks,
  selectorMatches,
  versionAtLeast,
  type WebhookFact,
} from './checks.ts';

const ISSUER = 'https://oidc.example.com/cluster-a';
const HOST = 'oidc.example.com/cluster-a';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const ROLE = 'arn:aws:iam::111122223333:role/s3-echoer';

function mutatedPod(overrides: Partial<PodFact> = {}): PodFact {
  return {
    namespace: 'default',
    name: 's3-echoer',
    serviceAccountName: 's3-echoer',
    labels: { app: 's3-echoer' },
    annotations: {},
    createdAt: new Date('2026-11-30T08:00:00Z'),
    containers: [
      {
        name: 'main',
        env: {
          AWS_REGION: 'us-west-2',
          AWS_DEFAULT_REGION: 'us-west-2',
          AWS_ROLE_ARN: ROLE,
          AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
        },
        mountPaths: { 'aws-iam-token': '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
      },
    ],
    tokenVolumes: { 'aws-iam-token': { audience: 'sts.amazonaws.com', path: 'token' } },
    ...overrides,
  };
}

const WEBHOOK: WebhookFact = {
  configuration: 'kirsa',
  name: 'pod-identity.kirsa.dev',
  rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  namespaceSelector: {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }],
  },
  objectSelector: {
    matchExpressions: [{ key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' }],
  },
  failurePolicy: 'Ignore',
  target: 'service kirsa/kirsa-webhook',
  readyEndpoints: 2,
  hasMatchConditions: false,
};

function healthy(): DoctorFacts {
  return {
    target: { kind: 'pod', namespace: 'default', name: 's3-echoer' },
    annotationPrefix: 'eks.amazonaws.com',
    pod: mutatedPod(),
    serviceAccount: {
      namespace: 'default',
      name: 's3-echoer',
      annotations: { 'eks.amazonaws.com/role-arn': ROLE },
      createdAt: new Date('2026-11-30T07:00:00Z'),
    },
    namespaceLabels: { 'kubernetes.io/metadata.name': 'default' },
    webhooks: { ok: true, value: [WEBHOOK] },
    kubeletVersion: { ok: true, value: { version: 'v1.37.2', source: 'node n1' } },
    token: {
      ok: true,
      value: {
        claims: { iss: ISSUER, sub: 'system:serviceaccount:default:s3-echoer', aud: ['sts.amazonaws.com'] },
        kid: 'kid-1',
        audienceAsked: 'sts.amazonaws.com',
      },
    },
    discovery: { ok: true, value: { issuer: ISSUER, jwksUri: `${ISSUER}/keys.json` } },
    jwksKids: { ok: true, value: ['kid-0', 'kid-1'] },
    provider: { ok: true, value: { arn: PROVIDER, url: HOST, clientIds: ['sts.amazonaws.com'] } },
    role: {
      ok: true,
      value: {
        arn: ROLE,
        trustPolicy: buildTrustPolicy({
          providerArns: [PROVIDER],
          serviceAccounts: [{ namespace: 'default', name: 's3-echoer' }],
          audiences: ['sts.amazonaws.com'],
        }),
      },
    },
  };
}

function byId(results: CheckResult[]): Record<string, CheckResult> {
  return Object.fromEntries(results.map((result) => [result.id, result]));
}

function failing(facts: DoctorFacts): string[] {
  return runChecks(facts)
    .filter((result) => result.status === 'fail')
    .map((result) => result.id);
}

describe('the checklist', () => {
  test('a healthy mutated pod passes every check that applies, in order', () => {
    const results = runChecks(healthy());
    assert.deepEqual(
      results.map((result) => result.id),
      [
        'service-account',
        'pod-mutated',
        'webhook-registered',
        'webhook-ready',
        'webhook-selects',
        'annotated-before-pod',
        'token-audience',
        'token-issuer-discovery',
        'token-issuer-provider',
        'token-kid',
        'trust-policy',
        'token-readable',
        'aws-region',
      ],
    );
    assert.deepEqual(failing(healthy()), []);
    const status = byId(results);
    assert.equal(
      status['webhook-registered']!.status,
      'skip',
      'webhook checks are skipped once the pod is mutated',
    );
    assert.equal(status['trust-policy']!.status, 'pass');
    assert.match(formatChecks(results), /9 passed, 0 failed, 4 skipped\n$/);
  });

  test('a pod kube2iam/kiam serve too gets a line saying web identity wins, or that it has only the legacy role', () => {
    const both = healthy();
    both.pod = mutatedPod({ annotations: { 'iam.amazonaws.com/role': 's3-echoer' } });
    const results = runChecks(both);
    assert.deepEqual(
      results.slice(0, 3).map((result) => result.id),
      ['service-account', 'pod-mutated', 'kube2iam-kiam'],
    );
    const line = byId(results)['kube2iam-kiam']!;
    assert.equal(line.status, 'pass');
    assert.match(line.reason, new RegExp(`so the pod uses ${ROLE}`));
    assert.doesNotMatch(line.reason, /different roles/);
    both.pod = mutatedPod({
      annotations: { 'iam.amazonaws.com/role': 'arn:aws:iam::111122223333:role/other' },
    });
    assert.match(byId(runChecks(both))['kube2iam-kiam']!.reason, /the two name different roles/);

    const legacyOnly = healthy();
    legacyOnly.pod = mutatedPod({
      annotations: { 'iam.amazonaws.com/role': 's3-echoer' },
      containers: [{ name: 'main', env: {}, mountPaths: {} }],
      tokenVolumes: {},
    });
    const legacyLine = byId(runChecks(legacyOnly))['kube2iam-kiam']!;
    assert.equal(legacyLine.status, 'fail');
    assert.match(legacyLine.reason, /only kube2iam\/kiam/);
    assert.equal(byId(runChecks(healthy()))['kube2iam-kiam'], undefined, 'no line without the annotation');
  });

  test('an unmutated pod fails pod-mutated, and the webhook lines say why', () => {
    const facts = healthy();
    facts.pod = mutatedPod({ containers: [{ name: 'main', env: {}, mountPaths: {} }], tokenVolumes: {} });
    facts.webhooks = { ok: true, value: [] };
    const results = byId(runChecks(facts));
    assert.equal(results['pod-mutated']!.status, 'fail');
    assert.match(results['pod-mutated']!.reason, /main lacks AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE/);
    assert.match(results['pod-mutated']!.reason, /NoCredentialProviders/);
    assert.equal(results['webhook-registered']!.status, 'fail');
    assert.match(results['webhook-registered']!.reason, /no MutatingWebhookConfiguration exists/);
    assert.equal(results['token-readable']!.status, 'skip');
    assert.equal(results['aws-region']!.status, 'skip');
  });

  test('webhook diagnoses: not ready, namespace excluded, pod excluded by label, annotated too late', () => {
    const unmutated = () => {
      const facts = healthy();
      facts.pod = mutatedPod({ containers: [{ name: 'main', env: {}, mountPaths: {} }], tokenVolumes: {} });
      return facts;
    };
    const notReady = unmutated();
    notReady.webhooks = { ok: true, value: [{ ...WEBHOOK, readyEndpoints: 0 }] };
    assert.match(
      byId(runChecks(notReady))['webhook-ready']!.reason,
      /no ready endpoints; with failurePolicy Ignore/,
    );

    const excludedNamespace = unmutated();
    excludedNamespace.target.namespace = 'kube-system';
    excludedNamespace.namespaceLabels = { 'kubernetes.io/metadata.name': 'kube-system' };
    assert.match(
      byId(runChecks(excludedNamespace))['webhook-selects']!.reason,
      /excludes namespace kube-system/,
    );
    // The fix names the settings that make the selector: the chart value and the manifests flag.
    assert.match(
      byId(runChecks(excludedNamespace))['webhook-selects']!.fix!,
      /relabel namespace kube-system, or widen the selector \(the chart's webhook\.namespaceSelector and webhook\.mode; kirsa manifests --namespace-selector and --webhook-mode\)/,
    );

    const skippedPod = unmutated();
    skippedPod.pod!.labels['eks.amazonaws.com/skip-pod-identity-webhook'] = 'true';
    assert.match(
      byId(runChecks(skippedPod))['webhook-selects']!.reason,
      /objectSelector .* excludes the pod/,
    );
    assert.match(
      byId(runChecks(skippedPod))['webhook-selects']!.fix!,
      /webhook\.objectSelector; kirsa manifests --object-selector/,
    );

    const late = unmutated();
    late.serviceAccount!.roleAnnotatedAt = new Date('2026-11-30T09:00:00Z');
    const lateResult = byId(runChecks(late))['annotated-before-pod']!;
    assert.equal(lateResult.status, 'fail');
    assert.match(lateResult.reason, /after the pod was created/);
    assert.match(lateResult.fix!, /kubectl delete pod -n default s3-echoer/);

    const fine = unmutated();
    assert.deepEqual(failing(fine), ['pod-mutated'], 'with a working webhook only the pod line fails');
  });

  test('a wrong audience fails token-audience naming both', () => {
    const facts = healthy();
    facts.provider = { ok: true, value: { arn: PROVIDER, url: HOST, clientIds: ['amazonaws.com'] } };
    const result = byId(runChecks(facts))['token-audience']!;
    assert.equal(result.status, 'fail');
    assert.match(result.reason, /audience is sts.amazonaws.com, the provider's client IDs are amazonaws.com/);
  });

  test('a trust policy for another service account fails trust-policy with the evaluator fix', () => {
    const facts = healthy();
    facts.pod!.serviceAccountName = 'app';
    facts.serviceAccount!.name = 'app';
    facts.token = {
      ok: true,
      value: {
        claims: { iss: ISSUER, sub: 'system:serviceaccount:default:app', aud: 'sts.amazonaws.com' },
        kid: 'kid-1',
        audienceAsked: 'sts.amazonaws.com',
      },
    };
    const result = byId(runChecks(facts))['trust-policy']!;
    assert.equal(result.status, 'fail');
    assert.match(
      result.reason,
      /the policy names service account default\/s3-echoer, the token is for default\/app/,
    );
    assert.match(result.reason, /AccessDenied/);
    assert.deepEqual(failing(facts), ['trust-policy']);
  });

  test('issuer and key problems: iss differs from discovery, no provider, kid not published', () => {
    const mismatch = healthy();
    mismatch.discovery = { ok: true, value: { issuer: `${ISSUER}/`, jwksUri: `${ISSUER}/keys.json` } };
    assert.deepEqual(failing(mismatch), ['token-issuer-discovery']);
    const noProvider = healthy();
    noProvider.provider = { ok: true, value: undefined };
    const results = byId(runChecks(noProvider));
    assert.equal(results['token-issuer-provider']!.status, 'fail');
    assert.match(
      results['token-issuer-provider']!.fix!,
      /kirsa provider create --issuer-url https:\/\/oidc.example.com\/cluster-a/,
    );
    const rotated = healthy();
    rotated.jwksKids = { ok: true, value: ['kid-0'] };
    assert.deepEqual(failing(rotated), ['token-kid']);
    const unreachable = healthy();
    unreachable.discovery = { ok: false, reason: 'GET ... answered 403' };
    assert.deepEqual(failing(unreachable), ['token-issuer-discovery']);
  });

  test('a non-root pod without fsGroup fails token-readable only on a kubelet before 1.19', () => {
    const nonRoot = (version: string, fsGroup?: number) => {
      const facts = healthy();
      facts.pod!.podRunAsUser = 1000;
      if (fsGroup !== undefined) facts.pod!.fsGroup = fsGroup;
      facts.kubeletVersion = { ok: true, value: { version, source: 'node n1' } };
      return facts;
    };
    assert.deepEqual(failing(nonRoot('v1.18.20')), ['token-readable']);
    assert.match(byId(runChecks(nonRoot('v1.18.20')))['token-readable']!.fix!, /fsGroup/);
    assert.deepEqual(failing(nonRoot('v1.18.20', 65534)), []);
    assert.deepEqual(failing(nonRoot('v1.19.0')), []);
    const root = healthy();
    root.kubeletVersion = { ok: true, value: { version: 'v1.18.20', source: 'node n1' } };
    assert.deepEqual(failing(root), [], 'a root pod reads a 0600 root file');
  });

  test('AWS_REGION missing while AWS_DEFAULT_REGION is set fails aws-region', () => {
    const facts = healthy();
    delete facts.pod!.containers[0]!.env.AWS_REGION;
    const result = byId(runChecks(facts))['aws-region']!;
    assert.equal(result.status, 'fail');
    assert.match(result.reason, /only AWS_DEFAULT_REGION, which aws-sdk-js-v3 ignores/);
  });

  test('without AWS the cluster checks run and the AWS ones say they were skipped', () => {
    const facts = healthy();
    facts.provider = { ok: false, reason: 'skipped: --no-aws' };
    facts.role = { ok: false, reason: 'skipped: --no-aws' };
    const results = byId(runChecks(facts));
    for (const id of ['token-audience', 'token-issuer-provider', 'trust-policy']) {
      assert.equal(results[id]!.status, 'skip', id);
      assert.match(results[id]!.reason, /--no-aws/);
    }
    assert.equal(results['token-issuer-discovery']!.status, 'pass');
    assert.equal(results['token-kid']!.status, 'pass');
  });

  test('doctor serviceaccount: no pod lines, a missing or unannotated account fails first', () => {
    const facts = healthy();
    delete facts.pod;
    facts.target = { kind: 'serviceaccount', namespace: 'default', name: 's3-echoer' };
    const results = byId(runChecks(facts));
    assert.equal(results['pod-mutated']!.status, 'skip');
    assert.equal(results['webhook-registered']!.status, 'pass', 'webhook checks matter for pods to come');
    assert.deepEqual(failing(facts), []);
    facts.serviceAccount!.annotations = {};
    assert.match(
      byId(runChecks(facts))['service-account']!.reason,
      /has no eks.amazonaws.com\/role-arn annotation/,
    );
    facts.serviceAccount = undefined;
    assert.match(byId(runChecks(facts))['service-account']!.reason, /does not exist/);
  });
});

describe('helpers', () => {
  test('label selectors: matchLabels and every expression operator', () => {
    const labels = { app: 'web', tier: 'front' };
    assert.equal(selectorMatches(undefined, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: 'web' } }, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: 'db' } }, labels), false);
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, labels),
      true,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, labels),
      false,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['front'] }] }, labels),
      true,
    );
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'Exists' }] }, labels), false);
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, labels),
      true,
    );
  });

  test('versions', () => {
    assert.equal(versionAtLeast('v1.18.20', 19), false);
    assert.equal(versionAtLeast('v1.19.0', 19), true);
    assert.equal(versionAtLeast('v1.37.2+k3s1', 19), true);
    assert.equal(versionAtLeast('garbage', 19), undefined);
  });
});

describe('doctorVerdict', () => {
  const result = (status: CheckResult['status']): CheckResult => ({
    id: status,
    title: status,
    status,
    reason: '',
  });

  test('a failed check makes the run failed, whether or not AWS was checked', () => {
    const results = [result('pass'), result('fail'), result('skip')];
    assert.deepEqual(doctorVerdict(results, true), { verdict: 'failed', passed: 1, failed: 1, skipped: 1 });
    assert.equal(doctorVerdict(results, false).verdict, 'failed');
  });

  test('nothing failed but AWS unchecked is incomplete, not healthy', () => {
    const results = [result('pass'), result('skip')];
    assert.equal(doctorVerdict(results, false).verdict, 'incomplete');
    assert.equal(doctorVerdict(results, true).verdict, 'healthy');
  });
});
