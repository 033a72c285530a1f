// The install manifests against the real kube-apiserver: every `helm template` rendering test/deploy renders
// and `kirsa manifests` output pass `kubectl apply --dry-run=server`, which runs the API server's validation
// and admission on every object (the PriorityClass must exist, selectors must be valid, names must be
// DNS names). cert-manager's and prometheus-operator's kinds need their CRDs; the test registers minimal
// stand-ins (schema left open), since the real charts cannot be fetched here. One API server for the file.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CA_PEM, helmScratch, helmTemplate, RENDERINGS, type Rendering } from '../../support/chart-cases.ts';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

function crd(group: string, kind: string, plural: string): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`;
}

let apiserver: KubeApiserver | undefined;
let kubectl: string | undefined;
let helm: string | undefined;
const scratch = helmScratch();

async function kubectlRun(args: string[], input?: string): Promise<string> {
  const child = execFile(kubectl!, ['--kubeconfig', apiserver!.kubeconfigPath, ...args]);
  child.stdin?.end(input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${code}): ${stderr}`);
  return stdout;
}

/** Every object of the YAML passes the API server's validation and admission, as a dry run. */
async function dryRun(yaml: string): Promise<string> {
  const output = await kubectlRun(['apply', '--dry-run=server', '-f', '-'], yaml);
  const objects = yaml.split(/^---$/m).filter((document) => /^kind:/m.test(document)).length;
  assert.equal(output.trim().split('\n').length, objects, output);
  for (const line of output.trim().split('\n'))
    assert.match(line, /(created|configured|unchanged) \(server dry run\)$/);
  return output;
}

/** The renderings only this file needs beyond RENDERINGS: two releases side by side, the image settings. */
const MORE: Array<{ label: string; rendering: Rendering }> = [
  {
    label: 'a second release in namespace kirsa',
    rendering: { release: 'kirsa-canary', values: { tls: { mode: 'self-managed' } } },
  },
  { label: 'release iam in namespace team-a', rendering: { release: 'iam', namespace: 'team-a' } },
  { label: 'release iam in namespace team-b', rendering: { release: 'iam', namespace: 'team-b' } },
  { label: 'image.tag', rendering: { values: { image: { tag: '0.2.0' } } } },
  { label: 'image.digest', rendering: { values: { image: { digest: `sha256:${'c'.repeat(64)}` } } } },
  { label: 'replicaCount 1', rendering: { values: { replicaCount: 1 } } },
  {
    label: 'opt-in, failurePolicy Fail',
    rendering: { values: { webhook: { mode: 'opt-in', failurePolicy: 'Fail' } } },
  },
];

describe('install manifests on the real API server (dry run)', () => {
  before(async (context) => {
    kubectl = realPart(context, 'KIRSA_KUBECTL');
    helm = realPart(context, 'KIRSA_HELM');
    if (!kubectl || !helm || !realPart(context, 'KIRSA_KUBE_APISERVER')) return;
    apiserver = await startKubeApiserver();
    await kubectlRun(
      ['apply', '-f', '-'],
      [
        crd('cert-manager.io', 'Issuer', 'issuers'),
        crd('cert-manager.io', 'Certificate', 'certificates'),
        crd('monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'),
      ].join('---\n'),
    );
    await kubectlRun([
      'wait',
      '--for=condition=Established',
      'crd/issuers.cert-manager.io',
      'crd/certificates.cert-manager.io',
      'crd/servicemonitors.monitoring.coreos.com',
      '--timeout=60s',
    ]);
    // A dry run does not create the namespace, so the namespaced objects need it to exist for real.
    for (const namespace of ['kirsa', 'iam', 'team-a', 'team-b'])
      await kubectlRun(['create', 'namespace', namespace]);
  });

  after(async () => {
    await apiserver?.stop();
    scratch.remove();
  });

  for (const { label, rendering } of [...RENDERINGS, ...MORE]) {
    test(`helm template passes the API server: ${label}`, async (context) => {
      if (!apiserver) return context.skip('real parts are missing');
      await dryRun(await helmTemplate(helm!, scratch.dir, rendering));
    });
  }

  for (const { label, kirsaArgs } of RENDERINGS) {
    if (kirsaArgs === undefined) continue;
    test(`kirsa manifests passes the API server: ${label}`, async (context) => {
      if (!apiserver) return context.skip('real parts are missing');
      const caFile = join(scratch.dir, 'ca.pem');
      await writeFile(caFile, CA_PEM);
      const manifests = await runKirsa([
        'manifests',
        ...kirsaArgs.map((arg) => (arg === 'CA_FILE' ? caFile : arg)),
      ]);
      assert.equal(manifests.code, 0, manifests.stderr);
      await dryRun(manifests.stdout);
    });
  }

  test('a mirror pod reaches the webhooks with no service account, and may not use a token projection', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    // What the kubelet creates for a static pod: the mirror annotation, a node name, no service account.
    const mirror = (volumes: unknown[]) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'static-web-node-1',
          namespace: 'kube-system',
          annotations: { 'kubernetes.io/config.mirror': 'a1b2c3', 'kubernetes.io/config.source': 'file' },
        },
        spec: { nodeName: 'node-1', containers: [{ name: 'web', image: 'nginx' }], volumes },
      });
    // After every admission step but the webhooks' (there are none here), the API server has not given it
    // the default service account, as it does every other pod: kirsa would have looked up "default".
    const admitted = JSON.parse(
      await kubectlRun(['create', '--dry-run=server', '-o', 'json', '-f', '-'], mirror([])),
    );
    assert.equal(admitted.spec.serviceAccountName, undefined);
    // kirsa's patch adds a projected service account token: the API server refuses that in a mirror pod.
    const projected = [
      {
        name: 'aws-iam-token',
        projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', path: 'token' } }] },
      },
    ];
    await assert.rejects(
      kubectlRun(['create', '--dry-run=server', '-f', '-'], mirror(projected)),
      /mirror pod may not use ServiceAccountToken volume projections/,
    );
  });
});
