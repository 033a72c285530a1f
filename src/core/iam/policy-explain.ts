// Why a trust policy said no, in words: for each failed element the message and the fix, and the text
// `kirsa explain`, the doctor and the local STS print. Pure; the verdict itself is policy-evaluate.ts's.

import { SERVICE_ACCOUNT_SUBJECT_PREFIX } from '../../consts.ts';
import { parseProviderArn } from './arn.ts';
import type {
  ConditionOutcome,
  Failure,
  StatementRef,
  TrustEvaluation,
  TrustRequest,
} from './policy-evaluate.ts';
import {
  asList,
  hasWildcard,
  isNegated,
  type ParsedOperator,
  type PolicyDocument,
  type PrincipalValue,
  UNEVALUATED_OPERATORS,
  wildcardPattern,
} from './policy-grammar.ts';

/** "Statement 1 (Sid "x", Allow)" for messages; statements are numbered from 1 for people. */
export function describeStatement(ref: StatementRef): string {
  return `statement ${ref.index + 1}${ref.sid ? ` (Sid "${ref.sid}")` : ''}`;
}

/** `system:serviceaccount:NS:SA` split into its parts, or undefined for any other subject. */
export function parseServiceAccountSubject(subject: string): { namespace: string; name: string } | undefined {
  if (!subject.startsWith(SERVICE_ACCOUNT_SUBJECT_PREFIX)) return undefined;
  const rest = subject.slice(SERVICE_ACCOUNT_SUBJECT_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { namespace: rest.slice(0, colon), name: rest.slice(colon + 1) };
}

// --- Principal --------------------------------------------------------------------------------------------------

export function principalFix(
  principal: PrincipalValue,
  federated: string,
): { message: string; fix?: string } {
  if (principal === '*') return { message: 'the principal matches everyone' };
  const wanted = parseProviderArn(federated);
  const federatedValues = asList(principal.Federated);
  if (federatedValues.length === 0) {
    const types = Object.keys(principal).join(', ') || 'nothing';
    return {
      message: `the statement trusts ${types} principals, not a web identity`,
      fix: `a web identity is matched by "Principal": {"Federated": "${federated}"}`,
    };
  }
  for (const value of federatedValues) {
    if (value.toLowerCase() === federated.toLowerCase())
      return {
        message: `the principal ${value} differs from ${federated} only in case`,
        fix: `write "Federated": "${federated}"`,
      };
    if (hasWildcard(value))
      return {
        message: `the principal ${value} holds a wildcard, and IAM matches principal ARNs exactly`,
        fix: `write "Federated": "${federated}"`,
      };
    const named = parseProviderArn(value);
    if (named && wanted) {
      if (named.hostPath === wanted.hostPath && named.accountId !== wanted.accountId)
        return {
          message: `the policy trusts the provider in account ${named.accountId}, the token was checked by the provider in account ${wanted.accountId}`,
          fix: `write "Federated": "${federated}", or create the provider in account ${named.accountId}`,
        };
      if (named.hostPath !== wanted.hostPath)
        return {
          message: `the policy trusts issuer ${named.hostPath}, the token's issuer is ${wanted.hostPath}`,
          fix: `write "Federated": "${federated}" (the provider whose URL equals the token's iss)`,
        };
    }
  }
  return {
    message: `the policy trusts ${federatedValues.join(', ')}, not ${federated}`,
    fix: `write "Federated": "${federated}"`,
  };
}

// --- Explaining a failed condition -----------------------------------------------------------------------------

/** The issuer host/path of the request, read from its `...:sub` key. */
function requestIssuerHostPath(request: TrustRequest): string | undefined {
  const subKey = Object.keys(request.context).find(
    (key) => key.endsWith(':sub') && request.context[key] !== undefined,
  );
  if (subKey) return subKey.slice(0, -':sub'.length);
  return parseProviderArn(request.principalFederated)?.hostPath;
}

const OIDC_CLAIM_KEYS = new Set(['sub', 'aud', 'amr', 'azp', 'oaud']);

function quoteList(values: readonly string[] | undefined): string {
  if (values === undefined) return '(absent)';
  return values.map((value) => JSON.stringify(value)).join(', ');
}

export function explainCondition(
  operator: ParsedOperator,
  key: string,
  wants: string[],
  outcome: ConditionOutcome,
  request: TrustRequest,
): { message: string; fix?: string } {
  const claim = key.includes(':') ? key.slice(key.lastIndexOf(':') + 1) : key;
  const keyIssuer = key.includes(':') ? key.slice(0, key.lastIndexOf(':')) : '';
  const issuer = requestIssuerHostPath(request);

  if (outcome.unsupported) {
    const known = UNEVALUATED_OPERATORS.has(operator.base);
    return {
      message: known
        ? `kirsa does not evaluate ${operator.written}; the condition was treated as failing`
        : `${operator.written} is not an IAM condition operator, so IAM would reject this policy`,
      ...(known ? {} : { fix: 'use StringEquals or StringLike for web identity keys' }),
    };
  }
  if (outcome.missingVariable !== undefined) {
    return {
      message: `the policy variable \${${outcome.missingVariable}} is not in the request, so the value never matches`,
      fix: `give it a default (\${${outcome.missingVariable}, 'value'}) or write the value literally`,
    };
  }
  if (operator.base === 'Null') {
    const wantsAbsent = wants.some((value) => value.toLowerCase() === 'true');
    return outcome.saw === undefined
      ? {
          message: `Null requires ${key} to be present, and the request has no such key`,
          fix: `drop the Null condition on ${key}, or issue tokens that carry the ${claim} claim`,
        }
      : {
          message: `Null requires ${key} to be ${wantsAbsent ? 'absent' : 'present'}, and the request has ${quoteList(outcome.saw)}`,
          fix: `drop the Null condition on ${key}`,
        };
  }

  if (outcome.saw === undefined) {
    if (/^https?:\/\//i.test(key)) {
      const bare = key.replace(/^https?:\/\//i, '');
      return {
        message: `the condition key ${key} names the issuer with its scheme, and IAM's keys never carry one`,
        fix: `write the key as ${bare}`,
      };
    }
    if (issuer !== undefined && keyIssuer !== '' && keyIssuer !== issuer && OIDC_CLAIM_KEYS.has(claim)) {
      return {
        message: `the condition key ${key} names issuer ${keyIssuer}, but the token's issuer is ${issuer}`,
        fix: `write the key as ${issuer}:${claim}`,
      };
    }
    if (
      !OIDC_CLAIM_KEYS.has(claim) &&
      keyIssuer !== '' &&
      !keyIssuer.startsWith('aws') &&
      !keyIssuer.startsWith('sts')
    ) {
      return {
        message: `IAM exposes only the sub, aud and amr claims of an OIDC token as condition keys, so ${key} is never in the request`,
        fix: `condition on ${issuer ?? keyIssuer}:sub instead (system:serviceaccount:<namespace>:<name>)`,
      };
    }
    return {
      message: `${operator.written} needs ${key}, and the request has no such key`,
      fix:
        claim === 'amr'
          ? `Kubernetes tokens carry no amr claim: drop this condition or use ${operator.base}IfExists`
          : `drop the condition, or use ${operator.base}IfExists if the key may be missing`,
    };
  }

  const saw = outcome.saw;
  const negated = isNegated(operator.base);
  if (negated) {
    return {
      message: `${operator.written} on ${key} excludes ${quoteList(wants)}, and the request has ${quoteList(saw)}`,
      fix: `remove ${quoteList(saw)} from the ${operator.written} list if it should be allowed`,
    };
  }
  if (operator.set === 'ForAllValues') {
    return {
      message: `${operator.written} on ${key} needs every value in ${quoteList(wants)}, and the request has ${quoteList(saw)}`,
    };
  }

  const equalsFamily = operator.base === 'StringEquals' || operator.base === 'StringEqualsIgnoreCase';
  const wildcarded = wants.filter(hasWildcard);
  if (equalsFamily && wildcarded.length > 0) {
    const wouldMatch = wildcarded.some((value) => saw.some((seen) => wildcardPattern(value).test(seen)));
    return {
      message: `${operator.base} compares ${quoteList(wildcarded)} literally: \`${operator.base}\` with \`*\` never matches${wouldMatch ? `, though StringLike would match ${quoteList(saw)}` : ''}`,
      fix: `use \`StringLike\` for ${key}${operator.set ? ` (${operator.set}:StringLike)` : ''}`,
    };
  }
  if (
    operator.base === 'StringEquals' &&
    wants.some((value) => saw.some((seen) => seen.toLowerCase() === value.toLowerCase()))
  ) {
    return {
      message: `${key} is ${quoteList(saw)}, which differs from ${quoteList(wants)} only in case, and StringEquals is case-sensitive`,
      fix: `write ${quoteList(saw)} exactly`,
    };
  }
  if (claim === 'sub') {
    const seen = saw.length === 1 ? parseServiceAccountSubject(saw[0]!) : undefined;
    const named = wants.map(parseServiceAccountSubject).filter((value) => value !== undefined);
    if (seen && named.length > 0) {
      const names = named.map((ref) => `${ref.namespace}/${ref.name}`).join(', ');
      const sameNamespace = named.some((ref) => ref.namespace === seen.namespace);
      const sameName = named.some((ref) => ref.name === seen.name);
      const reason = sameNamespace
        ? `the policy names service account ${names}, the token is for ${seen.namespace}/${seen.name}`
        : sameName
          ? `the policy names service account ${names} in another namespace, the token is for ${seen.namespace}/${seen.name}`
          : `the policy names service account ${names}, the token is for ${seen.namespace}/${seen.name}`;
      return {
        message: reason,
        fix: `add "${saw[0]}" to the ${key} condition (kirsa role create --namespace ${seen.namespace} --service-account ${seen.name} merges it), or run the pod as service account ${named[0]!.name}`,
      };
    }
    return {
      message: `${key} is ${quoteList(saw)}, the policy wants ${quoteList(wants)}`,
      fix: `add ${quoteList(saw)} to the ${key} condition if this workload should assume the role`,
    };
  }
  if (claim === 'aud') {
    return {
      message: `the audience is ${quoteList(saw)}, the policy wants ${quoteList(wants)}`,
      fix: `make the pod's token audience ${quoteList(wants)} (the ServiceAccount annotation eks.amazonaws.com/audience or the webhook's --token-audience), or add ${quoteList(saw)} to the policy and to the provider's client IDs`,
    };
  }
  return {
    message: `${key} is ${quoteList(saw)}, the policy wants ${quoteList(wants)}`,
  };
}

// --- Text -------------------------------------------------------------------------------------------------------

/** A failure as the indented lines `kirsa explain` and the doctor print. */
export function formatFailure(failure: Failure): string[] {
  const where =
    failure.element === 'Condition'
      ? `${describeStatement(failure.statement)}, Condition ${failure.operator} ${failure.key}`
      : `${describeStatement(failure.statement)}, ${failure.element}`;
  const lines = [where, `  why:   ${failure.message}`];
  if (failure.element !== 'Statement') {
    lines.push(`  saw:   ${quoteList(failure.saw)}`);
    if (failure.wants.length > 0) lines.push(`  wants: ${quoteList(failure.wants)}`);
  }
  if (failure.fix) lines.push(`  fix:   ${failure.fix}`);
  return lines;
}

/** The failures worth printing: those of the closest Allow statement (the ones a fix would address). */
export function closestFailures(evaluation: TrustEvaluation): Failure[] {
  const first = evaluation.failures[0];
  if (!first) return [];
  return evaluation.failures.filter((failure) => failure.statement.index === first.statement.index);
}

/**
 * The verdict, the header lines given, then what to change: the Deny statement that matched, or the failures
 * of the closest Allow statement (the others are counted, and listed by -o json); warnings last.
 */
export function formatEvaluation(
  evaluation: TrustEvaluation,
  policy: PolicyDocument,
  header: string[],
): string {
  const lines = [evaluation.reasons[0]!, '', ...header, ''];
  if (
    evaluation.decision === 'deny' &&
    evaluation.deniedBy === 'explicit-deny' &&
    evaluation.matchedStatement
  ) {
    lines.push(
      'the Deny statement:',
      ...JSON.stringify(policy.Statement[evaluation.matchedStatement.index], null, 2)
        .split('\n')
        .map((line) => `  ${line}`),
    );
    lines.push('  fix:   narrow or remove the Deny statement if this workload should assume the role');
  } else {
    for (const failure of closestFailures(evaluation)) lines.push(...formatFailure(failure), '');
    const others = evaluation.failures.length - closestFailures(evaluation).length;
    if (others > 0)
      lines.push(
        `(${others} more failed element${others === 1 ? '' : 's'} in other statements; -o json lists them all)`,
      );
  }
  for (const warning of evaluation.warnings) lines.push(`warning: ${warning}`);
  while (lines.at(-1) === '') lines.pop();
  return `${lines.join('\n')}\n`;
}
