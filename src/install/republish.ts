// The objects that keep a cluster's published JWKS current after the cluster rotates its own key: a
// CronJob that runs `kirsa issuer publish --from-cluster` on a schedule, its ServiceAccount, and the binding
// to system:service-account-issuer-discovery, the built-in ClusterRole that may read the API server's
// /.well-known/openid-configuration and /openid/v1/jwks (bound to every service account by default, but
// clusters may remove that binding). Pure: settings in, plain objects out.

import type { Manifest } from './manifests.ts';

export interface RepublishSettings {
  namespace: string;
  image: string;
  /** Cron schedule; a re-publish that changes nothing rewrites the same bytes. */
  schedule: string;
  bucket: string;
  issuerUrl: string;
  region: string;
  jwksPath: string;
  /** The IAM role the job's AWS calls use, through IRSA; none: the node's or the environment's credentials. */
  roleArn?: string | undefined;
  hosting: string;
}

export const REPUBLISH_NAME = 'kirsa-issuer-publisher';
/** The ClusterRole kube-apiserver bootstraps for reading the issuer documents. */
export const ISSUER_DISCOVERY_CLUSTER_ROLE = 'system:service-account-issuer-discovery';

export function renderRepublishManifests(settings: RepublishSettings): Manifest[] {
  const labels = { 'app.kubernetes.io/name': REPUBLISH_NAME, 'app.kubernetes.io/part-of': 'kirsa' };
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: REPUBLISH_NAME,
        namespace: settings.namespace,
        labels,
        ...(settings.roleArn ? { annotations: { 'eks.amazonaws.com/role-arn': settings.roleArn } } : {}),
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: REPUBLISH_NAME, labels },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: ISSUER_DISCOVERY_CLUSTER_ROLE,
      },
      subjects: [{ kind: 'ServiceAccount', name: REPUBLISH_NAME, namespace: settings.namespace }],
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: REPUBLISH_NAME, namespace: settings.namespace, labels },
      spec: {
        schedule: settings.schedule,
        // Two uploads at once would race on the same two objects.
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 2,
            template: {
              metadata: { labels },
              spec: {
                serviceAccountName: REPUBLISH_NAME,
                restartPolicy: 'OnFailure',
                securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
                containers: [
                  {
                    name: 'publish',
                    image: settings.image,
                    args: [
                      'issuer',
                      'publish',
                      '--from-cluster',
                      '--bucket',
                      settings.bucket,
                      '--issuer-url',
                      settings.issuerUrl,
                      '--region',
                      settings.region,
                      '--jwks-path',
                      settings.jwksPath,
                      '--hosting',
                      settings.hosting,
                    ],
                    env: [{ name: 'AWS_REGION', value: settings.region }],
                    securityContext: {
                      allowPrivilegeEscalation: false,
                      readOnlyRootFilesystem: true,
                      capabilities: { drop: ['ALL'] },
                    },
                    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                  },
                ],
              },
            },
          },
        },
      },
    },
  ];
}
