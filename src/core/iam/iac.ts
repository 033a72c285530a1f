// The IAM resources kirsa creates, written as infrastructure code instead of API calls: Terraform's JSON
// configuration syntax (`*.tf.json`, which needs no HCL quoting) and a CloudFormation JSON template. Both
// are rendered from the same plans the API mode sends (RolePlan from role-settings.ts, ProviderPlan here),
// so the two modes cannot drift: a stack applied from this output leaves a role that `kirsa role create`
// then finds unchanged. Pure.

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

export function providerCloudFormation(plan: ProviderPlan): object {
  return {
    AWSTemplateFormatVersion: CFN_VERSION,
    Description: `IAM OIDC provider for ${plan.url}, written by kirsa`,
    Resources: {
      OidcProvider: {
        Type: 'AWS::IAM::OIDCProvider',
        Properties: {
          Url: plan.url,
          ClientIdList: plan.clientIds,
          ...(plan.thumbprints.length > 0 ? { ThumbprintList: plan.thumbprints } : {}),
        },
      },
    },
    Outputs: { ProviderArn: { Value: { Ref: 'OidcProvider' } } },
  };
}

export function roleCloudFormation(plan: RolePlan): object {
  return {
    AWSTemplateFormatVersion: CFN_VERSION,
    Description: `IAM role ${plan.name} for IRSA, written by kirsa`,
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
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
    Outputs: { RoleArn: { Value: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
  };
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

/** CloudFormation has no resource for an S3 object: the template holds the bucket policy only. */
export function issuerCloudFormation(plan: IssuerPublishPlan): object {
  return {
    AWSTemplateFormatVersion: CFN_VERSION,
    Description: `Anonymous read of the OIDC issuer documents in ${plan.bucket}, written by kirsa`,
    Resources: {
      IssuerBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: { Bucket: plan.bucket, PolicyDocument: bucketPolicy(plan) },
      },
    },
  };
}

/** The rendering of each format, so a verb picks by -o and nothing else. */
export const RENDER: Record<
  IacFormat,
  {
    provider(plan: ProviderPlan): object;
    role(plan: RolePlan): object;
    issuer(plan: IssuerPublishPlan): object;
  }
> = {
  terraform: { provider: providerTerraform, role: roleTerraform, issuer: issuerTerraform },
  cloudformation: {
    provider: providerCloudFormation,
    role: roleCloudFormation,
    issuer: issuerCloudFormation,
  },
};
