// Signing keys as kube-apiserver and STS see them: PEM parsing with a named refusal for every format kirsa
// cannot use, the key ID kube-apiserver derives from the public key, and the public JWK. Pure: parsing and
// hashing are deterministic computations on the bytes handed in.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SIGNING_KEY_BITS } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';
import type { RsaJwk } from './documents.ts';

/** kube-apiserver's key ID: base64url (unpadded) of SHA-256 over the DER SubjectPublicKeyInfo. */
export function keyIdFromSpkiDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

export function keyIdOf(publicKey: KeyObject): string {
  return keyIdFromSpkiDer(publicKey.export({ format: 'der', type: 'spki' }));
}

export function spkiPem(publicKey: KeyObject): string {
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

export interface ParsedKey {
  publicKey: KeyObject;
  /** Present when the PEM block held a private key. */
  privateKey?: KeyObject;
  kid: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Every RSA key in a PEM file (public, private or certificate blocks); anything else is refused by name. */
export function parseKeysPem(text: string, source: string): ParsedKey[] {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    const hint = /^ssh-rsa /m.test(text)
      ? `it is an OpenSSH public key; convert it with: ssh-keygen -e -m PKCS8 -f ${source} > key.pub`
      : 'give a PEM file (-----BEGIN PUBLIC KEY----- or -----BEGIN PRIVATE KEY-----)';
    throw new KirsaError('KEY_INVALID', `${source}: no PEM key found`, { hint });
  }
  const keys: ParsedKey[] = [];
  for (const [block, label] of blocks) {
    keys.push(parseBlock(block, label!, source));
  }
  return keys;
}

function parseBlock(block: string, label: string, source: string): ParsedKey {
  if (label === 'OPENSSH PRIVATE KEY') {
    throw new KirsaError(
      'KEY_INVALID',
      `${source}: OpenSSH-format private key, which has no standard parser`,
      {
        hint: `convert it in place to PEM with: ssh-keygen -p -N '' -m PEM -f ${source}`,
      },
    );
  }
  if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block)) {
    throw new KirsaError('KEY_INVALID', `${source}: the private key is encrypted`, {
      hint: `kube-apiserver needs it unencrypted too: openssl pkey -in ${source} -out sa-signer.key`,
    });
  }
  let publicKey: KeyObject;
  let privateKey: KeyObject | undefined;
  try {
    if (label.endsWith('PRIVATE KEY')) {
      privateKey = createPrivateKey(block);
      publicKey = createPublicKey(privateKey);
    } else {
      publicKey = createPublicKey(block);
    }
  } catch (error) {
    throw new KirsaError('KEY_INVALID', `${source}: the ${label} block does not parse`, {
      hint: 'check the file is a complete PEM key (openssl pkey -in FILE -noout shows why)',
      cause: error,
    });
  }
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new KirsaError(
      'KEY_INVALID',
      `${source}: ${publicKey.asymmetricKeyType?.toUpperCase() ?? 'unknown'} key; kirsa signs with RSA (RS256)`,
      {
        hint: 'STS and every Kubernetes distribution accept RSA-2048: let kirsa issuer init make one, or openssl genrsa -out sa-signer.key 2048',
      },
    );
  }
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < SIGNING_KEY_BITS) {
    throw new KirsaError(
      'KEY_INVALID',
      `${source}: RSA key of ${bits} bits; RS256 needs at least ${SIGNING_KEY_BITS}`,
      {
        hint: 'generate a new key (kirsa issuer init, or openssl genrsa -out sa-signer.key 2048)',
      },
    );
  }
  return privateKey
    ? { publicKey, privateKey, kid: keyIdOf(publicKey) }
    : { publicKey, kid: keyIdOf(publicKey) };
}

export function publicJwk(publicKey: KeyObject): RsaJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  return { use: 'sig', kty: 'RSA', kid: keyIdOf(publicKey), alg: 'RS256', n: jwk.n!, e: jwk.e! };
}
