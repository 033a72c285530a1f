// The install manifests against the real kube-apiserver: `kirsa manifests` and `helm template` output both
// pass `kubectl apply --dry-run=server`, which runs the API server's validation and admission on every
// object. cert-manager's kinds need its CRDs; the test registers minimal stand-ins for Issuer and
// Certificate (schema left open), since the real chart of cert-manager cannot be fetched here.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type KubeApiserver, startKubeApiserver } from '../support/kube-apiserver.ts';
import { realPart } from '../support/real-parts.ts';
import { runKirsa } from '../support/run-kirsa.ts';

const run = promisify(execFile);
const CHART = new URL('../../deploy/helm/kirsa', import.meta.url).pathname;

function certManagerCrd(kind: string, plural: string): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.cert-manager.io
spec:
  group: cert-manager.io
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
let work: string;

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

describe('install manifests on the real API server (dry run)', () => {
  before(async (context) => {
    kubectl = realPart(context, 'KIRSA_KUBECTL');
    helm = realPart(context, 'KIRSA_HELM');
    if (!kubectl || !helm || !realPart(context, 'KIRSA_KUBE_APISERVER')) return;
    work = await mkdtemp(join(tmpdir(), 'kirsa-dry-run-'));
    apiserver = await startKubeApiserver();
    await kubectlRun(
      ['apply', '-f', '-'],
      certManagerCrd('Issuer', 'issuers') + '---\n' + certManagerCrd('Certificate', 'certificates'),
    );
    await kubectlRun([
      'wait',
      '--for=condition=Established',
      'crd/issuers.cert-manager.io',
      'crd/certificates.cert-manager.io',
      '--timeout=60s',
    ]);
    // A dry run does not create the namespace, so the namespaced objects need it to exist for real.
    await kubectlRun(['create', 'namespace', 'kirsa']);
  });

  after(async () => {
    await apiserver?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('kirsa manifests (cert-manager TLS) passes the API server', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const manifests = await runKirsa(['manifests']);
    assert.equal(manifests.code, 0, manifests.stderr);
    const output = await kubectlRun(['apply', '--dry-run=server', '-f', '-'], manifests.stdout);
    for (const expected of [
      'namespace/kirsa',
      'deployment.apps/kirsa-webhook',
      'poddisruptionbudget.policy/kirsa-webhook',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/kirsa-webhook',
      'certificate.cert-manager.io/kirsa-webhook',
      'clusterrole.rbac.authorization.k8s.io/kirsa-webhook',
    ]) {
      assert.match(
        output,
        new RegExp(`${expected.replaceAll('.', '\\.')} (created|configured|unchanged) \\(server dry run\\)`),
      );
    }
  });

  test('kirsa manifests (TLS from a Secret) passes the API server', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const caFile = join(work, 'ca.pem');
    await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const manifests = await runKirsa(['manifests', '--tls-mode', 'secret', '--ca-bundle-file', caFile]);
    assert.equal(manifests.code, 0, manifests.stderr);
    const output = await kubectlRun(['apply', '--dry-run=server', '-f', '-'], manifests.stdout);
    assert.match(
      output,
      /mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/kirsa-webhook created \(server dry run\)/,
    );
  });

  test('kirsa manifests (self-managed TLS) passes the API server', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const manifests = await runKirsa(['manifests', '--tls-mode', 'self-managed']);
    assert.equal(manifests.code, 0, manifests.stderr);
    const output = await kubectlRun(['apply', '--dry-run=server', '-f', '-'], manifests.stdout);
    assert.match(
      output,
      /role\.rbac\.authorization\.k8s\.io\/kirsa-webhook (created|configured) \(server dry run\)/,
    );
  });

  test('helm template output passes the API server', async (context) => {
    if (!apiserver) return context.skip('real parts are missing');
    const { stdout } = await run(helm!, ['template', 'kirsa', CHART, '--namespace', 'kirsa'], {
      env: { ...process.env, HELM_CACHE_HOME: work, HELM_CONFIG_HOME: work, HELM_DATA_HOME: work },
    });
    const output = await kubectlRun(['apply', '--dry-run=server', '-n', 'kirsa', '-f', '-'], stdout);
    assert.match(output, /deployment\.apps\/kirsa-webhook created \(server dry run\)/);
    assert.match(output, /issuer\.cert-manager\.io\/kirsa-webhook-selfsigned created \(server dry run\)/);
  });
});
