// `kirsa issuer ...`: the OIDC issuer a self-managed cluster needs for IRSA. Each verb replaces a manual
// step of the self-hosted walkthrough (ssh-keygen, hand-written documents, the JWKS script, the S3 upload,
// the thumbprint) and checks its own result. The work is in src/workflows/issuer-*.ts; this file maps the
// flags to their inputs and prints what comes back.

import type { Command } from 'commander';
import {
  DEFAULT_ISSUER_DIR,
  DEFAULT_JWKS_PATH,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  DISCOVERY_PATH,
} from '../consts.ts';
import { checkIacFormat, cloudFormationObjectsWarning, RENDER } from '../core/iam/iac.ts';
import { checkLines } from '../core/oidc/check-report.ts';
import { formatJson } from '../core/oidc/documents.ts';
import { describeKey, keyStatuses, keysNewestFirst, retirementLine } from '../core/oidc/key-status.ts';
import { publishedKeys } from '../core/oidc/rotation.ts';
import { KirsaError } from '../errors.ts';
import { DEFAULT_INSTALL_SETTINGS } from '../install/manifests.ts';
import { untilStopSignal } from '../io/signals.ts';
import { ISSUER_FILES } from '../issuer/store.ts';
import { issuerCronJobManifests } from '../workflows/issuer-cronjob.ts';
import { ensureIssuerDistribution } from '../workflows/issuer-distribution.ts';
import { createIssuerFolder, createIssuerFolderFromCluster } from '../workflows/issuer-init.ts';
import { jwksOfKeyFiles, readIssuerStatus, rotateIssuerKeys } from '../workflows/issuer-keys.ts';
import { PUBLISH_PHASES, preparePublish, publishAsIac, publishIssuer } from '../workflows/issuer-publish.ts';
import { serveIssuer } from '../workflows/issuer-serve.ts';
import { thumbprintOfIssuer } from '../workflows/issuer-thumbprint.ts';
import { verifyIssuerAt } from '../workflows/issuer-verify.ts';
import {
  checkOutput,
  collect,
  OUTPUT_OPTION,
  parseIntegerFlag,
  printJson,
  printNote,
  printWarning,
} from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson } from './phases.ts';

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
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
  const { issuer, jwksPath, kid } = await createIssuerFolder(
    {
      dir: flags.dir,
      issuerUrl: flags.issuerUrl,
      jwksPath: flags.jwksPath,
      legacyEmptyKid: flags.legacyEmptyKid,
      signingKey: flags.signingKey,
    },
    { warn: printWarning },
  );
  say(`issuer ${issuer} in ${flags.dir}`);
  say(`  ${ISSUER_FILES.signingKey}   signing key (RSA-2048, mode 0600): --service-account-signing-key-file`);
  say(`  ${ISSUER_FILES.signingPublicKey}   public key: --service-account-key-file`);
  say(`  ${ISSUER_FILES.discovery}  publish at ${issuer}/${DISCOVERY_PATH}`);
  say(`  ${ISSUER_FILES.jwks}       publish at ${issuer}/${jwksPath}`);
  say(`  kid ${kid}`);
  say('next: kirsa issuer publish --dir DIR --bucket BUCKET, then kirsa apiserver-config --for DISTRIBUTION');
}

/** `issuer init --from-cluster`: the folder for a cluster that already signs with its own key. */
async function runInitFromCluster(flags: InitFlags): Promise<void> {
  if (flags.signingKey !== undefined || flags.legacyEmptyKid)
    throw new KirsaError(
      'FLAG_CONFLICT',
      '--signing-key and --legacy-empty-kid do not go with --from-cluster',
      {
        hint: 'the cluster signs with its own key and its JWKS is published as it serves it',
      },
    );
  const { issuerUrl, jwksPath, kids } = await createIssuerFolderFromCluster(
    {
      dir: flags.dir,
      issuerUrl: flags.issuerUrl,
      jwksPath: flags.jwksPath,
      kubeconfig: flags.kubeconfig,
      context: flags.context,
    },
    { warn: printWarning },
  );
  say(`issuer ${issuerUrl} in ${flags.dir}, read from the cluster; the cluster keeps its signing key`);
  say(`  ${ISSUER_FILES.discovery}  publish at ${issuerUrl}/${DISCOVERY_PATH}`);
  say(`  ${ISSUER_FILES.jwks}       publish at ${issuerUrl}/${jwksPath}`);
  say(`  kid ${kids.join(', ')}`);
  say(
    'the JWKS is a copy: after the cluster changes its key, publish with --from-cluster (or kirsa issuer cronjob)',
  );
  say('next: kirsa issuer publish --dir DIR --bucket BUCKET');
}

// --- jwks, rotate, status ------------------------------------------------------------------------------------

async function runJwks(flags: { publicKey: string[]; legacyEmptyKid: boolean }): Promise<void> {
  if (flags.publicKey.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'give at least one --public-key FILE (public or private PEM)');
  process.stdout.write(formatJson(await jwksOfKeyFiles(flags.publicKey, flags.legacyEmptyKid)));
}

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
  const result = await rotateIssuerKeys({
    dir: flags.dir,
    step: flags.promote ? 'promote' : flags.retire ? 'retire' : 'stage',
    maxTokenLifetime: flags.maxTokenLifetime,
    signingKey: flags.signingKey,
  });
  if (result.step === 'promote') {
    const { active } = result;
    say(`generation ${active.generation} (${active.kid}) now signs; ${ISSUER_FILES.signingKey} holds it.`);
    say('next: restart kube-apiserver with the same flags; the old key stays published until');
    say(`kirsa issuer rotate --retire, allowed ${flags.maxTokenLifetime} s from now.`);
    return;
  }
  if (result.step === 'retire') {
    say(
      `retired generation(s) ${result.retired.map((key) => key.generation).join(', ')}: removed from the JWKS.`,
    );
    say(
      'next: kirsa issuer publish, and drop their --service-account-key-file from kube-apiserver (kirsa apiserver-config).',
    );
    return;
  }
  const { staged } = result;
  say(`staged generation ${staged.generation} (${staged.kid}): published in the JWKS, not signing yet.`);
  say('next: kirsa issuer publish, add its key file to kube-apiserver (kirsa apiserver-config), restart it,');
  say('then kirsa issuer rotate --promote.');
}

async function runStatus(flags: { dir: string; maxTokenLifetime: number; output: string }): Promise<void> {
  const { state, clusterKids } = await readIssuerStatus(flags.dir);
  if (checkOutput(flags.output) === 'json') {
    printJson({
      issuer: state.issuer,
      jwksPath: state.jwksPath,
      legacyEmptyKid: state.legacyEmptyKid ?? false,
      keySource: state.keySource ?? 'kirsa',
      published: clusterKids?.length ?? publishedKeys(state).length,
      keys: keyStatuses(state.keys, new Date(), flags.maxTokenLifetime),
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
  for (const key of keysNewestFirst(state.keys)) say(describeKey(key));
  say(`${publishedKeys(state).length} key(s) published`);
  const now = new Date();
  for (const key of state.keys.filter((record) => record.stage === 'previous'))
    say(retirementLine(key, now, flags.maxTokenLifetime));
}

// --- publish -------------------------------------------------------------------------------------------------

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

async function runPublish(flags: PublishFlags): Promise<void> {
  const { skipPhases, output, outputDir, ...input } = flags;
  const prepared = await preparePublish(input, { warn: printWarning });
  const json = output === 'json';
  if (output !== undefined && !json) {
    const format = checkIacFormat(output);
    const plan = publishAsIac(prepared);
    await writeIacOutput({
      format,
      outputDir,
      stem: `issuer-${flags.bucket}`,
      document: RENDER[format].issuer(plan),
    });
    if (format === 'cloudformation') printWarning(cloudFormationObjectsWarning(plan));
    return;
  }
  const phases: PhaseJson[] = [];
  await publishIssuer(prepared, {
    skip: skipPhases ?? [],
    warn: printWarning,
    report: json
      ? collectPhases(phases)
      : (phase, outcome) => {
          for (const line of outcome.lines ?? [`${outcome.status}: ${phase.name} (${outcome.detail})`])
            say(line);
        },
  });
  const issuerUrl = prepared.source.issuerUrl;
  finishVerb(
    json,
    {
      issuer: issuerUrl,
      bucket: flags.bucket,
      objects: prepared.objects.map((object) => `s3://${flags.bucket}/${object.key}`),
      phases,
    },
    [`kirsa provider create --issuer-url ${issuerUrl}`],
  );
}

// --- distribution, cronjob -------------------------------------------------------------------------------------

async function runDistribution(flags: {
  bucket: string;
  region?: string;
  endpointUrl?: string;
}): Promise<void> {
  const { distribution, created } = await ensureIssuerDistribution(flags);
  say(`https://${distribution.domainName}`);
  for (const line of created) printNote(`created ${line}`);
  if (created.length === 0)
    printNote(`found kirsa's distribution ${distribution.id} for s3://${flags.bucket}; nothing created`);
  printNote(
    `next: kirsa issuer init --issuer-url https://${distribution.domainName}/CLUSTER, then kirsa issuer publish --hosting cloudfront --bucket ${flags.bucket}`,
  );
}

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
  const manifests = issuerCronJobManifests(flags);
  const { stringify } = await import('yaml');
  process.stdout.write(manifests.map((manifest) => stringify(manifest, { lineWidth: 0 })).join('---\n'));
}

// --- verify, thumbprint ----------------------------------------------------------------------------------------

async function runVerify(
  url: string,
  flags: { token?: string; audience: string[]; caFile: string[]; output: string },
): Promise<void> {
  const json = checkOutput(flags.output) === 'json';
  const { checks, withToken, failure } = await verifyIssuerAt({ url, ...flags });
  if (json) {
    // The checks on stdout even when some failed; the failure itself is the JSON error on stderr.
    printJson({ issuer: url, ok: failure === undefined, token: withToken, checks });
    if (failure) throw failure;
    return;
  }
  for (const line of checkLines(checks)) say(line);
  if (failure) throw failure;
  say(`${url}: STS can use this issuer${withToken ? ' and accept this token' : ''}`);
}

async function runThumbprint(url: string, flags: { caFile: string[] }): Promise<void> {
  const result = await thumbprintOfIssuer(url, flags.caFile);
  say(result.thumbprint);
  printNote(`served by ${result.host}:${result.port}, chain as sent (leaf first):`);
  for (const certificate of result.chain) printNote(`  ${certificate.sha1}  ${certificate.subject}`);
  printNote(`hashed the top certificate: ${result.top.subject} (issued by ${result.top.issuer})`);
  printNote(
    result.publiclyTrusted
      ? 'note: a public CA signs this chain, so AWS ignores the thumbprint and checks the CA itself'
      : 'note: no public CA signs this chain, so AWS relies on this thumbprint',
  );
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
  const { issuer, server } = await serveIssuer(flags, { warn: printWarning });
  say(`serving ${issuer} on ${server.url}: ${server.paths.join(', ')}`);
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
