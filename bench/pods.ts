import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_TOKEN_MOUNT_PATH } from '../src/consts.ts';
import { processAdmission } from '../src/core/admission/process.ts';
import { parseAdmissionReview } from '../src/core/admission/review.ts';
import { BUILTIN_IDENTITY_DEFAULTS, identityFromServiceAccount } from '../src/core/identity/identity.ts';
import { apiServerReview } from '../test/support/admission-reviews.ts';
// Realistic pod CREATE reviews for the benchmark and the reliability suite: what a ReplicaSet controller
// sends for a small web app (about 1 KB of pod) and for a busy pod with sidecars, many env vars, probes and
// mounts (about 20 KB), both as the API server serialises them after defaulting.

export type PodSize = 'small' | 'large';

function container(name: string, envCount: number, index: number): Record<string, unknown> {
  return {
    name,
    image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/${name}:v1.${index}.3`,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: 8080 + index, protocol: 'TCP' }],
    env: Array.from({ length: envCount }, (_, i) => ({
      name: `APP_SETTING_${i}_${name.toUpperCase().replaceAll('-', '_')}`,
      value: `value-${i}-${'x'.repeat(i % 7 === 0 ? 60 : 12)}`,
    })),
    resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
    readinessProbe: {
      httpGet: { path: '/ready', port: 8080 + index, scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 8080 + index, scheme: 'HTTP' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/app', readOnly: true },
      {
        name: 'kube-api-access-x7k2p',
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        readOnly: true,
      },
    ],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
  };
}

export function makePod(size: PodSize, serviceAccountName = 'app'): Record<string, unknown> {
  const containers =
    size === 'small'
      ? [
          {
            name: 'web',
            image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2',
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
            resources: { requests: { cpu: '100m', memory: '128Mi' } },
            volumeMounts: [
              {
                name: 'kube-api-access-x7k2p',
                mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
                readOnly: true,
              },
            ],
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ]
      : [
          container('api', 60, 0),
          container('worker', 50, 1),
          container('log-shipper', 30, 2),
          container('proxy', 20, 3),
        ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-7d9c6b5f4-',
      namespace: 'shop',
      labels: {
        app: 'web',
        'pod-template-hash': '7d9c6b5f4',
        ...(size === 'large' ? { team: 'payments', tier: 'backend' } : {}),
      },
      ...(size === 'large'
        ? {
            annotations: {
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': '9090',
              'kubectl.kubernetes.io/default-container': 'api',
              'example.com/config-hash': 'f'.repeat(64),
            },
          }
        : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d9c6b5f4',
          uid: '6f1c1b0e-0c35-4f3c-9a51-3f2f0f6f9c10',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      serviceAccountName,
      serviceAccount: serviceAccountName,
      containers,
      ...(size === 'large' ? { initContainers: [container('migrate', 15, 9)] } : {}),
      volumes: [
        ...(size === 'large'
          ? [{ name: 'config', configMap: { name: 'web-config', defaultMode: 420 } }]
          : []),
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [
                    { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                  ],
                },
              },
            ],
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: {},
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: {},
  };
}

/** A pod CREATE AdmissionReview as the API server sends it. */
export function makeReview(size: PodSize, uid: string, serviceAccountName = 'app'): string {
  return apiServerReview(makePod(size, serviceAccountName), { uid, namespace: 'shop' });
}

/**
 * kirsa's patch for each of these reviews' pods, by the pod's container count (init containers included):
 * what the Node parsing floor answers (bench/floor-server.ts). From kirsa's core, with the identity an
 * account annotated with `role` gives and the webhook's --aws-default-region, so the floor's answers are as
 * long as kirsa's and pass the same check.
 */
export async function kirsaPatches(
  reviews: readonly string[],
  role: string,
  region: string,
): Promise<Record<string, string>> {
  const identity = identityFromServiceAccount(
    { namespace: 'shop', name: 'app', annotations: { [`${DEFAULT_ANNOTATION_PREFIX}/role-arn`]: role } },
    DEFAULT_ANNOTATION_PREFIX,
    BUILTIN_IDENTITY_DEFAULTS,
  );
  const identities = { identityFor: () => ({ identity, serviceAccountMissing: false }) };
  const mutation = {
    annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
    tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
    defaultRegion: region,
    random: Math.random,
  };
  const patches: Record<string, string> = {};
  for (const body of reviews) {
    const review = parseAdmissionReview(body);
    if (!review.ok) throw new Error(`a benchmark review does not parse: ${review.reason}`);
    const { reply } = await processAdmission(review, identities, { mutation });
    const patch = reply.response?.patch;
    if (patch === undefined) throw new Error("kirsa's core gave a benchmark pod no patch");
    const spec = (review.request.object as { spec: { containers: unknown[]; initContainers?: unknown[] } })
      .spec;
    patches[String(spec.containers.length + (spec.initContainers?.length ?? 0))] = patch;
  }
  return patches;
}
