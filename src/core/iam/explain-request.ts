// What `kirsa explain` puts before a trust policy: the request STS would evaluate (the issuer's host/path,
// the condition keys the token sets, and notes on where they came from) and the provider ARN STS would
// have matched. Pure: the token is read and decoded by the caller (workflows/explain.ts).

import { DEFAULT_TOKEN_AUDIENCE } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { issuerUrlProblems } from '../oidc/issuer-url.ts';
import { tokenChecks } from '../sts/token-checks.ts';
import { checkRoleArn, iamProviderHostPath, issuerHostPath, matchedProviderArn } from './arn.ts';
import { type ContextValue, contextFromClaims, type WebIdentityClaims } from './policy-evaluate.ts';
import type { PolicyDocument } from './policy-grammar.ts';
import { parseServiceAccountRef, serviceAccountSubject } from './service-account-ref.ts';

export interface ExplainRequest {
  /** The issuer's host and path, the prefix of its condition keys. */
  hostPath: string;
  context: Record<string, ContextValue>;
  /** Lines describing where the claims came from. */
  notes: string[];
}

/** The request for a token that would be issued to a service account (no token at hand). */
export function requestForServiceAccount(given: {
  issuerUrl: string;
  serviceAccount: string;
  namespace: string;
  audience?: string | undefined;
}): ExplainRequest {
  const hostPath = iamProviderHostPath(given.issuerUrl);
  const ref = parseServiceAccountRef(given.serviceAccount, given.namespace);
  return {
    hostPath,
    context: {
      [`${hostPath}:sub`]: serviceAccountSubject(ref),
      [`${hostPath}:aud`]: given.audience ?? DEFAULT_TOKEN_AUDIENCE,
    },
    notes: [],
  };
}

/**
 * The request for a token's claims, read from `source` without verifying its signature. The notes say
 * what STS refuses before it reads any trust policy, by the same rules the local STS and issuer verify
 * apply: the issuer URL's (IAM has no provider for a URL that breaks them) and the token's claims.
 */
export function requestForClaims(
  claims: WebIdentityClaims,
  source: string,
  nowSeconds: number,
): ExplainRequest {
  if (typeof claims.iss !== 'string')
    throw new KirsaError('TOKEN_MALFORMED', `the token in ${source} has no iss claim`, {
      hint: 'STS needs iss to find the IAM OIDC provider',
    });
  const notes = [
    `claims read from ${source} without verifying its signature (explain judges the trust policy only; kirsa issuer verify checks the signature)`,
  ];
  for (const problem of issuerUrlProblems(claims.iss).filter((found) => found.severity === 'error'))
    notes.push(`the token's iss ${claims.iss} breaks an IAM issuer rule: ${problem.rule}`);
  for (const finding of tokenChecks({ payload: claims, nowSeconds }))
    if (finding.status === 'fail')
      notes.push(`STS would refuse the token before reading the trust policy: ${finding.message}`);
  const hostPath = issuerHostPath(claims.iss);
  return { hostPath, context: contextFromClaims(hostPath, claims), notes };
}

/**
 * The provider ARN STS would have matched: the one given, or the issuer's provider in the account we can
 * infer (given, the role's, or the one the policy names; then `note` says so).
 */
export function explainedProvider(
  hostPath: string,
  known: { providerArn?: string | undefined; roleArn?: string | undefined; accountId?: string | undefined },
  policy: PolicyDocument,
): { arn: string; note?: string } {
  if (known.providerArn !== undefined) return { arn: known.providerArn };
  const matched = matchedProviderArn(hostPath, {
    role: known.roleArn === undefined ? undefined : checkRoleArn(known.roleArn),
    accountId: known.accountId,
    policy,
  });
  if (!matched)
    throw new KirsaError('FLAG_REQUIRED', 'cannot tell which account the IAM OIDC provider is in', {
      hint: 'add --account-id ID or --provider-arn ARN',
    });
  if (matched.accountFrom === 'policy')
    return {
      arn: matched.arn,
      note: `assuming the provider is in account ${matched.accountId}, the one the policy names (pass --account-id to check another)`,
    };
  return { arn: matched.arn };
}
