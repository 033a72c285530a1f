// ensureOidcProvider's merge rules on an in-memory IamPort. The moto tier (test/real-parts/issuer/aws.test.ts) runs
// the same code through the SDK; this file covers what moto 5.2.5 lacks (AddClientIDToOpenIDConnectProvider)
// and the limits, which need no server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKirsaError } from '../errors.ts';
import { ensureOidcProvider, type IamPort, type OidcProvider } from './iam-provider.ts';

function memoryIam(): IamPort & { providers: Map<string, OidcProvider>; calls: string[] } {
  const providers = new Map<string, OidcProvider>();
  const calls: string[] = [];
  return {
    providers,
    calls,
    listProviderArns: async () => [...providers.keys()],
    getProvider: async (arn) => structuredClone(providers.get(arn)!),
    createProvider: async ({ url, clientIds, thumbprints }) => {
      calls.push('create');
      const arn = `arn:aws:iam::111122223333:oidc-provider/${url.replace('https://', '')}`;
      providers.set(arn, { arn, clientIds: [...clientIds], thumbprints: [...thumbprints] });
      return arn;
    },
    addClientId: async (arn, clientId) => {
      calls.push(`add ${clientId}`);
      providers.get(arn)!.clientIds.push(clientId);
    },
    setThumbprints: async (arn, thumbprints) => {
      calls.push(`thumbprints ${thumbprints.length}`);
      providers.get(arn)!.thumbprints = [...thumbprints];
    },
    deleteProvider: async (arn) => {
      calls.push('delete');
      providers.delete(arn);
    },
  };
}

describe('ensureOidcProvider', () => {
  test('adds missing audiences one by one and keeps the existing ones', async () => {
    const iam = memoryIam();
    const issuer = 'https://issuer.example/c1';
    const created = await ensureOidcProvider(iam, {
      issuer,
      audiences: ['sts.amazonaws.com'],
      thumbprints: [],
    });
    assert.equal(created.created, true);
    const again = await ensureOidcProvider(iam, {
      issuer,
      audiences: ['amazonaws.com', 'sts.amazonaws.com', 'other'],
      thumbprints: [],
    });
    assert.equal(again.created, false);
    assert.equal(again.arn, created.arn);
    assert.deepEqual(again.addedAudiences, ['amazonaws.com', 'other']);
    assert.deepEqual(iam.providers.get(created.arn)!.clientIds, [
      'sts.amazonaws.com',
      'amazonaws.com',
      'other',
    ]);
    assert.deepEqual(iam.calls, ['create', 'add amazonaws.com', 'add other']);
  });

  test('an issuer that is a prefix of another is not mistaken for it', async () => {
    const iam = memoryIam();
    await ensureOidcProvider(iam, {
      issuer: 'https://issuer.example/c1-old',
      audiences: ['a'],
      thumbprints: [],
    });
    const result = await ensureOidcProvider(iam, {
      issuer: 'https://issuer.example/c1',
      audiences: ['a'],
      thumbprints: [],
    });
    assert.equal(result.created, true);
  });

  test('refuses to exceed five thumbprints, and malformed ones', async () => {
    const iam = memoryIam();
    const issuer = 'https://issuer.example';
    const five = ['1', '2', '3', '4', '5'].map((digit) => digit.repeat(40));
    await ensureOidcProvider(iam, { issuer, audiences: ['a'], thumbprints: five });
    await assert.rejects(
      ensureOidcProvider(iam, { issuer, audiences: ['a'], thumbprints: ['6'.repeat(40)] }),
      (error: unknown) =>
        isKirsaError(error) &&
        error.code === 'PROVIDER_THUMBPRINTS_FULL' &&
        /exceeds IAM's 5/.test(error.message),
    );
    // The refusal comes before any change: an audience asked for in the same run is not added either.
    iam.calls.length = 0;
    await assert.rejects(
      ensureOidcProvider(iam, { issuer, audiences: ['a', 'b'], thumbprints: ['6'.repeat(40)] }),
      (error: unknown) => isKirsaError(error) && error.code === 'PROVIDER_THUMBPRINTS_FULL',
    );
    assert.deepEqual(iam.calls, []);
    await assert.rejects(
      ensureOidcProvider(iam, { issuer, audiences: ['a'], thumbprints: ['xyz'] }),
      (error: unknown) => isKirsaError(error) && error.code === 'PROVIDER_OPTION_INVALID',
    );
  });
});
