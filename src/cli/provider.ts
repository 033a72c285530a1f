// `kirsa provider create|delete`: the IAM OIDC provider for the issuer. The work is in
// src/workflows/provider-create.ts and provider-delete.ts; this file maps the flags to their inputs and
// prints what comes back: the ARN on standard output, what was done on standard error.

import type { Command } from 'commander';
import { DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { issuerHostPath } from '../core/iam/arn.ts';
import { checkIacFormat, RENDER } from '../core/iam/iac.ts';
import { type PhaseOutcome, SKIPPED_BY_FLAG } from '../workflows/phases.ts';
import {
  createProvider,
  PROVIDER_PHASES,
  type ProviderInput,
  providerPlan,
} from '../workflows/provider-create.ts';
import { deleteProvider, PROVIDER_DELETE_PHASES } from '../workflows/provider-delete.ts';
import { collect, printNote, printWarning } from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson } from './phases.ts';

/** Where provider create's validation tells what it found (a fetched thumbprint, a questionable URL). */
const PROVIDER_LISTENERS = { warn: printWarning, inform: printNote };

interface ProviderFlags extends ProviderInput {
  skipPhases?: string[];
  output?: string;
  outputDir?: string;
}

interface ProviderDeleteFlags {
  issuerUrl: string;
  force?: boolean;
  region?: string;
  endpointUrl?: string;
  skipPhases?: string[];
}

/** The ARN on standard output, for scripts; what was done on standard error, for the person. */
function report(phase: { name: string }, outcome: PhaseOutcome): void {
  for (const line of outcome.lines ?? []) process.stdout.write(`${line}\n`);
  printNote(outcome === SKIPPED_BY_FLAG ? `skipped: ${phase.name} (--skip-phases)` : outcome.detail);
}

/** After the provider: the role for a service account, trusting it (the README's step 4). */
function nextAfterProvider(arn: string | undefined): string[] {
  return arn === undefined
    ? []
    : [
        `kirsa role create -n <namespace> --service-account <name> --provider-arn ${arn} --policy-arn <policy ARN>`,
      ];
}

async function runProviderCreate(flags: ProviderFlags): Promise<void> {
  const { skipPhases, output, outputDir, ...input } = flags;
  if (output !== undefined && output !== 'json') {
    const format = checkIacFormat(output);
    await writeIacOutput({
      format,
      outputDir,
      stem: `provider-${issuerHostPath(flags.issuerUrl)}`,
      document: RENDER[format].provider(await providerPlan(input, PROVIDER_LISTENERS)),
    });
    return;
  }
  const json = output === 'json';
  const phases: PhaseJson[] = [];
  const { arn } = await createProvider(input, {
    ...PROVIDER_LISTENERS,
    skip: skipPhases ?? [],
    report: json ? collectPhases(phases) : report,
  });
  // -o json: the provider's ARN, the phase, and the next command, as docs/cli-json.md describes.
  finishVerb(
    json,
    json ? { arn: arn ?? null, issuerUrl: flags.issuerUrl, phases } : {},
    nextAfterProvider(arn),
  );
}

export function registerProvider(program: Command): void {
  const provider = program
    .command('provider')
    .description('the IAM OIDC identity provider that trusts the issuer');
  const create = provider
    .command('create')
    .description(
      'create the IAM OIDC provider, or add missing audiences and thumbprints to it; prints its ARN',
    )
    .requiredOption('--issuer-url <url>', 'the issuer URL, exactly as in the tokens (iss)')
    .option(
      '--audience <audience>',
      `client ID the tokens carry as aud (repeatable; default ${DEFAULT_TOKEN_AUDIENCE})`,
      collect,
      [],
    )
    .option(
      '--thumbprint <value>',
      'auto (compute from the jwks_uri host), none (IAM derives it; default), or a 40-hex SHA-1 (repeatable)',
      collect,
      [],
    )
    .option(
      '--region <region>',
      'AWS region for the IAM client (default: AWS_REGION, else us-east-1: IAM is global)',
    )
    .option('--endpoint-url <url>', 'another IAM endpoint, e.g. a test server')
    .option('--ca-file <file>', 'extra trusted CA (PEM) for --thumbprint auto (repeatable)', collect, [])
    .option(...IAC_OPTIONS.output)
    .option(...IAC_OPTIONS.outputDir);
  addPhaseOptions(create, PROVIDER_PHASES).action((flags: ProviderFlags) => runProviderCreate(flags));
  const remove = provider
    .command('delete')
    .description('delete the IAM OIDC provider of an issuer; refused while roles trust it (idempotent)')
    .requiredOption('--issuer-url <url>', 'the issuer URL the provider was created for')
    .option('--force', 'delete it even while roles trust it (their pods then get no credentials)')
    .option(
      '--region <region>',
      'AWS region for the IAM client (default: AWS_REGION, else us-east-1: IAM is global)',
    )
    .option('--endpoint-url <url>', 'another IAM endpoint, e.g. a test server');
  addPhaseOptions(remove, PROVIDER_DELETE_PHASES).action(({ skipPhases, ...input }: ProviderDeleteFlags) =>
    deleteProvider(input, { skip: skipPhases ?? [], report }),
  );
}
