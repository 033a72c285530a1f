// The install artifacts: kirsa manifests as a process, and the Helm chart rendered by the real helm, which
// must produce the same objects.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isAlias, parse, parseAllDocuments, visit } from 'yaml';
import { selectorMatches } from '../../../src/doctor/checks.ts';
import type { LabelSelector } from '../../../src/install/manifests.ts';
import {
  byKind,
  CA_PEM,
  CHART,
  documents,
  helmScratch,
  helmTemplate,
  type Manifest,
  objectKey,
  RENDERINGS,
  type Rendering,
  runHelm,
} from '../../support/chart-cases.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

const dir = mkdtempSync(join(tmpdir(), 'kirsa-deploy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function kirsaManifests(args: string[] = []): Promise<Manifest[]> {
  const run = await runKirsa(['manifests', ...args]);
  assert.equal(run.code, 0, run.stderr);
  return documents(run.stdout);
}

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
      resourceNames: ['kirsa-webhook-kirsa'],
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
    assert.ok(pod.containers[0].args.includes('--webhook-configuration=kirsa-webhook-kirsa'));
    assert.ok(!pod.containers[0].args.some((arg: string) => arg.startsWith('--tls-hosts')));
    const domain = await kirsaManifests(['--tls-mode', 'self-managed', '--dns-domain', 'corp.internal']);
    assert.ok(
      byKind(domain, 'Deployment')[0]!.spec.template.spec.containers[0].args.includes(
        '--tls-hosts=kirsa-webhook.kirsa.svc.corp.internal',
      ),
    );
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
    assert.deepEqual(webhook.namespaceSelector, {}, 'every namespace, kube-system included');
    assert.deepEqual(webhook.objectSelector.matchExpressions, [
      { key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' },
    ]);
    assert.equal(
      byKind(manifests, 'Certificate').length,
      2,
      'cert-manager (a CA and the serving certificate) is the default TLS source',
    );
  });

  test('strings YAML 1.1 reads as booleans are quoted (kubectl reads YAML 1.1)', async () => {
    const run = await runKirsa(['manifests', '--object-selector', '{"matchLabels":{"aws":"yes","x":"on"}}']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /aws: "yes"/);
    assert.match(run.stdout, /x: "on"/);
  });

  test('a selector flag that is not a label selector is a usage error', async () => {
    const refused = await runKirsa(['manifests', '--namespace-selector', '{"matchLabel":{"a":"b"}}']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--namespace-selector takes a label selector/);
    const mode = await runKirsa(['manifests', '--webhook-mode', 'some']);
    assert.equal(mode.code, 2);
    assert.match(mode.stderr, /--webhook-mode takes all or opt-in, not "some"/);
  });

  test('--read-env-from-config-maps: the flag, and get (only) on ConfigMaps in the ClusterRole', async () => {
    const manifests = await kirsaManifests(['--read-env-from-config-maps']);
    const args = byKind(manifests, 'Deployment')[0]!.spec.template.spec.containers[0].args as string[];
    assert.ok(args.includes('--read-env-from-config-maps'));
    assert.deepEqual(byKind(manifests, 'ClusterRole')[0]!.rules.at(-1), {
      apiGroups: [''],
      resources: ['configmaps'],
      verbs: ['get'],
    });
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

/** helm's own labels, which kubectl-applied YAML from `kirsa manifests` does not claim. */
function withoutHelmLabels(manifest: Manifest): Manifest {
  return JSON.parse(JSON.stringify(manifest), (_key, value) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      delete value['app.kubernetes.io/managed-by'];
      delete value['helm.sh/chart'];
    }
    return value;
  });
}

describe('the Helm chart', () => {
  const scratch = helmScratch();
  after(() => scratch.remove());
  const rendered = new Map<string, Promise<Manifest[]>>();
  /** One `helm template` per value set, shared by the tests that read it. */
  function render(helm: string, rendering: Rendering): Promise<Manifest[]> {
    const key = JSON.stringify(rendering);
    if (!rendered.has(key))
      rendered.set(
        key,
        helmTemplate(helm, scratch.dir, rendering).then((text) => documents(text)),
      );
    return rendered.get(key)!;
  }
  const caseNamed = (label: string) => RENDERINGS.find((entry) => entry.label === label)!.rendering;

  test('helm lint --strict passes', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const output = await runHelm(helm, scratch.dir, ['lint', '--strict', CHART]);
    assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test("Chart.yaml: appVersion is kirsa's version (the default image tag); kubeVersion, home, sources, icon", () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    assert.equal(chart.appVersion, pkg.version);
    assert.match(chart.kubeVersion, /^>=1\.\d+/);
    assert.match(chart.home, /^https:\/\//);
    assert.ok(chart.sources.length > 0);
    assert.match(chart.icon, /^https:\/\/.*\.svg$/);
    // The icon the URL points at is the repository's own file.
    assert.ok(existsSync(new URL(`../../../${chart.icon.replace(/^.*\/main\//, '')}`, import.meta.url)));
  });

  for (const { label, rendering, kirsaArgs } of RENDERINGS) {
    if (kirsaArgs === undefined) continue;
    test(`helm template renders the same objects as kirsa manifests: ${label}`, async (t) => {
      const helm = realPart(t, 'KIRSA_HELM');
      if (!helm) return;
      const caFile = join(dir, 'ca-for-helm.pem');
      writeFileSync(caFile, CA_PEM);
      const fromHelm = (await render(helm, rendering)).map(withoutHelmLabels);
      const fromKirsa = await kirsaManifests(kirsaArgs.map((arg) => (arg === 'CA_FILE' ? caFile : arg)));
      const sort = (list: Manifest[]) => [...list].sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
      assert.deepEqual(sort(fromHelm).map(objectKey), sort(fromKirsa).map(objectKey));
      for (const [index, manifest] of sort(fromHelm).entries()) {
        assert.deepEqual(manifest, sort(fromKirsa)[index], `${objectKey(manifest)} differs`);
      }
    });
  }

  test('defaults: standard labels with the instance on every object, selectors on name and instance', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const manifests = await render(helm, {});
    for (const manifest of manifests) {
      assert.deepEqual(
        Object.keys(manifest.metadata.labels ?? {}).sort(),
        [
          'app.kubernetes.io/component',
          'app.kubernetes.io/instance',
          'app.kubernetes.io/managed-by',
          'app.kubernetes.io/name',
          'app.kubernetes.io/version',
          'helm.sh/chart',
        ],
        objectKey(manifest),
      );
      assert.equal(manifest.metadata.labels!['app.kubernetes.io/instance'], 'kirsa');
      assert.equal(manifest.metadata.labels!['app.kubernetes.io/managed-by'], 'Helm');
    }
    const selector = { 'app.kubernetes.io/name': 'kirsa', 'app.kubernetes.io/instance': 'kirsa' };
    const deployment = byKind(manifests, 'Deployment')[0]!;
    assert.deepEqual(deployment.spec.selector.matchLabels, selector);
    assert.deepEqual(byKind(manifests, 'Service')[0]!.spec.selector, selector);
    assert.deepEqual(byKind(manifests, 'PodDisruptionBudget')[0]!.spec.selector.matchLabels, selector);
    assert.deepEqual(byKind(manifests, 'NetworkPolicy')[0]!.spec.podSelector.matchLabels, selector);
    assert.equal(byKind(manifests, 'Namespace').length, 0, 'createNamespace is off by default');
    const pod = deployment.spec.template.spec;
    assert.equal(pod.containers[0].image, 'ghcr.io/kirsa-dev/kirsa:0.1.0');
    assert.equal(pod.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(pod.containers[0].securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  test('cert-manager: a CA chain (self-signed root, CA Issuer, serving Certificate), names under cluster.dnsDomain', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const manifests = await render(helm, { values: { cluster: { dnsDomain: 'corp.internal' } } });
    const issuers = Object.fromEntries(
      byKind(manifests, 'Issuer').map((issuer) => [issuer.metadata.name, issuer.spec]),
    );
    assert.deepEqual(issuers, {
      'kirsa-webhook-selfsigned': { selfSigned: {} },
      'kirsa-webhook-ca': { ca: { secretName: 'kirsa-webhook-ca' } },
    });
    const certificates = Object.fromEntries(
      byKind(manifests, 'Certificate').map((certificate) => [certificate.metadata.name, certificate.spec]),
    );
    assert.equal(certificates['kirsa-webhook-ca'].isCA, true);
    assert.equal(certificates['kirsa-webhook-ca'].duration, '87600h', 'ten years');
    assert.deepEqual(
      [certificates['kirsa-webhook'].duration, certificates['kirsa-webhook'].renewBefore],
      ['2160h', '360h'],
    );
    assert.deepEqual(certificates['kirsa-webhook-ca'].issuerRef, {
      name: 'kirsa-webhook-selfsigned',
      kind: 'Issuer',
    });
    assert.deepEqual(certificates['kirsa-webhook'].issuerRef, { name: 'kirsa-webhook-ca', kind: 'Issuer' });
    assert.deepEqual(certificates['kirsa-webhook'].dnsNames, [
      'kirsa-webhook.kirsa.svc',
      'kirsa-webhook.kirsa.svc.corp.internal',
    ]);
    assert.equal(certificates['kirsa-webhook'].secretName, 'kirsa-webhook-tls');
    assert.equal(
      byKind(manifests, 'MutatingWebhookConfiguration')[0]!.metadata.annotations![
        'cert-manager.io/inject-ca-from'
      ],
      'kirsa/kirsa-webhook',
    );
  });

  test('two releases, in one namespace or in two: no object name collides, no selector reaches the other', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    for (const [first, second] of [
      [
        { release: 'kirsa', namespace: 'kirsa' },
        { release: 'kirsa-canary', namespace: 'kirsa' },
      ],
      [
        { release: 'iam', namespace: 'team-a' },
        { release: 'iam', namespace: 'team-b' },
      ],
      [
        { release: 'a', namespace: 'shared' },
        { release: 'b', namespace: 'shared', values: { tls: { mode: 'self-managed' } } },
      ],
    ] as Rendering[][]) {
      const one = await render(helm, first!);
      const two = await render(helm, second!);
      const keys = new Set(one.map(objectKey));
      assert.deepEqual(
        two.map(objectKey).filter((key) => keys.has(key)),
        [],
        JSON.stringify([first, second]),
      );
      // Cluster-scoped objects by name alone (the key above has no namespace for them).
      const clusterScoped = (list: Manifest[]) =>
        list.filter((m) => !m.metadata.namespace).map((m) => m.metadata.name);
      assert.equal(clusterScoped(one).length, 3);
      assert.deepEqual(
        clusterScoped(one).filter((name) => clusterScoped(two).includes(name)),
        [],
      );
      // The TLS Secret names too (they are not objects of the chart, but each release writes or reads one).
      const secret = (list: Manifest[]) =>
        byKind(list, 'Deployment')[0]!.spec.template.spec.volumes[0].secret?.secretName ??
        byKind(list, 'Deployment')[0]!.spec.template.spec.containers[0].args.find((arg: string) =>
          arg.startsWith('--tls-secret='),
        );
      if (first!.namespace === second!.namespace)
        assert.notEqual(secret(one), secret(two).replace('--tls-secret=', ''));
      const podLabels = (list: Manifest[]) => byKind(list, 'Deployment')[0]!.spec.template.metadata.labels;
      const selects = (list: Manifest[], labels: Record<string, string>) =>
        Object.entries(byKind(list, 'Service')[0]!.spec.selector).every(
          ([key, value]) => labels[key] === value,
        );
      if (first!.namespace === second!.namespace) {
        assert.equal(selects(one, podLabels(two)), false, "a release's Service selects the other's pods");
        assert.equal(selects(one, podLabels(one)), true);
      }
    }
  });

  test('image.tag and image.digest: the tag replaces appVersion; a digest pins the image and wins over a tag', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const image = async (values: Record<string, unknown>) =>
      byKind(await render(helm, { values: { image: values } }), 'Deployment')[0]!.spec.template.spec
        .containers[0].image;
    assert.equal(await image({ tag: '0.2.0' }), 'ghcr.io/kirsa-dev/kirsa:0.2.0');
    const digest = `sha256:${'b'.repeat(64)}`;
    assert.equal(await image({ tag: '0.2.0', digest }), `ghcr.io/kirsa-dev/kirsa@${digest}`);
    assert.equal(await image({ repository: 'registry.local/kirsa', tag: 'dev' }), 'registry.local/kirsa:dev');
  });

  test('replicaCount and the PodDisruptionBudget: never one that can block a node drain', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const pdb = async (values: Record<string, unknown>) => {
      const manifests = await render(helm, { values });
      return {
        replicas: byKind(manifests, 'Deployment')[0]!.spec.replicas,
        pdb: byKind(manifests, 'PodDisruptionBudget')[0]?.spec,
      };
    };
    const selector = {
      matchLabels: { 'app.kubernetes.io/name': 'kirsa', 'app.kubernetes.io/instance': 'kirsa' },
    };
    assert.deepEqual(await pdb({ replicaCount: 1 }), { replicas: 1, pdb: undefined });
    assert.deepEqual(await pdb({ replicaCount: 3 }), { replicas: 3, pdb: { minAvailable: 1, selector } });
    assert.deepEqual(await pdb({ replicaCount: 3, podDisruptionBudget: { minAvailable: 3 } }), {
      replicas: 3,
      pdb: undefined,
    });
    assert.deepEqual(await pdb({ replicaCount: 1, podDisruptionBudget: { maxUnavailable: 1 } }), {
      replicas: 1,
      pdb: { maxUnavailable: 1, selector },
    });
    assert.deepEqual(await pdb({ replicaCount: 2, podDisruptionBudget: { maxUnavailable: 0 } }), {
      replicas: 2,
      pdb: undefined,
    });
    assert.deepEqual(await pdb({ podDisruptionBudget: { enabled: false } }), { replicas: 2, pdb: undefined });
  });

  test('chart-only values reach the pod: resources, scheduling, pod metadata, extra args and env, pull secrets', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const values = caseNamed(
      'chart-only values: scheduling, pod metadata, extra args and env, an image digest, resources',
    ).values!;
    const manifests = await render(
      helm,
      caseNamed(
        'chart-only values: scheduling, pod metadata, extra args and env, an image digest, resources',
      ),
    );
    const template = byKind(manifests, 'Deployment')[0]!.spec.template;
    const pod = template.spec;
    const container = pod.containers[0];
    assert.deepEqual(container.resources, values.resources);
    assert.equal(container.imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'registry' }]);
    assert.deepEqual(pod.nodeSelector, values.nodeSelector);
    assert.deepEqual(pod.tolerations, values.tolerations);
    assert.deepEqual(pod.affinity, values.affinity, 'affinity replaces the default anti-affinity');
    assert.deepEqual(pod.topologySpreadConstraints, values.topologySpreadConstraints);
    assert.deepEqual(template.metadata.annotations, { 'example.com/team': 'platform' });
    assert.equal(template.metadata.labels.team, 'platform');
    assert.equal(
      template.metadata.labels['app.kubernetes.io/name'],
      'kirsa',
      'podLabels cannot take the selector labels',
    );
    assert.equal(template.metadata.labels['eks.amazonaws.com/skip-pod-identity-webhook'], 'true');
    assert.equal(container.args.at(-1), '--log-level=debug');
    assert.deepEqual(container.env, values.extraEnv);
    assert.deepEqual(byKind(manifests, 'PodDisruptionBudget')[0]!.spec.maxUnavailable, 1);
    const monitor = byKind(manifests, 'ServiceMonitor')[0]!;
    assert.equal(monitor.metadata.labels!.release, 'prometheus');
    assert.deepEqual(monitor.spec.endpoints, [
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' },
    ]);
    assert.deepEqual(monitor.spec.selector.matchLabels, byKind(manifests, 'Service')[0]!.spec.selector);
    assert.equal(byKind(manifests, 'NetworkPolicy').length, 0);
    // An existing issuer signs the serving certificate: the chart makes no issuer of its own.
    assert.equal(byKind(manifests, 'Issuer').length, 0);
    assert.deepEqual(
      byKind(manifests, 'Certificate').map((c) => [c.metadata.name, c.spec.issuerRef]),
      [['kirsa-webhook', { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }]],
    );
  });

  test("default scope: kube-system and every other namespace are sent; the webhook's own pods never", async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const manifests = await render(helm, {});
    const [webhook, ...more] = byKind(manifests, 'MutatingWebhookConfiguration')[0]!.webhooks;
    assert.equal(more.length, 0);
    assert.equal(webhook.failurePolicy, 'Ignore');
    // Judged by the doctor's own selector evaluation (the API server's rules for label selectors).
    for (const namespace of ['kube-system', 'kirsa', 'default', 'apps'])
      assert.equal(
        selectorMatches(webhook.namespaceSelector, { 'kubernetes.io/metadata.name': namespace }),
        true,
        namespace,
      );
    const ownPod = byKind(manifests, 'Deployment')[0]!.spec.template.metadata.labels;
    assert.equal(selectorMatches(webhook.objectSelector, ownPod), false);
    assert.equal(selectorMatches(webhook.objectSelector, { app: 'ebs-csi-controller' }), true);
  });

  test('webhook.mode opt-in with failurePolicy Fail: only labelled pods or namespaces, never its own pods', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const manifests = await render(helm, { values: { webhook: { mode: 'opt-in', failurePolicy: 'Fail' } } });
    const webhooks = byKind(manifests, 'MutatingWebhookConfiguration')[0]!.webhooks as Array<{
      failurePolicy: string;
      namespaceSelector: LabelSelector;
      objectSelector: LabelSelector;
    }>;
    assert.deepEqual(
      webhooks.map((w) => w.failurePolicy),
      ['Fail', 'Fail'],
    );
    /** Whether any webhook of the configuration is called for this pod in this namespace. */
    const sent = (namespaceLabels: Record<string, string>, podLabels: Record<string, string>) =>
      webhooks.filter(
        (w) =>
          selectorMatches(w.namespaceSelector, namespaceLabels) &&
          selectorMatches(w.objectSelector, podLabels),
      ).length;
    const ns = (name: string, labels: Record<string, string> = {}) => ({
      'kubernetes.io/metadata.name': name,
      ...labels,
    });
    const optIn = { 'kirsa.dev/inject': 'true' };
    assert.equal(sent(ns('apps'), {}), 0, 'an unlabelled pod of an unlabelled namespace');
    assert.equal(sent(ns('apps'), optIn), 1, 'a labelled pod');
    assert.equal(sent(ns('kube-system'), optIn), 1, 'a labelled pod in kube-system');
    assert.equal(sent(ns('apps', optIn), {}), 1, 'a pod of a labelled namespace');
    assert.equal(sent(ns('apps', optIn), optIn), 1, 'sent once, not twice');
    assert.equal(sent(ns('apps', optIn), { 'kirsa.dev/inject': 'false' }), 0, 'a pod that opts out');
    const ownPod = byKind(manifests, 'Deployment')[0]!.spec.template.metadata.labels;
    assert.equal(
      sent(ns('kirsa', optIn), { ...ownPod, ...optIn }),
      0,
      "the webhook's own pods, even labelled",
    );
  });

  test('the skip label follows annotationPrefix, on the pods and in the selector', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const manifests = await render(helm, { values: { webhook: { annotationPrefix: 'iam.example.com' } } });
    const labels = byKind(manifests, 'Deployment')[0]!.spec.template.metadata.labels;
    assert.equal(labels['iam.example.com/skip-pod-identity-webhook'], 'true');
    assert.equal(labels['eks.amazonaws.com/skip-pod-identity-webhook'], undefined);
    assert.deepEqual(byKind(manifests, 'MutatingWebhookConfiguration')[0]!.webhooks[0].objectSelector, {
      matchExpressions: [{ key: 'iam.example.com/skip-pod-identity-webhook', operator: 'DoesNotExist' }],
    });
  });

  test('values.schema.json refuses unknown keys and wrong types, naming the value', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    for (const [values, message] of [
      [{ replicas: 3 }, /additional properties 'replicas' not allowed/],
      [{ replicaCount: '3' }, /\/replicaCount': got string, want integer/],
      [{ image: { tag: 1.1 } }, /\/image\/tag': got number, want string/],
      [{ image: 'ghcr.io/kirsa-dev/kirsa:0.1.0' }, /\/image': got string, want object/],
      [{ webhook: { mode: 'some' } }, /\/webhook\/mode'/],
      [{ webhook: { failurePolicy: 'ignore' } }, /\/webhook\/failurePolicy'/],
      [
        { webhook: { namespaceSelector: { matchLabel: { a: 'b' } } } },
        /additional properties 'matchLabel' not allowed/,
      ],
      [{ podDisruptionBudget: { minAvailable: '50%' } }, /\/podDisruptionBudget\/minAvailable'/],
    ] as const) {
      await assert.rejects(helmTemplate(helm, scratch.dir, { values }), (error: Error) => {
        assert.match(error.message, /values don't meet the specifications of the schema/);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test('NOTES.txt says what to run next: kirsa doctor; opt-in says how to label', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    // helm template does not print NOTES; helm install --dry-run does, with no cluster.
    const install = await runHelm(helm, scratch.dir, [
      'install',
      'kirsa',
      CHART,
      '--namespace',
      'kirsa',
      '--dry-run=client',
      '--set',
      'webhook.mode=opt-in',
    ]);
    assert.match(install, /kirsa doctor pod <pod> -n <namespace>/);
    assert.match(install, /kubectl label namespace <namespace> kirsa\.dev\/inject=true/);
    assert.doesNotMatch(install, /WARNING/);
    const risky = await runHelm(helm, scratch.dir, [
      'install',
      'kirsa',
      CHART,
      '--namespace',
      'kirsa',
      '--dry-run=client',
      '--set',
      'webhook.failurePolicy=Fail',
    ]);
    assert.match(risky, /WARNING: failurePolicy Fail with mode all/);
    assert.match(risky, /kirsa doctor pod <pod> -n <namespace>/);
  });

  test('helm package makes a chart archive helm can render', async (t) => {
    const helm = realPart(t, 'KIRSA_HELM');
    if (!helm) return;
    const out = join(scratch.dir, 'package');
    const output = await runHelm(helm, scratch.dir, ['package', CHART, '--destination', out]);
    const archive = join(out, 'kirsa-0.1.0.tgz');
    assert.match(output, /Successfully packaged chart/);
    const fromArchive = documents(
      await runHelm(helm, scratch.dir, ['template', 'kirsa', archive, '--namespace', 'kirsa']),
    );
    assert.deepEqual(fromArchive.map(objectKey), (await render(helm, {})).map(objectKey));
  });
});
