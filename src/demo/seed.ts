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
