// Serving the issuer from a private bucket through CloudFront: one origin access control (OAC) and one
// distribution per bucket, found again by name and comment so that running it twice creates nothing new.
// The bucket then grants s3:GetObject to cloudfront.amazonaws.com only when the request comes from that
// distribution (AWS:SourceArn), the answer many security teams require instead of a public-read bucket.
// The CloudFront calls sit behind CloudFrontPort so tests drive the same code against moto.

import { KirsaError } from '../errors.ts';
import { type AwsClientOptions, awsError } from './errors.ts';

export interface IssuerDistribution {
  id: string;
  arn: string;
  /** dXXXX.cloudfront.net: the issuer URL's host. */
  domainName: string;
  aliases: string[];
  /** The S3 origin's domain, BUCKET.s3.REGION.amazonaws.com. */
  originDomain: string;
}

export interface CloudFrontPort {
  /** The origin access control named `name`, or undefined. */
  findOriginAccessControl(name: string): Promise<string | undefined>;
  createOriginAccessControl(name: string, description: string): Promise<string>;
  /** Every distribution with its first S3 origin's domain and its comment. */
  listDistributions(): Promise<Array<IssuerDistribution & { comment: string }>>;
  createDistribution(options: {
    callerReference: string;
    comment: string;
    originDomain: string;
    originAccessControlId: string;
  }): Promise<IssuerDistribution>;
}

// --- Pure parts --------------------------------------------------------------------------------------------

/** The bucket's regional REST endpoint: the origin domain CloudFront needs for OAC (not the website one). */
export function bucketOriginDomain(bucket: string, region: string): string {
  return `${bucket}.s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** kirsa's names for a bucket's OAC (64 characters at most) and distribution comment. */
export function distributionNames(bucket: string): { oac: string; comment: string; callerReference: string } {
  return {
    oac: `kirsa-${bucket}`.slice(0, 64),
    comment: `kirsa issuer documents from s3://${bucket}`,
    callerReference: `kirsa-issuer-${bucket}`,
  };
}

/** The distribution that serves `issuer`: its host is the distribution's domain or one of its aliases. */
export function distributionForIssuer(
  issuer: string,
  bucket: string,
  distributions: readonly IssuerDistribution[],
): IssuerDistribution {
  const host = new URL(issuer).hostname;
  const serving = distributions.find(
    (distribution) => distribution.domainName === host || distribution.aliases.includes(host),
  );
  if (!serving)
    throw new KirsaError(
      'CLOUDFRONT_NOT_FOUND',
      `no CloudFront distribution serves ${host}, the issuer's host`,
      {
        hint: `kirsa issuer distribution --bucket ${bucket} creates one (or finds kirsa's); make the issuer with --issuer-url https://DOMAIN/PATH on the domain it prints`,
      },
    );
  if (!serving.originDomain.startsWith(`${bucket}.s3.`))
    throw new KirsaError(
      'BUCKET_MISMATCH',
      `the CloudFront distribution ${serving.id} (${host}) serves ${serving.originDomain}, not bucket ${bucket}`,
      {
        hint: `pass the bucket its origin reads, or kirsa issuer distribution --bucket ${bucket} for another`,
      },
    );
  return serving;
}

// --- The SDK implementation --------------------------------------------------------------------------------

export async function cloudFrontPortFor(options: AwsClientOptions): Promise<CloudFrontPort> {
  // Loaded on use: only --hosting cloudfront and issuer distribution need it.
  const sdk = await import('@aws-sdk/client-cloudfront');
  const client = new sdk.CloudFrontClient({
    // CloudFront is global; its API lives in us-east-1.
    region: 'us-east-1',
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
  });
  const call = async <T>(what: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw awsError(error, what, {});
    }
  };
  return {
    async findOriginAccessControl(name) {
      let marker: string | undefined;
      do {
        const page = await call('ListOriginAccessControls', () =>
          client.send(new sdk.ListOriginAccessControlsCommand({ ...(marker ? { Marker: marker } : {}) })),
        );
        const found = page.OriginAccessControlList?.Items?.find((item) => item.Name === name);
        if (found?.Id) return found.Id;
        marker = page.OriginAccessControlList?.NextMarker;
      } while (marker);
      return undefined;
    },
    async createOriginAccessControl(name, description) {
      const answer = await call(`CreateOriginAccessControl ${name}`, () =>
        client.send(
          new sdk.CreateOriginAccessControlCommand({
            OriginAccessControlConfig: {
              Name: name,
              Description: description,
              OriginAccessControlOriginType: 's3',
              // Every request to the bucket signed with SigV4, so the bucket policy can name CloudFront.
              SigningBehavior: 'always',
              SigningProtocol: 'sigv4',
            },
          }),
        ),
      );
      return answer.OriginAccessControl!.Id!;
    },
    async listDistributions() {
      const found: Array<IssuerDistribution & { comment: string }> = [];
      let marker: string | undefined;
      do {
        const page = await call('ListDistributions', () =>
          client.send(new sdk.ListDistributionsCommand({ ...(marker ? { Marker: marker } : {}) })),
        );
        for (const item of page.DistributionList?.Items ?? [])
          found.push({
            id: item.Id!,
            arn: item.ARN!,
            domainName: item.DomainName!,
            aliases: item.Aliases?.Items ?? [],
            originDomain: item.Origins?.Items?.[0]?.DomainName ?? '',
            comment: item.Comment ?? '',
          });
        marker = page.DistributionList?.IsTruncated ? page.DistributionList.NextMarker : undefined;
      } while (marker);
      return found;
    },
    async createDistribution(options) {
      const originId = 'kirsa-issuer-bucket';
      const answer = await call('CreateDistribution', () =>
        client.send(
          new sdk.CreateDistributionCommand({
            DistributionConfig: {
              CallerReference: options.callerReference,
              Comment: options.comment,
              Enabled: true,
              Origins: {
                Quantity: 1,
                Items: [
                  {
                    Id: originId,
                    DomainName: options.originDomain,
                    // OAC, not the legacy origin access identity: the identity stays empty.
                    S3OriginConfig: { OriginAccessIdentity: '' },
                    OriginAccessControlId: options.originAccessControlId,
                  },
                ],
              },
              DefaultCacheBehavior: {
                TargetOriginId: originId,
                ViewerProtocolPolicy: 'https-only',
                AllowedMethods: { Quantity: 2, Items: ['GET', 'HEAD'] },
                // The managed CachingOptimized policy: documents change only on publish.
                CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
              },
              PriceClass: 'PriceClass_100',
            },
          }),
        ),
      );
      const distribution = answer.Distribution!;
      return {
        id: distribution.Id!,
        arn: distribution.ARN!,
        domainName: distribution.DomainName!,
        aliases: distribution.DistributionConfig?.Aliases?.Items ?? [],
        originDomain: options.originDomain,
      };
    },
  };
}

// --- The steps ---------------------------------------------------------------------------------------------

/**
 * kirsa's OAC and distribution for the bucket, each found again or created: running it twice creates
 * nothing the second time.
 */
export async function ensureDistribution(
  cloudFront: CloudFrontPort,
  options: { bucket: string; region: string },
): Promise<{ distribution: IssuerDistribution; created: string[] }> {
  const names = distributionNames(options.bucket);
  const originDomain = bucketOriginDomain(options.bucket, options.region);
  const created: string[] = [];
  const existing = (await cloudFront.listDistributions()).find(
    (distribution) => distribution.comment === names.comment && distribution.originDomain === originDomain,
  );
  if (existing) return { distribution: existing, created };
  let oac = await cloudFront.findOriginAccessControl(names.oac);
  if (!oac) {
    oac = await cloudFront.createOriginAccessControl(
      names.oac,
      `kirsa: CloudFront reads s3://${options.bucket}`,
    );
    created.push(`origin access control ${names.oac} (${oac})`);
  }
  const distribution = await cloudFront.createDistribution({
    callerReference: names.callerReference,
    comment: names.comment,
    originDomain,
    originAccessControlId: oac,
  });
  created.push(`distribution ${distribution.id} (${distribution.domainName})`);
  return { distribution, created };
}
