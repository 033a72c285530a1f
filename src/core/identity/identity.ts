// Which AWS identity a pod's service account resolves to, from the three places the reference reads:
// the service account's annotations, the identity mapping (the reference's ConfigMap JSON) and the
// container-credentials (EKS Pod Identity) list. Pure: the shells fetch the inputs, this decides.

import {
  ANNOTATION,
  CONTAINER_CREDENTIALS_DEFAULTS,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  MAX_TOKEN_EXPIRATION_SECONDS,
  MIN_TOKEN_EXPIRATION_SECONDS,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { composeRoleArn, isRegionName, type RoleAccount } from '../iam/arn.ts';
import { isWildcardRef, type ServiceAccountRef } from '../iam/service-account-ref.ts';
import { compileGlob, globMatches, type NamespaceGlob } from './glob.ts';

export interface WebIdentity {
  mode: 'web-identity';
  roleArn: string;
  audience: string;
  regionalSts: boolean;
  tokenExpirationSeconds: number;
  /** Where the identity came from, for messages: "service account annotation", "mapping entry team-*\/app". */
  source: string;
  /** What the source said that kirsa had to correct or ignore, for the admission's warnings. */
  warnings?: string[];
  /** The region the account's annotation or mapping entry names (a kirsa extension). */
  region?: string;
  /** The account's role-session-name annotation (a kirsa extension); undefined: the flag decides. */
  sessionName?: boolean;
}

export interface ContainerCredentialsSettings {
  fullUri: string;
  audience: string;
  mountPath: string;
  volumeName: string;
  tokenFileName: string;
}

export interface ContainerCredentialsIdentity extends ContainerCredentialsSettings {
  mode: 'container-credentials';
  regionalSts: boolean;
  tokenExpirationSeconds: number;
  source: string;
  warnings?: string[];
  region?: string;
}

export type Identity = WebIdentity | ContainerCredentialsIdentity;

/** The webhook-wide defaults (flags) that annotations and mapping entries override. */
export interface IdentityDefaults {
  audience: string;
  regionalSts: boolean;
  tokenExpirationSeconds: number;
  /**
   * --compose-role-arn: the account and partition a bare role name in a service account's annotation is
   * completed with. The mapping's RoleARN is never completed, as in the reference.
   */
  roleAccount?: RoleAccount;
}

export const BUILTIN_IDENTITY_DEFAULTS: IdentityDefaults = {
  audience: DEFAULT_TOKEN_AUDIENCE,
  regionalSts: false,
  tokenExpirationSeconds: DEFAULT_TOKEN_EXPIRATION_SECONDS,
};

export const BUILTIN_CONTAINER_CREDENTIALS: ContainerCredentialsSettings = {
  ...CONTAINER_CREDENTIALS_DEFAULTS,
};

// --- Value parsing, with the reference's rules -------------------------------------------------------------

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool, which the reference uses for annotations and flags; undefined when invalid. */
export function parseGoBool(text: string): boolean | undefined {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  return undefined;
}

const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;

/** A base-10 int64 as Go's ParseInt reads it ("3600s" and out-of-range values are invalid); undefined when invalid. */
export function parseTokenExpiration(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value > INT64_MAX || value < INT64_MIN) return undefined;
  return Number(value);
}

/**
 * kube-apiserver accepts projected tokens from 600 s to 2^32 s: every lifetime is brought into that range, so
 * no pod is refused for it and no lifetime is a number an int64 cannot hold.
 */
export function clampTokenExpiration(seconds: number): number {
  return Math.min(MAX_TOKEN_EXPIRATION_SECONDS, Math.max(MIN_TOKEN_EXPIRATION_SECONDS, seconds));
}

/** The warning for a lifetime the ceiling lowered, or undefined when it fits. */
export function tokenExpirationWarning(seconds: number, from: string): string | undefined {
  if (seconds <= MAX_TOKEN_EXPIRATION_SECONDS) return undefined;
  return `kirsa: the token lifetime ${from} is longer than the API server accepts (2^32 s); ${MAX_TOKEN_EXPIRATION_SECONDS} s was used instead. Set a lifetime of at most ${MAX_TOKEN_EXPIRATION_SECONDS} seconds.`;
}

// --- Service accounts ------------------------------------------------------------------------------------------

/**
 * What kirsa keeps of a ServiceAccount: name, namespace and only the annotations under the prefix. The watch
 * stores this instead of the whole object, so 50,000 accounts stay small.
 */
export interface ServiceAccountView {
  namespace: string;
  name: string;
  annotations: Readonly<Record<string, string>>;
}

export function trimServiceAccount(
  serviceAccount: {
    metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> | null };
  },
  annotationPrefix: string,
): ServiceAccountView {
  const metadata = serviceAccount.metadata ?? {};
  const annotations: Record<string, string> = {};
  const prefix = `${annotationPrefix}/`;
  for (const [key, value] of Object.entries(metadata.annotations ?? {})) {
    if (key.startsWith(prefix)) annotations[key] = value;
  }
  return { namespace: metadata.namespace ?? '', name: metadata.name ?? '', annotations };
}

interface CommonSettings {
  regionalSts: boolean;
  tokenExpirationSeconds: number;
  warnings: string[];
  region?: string;
}

/** The region a source names, or undefined (with a warning) when it is not a region's name. */
function checkedRegion(value: string | undefined, from: string, warnings: string[]): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (isRegionName(value.trim())) return value.trim();
  warnings.push(
    `kirsa: ${from} "${value}" is not an AWS region (like us-east-1); it was ignored. Correct it to the region's name.`,
  );
  return undefined;
}

function commonSettingsFromAnnotations(
  annotations: Readonly<Record<string, string>>,
  annotationPrefix: string,
  defaults: IdentityDefaults,
): CommonSettings {
  const stsText = annotations[`${annotationPrefix}/${ANNOTATION.stsRegionalEndpoints}`];
  const expirationText = annotations[`${annotationPrefix}/${ANNOTATION.tokenExpiration}`];
  const expiration = expirationText === undefined ? undefined : parseTokenExpiration(expirationText);
  const warnings: string[] = [];
  const tooLong =
    expiration === undefined
      ? undefined
      : tokenExpirationWarning(
          expiration,
          `"${expirationText}" (annotation ${annotationPrefix}/${ANNOTATION.tokenExpiration})`,
        );
  if (tooLong !== undefined) warnings.push(tooLong);
  const region = checkedRegion(
    annotations[`${annotationPrefix}/${ANNOTATION.region}`],
    `annotation ${annotationPrefix}/${ANNOTATION.region}`,
    warnings,
  );
  return {
    regionalSts: (stsText === undefined ? undefined : parseGoBool(stsText)) ?? defaults.regionalSts,
    tokenExpirationSeconds: clampTokenExpiration(expiration ?? defaults.tokenExpirationSeconds),
    warnings,
    ...(region !== undefined ? { region } : {}),
  };
}

/** The web identity a service account's annotations declare, or undefined when it has no role annotation. */
export function identityFromServiceAccount(
  serviceAccount: ServiceAccountView,
  annotationPrefix: string,
  defaults: IdentityDefaults,
): WebIdentity | undefined {
  const roleArn = serviceAccount.annotations[`${annotationPrefix}/${ANNOTATION.roleArn}`];
  if (roleArn === undefined || roleArn.trim() === '') return undefined;
  const audience = serviceAccount.annotations[`${annotationPrefix}/${ANNOTATION.audience}`];
  const sessionText = serviceAccount.annotations[`${annotationPrefix}/${ANNOTATION.sessionName}`];
  const sessionName = sessionText === undefined ? undefined : parseGoBool(sessionText);
  const { warnings, ...common } = commonSettingsFromAnnotations(
    serviceAccount.annotations,
    annotationPrefix,
    defaults,
  );
  return {
    mode: 'web-identity',
    roleArn: defaults.roleAccount ? composeRoleArn(roleArn.trim(), defaults.roleAccount) : roleArn.trim(),
    audience: audience === undefined || audience === '' ? defaults.audience : audience,
    ...common,
    source: `annotation ${annotationPrefix}/${ANNOTATION.roleArn} of service account ${serviceAccount.namespace}/${serviceAccount.name}`,
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(sessionName !== undefined ? { sessionName } : {}),
  };
}

/**
 * The annotations that make identityFromServiceAccount give this role: the role ARN, and the audience when
 * the role's trust asks for exactly one that is not the webhook's default (with several, the default one
 * the webhook projects must be among them, so nothing is written).
 */
export function webIdentityAnnotations(
  roleArn: string,
  audiences: readonly string[],
  annotationPrefix: string,
): Record<string, string> {
  const annotations: Record<string, string> = { [`${annotationPrefix}/${ANNOTATION.roleArn}`]: roleArn };
  if (audiences.length === 1 && audiences[0] !== DEFAULT_TOKEN_AUDIENCE)
    annotations[`${annotationPrefix}/${ANNOTATION.audience}`] = audiences[0]!;
  return annotations;
}

/**
 * The ServiceAccounts to apply beside a role written as IaC: each account named (a wildcard names no
 * object; its entry goes to the mapping), carrying the web identity annotations.
 */
export function annotatedServiceAccounts(
  refs: readonly ServiceAccountRef[],
  annotations: Record<string, string>,
): object[] {
  return refs
    .filter((ref) => !isWildcardRef(ref))
    .map((ref) => ({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: ref.name, namespace: ref.namespace, annotations },
    }));
}

// --- The identity mapping (the reference's ConfigMap JSON) -----------------------------------------------------

export interface MappingEntry {
  roleArn: string;
  /** kirsa's `Region` field. */
  region?: string;
  audience?: string;
  regionalSts?: boolean;
  /** 0 or absent means "the default", as in the reference. */
  tokenExpirationSeconds?: number;
}

/**
 * How literal a wildcard key is, the precedence after an exact key: the namespace exact and the account a
 * glob (`team-a/ci-*`), then the namespace a glob and the account exact (`team-*\/app`, `*\/app`), then both
 * globs (`team-*\/*`). The reference knows only the second (a bare `*` namespace).
 */
export const PATTERN_TIERS = ['account-glob', 'namespace-glob', 'both-globs'] as const;
export type PatternTier = (typeof PATTERN_TIERS)[number];

export interface PatternEntry {
  key: string;
  namespacePattern: NamespaceGlob;
  accountPattern: NamespaceGlob;
  tier: PatternTier;
  /** Literal characters in the key's two parts: within a tier, the more, the more specific. */
  specificity: number;
  entry: MappingEntry;
}

/**
 * The order patterns are tried in (the first that matches wins): by tier, then most literal characters
 * first, then by key, so the same mapping always gives the same answer whatever order it was written in.
 */
export function comparePatterns(a: PatternEntry, b: PatternEntry): number {
  return (
    PATTERN_TIERS.indexOf(a.tier) - PATTERN_TIERS.indexOf(b.tier) ||
    b.specificity - a.specificity ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

export interface IdentityMapping {
  exact: ReadonlyMap<string, MappingEntry>;
  /** Keys with a `*` in either part, in the order they are tried (comparePatterns). */
  patterns: readonly PatternEntry[];
  size: number;
}

export const EMPTY_MAPPING: IdentityMapping = { exact: new Map(), patterns: [], size: 0 };

export interface ParsedMapping {
  mapping: IdentityMapping;
  /** One line per entry that was skipped, saying why; the rest of the mapping still applies. */
  problems: string[];
}

/** Reads a field by its Go struct name, case-insensitively, as Go's encoding/json does for untagged fields. */
function goField(record: Record<string, unknown>, name: string): unknown {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function parseMappingEntry(key: string, raw: unknown): MappingEntry | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `entry "${key}" is not an object`;
  const record = raw as Record<string, unknown>;
  const roleArn = goField(record, 'RoleARN');
  const audience = goField(record, 'Audience');
  const regionalSts = goField(record, 'UseRegionalSTS');
  const expiration = goField(record, 'TokenExpiration');
  const region = goField(record, 'Region');
  if (typeof roleArn !== 'string' || roleArn.trim() === '') return `entry "${key}" has no RoleARN`;
  if (audience !== undefined && typeof audience !== 'string')
    return `entry "${key}" has an Audience that is not a string`;
  if (regionalSts !== undefined && typeof regionalSts !== 'boolean')
    return `entry "${key}" has a UseRegionalSTS that is not true or false`;
  if (expiration !== undefined && !(typeof expiration === 'number' && Number.isInteger(expiration)))
    return `entry "${key}" has a TokenExpiration that is not a whole number of seconds`;
  if (region !== undefined && !(typeof region === 'string' && (region === '' || isRegionName(region))))
    return `entry "${key}" has a Region that is not an AWS region (like us-east-1)`;
  const entry: MappingEntry = { roleArn: roleArn.trim() };
  if (typeof region === 'string' && region !== '') entry.region = region;
  if (audience !== undefined && audience !== '') entry.audience = audience;
  if (regionalSts !== undefined) entry.regionalSts = regionalSts;
  if (expiration !== undefined && expiration !== 0) entry.tokenExpirationSeconds = expiration;
  return entry;
}

/**
 * Checks one `"ns/sa": {...}` entry and files it; returns why it was skipped instead, if it was. The one rule
 * for an entry, whoever reads the text (mapping-reader.ts).
 */
export function addMappingEntry(
  key: string,
  raw: unknown,
  exact: Map<string, MappingEntry>,
  patterns: Map<string, PatternEntry>,
): string | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) !== -1) {
    return `key "${key}" is not "namespace/serviceaccount"`;
  }
  const namespace = key.slice(0, slash);
  const serviceAccount = key.slice(slash + 1);
  const entry = parseMappingEntry(key, raw);
  if (typeof entry === 'string') return entry;
  const namespaceGlob = namespace.includes('*');
  const accountGlob = serviceAccount.includes('*');
  if (!namespaceGlob && !accountGlob) {
    exact.set(key, entry);
    return undefined;
  }
  patterns.set(key, {
    key,
    namespacePattern: compileGlob(namespace),
    accountPattern: compileGlob(serviceAccount),
    tier: namespaceGlob && accountGlob ? 'both-globs' : accountGlob ? 'account-glob' : 'namespace-glob',
    specificity: key.length - 1 - (key.match(/\*/g)?.length ?? 0),
    entry,
  });
  return undefined;
}

/** The mapping entry for ns/sa: an exact key first, then the first pattern that matches (comparePatterns). */
export function lookupMapping(
  mapping: IdentityMapping,
  namespace: string,
  serviceAccount: string,
): { key: string; entry: MappingEntry } | undefined {
  const key = `${namespace}/${serviceAccount}`;
  const exact = mapping.exact.get(key);
  if (exact !== undefined) return { key, entry: exact };
  for (const pattern of mapping.patterns) {
    if (
      globMatches(pattern.accountPattern, serviceAccount) &&
      globMatches(pattern.namespacePattern, namespace)
    ) {
      return { key: pattern.key, entry: pattern.entry };
    }
  }
  return undefined;
}

/** A mapping entry with the same defaults and floor as annotations (the reference applied neither). */
export function identityFromMappingEntry(
  key: string,
  entry: MappingEntry,
  defaults: IdentityDefaults,
): WebIdentity {
  const source = `identity mapping entry "${key}"`;
  const tooLong =
    entry.tokenExpirationSeconds === undefined
      ? undefined
      : tokenExpirationWarning(entry.tokenExpirationSeconds, `${entry.tokenExpirationSeconds} (${source})`);
  return {
    mode: 'web-identity',
    roleArn: entry.roleArn,
    audience: entry.audience ?? defaults.audience,
    regionalSts: entry.regionalSts ?? defaults.regionalSts,
    tokenExpirationSeconds: clampTokenExpiration(
      entry.tokenExpirationSeconds ?? defaults.tokenExpirationSeconds,
    ),
    source,
    ...(tooLong !== undefined ? { warnings: [tooLong] } : {}),
    ...(entry.region !== undefined ? { region: entry.region } : {}),
  };
}

// --- Writing a mapping entry (`role create` with a wildcard service account) ----------------------------------

/**
 * The mapping entry that makes the webhook give this role, with the same audience rule as
 * webIdentityAnnotations: an Audience only when the trust asks for exactly one that is not the default.
 */
export function mappingEntryFor(roleArn: string, audiences: readonly string[]): Record<string, string> {
  const entry: Record<string, string> = { RoleARN: roleArn };
  if (audiences.length === 1 && audiences[0] !== DEFAULT_TOKEN_AUDIENCE) entry.Audience = audiences[0]!;
  return entry;
}

export type MappingWrite =
  | { status: 'unchanged'; text: string }
  | { status: 'created' | 'updated'; text: string };

/**
 * The mapping text with `key` set to `entry`, every other entry kept as it was. An entry of the key that
 * already names another role is refused unless `overwrite`, as role create refuses to re-point a
 * ServiceAccount. Pure: the caller reads and writes the ConfigMap or file.
 */
export function setMappingEntry(
  text: string | undefined,
  key: string,
  entry: Record<string, string>,
  options: { overwrite: boolean; where: string },
): MappingWrite {
  let document: Record<string, unknown> = {};
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new KirsaError(
        'MAPPING_INVALID',
        `${options.where} is not valid JSON: ${(error as Error).message}`,
        {
          hint: 'nothing was changed; fix the mapping by hand, or write to another one',
        },
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new KirsaError(
        'MAPPING_INVALID',
        `${options.where} is not a JSON object keyed by "namespace/serviceaccount"`,
        {
          hint: 'nothing was changed; fix the mapping by hand, or write to another one',
        },
      );
    document = parsed as Record<string, unknown>;
  }
  const current = document[key];
  const currentRole =
    current !== null && typeof current === 'object' && !Array.isArray(current)
      ? goField(current as Record<string, unknown>, 'RoleARN')
      : undefined;
  if (
    typeof currentRole === 'string' &&
    currentRole.trim() !== '' &&
    currentRole.trim() !== entry.RoleARN &&
    !options.overwrite
  )
    throw new KirsaError(
      'MAPPING_ENTRY_TAKEN',
      `${options.where}: entry "${key}" already names role ${currentRole}`,
      {
        hint: 'nothing was changed; pass --overwrite to point it at this role, or use --skip-phases service-account',
      },
    );
  // The entry's other fields (a lifetime, a Region someone set) are kept, as annotate keeps other annotations.
  const merged =
    current !== null && typeof current === 'object' && !Array.isArray(current)
      ? { ...(current as Record<string, unknown>), ...entry }
      : entry;
  if (JSON.stringify(current) === JSON.stringify(merged)) return { status: 'unchanged', text: text ?? '' };
  const next = { ...document, [key]: merged };
  return {
    status: current === undefined ? 'created' : 'updated',
    text: `${JSON.stringify(next, null, 2)}\n`,
  };
}

/**
 * setMappingEntry for several keys with the same entry (a role create naming several wildcard accounts):
 * "created" when any key was new, else "updated" when any changed, else "unchanged".
 */
export function setMappingEntries(
  text: string | undefined,
  keys: readonly string[],
  entry: Record<string, string>,
  options: { overwrite: boolean; where: string },
): MappingWrite {
  let current = text;
  let status: MappingWrite['status'] = 'unchanged';
  for (const key of keys) {
    const written = setMappingEntry(current, key, entry, options);
    current = written.text;
    if (written.status !== 'unchanged') status = status === 'created' ? 'created' : written.status;
  }
  return { status, text: current ?? '' };
}

// --- Container credentials list -----------------------------------------------------------------------------

/** Parses `{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}` into a set of "ns/sa". Throws on bad JSON. */
export function parseContainerCredentialsList(text: string): Set<string> {
  if (text.trim() === '') return new Set();
  const document = JSON.parse(text) as unknown;
  const identities = (document as { identities?: unknown } | null)?.identities;
  if (!Array.isArray(identities))
    throw new SyntaxError('expected {"identities": [{"namespace": ..., "serviceAccount": ...}]}');
  const keys = new Set<string>();
  for (const item of identities) {
    const { namespace, serviceAccount } = (item ?? {}) as { namespace?: unknown; serviceAccount?: unknown };
    if (typeof namespace === 'string' && typeof serviceAccount === 'string')
      keys.add(`${namespace}/${serviceAccount}`);
  }
  return keys;
}

// --- Resolution ---------------------------------------------------------------------------------------------------

export interface IdentitySources {
  namespace: string;
  serviceAccountName: string;
  /** The service account as the cache knows it, or undefined when it is not known (yet). */
  serviceAccount: ServiceAccountView | undefined;
  mapping: IdentityMapping;
  containerCredentials:
    | { identities: ReadonlySet<string>; settings: ContainerCredentialsSettings }
    | undefined;
  annotationPrefix: string;
  defaults: IdentityDefaults;
}

/**
 * The reference's precedence, with kirsa's wildcards: a container-credentials listing wins outright;
 * otherwise a role annotation on the service account; otherwise the mapping for ns/sa; otherwise the first
 * wildcard key that matches (comparePatterns). Undefined: no identity.
 */
export function resolveIdentity(sources: IdentitySources): Identity | undefined {
  const { namespace, serviceAccountName, serviceAccount, mapping, annotationPrefix, defaults } = sources;
  const key = `${namespace}/${serviceAccountName}`;
  const mapped = lookupMapping(mapping, namespace, serviceAccountName);

  if (sources.containerCredentials?.identities.has(key)) {
    // Regional STS and lifetime come from the account's annotations, else its mapping entry, else the flags
    // (the reference fell back to hard-coded constants and ignored wildcard entries here).
    const common = serviceAccount
      ? commonSettingsFromAnnotations(serviceAccount.annotations, annotationPrefix, defaults)
      : mapped
        ? identityFromMappingEntry(mapped.key, mapped.entry, defaults)
        : {
            regionalSts: defaults.regionalSts,
            tokenExpirationSeconds: defaults.tokenExpirationSeconds,
            warnings: [],
          };
    const warnings = common.warnings ?? [];
    return {
      mode: 'container-credentials',
      ...sources.containerCredentials.settings,
      regionalSts: common.regionalSts,
      tokenExpirationSeconds: common.tokenExpirationSeconds,
      source: `container-credentials list entry ${key}`,
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(common.region !== undefined ? { region: common.region } : {}),
    };
  }
  if (serviceAccount) {
    const annotated = identityFromServiceAccount(serviceAccount, annotationPrefix, defaults);
    if (annotated) return annotated;
  }
  if (!mapped) return undefined;
  const identity = identityFromMappingEntry(mapped.key, mapped.entry, defaults);
  // The account's own region and session-name annotations are more specific than a (perhaps wildcard) entry.
  if (serviceAccount) {
    const warnings = identity.warnings ?? [];
    const region = checkedRegion(
      serviceAccount.annotations[`${annotationPrefix}/${ANNOTATION.region}`],
      `annotation ${annotationPrefix}/${ANNOTATION.region}`,
      warnings,
    );
    if (region !== undefined) identity.region = region;
    if (warnings.length > 0) identity.warnings = warnings;
    const sessionText = serviceAccount.annotations[`${annotationPrefix}/${ANNOTATION.sessionName}`];
    const sessionName = sessionText === undefined ? undefined : parseGoBool(sessionText);
    if (sessionName !== undefined) identity.sessionName = sessionName;
  }
  return identity;
}
