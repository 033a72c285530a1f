// The install artifacts: kirsa manifests as a process, and the Helm chart rendered by the real helm, which
// must produce the same objects.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { isAlias, parseAllDocuments, visit } from 'yaml';
import { realPart } from '../support/real-parts.ts';
import { runKirsa } from '../support/run-kirsa.ts';

const CHART = new URL('../../deploy/helm/kirsa', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kirsa-deploy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Manifest = {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML that the assertions walk freely
  [key: string]: any;
};

function documents(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

async function kirsaManifests(args: string[] = []): Promise<Manifest[]> {
  const run = await runKirsa(['manifests', ...args]);
  assert.equal(run.code, 0, run.stderr);
  return documents(run.stdout);
}

const byKind = (manifests: Manifest[], kind: string) =>
  manifests.filter((manifest) => manifest.kind === kind);

describe('kirsa manifests', () => {
  test('prints no YAML anchors or aliases (the labels used in selectors are written out each time)', async () => {
    const run = await runKirsa(['manifests']);
    assert.equal(run.code, 0, run.stderr);
    let aliases = 0;
    let anchors = 0;
    for (const document of parseAllDocuments(run.stdout)) {
      visit(document, (_key, node) => {
        if (isAlias(node)) aliases += 1;
        else if (node && typeof node === 'object' && 'anchor' in node && node.anchor) anchors += 1;
      });
    }
    assert.equal(aliases + anchors, 0);
    // The Deployment's selector still carries the labels, as a plain mapping.
    const deployment = byKind(documents(run.stdout), 'Deployment')[0]!;
    assert.equal(deployment.spec.selector.matchLabels['app.kubernetes.io/name'], 'kirsa');
  });

  test('a NetworkPolicy lets in only the webhook and metrics ports', async () => {
    const policies = byKind(await kirsaManifests(), 'NetworkPolicy');
    assert.equal(policies.length, 1);
    assert.deepEqual(policies[0]!.spec.policyTypes, ['Ingress']);
    const ports = policies[0]!.spec.ingress.map(
      (rule: { ports: Array<{ port: number }> }) => rule.ports[0]!.port,
    );
    assert.deepEqual(ports, [8443, 9999]);
  });

  test('self-managed TLS: no cert-manager objects, no caBundle, RBAC for its Secret and caBundle, a scratch folder', async () => {
    const manifests = await kirsaManifests(['--tls-mode', 'self-managed']);
    assert.equal(byKind(manifests, 'Certificate').length + byKind(manifests, 'Issuer').length, 0);
    const webhook = byKind(manifests, 'MutatingWebhookConfiguration')[0]!;
    assert.equal(webhook.webhooks[0].clientConfig.caBundle, undefined);
    assert.equal(webhook.metadata.annotations, undefined);
    assert.deepEqual(byKind(manifests, 'ClusterRole')[0]!.rules[1], {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['mutatingwebhookconfigurations'],
      resourceNames: ['kirsa-webhook'],
      verbs: ['get', 'patch'],
    });
    assert.deepEqual(byKind(manifests, 'Role')[0]!.rules.slice(1), [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['kirsa-webhook-tls'],
        verbs: ['get', 'update'],
      },
    ]);
    const pod = byKind(manifests, 'Deployment')[0]!.spec.template.spec;
    assert.ok(pod.containers[0].args.includes('--self-managed-tls'));
    assert.ok(pod.containers[0].args.includes('--tls-cert=/var/run/kirsa/tls/tls.crt'));
    assert.deepEqual(pod.volumes[0], { name: 'tls', emptyDir: { medium: 'Memory' } });
  });

  test('a production shape: replicas, disruption budget, probes, non-root, least RBAC, safe webhook', async () => {
    const manifests = await kirsaManifests();
    const deployment = byKind(manifests, 'Deployment')[0]!;
    assert.equal(deployment.spec.replicas, 2);
    assert.ok(deployment.spec.template.spec.affinity.podAntiAffinity);
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const container = pod.containers[0];
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.equal(byKind(manifests, 'PodDisruptionBudget')[0]!.spec.minAvailable, 1);

    assert.deepEqual(byKind(manifests, 'ClusterRole')[0]!.rules, [
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    const role = byKind(manifests, 'Role')[0]!;
    assert.equal(role.metadata.namespace, 'kirsa');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
    ]);

    const webhook = byKind(manifests, 'MutatingWebhookConfiguration')[0]!.webhooks[0];
    assert.equal(webhook.failurePolicy, 'Ignore');
    assert.equal(webhook.reinvocationPolicy, 'IfNeeded');
    assert.equal(webhook.sideEffects, 'None');
    assert.deepEqual(webhook.admissionReviewVersions, ['v1', 'v1beta1']);
    assert.deepEqual(webhook.namespaceSelector.matchExpressions[0].values, ['kube-system', 'kirsa']);
    assert.deepEqual(webhook.objectSelector.matchExpressions, [
      { key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' },
    ]);
    assert.equal(byKind(manifests, 'Certificate').length, 1, 'cert-manager is the default TLS source');
  });

  test('an unknown --tls-mode is a usage error naming the modes the install renders', async () => {
    const refused = await runKirsa(['manifests', '--tls-mode', 'vault']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--tls-mode takes cert-manager, secret or self-managed, not "vault"/);
  });

  test('TLS from an existing Secret needs its CA, which lands in the caBundle', async () => {
    const refused = await runKirsa(['manifests', '--tls-mode', 'secret']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--tls-mode secret needs --ca-bundle-file/);
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const manifests = await kirsaManifests([
      '--tls-mode',
      'secret',
      '--ca-bundle-file',
      caFile,
      '--namespace',
      'iam',
    ]);
    assert.equal(byKind(manifests, 'Certificate').length, 0);
    const webhook = byKind(manifests, 'MutatingWebhookConfiguration')[0]!.webhooks[0];
    assert.equal(
      Buffer.from(webhook.clientConfig.caBundle, 'base64').toString(),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
    assert.equal(webhook.clientConfig.service.namespace, 'iam');
  });
});

const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('the Helm chart', () => {
  const sets = (values: Record<string, string>) =>
    Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);

  async function helm(binary: string, args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(binary, args, {
      env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir, HELM_DATA_HOME: dir },
    });
    return stdout;
  }

  test('helm lint passes', async (t) => {
    const binary = realPart(t, 'KIRSA_HELM');
    if (!binary) return;
    assert.match(await helm(binary, ['lint', CHART]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  for (const [label, helmValues, kirsaArgs] of [
    ['defaults', { createNamespace: 'true' }, []],
    [
      'TLS from a Secret, a region and regional STS',
      {
        createNamespace: 'true',
        'tls.mode': 'secret',
        'tls.caBundle': Buffer.from(CA_PEM).toString('base64'),
        'webhook.awsDefaultRegion': 'eu-west-1',
        'webhook.stsRegionalEndpoint': 'true',
        replicas: '3',
        'webhook.watchConfigMap': 'true',
      },
      [
        '--tls-mode',
        'secret',
        '--ca-bundle-file',
        'CA_FILE',
        '--aws-default-region',
        'eu-west-1',
        '--sts-regional-endpoint',
        '--replicas',
        '3',
        '--watch-config-map',
      ],
    ],
    [
      "reading kOps' mapping ConfigMap in kube-system",
      {
        createNamespace: 'true',
        'webhook.watchConfigMap': 'true',
        'webhook.configMapNamespace': 'kube-system',
      },
      ['--watch-config-map', '--config-map-namespace', 'kube-system'],
    ],
    [
      'self-managed TLS',
      { createNamespace: 'true', 'tls.mode': 'self-managed' },
      ['--tls-mode', 'self-managed'],
    ],
  ] as const) {
    test(`helm template renders the same objects as kirsa manifests: ${label}`, async (t) => {
      const binary = realPart(t, 'KIRSA_HELM');
      if (!binary) return;
      // The chart takes the CA as base64 text, kirsa as a PEM file: the same CA both ways.
      const caFile = join(dir, 'ca-for-helm.pem');
      writeFileSync(caFile, CA_PEM);
      const fromHelm = documents(
        await helm(binary, ['template', 'kirsa', CHART, '--namespace', 'kirsa', ...sets(helmValues)]),
      );
      const args = kirsaArgs.map((arg) => (arg === 'CA_FILE' ? caFile : arg));
      const fromKirsa = await kirsaManifests(args);
      const key = (manifest: Manifest) =>
        `${manifest.kind}/${manifest.metadata.namespace ?? ''}/${manifest.metadata.name}`;
      const sort = (list: Manifest[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
      assert.deepEqual(sort(fromHelm).map(key), sort(fromKirsa).map(key));
      for (const [index, manifest] of sort(fromHelm).entries()) {
        assert.deepEqual(manifest, sort(fromKirsa)[index], `${key(manifest)} differs`);
      }
    });
  }
});
