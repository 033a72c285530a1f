// What test/real-parts/deploy's files share: the chart, rendering it with the real helm (values given as a values file,
// so types reach the schema as a user's file would give them), reading YAML documents, and the value sets
// every test there renders. manifests.test.ts asserts on them; dry-run.test.ts applies each to the real
// kube-apiserver.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CHART = new URL('../../deploy/helm/kirsa', import.meta.url).pathname;

export type Manifest = {
  kind: string;
  apiVersion: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML that the assertions walk freely
  [key: string]: any;
};

export function documents(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

export const byKind = (manifests: Manifest[], kind: string) =>
  manifests.filter((manifest) => manifest.kind === kind);

export const objectKey = (manifest: Manifest) =>
  `${manifest.kind}/${manifest.metadata.namespace ?? ''}/${manifest.metadata.name}`;

/** A scratch folder for helm's homes and values files, removed by the caller's after(). */
export function helmScratch(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kirsa-chart-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let valuesFiles = 0;

/** `helm template` with the values as a file; resolves to stdout, rejects with helm's stderr. */
export async function helmTemplate(
  helm: string,
  scratch: string,
  { release = 'kirsa', namespace = 'kirsa', values = {} }: Rendering,
  extra: string[] = [],
): Promise<string> {
  valuesFiles += 1;
  const file = join(scratch, `values-${valuesFiles}.json`);
  // JSON is YAML: the file reaches helm with the types written here.
  writeFileSync(file, JSON.stringify(values));
  return runHelm(helm, scratch, ['template', release, CHART, '--namespace', namespace, '-f', file, ...extra]);
}

export async function runHelm(helm: string, scratch: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(helm, args, {
      env: { ...process.env, HELM_CACHE_HOME: scratch, HELM_CONFIG_HOME: scratch, HELM_DATA_HOME: scratch },
    });
    return stdout;
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    throw new Error(failed.stderr || failed.message);
  }
}

export interface Rendering {
  release?: string;
  namespace?: string;
  values?: Record<string, unknown>;
}

/** A CA in PEM, as `kirsa manifests --ca-bundle-file` reads it; the chart takes it base64. */
export const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/**
 * Value sets and the `kirsa manifests` flags meant to render the same objects (none: a chart-only value).
 * CA_FILE stands for a file holding CA_PEM.
 */
export const RENDERINGS: Array<{ label: string; rendering: Rendering; kirsaArgs?: string[] }> = [
  { label: 'defaults', rendering: { values: { createNamespace: true } }, kirsaArgs: [] },
  {
    label: 'TLS from a Secret, a region, regional STS, 3 replicas',
    rendering: {
      values: {
        createNamespace: true,
        tls: { mode: 'secret', caBundle: Buffer.from(CA_PEM).toString('base64') },
        webhook: { awsDefaultRegion: 'eu-west-1', stsRegionalEndpoint: true, watchConfigMap: true },
        replicaCount: 3,
      },
    },
    kirsaArgs: [
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
  },
  {
    label: "reading kOps' mapping ConfigMap in kube-system",
    rendering: {
      values: { createNamespace: true, webhook: { watchConfigMap: true, configMapNamespace: 'kube-system' } },
    },
    kirsaArgs: ['--watch-config-map', '--config-map-namespace', 'kube-system'],
  },
  {
    label: 'reading the ConfigMaps of envFrom',
    rendering: { values: { createNamespace: true, webhook: { readEnvFromConfigMaps: true } } },
    kirsaArgs: ['--read-env-from-config-maps'],
  },
  {
    label: 'self-managed TLS, another DNS domain',
    rendering: {
      values: {
        createNamespace: true,
        tls: { mode: 'self-managed' },
        cluster: { dnsDomain: 'corp.internal' },
      },
    },
    kirsaArgs: ['--tls-mode', 'self-managed', '--dns-domain', 'corp.internal'],
  },
  {
    label: 'opt-in with failurePolicy Fail, selectors, another prefix, release team-a in namespace iam',
    rendering: {
      release: 'team-a',
      namespace: 'iam',
      values: {
        createNamespace: true,
        webhook: {
          mode: 'opt-in',
          failurePolicy: 'Fail',
          annotationPrefix: 'iam.example.com',
          namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['sandbox'] }] },
          objectSelector: { matchLabels: { 'aws-access': 'yes' } },
        },
      },
    },
    kirsaArgs: [
      '--name',
      'team-a',
      '--namespace',
      'iam',
      '--webhook-mode',
      'opt-in',
      '--failure-policy',
      'Fail',
      '--annotation-prefix',
      'iam.example.com',
      '--namespace-selector',
      '{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["sandbox"]}]}',
      '--object-selector',
      'matchLabels: {aws-access: "yes"}',
    ],
  },
  {
    label: 'one replica (no PDB), an image tag, a DNS domain, no priority class, fullnameOverride',
    rendering: {
      values: {
        createNamespace: true,
        replicaCount: 1,
        image: { tag: '0.2.0' },
        cluster: { dnsDomain: 'corp.internal' },
        priorityClassName: '',
        fullnameOverride: 'pod-identity',
      },
    },
    kirsaArgs: [
      '--replicas',
      '1',
      '--image',
      'ghcr.io/kirsa-dev/kirsa:0.2.0',
      '--dns-domain',
      'corp.internal',
      '--priority-class-name',
      '',
      '--fullname-override',
      'pod-identity',
    ],
  },
  {
    label: 'chart-only values: scheduling, pod metadata, extra args and env, an image digest, resources',
    rendering: {
      values: {
        image: { digest: `sha256:${'a'.repeat(64)}`, pullPolicy: 'Always' },
        imagePullSecrets: [{ name: 'registry' }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        ],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] },
                  ],
                },
              ],
            },
          },
        },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'topology.kubernetes.io/zone',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'kirsa' } },
          },
        ],
        podAnnotations: { 'example.com/team': 'platform' },
        podLabels: { team: 'platform', 'app.kubernetes.io/name': 'not-this' },
        extraArgs: ['--log-level=debug'],
        extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=192' }],
        podDisruptionBudget: { maxUnavailable: 1 },
        serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
        certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } },
        networkPolicy: { enabled: false },
      },
    },
  },
];
