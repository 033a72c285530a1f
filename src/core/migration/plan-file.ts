// A migration plan read back from its file (YAML or JSON, already parsed by the caller): `apply` and `cleanup`
// act only on what a reviewer saw, so a file that is not a plan kirsa wrote, or was edited into something
// else, is refused whole before anything is read from the cluster. Also the plan as text, for the reviewer.

import { KirsaError } from '../../errors.ts';
import { checkProviderArn, roleArnParts } from '../iam/arn.ts';
import {
  MIGRATION_KINDS,
  type MigrationKind,
  type MigrationPlan,
  manifestChange,
  PLAN_KIND,
  workloadSubject,
} from './plan.ts';

function invalid(message: string): KirsaError {
  return new KirsaError('MIGRATION_PLAN_INVALID', `not a kirsa migration plan: ${message}`, {
    hint: 'write the plan with kirsa migrate plan -o yaml > plan.yaml, and pass that file',
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function list(plan: Record<string, unknown>, field: string): Record<string, unknown>[] {
  const value = plan[field];
  if (!Array.isArray(value) || !value.every(isRecord)) throw invalid(`"${field}" is not a list of objects`);
  return value;
}

function text(item: Record<string, unknown>, field: string, where: string): string {
  const value = item[field];
  if (typeof value !== 'string' || value === '') throw invalid(`${where}: "${field}" is missing`);
  return value;
}

/** The plan in `value`, checked field by field; throws MIGRATION_PLAN_INVALID naming the first bad field. */
export function checkMigrationPlan(value: unknown): MigrationPlan {
  if (!isRecord(value)) throw invalid('the file holds no object');
  if (value.kind !== PLAN_KIND) throw invalid(`kind is ${JSON.stringify(value.kind)}, not ${PLAN_KIND}`);
  if (value.version !== 1) throw invalid(`version ${JSON.stringify(value.version)} is not 1`);
  if (!isStringList(value.audiences) || !isStringList(value.nodeRoleArns))
    throw invalid('"audiences" and "nodeRoleArns" must be lists of strings');
  if (typeof value.annotationPrefix !== 'string') throw invalid('"annotationPrefix" is missing');
  for (const role of list(value, 'roles')) {
    const arn = text(role, 'arn', 'a role');
    if (!roleArnParts(arn)) throw invalid(`role "${arn}" is not a role ARN`);
    try {
      checkProviderArn(text(role, 'providerArn', arn));
    } catch {
      throw invalid(`${arn}: providerArn is not an OIDC provider ARN`);
    }
    if (!isStringList(role.serviceAccounts) || role.serviceAccounts.some((sa) => !/^[^/]+\/[^/]+$/.test(sa)))
      throw invalid(`${arn}: serviceAccounts must be namespace/name strings`);
    if (!isStringList(role.adds) || !isStringList(role.keeps) || !isStringList(role.nodeTrust))
      throw invalid(`${arn}: adds, keeps and nodeTrust must be lists of strings`);
  }
  for (const sa of list(value, 'serviceAccounts')) {
    const name = `${text(sa, 'namespace', 'a service account')}/${text(sa, 'name', 'a service account')}`;
    if (!NAME.test(sa.namespace as string) || !NAME.test(sa.name as string))
      throw invalid(`${name} is not a ServiceAccount name`);
    if (!roleArnParts(text(sa, 'roleArn', name))) throw invalid(`${name}: roleArn is not a role ARN`);
    if (!['create', 'annotate', 'unchanged'].includes(sa.action as string))
      throw invalid(`${name}: action must be create, annotate or unchanged`);
  }
  for (const w of list(value, 'workloads')) {
    const where = `${String(w.kind)} ${String(w.namespace)}/${String(w.name)}`;
    if (!MIGRATION_KINDS.includes(w.kind as MigrationKind)) throw invalid(`${where}: unknown kind`);
    text(w, 'namespace', where);
    text(w, 'name', where);
    text(w, 'role', where);
    const account = w.serviceAccount;
    if (!isRecord(account) || typeof account.from !== 'string' || typeof account.to !== 'string')
      throw invalid(`${where}: serviceAccount must have from and to`);
    if (!['patch', 'recreate', 'none'].includes(w.change as string))
      throw invalid(`${where}: change must be patch, recreate or none`);
    if (w.change !== 'none' && !roleArnParts(String(w.roleArn)))
      throw invalid(`${where}: roleArn is missing`);
  }
  if (!Array.isArray(value.findings)) throw invalid('"findings" is missing');
  if (!isStringList(value.notChecked)) throw invalid('"notChecked" is missing');
  return value as unknown as MigrationPlan;
}

const SEVERITY_LABEL = { blocker: 'BLOCKER', warning: 'warning', note: 'note' } as const;

/** The plan as a reviewer reads it: per workload its account, role, trust change and manifest change. */
export function formatPlanText(plan: MigrationPlan): string[] {
  const lines: string[] = [];
  const migrated = plan.workloads.filter((w) => !w.blocked);
  lines.push(
    `${plan.workloads.length} workload(s) use kube2iam/kiam annotations: ${migrated.length} to migrate, ${plan.workloads.length - migrated.length} blocked`,
    '',
  );
  for (const w of plan.workloads) {
    lines.push(`${workloadSubject(w)}  (iam.amazonaws.com/role: ${w.role})`);
    if (w.blocked) {
      lines.push(`  BLOCKED:          ${w.blocked}`, '');
      continue;
    }
    const role = plan.roles.find((r) => r.arn === w.roleArn)!;
    const account = plan.serviceAccounts.find(
      (sa) => sa.namespace === w.namespace && sa.name === w.serviceAccount.to,
    );
    const split = w.serviceAccount.to !== w.serviceAccount.from;
    lines.push(`  role:             ${w.roleArn}`);
    lines.push(
      `  service account:  ${w.namespace}/${w.serviceAccount.to} (${account?.action ?? 'unchanged'}${split ? `, split from ${w.serviceAccount.from}` : ''})`,
    );
    const subject = `system:serviceaccount:${w.namespace}:${w.serviceAccount.to}`;
    const adds = role.adds.some((line) => line.startsWith(`${subject} `));
    lines.push(
      `  trust:            ${adds ? `add ${subject} from ${role.providerArn}` : `already trusts ${subject}`}; keep ${role.keeps.length} statement(s)`,
    );
    for (const change of manifestChange(w)) lines.push(`  manifest:         ${change}`);
    lines.push('');
  }
  if (plan.roles.length > 0) {
    lines.push(
      'Roles (every statement they have is kept; cleanup --remove-node-trust removes only the node roles):',
    );
    for (const role of plan.roles) {
      lines.push(`  ${role.arn}`);
      for (const kept of role.keeps) lines.push(`    keep  ${kept}`);
      for (const added of role.adds) lines.push(`    add   ${added}`);
    }
    lines.push('');
  }
  if (plan.findings.length > 0) {
    lines.push('Findings:');
    for (const finding of plan.findings)
      lines.push(
        `  ${SEVERITY_LABEL[finding.severity]} [${finding.code}] ${finding.subject}: ${finding.message}`,
        `    do: ${finding.action}`,
      );
    lines.push('');
  }
  for (const item of plan.notChecked) lines.push(`Not checked: ${item}`);
  return lines;
}
