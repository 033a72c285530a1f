// The seed's example, as the demo uses it: the s3-echoer pod, its service account, and the AWS names. The
// account ID is AWS's documentation example: nothing here reaches a real account.

import type { PodLike } from '../core/kube-types.ts';

export const DEMO_ACCOUNT_ID = '111122223333';
export const DEMO_NAMESPACE = 'default';
export const DEMO_SERVICE_ACCOUNT = 's3-echoer';
/** The service account of the troubleshooting replay: not the one the role trusts. */
export const DEMO_WRONG_SERVICE_ACCOUNT = 'app';
export const DEMO_ROLE_ARN = `arn:aws:iam::${DEMO_ACCOUNT_ID}:role/s3-echoer`;
export const DEMO_REGION = 'us-east-1';

export function seedPod(serviceAccountName: string): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 's3-echoer', namespace: DEMO_NAMESPACE, uid: '5c1a3f0e-0000-4000-8000-000000000001' },
    spec: {
      serviceAccountName,
      restartPolicy: 'Never',
      containers: [{ name: 's3-echoer', image: 'kirsa/s3-echoer:latest', args: ['kirsa-irsa-demo-bucket'] }],
    },
  };
}

/** The uid the s3-echoer runs as on the node, as examples/s3-echoer/job.yaml sets it. */
export const DEMO_POD_USER = 1000;

/**
 * The s3-echoer pod as `kirsa demo --node` runs it on the node: the securityContext of
 * examples/s3-echoer/job.yaml (a non-root user, fsGroup so that user reads the token), the image imported
 * into the node, `--whoami` (the demo has no S3), and the SDK pointed at the demo's STS on the node's
 * address. The webhook adds the rest (role, token file, region).
 */
export function seedPodOnNode(
  name: string,
  serviceAccountName: string,
  image: string,
  stsUrl: string,
): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: DEMO_NAMESPACE },
    spec: {
      serviceAccountName,
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: DEMO_POD_USER, fsGroup: DEMO_POD_USER },
      containers: [
        {
          name: 's3-echoer',
          image,
          imagePullPolicy: 'Never',
          args: ['--whoami'],
          env: [{ name: 'AWS_ENDPOINT_URL_STS', value: stsUrl }],
        },
      ],
    },
  };
}
