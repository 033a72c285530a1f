import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILTIN_CONTAINER_CREDENTIALS, BUILTIN_IDENTITY_DEFAULTS } from '../core/identity/identity.ts';
import { parseIdentityMapping } from '../core/identity/mapping-reader.ts';
import type { IdentityVerdict } from '../core/identity/source.ts';
import { createIdentityProvider, mergeMappings } from './provider.ts';
import { createServiceAccountCache } from './service-accounts.ts';

const arn = (name: string) => `arn:aws:iam::111122223333:role/${name}`;
const mapping = (entries: Record<string, string>) =>
  parseIdentityMapping(
    JSON.stringify(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, { RoleARN: v }]))),
  ).mapping;
const base = {
  annotationPrefix: 'eks.amazonaws.com',
  defaults: BUILTIN_IDENTITY_DEFAULTS,
  containerCredentials: BUILTIN_CONTAINER_CREDENTIALS,
};

function role(verdict: IdentityVerdict | Promise<IdentityVerdict>): string | undefined {
  assert.ok(!(verdict instanceof Promise), 'answered synchronously');
  return verdict.identity?.mode === 'web-identity' ? verdict.identity.roleArn : undefined;
}

describe('mergeMappings', () => {
  test('the later mapping wins for the same key, patterns stay most specific first', () => {
    const merged = mergeMappings(
      mapping({ 'a/x': arn('file'), '*/x': arn('file-any'), 'team-*/y': arn('file-team') }),
      mapping({ 'a/x': arn('cm'), 'team-blue-*/y': arn('cm-blue') }),
    );
    assert.equal(merged.exact.get('a/x')?.roleArn, arn('cm'));
    assert.deepEqual(
      merged.patterns.map((pattern) => pattern.key),
      ['team-blue-*/y', 'team-*/y', '*/x'],
    );
    assert.equal(merged.size, 4);
  });
});

describe('identity provider', () => {
  test('files alone: answers synchronously, nothing is ever "missing"', () => {
    const provider = createIdentityProvider(base);
    provider.setMapping('identities-file', mapping({ 'ns/app': arn('app') }));
    assert.equal(role(provider.identityFor('ns', 'app')), arn('app'));
    const none = provider.identityFor('ns', 'other') as IdentityVerdict;
    assert.deepEqual(none, { identity: undefined, serviceAccountMissing: false });
  });

  test('the ConfigMap overrides the file for a key; the annotation overrides both', () => {
    const cache = createServiceAccountCache('eks.amazonaws.com');
    const provider = createIdentityProvider({ ...base, serviceAccounts: { cache } });
    provider.setMapping('identities-file', mapping({ 'ns/app': arn('file') }));
    provider.setMapping('config-map', mapping({ 'ns/app': arn('cm') }));
    cache.upsert({ metadata: { namespace: 'ns', name: 'app' } });
    assert.equal(role(provider.identityFor('ns', 'app')), arn('cm'));
    cache.upsert({
      metadata: { namespace: 'ns', name: 'app', annotations: { 'eks.amazonaws.com/role-arn': arn('sa') } },
    });
    assert.equal(role(provider.identityFor('ns', 'app')), arn('sa'));
    assert.deepEqual(provider.counts(), {
      'service-accounts': 1,
      'identities-file': 1,
      'config-map': 1,
      'container-credentials': 0,
    });
  });

  test('a miss goes through the lookup; container-credentials pairs never wait', async () => {
    const cache = createServiceAccountCache('eks.amazonaws.com');
    const asked: string[] = [];
    const provider = createIdentityProvider({
      ...base,
      serviceAccounts: {
        cache,
        lookUpMiss: async (namespace, name) => {
          asked.push(`${namespace}/${name}`);
          return undefined;
        },
      },
    });
    const missing = await provider.identityFor('ns', 'new');
    assert.deepEqual(missing, { identity: undefined, serviceAccountMissing: true });
    provider.setContainerCredentials(new Set(['ns/pi']));
    const podIdentity = provider.identityFor('ns', 'pi');
    assert.ok(!(podIdentity instanceof Promise));
    assert.equal(podIdentity.identity?.mode, 'container-credentials');
    assert.deepEqual(asked, ['ns/new']);
  });
});
