// How STS decides `AssumeRoleWithWebIdentity` against a role's trust policy, and why it said no. Pure: the
// caller hands in the policy document and the request (the provider the token came from, the action, the
// condition keys STS derives from the token), and gets back the verdict, the statement that decided it and,
// for a denial, each failed element with the value seen, the value wanted and a fix. The CLI, the doctor and
// a local STS all reuse this.
//
// The rules implemented are IAM's documented evaluation logic: an explicit Deny wins, otherwise any matching
// Allow grants, otherwise the default is deny. Within a statement Principal, Action and every condition must
// hold; condition operators AND together, keys under one operator AND together, values under one key OR
// together (NOR for the negated operators).

import {
  ASSUME_ROLE_WITH_WEB_IDENTITY,
  POLICY_VERSION_WITH_VARIABLES,
  SERVICE_ACCOUNT_SUBJECT_PREFIX,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { parseProviderArn } from './arn.ts';

// --- The policy grammar (as IAM's JSON names it) ------------------------------------------------------------

export type PolicyValue = string | number | boolean;
export type PrincipalValue = '*' | Record<string, string | string[]>;
export type ConditionBlock = Record<string, Record<string, PolicyValue | PolicyValue[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: PrincipalValue;
  NotPrincipal?: PrincipalValue;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement[];
}

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

// --- Parsing --------------------------------------------------------------------------------------------------

function invalid(message: string): KirsaError {
  return new KirsaError('INPUT_INVALID', `trust policy: ${message}`, {
    hint: 'a trust policy is {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {...}, "Action": ..., "Condition": {...}}]}',
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkStringList(value: unknown, where: string): void {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item) => typeof item === 'string'))
    throw invalid(`${where} must be a string or a list of strings`);
}

/**
 * Reads a policy from its JSON text (also URL-encoded, as IAM's GetRole returns it) or from an object, and
 * checks the shape the evaluator relies on. A single Statement object becomes a list of one.
 */
export function parsePolicyDocument(input: unknown): PolicyDocument {
  let document = input;
  if (typeof input === 'string') {
    let text = input.trim();
    if (text.startsWith('%7B') || text.startsWith('%7b')) text = decodeURIComponent(text);
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw invalid(`not JSON: ${(error as Error).message}`);
    }
  }
  if (!isRecord(document)) throw invalid('the document must be a JSON object');
  const rawStatements = document.Statement;
  if (rawStatements === undefined) throw invalid('no Statement');
  const statements = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  statements.forEach((statement, index) => {
    const where = `Statement[${index}]`;
    if (!isRecord(statement)) throw invalid(`${where} must be an object`);
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny')
      throw invalid(`${where}.Effect must be "Allow" or "Deny", not ${JSON.stringify(statement.Effect)}`);
    for (const field of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
      if (statement[field] !== undefined) checkStringList(statement[field], `${where}.${field}`);
    }
    for (const field of ['Principal', 'NotPrincipal'] as const) {
      const principal = statement[field];
      if (principal === undefined || principal === '*') continue;
      if (!isRecord(principal)) throw invalid(`${where}.${field} must be "*" or an object`);
      for (const [type, values] of Object.entries(principal))
        checkStringList(values, `${where}.${field}.${type}`);
    }
    if (statement.Condition !== undefined) {
      if (!isRecord(statement.Condition)) throw invalid(`${where}.Condition must be an object`);
      for (const [operator, entries] of Object.entries(statement.Condition)) {
        if (!isRecord(entries)) throw invalid(`${where}.Condition.${operator} must map keys to values`);
        for (const [key, values] of Object.entries(entries)) {
          const list = Array.isArray(values) ? values : [values];
          if (!list.every((item) => ['string', 'number', 'boolean'].includes(typeof item)))
            throw invalid(`${where}.Condition.${operator}.${key} must be a string or a list of strings`);
        }
      }
    }
  });
  return { ...(document as object), Statement: statements } as PolicyDocument;
}

// --- Small helpers ----------------------------------------------------------------------------------------------

function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value as T];
}

function refOf(statement: PolicyStatement, index: number): StatementRef {
  return statement.Sid === undefined
    ? { index, effect: statement.Effect }
    : { index, sid: statement.Sid, effect: statement.Effect };
}

/** "Statement 1 (Sid "x", Allow)" for messages; statements are numbered from 1 for people. */
export function describeStatement(ref: StatementRef): string {
  return `statement ${ref.index + 1}${ref.sid ? ` (Sid "${ref.sid}")` : ''}`;
}

/** IAM's `*` (any run, possibly empty) and `?` (exactly one character) wildcards as an anchored RegExp. */
export function wildcardPattern(pattern: string, flags = ''): RegExp {
  return new RegExp(`^${wildcardSource(pattern)}$`, `s${flags}`);
}

function hasWildcard(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

/** `system:serviceaccount:NS:SA` split into its parts, or undefined for any other subject. */
export function parseServiceAccountSubject(subject: string): { namespace: string; name: string } | undefined {
  if (!subject.startsWith(SERVICE_ACCOUNT_SUBJECT_PREFIX)) return undefined;
  const rest = subject.slice(SERVICE_ACCOUNT_SUBJECT_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { namespace: rest.slice(0, colon), name: rest.slice(colon + 1) };
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

function principalFix(principal: PrincipalValue, federated: string): { message: string; fix?: string } {
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

const STRING_OPERATORS = new Set<string>([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
]);

/** Operators IAM accepts that kirsa does not evaluate: no key STS sets for a web identity uses them. */
const UNEVALUATED_OPERATORS = new Set<string>([
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
]);

interface ParsedOperator {
  written: string;
  base: string;
  set: 'ForAnyValue' | 'ForAllValues' | undefined;
  ifExists: boolean;
}

function parseOperator(written: string): ParsedOperator {
  let rest = written;
  let set: ParsedOperator['set'];
  for (const prefix of ['ForAnyValue', 'ForAllValues'] as const) {
    if (rest.startsWith(`${prefix}:`)) {
      set = prefix;
      rest = rest.slice(prefix.length + 1);
    }
  }
  const ifExists = rest.endsWith('IfExists') && rest !== 'IfExists';
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  return { written, base: rest, set, ifExists };
}

function isNegated(base: string): boolean {
  return base.includes('Not');
}

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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Literal text with IAM's wildcards made real: `*` any run, `?` one character. */
function wildcardSource(text: string): string {
  return text
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : escapeRegExp(part)))
    .join('');
}

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
interface ConditionOutcome {
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

function explainCondition(
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
