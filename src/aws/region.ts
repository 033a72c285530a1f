// The region kirsa's IAM and STS clients use. IAM is global, but the SDK refuses to build a request without
// a region ("Region is missing"): an explicit --region wins, then AWS_REGION, then IAM's home region.

import { IAM_DEFAULT_REGION } from '../consts.ts';
import { partitionOfRegion } from '../core/iam/arn.ts';
import type { AwsClientOptions } from './errors.ts';

export function iamRegion(options: AwsClientOptions): string {
  // An empty AWS_REGION (as `AWS_REGION= cmd` sets it) counts as unset, as it does for the AWS CLI.
  return options.region || process.env.AWS_REGION || IAM_DEFAULT_REGION;
}

/** The partition ARNs are written in: the given region's, else AWS_REGION's (the SDK's), else aws. */
export function configuredPartition(region: string | undefined): string {
  return partitionOfRegion(region || process.env.AWS_REGION || '');
}
