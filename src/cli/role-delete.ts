// `kirsa role delete`: the flags read into a RoleDeleteInput, role create's phases undone by
// workflows/role-delete.ts, each phase's outcome printed as a line.

import type { Command } from 'commander';
import { callerAccountId } from '../aws/iam-role.ts';
import { checkRoleName, defaultRoleName } from '../core/iam/arn.ts';
import { checkSkipPhases } from '../workflows/phases.ts';
import type { RoleDependencies } from '../workflows/role-create.ts';
import { deleteRole, ROLE_DELETE_PHASES } from '../workflows/role-delete.ts';
import { addRoleTargetOptions, awsTargetOf, kubeAccessOf } from './flags.ts';
import { addPhaseOptions, printPhases } from './phases.ts';
import { addTrustFlags, type TrustFlags, trustRequestFromFlags, withCallerAccount } from './trust-policy.ts';

interface RoleDeleteFlags extends TrustFlags {
  roleName?: string;
  cluster?: string;
  force?: boolean;
  skipPhases?: string[];
  endpointUrl?: string;
  region?: string;
  kubeconfig?: string;
  context?: string;
  annotationPrefix: string;
}

export function registerRoleDelete(role: Command): void {
  const command = addRoleTargetOptions(
    addTrustFlags(
      role
        .command('delete')
        .description(
          `undo role create for service accounts of this cluster, in phases: ${ROLE_DELETE_PHASES.map((phase) => phase.name).join(', ')} (idempotent)`,
        ),
    )
      .option(
        '--role-name <name>',
        'role name (default: the one role create gives, with --cluster when given)',
      )
      .option('--cluster <name>', 'the cluster name given to role create, for the default role name')
      .option('--force', "delete the role even while other trust or policies not kirsa's remain on it"),
  );
  addPhaseOptions(command, ROLE_DELETE_PHASES).action(async (flags: RoleDeleteFlags) => runRoleDelete(flags));
}

export async function runRoleDelete(
  flags: RoleDeleteFlags,
  dependencies: RoleDependencies = {},
): Promise<void> {
  const skip = flags.skipPhases ?? [];
  checkSkipPhases(ROLE_DELETE_PHASES, skip);
  const request = trustRequestFromFlags(
    await withCallerAccount(flags, dependencies.callerAccountId ?? callerAccountId),
  );
  await deleteRole(
    {
      request,
      roleName: checkRoleName(flags.roleName ?? defaultRoleName(request.serviceAccounts[0]!, flags.cluster)),
      force: flags.force ?? false,
      annotationPrefix: flags.annotationPrefix,
      kube: kubeAccessOf(flags),
      aws: awsTargetOf(flags),
    },
    { skip, report: printPhases(ROLE_DELETE_PHASES) },
    dependencies,
  );
}
