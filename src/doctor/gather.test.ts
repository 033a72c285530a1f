import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { IamRoles } from '../aws/iam-role.ts';
import type { ClusterReader } from '../kube/client.ts';
import { gatherFacts, httpsJsonFetcher, podFact, serviceAccountFact, webhookFacts } from './gather.ts';

describe('facts from API objects', () => {
  test('podFact keeps env, mounts, token sources and security context, init containers included', () => {
    const fact = podFact({
      metadata: { name: 'p', namespace: 'ns', creationTimestamp: new Date('2026-01-01T00:00:00Z') },
      spec: {
        serviceAccountName: '',
        securityContext: { runAsUser: 1000, fsGroup: 2000 },
        initContainers: [{ name: 'init', securityContext: { runAsUser: 0 } }],
        containers: [
          {
            name: 'main',
            env: [
              { name: 'AWS_ROLE_ARN', value: 'arn' },
              { name: 'FROM_SECRET', valueFrom: {} },
            ],
            volumeMounts: [
              { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
            ],
          },
        ],
        volumes: [
          {
            name: 'aws-iam-token',
            projected: {
              sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', path: 'token' } }],
            },
          },
          {
            name: 'kube-api-access',
            projected: {
              sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'x' } }],
            },
          },
        ],
      },
    });
    assert.equal(fact.serviceAccountName, 'default', 'an empty name means the default account');
    assert.deepEqual(
      fact.containers.map((container) => [container.name, container.runAsUser]),
      [
        ['init', 0],
        ['main', undefined],
      ],
    );
    assert.deepEqual(fact.containers[1]!.env, { AWS_ROLE_ARN: 'arn', FROM_SECRET: '' });
    assert.deepEqual(fact.tokenVolumes, {
      'aws-iam-token': { audience: 'sts.amazonaws.com', path: 'token' },
      'kube-api-access': { path: 'token' },
    });
    assert.equal(fact.podRunAsUser, 1000);
    assert.equal(fact.fsGroup, 2000);
    assert.deepEqual(fact.createdAt, new Date('2026-01-01T00:00:00Z'));
  });

  test('serviceAccountFact dates the role annotation from the latest managedFields entry owning it', () => {
    const fact = serviceAccountFact(
      {
        metadata: {
          name: 'sa',
          namespace: 'ns',
          annotations: { 'eks.amazonaws.com/role-arn': 'arn' },
          managedFields: [
            {
              manager: 'a',
              time: new Date('2026-01-01T00:00:00Z'),
              fieldsV1: { 'f:metadata': { 'f:labels': {} } },
            },
            {
              manager: 'kirsa',
              time: new Date('2026-01-02T00:00:00Z'),
              fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:eks.amazonaws.com/role-arn': {} } } },
            },
          ],
        },
      },
      'eks.amazonaws.com',
    );
    assert.deepEqual(fact.roleAnnotatedAt, new Date('2026-01-02T00:00:00Z'));
    const none = serviceAccountFact(
      { metadata: { name: 'sa', annotations: { x: 'y' } } },
      'eks.amazonaws.com',
    );
    assert.equal(none.roleAnnotatedAt, undefined);
  });

  test('webhookFacts flattens configurations and names the target', () => {
    const facts = webhookFacts([
      {
        metadata: { name: 'c' },
        webhooks: [
          {
            name: 'w1',
            clientConfig: { service: { namespace: 'kirsa', name: 'svc' } },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            rules: [{ operations: ['CREATE'], resources: ['pods'], apiGroups: [''], apiVersions: ['v1'] }],
          },
          {
            name: 'w2',
            clientConfig: { url: 'https://127.0.0.1:1/mutate' },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            matchConditions: [{ name: 'm', expression: 'true' }],
          },
        ],
      },
    ]);
    assert.deepEqual(
      facts.map((fact) => [fact.name, fact.target, fact.hasMatchConditions, fact.service]),
      [
        ['w1', 'service kirsa/svc', false, { namespace: 'kirsa', name: 'svc' }],
        ['w2', 'https://127.0.0.1:1/mutate', true, undefined],
      ],
    );
  });
});

describe('httpsJsonFetcher', () => {
  test('refuses plain http, as STS does', async () => {
    const server = createServer((_request, response) => response.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await assert.rejects(httpsJsonFetcher()(`http://127.0.0.1:${port}/x`), /is not https/);
    } finally {
      server.close();
    }
  });
});

describe('gatherFacts: the role and the provider IAM is asked for', () => {
  const ISSUER = 'https://issuer.example.com/cluster';
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  // The doctor reads the claims without verifying them, so an unsigned token is enough here.
  const token = `${encode({ alg: 'none' })}.${encode({ iss: ISSUER, sub: 'system:serviceaccount:ns:app', aud: 'sts.amazonaws.com' })}.`;

  /** The facts for service account ns/app annotated with `roleArn`, and every IAM read made for them. */
  async function gatherFor(roleArn: string) {
    const cluster: Partial<ClusterReader> = {
      getServiceAccount: async () => ({
        metadata: { name: 'app', namespace: 'ns', annotations: { 'eks.amazonaws.com/role-arn': roleArn } },
      }),
      getNamespace: async () => undefined,
      listMutatingWebhooks: async () => [],
      listNodes: async () => [],
      serverVersion: async () => ({ major: '1', minor: '33', gitVersion: 'v1.33.0' }),
      requestToken: async () => ({ token }),
    };
    const asked: string[] = [];
    const iam: Partial<IamRoles> = {
      getRole: async (name) => {
        asked.push(`GetRole ${name}`);
        return undefined;
      },
      getOidcProvider: async (arn) => {
        asked.push(`GetOpenIDConnectProvider ${arn}`);
        return undefined;
      },
    };
    const facts = await gatherFacts(
      { kind: 'serviceaccount', namespace: 'ns', name: 'app', annotationPrefix: 'eks.amazonaws.com' },
      {
        cluster: cluster as ClusterReader,
        iam: iam as IamRoles,
        fetchJson: async () => {
          throw new Error('offline');
        },
      },
    );
    return { facts, asked };
  }

  test("the role by its name, the provider of the token's issuer in the role's account and partition", async () => {
    const { facts, asked } = await gatherFor('arn:aws-cn:iam::111122223333:role/team/app');
    assert.deepEqual(asked, [
      'GetRole app',
      'GetOpenIDConnectProvider arn:aws-cn:iam::111122223333:oidc-provider/issuer.example.com/cluster',
    ]);
    assert.deepEqual(facts.role, { ok: true, value: undefined });
  });

  test('a role name IAM cannot hold is not a role ARN, as the webhook says: nothing is asked', async () => {
    // The doctor had its own looser role-ARN pattern and asked IAM for "has space" (and a provider in that
    // account), where the webhook refuses to inject the ARN at all.
    for (const roleArn of [
      'arn:aws:iam::111122223333:role/has space',
      `arn:aws:iam::111122223333:role/${'x'.repeat(65)}`,
    ]) {
      const { facts, asked } = await gatherFor(roleArn);
      assert.deepEqual(facts.role, { ok: false, reason: `"${roleArn}" is not a role ARN` }, roleArn);
      assert.deepEqual(asked, [], roleArn);
      assert.equal(facts.provider.ok, false);
    }
  });
});
