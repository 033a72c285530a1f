// `kirsa explain`: would STS let this token assume this role? Evaluates the role's trust policy the way STS
// does for AssumeRoleWithWebIdentity and, for a denial, prints the statement and condition that failed, the
// value seen, the value wanted and the fix. Exit 0 when allowed, 1 when denied.

import type { Command } from 'commander';
import { DEFAULT_NAMESPACE, DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { checkAccountId, checkProviderArn, checkRoleArn } from '../core/iam/arn.ts';
import type { ContextValue } from '../core/iam/policy-evaluate.ts';
import { formatEvaluation } from '../core/iam/policy-explain.ts';
import { KirsaError } from '../errors.ts';
import { explainTrust } from '../workflows/explain.ts';
import { awsTargetOf } from './flags.ts';

interface ExplainFlags {
  policyFile?: string;
  roleArn?: string;
  endpointUrl?: string;
  region?: string;
  tokenFile?: string;
  issuerUrl?: string;
  namespace: string;
  serviceAccount?: string;
  audience?: string;
  providerArn?: string;
  accountId?: string;
  output: 'text' | 'json';
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description(
      'evaluate a role trust policy as STS does for AssumeRoleWithWebIdentity, and say why it denies',
    )
    .option('--policy-file <file>', 'the trust policy (JSON)')
    .option('--role-arn <arn>', 'read the trust policy from this role (IAM GetRole)')
    .option('--endpoint-url <url>', 'IAM endpoint (for tests and emulators)')
    .option('--region <region>', 'AWS region for the IAM client')
    .option('--token-file <file>', 'a web identity token: its iss, sub and aud are read without verifying it')
    .option('--issuer-url <url>', 'issuer of the token, when there is no --token-file')
    .option('-n, --namespace <namespace>', 'namespace of the service account', DEFAULT_NAMESPACE)
    .option('--service-account <name>', 'service account the token is for, when there is no --token-file')
    .option(
      '--audience <audience>',
      `token audience, when there is no --token-file (default ${DEFAULT_TOKEN_AUDIENCE})`,
    )
    .option(
      '--provider-arn <arn>',
      "the IAM OIDC provider that verifies the token (default: the issuer's in the role's account)",
    )
    .option('--account-id <id>', "account of the IAM OIDC provider, when not the role's")
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (flags: ExplainFlags) => runExplain(flags));
}

function validate(flags: ExplainFlags): void {
  if (!['text', 'json'].includes(flags.output))
    throw new KirsaError('FLAG_INVALID', `--output takes text or json, not "${flags.output}"`);
  if ((flags.policyFile === undefined) === (flags.roleArn === undefined))
    throw new KirsaError('FLAG_CONFLICT', 'give exactly one of --policy-file and --role-arn', {
      hint: 'kirsa explain --role-arn arn:aws:iam::111122223333:role/NAME --token-file token.jwt',
    });
  if (flags.tokenFile !== undefined) {
    if (flags.issuerUrl !== undefined || flags.serviceAccount !== undefined || flags.audience !== undefined)
      throw new KirsaError('FLAG_CONFLICT', '--token-file already gives the issuer, subject and audience', {
        hint: 'drop --issuer-url, --service-account and --audience, or drop --token-file',
      });
  } else if (flags.issuerUrl === undefined || flags.serviceAccount === undefined) {
    throw new KirsaError(
      'FLAG_REQUIRED',
      'say whose token to judge: --token-file, or --issuer-url with --service-account',
      {
        hint: 'kirsa explain --policy-file trust.json --issuer-url https://issuer --namespace default --service-account app',
      },
    );
  }
  if (flags.providerArn !== undefined) checkProviderArn(flags.providerArn);
  if (flags.accountId !== undefined) checkAccountId(flags.accountId);
  if (flags.roleArn !== undefined) checkRoleArn(flags.roleArn);
}

function formatContext(context: Record<string, ContextValue>): string[] {
  return Object.entries(context).map(([key, value]) => {
    const claim = key.slice(key.lastIndexOf(':') + 1);
    return `  ${`${claim}:`.padEnd(10)} ${Array.isArray(value) ? value.join(', ') : value}`;
  });
}

async function runExplain(flags: ExplainFlags): Promise<void> {
  validate(flags);
  const { evaluation, policy, source, principal, context, notes } = await explainTrust({
    ...flags,
    aws: awsTargetOf(flags),
  });
  if (flags.output === 'json') {
    process.stdout.write(
      `${JSON.stringify({ ...evaluation, policySource: source, principalFederated: principal, context, notes }, null, 2)}\n`,
    );
  } else {
    const header = [
      `  policy:    ${source}`,
      `  provider:  ${principal}`,
      ...formatContext(context),
      ...notes.map((note) => `  note:      ${note}`),
    ];
    process.stdout.write(formatEvaluation(evaluation, policy, header));
  }
  if (evaluation.decision === 'deny') process.exitCode = 1;
}
