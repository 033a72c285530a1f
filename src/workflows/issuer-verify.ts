// `issuer verify`: the issuer's documents fetched anonymously and checked as STS checks them, and with a
// token, the token against the published keys (issuer/verify.ts). The checks and their verdict are returned;
// the CLI prints them, as lines or JSON.

import { checksFailure } from '../core/oidc/check-report.ts';
import type { Check } from '../core/oidc/documents.ts';
import type { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { verifyIssuer } from '../issuer/verify.ts';

export interface VerifyInput {
  url: string;
  /** A file (or `-`) holding a service-account token to check too. */
  token?: string | undefined;
  /** Audiences the IAM provider lists; the token's aud must be one. */
  audience: readonly string[];
  caFile: readonly string[];
}

export async function verifyIssuerAt(
  input: VerifyInput,
): Promise<{ checks: Check[]; withToken: boolean; failure: KirsaError | undefined }> {
  const token = input.token === undefined ? undefined : await readInputText(input.token, 'token');
  const report = await verifyIssuer({
    issuer: input.url,
    token,
    audiences: [...input.audience],
    ca: await trustedCertificates(input.caFile),
    now: new Date(),
  });
  return {
    checks: report.checks,
    withToken: token !== undefined,
    failure: checksFailure(
      report.checks,
      `verify ${input.url}`,
      'fix the failed checks above; STS would refuse tokens from this issuer',
    ),
  };
}
