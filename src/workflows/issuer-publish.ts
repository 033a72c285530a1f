// `issuer publish`: the issuer's two documents in S3, readable by STS. Read the source (a folder or the
// cluster's API) and every input first; then the phases: upload, bucket policy, read back, verify. Each
// phase's validation runs before any upload (workflows/phases.ts). The same objects and statement feed the
// IaC output (`publish -o`, `kirsa stack`), so the code and the API mode cannot disagree.

import type { IssuerDistribution } from '../aws/cloudfront.ts';
import { configuredPartition } from '../aws/region.ts';
import type { PublishPlan, S3Port } from '../aws/s3-publish.ts';
import { DISCOVERY_PATH, ISSUER_BUCKET_POLICY_SID, ISSUER_CLOUDFRONT_POLICY_SID } from '../consts.ts';
import type { IssuerPublishPlan } from '../core/iam/iac.ts';
import { checkLines, checksFailure } from '../core/oidc/check-report.ts';
import { checkBucketName, checkHosting } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { verifyIssuer } from '../issuer/verify.ts';
import { clusterSource, folderSource, type IssuerSource } from './issuer-source.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';

type S3Module = typeof import('../aws/s3-publish.ts');

export interface PublishInput {
  /** The issuer folder, unless fromCluster. */
  dir: string;
  /** Read the cluster's own issuer through its API instead of a folder. */
  fromCluster?: boolean | undefined;
  /** With fromCluster: the public URL (default: the cluster's issuer). */
  issuerUrl?: string | undefined;
  jwksPath: string;
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** s3 (public-read bucket policy) or cloudfront (readable by kirsa's distribution only). */
  hosting: string;
  bucket: string;
  region?: string | undefined;
  endpointUrl?: string | undefined;
  /** The key prefix of the documents; default: the one the issuer URL's path gives. */
  prefix?: string | undefined;
  /** Fetch the issuer URL afterwards, as STS would. */
  verify: boolean;
  caFile: readonly string[];
}

/** What publish has read before deciding between the IaC output and the API: nothing is changed yet. */
export interface PreparedPublish {
  input: PublishInput;
  source: IssuerSource;
  /** Trusted CAs for the verification, read before anything is uploaded. */
  ca: string[] | undefined;
  /** The two documents and the keys they go to. */
  objects: Array<{ key: string; body: string }>;
  /** The S3 module, loaded only by publish: the AWS SDK costs every other command ~200 ms to import. */
  aws: S3Module;
}

interface PublishContext {
  prepared: PreparedPublish;
  s3: S3Port;
  warn: (line: string) => void;
  /** The bucket checks and the policy to put, read by the first phase that needs them. */
  plan?: PublishPlan;
  /** --hosting cloudfront: the distribution serving the issuer, found before anything is written. */
  distribution?: IssuerDistribution;
}

/** The bucket checks and the merged policy, read once for whichever of the two phases needs them first. */
async function publishPlan(context: PublishContext): Promise<PublishPlan> {
  if (context.plan === undefined) {
    const { input, objects, aws } = context.prepared;
    context.plan = await aws.planPublish(context.s3, {
      bucket: input.bucket,
      objects,
      partition: configuredPartition(input.region),
      cloudFrontDistributionArn: context.distribution?.arn,
    });
    for (const line of context.plan.warnings) context.warn(line);
  }
  return context.plan;
}

export const PUBLISH_PHASES: Array<Phase<PublishContext>> = [
  {
    name: 'upload',
    description: 'upload the discovery document and the JWKS as application/json',
    async validate(context) {
      await publishPlan(context);
    },
    async run(context) {
      const plan = await publishPlan(context);
      await context.prepared.aws.uploadDocuments(context.s3, plan);
      return {
        status: 'done',
        detail: `s3://${plan.bucket}`,
        lines: plan.objects.map((object) => `uploaded s3://${plan.bucket}/${object.key} (application/json)`),
      };
    },
  },
  {
    name: 'bucket-policy',
    description:
      'grant s3:GetObject on just those two keys (anonymous, or to the CloudFront distribution only), keeping the other statements',
    async validate(context) {
      await publishPlan(context);
    },
    async run(context) {
      const changed = await context.prepared.aws.applyPolicy(context.s3, await publishPlan(context));
      const distribution = context.distribution;
      if (distribution)
        return {
          status: changed ? 'updated' : 'unchanged',
          detail: ISSUER_CLOUDFRONT_POLICY_SID,
          lines: [
            changed
              ? `bucket policy: statement ${ISSUER_CLOUDFRONT_POLICY_SID} lets only CloudFront distribution ${distribution.id} read those two keys (AWS:SourceArn); no public statement (other statements kept)`
              : `bucket policy: already lets only distribution ${distribution.id} read those two keys`,
          ],
        };
      return {
        status: changed ? 'updated' : 'unchanged',
        detail: ISSUER_BUCKET_POLICY_SID,
        lines: [
          changed
            ? `bucket policy: statement ${ISSUER_BUCKET_POLICY_SID} grants anonymous s3:GetObject on those two keys (other statements kept)`
            : 'bucket policy: already grants anonymous read of those two keys',
        ],
      };
    },
  },
  {
    name: 'read-back',
    description: 'read both objects back: the bytes uploaded, served as application/json',
    async run(context) {
      const { input, objects, aws } = context.prepared;
      await aws.readBack(context.s3, { bucket: input.bucket, objects });
      return {
        status: 'done',
        detail: 'read back as uploaded',
        lines: ['ok   both objects read back as uploaded, Content-Type application/json'],
      };
    },
  },
  {
    name: 'verify',
    description: 'fetch the issuer URL anonymously and check it as STS does (also off with --no-verify)',
    async run(context) {
      if (!context.prepared.input.verify)
        return {
          status: 'skipped',
          detail: '--no-verify',
          lines: ['skipped: verification of the issuer URL (--no-verify)'],
        };
      const issuer = context.prepared.source.issuerUrl;
      const report = await verifyIssuer({ issuer, ca: context.prepared.ca, now: new Date() });
      const error = checksFailure(
        report.checks,
        `verify ${issuer}`,
        'the objects are in S3; fix what failed, then run kirsa issuer verify',
      );
      return {
        status: error ? 'failed' : 'done',
        detail: issuer,
        lines: checkLines(report.checks),
        ...(error ? { error } : {}),
      };
    },
  },
];

/** The issuer URL and its two documents: from the issuer folder, or from the cluster's API (fromCluster). */
async function publishSource(input: PublishInput, warn: (line: string) => void): Promise<IssuerSource> {
  if (input.fromCluster) return clusterSource(input, warn);
  if (input.issuerUrl !== undefined || input.kubeconfig !== undefined)
    throw new KirsaError('FLAG_CONFLICT', '--issuer-url and --kubeconfig go with --from-cluster', {
      hint: 'without --from-cluster the issuer folder (--dir) says what is published',
    });
  return folderSource(input.dir);
}

/** The S3 keys of the two documents: under the prefix given, else the prefix the issuer URL's path gives. */
function issuerObjects(
  aws: S3Module,
  source: IssuerSource,
  input: { bucket: string; prefix?: string | undefined },
): Array<{ key: string; body: string }> {
  const prefix = input.prefix ?? aws.issuerKeyPrefix(source.issuerUrl, input.bucket);
  return [
    { key: aws.objectKey(prefix, DISCOVERY_PATH), body: source.discovery },
    { key: aws.objectKey(prefix, source.jwksPath), body: source.jwks },
  ];
}

function issuerPlanOf(
  aws: S3Module,
  source: IssuerSource,
  input: { bucket: string; region?: string | undefined; prefix?: string | undefined },
): IssuerPublishPlan {
  const objects = issuerObjects(aws, source, input);
  return {
    bucket: input.bucket,
    objects,
    statement: aws.issuerReadStatement(
      input.bucket,
      objects.map((object) => object.key),
      configuredPartition(input.region),
    ),
  };
}

/**
 * Every input publish reads, checked, before it either renders IaC or calls AWS: the hosting and the bucket
 * name, the source's documents, the CA files, the object keys.
 */
export async function preparePublish(
  input: PublishInput,
  { warn }: { warn: (line: string) => void },
): Promise<PreparedPublish> {
  checkHosting(input.hosting);
  checkBucketName(input.bucket);
  const source = await publishSource(input, warn);
  const ca = await trustedCertificates(input.caFile);
  const aws = await import('../aws/s3-publish.ts');
  return { input, source, ca, objects: issuerObjects(aws, source, input), aws };
}

/** The prepared publish as IaC. Public-bucket hosting only: the CloudFront distribution only AWS can tell. */
export function publishAsIac(prepared: PreparedPublish): IssuerPublishPlan {
  if (prepared.input.hosting === 'cloudfront')
    throw new KirsaError(
      'IAC_OUTPUT_INVALID',
      '-o writes the public-bucket setup only: --hosting cloudfront needs the distribution, which only AWS can tell',
      { hint: 'run kirsa issuer publish --hosting cloudfront without -o' },
    );
  return issuerPlanOf(prepared.aws, prepared.source, prepared.input);
}

/**
 * An issuer folder's publish as IaC, for `kirsa stack`: the same keys and statement the API mode uses,
 * written as code instead of sent. Public-bucket hosting only.
 */
export async function issuerIacPlan(input: {
  dir: string;
  bucket: string;
  region?: string | undefined;
  prefix?: string | undefined;
}): Promise<{ issuerUrl: string; plan: IssuerPublishPlan }> {
  checkBucketName(input.bucket);
  const source = await folderSource(input.dir);
  const aws = await import('../aws/s3-publish.ts');
  return { issuerUrl: source.issuerUrl, plan: issuerPlanOf(aws, source, input) };
}

/**
 * The prepared publish sent to AWS: with CloudFront hosting the distribution is found first, then the
 * phases run, each outcome handed to report as soon as it is known.
 */
export async function publishIssuer(
  prepared: PreparedPublish,
  options: {
    skip: readonly string[];
    report: (phase: { name: string }, outcome: PhaseOutcome) => void;
    warn: (line: string) => void;
  },
): Promise<PhaseOutcome[]> {
  const { input } = prepared;
  const s3 = prepared.aws.s3PortFor({ region: input.region, endpointUrl: input.endpointUrl });
  let distribution: IssuerDistribution | undefined;
  if (input.hosting === 'cloudfront') {
    const cloudFront = await import('../aws/cloudfront.ts');
    const port = await cloudFront.cloudFrontPortFor({ region: input.region, endpointUrl: input.endpointUrl });
    distribution = cloudFront.distributionForIssuer(
      prepared.source.issuerUrl,
      input.bucket,
      await port.listDistributions(),
    );
  }
  return runPhases(
    PUBLISH_PHASES,
    { prepared, s3, warn: options.warn, ...(distribution ? { distribution } : {}) },
    { skip: options.skip, report: options.report },
  );
}
