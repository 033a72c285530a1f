// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Terraform templates and IAM policy variables, meant literally

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KirsaError } from '../../errors.ts';
import {
  buildProviderPlan,
  checkIacFormat,
  cloudFormationObjectsWarning,
  iacName,
  issuerCloudFormation,
  issuerTerraform,
  providerCloudFormation,
  providerTerraform,
  roleCloudFormation,
  roleTerraform,
  stackCloudFormation,
  stackTerraform,
  terraformLiteral,
} from './iac.ts';
import { buildRolePlan } from './role-settings.ts';
import { buildTrustPolicy } from './trust-policy.ts';

const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/a';
const POLICY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const SAME_NAME = 'arn:aws:iam::111122223333:policy/ReadOnlyAccess';
const inlineDocument = JSON.stringify({
  Statement: [{ Action: 's3:GetObject', Effect: 'Allow', Resource: 'arn:aws:s3:::b/${aws:userid}/*' }],
  Version: '2012-10-17',
});

const trustPolicy = buildTrustPolicy({
  providerArns: [PROVIDER],
  serviceAccounts: [{ namespace: 'payments', name: 'api' }],
  audiences: ['sts.amazonaws.com'],
});
const plan = buildRolePlan({
  name: 'kirsa.prod.payments.api',
  partition: 'aws',
  accountId: '111122223333',
  trustPolicy,
  subjects: ['system:serviceaccount:payments:api'],
  settings: {
    path: '/irsa/',
    maxSessionDuration: 7200,
    permissionsBoundary: 'arn:aws:iam::111122223333:policy/boundary',
    tags: { team: 'a${b}' },
  },
  managedPolicyArns: [POLICY, SAME_NAME],
  inlinePolicy: inlineDocument,
});

type Json = Record<string, Record<string, Record<string, Record<string, unknown>>>>;

describe('IaC output from the role plan', () => {
  test('-o takes terraform or cloudformation only', () => {
    assert.equal(checkIacFormat('terraform'), 'terraform');
    assert.throws(
      () => checkIacFormat('pulumi'),
      (error: unknown) => error instanceof KirsaError && error.code === 'IAC_OUTPUT_INVALID',
    );
  });

  test('Terraform: every setting of the plan, strings made literal, one attachment per policy', () => {
    const document = roleTerraform(plan) as Json;
    const role = document.resource!.aws_iam_role!.kirsa_prod_payments_api!;
    assert.equal(role.name, plan.name);
    assert.equal(role.path, '/irsa/');
    assert.equal(role.max_session_duration, 7200);
    assert.equal(role.permissions_boundary, plan.permissionsBoundary);
    assert.deepEqual(JSON.parse(role.assume_role_policy as string), trustPolicy);
    // Terraform would read ${b} as an interpolation; doubled, it stays the text the user gave.
    assert.equal((role.tags as Record<string, string>).team, 'a$${b}');
    assert.deepEqual(
      Object.entries(document.resource!.aws_iam_role_policy_attachment!).map(([key, value]) => [
        key,
        value.policy_arn,
      ]),
      [
        ['kirsa_prod_payments_api_ReadOnlyAccess', POLICY],
        ['kirsa_prod_payments_api_ReadOnlyAccess_2', SAME_NAME],
      ],
    );
    const inline = document.resource!.aws_iam_role_policy!.kirsa_prod_payments_api_inline!;
    assert.equal(inline.name, 'kirsa-inline');
    assert.equal(inline.policy, terraformLiteral(inlineDocument));
    assert.match(inline.policy as string, /\$\$\{aws:userid\}/);
    assert.equal(inline.role, '${aws_iam_role.kirsa_prod_payments_api.name}');
  });

  test('CloudFormation: the same settings, policies as objects, tags as a list', () => {
    const template = roleCloudFormation(plan) as {
      Resources: { Role: { Properties: Record<string, unknown> } };
    };
    const properties = template.Resources.Role.Properties;
    assert.deepEqual(properties.AssumeRolePolicyDocument, trustPolicy);
    assert.equal(properties.Path, '/irsa/');
    assert.equal(properties.MaxSessionDuration, 7200);
    assert.deepEqual(properties.ManagedPolicyArns, [POLICY, SAME_NAME]);
    assert.deepEqual(properties.Policies, [
      { PolicyName: 'kirsa-inline', PolicyDocument: JSON.parse(inlineDocument) },
    ]);
    assert.deepEqual(
      Object.fromEntries(
        (properties.Tags as Array<{ Key: string; Value: string }>).map((tag) => [tag.Key, tag.Value]),
      ),
      plan.tags,
    );
  });

  test('the provider in both formats; no thumbprint list when none is given', () => {
    const provider = buildProviderPlan('https://oidc.example.com/a', ['sts.amazonaws.com'], []);
    const terraform = providerTerraform(provider) as Json;
    assert.deepEqual(terraform.resource!.aws_iam_openid_connect_provider!.kirsa_oidc_example_com_a, {
      url: 'https://oidc.example.com/a',
      client_id_list: ['sts.amazonaws.com'],
    });
    const cloudFormation = providerCloudFormation({ ...provider, thumbprints: ['a'.repeat(40)] }) as {
      Resources: { OidcProvider: { Properties: unknown } };
    };
    assert.deepEqual(cloudFormation.Resources.OidcProvider.Properties, {
      Url: 'https://oidc.example.com/a',
      ClientIdList: ['sts.amazonaws.com'],
      ThumbprintList: ['a'.repeat(40)],
    });
    assert.throws(() => buildProviderPlan('http://oidc.example.com', ['sts.amazonaws.com'], []), KirsaError);
  });

  test('the issuer: both objects as JSON and the one statement; CloudFormation has the policy only', () => {
    const statement = { Sid: 'KirsaPublicIssuerDocuments', Effect: 'Allow', Principal: '*' };
    const plan = {
      bucket: 'b',
      objects: [
        { key: 'c/.well-known/openid-configuration', body: '{"issuer": "x"}' },
        { key: 'c/keys.json', body: '{"keys": []}' },
      ],
      statement,
    };
    const terraform = issuerTerraform(plan) as Json;
    assert.deepEqual(
      Object.values(terraform.resource!.aws_s3_object!).map((object) => [object.key, object.content_type]),
      [
        ['c/.well-known/openid-configuration', 'application/json'],
        ['c/keys.json', 'application/json'],
      ],
    );
    const policy = terraform.resource!.aws_s3_bucket_policy!.kirsa_issuer_b!;
    assert.deepEqual(JSON.parse(policy.policy as string), { Version: '2012-10-17', Statement: [statement] });
    const template = issuerCloudFormation(plan) as { Resources: Record<string, { Type: string }> };
    assert.deepEqual(
      Object.values(template.Resources).map((resource) => resource.Type),
      ['AWS::S3::BucketPolicy'],
    );
    assert.match(
      cloudFormationObjectsWarning(plan),
      /--skip-phases bucket-policy \(keys c\/\.well-known\/openid-configuration, c\/keys\.json\)$/,
    );
  });

  test('identifiers keep letters, digits, _ and -', () => {
    assert.equal(iacName('kirsa.prod.payments.api'), 'kirsa_prod_payments_api');
    assert.equal(iacName('1abc'), '_1abc');
    assert.equal(iacName('role-a+b=c,d@e'), 'role-a_b_c_d_e');
  });

  test('the stack: the parts as their own commands render them, each role after the provider', () => {
    const provider = buildProviderPlan('https://oidc.example.com/a', ['sts.amazonaws.com'], []);
    const issuer = {
      bucket: 'b',
      objects: [{ key: 'a/keys.json', body: '{"keys": []}' }],
      statement: { Sid: 'KirsaPublicIssuerDocuments' },
    };
    const other = {
      ...plan,
      name: 'kirsa-prod-payments-api',
      managedPolicyArns: [],
      inlinePolicy: undefined,
    };
    const stack = { issuer, provider, roles: [plan, other] };

    const terraform = stackTerraform(stack) as Json;
    const role = roleTerraform(plan) as Json;
    const { depends_on: dependsOn, ...stackRole } =
      terraform.resource!.aws_iam_role!.kirsa_prod_payments_api!;
    assert.deepEqual(stackRole, role.resource!.aws_iam_role!.kirsa_prod_payments_api);
    assert.deepEqual(dependsOn, ['aws_iam_openid_connect_provider.kirsa_oidc_example_com_a']);
    assert.deepEqual(
      terraform.resource!.aws_iam_role_policy_attachment,
      role.resource!.aws_iam_role_policy_attachment,
    );
    assert.deepEqual(
      terraform.resource!.aws_s3_object,
      (issuerTerraform(issuer) as Json).resource!.aws_s3_object,
    );
    assert.deepEqual(Object.keys(terraform.output as object), [
      'kirsa_oidc_example_com_a_arn',
      'kirsa_prod_payments_api_arn',
      'kirsa-prod-payments-api_arn',
    ]);

    const template = stackCloudFormation(stack) as {
      Resources: Record<string, { Type: string; DependsOn?: string; Properties: unknown }>;
      Outputs: Record<string, unknown>;
    };
    // kirsa.prod.payments.api and kirsa-prod-payments-api are one ID in letters and digits: numbered.
    assert.deepEqual(Object.keys(template.Resources), [
      'IssuerBucketPolicy',
      'OidcProvider',
      'Rolekirsaprodpaymentsapi',
      'Rolekirsaprodpaymentsapi2',
    ]);
    const single = roleCloudFormation(plan) as { Resources: { Role: { Properties: unknown } } };
    assert.deepEqual(
      template.Resources.Rolekirsaprodpaymentsapi!.Properties,
      single.Resources.Role.Properties,
    );
    assert.equal(template.Resources.Rolekirsaprodpaymentsapi2!.DependsOn, 'OidcProvider');
    assert.deepEqual(Object.keys(template.Outputs), [
      'ProviderArn',
      'RolekirsaprodpaymentsapiArn',
      'Rolekirsaprodpaymentsapi2Arn',
    ]);
  });

  test('the stack refuses two roles of one name in both formats', () => {
    const provider = buildProviderPlan('https://oidc.example.com/a', ['sts.amazonaws.com'], []);
    const issuer = { bucket: 'b', objects: [], statement: {} };
    for (const render of [stackTerraform, stackCloudFormation])
      assert.throws(
        () => render({ issuer, provider, roles: [plan, plan] }),
        (error: unknown) => error instanceof KirsaError && error.code === 'IAC_OUTPUT_INVALID',
      );
  });
});
