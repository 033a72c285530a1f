// How STS decides `AssumeRoleWithWebIdentity` against a role's trust policy. Pure: the caller hands in the
// policy document and the request (the provider the token came from, the action, the condition keys STS
// derives from the token), and gets back the verdict, the statement that decided it and, for a denial, each
// failed element with the value seen, the value wanted and a fix (worded by policy-explain.ts). The CLI, the
// doctor and a local STS all reuse this.
//
// The rules implemented are IAM's documented evaluation logic: an explicit Deny wins, otherwise any matching
// Allow grants, otherwise the default is deny. Within a statement Principal, Action and every condition must
// hold; condition operators AND together, keys under one operator AND together, values under one key OR
// together (NOR for the negated operators).

import { ASSUME_ROLE_WITH_WEB_IDENTITY, POLICY_VERSION_WITH_VARIABLES } from '../../consts.ts';
import { describeStatement, explainCondition, principalFix } from './policy-explain.ts';
import {
  asList,
  escapeRegExp,
  isNegated,
  type ParsedOperator,
  type PolicyDocument,
  type PolicyStatement,
  type PolicyValue,
  type PrincipalValue,
  parseOperator,
  parsePolicyDocument,
  STRING_OPERATORS,
  UNEVALUATED_OPERATORS,
  wildcardPattern,
  wildcardSource,
} from './policy-grammar.ts';

// --- The request ----------------------------------------------------------------------------------------------

/** A condition key's value in the request: one string, or several for multivalued keys such as `:amr`. */
export type ContextValue = string | readonly string[];

export interface TrustRequest {
  /** The IAM OIDC provider ARN the token was verified against: the `Federated` principal STS matches. */
  principalFederated: string;
  /** Defaults to `sts:AssumeRoleWithWebIdentity`. */
  action?: string;
  /** Condition keys (`<issuer host/path>:sub`, `:aud`, `:amr`, ...) to their values; absent keys are missing. */
  context: Readonly<Record<string, ContextValue | undefined>>;
}

// --- The answer -------------------------------------------------------------------------------------------------

export interface StatementRef {
  /** Position in the Statement list, from 0. */
  index: number;
  sid?: string;
  effect: 'Allow' | 'Deny';
}

export type FailedElement = 'Principal' | 'NotPrincipal' | 'Action' | 'NotAction' | 'Condition' | 'Statement';

export interface Failure {
  statement: StatementRef;
  element: FailedElement;
  /** The condition operator as written (`StringEquals`, `ForAnyValue:StringLike`, ...). */
  operator?: string;
  /** The condition key as written in the policy. */
  key?: string;
  /** What the request holds; undefined when the key is absent from the request. */
  saw: string[] | undefined;
  /** What the policy asks for. */
  wants: string[];
  /** What went wrong, in one sentence. */
  message: string;
  /** What to change, when kirsa can tell. */
  fix?: string;
}

export interface TrustEvaluation {
  decision: 'allow' | 'deny';
  /** 'explicit-deny' when a Deny statement matched, 'no-allow' when no Allow statement matched. */
  deniedBy?: 'explicit-deny' | 'no-allow';
  /** The Allow that granted, or the Deny that denied. */
  matchedStatement?: StatementRef;
  /** One line each: the verdict first, then the most useful explanation. */
  reasons: string[];
  /** For a default deny: why each Allow statement did not apply, the closest statement first. */
  failures: Failure[];
  /** Things kirsa could not judge exactly (unsupported operators, fields IAM rejects in trust policies). */
  warnings: string[];
}

function refOf(statement: PolicyStatement, index: number): StatementRef {
  return statement.Sid === undefined
    ? { index, effect: statement.Effect }
    : { index, sid: statement.Sid, effect: statement.Effect };
}

// --- Principal and action ------------------------------------------------------------------------------------

function principalMatches(principal: PrincipalValue, federated: string): boolean {
  if (principal === '*') return true;
  for (const [type, values] of Object.entries(principal)) {
    const list = asList(values);
    // {"AWS": "*"} is IAM's other spelling of "everyone".
    if (type === 'AWS' && list.includes('*')) return true;
    if (type === 'Federated' && list.includes(federated)) return true;
  }
  return false;
}

const ACTION_CACHE = new Map<string, RegExp>();

function actionMatches(patterns: string[], action: string): boolean {
  return patterns.some((pattern) => {
    let compiled = ACTION_CACHE.get(pattern);
    if (!compiled) {
      if (ACTION_CACHE.size >= LIKE_CACHE_LIMIT) ACTION_CACHE.clear();
      compiled = wildcardPattern(pattern, 'i');
      ACTION_CACHE.set(pattern, compiled);
    }
    return compiled.test(action);
  });
}

// --- Conditions ------------------------------------------------------------------------------------------------

/** One policy value after policy variables are resolved: text to compare, and where its wildcards are real. */
interface ResolvedValue {
  /** The value as Equals operators see it. */
  text: string;
  /**
   * The value as a Like pattern: a RegExp source where only real wildcards are special; undefined when the
   * value had no variables, so the text itself is the pattern (built only if a Like operator asks).
   */
  likeSource?: string;
  /** The variable that was missing from the request, when there was one and no default. */
  missingVariable?: string;
}

const VARIABLE = /\$\{([^}]*)\}/g;

/**
 * Resolves `${...}` policy variables, which IAM substitutes only under Version 2012-10-17: `${*}`, `${?}` and
 * `${$}` stand for those literal characters; `${key}` and `${key, 'default'}` read the request context.
 */
function resolveValue(
  raw: string,
  version: string | undefined,
  lookup: (key: string) => string[] | undefined,
): ResolvedValue {
  if (version !== POLICY_VERSION_WITH_VARIABLES || !raw.includes('${')) return { text: raw };
  let text = '';
  let likeSource = '';
  let missingVariable: string | undefined;
  const literal = (value: string) => {
    text += value;
    likeSource += escapeRegExp(value);
  };
  let last = 0;
  for (const match of raw.matchAll(VARIABLE)) {
    const before = raw.slice(last, match.index);
    text += before;
    likeSource += wildcardSource(before);
    last = match.index + match[0].length;
    const inner = match[1]!.trim();
    if (inner === '*' || inner === '?' || inner === '$') {
      literal(inner);
      continue;
    }
    const defaulted = /^(.*?)\s*,\s*'([^']*)'$/.exec(inner);
    const key = defaulted ? defaulted[1]! : inner;
    const found = lookup(key);
    if (found && found.length === 1) literal(found[0]!);
    else if (defaulted) literal(defaulted[2]!);
    else missingVariable ??= key;
  }
  const rest = raw.slice(last);
  text += rest;
  likeSource += wildcardSource(rest);
  return missingVariable === undefined ? { text, likeSource } : { text, likeSource, missingVariable };
}

/** Compiled Like patterns, by source: trust policies repeat the same few, and a local STS asks often. */
const LIKE_CACHE = new Map<string, RegExp>();
const LIKE_CACHE_LIMIT = 1_000;

function likeRegExp(value: ResolvedValue): RegExp {
  const source = value.likeSource ?? wildcardSource(value.text);
  let pattern = LIKE_CACHE.get(source);
  if (!pattern) {
    if (LIKE_CACHE.size >= LIKE_CACHE_LIMIT) LIKE_CACHE.clear();
    pattern = new RegExp(`^${source}$`, 's');
    LIKE_CACHE.set(source, pattern);
  }
  return pattern;
}

/** Does one request value satisfy one policy value under the positive form of the operator? */
function positiveMatch(base: string, requestValue: string, policyValue: ResolvedValue): boolean {
  if (policyValue.missingVariable !== undefined) return false;
  switch (base) {
    case 'StringEquals':
    case 'StringNotEquals':
      return requestValue === policyValue.text;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return requestValue.toLowerCase() === policyValue.text.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      return likeRegExp(policyValue).test(requestValue);
    default:
      return false;
  }
}

/** The outcome of one (operator, key) pair of a Condition block. */
export interface ConditionOutcome {
  holds: boolean;
  saw: string[] | undefined;
  unsupported?: boolean;
  missingVariable?: string;
}

function evaluateCondition(
  operator: ParsedOperator,
  key: string,
  rawValues: PolicyValue[],
  version: string | undefined,
  lookup: (key: string) => string[] | undefined,
): ConditionOutcome {
  const found = lookup(key);
  const present = found !== undefined && found.length > 0;
  const saw = present ? found : undefined;

  if (operator.base === 'Null') {
    // Null asks about presence only: "true" means the key must be absent, "false" that it must be present.
    const holds = rawValues.some((value) => String(value).toLowerCase() === (present ? 'false' : 'true'));
    return { holds, saw };
  }
  if (!STRING_OPERATORS.has(operator.base)) return { holds: false, saw, unsupported: true };

  const policyValues = rawValues.map((value) => resolveValue(String(value), version, lookup));
  const missingVariable = policyValues.find((value) => value.missingVariable)?.missingVariable;
  const negated = isNegated(operator.base);
  const withVariable = (outcome: ConditionOutcome): ConditionOutcome =>
    missingVariable === undefined ? outcome : { ...outcome, missingVariable };
  const matchesAny = (requestValue: string) =>
    policyValues.some((policyValue) => positiveMatch(operator.base, requestValue, policyValue));

  if (!present) {
    // IfExists passes on a missing key; ForAllValues holds vacuously over an empty set, ForAnyValue cannot;
    // otherwise a missing key fails every operator except the negated ones, which hold.
    if (operator.ifExists) return { holds: true, saw };
    if (operator.set === 'ForAllValues') return { holds: true, saw };
    if (operator.set === 'ForAnyValue') return { holds: false, saw };
    return withVariable({ holds: negated, saw });
  }
  const requestValues = found;
  let holds: boolean;
  if (operator.set === 'ForAllValues') {
    holds = requestValues.every((value) => (negated ? !matchesAny(value) : matchesAny(value)));
  } else if (operator.set === 'ForAnyValue') {
    holds = requestValues.some((value) => (negated ? !matchesAny(value) : matchesAny(value)));
  } else {
    // A plain operator on a multivalued key: the positive forms hold when any value matches, the negated
    // forms when none does (the NOR over policy values applied to every request value).
    const anyMatch = requestValues.some(matchesAny);
    holds = negated ? !anyMatch : anyMatch;
  }
  return withVariable({ holds, saw });
}

// --- Statements ------------------------------------------------------------------------------------------------

interface StatementOutcome {
  ref: StatementRef;
  applies: boolean;
  failures: Failure[];
  /** How far the statement got: principal (4) and action (2) matched, fewer condition failures rank higher. */
  closeness: number;
}

function evaluateStatement(
  statement: PolicyStatement,
  index: number,
  version: string | undefined,
  request: TrustRequest,
  lookup: (key: string) => string[] | undefined,
  warnings: string[],
): StatementOutcome {
  const ref = refOf(statement, index);
  const action = request.action ?? ASSUME_ROLE_WITH_WEB_IDENTITY;
  const failures: Failure[] = [];
  const fail = (failure: Omit<Failure, 'statement'>) => failures.push({ statement: ref, ...failure });
  let closeness = 0;

  if (statement.Resource !== undefined || statement.NotResource !== undefined)
    warnings.push(`${describeStatement(ref)} has a Resource, which IAM rejects in a trust policy`);

  if (statement.Principal !== undefined) {
    if (principalMatches(statement.Principal, request.principalFederated)) closeness += 4;
    else {
      const { message, fix } = principalFix(statement.Principal, request.principalFederated);
      fail({
        element: 'Principal',
        saw: [request.principalFederated],
        wants: statement.Principal === '*' ? ['*'] : Object.values(statement.Principal).flatMap(asList),
        message,
        ...(fix === undefined ? {} : { fix }),
      });
    }
  } else if (statement.NotPrincipal !== undefined) {
    if (!principalMatches(statement.NotPrincipal, request.principalFederated)) closeness += 4;
    else
      fail({
        element: 'NotPrincipal',
        saw: [request.principalFederated],
        wants: [],
        message: `NotPrincipal excludes ${request.principalFederated}`,
      });
  } else {
    fail({
      element: 'Statement',
      saw: undefined,
      wants: [],
      message: 'the statement has no Principal, which a trust policy needs',
      fix: `add "Principal": {"Federated": "${request.principalFederated}"}`,
    });
  }

  if (statement.Action !== undefined) {
    const actions = asList(statement.Action);
    if (actionMatches(actions, action)) closeness += 2;
    else
      fail({
        element: 'Action',
        saw: [action],
        wants: actions,
        message: `the statement allows ${actions.join(', ')}, not ${action}`,
        fix: `add "${action}" to Action`,
      });
  } else if (statement.NotAction !== undefined) {
    const actions = asList(statement.NotAction);
    if (!actionMatches(actions, action)) closeness += 2;
    else
      fail({
        element: 'NotAction',
        saw: [action],
        wants: actions,
        message: `NotAction excludes ${action}`,
      });
  } else {
    fail({
      element: 'Statement',
      saw: undefined,
      wants: [],
      message: 'the statement has neither Action nor NotAction',
      fix: `add "Action": "${action}"`,
    });
  }

  let conditionFailures = 0;
  for (const [written, entries] of Object.entries(statement.Condition ?? {})) {
    const operator = parseOperator(written);
    for (const [key, values] of Object.entries(entries)) {
      const wants = asList(values).map(String);
      const outcome = evaluateCondition(operator, key, asList(values), version, lookup);
      if (outcome.unsupported && UNEVALUATED_OPERATORS.has(operator.base))
        warnings.push(
          `${describeStatement(ref)}: kirsa does not evaluate ${written}; the verdict may differ from STS`,
        );
      if (outcome.holds) continue;
      conditionFailures += 1;
      const { message, fix } = explainCondition(operator, key, wants, outcome, request);
      fail({
        element: 'Condition',
        operator: written,
        key,
        saw: outcome.saw,
        wants,
        message,
        ...(fix === undefined ? {} : { fix }),
      });
    }
  }
  closeness -= conditionFailures / 100;
  return { ref, applies: failures.length === 0, failures, closeness };
}

// --- The decision ---------------------------------------------------------------------------------------------

function lookupIn(context: TrustRequest['context']): (key: string) => string[] | undefined {
  // Condition key names are case-insensitive in IAM; their values are not.
  const byLowerKey = new Map<string, string[]>();
  for (const [key, value] of Object.entries(context)) {
    if (value === undefined) continue;
    byLowerKey.set(key.toLowerCase(), asList(value as ContextValue));
  }
  return (key) => byLowerKey.get(key.toLowerCase());
}

/** Evaluates a trust policy for one request as STS does; see the file comment for the rules. */
export function evaluateTrustPolicy(policy: PolicyDocument | string, request: TrustRequest): TrustEvaluation {
  const document = typeof policy === 'string' ? parsePolicyDocument(policy) : policy;
  const action = request.action ?? ASSUME_ROLE_WITH_WEB_IDENTITY;
  const lookup = lookupIn(request.context);
  const warnings: string[] = [];
  const outcomes = document.Statement.map((statement, index) =>
    evaluateStatement(statement, index, document.Version, request, lookup, warnings),
  );

  const deny = outcomes.find((outcome) => outcome.ref.effect === 'Deny' && outcome.applies);
  if (deny) {
    return {
      decision: 'deny',
      deniedBy: 'explicit-deny',
      matchedStatement: deny.ref,
      reasons: [
        `denied: ${describeStatement(deny.ref)} is a Deny that matches this request, and an explicit Deny overrides every Allow`,
      ],
      failures: [],
      warnings,
    };
  }
  const allow = outcomes.find((outcome) => outcome.ref.effect === 'Allow' && outcome.applies);
  if (allow) {
    return {
      decision: 'allow',
      matchedStatement: allow.ref,
      reasons: [`allowed by ${describeStatement(allow.ref)}`],
      failures: [],
      warnings,
    };
  }

  const allows = outcomes
    .filter((outcome) => outcome.ref.effect === 'Allow')
    .sort((left, right) => right.closeness - left.closeness);
  const reasons: string[] = [];
  if (allows.length === 0) {
    reasons.push(`denied: the policy has no Allow statement, so ${action} is denied by default`);
  } else {
    reasons.push(`denied: no Allow statement matches ${action} for this token (default deny)`);
    const closest = allows[0]!;
    for (const failure of closest.failures) {
      reasons.push(`${describeStatement(failure.statement)}: ${failure.message}`);
    }
  }
  return {
    decision: 'deny',
    deniedBy: 'no-allow',
    reasons,
    failures: allows.flatMap((outcome) => outcome.failures),
    warnings,
  };
}

// --- Requests from tokens ---------------------------------------------------------------------------------------

/** The claims of a web identity token that STS turns into condition keys. */
export interface WebIdentityClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  azp?: string;
  amr?: string | string[];
  [claim: string]: unknown;
}

/**
 * The condition keys STS puts in the request context for a token from a generic OIDC provider: `:sub`,
 * `:aud` (the `azp` claim when present, else `aud`) and `:amr`. Arbitrary claims are never keys.
 */
export function contextFromClaims(
  issuerHostPath: string,
  claims: WebIdentityClaims,
): Record<string, ContextValue> {
  const context: Record<string, ContextValue> = {};
  if (typeof claims.sub === 'string') context[`${issuerHostPath}:sub`] = claims.sub;
  const audience = typeof claims.azp === 'string' ? claims.azp : claims.aud;
  if (typeof audience === 'string') context[`${issuerHostPath}:aud`] = audience;
  else if (Array.isArray(audience) && audience.length > 0) context[`${issuerHostPath}:aud`] = audience;
  if (typeof claims.amr === 'string' || Array.isArray(claims.amr))
    context[`${issuerHostPath}:amr`] = claims.amr;
  return context;
}
