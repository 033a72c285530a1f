// `kirsa trust-policy`: prints the role trust policy that lets the named service accounts of one or more
// clusters assume a role by web identity. Nothing is sent anywhere; `kirsa role create` applies it.

import type { Command } from 'commander';
import { DEFAULT_NAMESPACE, DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { checkProviderArn, iamProviderHostPath, providerArnFor } from '../core/iam/arn.ts';
import { type PolicyDocument, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import { parseServiceAccountRef, type ServiceAccountRef } from '../core/iam/service-account-ref.ts';
import { buildTrustPolicy, mergeTrustPolicy, sizeWarning } from '../core/iam/trust-policy.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { awsTargetOf, collect, printNote, printWarning } from './flags.ts';

/** The flags every verb that names trusted service accounts and providers shares. */
export interface TrustFlags {
  namespace: string;
  serviceAccount?: string[];
  providerArn?: string[];
  issuerUrl?: string[];
  accountId?: string;
  partition: string;
  /** false when --no-audience was given (commander's negated option). */
  audience?: string[] | false;
}

export function addTrustFlags(command: Command): Command {
  return command
    .option(
      '-n, --namespace <namespace>',
      'namespace of service accounts given without one',
      DEFAULT_NAMESPACE,
    )
    .option(
      '--service-account <name>',
      'service account to trust: NAME, or NAMESPACE/NAME; * is a wildcard (repeatable)',
      collect,
    )
    .option('--provider-arn <arn>', 'IAM OIDC provider ARN of a cluster (repeatable)', collect)
    .option(
      '--issuer-url <url>',
      "a cluster's issuer URL, with --account-id instead of --provider-arn (repeatable)",
      collect,
    )
    .option('--account-id <id>', 'AWS account of the providers named by --issuer-url')
    .option('--partition <partition>', 'AWS partition of the providers named by --issuer-url', 'aws')
    .option(
      '--audience <audience>',
      `token audience to require (repeatable; default ${DEFAULT_TOKEN_AUDIENCE})`,
      collect,
    )
    .option('--no-audience', 'leave the audience unconditioned (kOps style; not recommended)');
}

export interface TrustRequestFromFlags {
  providerArns: string[];
  serviceAccounts: ServiceAccountRef[];
  audiences: string[];
}

/** Validates the trust flags and resolves them to providers, accounts and audiences. No I/O. */
export function trustRequestFromFlags(flags: TrustFlags): TrustRequestFromFlags {
  const serviceAccounts = flags.serviceAccount ?? [];
  const issuerUrls = flags.issuerUrl ?? [];
  if (serviceAccounts.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'no service account named', {
      hint: 'add --service-account NAME (with --namespace NS), or --service-account NS/NAME',
    });
  if (issuerUrls.length > 0 && flags.accountId === undefined)
    throw new KirsaError('FLAG_REQUIRED', '--issuer-url needs --account-id to name the provider', {
      hint: 'add --account-id 111122223333, or give --provider-arn instead',
    });
  const providerArns = [
    ...(flags.providerArn ?? []).map((arn) => {
      checkProviderArn(arn);
      return arn;
    }),
    ...issuerUrls.map((url) => providerArnFor(url, flags.accountId!, flags.partition)),
  ];
  if (providerArns.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'no provider to trust', {
      hint: 'give --provider-arn ARN, or --issuer-url URL with --account-id ID',
    });
  const audiences =
    flags.audience === false ? [] : flags.audience?.length ? flags.audience : [DEFAULT_TOKEN_AUDIENCE];
  return {
    providerArns,
    serviceAccounts: serviceAccounts.map((text) => parseServiceAccountRef(text, flags.namespace)),
    audiences,
  };
}

/**
 * The flags with --account-id filled in from the credentials in use (STS GetCallerIdentity) when
 * --issuer-url names providers without one, as eksctl does; the URLs are checked first, so a typo costs no
 * call. Verbs that ask AWS anything use it; `trust-policy` and `-o` output ask AWS nothing and do not.
 */
export async function withCallerAccount<Flags extends TrustFlags & { endpointUrl?: string; region?: string }>(
  flags: Flags,
  callerAccountId: (options: { endpointUrl?: string; region?: string }) => Promise<string>,
): Promise<Flags> {
  if ((flags.issuerUrl ?? []).length === 0 || flags.accountId !== undefined) return flags;
  for (const url of flags.issuerUrl ?? []) iamProviderHostPath(url);
  const accountId = await callerAccountId(awsTargetOf(flags));
  printNote(`kirsa: no --account-id: using ${accountId}, the account of the credentials in use`);
  return { ...flags, accountId };
}

interface TrustPolicyFlags extends TrustFlags {
  mergeInto?: string;
}

export function registerTrustPolicy(program: Command): void {
  addTrustFlags(
    program
      .command('trust-policy')
      .description('print the role trust policy for service accounts of one or more clusters'),
  )
    .option(
      '--merge-into <file>',
      'an existing trust policy (JSON) to add the trust to, keeping its statements',
    )
    .action(async (flags: TrustPolicyFlags) => runTrustPolicy(flags));
}

async function readPolicyFile(path: string): Promise<PolicyDocument> {
  const text = await readInputText(path, 'policy');
  return parsePolicyDocument(text);
}

async function runTrustPolicy(flags: TrustPolicyFlags): Promise<void> {
  const request = trustRequestFromFlags(flags);
  let policy: PolicyDocument;
  if (flags.mergeInto !== undefined) {
    const result = mergeTrustPolicy(await readPolicyFile(flags.mergeInto), request);
    for (const problem of result.problems) printWarning(problem);
    printNote(
      result.changed
        ? `kirsa: added ${result.added.join(', ')}`
        : 'kirsa: the policy already trusts every account named; unchanged',
    );
    policy = result.policy;
  } else {
    policy = buildTrustPolicy(request);
  }
  const warning = sizeWarning(policy);
  if (warning) printWarning(warning);
  process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
}
