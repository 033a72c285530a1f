// The IAM OIDC provider for the issuer, created or completed idempotently: an existing provider for the
// same URL gets the audiences (client IDs) and thumbprints it lacks, nothing is ever removed. The calls sit
// behind IamPort so tests drive the same code against moto.

import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
} from '@aws-sdk/client-iam';
import { IAM_MAX_THUMBPRINTS } from '../consts.ts';
import { issuerHostPath, parseProviderArn } from '../core/iam/arn.ts';
import { checkProviderInput } from '../core/iam/oidc-provider.ts';
import { KirsaError } from '../errors.ts';
import { type AwsClientOptions, awsError } from './errors.ts';
import { iamRegion } from './region.ts';

export interface OidcProvider {
  arn: string;
  clientIds: string[];
  thumbprints: string[];
}

export interface IamPort {
  listProviderArns(): Promise<string[]>;
  getProvider(arn: string): Promise<OidcProvider>;
  createProvider(input: { url: string; clientIds: string[]; thumbprints: string[] }): Promise<string>;
  addClientId(arn: string, clientId: string): Promise<void>;
  setThumbprints(arn: string, thumbprints: string[]): Promise<void>;
  deleteProvider(arn: string): Promise<void>;
}

export function iamPortFor(options: AwsClientOptions): IamPort {
  const client = new IAMClient({
    region: iamRegion(options),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
  });
  const call = async <T>(what: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw awsError(error, what);
    }
  };
  return {
    deleteProvider: async (arn) => {
      await call(`DeleteOpenIDConnectProvider ${arn}`, () =>
        client.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
      );
    },
    listProviderArns: async () =>
      (
        (
          await call('ListOpenIDConnectProviders', () =>
            client.send(new ListOpenIDConnectProvidersCommand({})),
          )
        ).OpenIDConnectProviderList ?? []
      ).flatMap((entry) => (entry.Arn ? [entry.Arn] : [])),
    getProvider: async (arn) => {
      const answer = await call(`GetOpenIDConnectProvider ${arn}`, () =>
        client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
      );
      return { arn, clientIds: answer.ClientIDList ?? [], thumbprints: answer.ThumbprintList ?? [] };
    },
    createProvider: async ({ url, clientIds, thumbprints }) => {
      const answer = await call('CreateOpenIDConnectProvider', () =>
        client.send(
          new CreateOpenIDConnectProviderCommand({
            Url: url,
            ClientIDList: clientIds,
            ...(thumbprints.length > 0 ? { ThumbprintList: thumbprints } : {}),
          }),
        ),
      );
      return answer.OpenIDConnectProviderArn!;
    },
    addClientId: async (arn, clientId) => {
      await call(`AddClientIDToOpenIDConnectProvider ${clientId}`, () =>
        client.send(
          new AddClientIDToOpenIDConnectProviderCommand({
            OpenIDConnectProviderArn: arn,
            ClientID: clientId,
          }),
        ),
      );
    },
    setThumbprints: async (arn, thumbprints) => {
      await call('UpdateOpenIDConnectProviderThumbprint', () =>
        client.send(
          new UpdateOpenIDConnectProviderThumbprintCommand({
            OpenIDConnectProviderArn: arn,
            ThumbprintList: thumbprints,
          }),
        ),
      );
    },
  };
}

export interface EnsureResult {
  arn: string;
  created: boolean;
  addedAudiences: string[];
  addedThumbprints: string[];
}

/** The provider's ARN names it by host/path, so finding it needs no account ID. */
export async function findProvider(iam: IamPort, issuer: string): Promise<string | undefined> {
  const hostPath = issuerHostPath(issuer);
  return (await iam.listProviderArns()).find((arn) => parseProviderArn(arn)?.hostPath === hostPath);
}

export async function ensureOidcProvider(
  iam: IamPort,
  input: { issuer: string; audiences: string[]; thumbprints: string[] },
): Promise<EnsureResult> {
  checkProviderInput(input.audiences, input.thumbprints);
  const existing = await findProvider(iam, input.issuer);
  if (!existing) {
    const arn = await iam.createProvider({
      url: input.issuer,
      clientIds: input.audiences,
      thumbprints: input.thumbprints,
    });
    return { arn, created: true, addedAudiences: input.audiences, addedThumbprints: input.thumbprints };
  }
  const provider = await iam.getProvider(existing);
  const addedAudiences = input.audiences.filter((audience) => !provider.clientIds.includes(audience));
  const known = provider.thumbprints.map((thumbprint) => thumbprint.toLowerCase());
  const addedThumbprints = input.thumbprints.filter((thumbprint) => !known.includes(thumbprint));
  const all = [...provider.thumbprints, ...addedThumbprints];
  // Checked before the first change, so a refusal leaves the provider as it was.
  if (all.length > IAM_MAX_THUMBPRINTS) {
    throw new KirsaError(
      'PROVIDER_THUMBPRINTS_FULL',
      `the provider already has ${provider.thumbprints.length} thumbprints; adding ${addedThumbprints.length} exceeds IAM's ${IAM_MAX_THUMBPRINTS}`,
      { hint: 'remove stale thumbprints with aws iam update-open-id-connect-provider-thumbprint' },
    );
  }
  for (const audience of addedAudiences) await iam.addClientId(existing, audience);
  if (addedThumbprints.length > 0) await iam.setThumbprints(existing, all);
  return { arn: existing, created: false, addedAudiences, addedThumbprints };
}
