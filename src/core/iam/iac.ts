// The IAM resources kirsa creates, written as infrastructure code instead of API calls: Terraform's JSON
// configuration syntax (`*.tf.json`, which needs no HCL quoting) and a CloudFormation JSON template. Both
// are rendered from the same plans the API mode sends (RolePlan from role-settings.ts, ProviderPlan here),
// so the two modes cannot drift: a stack applied from this output leaves a role that `kirsa role create`
// then finds unchanged. `kirsa stack` merges the same per-resource documents into one configuration or
// template; nothing here is written twice. Pure.

import { KirsaError } from '../../errors.ts';
import { iamProviderHostPath } from './arn.ts';
import type { RolePlan } from './role-settings.ts';

export const IAC_FORMATS = ['terraform', 'cloudformation'] as const;
export type IacFormat = (typeof IAC_FORMATS)[number];

export function checkIacFormat(text: string): IacFormat {
  if (!(IAC_FORMATS as readonly string[]).includes(text))
    throw new KirsaError('IAC_OUTPUT_INVALID', `-o ${text} is not an output kirsa writes`, {
      hint: `give -o ${IAC_FORMATS.join(' or -o ')}, or leave -o out to call the AWS APIs`,
    });
  return text as IacFormat;
}

/** The file name ending of each format: Terraform reads every `*.tf.json` of a folder as one configuration. */
export const IAC_FILE_SUFFIX: Record<IacFormat, string> = {
  terraform: '.tf.json',
  cloudformation: '.cfn.json',
};

/** The IAM OIDC provider as kirsa would create it. */
export interface ProviderPlan {
  url: string;
  clientIds: string[];
  thumbprints: string[];
}

export function buildProviderPlan(
  issuerUrl: string,
  audiences: string[],
  thumbprints: string[],
): ProviderPlan {
  iamProviderHostPath(issuerUrl);
  return { url: issuerUrl, clientIds: audiences, thumbprints };
}

/** A name for files and resource identifiers: letters, digits, `_` and `-` only. */
export function iacName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

// --- Terraform JSON ------------------------------------------------------------------------------------------

/**
 * Terraform reads every string of a JSON configuration as a template, so a literal `${` or `%{` (an IAM
 * policy variable such as `${aws:username}`) must be doubled to stay literal.
 */
export function terraformLiteral(text: string): string {
  // A function replacer: in a replacement string `$$` itself means one `$`.
  return text.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}

/** Every string in a JSON value made literal for Terraform (keys too: tag keys are user text). */
function literalDeep(value: unknown): unknown {
  if (typeof value === 'string') return terraformLiteral(value);
  if (Array.isArray(value)) return value.map(literalDeep);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [terraformLiteral(key), literalDeep(inner)]),
    );
  return value;
}

export function providerTerraform(plan: ProviderPlan): object {
  const id = iacName(`kirsa_${iamProviderHostPath(plan.url)}`);
  return {
    resource: {
      aws_iam_openid_connect_provider: {
        [id]: literalDeep({
          url: plan.url,
          client_id_list: plan.clientIds,
          ...(plan.thumbprints.length > 0 ? { thumbprint_list: plan.thumbprints } : {}),
        }),
      },
    },
    output: { [`${id}_arn`]: { value: `\${aws_iam_openid_connect_provider.${id}.arn}` } },
  };
}

export function roleTerraform(plan: RolePlan): object {
  const id = iacName(plan.name);
  const roleRef = `aws_iam_role.${id}`;
  const resource: Record<string, Record<string, unknown>> = {
    aws_iam_role: {
      [id]: {
        ...(literalDeep({
          name: plan.name,
          path: plan.path,
          description: plan.description,
          // A JSON string, as the provider takes policies; it compares them by meaning, not by text.
          assume_role_policy: JSON.stringify(plan.trustPolicy),
          tags: plan.tags,
        }) as object),
        ...(plan.maxSessionDuration === undefined ? {} : { max_session_duration: plan.maxSessionDuration }),
        ...(plan.permissionsBoundary === undefined
          ? {}
          : { permissions_boundary: terraformLiteral(plan.permissionsBoundary) }),
      },
    },
  };
  if (plan.managedPolicyArns.length > 0) {
    // Named by the policy's name, so adding or removing another policy renames none of these (Terraform
    // would recreate a renamed attachment); a second policy of the same name gets a number.
    const attachments: Record<string, unknown> = {};
    for (const arn of plan.managedPolicyArns) {
      const base = iacName(`${id}_${arn.slice(arn.lastIndexOf('/') + 1)}`);
      let key = base;
      for (let number = 2; key in attachments; number += 1) key = `${base}_${number}`;
      attachments[key] = { role: `\${${roleRef}.name}`, policy_arn: terraformLiteral(arn) };
    }
    resource.aws_iam_role_policy_attachment = attachments;
  }
  if (plan.inlinePolicy)
    resource.aws_iam_role_policy = {
      [`${id}_inline`]: {
        name: plan.inlinePolicy.name,
        role: `\${${roleRef}.name}`,
        policy: terraformLiteral(plan.inlinePolicy.document),
      },
    };
  return { resource, output: { [`${id}_arn`]: { value: `\${${roleRef}.arn}` } } };
}

// --- CloudFormation JSON -------------------------------------------------------------------------------------

const CFN_VERSION = '2010-09-09';

/** Resources and outputs of one template, to be wrapped alone (one verb) or with others (kirsa stack). */
interface CfnFragment {
  Resources: Record<string, object>;
  Outputs: Record<string, object>;
}

function cfnTemplate(description: string, fragments: readonly CfnFragment[]): object {
  const Resources = Object.assign({}, ...fragments.map((fragment) => fragment.Resources));
  const Outputs = Object.assign({}, ...fragments.map((fragment) => fragment.Outputs));
  return {
    AWSTemplateFormatVersion: CFN_VERSION,
    Description: description,
    Resources,
    ...(Object.keys(Outputs).length > 0 ? { Outputs } : {}),
  };
}

function providerResources(plan: ProviderPlan, id: string, output: string): CfnFragment {
  return {
    Resources: {
      [id]: {
        Type: 'AWS::IAM::OIDCProvider',
        Properties: {
          Url: plan.url,
          ClientIdList: plan.clientIds,
          ...(plan.thumbprints.length > 0 ? { ThumbprintList: plan.thumbprints } : {}),
        },
      },
    },
    Outputs: { [output]: { Value: { Ref: id } } },
  };
}

function roleResources(plan: RolePlan, id: string, output: string, dependsOn?: string): CfnFragment {
  return {
    Resources: {
      [id]: {
        Type: 'AWS::IAM::Role',
        ...(dependsOn === undefined ? {} : { DependsOn: dependsOn }),
        Properties: {
          RoleName: plan.name,
          Path: plan.path,
          Description: plan.description,
          AssumeRolePolicyDocument: plan.trustPolicy,
          ...(plan.maxSessionDuration === undefined ? {} : { MaxSessionDuration: plan.maxSessionDuration }),
          ...(plan.permissionsBoundary === undefined
            ? {}
            : { PermissionsBoundary: plan.permissionsBoundary }),
          Tags: Object.entries(plan.tags).map(([Key, Value]) => ({ Key, Value })),
          ...(plan.managedPolicyArns.length > 0 ? { ManagedPolicyArns: plan.managedPolicyArns } : {}),
          ...(plan.inlinePolicy
            ? {
                Policies: [
                  {
                    PolicyName: plan.inlinePolicy.name,
                    PolicyDocument: JSON.parse(plan.inlinePolicy.document),
                  },
                ],
              }
            : {}),
        },
      },
    },
    Outputs: { [output]: { Value: { 'Fn::GetAtt': [id, 'Arn'] } } },
  };
}

export function providerCloudFormation(plan: ProviderPlan): object {
  return cfnTemplate(`IAM OIDC provider for ${plan.url}, written by kirsa`, [
    providerResources(plan, 'OidcProvider', 'ProviderArn'),
  ]);
}

export function roleCloudFormation(plan: RolePlan): object {
  return cfnTemplate(`IAM role ${plan.name} for IRSA, written by kirsa`, [
    roleResources(plan, 'Role', 'RoleArn'),
  ]);
}

// --- The issuer's bucket objects and policy ------------------------------------------------------------------

/**
 * What `issuer publish` puts in S3: the two documents under their keys, and kirsa's bucket policy statement
 * (built by the same function the API mode merges into the bucket's policy).
 */
export interface IssuerPublishPlan {
  bucket: string;
  objects: Array<{ key: string; body: string }>;
  statement: Record<string, unknown>;
}

/**
 * Said wherever a CloudFormation template holds the issuer's bucket policy: CloudFormation cannot create S3
 * objects, so the documents must still be uploaded, by publish without its policy phase.
 */
export function cloudFormationObjectsWarning(plan: IssuerPublishPlan): string {
  return `CloudFormation has no S3 object resource: upload the documents with kirsa issuer publish --skip-phases bucket-policy (keys ${plan.objects.map((object) => object.key).join(', ')})`;
}

function bucketPolicy(plan: IssuerPublishPlan) {
  return { Version: '2012-10-17', Statement: [plan.statement] };
}

export function issuerTerraform(plan: IssuerPublishPlan): object {
  const id = iacName(`kirsa_issuer_${plan.bucket}`);
  return {
    resource: {
      aws_s3_object: Object.fromEntries(
        plan.objects.map((object) => [
          iacName(`${id}_${object.key}`),
          literalDeep({
            bucket: plan.bucket,
            key: object.key,
            content: object.body,
            content_type: 'application/json',
          }),
        ]),
      ),
      // The bucket's whole policy: a configuration that already manages it should take the statement instead.
      aws_s3_bucket_policy: {
        [id]: literalDeep({ bucket: plan.bucket, policy: JSON.stringify(bucketPolicy(plan)) }),
      },
    },
  };
}

function issuerResources(plan: IssuerPublishPlan): CfnFragment {
  return {
    Resources: {
      IssuerBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: { Bucket: plan.bucket, PolicyDocument: bucketPolicy(plan) },
      },
    },
    Outputs: {},
  };
}

/** CloudFormation has no resource for an S3 object: the template holds the bucket policy only. */
export function issuerCloudFormation(plan: IssuerPublishPlan): object {
  return cfnTemplate(`Anonymous read of the OIDC issuer documents in ${plan.bucket}, written by kirsa`, [
    issuerResources(plan),
  ]);
}

// --- The whole setup as one stack ----------------------------------------------------------------------------

/** Everything `kirsa stack` writes: the issuer's objects and bucket policy, its provider, and the roles. */
export interface StackPlan {
  issuer: IssuerPublishPlan;
  provider: ProviderPlan;
  roles: RolePlan[];
}

/** Two roles of one name would be one IAM role: refused before anything is written. */
function checkRoleNames(roles: readonly RolePlan[]): void {
  const seen = new Set<string>();
  for (const role of roles) {
    if (seen.has(role.name))
      throw new KirsaError('IAC_OUTPUT_INVALID', `two roles of the stack are named ${role.name}`, {
        hint: 'give one of them another role-name (or cluster) in the roles file',
      });
    seen.add(role.name);
  }
}

/**
 * One Terraform configuration: the three verbs' own documents merged. Each role waits for the provider
 * (`depends_on`), since its trust names the provider by ARN text, which Terraform cannot see as a reference.
 */
export function stackTerraform(plan: StackPlan): object {
  checkRoleNames(plan.roles);
  const provider = providerTerraform(plan.provider) as TerraformDocument;
  const providerAddress = Object.keys(provider.resource.aws_iam_openid_connect_provider!).map(
    (id) => `aws_iam_openid_connect_provider.${id}`,
  );
  const roles = plan.roles.map((role) => {
    const document = roleTerraform(role) as TerraformDocument;
    for (const resource of Object.values(document.resource.aws_iam_role!))
      (resource as Record<string, unknown>).depends_on = providerAddress;
    return document;
  });
  return mergeTerraform([issuerTerraform(plan.issuer) as TerraformDocument, provider, ...roles]);
}

interface TerraformDocument {
  resource: Record<string, Record<string, unknown>>;
  output?: Record<string, unknown>;
}

function mergeTerraform(documents: readonly TerraformDocument[]): TerraformDocument {
  const merged: Required<TerraformDocument> = { resource: {}, output: {} };
  for (const document of documents) {
    for (const [type, resources] of Object.entries(document.resource)) {
      merged.resource[type] ??= {};
      const into = merged.resource[type];
      for (const [name, body] of Object.entries(resources)) {
        // Names come from role names and the issuer host, so a clash means two inputs name one resource.
        if (name in into)
          throw new KirsaError('IAC_OUTPUT_INVALID', `two parts of the stack both make ${type}.${name}`, {
            hint: 'give the roles distinct names in the roles file',
          });
        into[name] = body;
      }
    }
    Object.assign(merged.output, document.output ?? {});
  }
  return merged;
}

/** A CloudFormation logical ID: letters and digits only, unique in the template. */
function logicalId(prefix: string, text: string, taken: Set<string>): string {
  const base = `${prefix}${text.replace(/[^A-Za-z0-9]+/g, '')}`;
  let id = base;
  for (let number = 2; taken.has(id); number += 1) id = `${base}${number}`;
  taken.add(id);
  return id;
}

/**
 * One CloudFormation template: the bucket policy, the provider (`OidcProvider`) and one `Role<name>` per
 * role, each role depending on the provider. The S3 objects are not in it (CloudFormation has no resource
 * for one): `kirsa issuer publish --skip-phases bucket-policy` uploads them.
 */
export function stackCloudFormation(plan: StackPlan): object {
  checkRoleNames(plan.roles);
  const taken = new Set(['IssuerBucketPolicy', 'OidcProvider']);
  return cfnTemplate(
    `IRSA for the issuer ${plan.provider.url}: issuer bucket policy, OIDC provider and roles, written by kirsa`,
    [
      issuerResources(plan.issuer),
      providerResources(plan.provider, 'OidcProvider', 'ProviderArn'),
      ...plan.roles.map((role) => {
        const id = logicalId('Role', role.name, taken);
        return roleResources(role, id, `${id}Arn`, 'OidcProvider');
      }),
    ],
  );
}

/** The rendering of each format, so a verb picks by -o and nothing else. */
export const RENDER: Record<
  IacFormat,
  {
    provider(plan: ProviderPlan): object;
    role(plan: RolePlan): object;
    issuer(plan: IssuerPublishPlan): object;
    stack(plan: StackPlan): object;
  }
> = {
  terraform: {
    provider: providerTerraform,
    role: roleTerraform,
    issuer: issuerTerraform,
    stack: stackTerraform,
  },
  cloudformation: {
    provider: providerCloudFormation,
    role: roleCloudFormation,
    issuer: issuerCloudFormation,
    stack: stackCloudFormation,
  },
};
