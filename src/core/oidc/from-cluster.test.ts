import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRefused, rsaTestKey } from '../../../test/support/keys-and-refusals.ts';
import { buildJwks } from './documents.ts';
import { clusterDocuments } from './from-cluster.ts';

const ISSUER = 'https://bucket.s3.eu-west-1.amazonaws.com/c1';
const jwks = buildJwks([rsaTestKey().publicKey]);
const served = {
  discovery: { issuer: ISSUER, jwks_uri: 'https://10.0.0.1:6443/openid/v1/jwks' },
  jwks,
};

describe("documents for a cluster's own issuer", () => {
  test("the cluster's JWKS as is; a discovery document naming the public JWKS, not the API server", () => {
    const documents = clusterDocuments(served, { publicIssuer: undefined, jwksPath: 'keys.json' });
    assert.equal(documents.issuer, ISSUER, "the public URL defaults to the cluster's issuer");
    assert.deepEqual(JSON.parse(documents.jwks), jwks);
    const discovery = JSON.parse(documents.discovery);
    assert.equal(discovery.issuer, ISSUER);
    assert.equal(discovery.jwks_uri, `${ISSUER}/keys.json`);
  });
  test('a public URL other than the cluster issuer is refused with the flag to change', () => {
    const error = assertRefused(
      () => clusterDocuments(served, { publicIssuer: 'https://other.example/c1', jwksPath: 'keys.json' }),
      'CLUSTER_ISSUER_MISMATCH',
      /the cluster signs tokens with iss https:\/\/bucket\.s3\.eu-west-1\.amazonaws\.com\/c1, not https:\/\/other\.example\/c1/,
    );
    assert.match(error.hint!, /--service-account-issuer=https:\/\/other\.example\/c1/);
    assert.match(error.hint!, /apiserver-config --current-issuer https:\/\/bucket/);
  });
  test('a cluster issuer IAM could not use, or a JWKS STS would refuse, is refused', () => {
    assertRefused(
      () =>
        clusterDocuments(
          { ...served, discovery: { issuer: 'https://kubernetes.default.svc.cluster.local/' } },
          { publicIssuer: undefined, jwksPath: 'keys.json' },
        ),
      'ISSUER_URL_INVALID',
      /must not end with a slash/,
    );
    assertRefused(
      () =>
        clusterDocuments(
          { ...served, jwks: { keys: [] } },
          { publicIssuer: undefined, jwksPath: 'keys.json' },
        ),
      'CLUSTER_JWKS_UNUSABLE',
      /no keys/,
    );
    assertRefused(
      () => clusterDocuments({ discovery: {}, jwks }, { publicIssuer: undefined, jwksPath: 'keys.json' }),
      'DISCOVERY_NO_ISSUER',
      /names no issuer/,
    );
  });
});
