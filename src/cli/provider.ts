// `kirsa provider create`: the IAM OIDC provider for the issuer, idempotent. Run it twice and the second run
// only adds what is missing (audiences, thumbprints); it never removes anything.

import type { Command } from 'commander';
import { DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { issuerHostPath } from '../core/iam/arn.ts';
import { buildProviderPlan, checkIacFormat, type ProviderPlan, RENDER } from '../core/iam/iac.ts';
import {
  checkProviderInput,
  providerAudiences,
  THUMBPRINT_AUTO,
  thumbprintChoices,
} from '../core/iam/oidc-provider.ts';
import { federatedPrincipals } from '../core/iam/trust-policy.ts';
import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { issuerThumbprint } from '../issuer/thumbprint.ts';
import { type Phase, type PhaseOutcome, runPhases, SKIPPED_BY_FLAG } from '../workflows/phases.ts';
import { collect } from './flags.ts';
import { IAC_OPTIONS, writeIacOutput } from './iac-output.ts';
import { addPhaseOptions, collectPhases, finishVerb, type PhaseJson } from './phases.ts';

/**
 * The provider as provider create would make it, after the same checks as the API mode (its validation
 * phase), rendered instead of sent: by `provider create -o` and by `kirsa stack`.
 */
export async function providerPlanFromFlags(flags: ProviderFlags): Promise<ProviderPlan> {
  const context: ProviderContext = { flags, audiences: [], thumbprints: [] };
  await PROVIDER_PHASES[0]!.validate!(context);
  return buildProviderPlan(flags.issuerUrl, context.audiences, context.thumbprints);
}

export interface ProviderFlags {
  issuerUrl: string;
  audience: string[];
  thumbprint: string[];
  region?: string;
  endpointUrl?: string;
  caFile: string[];
  skipPhases?: string[];
  output?: string;
  outputDir?: string;
}

interface ProviderContext {
  flags: ProviderFlags;
  audiences: string[];
  thumbprints: string[];
}

const PROVIDER_PHASES: Array<Phase<ProviderContext>> = [
  {
    name: 'provider',
    description: 'create the IAM OIDC provider, or add the audiences and thumbprints it lacks',
    async validate(context) {
      const { flags } = context;
      const { warnings } = checkIssuerUrl(flags.issuerUrl);
      for (const warning of warnings) process.stderr.write(`kirsa: warning: ${warning}\n`);
      context.audiences = providerAudiences(flags.audience);
      for (const choice of thumbprintChoices(flags.thumbprint)) {
        if (choice !== THUMBPRINT_AUTO) {
          context.thumbprints.push(choice);
          continue;
        }
        const result = await issuerThumbprint(flags.issuerUrl, await trustedCertificates(flags.caFile));
        process.stderr.write(
          `thumbprint ${result.thumbprint} of ${result.top.subject} (${result.host}:${result.port})\n`,
        );
        if (result.publiclyTrusted)
          process.stderr.write('note: a public CA signs that chain, so AWS ignores the thumbprint anyway\n');
        context.thumbprints.push(result.thumbprint);
      }
      context.thumbprints = [...new Set(context.thumbprints)];
      checkProviderInput(context.audiences, context.thumbprints);
    },
    async run(context) {
      // Loaded here, not at the top: the AWS SDK costs every other kirsa command ~200 ms to import.
      const { ensureOidcProvider, iamPortFor } = await import('../aws/iam-provider.ts');
      const iam = iamPortFor({ region: context.flags.region, endpointUrl: context.flags.endpointUrl });
      const result = await ensureOidcProvider(iam, {
        issuer: context.flags.issuerUrl,
        audiences: context.audiences,
        thumbprints: context.thumbprints,
      });
      const added = [
        ...result.addedAudiences.map((audience) => `audience ${audience}`),
        ...result.addedThumbprints.map((thumbprint) => `thumbprint ${thumbprint}`),
      ];
      return {
        status: result.created ? 'created' : added.length > 0 ? 'updated' : 'unchanged',
        detail: result.created
          ? `created the provider for ${context.flags.issuerUrl} (${added.join(', ')})`
          : added.length > 0
            ? `the provider existed; added ${added.join(', ')}`
            : 'the provider existed with everything asked; nothing changed',
        lines: [result.arn],
      };
    },
  },
];

interface ProviderDeleteFlags {
  issuerUrl: string;
  force?: boolean;
  region?: string;
  endpointUrl?: string;
  skipPhases?: string[];
}

interface ProviderDeleteContext {
  flags: ProviderDeleteFlags;
  arn?: string;
  trustingRoles: string[];
}

const PROVIDER_DELETE_PHASES: Array<Phase<ProviderDeleteContext>> = [
  {
    name: 'provider',
    description: 'delete the IAM OIDC provider of the issuer, refused while roles trust it (unless --force)',
    async validate(context) {
      const { flags } = context;
      checkIssuerUrl(flags.issuerUrl);
      const { findProvider, iamPortFor } = await import('../aws/iam-provider.ts');
      const { createIamRoles } = await import('../aws/iam-role.ts');
      const options = {
        ...(flags.region ? { region: flags.region } : {}),
        ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      };
      const arn = await findProvider(iamPortFor(options), flags.issuerUrl);
      if (arn === undefined) return;
      context.arn = arn;
      context.trustingRoles = (await createIamRoles(options).listRoles())
        .filter((role) => federatedPrincipals(role.trustPolicy).includes(arn))
        .map((role) => role.arn);
      if (context.trustingRoles.length > 0 && !flags.force)
        throw new KirsaError(
          'PROVIDER_IN_USE',
          `${context.trustingRoles.length} role(s) trust ${arn}: ${context.trustingRoles.join(', ')}`,
          {
            hint: 'nothing was deleted; run kirsa role delete for their service accounts first, or pass --force (their pods then get no credentials)',
          },
        );
    },
    async run(context) {
      if (context.arn === undefined)
        return {
          status: 'unchanged',
          detail: `no IAM OIDC provider for ${context.flags.issuerUrl}; nothing to delete`,
        };
      const { iamPortFor } = await import('../aws/iam-provider.ts');
      await iamPortFor({
        region: context.flags.region,
        endpointUrl: context.flags.endpointUrl,
      }).deleteProvider(context.arn);
      return {
        status: 'deleted',
        detail:
          context.trustingRoles.length > 0
            ? `deleted ${context.arn} (--force: still trusted by ${context.trustingRoles.join(', ')})`
            : `deleted ${context.arn}`,
        lines: [context.arn],
      };
    },
  },
];

/** The ARN on standard output, for scripts; what was done on standard error, for the person. */
function report(phase: { name: string }, outcome: PhaseOutcome): void {
  for (const line of outcome.lines ?? []) process.stdout.write(`${line}\n`);
  process.stderr.write(
    outcome === SKIPPED_BY_FLAG ? `skipped: ${phase.name} (--skip-phases)\n` : `${outcome.detail}\n`,
  );
}

/** After the provider: the role for a service account, trusting it (the README's step 4). */
function nextAfterProvider(arn: string | undefined): string[] {
  return arn === undefined
    ? []
    : [
        `kirsa role create -n <namespace> --service-account <name> --provider-arn ${arn} --policy-arn <policy ARN>`,
      ];
}

/** -o json: the provider's ARN, the phase, and the next command, as docs/cli-json.md describes. */
async function createProviderJson(flags: ProviderFlags): Promise<void> {
  const phases: PhaseJson[] = [];
  const outcomes = await runPhases(
    PROVIDER_PHASES,
    { flags, audiences: [], thumbprints: [] },
    { skip: flags.skipPhases ?? [], report: collectPhases(phases) },
  );
  const arn = outcomes[0]?.lines?.[0] ?? null;
  finishVerb(true, { arn, issuerUrl: flags.issuerUrl, phases }, nextAfterProvider(arn ?? undefined));
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
  addPhaseOptions(create, PROVIDER_PHASES).action(async (flags: ProviderFlags) => {
    if (flags.output === 'json') return createProviderJson(flags);
    if (flags.output !== undefined) {
      const format = checkIacFormat(flags.output);
      await writeIacOutput({
        format,
        outputDir: flags.outputDir,
        stem: `provider-${issuerHostPath(flags.issuerUrl)}`,
        document: RENDER[format].provider(await providerPlanFromFlags(flags)),
      });
      return;
    }
    const outcomes = await runPhases(
      PROVIDER_PHASES,
      { flags, audiences: [], thumbprints: [] },
      { skip: flags.skipPhases ?? [], report },
    );
    finishVerb(false, {}, nextAfterProvider(outcomes[0]?.lines?.[0]));
  });
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
  addPhaseOptions(remove, PROVIDER_DELETE_PHASES).action(async (flags: ProviderDeleteFlags) => {
    await runPhases(
      PROVIDER_DELETE_PHASES,
      { flags, trustingRoles: [] },
      { skip: flags.skipPhases ?? [], report },
    );
  });
}
