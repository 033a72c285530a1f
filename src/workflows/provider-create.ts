// `provider create`: the IAM OIDC provider for the issuer, idempotent. Run it twice and the second run only
// adds what is missing (audiences, thumbprints); it never removes anything. The validation (the issuer URL,
// the audiences, the thumbprints, fetched for `auto`) is also what the IaC output (`provider create -o`,
// `kirsa stack`) renders from, so the code and the API mode cannot disagree.

import { buildProviderPlan, type ProviderPlan } from '../core/iam/iac.ts';
import {
  checkProviderInput,
  providerAudiences,
  THUMBPRINT_AUTO,
  thumbprintChoices,
} from '../core/iam/oidc-provider.ts';
import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
import { thumbprintOfIssuer } from './issuer-thumbprint.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';

export interface ProviderInput {
  issuerUrl: string;
  /** Client IDs the tokens carry as aud; none: the default. */
  audience: readonly string[];
  /** auto, none, or 40-hex SHA-1s. */
  thumbprint: readonly string[];
  region?: string | undefined;
  endpointUrl?: string | undefined;
  /** Extra trusted CAs (PEM files) for fetching the thumbprint with auto. */
  caFile: readonly string[];
}

/** Where the validation tells what it found: warnings, and lines for the person (the thumbprint fetched). */
export interface ProviderListeners {
  warn: (line: string) => void;
  inform: (line: string) => void;
}

interface ProviderContext {
  input: ProviderInput;
  listeners: ProviderListeners;
  audiences: string[];
  thumbprints: string[];
}

export const PROVIDER_PHASES: Array<Phase<ProviderContext>> = [
  {
    name: 'provider',
    description: 'create the IAM OIDC provider, or add the audiences and thumbprints it lacks',
    async validate(context) {
      const { input, listeners } = context;
      const { warnings } = checkIssuerUrl(input.issuerUrl);
      for (const warning of warnings) listeners.warn(warning);
      context.audiences = providerAudiences([...input.audience]);
      for (const choice of thumbprintChoices([...input.thumbprint])) {
        if (choice !== THUMBPRINT_AUTO) {
          context.thumbprints.push(choice);
          continue;
        }
        const result = await thumbprintOfIssuer(input.issuerUrl, input.caFile);
        listeners.inform(
          `thumbprint ${result.thumbprint} of ${result.top.subject} (${result.host}:${result.port})`,
        );
        if (result.publiclyTrusted)
          listeners.inform('note: a public CA signs that chain, so AWS ignores the thumbprint anyway');
        context.thumbprints.push(result.thumbprint);
      }
      context.thumbprints = [...new Set(context.thumbprints)];
      checkProviderInput(context.audiences, context.thumbprints);
    },
    async run(context) {
      const { input } = context;
      // Loaded here, not at the top: the AWS SDK costs every other kirsa command ~200 ms to import.
      const { ensureOidcProvider, iamPortFor } = await import('../aws/iam-provider.ts');
      const iam = iamPortFor({ region: input.region, endpointUrl: input.endpointUrl });
      const result = await ensureOidcProvider(iam, {
        issuer: input.issuerUrl,
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
          ? `created the provider for ${input.issuerUrl} (${added.join(', ')})`
          : added.length > 0
            ? `the provider existed; added ${added.join(', ')}`
            : 'the provider existed with everything asked; nothing changed',
        lines: [result.arn],
      };
    },
  },
];

function providerContext(input: ProviderInput, listeners: ProviderListeners): ProviderContext {
  return { input, listeners, audiences: [], thumbprints: [] };
}

/**
 * The provider as provider create would make it, after the same checks as the API mode (its validation
 * phase), rendered instead of sent: by `provider create -o` and by `kirsa stack`.
 */
export async function providerPlan(
  input: ProviderInput,
  listeners: ProviderListeners,
): Promise<ProviderPlan> {
  const context = providerContext(input, listeners);
  await PROVIDER_PHASES[0]!.validate!(context);
  return buildProviderPlan(input.issuerUrl, context.audiences, context.thumbprints);
}

/** The provider made or completed in IAM; its ARN is undefined only when the phase was skipped. */
export async function createProvider(
  input: ProviderInput,
  options: ProviderListeners & {
    skip: readonly string[];
    report: (phase: { name: string }, outcome: PhaseOutcome) => void;
  },
): Promise<{ arn: string | undefined }> {
  const outcomes = await runPhases(PROVIDER_PHASES, providerContext(input, options), {
    skip: options.skip,
    report: options.report,
  });
  return { arn: outcomes[0]?.lines?.[0] };
}
