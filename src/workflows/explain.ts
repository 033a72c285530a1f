// `kirsa explain`: the token (or the service account it would be issued to), the trust policy (a file, or
// the role's from IAM) and the provider STS would match, evaluated as STS evaluates AssumeRoleWithWebIdentity.
// The rules are core's (core/iam/explain-request.ts, policy-evaluate.ts); this file reads what they judge.
// The CLI checks the flags' shape first and prints the result.

import { decodeJwt } from 'jose';
import { createIamRoles } from '../aws/iam-role.ts';
import { checkRoleArn } from '../core/iam/arn.ts';
import {
  type ExplainRequest,
  explainedProvider,
  requestForClaims,
  requestForServiceAccount,
} from '../core/iam/explain-request.ts';
import {
  type ContextValue,
  evaluateTrustPolicy,
  type TrustEvaluation,
  type WebIdentityClaims,
} from '../core/iam/policy-evaluate.ts';
import { namesNoPrincipal, type PolicyDocument, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';

export interface ExplainInput {
  /** Exactly one of policyFile and roleArn. */
  policyFile?: string | undefined;
  roleArn?: string | undefined;
  aws: { endpointUrl?: string; region?: string };
  /** Either tokenFile, or issuerUrl with serviceAccount (and audience). */
  tokenFile?: string | undefined;
  issuerUrl?: string | undefined;
  namespace: string;
  serviceAccount?: string | undefined;
  audience?: string | undefined;
  providerArn?: string | undefined;
  accountId?: string | undefined;
}

export interface Explanation {
  evaluation: TrustEvaluation;
  policy: PolicyDocument;
  /** Where the policy came from: `role ARN` or `file PATH`. */
  source: string;
  principal: string;
  context: Record<string, ContextValue>;
  notes: string[];
}

async function requestOf(input: ExplainInput): Promise<ExplainRequest> {
  if (input.tokenFile === undefined)
    return requestForServiceAccount({
      issuerUrl: input.issuerUrl!,
      serviceAccount: input.serviceAccount!,
      namespace: input.namespace,
      audience: input.audience,
    });
  const token = (await readInputText(input.tokenFile, 'token')).trim();
  let claims: WebIdentityClaims;
  try {
    claims = decodeJwt(token) as WebIdentityClaims;
  } catch (error) {
    throw new KirsaError('TOKEN_MALFORMED', `${input.tokenFile} is not a JWT: ${(error as Error).message}`, {
      hint: 'pass the file the pod reads (AWS_WEB_IDENTITY_TOKEN_FILE), e.g. from kubectl create token SA --audience sts.amazonaws.com',
    });
  }
  return requestForClaims(claims, input.tokenFile, Math.floor(Date.now() / 1000));
}

async function policyOf(input: ExplainInput): Promise<{ policy: PolicyDocument; source: string }> {
  if (input.roleArn !== undefined) {
    const { name } = checkRoleArn(input.roleArn);
    const role = await createIamRoles(input.aws).getRole(name);
    if (!role)
      throw new KirsaError('AWS_NOT_FOUND', `role ${name} does not exist`, {
        hint: 'check the role ARN; STS answers AccessDenied for a missing role too',
      });
    return { policy: role.trustPolicy, source: `role ${role.arn}` };
  }
  const policy = parsePolicyDocument(await readInputText(input.policyFile!, 'policy'));
  if (namesNoPrincipal(policy))
    throw new KirsaError(
      'POLICY_NOT_TRUST',
      `${input.policyFile} is a permissions policy (no statement names a Principal), not a role's trust policy`,
      {
        hint: 'explain judges who may assume a role: give the trust policy (aws iam get-role --query Role.AssumeRolePolicyDocument), or --role-arn',
      },
    );
  return { policy, source: `file ${input.policyFile}` };
}

/** The request first (a bad token costs no IAM call), then the policy, then the provider and the verdict. */
export async function explainTrust(input: ExplainInput): Promise<Explanation> {
  const request = await requestOf(input);
  const { policy, source } = await policyOf(input);
  const provider = explainedProvider(request.hostPath, input, policy);
  const notes = provider.note === undefined ? request.notes : [...request.notes, provider.note];
  const evaluation = evaluateTrustPolicy(policy, {
    principalFederated: provider.arn,
    context: request.context,
  });
  return { evaluation, policy, source, principal: provider.arn, context: request.context, notes };
}
