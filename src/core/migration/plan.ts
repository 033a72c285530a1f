// The migration plan from kube2iam/kiam to IRSA, as rules over what the cluster and IAM hold: which workloads
// take which role, which ServiceAccount each one should run as (a shared account whose users take different
// roles, or no role, is split: one new account per role), what each role's trust gains, and what a reviewer
// must know (a role the namespace forbids today, an external ID, a session name, a provider in another
// account). Pure: the CLI gathers the inventory through src/kube and src/aws, this decides.

import { ANNOTATION, MIGRATION_TEMPLATE_ANNOTATION, SERVICE_ACCOUNT_NAME_MAX_LENGTH } from '../../consts.ts';
import { buildProviderArn, checkProviderArn, roleArnParts } from '../iam/arn.ts';
import type { PolicyDocument, PolicyStatement } from '../iam/policy-grammar.ts';
import { asList } from '../iam/policy-grammar.ts';
import { serviceAccountSubject } from '../iam/service-account-ref.ts';
import { mergeTrustPolicy } from '../iam/trust-policy.ts';
import type { Container } from '../kube-types.ts';
import { legacyIdentity, namespaceAllows, resolveLegacyRole } from './legacy.ts';

/** The kinds that carry a pod template (or are a pod), in the order the plan lists them. */
export const MIGRATION_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'CronJob',
  'Job',
  'ReplicaSet',
  'Pod',
] as const;
export type MigrationKind = (typeof MIGRATION_KINDS)[number];

/** Where each kind keeps its pod template, as the field path a reviewer reads in the manifest change. */
export const TEMPLATE_PATH: Record<MigrationKind, string> = {
  Deployment: 'spec.template',
  StatefulSet: 'spec.template',
  DaemonSet: 'spec.template',
  ReplicaSet: 'spec.template',
  Job: 'spec.template',
  CronJob: 'spec.jobTemplate.spec.template',
  Pod: '',
};

// --- What the plan reads --------------------------------------------------------------------------------------

export interface InventoryWorkload {
  kind: MigrationKind;
  namespace: string;
  name: string;
  /** The controlling owner (ownerReferences with controller: true), when there is one. */
  owner?: { kind: string; name: string };
  /** The pod's (or template's) serviceAccountName, `default` when unset. */
  serviceAccountName: string;
  /** The pod's (or template's) annotations. */
  annotations: Record<string, string>;
  /** For a Pod: its containers (their env tells cleanup whether it switched) and its phase. */
  containers?: Container[];
  phase?: string;
}

export interface InventoryServiceAccount {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

export interface Inventory {
  /** Every workload and pod in scope, with kube2iam/kiam annotations or not: the others share accounts too. */
  workloads: InventoryWorkload[];
  namespaces: Array<{ name: string; annotations: Record<string, string> }>;
  serviceAccounts: InventoryServiceAccount[];
  /** The roles the annotations resolve to, as IAM holds them; undefined for a role IAM does not have. */
  roles: Record<string, { trustPolicy: PolicyDocument } | undefined>;
}

export interface PlanOptions {
  /** `arn:<partition>:iam::<account>:role/`, ending with a slash (normaliseBaseRoleArn). */
  baseRoleArn: string;
  /** The cluster's IAM OIDC provider; a role in another account trusts the same issuer's provider there. */
  providerArn: string;
  audiences: string[];
  /** The webhook's annotation prefix (eks.amazonaws.com by default). */
  annotationPrefix: string;
  /** The node roles kube2iam/kiam assume from; what `cleanup --remove-node-trust` may remove. */
  nodeRoleArns: string[];
}

// --- What the plan says -----------------------------------------------------------------------------------------

/** How the workload's pods get the new identity. */
export type TemplateChange =
  /** The template is patched (serviceAccountName when it changes, and the migration annotation): a rollout. */
  | 'patch'
  /** A bare Pod or a Job: their pod spec cannot change; they take the identity when recreated. */
  | 'recreate'
  /** Not migrated: see the workload's blocker. */
  | 'none';

export interface PlannedWorkload {
  kind: MigrationKind;
  namespace: string;
  name: string;
  /** The kube2iam/kiam role annotation as written. */
  role: string;
  roleArn?: string;
  externalId?: string;
  sessionName?: string;
  serviceAccount: { from: string; to: string };
  change: TemplateChange;
  /** Why this workload is left as it is, when it is. */
  blocked?: string;
}

export interface PlannedServiceAccount {
  namespace: string;
  name: string;
  roleArn: string;
  action: 'create' | 'annotate' | 'unchanged';
  /** For a new account split from a shared one: the account it replaces for these workloads. */
  splitFrom?: string;
}

export interface PlannedRole {
  arn: string;
  /** The provider this role's web identity statement names (the cluster's issuer, in the role's account). */
  providerArn: string;
  /** `namespace/name` of each account the role will trust. */
  serviceAccounts: string[];
  /** Subjects the merge adds ("system:serviceaccount:ns:sa from <provider>"); empty when already trusted. */
  adds: string[];
  /** The statements it has today, summarised; every one is kept. */
  keeps: string[];
  /** The node roles among its trusted principals (what --remove-node-trust removes at cleanup). */
  nodeTrust: string[];
}

export type FindingSeverity = 'blocker' | 'warning' | 'note';

export interface Finding {
  severity: FindingSeverity;
  /** A stable kebab-case name tests and scripts branch on. */
  code: string;
  /** `Kind namespace/name`, `ServiceAccount namespace/name` or a role ARN. */
  subject: string;
  message: string;
  /** What to do about it. */
  action: string;
}

export interface MigrationPlan {
  kind: 'KirsaMigrationPlan';
  version: 1;
  audiences: string[];
  annotationPrefix: string;
  nodeRoleArns: string[];
  roles: PlannedRole[];
  serviceAccounts: PlannedServiceAccount[];
  workloads: PlannedWorkload[];
  findings: Finding[];
  /** What the plan did not check, said plainly. */
  notChecked: string[];
}

export const PLAN_KIND = 'KirsaMigrationPlan';

// --- Building ---------------------------------------------------------------------------------------------------

const key = (namespace: string, kind: string, name: string) => `${namespace}/${kind}/${name}`;
export const workloadSubject = (w: { kind: string; namespace: string; name: string }) =>
  `${w.kind} ${w.namespace}/${w.name}`;
const accountKey = (namespace: string, name: string) => `${namespace}/${name}`;

function byWorkload(a: { kind: string; namespace: string; name: string }, b: typeof a): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    MIGRATION_KINDS.indexOf(a.kind as MigrationKind) - MIGRATION_KINDS.indexOf(b.kind as MigrationKind) ||
    a.name.localeCompare(b.name)
  );
}

/** The workloads that stand for themselves: none of their controllers up the chain is in the inventory. */
function roots(workloads: readonly InventoryWorkload[]): {
  top: InventoryWorkload[];
  annotatedTop: InventoryWorkload[];
} {
  const index = new Map(workloads.map((w) => [key(w.namespace, w.kind, w.name), w]));
  const ancestors = (w: InventoryWorkload): InventoryWorkload[] => {
    const chain: InventoryWorkload[] = [];
    const seen = new Set<InventoryWorkload>([w]);
    let current = w;
    while (current.owner) {
      const parent = index.get(key(current.namespace, current.owner.kind, current.owner.name));
      if (!parent || seen.has(parent)) break;
      chain.push(parent);
      seen.add(parent);
      current = parent;
    }
    return chain;
  };
  const top: InventoryWorkload[] = [];
  const annotatedTop: InventoryWorkload[] = [];
  for (const w of workloads) {
    const chain = ancestors(w);
    if (legacyIdentity(w.annotations)) {
      // A pod or ReplicaSet whose controller already carries the annotation is that controller's business.
      if (!chain.some((parent) => legacyIdentity(parent.annotations))) annotatedTop.push(w);
    } else if (chain.length === 0) top.push(w);
  }
  return { top, annotatedTop };
}

/** A DNS label from `<account>-<role name>`: lowercase, other characters made `-`, cut to 63. */
export function splitAccountName(account: string, roleArn: string): string {
  const roleName = roleArnParts(roleArn)?.name ?? 'role';
  const raw = `${account}-${roleName}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-');
  return raw.slice(0, SERVICE_ACCOUNT_NAME_MAX_LENGTH).replace(/^-+|-+$/g, '') || 'irsa';
}

function principalSummary(statement: PolicyStatement): string {
  const principal = statement.Principal ?? statement.NotPrincipal;
  const who =
    principal === '*' || principal === undefined
      ? '*'
      : Object.entries(principal)
          .map(([type, values]) => `${type} ${asList(values).join(', ')}`)
          .join('; ');
  const actions = asList(statement.Action ?? statement.NotAction).join(', ');
  const conditions = Object.values(statement.Condition ?? {}).flatMap((entries) => Object.keys(entries));
  return `${statement.Effect} ${who} (${actions})${conditions.length > 0 ? ` if ${conditions.join(', ')}` : ''}`;
}

/** The node roles this trust policy names as AWS principals of an Allow. */
function trustedNodeRoles(policy: PolicyDocument, nodeRoleArns: readonly string[]): string[] {
  const named = new Set(
    policy.Statement.filter((statement) => statement.Effect === 'Allow').flatMap((statement) =>
      statement.Principal && statement.Principal !== '*' ? asList(statement.Principal.AWS) : [],
    ),
  );
  return nodeRoleArns.filter((arn) => named.has(arn));
}

/** The provider of the cluster's issuer in the role's account: IAM matches Federated in the role's own account. */
function providerForRole(providerArn: string, roleArn: string): string {
  const provider = checkProviderArn(providerArn);
  const role = roleArnParts(roleArn)!;
  return buildProviderArn({ ...provider, accountId: role.accountId, partition: role.partition });
}

export function buildMigrationPlan(inventory: Inventory, options: PlanOptions): MigrationPlan {
  const findings: Finding[] = [];
  const find = (severity: FindingSeverity, code: string, subject: string, message: string, action: string) =>
    findings.push({ severity, code, subject, message, action });
  const namespaces = new Map(inventory.namespaces.map((ns) => [ns.name, ns.annotations]));
  const accounts = new Map(inventory.serviceAccounts.map((sa) => [accountKey(sa.namespace, sa.name), sa]));
  const roleKey = `${options.annotationPrefix}/${ANNOTATION.roleArn}`;
  const { top, annotatedTop } = roots(inventory.workloads);

  // 1. Each annotated workload: its role, whether it may take it today, whether IAM has it.
  const planned: PlannedWorkload[] = [...annotatedTop].sort(byWorkload).map((w) => {
    const identity = legacyIdentity(w.annotations)!;
    const subject = workloadSubject(w);
    const workload: PlannedWorkload = {
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      role: identity.role,
      serviceAccount: { from: w.serviceAccountName, to: w.serviceAccountName },
      change: 'none',
      ...(identity.externalId ? { externalId: identity.externalId } : {}),
      ...(identity.sessionName ? { sessionName: identity.sessionName } : {}),
    };
    const arn = resolveLegacyRole(identity.role, options.baseRoleArn);
    if (!arn) {
      workload.blocked = `"${identity.role}" does not make a role ARN with base ${options.baseRoleArn}`;
      find(
        'blocker',
        'role-unresolved',
        subject,
        workload.blocked,
        'fix the annotation, or pass the right --base-role-arn',
      );
      return workload;
    }
    workload.roleArn = arn;
    const verdict = namespaceAllows(namespaces.get(w.namespace), identity.role, arn, options.baseRoleArn);
    if (!verdict.allowed) {
      workload.blocked = verdict.unreadable
        ? `namespace ${w.namespace}'s ${verdict.annotation} cannot be read (${verdict.unreadable}), so kirsa cannot tell whether ${arn} is permitted`
        : `namespace ${w.namespace}'s ${verdict.annotation} (${verdict.rule}) does not permit ${identity.role}: kube2iam/kiam refuse it today, and IRSA would grant it`;
      find(
        'blocker',
        'role-not-permitted',
        subject,
        workload.blocked,
        'correct the annotation or the namespace restriction first; kirsa migrates only what the pods get today',
      );
      return workload;
    }
    if (!inventory.roles[arn]) {
      workload.blocked = `role ${arn} cannot be read: it does not exist, or it is in an account other than the credentials' (GetRole looks in their own)`;
      find(
        'blocker',
        'role-missing',
        subject,
        workload.blocked,
        'fix the annotation; a role in another account is left for you to migrate by hand (kirsa role create with its credentials)',
      );
      return workload;
    }
    if (identity.externalId)
      find(
        'warning',
        'external-id',
        subject,
        `the pod assumes ${arn} with external ID "${identity.externalId}"; web identity has no external ID`,
        "the new web identity statement needs none: it trusts only this workload's ServiceAccount (the token's sub), which is what the external ID guarded; the node role's statement that requires it stays until cleanup --remove-node-trust",
      );
    if (identity.sessionName)
      find(
        'note',
        'session-name',
        subject,
        `the session was named "${identity.sessionName}"; with web identity the SDK names it`,
        `set AWS_ROLE_SESSION_NAME=${identity.sessionName} in the containers if CloudTrail queries rely on the name`,
      );
    return workload;
  });

  // 2. Who uses each ServiceAccount: a workload to migrate with its role, any other user with none.
  const users = new Map<string, Set<string>>();
  const use = (namespace: string, account: string, role: string) => {
    const id = accountKey(namespace, account);
    users.set(id, (users.get(id) ?? new Set()).add(role));
  };
  for (const w of planned)
    use(w.namespace, w.serviceAccount.from, w.blocked ? `(unmigrated ${w.role})` : w.roleArn!);
  for (const w of top) use(w.namespace, w.serviceAccountName, '(no role)');

  // 3. The account each migrated workload runs as: its own when every user takes the same role, else a split.
  const plannedAccounts = new Map<string, PlannedServiceAccount>();
  for (const w of planned) {
    if (w.blocked) continue;
    const arn = w.roleArn!;
    const current = accountKey(w.namespace, w.serviceAccount.from);
    const existingRole = accounts.get(current)?.annotations[roleKey];
    const roles = new Set(users.get(current));
    if (existingRole) roles.add(existingRole);
    let target = w.serviceAccount.from;
    if (roles.size > 1 && existingRole !== arn) {
      target = splitAccountName(w.serviceAccount.from, arn);
      const split = accounts.get(accountKey(w.namespace, target));
      const splitRole = split?.annotations[roleKey];
      const splitUsers = users.get(accountKey(w.namespace, target));
      if ((splitRole && splitRole !== arn) || (splitUsers && [...splitUsers].some((role) => role !== arn))) {
        w.blocked = `ServiceAccount ${w.namespace}/${target}, the name kirsa would split to, is already used otherwise`;
        find(
          'blocker',
          'split-name-taken',
          workloadSubject(w),
          w.blocked,
          'rename or remove that ServiceAccount, then plan again',
        );
        continue;
      }
    }
    w.serviceAccount.to = target;
    w.change = w.kind === 'Pod' || w.kind === 'Job' ? 'recreate' : 'patch';
    const targetKey = accountKey(w.namespace, target);
    if (!plannedAccounts.has(targetKey)) {
      const existing = accounts.get(targetKey);
      plannedAccounts.set(targetKey, {
        namespace: w.namespace,
        name: target,
        roleArn: arn,
        action: !existing ? 'create' : existing.annotations[roleKey] === arn ? 'unchanged' : 'annotate',
        ...(target !== w.serviceAccount.from ? { splitFrom: w.serviceAccount.from } : {}),
      });
    }
    if (w.change === 'recreate')
      find(
        'note',
        'recreate',
        workloadSubject(w),
        `a ${w.kind}'s pod spec cannot be changed in place`,
        `recreate it${target !== w.serviceAccount.from ? ` with serviceAccountName: ${target}` : ''} once apply has run`,
      );
  }
  for (const [id, roles] of users) {
    const moved = planned.filter(
      (w) =>
        !w.blocked &&
        accountKey(w.namespace, w.serviceAccount.from) === id &&
        w.serviceAccount.to !== w.serviceAccount.from,
    );
    if (moved.length === 0) continue;
    find(
      'warning',
      'shared-service-account',
      `ServiceAccount ${id}`,
      `used by workloads taking ${[...roles].sort().join(', ')}: annotating it would give every one of them the same role`,
      `each role gets its own ServiceAccount (${[...new Set(moved.map((w) => w.serviceAccount.to))].sort().join(', ')}); bind the new accounts wherever RoleBindings and imagePullSecrets name ${id}`,
    );
  }

  // 4. Each role: the accounts it will trust, what its policy keeps, what it gains.
  const roleArns = [...new Set(planned.filter((w) => !w.blocked).map((w) => w.roleArn!))].sort();
  const roles: PlannedRole[] = roleArns.map((arn) => {
    const trustPolicy = inventory.roles[arn]!.trustPolicy;
    const serviceAccounts = [
      ...new Set(
        planned
          .filter((w) => !w.blocked && w.roleArn === arn)
          .map((w) => accountKey(w.namespace, w.serviceAccount.to)),
      ),
    ].sort();
    const providerArn = providerForRole(options.providerArn, arn);
    const merge = mergeTrustPolicy(trustPolicy, {
      providerArns: [providerArn],
      serviceAccounts: serviceAccounts.map((id) => {
        const [namespace, name] = id.split('/') as [string, string];
        return { namespace, name };
      }),
      audiences: options.audiences,
    });
    for (const problem of merge.problems)
      find('blocker', 'trust-denied', arn, problem, 'edit the Deny statement by hand, then plan again');
    const nodeTrust = trustedNodeRoles(trustPolicy, options.nodeRoleArns);
    if (options.nodeRoleArns.length > 0 && nodeTrust.length === 0)
      find(
        'warning',
        'no-node-trust',
        arn,
        `the role trusts none of the node roles (${options.nodeRoleArns.join(', ')})`,
        'kube2iam/kiam cannot be assuming it from those nodes: check --node-role-arn, or that these workloads have credentials today',
      );
    if (checkProviderArn(options.providerArn).accountId !== roleArnParts(arn)!.accountId)
      find(
        'warning',
        'provider-in-role-account',
        arn,
        `the role is in account ${roleArnParts(arn)!.accountId}, so its trust names ${providerArn}`,
        'create the IAM OIDC provider in that account too (kirsa provider create with its credentials)',
      );
    return {
      arn,
      providerArn,
      serviceAccounts,
      adds: merge.added,
      keeps: trustPolicy.Statement.map(principalSummary),
      nodeTrust,
    };
  });
  const blockedRoles = new Set(findings.filter((f) => f.code === 'trust-denied').map((f) => f.subject));
  for (const w of planned)
    if (!w.blocked && blockedRoles.has(w.roleArn!))
      w.blocked = `role ${w.roleArn} has a Deny kirsa will not remove`;

  return {
    kind: PLAN_KIND,
    version: 1,
    audiences: [...options.audiences],
    annotationPrefix: options.annotationPrefix,
    nodeRoleArns: [...options.nodeRoleArns].sort(),
    roles: roles.filter((role) => !blockedRoles.has(role.arn)),
    serviceAccounts: [...plannedAccounts.values()]
      .filter((sa) => !blockedRoles.has(sa.roleArn))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)),
    workloads: planned.map((w) =>
      w.blocked
        ? {
            ...w,
            change: 'none' as const,
            serviceAccount: { ...w.serviceAccount, to: w.serviceAccount.from },
          }
        : w,
    ),
    findings: findings.sort(
      (a, b) =>
        ['blocker', 'warning', 'note'].indexOf(a.severity) -
          ['blocker', 'warning', 'note'].indexOf(b.severity) ||
        a.subject.localeCompare(b.subject) ||
        a.code.localeCompare(b.code),
    ),
    notChecked: [
      "SDK versions: kirsa cannot see which AWS SDK an image holds; web identity needs an SDK recent enough to read AWS_WEB_IDENTITY_TOKEN_FILE (see AWS's list of minimum SDK versions for IRSA), and an older one keeps using kube2iam/kiam until cleanup, then fails",
    ],
  };
}

/** The manifest change of one workload, as the lines a reviewer reads. */
export function manifestChange(workload: PlannedWorkload): string[] {
  if (workload.change === 'none') return [];
  const base = TEMPLATE_PATH[workload.kind];
  const at = (field: string) => (base ? `${base}.${field}` : field);
  const lines: string[] = [];
  if (workload.serviceAccount.to !== workload.serviceAccount.from)
    lines.push(
      `${at('spec.serviceAccountName')}: ${workload.serviceAccount.from} -> ${workload.serviceAccount.to}`,
    );
  if (workload.change === 'patch')
    lines.push(
      `${at(`metadata.annotations["${MIGRATION_TEMPLATE_ANNOTATION}"]`)}: ${workload.roleArn} (rolls the pods)`,
    );
  else lines.push('none in place: recreate it after apply');
  return lines;
}

/** The subject a migrated workload's tokens carry. */
export function plannedSubject(workload: PlannedWorkload): string {
  return serviceAccountSubject({ namespace: workload.namespace, name: workload.serviceAccount.to });
}
