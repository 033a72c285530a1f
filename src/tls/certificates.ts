// A private CA and the serving certificates it signs, made in-process: for the demo's issuer and webhook,
// and for webhooks that manage their own TLS. ECDSA P-256 keys: fast to make, accepted by kube-apiserver,
// Node and the AWS SDKs.

// @peculiar/x509 resolves its ASN.1 services through tsyringe, which needs this polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  /** The parsed pieces, to sign with. */
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n`;
}

/** Escapes a value for an X.500 name string (RFC 4514). */
function dnValue(text: string): string {
  return text.replace(/[,+"\\<>;=]/g, '\\$&');
}

export async function createCertificateAuthority({
  commonName,
  validDays = 3650,
  now = new Date(),
}: {
  commonName: string;
  validDays?: number;
  now?: Date;
}): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnValue(commonName)}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    // A minute back, so a client whose clock is a little behind still accepts it.
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validDays * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: certificate.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    certificate,
    privateKey: keys.privateKey,
  };
}

/** A leaf certificate signed by the CA, for a fresh key: the subject, and the extensions its use needs. */
async function issueLeaf(
  ca: CertificateAuthority,
  subject: string,
  extensions: readonly x509.Extension[],
  { validDays, now }: { validDays: number; now: Date },
): Promise<ServingCertificate> {
  const keys = await generateKeys();
  const notAfter = new Date(now.getTime() + validDays * DAY_MS);
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subject,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    // A minute back, so a client whose clock is a little behind still accepts it.
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey), notAfter };
}

/** A certificate for these DNS names and IP addresses (the first names the subject), signed by the CA. */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  { hosts, validDays = 365, now = new Date() }: { hosts: readonly string[]; validDays?: number; now?: Date },
): Promise<ServingCertificate> {
  if (hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  return issueLeaf(
    ca,
    `CN=${dnValue(hosts[0]!)}`,
    [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(
        hosts.map((host) =>
          isIP(host) ? { type: 'ip' as const, value: host } : { type: 'dns' as const, value: host },
        ),
        false,
      ),
    ],
    { validDays, now },
  );
}

/**
 * A client certificate signed by the CA: the subject common name is the user a Kubernetes server
 * authenticates (x509 client auth), each organization one of its groups.
 */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  {
    commonName,
    organizations = [],
    validDays = 365,
    now = new Date(),
  }: { commonName: string; organizations?: readonly string[]; validDays?: number; now?: Date },
): Promise<ServingCertificate> {
  const subject = [`CN=${dnValue(commonName)}`, ...organizations.map((group) => `O=${dnValue(group)}`)];
  return issueLeaf(
    ca,
    subject.join(', '),
    [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false)],
    { validDays, now },
  );
}

/** A CA from its stored PEM certificate and PKCS#8 key, to sign renewals with. */
export async function importCertificateAuthority(
  certPem: string,
  keyPem: string,
): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certPem);
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
  return { certPem, keyPem, certificate, privateKey };
}

export interface CertificateRequest {
  /** PKCS#10, PEM ("CERTIFICATE REQUEST"): what a CertificateSigningRequest's spec.request carries. */
  csrPem: string;
  /** The new private key, PKCS#8 PEM; it never leaves the process except into the caller's store. */
  keyPem: string;
}

/** A fresh key and a PKCS#10 request for it naming this subject common name and these DNS names. */
export async function createCertificateRequest({
  commonName,
  dnsNames,
}: {
  commonName: string;
  dnsNames: readonly string[];
}): Promise<CertificateRequest> {
  const keys = await generateKeys();
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${dnValue(commonName)}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        dnsNames.map((value) => ({ type: 'dns' as const, value })),
        false,
      ),
    ],
  });
  return { csrPem: request.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}
