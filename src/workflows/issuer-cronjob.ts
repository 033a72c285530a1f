// `issuer cronjob`: the objects that re-publish a cluster's JWKS on a schedule (install/republish.ts renders
// them), after the same checks publish makes of the bucket, the issuer URL, the JWKS path and the hosting.

import { checkBucketName, checkHosting, checkIssuerUrl, checkJwksPath } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import type { Manifest } from '../install/manifests.ts';
import { renderRepublishManifests } from '../install/republish.ts';

export interface CronJobInput {
  bucket: string;
  issuerUrl: string;
  /** The bucket region (default: AWS_REGION); the job publishes to it. */
  region?: string | undefined;
  jwksPath: string;
  namespace: string;
  image: string;
  schedule: string;
  roleArn?: string | undefined;
  hosting: string;
}

export function issuerCronJobManifests(input: CronJobInput): Manifest[] {
  checkBucketName(input.bucket);
  const { url } = checkIssuerUrl(input.issuerUrl);
  const region = input.region ?? process.env.AWS_REGION;
  if (!region)
    throw new KirsaError('FLAG_REQUIRED', 'give --region REGION: the job publishes to that region', {});
  checkHosting(input.hosting);
  return renderRepublishManifests({
    namespace: input.namespace,
    image: input.image,
    schedule: input.schedule,
    bucket: input.bucket,
    issuerUrl: url,
    region,
    jwksPath: checkJwksPath(input.jwksPath),
    roleArn: input.roleArn,
    hosting: input.hosting,
  });
}
