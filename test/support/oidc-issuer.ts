// A throwaway OIDC issuer for tests: an RSA signing key, its discovery document and JWKS served over HTTPS
// with a test CA on loopback, and a signer for tokens shaped like kube-apiserver's projected tokens.

import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { buildJwks } from '../../src/core/oidc/documents.ts';
import { keyIdOf } from '../../src/core/oidc/keys.ts';
import type { KubeApiserverOptions } from '../../src/local/control-plane.ts';
import { makeServingCertificate, type ServingCertificate } from './tls.ts';

export interface TestIssuer {
  /** https://127.0.0.1:PORT, exactly what tokens carry in `iss`. */
  url: string;
  caPem: string;
  caFile: string;
  kid: string;
  privateKey: KeyObject;
  /** Signs a token for a service account, with kube-apiserver's claim set; `claims` overrides any of them. */
  serviceAccountToken(options: {
    namespace: string;
    serviceAccount: string;
    audience?: string | string[];
    lifetimeSeconds?: number;
    claims?: Record<string, unknown>;
    key?: KeyObject;
    kid?: string;
  }): Promise<string>;
  /** Number of JWKS requests served so far. */
  jwksRequests(): number;
  /** Number of discovery document requests served so far. */
  discoveryRequests(): number;
  close(): Promise<void>;
}

/**
 * `extraKeys` publishes that many more RSA keys in the JWKS (copies of the signing key under other kids),
 * for the limits STS puts on a JWKS.
 */
export async function startTestIssuer({ extraKeys = 0 }: { extraKeys?: number } = {}): Promise<TestIssuer> {
  const tls: ServingCertificate = await makeServingCertificate();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = keyIdOf(publicKey);
  let url = '';
  let jwksCount = 0;
  let discoveryCount = 0;
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      discoveryCount += 1;
      json({
        issuer: url,
        jwks_uri: `${url}/keys.json`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    } else if (req.url === '/keys.json') {
      jwksCount += 1;
      const jwks = buildJwks([publicKey]);
      const [signing] = jwks.keys;
      for (let i = 0; i < extraKeys; i++) jwks.keys.push({ ...signing!, kid: `extra-${i}` });
      json(jwks);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    caPem: tls.caPem,
    caFile: tls.caFile,
    kid,
    privateKey,
    async serviceAccountToken({
      namespace,
      serviceAccount,
      audience = 'sts.amazonaws.com',
      lifetimeSeconds = 3600,
      claims = {},
      key,
      kid: keyId,
    }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: url,
        sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
        aud: audience,
        iat: now,
        nbf: now,
        exp: now + lifetimeSeconds,
        'kubernetes.io': {
          namespace,
          serviceaccount: { name: serviceAccount, uid: '00000000-0000-0000-0000-000000000001' },
        },
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: keyId ?? kid })
        .sign(key ?? privateKey);
    },
    jwksRequests: () => jwksCount,
    discoveryRequests: () => discoveryCount,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tls.cleanup();
    },
  };
}

/** kube-apiserver options under which the cluster signs its service-account tokens as this issuer. */
export function clusterSigningAs(issuer: TestIssuer, apiAudiences: string[]): KubeApiserverOptions {
  return {
    issuer: issuer.url,
    signingKeyPem: issuer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serviceAccountKeyPem: createPublicKey(issuer.privateKey)
      .export({ type: 'spki', format: 'pem' })
      .toString(),
    apiAudiences,
  };
}
