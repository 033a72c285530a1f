// IAM roles and OIDC providers, behind the small interface `kirsa role create`, `explain --role-arn` and the
// doctor use. The SDK's errors become KirsaErrors here, by their error name (never their message text), so
// the verbs see NOT_FOUND / PERMISSION / UNREACHABLE / INPUT_INVALID and a hint.

import type { IAMClient } from '@aws-sdk/client-iam';
import { issuerHostPath } from '../core/iam/arn.ts';
import { type PolicyDocument, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import { KirsaError } from '../errors.ts';
import { awsError, awsErrorCode } from './errors.ts';
import { iamRegion } from './region.ts';

export interface RoleRecord {
  name: string;
  arn: string;
  path: string;
  trustPolicy: PolicyDocument;
  description?: string | undefined;
  maxSessionDuration?: number | undefined;
  permissionsBoundary?: string | undefined;
  tags: Record<string, string>;
}

/** What CreateRole takes: the role as kirsa plans it (core/iam/role-settings.ts), less its policies. */
export interface NewRole {
  name: string;
  path: string;
  trustPolicy: PolicyDocument;
  description: string;
  maxSessionDuration?: number | undefined;
  permissionsBoundary?: string | undefined;
  tags: Record<string, string>;
}

export interface OidcProviderRecord {
  arn: string;
  /** The provider URL as IAM stores it: host/path, without https://. */
  url: string;
  clientIds: string[];
  thumbprints: string[];
}

/** What kirsa needs from IAM; tests pass the real one pointed at moto. */
export interface IamRoles {
  getRole(name: string): Promise<RoleRecord | undefined>;
  createRole(role: NewRole): Promise<RoleRecord>;
  updateTrustPolicy(name: string, trustPolicy: PolicyDocument): Promise<void>;
  updateRole(name: string, fields: { description?: string; maxSessionDuration?: number }): Promise<void>;
  putPermissionsBoundary(name: string, policyArn: string): Promise<void>;
  tagRole(name: string, tags: Record<string, string>): Promise<void>;
  untagRole(name: string, keys: string[]): Promise<void>;
  deleteRole(name: string): Promise<void>;
  /** Every role of the account with its trust policy (ListRoles, paged). */
  listRoles(): Promise<Array<{ name: string; arn: string; trustPolicy: PolicyDocument }>>;
  listAttachedPolicyArns(name: string): Promise<string[]>;
  attachPolicy(name: string, policyArn: string): Promise<void>;
  detachPolicy(name: string, policyArn: string): Promise<void>;
  listInlinePolicyNames(name: string): Promise<string[]>;
  deleteInlinePolicy(name: string, policyName: string): Promise<void>;
  /** The inline policy's document text (decoded), or undefined when the role has none by that name. */
  getInlinePolicy(name: string, policyName: string): Promise<string | undefined>;
  putInlinePolicy(name: string, policyName: string, document: string): Promise<void>;
  getOidcProvider(arn: string): Promise<OidcProviderRecord | undefined>;
}

export interface IamOptions {
  endpointUrl?: string;
  region?: string;
}

const IAM_HINTS = {
  AWS_ACCESS_DENIED:
    'run with credentials allowed to manage IAM roles (iam:GetRole, iam:CreateRole, iam:UpdateAssumeRolePolicy, ...)',
  AWS_LIMIT_EXCEEDED:
    'a trust policy over the size quota needs fewer service accounts per role, or a raised quota',
} as const;

/** Turns an SDK failure into the KirsaError a user can act on. */
function iamError(error: unknown, doing: string): KirsaError {
  return awsError(error, doing, IAM_HINTS);
}

function isNotFound(error: unknown): boolean {
  return awsErrorCode(error) === 'AWS_NOT_FOUND';
}

type IamSdk = typeof import('@aws-sdk/client-iam');

export function createIamRoles(options: IamOptions = {}): IamRoles {
  // The SDK is imported on the first call, not at load: every kirsa command imports this module, and only
  // the few that talk to IAM should pay for the SDK.
  let connection: Promise<{ sdk: IamSdk; client: IAMClient }> | undefined;
  const connect = () =>
    (connection ??= import('@aws-sdk/client-iam').then((sdk) => ({
      sdk,
      client: new sdk.IAMClient({
        region: iamRegion(options),
        ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
        maxAttempts: 3,
      }),
    })));
  const toRecord = (role: {
    RoleName?: string | undefined;
    Arn?: string | undefined;
    Path?: string | undefined;
    AssumeRolePolicyDocument?: string | undefined;
    Description?: string | undefined;
    MaxSessionDuration?: number | undefined;
    PermissionsBoundary?: { PermissionsBoundaryArn?: string | undefined } | undefined;
    Tags?: Array<{ Key?: string | undefined; Value?: string | undefined }> | undefined;
  }): RoleRecord => ({
    name: role.RoleName ?? '',
    arn: role.Arn ?? '',
    path: role.Path ?? '/',
    // IAM returns the document URL-encoded; the parser decodes it.
    trustPolicy: parsePolicyDocument(role.AssumeRolePolicyDocument ?? ''),
    description: role.Description,
    maxSessionDuration: role.MaxSessionDuration,
    permissionsBoundary: role.PermissionsBoundary?.PermissionsBoundaryArn,
    tags: Object.fromEntries((role.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
  });
  /** One SDK call whose failure becomes a KirsaError naming what was being done. */
  const call = async (doing: string, send: (sdk: IamSdk, client: IAMClient) => Promise<unknown>) => {
    const { sdk, client } = await connect();
    try {
      await send(sdk, client);
    } catch (error) {
      throw iamError(error, doing);
    }
  };
  return {
    async getRole(name) {
      const { sdk, client } = await connect();
      try {
        const { Role } = await client.send(new sdk.GetRoleCommand({ RoleName: name }));
        return Role ? toRecord(Role) : undefined;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw iamError(error, `GetRole ${name}`);
      }
    },
    async createRole(role) {
      const { sdk, client } = await connect();
      try {
        const { Role } = await client.send(
          new sdk.CreateRoleCommand({
            RoleName: role.name,
            Path: role.path,
            AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy),
            Description: role.description,
            ...(role.maxSessionDuration === undefined ? {} : { MaxSessionDuration: role.maxSessionDuration }),
            ...(role.permissionsBoundary === undefined
              ? {}
              : { PermissionsBoundary: role.permissionsBoundary }),
            Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        if (!Role) throw new KirsaError('AWS_EMPTY_RESPONSE', `CreateRole ${role.name} returned no role`);
        return toRecord(Role);
      } catch (error) {
        if (error instanceof KirsaError) throw error;
        throw iamError(error, `CreateRole ${role.name}`);
      }
    },
    updateRole: (name, fields) =>
      call(`UpdateRole ${name}`, (sdk, client) =>
        client.send(
          new sdk.UpdateRoleCommand({
            RoleName: name,
            ...(fields.description === undefined ? {} : { Description: fields.description }),
            ...(fields.maxSessionDuration === undefined
              ? {}
              : { MaxSessionDuration: fields.maxSessionDuration }),
          }),
        ),
      ),
    putPermissionsBoundary: (name, policyArn) =>
      call(`PutRolePermissionsBoundary ${policyArn} on ${name}`, (sdk, client) =>
        client.send(
          new sdk.PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: policyArn }),
        ),
      ),
    tagRole: (name, tags) =>
      call(`TagRole ${name}`, (sdk, client) =>
        client.send(
          new sdk.TagRoleCommand({
            RoleName: name,
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      ),
    untagRole: (name, keys) =>
      call(`UntagRole ${name}`, (sdk, client) =>
        client.send(new sdk.UntagRoleCommand({ RoleName: name, TagKeys: keys })),
      ),
    deleteRole: (name) =>
      call(`DeleteRole ${name}`, (sdk, client) => client.send(new sdk.DeleteRoleCommand({ RoleName: name }))),
    async listRoles() {
      const { sdk, client } = await connect();
      const roles: Array<{ name: string; arn: string; trustPolicy: PolicyDocument }> = [];
      let marker: string | undefined;
      try {
        do {
          const page = await client.send(new sdk.ListRolesCommand({ Marker: marker }));
          for (const role of page.Roles ?? []) {
            const record = toRecord(role);
            roles.push({ name: record.name, arn: record.arn, trustPolicy: record.trustPolicy });
          }
          marker = page.IsTruncated ? page.Marker : undefined;
        } while (marker);
      } catch (error) {
        throw iamError(error, 'ListRoles');
      }
      return roles;
    },
    detachPolicy: (name, policyArn) =>
      call(`DetachRolePolicy ${policyArn} from ${name}`, (sdk, client) =>
        client.send(new sdk.DetachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn })),
      ),
    async listInlinePolicyNames(name) {
      const { sdk, client } = await connect();
      const names: string[] = [];
      let marker: string | undefined;
      try {
        do {
          const page = await client.send(new sdk.ListRolePoliciesCommand({ RoleName: name, Marker: marker }));
          names.push(...(page.PolicyNames ?? []));
          marker = page.IsTruncated ? page.Marker : undefined;
        } while (marker);
      } catch (error) {
        throw iamError(error, `ListRolePolicies ${name}`);
      }
      return names;
    },
    deleteInlinePolicy: (name, policyName) =>
      call(`DeleteRolePolicy ${policyName} of ${name}`, (sdk, client) =>
        client.send(new sdk.DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName })),
      ),
    async updateTrustPolicy(name, trustPolicy) {
      const { sdk, client } = await connect();
      try {
        await client.send(
          new sdk.UpdateAssumeRolePolicyCommand({
            RoleName: name,
            PolicyDocument: JSON.stringify(trustPolicy),
          }),
        );
      } catch (error) {
        throw iamError(error, `UpdateAssumeRolePolicy ${name}`);
      }
    },
    async listAttachedPolicyArns(name) {
      const { sdk, client } = await connect();
      const arns: string[] = [];
      let marker: string | undefined;
      try {
        do {
          const page = await client.send(
            new sdk.ListAttachedRolePoliciesCommand({ RoleName: name, Marker: marker }),
          );
          for (const policy of page.AttachedPolicies ?? []) if (policy.PolicyArn) arns.push(policy.PolicyArn);
          marker = page.IsTruncated ? page.Marker : undefined;
        } while (marker);
      } catch (error) {
        throw iamError(error, `ListAttachedRolePolicies ${name}`);
      }
      return arns;
    },
    async attachPolicy(name, policyArn) {
      const { sdk, client } = await connect();
      try {
        await client.send(new sdk.AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }));
      } catch (error) {
        throw iamError(error, `AttachRolePolicy ${policyArn} to ${name}`);
      }
    },
    async getInlinePolicy(name, policyName) {
      const { sdk, client } = await connect();
      try {
        const { PolicyDocument } = await client.send(
          new sdk.GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }),
        );
        return PolicyDocument === undefined ? undefined : decodeURIComponent(PolicyDocument);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw iamError(error, `GetRolePolicy ${policyName} of ${name}`);
      }
    },
    async putInlinePolicy(name, policyName, document) {
      const { sdk, client } = await connect();
      try {
        await client.send(
          new sdk.PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: document }),
        );
      } catch (error) {
        throw iamError(error, `PutRolePolicy ${policyName} on ${name}`);
      }
    },
    async getOidcProvider(arn) {
      const { sdk, client } = await connect();
      try {
        const answer = await client.send(
          new sdk.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
        );
        return {
          arn,
          url: issuerHostPath(answer.Url ?? ''),
          clientIds: answer.ClientIDList ?? [],
          thumbprints: answer.ThumbprintList ?? [],
        };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw iamError(error, `GetOpenIDConnectProvider ${arn}`);
      }
    },
  };
}

/** The account of the credentials in use (STS GetCallerIdentity), for commands that default to it. */
export async function callerAccountId(options: IamOptions = {}): Promise<string> {
  const sdk = await import('@aws-sdk/client-sts');
  const client = new sdk.STSClient({
    region: iamRegion(options),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
  });
  try {
    const { Account } = await client.send(new sdk.GetCallerIdentityCommand({}));
    if (!Account) throw new KirsaError('AWS_EMPTY_RESPONSE', 'GetCallerIdentity returned no account');
    return Account;
  } catch (error) {
    if (error instanceof KirsaError) throw error;
    throw iamError(error, 'GetCallerIdentity');
  } finally {
    client.destroy();
  }
}
