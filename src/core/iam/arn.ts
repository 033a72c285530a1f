// Every ARN and name rule kirsa applies to IAM, in one place: role ARNs (the one grammar the webhook, which
// refuses to inject anything else, the local STS, the doctor and the IAM calls share), IAM OIDC provider ARNs,
// partitions, and the issuer's host/path by which IAM names a provider and prefixes its condition keys.
// Pure: no I/O; the checking variants throw the project's USAGE error for a flag or input a person wrote.

import { ROLE_NAME_MAX_LENGTH } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import { issuerUrlProblems } from '../oidc/issuer-url.ts';
import type { PolicyDocument } from './policy-grammar.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { createHash } = process.getBuiltinModule('node:crypto');

// --- Partitions and accounts --------------------------------------------------------------------------------

/** The partition when nothing (a role ARN, a region) names another. */
export const DEFAULT_PARTITION = 'aws';

/** The partition part of an ARN: `aws`, `aws-cn`, `aws-us-gov`, ... */
const PARTITION = 'aws[a-z-]*';
const ACCOUNT_ID = '\\d{12}';

/**
 * The ARN partition of a region: ARNs of resources there (bucket ARNs in a bucket policy, roles completed by
 * --compose-role-arn) must name it. The prefixes are the reference webhook's: cn-, us-gov-, us-iso-,
 * us-isob-, eusc-.
 */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('eusc-')) return 'aws-eusc';
  return DEFAULT_PARTITION;
}

/**
 * The region kirsa gives a pod whose role is in another partition than the webhook's default region: the
 * partition's first region, whose STS issues that partition's credentials. Only the partitions
 * partitionOfRegion knows, so the two agree; another partition has none (undefined).
 */
const PARTITION_REGIONS: Readonly<Record<string, string>> = {
  aws: 'us-east-1',
  'aws-cn': 'cn-north-1',
  'aws-us-gov': 'us-gov-west-1',
  'aws-iso': 'us-iso-east-1',
  'aws-iso-b': 'us-isob-east-1',
  'aws-eusc': 'eusc-de-east-1',
};

export function defaultRegionOfPartition(partition: string): string | undefined {
  return Object.hasOwn(PARTITION_REGIONS, partition) ? PARTITION_REGIONS[partition] : undefined;
}

/** A region's shape: `us-east-1`, `us-gov-west-1`, `eusc-de-east-1`. */
const REGION_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d+$/;

export function isRegionName(text: string): boolean {
  return REGION_NAME.test(text);
}

const ACCOUNT_ID_ONLY = new RegExp(`^${ACCOUNT_ID}$`);

export function isAccountId(text: string): boolean {
  return ACCOUNT_ID_ONLY.test(text);
}

/** The account ID, or a USAGE error naming it: an account ID is 12 digits. */
export function checkAccountId(text: string): string {
  if (!isAccountId(text))
    throw new KirsaError('ARN_INVALID', `"${text}" is not an AWS account ID`, {
      hint: 'an account ID is 12 digits',
    });
  return text;
}

// --- Role names and role ARNs ------------------------------------------------------------------------------

/** IAM's role name characters: letters, digits and `+=,.@_-`. */
const ROLE_NAME_CHARACTER = '[\\w+=,.@-]';

export interface RoleArnParts {
  partition: string;
  accountId: string;
  /** The role name, without its path. */
  name: string;
}

/**
 * IAM's path characters: anything printable from `!` to `~` (IAM's documented path pattern), `/` aside as the
 * separator. Wider than a name's: `role/team!ops/app` is a valid ARN, and the reference accepts it.
 */
const ROLE_PATH_CHARACTER = '[!-.0-~]';

/** `arn:<partition>:iam::<12 digits>:role/<optional path/>name`, with IAM's path and name characters. */
const ROLE_ARN = new RegExp(
  `^arn:(${PARTITION}):iam::(${ACCOUNT_ID}):role\\/(?:${ROLE_PATH_CHARACTER}+\\/)*(${ROLE_NAME_CHARACTER}{1,${ROLE_NAME_MAX_LENGTH}})$`,
);

/** The parts of an IAM role ARN, or undefined when the text is not one. */
export function roleArnParts(arn: string): RoleArnParts | undefined {
  const match = ROLE_ARN.exec(arn);
  return match ? { partition: match[1]!, accountId: match[2]!, name: match[3]! } : undefined;
}

/** The parts of a role ARN a person wrote, or a USAGE error showing the shape. */
export function checkRoleArn(arn: string): RoleArnParts {
  const parts = roleArnParts(arn);
  if (!parts)
    throw new KirsaError('ARN_INVALID', `"${arn}" is not an IAM role ARN`, {
      hint: 'it looks like arn:aws:iam::111122223333:role/name',
    });
  return parts;
}

/** The ARN of a role; its path (`/` when absent, as IAM's default) sits between `role` and the name. */
export function buildRoleArn(role: RoleArnParts & { path?: string | undefined }): string {
  return `arn:${role.partition}:iam::${role.accountId}:role${role.path ?? '/'}${role.name}`;
}

const ROLE_NAME = new RegExp(`^${ROLE_NAME_CHARACTER}{1,${ROLE_NAME_MAX_LENGTH}}$`);

export function isRoleName(name: string): boolean {
  return ROLE_NAME.test(name);
}

/** The role name, or a USAGE error listing IAM's rules for one. */
export function checkRoleName(name: string): string {
  if (!isRoleName(name))
    throw new KirsaError('ROLE_NAME_INVALID', `"${name}" is not a valid IAM role name`, {
      hint: `up to ${ROLE_NAME_MAX_LENGTH} characters: letters, digits and + = , . @ _ -`,
    });
  return name;
}

/** A cluster name for --cluster: a DNS label, so it cannot hold the `.` that separates the name's parts. */
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

/** The cluster name, or a USAGE error naming the rule. */
export function checkClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name))
    throw new KirsaError(
      'CLUSTER_NAME_INVALID',
      `"${name}" is not a cluster name kirsa can put in a role name`,
      {
        hint: 'up to 40 lowercase letters, digits and -, starting and ending with a letter or digit (no dots)',
      },
    );
  return name;
}

/** Characters of a long name kept before its hash, so name + `-` + 8 hex digits fit IAM's 64. */
const HASHED_NAME_KEEP = ROLE_NAME_MAX_LENGTH - 9;

/**
 * The role name when none is given. Without a cluster: kirsa-<namespace>-<name>, cut to IAM's 64 characters
 * (the name kirsa always gave, kept so existing roles are found). With one: kirsa.<cluster>.<namespace>.<name>,
 * so the same account on two clusters gets two roles, as kOps does (`<sa>.<ns>.sa.<cluster>`). Neither a
 * cluster (checked) nor a namespace can hold a dot, so the parts read back unambiguously; a name over 64
 * characters keeps its first 55 and ends in 8 hex digits of its SHA-256, so two long names never collide by
 * the cut. `*` is spelled "wildcard" (kOps' choice).
 */
export function defaultRoleName(ref: { namespace: string; name: string }, cluster?: string): string {
  const spell = (part: string) => part.replaceAll('*', 'wildcard');
  if (cluster === undefined)
    return `kirsa-${spell(ref.namespace)}-${spell(ref.name)}`.slice(0, ROLE_NAME_MAX_LENGTH);
  const full = `kirsa.${checkClusterName(cluster)}.${spell(ref.namespace)}.${spell(ref.name)}`;
  if (full.length <= ROLE_NAME_MAX_LENGTH) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, HASHED_NAME_KEEP)}-${hash}`;
}

/** The account a bare role name is completed with (--compose-role-arn): the webhook's own, from EC2. */
export interface RoleAccount {
  partition: string;
  accountId: string;
}

/**
 * The role-arn annotation as the reference reads it under --compose-role-arn: a value without "arn:"
 * anywhere in it is a role name (with an optional path, "team/app") in the webhook's own account and
 * partition; anything else, a full ARN included, is used as written.
 */
export function composeRoleArn(value: string, account: RoleAccount): string {
  if (value.includes('arn:')) return value;
  return `arn:${account.partition}:iam::${account.accountId}:role/${value}`;
}

/** The ARN STS returns for a session of a role: `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`. */
export function assumedRoleArn(role: RoleArnParts, sessionName: string): string {
  return `arn:${role.partition}:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`;
}

// --- Managed policy ARNs -------------------------------------------------------------------------------------

/** An AWS managed policy (account `aws`) or a customer managed one (a 12-digit account). */
const MANAGED_POLICY_ARN = new RegExp(`^arn:${PARTITION}:iam::(aws|${ACCOUNT_ID}):policy\\/.+$`);

/** The managed policy ARN, or a USAGE error showing the shape. */
export function checkManagedPolicyArn(arn: string): string {
  if (!MANAGED_POLICY_ARN.test(arn))
    throw new KirsaError('ARN_INVALID', `"${arn}" is not a managed policy ARN`, {
      hint: 'it looks like arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
    });
  return arn;
}

// --- The issuer's host/path ----------------------------------------------------------------------------------

/**
 * `host/path` of an issuer URL: the IAM provider's name in its ARN, the prefix of its trust-policy condition
 * keys, and the URL IAM stores for it (GetOpenIDConnectProvider answers it without the scheme). STS matches
 * the token's `iss` against `https://` + this, so only that scheme is removed.
 */
export function issuerHostPath(issuer: string): string {
  return issuer.replace(/^https:\/\//, '');
}

/** The issuer URL a token must carry as `iss` for the provider IAM stores as `host/path`. */
export function issuerUrlOfHostPath(hostPath: string): string {
  return `https://${hostPath}`;
}

/**
 * The issuer's host/path after checking the URL is one IAM accepts for a provider: every rule issuer URLs
 * have, and no port (a development issuer may have one; an IAM provider may not).
 */
export function iamProviderHostPath(issuerUrl: string): string {
  const problems = issuerUrlProblems(issuerUrl);
  if (problems.length > 0)
    throw new KirsaError(
      'ISSUER_URL_INVALID',
      `issuer URL ${issuerUrl}: ${problems.map((problem) => problem.rule).join('; ')}`,
      {
        hint: 'IAM providers need https://host[/path] with no port, query, fragment or trailing slash',
      },
    );
  return issuerHostPath(issuerUrl);
}

// --- IAM OIDC provider ARNs ----------------------------------------------------------------------------------

export interface ProviderArnParts {
  partition: string;
  accountId: string;
  /** The issuer's host/path, as in the provider's condition keys. */
  hostPath: string;
}

const PROVIDER_ARN = new RegExp(`^arn:(${PARTITION}):iam::(${ACCOUNT_ID}):oidc-provider\\/(.+)$`);

/** The parts of an IAM OIDC provider ARN, or undefined when it is not one. */
export function parseProviderArn(arn: string): ProviderArnParts | undefined {
  const match = PROVIDER_ARN.exec(arn);
  if (!match) return undefined;
  return { partition: match[1]!, accountId: match[2]!, hostPath: match[3]! };
}

/** The parts of a provider ARN a person wrote, or a USAGE error showing the shape. */
export function checkProviderArn(arn: string): ProviderArnParts {
  const parts = parseProviderArn(arn);
  if (!parts)
    throw new KirsaError('ARN_INVALID', `"${arn}" is not an IAM OIDC provider ARN`, {
      hint: 'it looks like arn:aws:iam::111122223333:oidc-provider/issuer.example.com/path',
    });
  return parts;
}

/**
 * `arn:<partition>:iam::<account>:oidc-provider/<host/path>`, the principal STS matches, as given: the local
 * STS and the doctor name providers of issuers IAM itself would refuse (a loopback issuer with a port).
 */
export function buildProviderArn(provider: ProviderArnParts): string {
  return `arn:${provider.partition}:iam::${provider.accountId}:oidc-provider/${provider.hostPath}`;
}

/** The provider ARN IAM gives an issuer URL, after checking the account and that IAM accepts the URL. */
export function providerArnFor(issuerUrl: string, accountId: string, partition = DEFAULT_PARTITION): string {
  checkAccountId(accountId);
  return buildProviderArn({ partition, accountId, hostPath: iamProviderHostPath(issuerUrl) });
}

/** Where the account of the provider STS matches was learnt. */
export type ProviderAccountSource = 'given' | 'role' | 'policy';

/**
 * The provider STS matches when a token of the issuer `hostPath` assumes a role: that issuer's provider in the
 * account given, else in the role's account, in the role's partition. Without either, a trust policy that names
 * providers tells: the one of the same issuer, else the first. Undefined when nothing tells the account.
 */
export function matchedProviderArn(
  hostPath: string,
  known: { role?: RoleArnParts | undefined; accountId?: string | undefined; policy?: PolicyDocument },
): { arn: string; accountFrom: ProviderAccountSource; accountId: string } | undefined {
  const partition = known.role?.partition ?? DEFAULT_PARTITION;
  const accountId = known.accountId ?? known.role?.accountId;
  if (accountId !== undefined)
    return {
      arn: buildProviderArn({ partition, accountId, hostPath }),
      accountFrom: known.accountId !== undefined ? 'given' : 'role',
      accountId,
    };
  const named = federatedProviders(known.policy);
  const sameIssuer = named.find((parts) => parts.hostPath === hostPath) ?? named[0];
  if (!sameIssuer) return undefined;
  return {
    arn: buildProviderArn({ ...sameIssuer, hostPath }),
    accountFrom: 'policy',
    accountId: sameIssuer.accountId,
  };
}

/** The IAM OIDC providers a policy's `Federated` principals name, in statement order. */
function federatedProviders(policy: PolicyDocument | undefined): ProviderArnParts[] {
  return (policy?.Statement ?? []).flatMap((statement) => {
    const principal = statement.Principal;
    if (principal === undefined || principal === '*') return [];
    const federated = principal.Federated;
    return (Array.isArray(federated) ? federated : federated === undefined ? [] : [federated])
      .map(parseProviderArn)
      .filter((parts) => parts !== undefined);
  });
}
