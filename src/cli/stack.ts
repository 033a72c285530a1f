// `kirsa stack -o terraform|cloudformation`: the whole AWS side of IRSA for one issuer as ONE Terraform
// configuration or ONE CloudFormation template (the issuer's bucket objects and policy, its IAM OIDC provider,
// every role of a roles file) plus the annotated ServiceAccounts. Each part comes from the function its own
// verb's `-o` uses (issuer publish, provider create, role create), and core/iam/iac.ts merges them; so the
// stack, the per-verb output and the API mode cannot disagree. Nothing is asked of AWS or the cluster.

import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { configuredPartition } from '../aws/region.ts';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_ISSUER_DIR, DEFAULT_NAMESPACE } from '../consts.ts';
import { checkIacFormat, cloudFormationObjectsWarning, RENDER } from '../core/iam/iac.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { issuerIacPlan } from '../workflows/issuer-publish.ts';
import { providerPlan } from '../workflows/provider-create.ts';
import { collect, printNote, printWarning } from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { type RoleCreateFlags, roleIac } from './role.ts';

interface StackFlags {
  output: string;
  outputDir?: string;
  dir: string;
  bucket: string;
  region?: string;
  prefix?: string;
  accountId: string;
  audience: string[];
  thumbprint: string[];
  caFile: string[];
  roles?: string;
  annotationPrefix: string;
}

/**
 * The keys a role entry may have: role create's flags by their long name, and what each becomes. The
 * trust (provider, account, audiences) is the stack's, so those flags are not among them.
 */
const ROLE_KEYS = {
  namespace: 'string',
  'service-account': 'list',
  'role-name': 'string',
  cluster: 'string',
  'permissions-boundary': 'string',
  tag: 'tags',
  path: 'string',
  'max-session-duration': 'integer',
  description: 'string',
  'policy-arn': 'list',
  'inline-policy': 'file',
} as const;

type RoleEntryFlags = Pick<
  RoleCreateFlags,
  | 'namespace'
  | 'serviceAccount'
  | 'roleName'
  | 'cluster'
  | 'permissionsBoundary'
  | 'tag'
  | 'path'
  | 'maxSessionDuration'
  | 'description'
  | 'policyArn'
  | 'inlinePolicy'
>;

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** One entry of the roles file as role create's flags; `inline-policy` is read relative to the file. */
function roleEntryFlags(entry: unknown, where: string, fileDir: string): RoleEntryFlags {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
    throw new KirsaError('STACK_FILE_INVALID', `${where} is not a mapping of role create flags`, {
      hint: 'write each role as service-account: NS/NAME, policy-arn: [...], and so on',
    });
  const flags: Record<string, unknown> = { namespace: DEFAULT_NAMESPACE };
  for (const [key, value] of Object.entries(entry)) {
    const kind = ROLE_KEYS[key as keyof typeof ROLE_KEYS];
    const wrong = (what: string) =>
      new KirsaError('STACK_FILE_INVALID', `${where}: ${key} takes ${what}`, {
        hint: 'the keys are role create flags by their long name, with their values',
      });
    if (kind === undefined)
      throw new KirsaError('STACK_FILE_INVALID', `${where}: ${key} is not a key of a role entry`, {
        hint: `use ${Object.keys(ROLE_KEYS).join(', ')}`,
      });
    if (kind === 'string' || kind === 'file') {
      if (typeof value !== 'string') throw wrong('a string');
      flags[camelCase(key)] = kind === 'file' && !isAbsolute(value) ? resolve(fileDir, value) : value;
    } else if (kind === 'list') {
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string'))
        throw wrong('a string or a list of strings');
      flags[camelCase(key)] = list;
    } else if (kind === 'integer') {
      if (!Number.isInteger(value)) throw wrong('a whole number');
      flags[camelCase(key)] = value;
    } else {
      // Tags as role create's --tag k=v list, or as a mapping.
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) flags.tag = value;
      else if (value !== null && typeof value === 'object' && !Array.isArray(value))
        flags.tag = Object.entries(value).map(([name, text]) => `${name}=${String(text)}`);
      else throw wrong('a list of key=value or a mapping');
    }
  }
  return flags as RoleEntryFlags;
}

/** The roles file: `roles:` followed by a list of entries. */
async function readRolesFile(path: string): Promise<RoleEntryFlags[]> {
  const text = await readInputText(path, 'roles file');
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new KirsaError('FILE_SYNTAX', `${path} is not YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const roles = (document as { roles?: unknown } | null)?.roles;
  if (!Array.isArray(roles))
    throw new KirsaError('STACK_FILE_INVALID', `${path} has no roles: list`, {
      hint: 'start the file with roles: and list one entry per role (docs/iam.md)',
    });
  return roles.map((entry, index) => roleEntryFlags(entry, `${path}: roles[${index}]`, dirname(path)));
}

async function runStack(flags: StackFlags): Promise<void> {
  const format = checkIacFormat(flags.output);
  // The roles file is read first: a mistake in it costs nothing else.
  const entries = flags.roles === undefined ? [] : await readRolesFile(flags.roles);
  const issuer = await issuerIacPlan(flags);
  const provider = await providerPlan(
    {
      issuerUrl: issuer.issuerUrl,
      audience: flags.audience,
      thumbprint: flags.thumbprint,
      caFile: flags.caFile,
    },
    { warn: printWarning, inform: printNote },
  );
  const partition = configuredPartition(flags.region);
  const roles = [];
  for (const entry of entries)
    roles.push(
      await roleIac({
        ...entry,
        issuerUrl: [issuer.issuerUrl],
        accountId: flags.accountId,
        partition,
        audience: provider.clientIds,
        annotationPrefix: flags.annotationPrefix,
      }),
    );
  const plan = { issuer: issuer.plan, provider, roles: roles.map((role) => role.plan) };
  await writeIacOutput({
    format,
    outputDir: flags.outputDir,
    stem: 'kirsa-stack',
    document: RENDER[format].stack(plan),
    manifests: roles.flatMap((role) => role.manifests),
  });
  if (format === 'cloudformation') printWarning(cloudFormationObjectsWarning(issuer.plan));
}

export function registerStack(program: Command): void {
  program
    .command('stack')
    .description(
      "write the whole AWS side as one Terraform configuration or CloudFormation template: the issuer's S3 objects and bucket policy, the IAM OIDC provider, and the roles of a roles file, with their ServiceAccounts",
    )
    .requiredOption(
      '-o, --output <format>',
      'terraform (*.tf.json) or cloudformation (JSON template); nothing is sent to AWS',
    )
    .option(...IAC_OPTIONS.outputDir)
    .option('--dir <dir>', 'issuer folder: its URL and the two documents', DEFAULT_ISSUER_DIR)
    .requiredOption('--bucket <bucket>', 'S3 bucket the issuer URL serves')
    .option('--region <region>', 'bucket region; its partition names the ARNs (default: AWS_REGION)')
    .option('--prefix <prefix>', 'key prefix of the documents (default: from the issuer URL)')
    .requiredOption('--account-id <id>', 'AWS account of the provider and the roles')
    .option(
      '--audience <audience>',
      'client ID of the provider, and the audience every role requires (repeatable; default sts.amazonaws.com)',
      collect,
      [],
    )
    .option(
      '--thumbprint <value>',
      'provider thumbprint: auto, none (default) or a 40-hex SHA-1, as for provider create (repeatable)',
      collect,
      [],
    )
    .option('--ca-file <file>', 'extra trusted CA (PEM) for --thumbprint auto (repeatable)', collect, [])
    .option(
      '--roles <file>',
      'YAML file listing the roles: roles: [{service-account: NS/NAME, policy-arn: [...], ...}], role create flags by long name',
    )
    .option(
      '--annotation-prefix <prefix>',
      'service-account annotation prefix the webhook reads',
      DEFAULT_ANNOTATION_PREFIX,
    )
    .action((flags: StackFlags) => runStack(flags));
}
