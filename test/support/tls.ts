// Test certificates made by the openssl CLI (an implementation independent of kirsa): a root ->
// intermediate -> leaf chain, and a CA-signed serving certificate. Everything lands in a fresh temp dir;
// call cleanup() in an after() hook. EC P-256 keys keep generation fast on a small machine.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertifiedKey {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export interface CertificateChain {
  dir: string;
  root: CertifiedKey;
  intermediate: CertifiedKey;
  leaf: CertifiedKey;
  /** What a server sends: leaf then intermediate (the root stays with the clients). */
  servedChainPem: string;
  servedChainFile: string;
  cleanup(): Promise<void>;
}

export interface ServingCertificate {
  dir: string;
  /** The CA to trust (give it to clients as --ca-file or `ca`). */
  caPem: string;
  caFile: string;
  certPem: string;
  certFile: string;
  keyPem: string;
  keyFile: string;
  cleanup(): Promise<void>;
}

const DEFAULT_HOSTS = ['127.0.0.1', 'localhost'];

function subjectAltNames(hosts: readonly string[]): string {
  return hosts.map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** Writes a new EC P-256 private key (PEM) to `path`: what the certificates here use, and a non-RSA key. */
export async function writeEcKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

async function newKey(dir: string, name: string): Promise<void> {
  await writeEcKey(join(dir, `${name}.key`));
}

async function selfSignedCa(dir: string, name: string, commonName: string): Promise<void> {
  await newKey(dir, name);
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-sha256',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${commonName}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    `${name}.crt`,
  ]);
}

async function signedBy(
  dir: string,
  name: string,
  issuer: string,
  commonName: string,
  extensions: string,
  serial: number,
): Promise<void> {
  await newKey(dir, name);
  await openssl(dir, [
    'req',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${commonName}`,
    '-out',
    `${name}.csr`,
  ]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'x509',
    '-req',
    '-sha256',
    '-in',
    `${name}.csr`,
    '-CA',
    `${issuer}.crt`,
    '-CAkey',
    `${issuer}.key`,
    '-set_serial',
    String(serial),
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

async function load(dir: string, name: string): Promise<CertifiedKey> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return {
    certFile,
    keyFile,
    certPem: await readFile(certFile, 'utf8'),
    keyPem: await readFile(keyFile, 'utf8'),
  };
}

function leafExtensions(hosts: readonly string[]): string {
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${subjectAltNames(hosts)}`,
    '',
  ].join('\n');
}

/** root -> intermediate -> leaf; the leaf is valid for `hosts` (default 127.0.0.1 and localhost). */
export async function makeCertificateChain({
  hosts = DEFAULT_HOSTS,
}: {
  hosts?: readonly string[];
} = {}): Promise<CertificateChain> {
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-tls-chain-'));
  try {
    await selfSignedCa(dir, 'root', 'kirsa test root');
    await signedBy(
      dir,
      'intermediate',
      'root',
      'kirsa test intermediate',
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
      2,
    );
    await signedBy(dir, 'leaf', 'intermediate', hosts[0] ?? 'localhost', leafExtensions(hosts), 3);
    const root = await load(dir, 'root');
    const intermediate = await load(dir, 'intermediate');
    const leaf = await load(dir, 'leaf');
    const servedChainPem = leaf.certPem + intermediate.certPem;
    const servedChainFile = join(dir, 'served-chain.crt');
    await writeFile(servedChainFile, servedChainPem);
    return {
      dir,
      root,
      intermediate,
      leaf,
      servedChainPem,
      servedChainFile,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A serving certificate signed directly by a fresh test CA. */
export async function makeServingCertificate({
  hosts = DEFAULT_HOSTS,
}: {
  hosts?: readonly string[];
} = {}): Promise<ServingCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-tls-serving-'));
  try {
    await selfSignedCa(dir, 'ca', 'kirsa test CA');
    await signedBy(dir, 'server', 'ca', hosts[0] ?? 'localhost', leafExtensions(hosts), 2);
    const ca = await load(dir, 'ca');
    const server = await load(dir, 'server');
    return {
      dir,
      caPem: ca.certPem,
      caFile: ca.certFile,
      certPem: server.certPem,
      certFile: server.certFile,
      keyPem: server.keyPem,
      keyFile: server.keyFile,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
