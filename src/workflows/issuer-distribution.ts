// `issuer distribution`: kirsa's CloudFront distribution and origin access control in front of a private
// issuer bucket, created once and found again afterwards (aws/cloudfront.ts decides which is kirsa's).

import type { IssuerDistribution } from '../aws/cloudfront.ts';
import { checkBucketName } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';

export async function ensureIssuerDistribution(input: {
  bucket: string;
  /** The bucket's region (default: AWS_REGION): it names the CloudFront origin. */
  region?: string | undefined;
  endpointUrl?: string | undefined;
}): Promise<{ distribution: IssuerDistribution; created: string[] }> {
  checkBucketName(input.bucket);
  const region = input.region ?? process.env.AWS_REGION;
  if (!region)
    throw new KirsaError(
      'FLAG_REQUIRED',
      'give --region REGION: the bucket region names the CloudFront origin',
      {
        hint: 'the region the bucket was created in, e.g. --region eu-west-1',
      },
    );
  // Loaded here, not at the top: the AWS SDK costs every other kirsa command ~200 ms to import.
  const cloudFront = await import('../aws/cloudfront.ts');
  const port = await cloudFront.cloudFrontPortFor({ region, endpointUrl: input.endpointUrl });
  return cloudFront.ensureDistribution(port, { bucket: input.bucket, region });
}
