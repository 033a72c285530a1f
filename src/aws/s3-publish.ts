// Publishing the issuer's documents to S3: object keys from the issuer URL, a bucket policy that lets anyone
// read exactly those two objects (merged into the bucket's own policy), and Block Public Access detection
// (the bucket's, and the account's through S3 Control).
// No ACLs: buckets made since 2023 have them disabled. The AWS calls sit behind S3Port so tests drive the
// same code against moto, and the policy arithmetic is pure.

import {
  GetBucketPolicyCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ISSUER_BUCKET_POLICY_SID, ISSUER_CLOUDFRONT_POLICY_SID } from '../consts.ts';
import { canonicalPolicyJson } from '../core/iam/policy-grammar.ts';
import { s3IssuerLocation } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { type AwsClientOptions, awsError, awsErrorCode, awsErrorName } from './errors.ts';
import { callerAccountId } from './iam-role.ts';

export interface PublicAccessBlock {
  BlockPublicAcls?: boolean | undefined;
  IgnorePublicAcls?: boolean | undefined;
  BlockPublicPolicy?: boolean | undefined;
  RestrictPublicBuckets?: boolean | undefined;
}

/**
 * The account-level Block Public Access as read: the settings (undefined when none are set), or, when the
 * credentials may not read them (s3:GetAccountPublicAccessBlock), what AWS said.
 */
export type AccountPublicAccessBlock =
  | { accountId: string; block: PublicAccessBlock | undefined }
  | { accountId: string; denied: string };

/** The S3 calls publish makes; the SDK implementation is below, tests may pass their own. */
export interface S3Port {
  headBucket(bucket: string): Promise<void>;
  getPublicAccessBlock(bucket: string): Promise<PublicAccessBlock | undefined>;
  /** The account of the credentials (STS GetCallerIdentity) and its S3 Control GetPublicAccessBlock. */
  getAccountPublicAccessBlock(): Promise<AccountPublicAccessBlock>;
  getBucketPolicy(bucket: string): Promise<string | undefined>;
  putBucketPolicy(bucket: string, policy: string): Promise<void>;
  putObject(bucket: string, key: string, body: string, contentType: string): Promise<void>;
  /** Reads an object back (signed), to check what S3 stored. */
  getObject(bucket: string, key: string): Promise<{ body: string; contentType: string | undefined }>;
}

// --- Pure parts --------------------------------------------------------------------------------------------

/**
 * The key prefix the issuer URL's path maps to in the bucket: virtual-hosted URLs
 * (BUCKET.s3.REGION.amazonaws.com/PATH) map PATH, path-style ones (s3.REGION.amazonaws.com/BUCKET/PATH) map
 * PATH after the bucket, and any other host (CloudFront, a custom domain) is assumed to serve the bucket root.
 * The bucket is compared as typed (s3IssuerLocation), so a name refused for its capitals is not reported as
 * another bucket.
 */
export function issuerKeyPrefix(issuer: string, bucket: string): string {
  const location = s3IssuerLocation(issuer);
  if (!location) return new URL(issuer).pathname.replace(/^\/+|\/+$/g, '');
  if (location.bucket !== bucket) {
    throw new KirsaError(
      'BUCKET_MISMATCH',
      `the issuer ${issuer} is a ${location.style} S3 URL for bucket "${location.bucket}", not "${bucket}"`,
      { hint: 'pass the bucket the issuer URL names, or --prefix to say where the documents go' },
    );
  }
  return location.keyPrefix;
}

export function objectKey(prefix: string, path: string): string {
  const cleanPrefix = prefix.replace(/^\/+|\/+$/g, '');
  const cleanPath = path.replace(/^\/+/, '');
  return cleanPrefix ? `${cleanPrefix}/${cleanPath}` : cleanPath;
}

interface PolicyStatement {
  Sid?: string;
  [field: string]: unknown;
}

interface PolicyDocument {
  Version?: string;
  Statement?: PolicyStatement[] | PolicyStatement;
  [field: string]: unknown;
}

/** The statement kirsa owns: anonymous s3:GetObject on exactly these object keys. */
export function issuerReadStatement(
  bucket: string,
  keys: readonly string[],
  partition = 'aws',
): PolicyStatement {
  return {
    Sid: ISSUER_BUCKET_POLICY_SID,
    Effect: 'Allow',
    Principal: '*',
    Action: 's3:GetObject',
    Resource: keys.map((key) => `arn:${partition}:s3:::${bucket}/${key}`),
  };
}

/**
 * The statement for a private bucket behind CloudFront: s3:GetObject on exactly these keys for the
 * CloudFront service, and only for requests from this distribution (its origin access control signs them).
 */
export function issuerCloudFrontStatement(
  bucket: string,
  keys: readonly string[],
  distributionArn: string,
  partition = 'aws',
): PolicyStatement {
  return {
    Sid: ISSUER_CLOUDFRONT_POLICY_SID,
    Effect: 'Allow',
    Principal: { Service: 'cloudfront.amazonaws.com' },
    Action: 's3:GetObject',
    Resource: keys.map((key) => `arn:${partition}:s3:::${bucket}/${key}`),
    Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
  };
}

/**
 * The bucket policy with kirsa's statement added or replaced (found by Sid), and kirsa's statements named in
 * `remove` taken out (the public one, when the bucket goes private behind CloudFront); every other
 * statement and field is kept as it was. Returns undefined when the existing policy already says exactly
 * this.
 */
export function mergeIssuerPolicy(
  existing: string | undefined,
  statement: PolicyStatement,
  remove: readonly string[] = [],
): string | undefined {
  let policy: PolicyDocument = { Version: '2012-10-17', Statement: [] };
  if (existing?.trim()) {
    try {
      policy = JSON.parse(existing) as PolicyDocument;
    } catch (error) {
      throw new KirsaError('BUCKET_POLICY_INVALID', 'the bucket policy S3 returned is not JSON', {
        cause: error,
      });
    }
  }
  const all =
    policy.Statement === undefined
      ? []
      : Array.isArray(policy.Statement)
        ? policy.Statement
        : [policy.Statement];
  const statements = all.filter(
    (candidate) => candidate.Sid === undefined || !remove.includes(candidate.Sid),
  );
  const removed = statements.length !== all.length;
  const index = statements.findIndex((candidate) => candidate.Sid === statement.Sid);
  // Compared by meaning, not text: S3, Terraform and CloudFormation hand a policy back with its keys reordered.
  const same = (left: unknown) =>
    canonicalPolicyJson(JSON.stringify(left)) === canonicalPolicyJson(JSON.stringify(statement));
  if (!removed && index >= 0 && same(statements[index])) return undefined;
  const merged =
    index >= 0 ? statements.map((old, at) => (at === index ? statement : old)) : [...statements, statement];
  return JSON.stringify({ ...policy, Version: policy.Version ?? '2012-10-17', Statement: merged });
}

/** Block Public Access settings that stop a public bucket policy from working, each with its effect. */
export function publicAccessBlockers(block: PublicAccessBlock | undefined): string[] {
  if (!block) return [];
  const blockers: string[] = [];
  if (block.BlockPublicPolicy)
    blockers.push('BlockPublicPolicy (S3 refuses a bucket policy that grants public read)');
  if (block.RestrictPublicBuckets)
    blockers.push('RestrictPublicBuckets (S3 ignores public grants, so anonymous reads are denied)');
  return blockers;
}

/** What the Block Public Access reads mean for publishing: refuse (naming each level), warn, or go on. */
export function publicAccessFindings(
  bucket: string,
  bucketBlock: PublicAccessBlock | undefined,
  account: AccountPublicAccessBlock,
): { blocked: KirsaError | undefined; warnings: string[] } {
  const warnings =
    'denied' in account
      ? [
          `could not check the account-level Block Public Access of account ${account.accountId} (${account.denied}); publishing anyway: if it is on, PutBucketPolicy or the verification afterwards fails`,
        ]
      : [];
  const onBucket = publicAccessBlockers(bucketBlock);
  const onAccount = 'block' in account ? publicAccessBlockers(account.block) : [];
  if (onBucket.length === 0 && onAccount.length === 0) return { blocked: undefined, warnings };
  const problems: string[] = [];
  const fixes: string[] = [];
  if (onBucket.length > 0) {
    problems.push(`bucket ${bucket} has Block Public Access on: ${onBucket.join('; ')}`);
    fixes.push(
      `for this bucket only (aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false)`,
    );
  }
  if (onAccount.length > 0 && 'block' in account) {
    // The ACL settings are kept as they are: kirsa uses no ACLs, and they guard every bucket of the account.
    const acls = `BlockPublicAcls=${account.block?.BlockPublicAcls === true},IgnorePublicAcls=${account.block?.IgnorePublicAcls === true}`;
    problems.push(
      `account ${account.accountId} has account-level Block Public Access on: ${onAccount.join('; ')}`,
    );
    fixes.push(
      `for the account, which applies to all its buckets (aws s3control put-public-access-block --account-id ${account.accountId} --public-access-block-configuration ${acls},BlockPublicPolicy=false,RestrictPublicBuckets=false)`,
    );
  }
  return {
    blocked: new KirsaError('BUCKET_PUBLIC_ACCESS_BLOCKED', problems.join('; '), {
      hint: `turn them off ${fixes.join(' and ')}, or serve the issuer through CloudFront`,
    }),
    warnings,
  };
}

// --- The SDK implementation --------------------------------------------------------------------------------

const S3_HINTS = {
  AWS_ACCESS_DENIED:
    'the credentials in use need this permission; an account-level Block Public Access setting also denies public bucket policies',
  AWS_NOT_FOUND:
    'create the bucket first (aws s3api create-bucket --bucket NAME --region REGION ...), or check --bucket and --region',
} as const;

/** SDK failures as KirsaErrors with the next step; `what` names the call for the message. */
function s3Error(error: unknown, what: string): KirsaError {
  return awsError(error, what, S3_HINTS);
}

export function s3PortFor(options: AwsClientOptions): S3Port {
  const client = new S3Client({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl, forcePathStyle: true } : {}),
  });
  const call = async <T>(what: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw s3Error(error, what);
    }
  };
  const optional = async <T>(
    what: string,
    missing: string,
    send: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await send();
    } catch (error) {
      if (awsErrorName(error) === missing) return undefined;
      throw s3Error(error, what);
    }
  };
  return {
    headBucket: async (bucket) => {
      await call(`bucket ${bucket}`, () => client.send(new HeadBucketCommand({ Bucket: bucket })));
    },
    getPublicAccessBlock: async (bucket) =>
      (
        await optional(`GetPublicAccessBlock on ${bucket}`, 'NoSuchPublicAccessBlockConfiguration', () =>
          client.send(new GetPublicAccessBlockCommand({ Bucket: bucket })),
        )
      )?.PublicAccessBlockConfiguration,
    getAccountPublicAccessBlock: async () => {
      // The account-level read is advisory (the verification afterwards catches a blocked read anyway), so
      // an endpoint that cannot answer it (an S3-compatible store without STS or S3 Control) only warns.
      let accountId: string;
      try {
        accountId = await callerAccountId(options);
      } catch (error) {
        return {
          accountId: '(unknown)',
          denied: `STS GetCallerIdentity failed: ${(error as Error).message}`,
        };
      }
      const what = `GetPublicAccessBlock for account ${accountId}`;
      // Loaded on use, as the CLI loads this module: S3 Control is only needed for this one read.
      const sdk = await import('@aws-sdk/client-s3-control');
      const control = new sdk.S3ControlClient({
        ...(options.region ? { region: options.region } : {}),
        // The S3 Control endpoint rules put the account in front of the host ({AccountId}.HOST), also for a
        // custom endpoint, where 123456789012.127.0.0.1 is no URL at all; `disableHostPrefix` does not
        // reach those rules (tried with client-s3-control 3.1112: the same URL). So a given endpoint is used
        // as it is; the account still goes in the x-amz-account-id header, where the API takes it.
        ...(options.endpointUrl ? { endpointProvider: () => ({ url: new URL(options.endpointUrl!) }) } : {}),
      });
      try {
        const answer = await control.send(new sdk.GetPublicAccessBlockCommand({ AccountId: accountId }));
        return { accountId, block: answer.PublicAccessBlockConfiguration };
      } catch (error) {
        if (awsErrorName(error) === 'NoSuchPublicAccessBlockConfiguration')
          return { accountId, block: undefined };
        // By status too: moto's 403 body is not one the S3 Control parser reads (it names it Unknown).
        if (awsErrorCode(error) === 'AWS_ACCESS_DENIED')
          return { accountId, denied: 's3:GetAccountPublicAccessBlock: access denied' };
        return { accountId, denied: `${what} failed: ${s3Error(error, what).message}` };
      } finally {
        control.destroy();
      }
    },
    getBucketPolicy: async (bucket) =>
      (
        await optional(`GetBucketPolicy on ${bucket}`, 'NoSuchBucketPolicy', () =>
          client.send(new GetBucketPolicyCommand({ Bucket: bucket })),
        )
      )?.Policy,
    putBucketPolicy: async (bucket, policy) => {
      await call(`PutBucketPolicy on ${bucket}`, () =>
        client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy })),
      );
    },
    putObject: async (bucket, key, body, contentType) => {
      await call(`PutObject s3://${bucket}/${key}`, () =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType })),
      );
    },
    getObject: async (bucket, key) => {
      const answer = await call(`GetObject s3://${bucket}/${key}`, () =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      );
      return { body: (await answer.Body?.transformToString('utf8')) ?? '', contentType: answer.ContentType };
    },
  };
}

// --- The publish steps -------------------------------------------------------------------------------------

export interface PublishPlan {
  bucket: string;
  /** Lines for the user: what could not be checked, though the plan goes ahead. */
  warnings: string[];
  objects: Array<{ key: string; body: string }>;
  /** The merged policy to put, or undefined when the bucket already has kirsa's statement as is. */
  policy: string | undefined;
}

/**
 * Read-only checks and the plan: the bucket exists, neither the bucket's nor the account's Block Public
 * Access stops a public policy, the merged policy.
 */
export async function planPublish(
  s3: S3Port,
  options: {
    bucket: string;
    objects: Array<{ key: string; body: string }>;
    partition?: string;
    /** Serve through this CloudFront distribution: a private bucket, so Block Public Access is no obstacle. */
    cloudFrontDistributionArn?: string | undefined;
  },
): Promise<PublishPlan> {
  await s3.headBucket(options.bucket);
  const keys = options.objects.map((object) => object.key);
  if (options.cloudFrontDistributionArn !== undefined) {
    const statement = issuerCloudFrontStatement(
      options.bucket,
      keys,
      options.cloudFrontDistributionArn,
      options.partition,
    );
    const policy = mergeIssuerPolicy(await s3.getBucketPolicy(options.bucket), statement, [
      ISSUER_BUCKET_POLICY_SID,
    ]);
    return { bucket: options.bucket, warnings: [], objects: options.objects, policy };
  }
  const findings = publicAccessFindings(
    options.bucket,
    await s3.getPublicAccessBlock(options.bucket),
    await s3.getAccountPublicAccessBlock(),
  );
  if (findings.blocked) throw findings.blocked;
  const statement = issuerReadStatement(options.bucket, keys, options.partition);
  const policy = mergeIssuerPolicy(await s3.getBucketPolicy(options.bucket), statement);
  return { bucket: options.bucket, warnings: findings.warnings, objects: options.objects, policy };
}

export async function uploadDocuments(s3: S3Port, plan: PublishPlan): Promise<void> {
  for (const object of plan.objects)
    await s3.putObject(plan.bucket, object.key, object.body, 'application/json');
}

/** What S3 stored, read back: the same bytes, served as JSON. */
export async function readBack(s3: S3Port, plan: Pick<PublishPlan, 'bucket' | 'objects'>): Promise<void> {
  for (const object of plan.objects) {
    const stored = await s3.getObject(plan.bucket, object.key);
    if (stored.body !== object.body)
      throw new KirsaError(
        'PUBLISH_MISMATCH',
        `s3://${plan.bucket}/${object.key} holds other content than uploaded`,
        {
          hint: 'another writer may be changing it; run kirsa issuer publish again',
        },
      );
    if (stored.contentType !== 'application/json')
      throw new KirsaError(
        'PUBLISH_MISMATCH',
        `s3://${plan.bucket}/${object.key} is served as ${stored.contentType}`,
        {
          hint: 'run kirsa issuer publish again',
        },
      );
  }
}

export async function applyPolicy(s3: S3Port, plan: PublishPlan): Promise<boolean> {
  if (plan.policy === undefined) return false;
  await s3.putBucketPolicy(plan.bucket, plan.policy);
  return true;
}
