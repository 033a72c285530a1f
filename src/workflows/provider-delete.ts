// `provider delete`: the IAM OIDC provider of an issuer removed, idempotent (none found: nothing to do), and
// refused while roles still trust it unless forced, since their pods would then get no credentials.

import { federatedPrincipals } from '../core/iam/trust-policy.ts';
import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';

export interface ProviderDeleteInput {
  issuerUrl: string;
  /** Delete it even while roles trust it. */
  force?: boolean | undefined;
  region?: string | undefined;
  endpointUrl?: string | undefined;
}

interface ProviderDeleteContext {
  input: ProviderDeleteInput;
  arn?: string;
  trustingRoles: string[];
}

export const PROVIDER_DELETE_PHASES: Array<Phase<ProviderDeleteContext>> = [
  {
    name: 'provider',
    description: 'delete the IAM OIDC provider of the issuer, refused while roles trust it (unless --force)',
    async validate(context) {
      const { input } = context;
      checkIssuerUrl(input.issuerUrl);
      // Loaded here, not at the top: the AWS SDK costs every other kirsa command ~200 ms to import.
      const { findProvider, iamPortFor } = await import('../aws/iam-provider.ts');
      const { createIamRoles } = await import('../aws/iam-role.ts');
      const options = {
        ...(input.region ? { region: input.region } : {}),
        ...(input.endpointUrl ? { endpointUrl: input.endpointUrl } : {}),
      };
      const arn = await findProvider(iamPortFor(options), input.issuerUrl);
      if (arn === undefined) return;
      context.arn = arn;
      context.trustingRoles = (await createIamRoles(options).listRoles())
        .filter((role) => federatedPrincipals(role.trustPolicy).includes(arn))
        .map((role) => role.arn);
      if (context.trustingRoles.length > 0 && !input.force)
        throw new KirsaError(
          'PROVIDER_IN_USE',
          `${context.trustingRoles.length} role(s) trust ${arn}: ${context.trustingRoles.join(', ')}`,
          {
            hint: 'nothing was deleted; run kirsa role delete for their service accounts first, or pass --force (their pods then get no credentials)',
          },
        );
    },
    async run(context) {
      const { input } = context;
      if (context.arn === undefined)
        return {
          status: 'unchanged',
          detail: `no IAM OIDC provider for ${input.issuerUrl}; nothing to delete`,
        };
      const { iamPortFor } = await import('../aws/iam-provider.ts');
      await iamPortFor({ region: input.region, endpointUrl: input.endpointUrl }).deleteProvider(context.arn);
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

export async function deleteProvider(
  input: ProviderDeleteInput,
  options: { skip: readonly string[]; report: (phase: { name: string }, outcome: PhaseOutcome) => void },
): Promise<void> {
  await runPhases(PROVIDER_DELETE_PHASES, { input, trustingRoles: [] }, options);
}
