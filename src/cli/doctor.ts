// `kirsa doctor pod NAME` and `kirsa doctor serviceaccount NAME`: the ordered checklist from a pod's spec to
// the role's trust policy, each line pass / fail / skip with the reason and the fix. Without AWS credentials
// (or with --no-aws) the cluster and issuer checks still run and the AWS ones say they were skipped.
// Exit 0 when every check ran and passed, 1 when one failed, 3 when nothing failed but the AWS checks were
// skipped (so the result is not read as healthy); docs/troubleshooting.md and docs/cli-json.md say so too.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createIamRoles, type IamRoles } from '../aws/iam-role.ts';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_NAMESPACE } from '../consts.ts';
import { type CheckResult, formatChecks, runChecks } from '../doctor/checks.ts';
import { type DoctorDependencies, gatherFacts, httpsJsonFetcher } from '../doctor/gather.ts';
import { KirsaError } from '../errors.ts';
import { createClusterReader, loadKubeConfig } from '../kube/client.ts';
import { printJson } from './flags.ts';

interface DoctorFlags {
  namespace: string;
  kubeconfig?: string;
  context?: string;
  annotationPrefix: string;
  endpointUrl?: string;
  region?: string;
  accountId?: string;
  aws: boolean;
  issuerCaFile?: string;
  output: 'text' | 'json';
}

function addDoctorFlags(command: Command): Command {
  return command
    .option('-n, --namespace <namespace>', 'namespace', DEFAULT_NAMESPACE)
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option(
      '--annotation-prefix <prefix>',
      'service-account annotation prefix the webhook reads',
      DEFAULT_ANNOTATION_PREFIX,
    )
    .option('--endpoint-url <url>', 'IAM endpoint (for tests and emulators)')
    .option('--region <region>', 'AWS region for the IAM client')
    .option('--account-id <id>', "account of the IAM OIDC provider, when not the role's")
    .option('--no-aws', 'skip the checks that need AWS credentials')
    .option(
      '--issuer-ca-file <file>',
      'extra CA to trust when fetching the issuer documents (private issuers)',
    )
    .option('-o, --output <format>', 'text or json', 'text');
}

export function registerDoctor(program: Command): void {
  const doctor = program
    .command('doctor')
    .description('check every link from a pod to its AWS credentials, and say what to fix');
  addDoctorFlags(doctor.command('pod <name>').description('check one pod')).action(
    async (name: string, flags: DoctorFlags) => runDoctor('pod', name, flags),
  );
  addDoctorFlags(
    doctor
      .command('serviceaccount <name>')
      .alias('sa')
      .description('check a service account (for pods yet to come)'),
  ).action(async (name: string, flags: DoctorFlags) => runDoctor('serviceaccount', name, flags));
}

/** IAM when credentials resolve, else why not: the doctor then skips the AWS checks instead of failing. */
async function iamOrReason(flags: DoctorFlags): Promise<IamRoles | { unavailable: string }> {
  if (!flags.aws) return { unavailable: 'skipped: --no-aws' };
  const iam = createIamRoles({
    ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    ...(flags.region ? { region: flags.region } : {}),
  });
  try {
    // A read of a role that cannot exist proves the credentials resolve and IAM answers, and changes nothing.
    await iam.getRole('kirsa-doctor-credentials-probe');
    return iam;
  } catch (error) {
    const reason = error instanceof KirsaError ? error.message : String(error);
    return { unavailable: `skipped: AWS not usable (${reason})` };
  }
}

async function runDoctor(kind: 'pod' | 'serviceaccount', name: string, flags: DoctorFlags): Promise<void> {
  if (!['text', 'json'].includes(flags.output))
    throw new KirsaError('FLAG_INVALID', `--output takes text or json, not "${flags.output}"`);
  let ca: Buffer | undefined;
  if (flags.issuerCaFile) {
    try {
      ca = await readFile(flags.issuerCaFile);
    } catch (error) {
      throw new KirsaError(
        'FILE_UNREADABLE',
        `cannot read ${flags.issuerCaFile}: ${(error as Error).message}`,
      );
    }
  }
  const config = await loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  const dependencies: DoctorDependencies = {
    cluster: await createClusterReader(config),
    iam: await iamOrReason(flags),
    fetchJson: httpsJsonFetcher(ca),
  };
  const facts = await gatherFacts(
    {
      kind,
      namespace: flags.namespace,
      name,
      annotationPrefix: flags.annotationPrefix,
      ...(flags.accountId ? { accountId: flags.accountId } : {}),
    },
    dependencies,
  );
  const results: CheckResult[] = runChecks(facts);
  const awsSkipped = 'unavailable' in dependencies.iam ? dependencies.iam.unavailable : undefined;
  const count = (status: CheckResult['status']) =>
    results.filter((result) => result.status === status).length;
  // Healthy only when every link was checked: without AWS the role and its trust are unverified.
  const verdict = count('fail') > 0 ? 'failed' : awsSkipped ? 'incomplete' : 'healthy';
  if (flags.output === 'json') {
    printJson({
      subject: { kind, namespace: flags.namespace, name },
      verdict,
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skip'),
      aws: awsSkipped ? { checked: false, reason: awsSkipped } : { checked: true },
      checks: results,
    });
  } else {
    process.stdout.write(`kirsa doctor ${kind} ${flags.namespace}/${name}\n\n${formatChecks(results)}`);
    if (verdict === 'incomplete')
      process.stdout.write(
        `INCOMPLETE: the AWS checks did not run (${awsSkipped}); the role and its trust policy are unverified (exit ${DOCTOR_EXIT.incomplete})\n`,
      );
  }
  process.exitCode = DOCTOR_EXIT[verdict];
}

/** 0: every link checked and passed; 1: a check failed; 3: nothing failed, but the AWS checks did not run. */
const DOCTOR_EXIT = { healthy: 0, failed: 1, incomplete: 3 } as const;
