// Terraform for the tests that apply kirsa's `-o terraform` output: the binary (KIRSA_TERRAFORM, else
// `terraform` on PATH) and a filesystem mirror holding the hashicorp/aws provider (KIRSA_TF_PLUGIN_DIR,
// else /opt/tf-plugins), since the registry is out of reach here. Neither can be installed by the project
// (no package registry this project reaches carries them), so outside CI a missing one skips with the
// reason; in CI, whose machines have both, it fails, as a missing real part does.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Terraform {
  binary: string;
  pluginDir: string;
}

async function findTerraform(): Promise<Terraform> {
  const binary = process.env.KIRSA_TERRAFORM ?? 'terraform';
  const pluginDir = process.env.KIRSA_TF_PLUGIN_DIR ?? '/opt/tf-plugins';
  try {
    await run(binary, ['version'], {
      env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '' },
    });
  } catch (error) {
    throw new Error(`terraform is not runnable (${binary}): ${(error as Error).message}`);
  }
  if (!existsSync(join(pluginDir, 'registry.terraform.io/hashicorp/aws')))
    throw new Error(
      `no hashicorp/aws provider under ${pluginDir}/registry.terraform.io (set KIRSA_TF_PLUGIN_DIR)`,
    );
  return { binary, pluginDir };
}

/** Terraform, or the reason it cannot run here (outside CI only: in CI this throws). */
export async function terraformOrReason(): Promise<Terraform | string> {
  try {
    return await findTerraform();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    return (error as Error).message;
  }
}

/**
 * Points the configuration in `dir` at moto and the provider mirror: writes the provider block (the
 * endpoints, and the checks that would call real AWS switched off) into `dir`, and returns the environment
 * a `terraform` command there needs (the CLI configuration that takes hashicorp/aws from the mirror only).
 */
export async function pointAtMoto(
  terraform: Terraform,
  dir: string,
  endpoint: string,
): Promise<Record<string, string>> {
  const cliConfig = join(dir, 'terraform-cli.tfrc');
  await writeFile(
    cliConfig,
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(terraform.pluginDir)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
  );
  await writeFile(
    join(dir, 'moto-provider.tf.json'),
    JSON.stringify({
      terraform: { required_providers: { aws: { source: 'hashicorp/aws' } } },
      provider: {
        aws: {
          region: 'us-east-1',
          access_key: 'testing',
          secret_key: 'testing',
          skip_credentials_validation: true,
          skip_requesting_account_id: true,
          skip_metadata_api_check: true,
          s3_use_path_style: true,
          endpoints: [{ iam: endpoint, sts: endpoint, s3: endpoint }],
        },
      },
    }),
  );
  return { TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
}

/** Runs `terraform init` and `apply` in `dir`, pointed at moto (pointAtMoto). */
export async function applyAgainstMoto(terraform: Terraform, dir: string, endpoint: string): Promise<string> {
  const env = {
    ...process.env,
    ...(await pointAtMoto(terraform, dir, endpoint)),
    TF_DATA_DIR: join(dir, '.terraform'),
  };
  const options = { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 };
  await run(terraform.binary, ['init', '-input=false', '-no-color'], options);
  const { stdout } = await run(
    terraform.binary,
    ['apply', '-auto-approve', '-input=false', '-no-color'],
    options,
  );
  return stdout;
}
