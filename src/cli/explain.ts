// `kirsa explain`: would STS let this token assume this role? Evaluates the role's trust policy the way STS
// does for AssumeRoleWithWebIdentity and, for a denial, prints the statement and condition that failed, the
// value seen, the value wanted and the fix. Exit 0 when allowed, 1 when denied.

import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { createIamRoles } from '../aws/iam-role.ts';
import { DEFAULT_NAMESPACE, DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import {
  checkAccountId,
  checkProviderArn,
  checkRoleArn,
  iamProviderHostPath,
  issuerHostPath,
  matchedProviderArn,
} from '../core/iam/arn.ts';
import {
  type ContextValue,
  contextFromClaims,
  evaluateTrustPolicy,
  type WebIdentityClaims,
} from '../core/iam/policy-evaluate.ts';
import { formatEvaluation } from '../core/iam/policy-explain.ts';
import { namesNoPrincipal, type PolicyDocument, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import { parseServiceAccountRef, serviceAccountSubject } from '../core/iam/trust-policy.ts';
import { issuerUrlProblems } from '../core/oidc/issuer-url.ts';
import { tokenChecks } from '../core/sts/token-checks.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';

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

interface RequestFacts {
  hostPath: string;
  context: Record<string, ContextValue>;
  /** Lines describing where the claims came from. */
  notes: string[];
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

async function requestFacts(flags: ExplainFlags): Promise<RequestFacts> {
  if (flags.tokenFile === undefined) {
    const hostPath = iamProviderHostPath(flags.issuerUrl!);
    const ref = parseServiceAccountRef(flags.serviceAccount!, flags.namespace);
    return {
      hostPath,
      context: {
        [`${hostPath}:sub`]: serviceAccountSubject(ref),
        [`${hostPath}:aud`]: flags.audience ?? DEFAULT_TOKEN_AUDIENCE,
      },
      notes: [],
    };
  }
  const token = (await readInputText(flags.tokenFile, 'token')).trim();
  let claims: WebIdentityClaims;
  try {
    claims = decodeJwt(token) as WebIdentityClaims;
  } catch (error) {
    throw new KirsaError('TOKEN_MALFORMED', `${flags.tokenFile} is not a JWT: ${(error as Error).message}`, {
      hint: 'pass the file the pod reads (AWS_WEB_IDENTITY_TOKEN_FILE), e.g. from kubectl create token SA --audience sts.amazonaws.com',
    });
  }
  if (typeof claims.iss !== 'string')
    throw new KirsaError('TOKEN_MALFORMED', `the token in ${flags.tokenFile} has no iss claim`, {
      hint: 'STS needs iss to find the IAM OIDC provider',
    });
  const notes = [
    `claims read from ${flags.tokenFile} without verifying its signature (explain judges the trust policy only; kirsa issuer verify checks the signature)`,
  ];
  // What STS refuses before it reads any trust policy, by the same rules the local STS and issuer verify
  // apply: the issuer URL's (IAM has no provider for a URL that breaks them) and the token's claims.
  for (const problem of issuerUrlProblems(claims.iss).filter((found) => found.severity === 'error'))
    notes.push(`the token's iss ${claims.iss} breaks an IAM issuer rule: ${problem.rule}`);
  const nowSeconds = Math.floor(Date.now() / 1000);
  for (const finding of tokenChecks({ payload: claims, nowSeconds }))
    if (finding.status === 'fail')
      notes.push(`STS would refuse the token before reading the trust policy: ${finding.message}`);
  const hostPath = issuerHostPath(claims.iss);
  return { hostPath, context: contextFromClaims(hostPath, claims), notes };
}

/** The provider ARN STS would have matched: explicit, or the issuer's provider in the account we can infer. */
function resolveProvider(
  flags: ExplainFlags,
  policy: PolicyDocument,
  hostPath: string,
  notes: string[],
): string {
  if (flags.providerArn !== undefined) return flags.providerArn;
  const matched = matchedProviderArn(hostPath, {
    role: flags.roleArn === undefined ? undefined : checkRoleArn(flags.roleArn),
    accountId: flags.accountId,
    policy,
  });
  if (!matched)
    throw new KirsaError('FLAG_REQUIRED', 'cannot tell which account the IAM OIDC provider is in', {
      hint: 'add --account-id ID or --provider-arn ARN',
    });
  if (matched.accountFrom === 'policy')
    notes.push(
      `assuming the provider is in account ${matched.accountId}, the one the policy names (pass --account-id to check another)`,
    );
  return matched.arn;
}

function formatContext(context: Record<string, ContextValue>): string[] {
  return Object.entries(context).map(([key, value]) => {
    const claim = key.slice(key.lastIndexOf(':') + 1);
    return `  ${`${claim}:`.padEnd(10)} ${Array.isArray(value) ? value.join(', ') : value}`;
  });
}

async function runExplain(flags: ExplainFlags): Promise<void> {
  validate(flags);
  const facts = await requestFacts(flags);
  let policy: PolicyDocument;
  let source: string;
  if (flags.roleArn !== undefined) {
    const { name } = checkRoleArn(flags.roleArn);
    const iam = createIamRoles({
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      ...(flags.region ? { region: flags.region } : {}),
    });
    const role = await iam.getRole(name);
    if (!role)
      throw new KirsaError('AWS_NOT_FOUND', `role ${name} does not exist`, {
        hint: 'check the role ARN; STS answers AccessDenied for a missing role too',
      });
    policy = role.trustPolicy;
    source = `role ${role.arn}`;
  } else {
    policy = parsePolicyDocument(await readInputText(flags.policyFile!, 'policy'));
    source = `file ${flags.policyFile}`;
    if (namesNoPrincipal(policy))
      throw new KirsaError(
        'POLICY_NOT_TRUST',
        `${flags.policyFile} is a permissions policy (no statement names a Principal), not a role's trust policy`,
        {
          hint: 'explain judges who may assume a role: give the trust policy (aws iam get-role --query Role.AssumeRolePolicyDocument), or --role-arn',
        },
      );
  }
  const principal = resolveProvider(flags, policy, facts.hostPath, facts.notes);
  const evaluation = evaluateTrustPolicy(policy, { principalFederated: principal, context: facts.context });

  if (flags.output === 'json') {
    process.stdout.write(
      `${JSON.stringify({ ...evaluation, policySource: source, principalFederated: principal, context: facts.context, notes: facts.notes }, null, 2)}\n`,
    );
  } else {
    const header = [
      `  policy:    ${source}`,
      `  provider:  ${principal}`,
      ...formatContext(facts.context),
      ...facts.notes.map((note) => `  note:      ${note}`),
    ];
    process.stdout.write(formatEvaluation(evaluation, policy, header));
  }
  if (evaluation.decision === 'deny') process.exitCode = 1;
}
