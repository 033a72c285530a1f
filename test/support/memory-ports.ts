// In-memory IAM, ServiceAccounts and migration cluster for the workflows' unit tests: the ports the
// workflows are handed (aws/iam-role.ts IamRoles, kube/client.ts ServiceAccountStore and MigrationCluster),
// holding state in maps and recording every call that would change something, so a test can assert that a
// refusal changed nothing. The tiers test the same workflows against moto and a real kube-apiserver.

import type { IamRoles, NewRole, RoleRecord } from '../../src/aws/iam-role.ts';
import type { PolicyDocument } from '../../src/core/iam/policy-grammar.ts';
import type { InventoryWorkload } from '../../src/core/migration/plan.ts';
import type { MigrationCluster, ServiceAccountStore } from '../../src/kube/client.ts';

export const MEMORY_ACCOUNT = '111122223333';

export interface MemoryIam extends IamRoles {
  roles: Map<string, RoleRecord>;
  /** One line per call that changes something: "createRole NAME", "updateTrustPolicy NAME", ... */
  writes: string[];
}

export function memoryIam(roles: RoleRecord[] = []): MemoryIam {
  const state = new Map(roles.map((role) => [role.name, role]));
  const writes: string[] = [];
  const attached = new Map<string, string[]>();
  const inline = new Map<string, Map<string, string>>();
  const change = (call: string, name: string) => {
    writes.push(`${call} ${name}`);
  };
  return {
    roles: state,
    writes,
    async getRole(name) {
      return state.get(name);
    },
    async createRole(role: NewRole) {
      change('createRole', role.name);
      const record: RoleRecord = {
        ...role,
        arn: `arn:aws:iam::${MEMORY_ACCOUNT}:role${role.path}${role.name}`,
      };
      state.set(role.name, record);
      return record;
    },
    async updateTrustPolicy(name, trustPolicy: PolicyDocument) {
      change('updateTrustPolicy', name);
      state.get(name)!.trustPolicy = trustPolicy;
    },
    async updateRole(name) {
      change('updateRole', name);
    },
    async putPermissionsBoundary(name) {
      change('putPermissionsBoundary', name);
    },
    async tagRole(name, tags) {
      change('tagRole', name);
      Object.assign(state.get(name)!.tags, tags);
    },
    async untagRole(name) {
      change('untagRole', name);
    },
    async deleteRole(name) {
      change('deleteRole', name);
      state.delete(name);
    },
    async listRoles() {
      return [...state.values()].map(({ name, arn, trustPolicy }) => ({ name, arn, trustPolicy }));
    },
    async listAttachedPolicyArns(name) {
      return attached.get(name) ?? [];
    },
    async attachPolicy(name, policyArn) {
      change('attachPolicy', name);
      attached.set(name, [...(attached.get(name) ?? []), policyArn]);
    },
    async detachPolicy(name) {
      change('detachPolicy', name);
    },
    async listInlinePolicyNames(name) {
      return [...(inline.get(name)?.keys() ?? [])];
    },
    async deleteInlinePolicy(name) {
      change('deleteInlinePolicy', name);
    },
    async getInlinePolicy(name, policyName) {
      return inline.get(name)?.get(policyName);
    },
    async putInlinePolicy(name, policyName, document) {
      change('putInlinePolicy', name);
      inline.set(name, new Map([...(inline.get(name) ?? []), [policyName, document]]));
    },
    async getOidcProvider() {
      return undefined;
    },
  };
}

export interface MemoryServiceAccounts extends ServiceAccountStore {
  /** Annotations by "namespace/name". */
  accounts: Map<string, Record<string, string>>;
  writes: string[];
}

export function memoryServiceAccounts(
  accounts: Record<string, Record<string, string>> = {},
): MemoryServiceAccounts {
  const state = new Map(Object.entries(accounts));
  const writes: string[] = [];
  return {
    accounts: state,
    writes,
    async get(namespace, name) {
      const annotations = state.get(`${namespace}/${name}`);
      return annotations === undefined ? undefined : { metadata: { namespace, name, annotations } };
    },
    async create(namespace, name, annotations) {
      writes.push(`create ${namespace}/${name}`);
      state.set(`${namespace}/${name}`, { ...annotations });
    },
    async annotate(namespace, name, annotations) {
      writes.push(`annotate ${namespace}/${name}`);
      Object.assign(state.get(`${namespace}/${name}`)!, annotations);
    },
    async removeAnnotations(namespace, name, keys) {
      writes.push(`removeAnnotations ${namespace}/${name}`);
      for (const key of keys) delete state.get(`${namespace}/${name}`)![key];
    },
  };
}

export interface MemoryCluster extends MigrationCluster {
  writes: string[];
}

/** The workloads as the cluster holds them; listing returns them whatever the namespace asked. */
export function memoryCluster(workloads: InventoryWorkload[]): MemoryCluster {
  const writes: string[] = [];
  return {
    writes,
    async listWorkloads(namespace) {
      return workloads.filter((w) => namespace === undefined || w.namespace === namespace);
    },
    async listNamespaces() {
      return [];
    },
    async listServiceAccounts() {
      return [];
    },
    async patchPodTemplate(workload) {
      writes.push(`patchPodTemplate ${workload.kind} ${workload.namespace}/${workload.name}`);
    },
  };
}
