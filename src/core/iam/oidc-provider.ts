// What IAM accepts as an OIDC provider's client IDs (the token audiences) and thumbprints, and how the
// --audience and --thumbprint choices of `kirsa provider create` become them. Pure: computing an `auto`
// thumbprint needs the network and is the caller's part.

import {
  DEFAULT_TOKEN_AUDIENCE,
  IAM_MAX_CLIENT_ID_LENGTH,
  IAM_MAX_CLIENT_IDS,
  IAM_MAX_THUMBPRINTS,
} from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

/** The --thumbprint value that asks for the SHA-1 of the jwks_uri host's top certificate. */
export const THUMBPRINT_AUTO = 'auto';
/** The --thumbprint value (and default) that gives none: IAM then derives it itself. */
export const THUMBPRINT_NONE = 'none';

/** The client IDs to register: those given, else the one the webhook projects; repeats dropped. */
export function providerAudiences(given: readonly string[]): string[] {
  return [...new Set(given.length > 0 ? given : [DEFAULT_TOKEN_AUDIENCE])];
}

/**
 * The --thumbprint choices in order: THUMBPRINT_AUTO kept for the caller to compute, hex written as IAM
 * stores it (lower case, no colons, as openssl prints it with them), none meaning an empty list.
 */
export function thumbprintChoices(given: readonly string[]): string[] {
  const choices = given.length > 0 ? given : [THUMBPRINT_NONE];
  if (choices.includes(THUMBPRINT_NONE) && choices.length > 1)
    throw new KirsaError(
      'PROVIDER_OPTION_INVALID',
      '--thumbprint none cannot be combined with other thumbprints',
    );
  return choices
    .filter((choice) => choice !== THUMBPRINT_NONE)
    .map((choice) => (choice === THUMBPRINT_AUTO ? choice : choice.toLowerCase().replace(/:/g, '')));
}

/** IAM's limits on a provider's client IDs and thumbprints, checked before anything is sent. */
export function checkProviderInput(audiences: readonly string[], thumbprints: readonly string[]): void {
  if (audiences.length === 0 || audiences.length > IAM_MAX_CLIENT_IDS)
    throw new KirsaError(
      'PROVIDER_OPTION_INVALID',
      `IAM takes 1 to ${IAM_MAX_CLIENT_IDS} audiences, not ${audiences.length}`,
    );
  for (const audience of audiences) {
    if (audience.length === 0 || audience.length > IAM_MAX_CLIENT_ID_LENGTH)
      throw new KirsaError(
        'PROVIDER_OPTION_INVALID',
        `audience "${audience}" must be 1-${IAM_MAX_CLIENT_ID_LENGTH} characters`,
      );
  }
  if (thumbprints.length > IAM_MAX_THUMBPRINTS)
    throw new KirsaError(
      'PROVIDER_OPTION_INVALID',
      `IAM keeps at most ${IAM_MAX_THUMBPRINTS} thumbprints, not ${thumbprints.length}`,
    );
  for (const thumbprint of thumbprints) {
    if (!/^[0-9a-f]{40}$/.test(thumbprint))
      throw new KirsaError(
        'PROVIDER_OPTION_INVALID',
        `thumbprint ${thumbprint} is not 40 hex digits (a SHA-1)`,
        {
          hint: 'give --thumbprint auto to compute it, or none',
        },
      );
  }
}
