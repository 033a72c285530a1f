// `kirsa issuer ...`: the OIDC issuer a self-managed cluster needs for IRSA. Each verb replaces a manual
// step of the self-hosted walkthrough (ssh-keygen, hand-written documents, the JWKS script, the S3 upload,
// the thumbprint) and checks its own result. Multi-step verbs run as phases: every validation first, then
// the side effects.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { IssuerDistribution } from '../aws/cloudfront.ts';
import type { PublishPlan, S3Port } from '../aws/s3-publish.ts';
import {
  DEFAULT_ISSUER_DIR,
  DEFAULT_JWKS_PATH,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  DISCOVERY_PATH,
  ISSUER_BUCKET_POLICY_SID,
  ISSUER_CLOUDFRONT_POLICY_SID,
} from '../consts.ts';
import { partitionOfRegion } from '../core/iam/arn.ts';
import { checkIacFormat, type IssuerPublishPlan, RENDER } from '../core/iam/iac.ts';
import { buildJwks, type Check, formatJson } from '../core/oidc/documents.ts';
import { clusterDocuments } from '../core/oidc/from-cluster.ts';
import { checkBucketName, checkIssuerUrl, checkJwksPath } from '../core/oidc/issuer-url.ts';
import { parseKeysPem } from '../core/oidc/keys.ts';
import { isRetirable, type KeyRecord, publishedKeys, retirableAt } from '../core/oidc/rotation.ts';
import { KirsaError } from '../errors.ts';
import { DEFAULT_INSTALL_SETTINGS } from '../install/manifests.ts';
import { readInputText } from '../io/read-input.ts';
import { untilStopSignal } from '../io/signals.ts';
import { developmentCertificate } from '../issuer/development-tls.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { startIssuerServer } from '../issuer/server.ts';
import {
  checkInitTarget,
  generateSigningKey,
  ISSUER_FILES,
  initClusterIssuer,
  initIssuer,
  loadIssuer,
  promoteKey,
  retireKeys,
  signingKeyFromPem,
  stageNewKey,
} from '../issuer/store.ts';
import { issuerThumbprint } from '../issuer/thumbprint.ts';
import { verifyIssuer } from '../issuer/verify.ts';
import { type Phase, runPhases } from '../workflows/phases.ts';
import { checkOutput, collect, OUTPUT_OPTION, parseIntegerFlag, printJson } from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson } from './phases.ts';

// --- Shared helpers ----------------------------------------------------------------------------------------

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function warn(line: string): void {
  process.stderr.write(`kirsa: warning: ${line}\n`);
}

const MARK: Record<Check['status'], string> = { pass: 'ok  ', fail: 'FAIL', warn: 'warn' };

/** The error for checks of which some failed, or undefined when none did. */
function checksFailure(checks: readonly Check[], what: string, hint: string): KirsaError | undefined {
  const failed = checks.filter((check) => check.status === 'fail').length;
  return failed > 0
    ? new KirsaError('CHECKS_FAILED', `${what}: ${failed} check(s) failed`, { hint })
    : undefined;
}

function checkLines(checks: readonly Check[]): string[] {
  return checks.map((check) => `${MARK[check.status]} ${check.message}`);
}

function describeKey(key: KeyRecord): string {
  const when =
    key.stage === 'previous'
      ? `stopped signing ${key.stoppedSigningAt}`
      : key.stage === 'retired'
        ? `retired ${key.retiredAt}`
        : key.stage === 'active'
          ? `signing since ${key.activatedAt}`
          : `staged ${key.createdAt}`;
  return `${String(key.generation).padStart(3)}  ${key.stage.padEnd(8)}  ${key.kid}  ${when}`;
}

// --- init --------------------------------------------------------------------------------------------------

interface InitFlags {
  issuerUrl?: string;
  dir: string;
  jwksPath: string;
  legacyEmptyKid: boolean;
  signingKey?: string;
  fromCluster?: boolean;
  kubeconfig?: string;
  context?: string;
}

async function runInit(flags: InitFlags): Promise<void> {
  if (flags.fromCluster) return runInitFromCluster(flags);
  if (flags.kubeconfig !== undefined || flags.context !== undefined)
    throw new KirsaError('FLAG_CONFLICT', '--kubeconfig and --context go with --from-cluster', {
      hint: "add --from-cluster to take the running cluster's issuer, or drop them to make a new key",
    });
  if (flags.issuerUrl === undefined)
    throw new KirsaError(
      'FLAG_REQUIRED',
      'give --issuer-url: the public https URL the documents will be served from',
      {
        hint: "or --from-cluster to take the running cluster's issuer",
      },
    );
  const { url: issuer, warnings } = checkIssuerUrl(flags.issuerUrl);
  for (const warning of warnings) warn(warning);
  const jwksPath = checkJwksPath(flags.jwksPath);
  await checkInitTarget(flags.dir);
  const key = flags.signingKey
    ? signingKeyFromPem(await readInputText(flags.signingKey, 'signing key'), flags.signingKey)
    : await generateSigningKey();
  await initIssuer({
    dir: flags.dir,
    issuer,
    jwksPath,
    legacyEmptyKid: flags.legacyEmptyKid,
    key,
    now: new Date(),
  });
  say(`issuer ${issuer} in ${flags.dir}`);
  say(`  ${ISSUER_FILES.signingKey}   signing key (RSA-2048, mode 0600): --service-account-signing-key-file`);
  say(`  ${ISSUER_FILES.signingPublicKey}   public key: --service-account-key-file`);
  say(`  ${ISSUER_FILES.discovery}  publish at ${issuer}/${DISCOVERY_PATH}`);
  say(`  ${ISSUER_FILES.jwks}       publish at ${issuer}/${jwksPath}`);
  say(`  kid ${key.kid}`);
  say('next: kirsa issuer publish --dir DIR --bucket BUCKET, then kirsa apiserver-config --for DISTRIBUTION');
}

/**
 * `issuer init --from-cluster`: the folder for a cluster that already signs with its own key. The documents
 * come from the API (the same reading and issuer check as publish --from-cluster); no key is made or kept.
 */
async function runInitFromCluster(flags: InitFlags): Promise<void> {
  if (flags.signingKey !== undefined || flags.legacyEmptyKid)
    throw new KirsaError(
      'FLAG_CONFLICT',
      '--signing-key and --legacy-empty-kid do not go with --from-cluster',
      {
        hint: 'the cluster signs with its own key and its JWKS is published as it serves it',
      },
    );
  await checkInitTarget(flags.dir);
  const source = await clusterSource(flags);
  await initClusterIssuer({
    dir: flags.dir,
    issuer: source.issuerUrl,
    jwksPath: source.jwksPath,
    discovery: source.discovery,
    jwks: source.jwks,
  });
  const kids = ((JSON.parse(source.jwks) as { keys?: Array<{ kid?: string }> }).keys ?? []).map(
    (key) => key.kid ?? '(no kid)',
  );
  say(`issuer ${source.issuerUrl} in ${flags.dir}, read from the cluster; the cluster keeps its signing key`);
  say(`  ${ISSUER_FILES.discovery}  publish at ${source.issuerUrl}/${DISCOVERY_PATH}`);
  say(`  ${ISSUER_FILES.jwks}       publish at ${source.issuerUrl}/${source.jwksPath}`);
  say(`  kid ${kids.join(', ')}`);
  say(
    'the JWKS is a copy: after the cluster changes its key, publish with --from-cluster (or kirsa issuer cronjob)',
  );
  say('next: kirsa issuer publish --dir DIR --bucket BUCKET');
}

// --- jwks --------------------------------------------------------------------------------------------------

async function runJwks(flags: { publicKey: string[]; legacyEmptyKid: boolean }): Promise<void> {
  if (flags.publicKey.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'give at least one --public-key FILE (public or private PEM)');
  const keys = [];
  for (const file of flags.publicKey)
    keys.push(...parseKeysPem(await readInputText(file, 'public key'), file));
  process.stdout.write(
    formatJson(
      buildJwks(
        keys.map((key) => key.publicKey),
        { legacyEmptyKid: flags.legacyEmptyKid },
      ),
    ),
  );
}

// --- rotate, status ------------------------------------------------------------------------------------------

interface RotateFlags {
  dir: string;
  promote?: boolean;
  retire?: boolean;
  maxTokenLifetime: number;
  signingKey?: string;
}

async function runRotate(flags: RotateFlags): Promise<void> {
  if (flags.promote && flags.retire)
    throw new KirsaError('FLAG_CONFLICT', '--promote and --retire are separate steps');
  const issuer = await loadIssuer(flags.dir);
  const now = new Date();
  if (flags.promote) {
    const active = await promoteKey(issuer, now);
    say(`generation ${active.generation} (${active.kid}) now signs; ${ISSUER_FILES.signingKey} holds it.`);
    say('next: restart kube-apiserver with the same flags; the old key stays published until');
    say(`kirsa issuer rotate --retire, allowed ${flags.maxTokenLifetime} s from now.`);
    return;
  }
  if (flags.retire) {
    const retired = await retireKeys(issuer, now, flags.maxTokenLifetime);
    say(`retired generation(s) ${retired.map((key) => key.generation).join(', ')}: removed from the JWKS.`);
    say(
      'next: kirsa issuer publish, and drop their --service-account-key-file from kube-apiserver (kirsa apiserver-config).',
    );
    return;
  }
  const key = flags.signingKey
    ? signingKeyFromPem(await readInputText(flags.signingKey, 'signing key'), flags.signingKey)
    : await generateSigningKey();
  const staged = await stageNewKey(issuer, key, now);
  say(`staged generation ${staged.generation} (${staged.kid}): published in the JWKS, not signing yet.`);
  say('next: kirsa issuer publish, add its key file to kube-apiserver (kirsa apiserver-config), restart it,');
  say('then kirsa issuer rotate --promote.');
}

async function runStatus(flags: { dir: string; maxTokenLifetime: number; output: string }): Promise<void> {
  const { state } = await loadIssuer(flags.dir);
  // A folder whose key the cluster holds records no key: what it publishes is the JWKS the cluster served.
  const clusterKids =
    state.keySource === 'cluster'
      ? (
          (
            JSON.parse(await readFile(join(flags.dir, ISSUER_FILES.jwks), 'utf8')) as {
              keys?: Array<{ kid?: string }>;
            }
          ).keys ?? []
        ).map((key) => key.kid ?? '')
      : undefined;
  if (checkOutput(flags.output) === 'json') {
    const now = new Date();
    printJson({
      issuer: state.issuer,
      jwksPath: state.jwksPath,
      legacyEmptyKid: state.legacyEmptyKid ?? false,
      keySource: state.keySource ?? 'kirsa',
      published: clusterKids?.length ?? publishedKeys(state).length,
      keys: [...state.keys]
        .sort((a, b) => b.generation - a.generation)
        .map((key) => ({
          ...key,
          ...(key.stage === 'previous'
            ? {
                retirable: isRetirable(key, now, flags.maxTokenLifetime),
                retirableAt: retirableAt(key, flags.maxTokenLifetime)?.toISOString() ?? null,
              }
            : {}),
        })),
    });
    return;
  }
  say(`issuer  ${state.issuer}`);
  say(`jwks    ${state.jwksPath}${state.legacyEmptyKid ? ' (with empty-kid twins)' : ''}`);
  if (clusterKids !== undefined) {
    say(
      `keys    the cluster's own, kid ${clusterKids.join(', ')}: the JWKS it served at init; kirsa rotates none`,
    );
    return;
  }
  say('gen  stage     kid                                          when');
  for (const key of [...state.keys].sort((a, b) => b.generation - a.generation)) say(describeKey(key));
  const published = publishedKeys(state).length;
  say(`${published} key(s) published`);
  const now = new Date();
  for (const key of state.keys.filter((record) => record.stage === 'previous')) {
    say(
      isRetirable(key, now, flags.maxTokenLifetime)
        ? `generation ${key.generation} can be retired now`
        : `generation ${key.generation} can be retired after ${retirableAt(key, flags.maxTokenLifetime)?.toISOString() ?? 'an unknown time (no stop-signing time recorded)'}`,
    );
  }
}

// --- publish -------------------------------------------------------------------------------------------------

const HOSTINGS = ['s3', 'cloudfront'] as const;

interface PublishFlags {
  dir: string;
  fromCluster?: boolean;
  issuerUrl?: string;
  jwksPath: string;
  kubeconfig?: string;
  context?: string;
  hosting: string;
  bucket: string;
  region?: string;
  endpointUrl?: string;
  prefix?: string;
  verify: boolean;
  caFile: string[];
  skipPhases?: string[];
  output?: string;
  outputDir?: string;
}

interface PublishContext {
  flags: PublishFlags;
  /** The issuer URL the documents are published for (and verified at). */
  issuerUrl: string;
  /** Trusted CAs for the verification, read before anything is uploaded. */
  ca: string[] | undefined;
  /** The two documents and the keys they go to. */
  objects: Array<{ key: string; body: string }>;
  s3: S3Port;
  /** The S3 module, loaded only by publish: the AWS SDK costs every other command ~200 ms to import. */
  aws: typeof import('../aws/s3-publish.ts');
  /** The bucket checks and the policy to put, read by the first phase that needs them. */
  plan?: PublishPlan;
  /** --hosting cloudfront: the distribution serving the issuer, found before anything is written. */
  distribution?: IssuerDistribution;
}

/** The bucket checks and the merged policy, read once for whichever of the two phases needs them first. */
async function publishPlan(context: PublishContext): Promise<PublishPlan> {
  if (context.plan === undefined) {
    context.plan = await context.aws.planPublish(context.s3, {
      bucket: context.flags.bucket,
      objects: context.objects,
      partition: partitionOfRegion(context.flags.region ?? process.env.AWS_REGION ?? ''),
      cloudFrontDistributionArn: context.distribution?.arn,
    });
    for (const line of context.plan.warnings) warn(line);
  }
  return context.plan;
}

const PUBLISH_PHASES: Array<Phase<PublishContext>> = [
  {
    name: 'upload',
    description: 'upload the discovery document and the JWKS as application/json',
    async validate(context) {
      await publishPlan(context);
    },
    async run(context) {
      const plan = await publishPlan(context);
      await context.aws.uploadDocuments(context.s3, plan);
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
      const changed = await context.aws.applyPolicy(context.s3, await publishPlan(context));
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
      await context.aws.readBack(context.s3, { bucket: context.flags.bucket, objects: context.objects });
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
      if (!context.flags.verify)
        return {
          status: 'skipped',
          detail: '--no-verify',
          lines: ['skipped: verification of the issuer URL (--no-verify)'],
        };
      const issuer = context.issuerUrl;
      const report = await verifyIssuer({ issuer, ca: context.ca, now: new Date() });
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

interface IssuerSource {
  issuerUrl: string;
  jwksPath: string;
  discovery: string;
  jwks: string;
}

/**
 * The running cluster's issuer, read through its API (kubeconfig), for `publish --from-cluster` and
 * `init --from-cluster` alike: refused unless its issuer is the public URL asked (CLUSTER_ISSUER_MISMATCH).
 */
async function clusterSource(flags: {
  issuerUrl?: string | undefined;
  jwksPath: string;
  kubeconfig?: string | undefined;
  context?: string | undefined;
}): Promise<IssuerSource> {
  const kube = await import('../kube/client.ts');
  const config = await kube.loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  const jwksPath = checkJwksPath(flags.jwksPath);
  const documents = clusterDocuments(await kube.readClusterIssuer(config), {
    publicIssuer: flags.issuerUrl,
    jwksPath,
  });
  for (const warning of documents.warnings) warn(warning);
  return { issuerUrl: documents.issuer, jwksPath, discovery: documents.discovery, jwks: documents.jwks };
}

/** The issuer URL and its two documents: from the issuer folder, or from the cluster's API (--from-cluster). */
async function publishSource(flags: PublishFlags): Promise<IssuerSource> {
  if (flags.fromCluster) return clusterSource(flags);
  if (flags.issuerUrl !== undefined || flags.kubeconfig !== undefined)
    throw new KirsaError('FLAG_CONFLICT', '--issuer-url and --kubeconfig go with --from-cluster', {
      hint: 'without --from-cluster the issuer folder (--dir) says what is published',
    });
  return folderSource(flags.dir);
}

/** An issuer folder's URL and documents, as publish uploads them. */
async function folderSource(dir: string): Promise<IssuerSource> {
  const issuer = await loadIssuer(dir);
  // A folder made before init checked bucket names: the same rule, refused here before any AWS call.
  checkIssuerUrl(issuer.state.issuer, 'the issuer');
  const [discovery, jwks] = await Promise.all(
    [ISSUER_FILES.discovery, ISSUER_FILES.jwks].map((file) => readFile(join(dir, file), 'utf8')),
  );
  return {
    issuerUrl: issuer.state.issuer,
    jwksPath: issuer.state.jwksPath,
    discovery: discovery!,
    jwks: jwks!,
  };
}

/** The S3 keys of the two documents: under --prefix, else the prefix the issuer URL's path gives. */
function issuerObjects(
  aws: typeof import('../aws/s3-publish.ts'),
  source: IssuerSource,
  flags: { bucket: string; prefix?: string | undefined },
): Array<{ key: string; body: string }> {
  const prefix = flags.prefix ?? aws.issuerKeyPrefix(source.issuerUrl, flags.bucket);
  return [
    { key: aws.objectKey(prefix, DISCOVERY_PATH), body: source.discovery },
    { key: aws.objectKey(prefix, source.jwksPath), body: source.jwks },
  ];
}

/**
 * An issuer folder's publish as IaC: the same keys and statement the API mode uses, written as code instead
 * of sent (by `issuer publish -o` and `kirsa stack`). Public-bucket hosting only.
 */
export async function issuerIacPlan(flags: {
  dir: string;
  bucket: string;
  region?: string | undefined;
  prefix?: string | undefined;
}): Promise<{ issuerUrl: string; plan: IssuerPublishPlan }> {
  checkBucketName(flags.bucket);
  const source = await folderSource(flags.dir);
  const aws = await import('../aws/s3-publish.ts');
  return { issuerUrl: source.issuerUrl, plan: issuerPlanOf(aws, source, flags) };
}

function issuerPlanOf(
  aws: typeof import('../aws/s3-publish.ts'),
  source: IssuerSource,
  flags: { bucket: string; region?: string | undefined; prefix?: string | undefined },
): IssuerPublishPlan {
  const objects = issuerObjects(aws, source, flags);
  const partition = partitionOfRegion(flags.region ?? process.env.AWS_REGION ?? '');
  return {
    bucket: flags.bucket,
    objects,
    statement: aws.issuerReadStatement(
      flags.bucket,
      objects.map((object) => object.key),
      partition,
    ),
  };
}

/** Said wherever a CloudFormation template holds the issuer's bucket policy without its objects. */
export function warnNoS3Objects(plan: IssuerPublishPlan): void {
  warn(
    `CloudFormation has no S3 object resource: upload the documents with kirsa issuer publish --skip-phases bucket-policy (keys ${plan.objects.map((object) => object.key).join(', ')})`,
  );
}

async function runPublish(flags: PublishFlags): Promise<void> {
  if (!(HOSTINGS as readonly string[]).includes(flags.hosting))
    throw new KirsaError('FLAG_INVALID', `--hosting takes ${HOSTINGS.join(' or ')}, not "${flags.hosting}"`);
  checkBucketName(flags.bucket);
  const source = await publishSource(flags);
  const ca = await trustedCertificates(flags.caFile);
  const aws = await import('../aws/s3-publish.ts');
  const objects = issuerObjects(aws, source, flags);
  const json = flags.output === 'json';
  if (flags.output !== undefined && !json) {
    const format = checkIacFormat(flags.output);
    if (flags.hosting === 'cloudfront')
      throw new KirsaError(
        'IAC_OUTPUT_INVALID',
        '-o writes the public-bucket setup only: --hosting cloudfront needs the distribution, which only AWS can tell',
        { hint: 'run kirsa issuer publish --hosting cloudfront without -o' },
      );
    const plan = issuerPlanOf(aws, source, flags);
    await writeIacOutput({
      format,
      outputDir: flags.outputDir,
      stem: `issuer-${flags.bucket}`,
      document: RENDER[format].issuer(plan),
    });
    if (format === 'cloudformation') warnNoS3Objects(plan);
    return;
  }
  const s3 = aws.s3PortFor({ region: flags.region, endpointUrl: flags.endpointUrl });
  let distribution: IssuerDistribution | undefined;
  if (flags.hosting === 'cloudfront') {
    const cloudFront = await import('../aws/cloudfront.ts');
    const port = await cloudFront.cloudFrontPortFor({ region: flags.region, endpointUrl: flags.endpointUrl });
    distribution = cloudFront.distributionForIssuer(
      source.issuerUrl,
      flags.bucket,
      await port.listDistributions(),
    );
  }
  const phases: PhaseJson[] = [];
  await runPhases(
    PUBLISH_PHASES,
    { flags, issuerUrl: source.issuerUrl, ca, objects, s3, aws, ...(distribution ? { distribution } : {}) },
    {
      skip: flags.skipPhases ?? [],
      report: json
        ? collectPhases(phases)
        : (phase, outcome) => {
            for (const line of outcome.lines ?? [`${outcome.status}: ${phase.name} (${outcome.detail})`])
              say(line);
          },
    },
  );
  finishVerb(
    json,
    {
      issuer: source.issuerUrl,
      bucket: flags.bucket,
      objects: objects.map((object) => `s3://${flags.bucket}/${object.key}`),
      phases,
    },
    [`kirsa provider create --issuer-url ${source.issuerUrl}`],
  );
}

// --- distribution ----------------------------------------------------------------------------------------------

async function runDistribution(flags: {
  bucket: string;
  region?: string;
  endpointUrl?: string;
}): Promise<void> {
  checkBucketName(flags.bucket);
  const region = flags.region ?? process.env.AWS_REGION;
  if (!region)
    throw new KirsaError(
      'FLAG_REQUIRED',
      'give --region REGION: the bucket region names the CloudFront origin',
      {
        hint: 'the region the bucket was created in, e.g. --region eu-west-1',
      },
    );
  const cloudFront = await import('../aws/cloudfront.ts');
  const port = await cloudFront.cloudFrontPortFor({ region, endpointUrl: flags.endpointUrl });
  const { distribution, created } = await cloudFront.ensureDistribution(port, {
    bucket: flags.bucket,
    region,
  });
  say(`https://${distribution.domainName}`);
  for (const line of created) process.stderr.write(`created ${line}\n`);
  if (created.length === 0)
    process.stderr.write(
      `found kirsa's distribution ${distribution.id} for s3://${flags.bucket}; nothing created\n`,
    );
  process.stderr.write(
    `next: kirsa issuer init --issuer-url https://${distribution.domainName}/CLUSTER, then kirsa issuer publish --hosting cloudfront --bucket ${flags.bucket}\n`,
  );
}

// --- cronjob ---------------------------------------------------------------------------------------------------

interface CronJobFlags {
  bucket: string;
  issuerUrl: string;
  region?: string;
  jwksPath: string;
  namespace: string;
  image: string;
  schedule: string;
  roleArn?: string;
  hosting: string;
}

async function runCronJob(flags: CronJobFlags): Promise<void> {
  checkBucketName(flags.bucket);
  const { url } = checkIssuerUrl(flags.issuerUrl);
  const region = flags.region ?? process.env.AWS_REGION;
  if (!region)
    throw new KirsaError('FLAG_REQUIRED', 'give --region REGION: the job publishes to that region', {});
  if (!(HOSTINGS as readonly string[]).includes(flags.hosting))
    throw new KirsaError('FLAG_INVALID', `--hosting takes ${HOSTINGS.join(' or ')}, not "${flags.hosting}"`);
  const { renderRepublishManifests } = await import('../install/republish.ts');
  const { stringify } = await import('yaml');
  const manifests = renderRepublishManifests({
    namespace: flags.namespace,
    image: flags.image,
    schedule: flags.schedule,
    bucket: flags.bucket,
    issuerUrl: url,
    region,
    jwksPath: checkJwksPath(flags.jwksPath),
    roleArn: flags.roleArn,
    hosting: flags.hosting,
  });
  process.stdout.write(manifests.map((manifest) => stringify(manifest, { lineWidth: 0 })).join('---\n'));
}

// --- verify, thumbprint ----------------------------------------------------------------------------------------

async function runVerify(
  url: string,
  flags: { token?: string; audience: string[]; caFile: string[]; output: string },
): Promise<void> {
  const json = checkOutput(flags.output) === 'json';
  const token = flags.token === undefined ? undefined : await readInputText(flags.token, 'token');
  const report = await verifyIssuer({
    issuer: url,
    token,
    audiences: flags.audience,
    ca: await trustedCertificates(flags.caFile),
    now: new Date(),
  });
  const failure = checksFailure(
    report.checks,
    `verify ${url}`,
    'fix the failed checks above; STS would refuse tokens from this issuer',
  );
  if (json) {
    // The checks on stdout even when some failed; the failure itself is the JSON error on stderr.
    printJson({ issuer: url, ok: failure === undefined, token: token !== undefined, checks: report.checks });
    if (failure) throw failure;
    return;
  }
  for (const line of checkLines(report.checks)) say(line);
  if (failure) throw failure;
  say(`${url}: STS can use this issuer${token === undefined ? '' : ' and accept this token'}`);
}

async function runThumbprint(url: string, flags: { caFile: string[] }): Promise<void> {
  checkIssuerUrl(url, 'issuer');
  const result = await issuerThumbprint(url, await trustedCertificates(flags.caFile));
  say(result.thumbprint);
  process.stderr.write(`served by ${result.host}:${result.port}, chain as sent (leaf first):\n`);
  for (const certificate of result.chain)
    process.stderr.write(`  ${certificate.sha1}  ${certificate.subject}\n`);
  process.stderr.write(
    `hashed the top certificate: ${result.top.subject} (issued by ${result.top.issuer})\n`,
  );
  if (result.publiclyTrusted)
    process.stderr.write(
      'note: a public CA signs this chain, so AWS ignores the thumbprint and checks the CA itself\n',
    );
  else process.stderr.write('note: no public CA signs this chain, so AWS relies on this thumbprint\n');
}

// --- serve -----------------------------------------------------------------------------------------------------

interface ServeFlags {
  dir: string;
  port?: number;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
}

async function runServe(flags: ServeFlags): Promise<void> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new KirsaError('FLAG_REQUIRED', '--tls-cert and --tls-key go together');
  const { state } = await loadIssuer(flags.dir);
  const issuerUrl = new URL(state.issuer);
  const port = flags.port ?? Number(issuerUrl.port || 443);
  let tls: { cert: string; key: string };
  if (flags.tlsCert && flags.tlsKey) {
    tls = {
      cert: await readInputText(flags.tlsCert, 'certificate'),
      key: await readInputText(flags.tlsKey, 'key'),
    };
  } else {
    const made = await developmentCertificate(flags.dir, issuerUrl.hostname);
    tls = made;
    warn(
      `serving a certificate from a development CA for ${issuerUrl.hostname}; clients need --ca-file ${made.caFile}`,
    );
  }
  const server = await startIssuerServer({
    dir: flags.dir,
    port,
    host: flags.host,
    tlsCert: tls.cert,
    tlsKey: tls.key,
  });
  say(`serving ${state.issuer} on ${server.url}: ${server.paths.join(', ')}`);
  await untilStopSignal();
  await server.close().catch(() => {});
}

// --- Registration --------------------------------------------------------------------------------------------

function lifetimeOption(command: Command): Command {
  return command.option(
    '--max-token-lifetime <seconds>',
    'longest lifetime of a token the cluster issues; a key stays published this long after it stops signing',
    parseIntegerFlag('max-token-lifetime', { min: 0 }),
    DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  );
}

export function registerIssuer(program: Command): void {
  const issuer = program
    .command('issuer')
    .description('the OIDC issuer STS trusts: keys, documents, publishing, checks');

  issuer
    .command('init')
    .description(
      "make a signing key, the discovery document and the JWKS in a new folder; --from-cluster: the running cluster's documents, its key left with it",
    )
    .option(
      '--issuer-url <url>',
      "public https URL the documents will be served from (the token iss); with --from-cluster it must be the cluster's --service-account-issuer (default: it)",
    )
    .option('--dir <dir>', 'folder to create', DEFAULT_ISSUER_DIR)
    .option(
      '--jwks-path <path>',
      'JWKS path under the issuer (kOps and kube-apiserver use openid/v1/jwks)',
      DEFAULT_JWKS_PATH,
    )
    .option(
      '--legacy-empty-kid',
      'also publish each key with kid "" (clusters older than Kubernetes 1.16)',
      false,
    )
    .option('--signing-key <file>', 'use this existing RSA private key (PEM) instead of generating one')
    .option(
      '--from-cluster',
      "read the running cluster's discovery document and JWKS through the API instead of making a key",
    )
    .option('--kubeconfig <file>', 'with --from-cluster: kubeconfig (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'with --from-cluster: kubeconfig context')
    .action((flags: InitFlags) => runInit(flags));

  issuer
    .command('jwks')
    .description('print the JWKS for your own keys (public or private PEM files)')
    .option('--public-key <file>', 'PEM file with one or more keys (repeatable)', collect, [])
    .option(
      '--legacy-empty-kid',
      'also publish each key with kid "" (clusters older than Kubernetes 1.16)',
      false,
    )
    .action((flags: { publicKey: string[]; legacyEmptyKid: boolean }) => runJwks(flags));

  lifetimeOption(
    issuer
      .command('rotate')
      .description('stage a new key (default), --promote it to signing, or --retire the old one')
      .option('--dir <dir>', 'issuer folder', DEFAULT_ISSUER_DIR)
      .option('--promote', 'the staged key starts signing')
      .option('--retire', 'drop keys that stopped signing from the JWKS, once their tokens have expired')
      .option('--signing-key <file>', 'stage this existing RSA private key (PEM) instead of generating one'),
  ).action((flags: RotateFlags) => runRotate(flags));

  lifetimeOption(
    issuer
      .command('status')
      .description('show the keys and their stage')
      .option('--dir <dir>', 'issuer folder', DEFAULT_ISSUER_DIR)
      .option(...OUTPUT_OPTION),
  ).action((flags: { dir: string; maxTokenLifetime: number; output: string }) => runStatus(flags));

  const publish = issuer
    .command('publish')
    .description('upload the documents to S3, grant anonymous read of just them by bucket policy, and verify')
    .option('--dir <dir>', 'issuer folder', DEFAULT_ISSUER_DIR)
    .option(
      '--from-cluster',
      "publish the running cluster's own issuer: its JWKS read through the API (kubeconfig) instead of a folder",
    )
    .option(
      '--issuer-url <url>',
      "with --from-cluster: the public URL, which must be the cluster's --service-account-issuer (default: it)",
    )
    .option('--jwks-path <path>', 'with --from-cluster: the JWKS path under the issuer', DEFAULT_JWKS_PATH)
    .option('--kubeconfig <file>', 'with --from-cluster: kubeconfig (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'with --from-cluster: kubeconfig context')
    .option(
      '--hosting <kind>',
      's3: a public-read bucket policy; cloudfront: a private bucket read only by the distribution serving the issuer URL (kirsa issuer distribution)',
      's3',
    )
    .requiredOption('--bucket <bucket>', 'S3 bucket the issuer URL serves')
    .option('--region <region>', 'bucket region (default: the SDK chain, AWS_REGION)')
    .option('--endpoint-url <url>', 'another S3 endpoint (path-style), e.g. a test server')
    .option('--prefix <prefix>', 'key prefix of the documents (default: from the issuer URL)')
    .option('--no-verify', 'do not fetch the issuer URL afterwards (when it is not reachable from here)')
    .option('--ca-file <file>', 'extra trusted CA (PEM) for the verification (repeatable)', collect, [])
    .option(...IAC_OPTIONS.output)
    .option(...IAC_OPTIONS.outputDir);
  addPhaseOptions(publish, PUBLISH_PHASES).action((flags: PublishFlags) => runPublish(flags));

  issuer
    .command('distribution')
    .description(
      "create (or find again) kirsa's CloudFront distribution and origin access control for a private issuer bucket",
    )
    .requiredOption('--bucket <bucket>', 'the S3 bucket the documents go to')
    .option('--region <region>', 'bucket region (default: AWS_REGION)')
    .option('--endpoint-url <url>', 'another CloudFront endpoint, e.g. a test server')
    .action((flags: { bucket: string; region?: string; endpointUrl?: string }) => runDistribution(flags));

  issuer
    .command('cronjob')
    .description(
      'print a CronJob (with its ServiceAccount and RBAC) that re-publishes the cluster JWKS after the cluster rotates its key',
    )
    .requiredOption('--bucket <bucket>', 'S3 bucket the issuer URL serves')
    .requiredOption('--issuer-url <url>', "the public issuer URL: the cluster's --service-account-issuer")
    .option('--region <region>', 'bucket region (default: AWS_REGION)')
    .option('--jwks-path <path>', 'the JWKS path under the issuer', DEFAULT_JWKS_PATH)
    .option('--hosting <kind>', 's3 or cloudfront, as for publish', 's3')
    .option('--namespace <namespace>', 'namespace of the CronJob', 'kirsa')
    .option('--image <image>', 'kirsa image', DEFAULT_INSTALL_SETTINGS.image)
    .option('--schedule <cron>', 'how often to re-publish', '*/30 * * * *')
    .option('--role-arn <arn>', "IAM role for the job's S3 calls, through IRSA (eks.amazonaws.com/role-arn)")
    .action((flags: CronJobFlags) => runCronJob(flags));

  issuer
    .command('verify')
    .description(
      'fetch the documents anonymously and check every STS requirement; with --token, the token too',
    )
    .argument('<issuer-url>', 'the issuer URL (the token iss)')
    .option('--token <file>', 'a service-account token (JWT) to check against the published keys')
    .option(
      '--audience <audience>',
      'audience the IAM provider lists; the token aud must be one (repeatable)',
      collect,
      [],
    )
    .option(
      '--ca-file <file>',
      'extra trusted CA (PEM), for private or test issuers (repeatable)',
      collect,
      [],
    )
    .option(...OUTPUT_OPTION)
    .action((url: string, flags: { token?: string; audience: string[]; caFile: string[]; output: string }) =>
      runVerify(url, flags),
    );

  issuer
    .command('thumbprint')
    .description('SHA-1 of the top certificate served by the jwks_uri host (for private-CA issuers)')
    .argument('<issuer-url>', 'the issuer URL')
    .option(
      '--ca-file <file>',
      'extra trusted CA (PEM) to fetch the discovery document (repeatable)',
      collect,
      [],
    )
    .action((url: string, flags: { caFile: string[] }) => runThumbprint(url, flags));

  issuer
    .command('serve')
    .description('serve the two documents over HTTPS (development clusters, tests, demos)')
    .option('--dir <dir>', 'issuer folder', DEFAULT_ISSUER_DIR)
    .option(
      '--port <port>',
      'port (default: the issuer URL port, else 443)',
      parseIntegerFlag('port', { min: 0 }),
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--tls-cert <file>',
      'serving certificate chain (PEM); default: one from a development CA kirsa makes in DIR/serve-tls',
    )
    .option('--tls-key <file>', 'its private key (PEM)')
    .action((flags: ServeFlags) => runServe(flags));
}
