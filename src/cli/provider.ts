// `kirsa provider create`: the IAM OIDC provider for the issuer, idempotent. Run it twice and the second run
// only adds what is missing (audiences, thumbprints); it never removes anything.

import type { Command } from 'commander';
import { DEFAULT_TOKEN_AUDIENCE } from '../consts.ts';
import { checkIssuerUrl } from '../core/oidc/issuer-url.ts';
import { KirsaError } from '../errors.ts';
import { trustedCertificates } from '../issuer/https.ts';
import { issuerThumbprint } from '../issuer/thumbprint.ts';
import { collect, type Phase, runPhases } from './issuer.ts';

interface ProviderFlags {
  issuerUrl: string;
  audience: string[];
  thumbprint: string[];
  region?: string;
  endpointUrl?: string;
  caFile: string[];
}

interface ProviderContext {
  flags: ProviderFlags;
  audiences: string[];
  thumbprints: string[];
}

const phases: Array<Phase<ProviderContext>> = [
  {
    name: 'inputs',
    async validate(context) {
      const { flags } = context;
      const { warnings } = checkIssuerUrl(flags.issuerUrl);
      for (const warning of warnings) process.stderr.write(`kirsa: warning: ${warning}\n`);
      context.audiences = [...new Set(flags.audience.length > 0 ? flags.audience : [DEFAULT_TOKEN_AUDIENCE])];
      const choices = flags.thumbprint.length > 0 ? flags.thumbprint : ['none'];
      if (choices.includes('none') && choices.length > 1)
        throw new KirsaError('USAGE', '--thumbprint none cannot be combined with other thumbprints');
      for (const choice of choices) {
        if (choice === 'none') continue;
        if (choice === 'auto') {
          const result = await issuerThumbprint(flags.issuerUrl, await trustedCertificates(flags.caFile));
          process.stderr.write(
            `thumbprint ${result.thumbprint} of ${result.top.subject} (${result.host}:${result.port})\n`,
          );
          if (result.publiclyTrusted)
            process.stderr.write(
              'note: a public CA signs that chain, so AWS ignores the thumbprint anyway\n',
            );
          context.thumbprints.push(result.thumbprint);
        } else {
          context.thumbprints.push(choice.toLowerCase().replace(/:/g, ''));
        }
      }
      context.thumbprints = [...new Set(context.thumbprints)];
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
      process.stdout.write(`${result.arn}\n`);
      const added = [
        ...result.addedAudiences.map((audience) => `audience ${audience}`),
        ...result.addedThumbprints.map((thumbprint) => `thumbprint ${thumbprint}`),
      ];
      process.stderr.write(
        result.created
          ? `created the provider for ${context.flags.issuerUrl} (${added.join(', ')})\n`
          : added.length > 0
            ? `the provider existed; added ${added.join(', ')}\n`
            : 'the provider existed with everything asked; nothing changed\n',
      );
    },
  },
];

export function registerProvider(program: Command): void {
  const provider = program
    .command('provider')
    .description('the IAM OIDC identity provider that trusts the issuer');
  provider
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
    .option('--region <region>', 'AWS region for the IAM client (default: the SDK chain)')
    .option('--endpoint-url <url>', 'another IAM endpoint, e.g. a test server')
    .option('--ca-file <file>', 'extra trusted CA (PEM) for --thumbprint auto (repeatable)', collect, [])
    .action((flags: ProviderFlags) => runPhases(phases, { flags, audiences: [], thumbprints: [] }));
}
