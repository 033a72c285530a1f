// `kirsa doctor pod NAME` and `kirsa doctor serviceaccount NAME`: the ordered checklist from a pod's spec to
// the role's trust policy, each line pass / fail / skip with the reason and the fix. Without AWS credentials
// (or with --no-aws) the cluster and issuer checks still run and the AWS ones say they were skipped.
// Exit 0 when every check ran and passed, 1 when one failed, 3 when nothing failed but the AWS checks were
// skipped (so the result is not read as healthy); docs/troubleshooting.md and docs/cli-json.md say so too.

import type { Command } from 'commander';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_NAMESPACE } from '../consts.ts';
import { formatChecks } from '../doctor/checks.ts';
import { diagnose } from '../doctor/diagnose.ts';
import { KirsaError } from '../errors.ts';
import { awsTargetOf, kubeAccessOf, printJson } from './flags.ts';

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

async function runDoctor(kind: 'pod' | 'serviceaccount', name: string, flags: DoctorFlags): Promise<void> {
  if (!['text', 'json'].includes(flags.output))
    throw new KirsaError('FLAG_INVALID', `--output takes text or json, not "${flags.output}"`);
  const { results, verdict, passed, failed, skipped, awsSkipped } = await diagnose({
    target: {
      kind,
      namespace: flags.namespace,
      name,
      annotationPrefix: flags.annotationPrefix,
      ...(flags.accountId ? { accountId: flags.accountId } : {}),
    },
    kube: kubeAccessOf(flags),
    aws: flags.aws && awsTargetOf(flags),
    issuerCaFile: flags.issuerCaFile,
  });
  if (flags.output === 'json') {
    printJson({
      subject: { kind, namespace: flags.namespace, name },
      verdict,
      passed,
      failed,
      skipped,
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
