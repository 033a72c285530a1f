// Self-managed TLS for the webhook: kirsa keeps its own CA and serving certificate in one Secret, shared by
// every replica, renews the certificate before it expires, and keeps the MutatingWebhookConfiguration's
// caBundle equal to that CA. No cert-manager needed. Replicas race safely: the Secret is created once
// (a conflict means another replica won; read theirs) and replaced only at the version read. The Secret and
// the webhook configuration are reached through two small ports (self-managed-tls-kube.ts implements them
// with the Kubernetes client), so the rules and the renewal loop here load no client.

import { X509Certificate } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../io/log.ts';
import {
  createCertificateAuthority,
  importCertificateAuthority,
  issueServingCertificate,
} from '../tls/certificates.ts';

/** How long before its end a serving certificate is replaced; a year-long certificate lives 11 months. */
export const RENEW_BEFORE_DAYS = 30;
const SERVING_DAYS = 365;
const CA_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface TlsMaterial {
  caPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

/** The Secret, as data keys to text; `ca.key` never leaves it except to sign a renewal. */
export interface StoredSecret {
  material: TlsMaterial;
  resourceVersion: string;
}

export interface TlsSecretStore {
  read(): Promise<StoredSecret | undefined>;
  /** false when the Secret appeared meanwhile (another replica created it). */
  create(material: TlsMaterial): Promise<boolean>;
  /** false when the Secret changed since it was read at that version. */
  replace(material: TlsMaterial, resourceVersion: string): Promise<boolean>;
}

export interface CaBundleTarget {
  /** The caBundle of each webhook in the configuration (base64 PEM; '' when unset). */
  read(): Promise<string[]>;
  write(caBundle: string): Promise<void>;
}

/** Why the stored material must be (re)made, or undefined when it serves these hosts for long enough. */
export function renewalReason(
  material: TlsMaterial,
  hosts: readonly string[],
  now: Date,
): string | undefined {
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(material.caPem);
    cert = new X509Certificate(material.certPem);
  } catch {
    return 'the stored certificates cannot be read';
  }
  const renewAt = now.getTime() + RENEW_BEFORE_DAYS * DAY_MS;
  if (Date.parse(ca.validTo) <= renewAt) return 'the CA ends within the renewal window';
  if (!cert.checkIssued(ca)) return 'the serving certificate is not signed by the stored CA';
  if (Date.parse(cert.validTo) <= renewAt) return 'the serving certificate ends within the renewal window';
  const missing = hosts.filter(
    (host) => (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) === undefined,
  );
  if (missing.length > 0) return `the serving certificate does not name ${missing.join(', ')}`;
  return undefined;
}

async function freshMaterial(hosts: readonly string[], now: Date, keep?: TlsMaterial): Promise<TlsMaterial> {
  const reuseCa =
    keep && Date.parse(new X509Certificate(keep.caPem).validTo) > now.getTime() + RENEW_BEFORE_DAYS * DAY_MS;
  const ca = reuseCa
    ? await importedAuthority(keep)
    : await createCertificateAuthority({ commonName: 'kirsa webhook CA', validDays: CA_DAYS, now });
  const serving = await issueServingCertificate(ca, { hosts, validDays: SERVING_DAYS, now });
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem: serving.certPem, keyPem: serving.keyPem };
}

function importedAuthority(material: TlsMaterial) {
  return importCertificateAuthority(material.caPem, material.caKeyPem);
}

/**
 * The serving material every replica should use: the stored one when it is still good, else a renewal
 * written back at the version read. Retries when another replica wrote first.
 */
export async function ensureTlsMaterial(
  store: TlsSecretStore,
  hosts: readonly string[],
  now: () => Date,
): Promise<{ material: TlsMaterial; action: 'created' | 'renewed' | 'kept'; reason?: string }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const stored = await store.read();
    if (!stored) {
      const material = await freshMaterial(hosts, now());
      if (await store.create(material)) return { material, action: 'created' };
      continue;
    }
    const reason = renewalReason(stored.material, hosts, now());
    if (!reason) return { material: stored.material, action: 'kept' };
    const material = await freshMaterial(hosts, now(), stored.material);
    if (await store.replace(material, stored.resourceVersion)) return { material, action: 'renewed', reason };
  }
  throw new Error('the TLS Secret kept changing under kirsa; another writer is fighting over it');
}

/** Sets every webhook's caBundle to the CA when any differs; true when it wrote. */
export async function publishCaBundle(target: CaBundleTarget, caPem: string): Promise<boolean> {
  const wanted = Buffer.from(caPem).toString('base64');
  const current = await target.read();
  if (current.length > 0 && current.every((bundle) => bundle === wanted)) return false;
  await target.write(wanted);
  return true;
}

/** Writes the serving pair where the server watches for it, each file whole (temp file, then rename). */
export async function writeServingFiles(
  material: TlsMaterial,
  certFile: string,
  keyFile: string,
): Promise<void> {
  for (const [path, content, mode] of [
    [keyFile, material.keyPem, 0o600],
    [certFile, material.certPem, 0o644],
  ] as const) {
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, content, { mode });
    await rename(temporary, path);
  }
}

/** The names the serving certificate must cover: the Service's in-cluster names, then any extra ones. */
export function servingHosts(
  serviceName: string,
  namespace: string,
  extraHosts: readonly string[],
): string[] {
  return [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, ...extraHosts];
}

export interface SelfManagedTlsOptions {
  store: TlsSecretStore;
  target: CaBundleTarget;
  hosts: readonly string[];
  /** Where the server watches for the pair; written whole whenever the stored certificate changes. */
  certFile: string;
  keyFile: string;
  checkIntervalMs: number;
  /** For the log lines: the Secret as namespace/name, and the webhook configuration's name. */
  secret: string;
  webhookConfiguration: string;
  logger: Logger;
  now?: () => Date;
}

/**
 * Ensures the shared CA and serving pair, writes it where the server watches for it (so a renewal by any
 * replica reaches every replica), and keeps the webhook configuration's caBundle equal to the CA; then
 * re-checks on an interval. The first check must succeed (the server cannot start without a pair); trouble
 * after start-up is logged and retried, never fatal. Resolves with the function that stops the checks.
 */
export async function startSelfManagedTls(options: SelfManagedTlsOptions): Promise<() => void> {
  const { logger: log } = options;
  const now = options.now ?? (() => new Date());
  let written = '';
  const check = async () => {
    const { material, action, reason } = await ensureTlsMaterial(options.store, options.hosts, now);
    if (material.certPem !== written) {
      await writeServingFiles(material, options.certFile, options.keyFile);
      written = material.certPem;
      log.info({ tlsSecret: options.secret, action, reason }, 'serving certificate written');
    }
    try {
      if (await publishCaBundle(options.target, material.caPem)) {
        log.info({ webhookConfiguration: options.webhookConfiguration }, 'caBundle set to the CA');
      }
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'cannot set the caBundle yet; retrying at the next check');
    }
  };
  await check();
  const timer = setInterval(() => {
    check().catch((error: Error) =>
      log.warn({ err: error.message }, 'self-managed TLS check failed; retrying'),
    );
  }, options.checkIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
