// Building role trust policies for service accounts, and merging them into the policy a role already has.
// Pure. One statement per IAM OIDC provider (cluster), listing every service account it trusts: `StringEquals`
// on `<issuer host/path>:sub` and `:aud`, switching `:sub` to `StringLike` only when a namespace or name holds
// `*`, because `StringEquals` compares `*` literally and never matches.

import {
  ASSUME_ROLE_WITH_WEB_IDENTITY,
  POLICY_VERSION_WITH_VARIABLES,
  TRUST_POLICY_SIZE_QUOTA,
  TRUST_POLICY_SIZE_WARN_RATIO,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { checkProviderArn } from './arn.ts';
import { evaluateTrustPolicy } from './policy-evaluate.ts';
import type { PolicyDocument, PolicyStatement } from './policy-grammar.ts';
import { type ServiceAccountRef, serviceAccountSubject } from './service-account-ref.ts';

// --- Building ------------------------------------------------------------------------------------------------

export interface TrustPolicyRequest {
  /** IAM OIDC provider ARNs, one per cluster. */
  providerArns: string[];
  serviceAccounts: ServiceAccountRef[];
  /** Token audiences to require; empty leaves `:aud` unconditioned (kOps' style, not recommended). */
  audiences: string[];
}

function oneOrMany(values: string[]): string | string[] {
  return values.length === 1 ? values[0]! : values;
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** The statement trusting `subjects` from one provider. */
export function buildTrustStatement(
  providerArn: string,
  subjects: string[],
  audiences: string[],
): PolicyStatement {
  const { hostPath } = checkProviderArn(providerArn);
  const subs = unique(subjects);
  const wildcard = subs.some((subject) => subject.includes('*'));
  const condition: Record<string, Record<string, string | string[]>> = {};
  // StringLike matches the exact subjects too (they hold no `*` or `?`), so one operator carries them all.
  const subOperator = wildcard ? 'StringLike' : 'StringEquals';
  condition[subOperator] = { [`${hostPath}:sub`]: oneOrMany(subs) };
  if (audiences.length > 0) {
    condition.StringEquals = { ...condition.StringEquals, [`${hostPath}:aud`]: oneOrMany(unique(audiences)) };
  }
  return {
    Effect: 'Allow',
    Principal: { Federated: providerArn },
    Action: ASSUME_ROLE_WITH_WEB_IDENTITY,
    Condition: condition,
  };
}

export function buildTrustPolicy(request: TrustPolicyRequest): PolicyDocument {
  if (request.providerArns.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'no provider to trust', {
      hint: 'give --provider-arn ARN, or --issuer-url URL with --account-id ID',
    });
  if (request.serviceAccounts.length === 0)
    throw new KirsaError('FLAG_REQUIRED', 'no service account to trust', {
      hint: 'give --service-account NAME',
    });
  const subjects = request.serviceAccounts.map(serviceAccountSubject);
  return {
    Version: POLICY_VERSION_WITH_VARIABLES,
    Statement: unique(request.providerArns).map((arn) =>
      buildTrustStatement(arn, subjects, request.audiences),
    ),
  };
}

// --- Merging ------------------------------------------------------------------------------------------------

export interface MergeResult {
  policy: PolicyDocument;
  changed: boolean;
  /** One line per subject added ("system:serviceaccount:a:b from <provider>"). */
  added: string[];
  /** Trust the merge cannot give, e.g. an explicit Deny in the existing policy. */
  problems: string[];
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Does this request already pass the policy, for every audience asked? */
function alreadyTrusted(
  policy: PolicyDocument,
  providerArn: string,
  hostPath: string,
  subject: string,
  audiences: string[],
) {
  const checks = audiences.length > 0 ? audiences : [undefined];
  return checks.map((audience) =>
    evaluateTrustPolicy(policy, {
      principalFederated: providerArn,
      context: {
        [`${hostPath}:sub`]: subject,
        ...(audience === undefined ? {} : { [`${hostPath}:aud`]: audience }),
      },
    }),
  );
}

/**
 * A statement kirsa may extend: an Allow for exactly this provider and action whose only conditions are the
 * `:sub` list and the same `:aud` set. Any other statement is someone's deliberate choice and stays untouched.
 */
function extendableStatement(
  statement: PolicyStatement,
  providerArn: string,
  hostPath: string,
  /** undefined: any audience set (what removal looks for); else exactly this set (what merging extends). */
  audiences: string[] | undefined,
) {
  if (statement.Effect !== 'Allow' || statement.NotPrincipal || statement.NotAction) return false;
  const principal = statement.Principal;
  if (principal === undefined || principal === '*') return false;
  if (Object.keys(principal).length !== 1 || asList(principal.Federated).join() !== providerArn) return false;
  if (asList(statement.Action).join() !== ASSUME_ROLE_WITH_WEB_IDENTITY) return false;
  const condition = statement.Condition ?? {};
  const subKey = `${hostPath}:sub`;
  const audKey = `${hostPath}:aud`;
  let subFound = false;
  let audValues: string[] = [];
  for (const [operator, entries] of Object.entries(condition)) {
    if (operator !== 'StringEquals' && operator !== 'StringLike') return false;
    for (const [key, values] of Object.entries(entries)) {
      if (key === subKey) subFound = true;
      else if (key === audKey && operator === 'StringEquals') audValues = asList(values as string | string[]);
      else return false;
    }
  }
  const sameAudiences =
    audiences === undefined ||
    (audValues.length === audiences.length && audValues.every((audience) => audiences.includes(audience)));
  return subFound && sameAudiences;
}

function addSubjects(statement: PolicyStatement, hostPath: string, subjects: string[]): PolicyStatement {
  const subKey = `${hostPath}:sub`;
  const condition = structuredClone(statement.Condition ?? {}) as Record<
    string,
    Record<string, string | string[]>
  >;
  const existing = [...asList(condition.StringEquals?.[subKey]), ...asList(condition.StringLike?.[subKey])];
  const all = unique([...existing, ...subjects]);
  if (condition.StringEquals) delete condition.StringEquals[subKey];
  if (condition.StringLike) delete condition.StringLike[subKey];
  const operator = all.some((subject) => subject.includes('*') || subject.includes('?'))
    ? 'StringLike'
    : 'StringEquals';
  condition[operator] = { ...condition[operator], [subKey]: oneOrMany(all) };
  for (const name of Object.keys(condition)) {
    if (Object.keys(condition[name]!).length === 0) delete condition[name];
  }
  return { ...statement, Condition: condition };
}

/**
 * Adds the trust in `request` to `existing` without taking anything away: subjects already trusted are left
 * alone, a statement kirsa built for the same provider and audiences gains the new subjects, anything else
 * gets a new statement. A second merge of the same request changes nothing.
 */
export function mergeTrustPolicy(
  existing: PolicyDocument | undefined,
  request: TrustPolicyRequest,
): MergeResult {
  if (!existing) {
    const policy = buildTrustPolicy(request);
    const added = request.providerArns.flatMap((arn) =>
      request.serviceAccounts.map((ref) => `${serviceAccountSubject(ref)} from ${arn}`),
    );
    return { policy, changed: true, added, problems: [] };
  }
  let statements = [...existing.Statement];
  const added: string[] = [];
  const problems: string[] = [];
  for (const providerArn of unique(request.providerArns)) {
    const { hostPath } = checkProviderArn(providerArn);
    const missing: string[] = [];
    for (const ref of request.serviceAccounts) {
      const subject = serviceAccountSubject(ref);
      const verdicts = alreadyTrusted(
        { ...existing, Statement: statements },
        providerArn,
        hostPath,
        subject,
        request.audiences,
      );
      if (verdicts.every((verdict) => verdict.decision === 'allow')) continue;
      const deny = verdicts.find((verdict) => verdict.deniedBy === 'explicit-deny');
      if (deny) {
        problems.push(
          `${subject} from ${providerArn}: ${deny.reasons[0]}; kirsa does not remove Deny statements, edit the policy by hand`,
        );
        continue;
      }
      missing.push(subject);
    }
    if (missing.length === 0) continue;
    const index = statements.findIndex((statement) =>
      extendableStatement(statement, providerArn, hostPath, request.audiences),
    );
    if (index >= 0) statements[index] = addSubjects(statements[index]!, hostPath, missing);
    else statements = [...statements, buildTrustStatement(providerArn, missing, request.audiences)];
    added.push(...missing.map((subject) => `${subject} from ${providerArn}`));
  }
  return {
    policy: { ...existing, Statement: statements },
    changed: added.length > 0,
    added,
    problems,
  };
}

// --- Removing ----------------------------------------------------------------------------------------------

export interface RemoveResult {
  policy: PolicyDocument;
  changed: boolean;
  /** One line per subject removed ("system:serviceaccount:a:b from <provider>"). */
  removed: string[];
}

function withoutSubjects(statement: PolicyStatement, hostPath: string, subjects: string[]) {
  const subKey = `${hostPath}:sub`;
  const condition = structuredClone(statement.Condition ?? {}) as Record<
    string,
    Record<string, string | string[]>
  >;
  const existing = [...asList(condition.StringEquals?.[subKey]), ...asList(condition.StringLike?.[subKey])];
  const kept = existing.filter((subject) => !subjects.includes(subject));
  const removed = existing.filter((subject) => subjects.includes(subject));
  if (removed.length === 0 || kept.length === 0) return { statement: undefined, removed, kept };
  if (condition.StringEquals) delete condition.StringEquals[subKey];
  if (condition.StringLike) delete condition.StringLike[subKey];
  // As addSubjects chooses: StringLike only while a kept subject holds a wildcard.
  const operator = kept.some((subject) => subject.includes('*') || subject.includes('?'))
    ? 'StringLike'
    : 'StringEquals';
  condition[operator] = { ...condition[operator], [subKey]: oneOrMany(kept) };
  for (const name of Object.keys(condition)) {
    if (Object.keys(condition[name]!).length === 0) delete condition[name];
  }
  return { statement: { ...statement, Condition: condition }, removed, kept };
}

/**
 * The inverse of mergeTrustPolicy: takes the request's subjects out of the statements kirsa builds for the
 * request's providers (an Allow of web identity for exactly that provider, conditioned only on `:sub` and
 * `:aud`, whatever the audiences), dropping a statement left with no subject. Statements for other providers
 * (other clusters) and statements of any other shape are someone's deliberate choice and stay as they are.
 * Removing again changes nothing.
 */
export function removeTrust(
  existing: PolicyDocument,
  request: Omit<TrustPolicyRequest, 'audiences'>,
): RemoveResult {
  const subjects = request.serviceAccounts.map(serviceAccountSubject);
  const removed: string[] = [];
  let statements = [...existing.Statement];
  for (const providerArn of unique(request.providerArns)) {
    const { hostPath } = checkProviderArn(providerArn);
    statements = statements.flatMap((statement) => {
      if (!extendableStatement(statement, providerArn, hostPath, undefined)) return [statement];
      const result = withoutSubjects(statement, hostPath, subjects);
      if (result.removed.length === 0) return [statement];
      removed.push(...result.removed.map((subject) => `${subject} from ${providerArn}`));
      return result.statement ? [result.statement] : [];
    });
  }
  return {
    policy: { ...existing, Statement: statements },
    changed: removed.length > 0,
    removed: unique(removed),
  };
}

/** The IAM OIDC provider ARNs a policy's statements name as `Federated` principals, in order, once each. */
export function federatedPrincipals(policy: PolicyDocument): string[] {
  return unique(
    policy.Statement.flatMap((statement) => {
      const principal = statement.Principal;
      if (principal === undefined || principal === '*') return [];
      return asList(principal.Federated);
    }),
  );
}

// --- Size ----------------------------------------------------------------------------------------------------

/** The size IAM counts against its quota: the policy's characters, whitespace excluded. */
export function policySize(policy: PolicyDocument): number {
  return JSON.stringify(policy).replace(/\s/g, '').length;
}

/** A warning when the policy is near or over IAM's trust policy quota, else undefined. */
export function sizeWarning(policy: PolicyDocument, quota = TRUST_POLICY_SIZE_QUOTA): string | undefined {
  const size = policySize(policy);
  if (size > quota)
    return `the trust policy is ${size} characters, over IAM's ${quota}-character quota: IAM will refuse it; split the service accounts across roles, use a StringLike pattern, or ask AWS to raise the "Role trust policy length" quota`;
  if (size >= quota * TRUST_POLICY_SIZE_WARN_RATIO)
    return `the trust policy is ${size} of IAM's ${quota} characters: a few more service accounts or clusters will not fit`;
  return undefined;
}
