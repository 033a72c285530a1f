// IAM's policy language as data: the document's grammar (as IAM's JSON names it), reading and checking a
// policy text, and the pieces of the language both the evaluation and its explanation read: one-or-many
// values, `*`/`?` wildcards, and condition operator names with their ForAnyValue/ForAllValues/IfExists parts.
// Pure.

import { KirsaError } from '../../errors.ts';

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

/**
 * A trust policy says who may assume the role, so its statements name a Principal; a permissions policy
 * (what the role may do) names none. True when no statement names one: the document is not a trust policy.
 */
export function namesNoPrincipal(policy: PolicyDocument): boolean {
  return policy.Statement.every(
    (statement) => statement.Principal === undefined && statement.NotPrincipal === undefined,
  );
}

// --- Parsing --------------------------------------------------------------------------------------------------

/** Which policy a text is meant to be: the refusal's example differs (a trust policy names a Principal). */
export type PolicyKind = 'trust' | 'permissions';

const EXAMPLES: Record<PolicyKind, string> = {
  trust:
    'a trust policy is {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {...}, "Action": ..., "Condition": {...}}]}',
  permissions:
    'write {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ..., "Resource": ...}]}',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a policy from its JSON text (also URL-encoded, as IAM's GetRole returns it) or from an object, and
 * checks the shape the evaluator relies on. A single Statement object becomes a list of one. Refusals start
 * with `name` (by default "trust policy") and give an example of the kind asked for.
 */
export function parsePolicyDocument(
  input: unknown,
  { kind = 'trust', name = `${kind} policy` }: { kind?: PolicyKind; name?: string } = {},
): PolicyDocument {
  const invalid = (message: string) =>
    new KirsaError('POLICY_INVALID', `${name}: ${message}`, { hint: EXAMPLES[kind] });
  const checkStringList = (value: unknown, where: string) => {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((item) => typeof item === 'string'))
      throw invalid(`${where} must be a string or a list of strings`);
  };
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

/** Canonical JSON of a policy text (keys sorted), so formatting differences do not count as a change. */
export function canonicalPolicyJson(text: string): string {
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .sort(([left], [right]) => left.localeCompare(right))
          .map(([key, child]) => [key, sortKeys(child)]),
      );
    return value;
  };
  return JSON.stringify(sortKeys(JSON.parse(text)));
}

// --- Values and wildcards ---------------------------------------------------------------------------------------

/** IAM writes one value or a list of them: always a list. */
export function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value as T];
}

/** IAM's `*` (any run, possibly empty) and `?` (exactly one character) wildcards as an anchored RegExp. */
export function wildcardPattern(pattern: string, flags = ''): RegExp {
  return new RegExp(`^${wildcardSource(pattern)}$`, `s${flags}`);
}

export function hasWildcard(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Literal text with IAM's wildcards made real: `*` any run, `?` one character. */
export function wildcardSource(text: string): string {
  return text
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : escapeRegExp(part)))
    .join('');
}

// --- Condition operators ----------------------------------------------------------------------------------------

export const STRING_OPERATORS = new Set<string>([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
]);

/** Operators IAM accepts that kirsa does not evaluate: no key STS sets for a web identity uses them. */
export const UNEVALUATED_OPERATORS = new Set<string>([
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

export interface ParsedOperator {
  written: string;
  base: string;
  set: 'ForAnyValue' | 'ForAllValues' | undefined;
  ifExists: boolean;
}

export function parseOperator(written: string): ParsedOperator {
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

export function isNegated(base: string): boolean {
  return base.includes('Not');
}
