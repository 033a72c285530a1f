// A local control plane: a real kube-apiserver with its etcd, built by tools/realparts, on free loopback
// ports: no controllers, no kubelet. It authenticates static tokens (an admin in system:masters, plus any
// users the caller names), authorizes with RBAC, and signs service-account tokens with the issuer and key
// given (or a fresh RSA key). The test tiers and `kirsa demo --kube` use it; stop() kills both processes
// and removes its folder.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KirsaError } from '../errors.ts';
import { packageRoot } from '../self.ts';
import { ChildOutput, exitedDuringStart, freePort, startWithFreshPorts, stopProcess } from './processes.ts';

const run = promisify(execFile);
const STARTUP_TIMEOUT_MS = 90_000;

export interface KubeApiserverOptions {
  /** --service-account-issuer; default https://kubernetes.default.svc. */
  issuer?: string;
  /** PEM public key(s) that verify service-account tokens; default: the public half of signingKeyPem. */
  serviceAccountKeyPem?: string;
  /** PEM private key that signs service-account tokens; default: a fresh RSA-2048 key. */
  signingKeyPem?: string;
  /** --api-audiences; default the issuer. */
  apiAudiences?: string[];
  /** Extra static-token users (name -> groups); each gets a token in `tokens`. */
  users?: Record<string, string[]>;
  extraArgs?: string[];
  /**
   * The address kube-apiserver listens on and advertises; default 127.0.0.1. A node passes its own address
   * so that pods reach the API server through the `kubernetes` Service, whose endpoint is then kept by the
   * API server itself (the lease reconciler) instead of left out.
   */
  address?: string;
  /** --authorization-mode, in order; default RBAC alone (the local node adds Node before it). */
  authorizationModes?: string[];
  /**
   * The service-account flags exactly as a user passes them (e.g. what `kirsa apiserver-config --for flags`
   * prints), instead of the four the harness derives from issuer, keys and audiences.
   */
  serviceAccountFlags?: string[];
}

export interface KubeApiserver {
  url: string;
  /** The admin's bearer token (system:masters). */
  token: string;
  /** Tokens of the extra users, by name. */
  tokens: Record<string, string>;
  /** CA that verifies the API server's serving certificate. */
  caFile: string;
  /** A kubeconfig for the admin; kubeconfigFor(user) writes one for another user. */
  kubeconfigPath: string;
  kubeconfigFor(user: string): Promise<string>;
  /** The service-account key files the harness wrote (its own key unless serviceAccountFlags replaced them). */
  serviceAccountKeyFiles: { signing: string; public: string };
  dir: string;
  /** Everything the processes wrote, for failure messages. */
  output(): string;
  /** One API call as the admin; the answer's body parsed as JSON when it is JSON. */
  request(
    method: string,
    path: string,
    body?: unknown,
    /** Default application/json; a PATCH names its kind, e.g. application/merge-patch+json. */
    contentType?: string,
    // biome-ignore lint/suspicious/noExplicitAny: API answers are walked freely by the callers
  ): Promise<{ status: number; json: any }>;
  /**
   * Stops kube-apiserver (SIGTERM, as a rolling control-plane upgrade does), waits `downMs`, and starts it
   * again on the same port, certificates and etcd; resolves once it is ready. Clients see their watches end
   * and connections refused meanwhile. `serviceAccountFlags` restarts it on other service-account flags,
   * as a user applying new issuer settings would.
   */
  restartApiserver(downMs?: number, changes?: { serviceAccountFlags?: string[] }): Promise<void>;
  stop(): Promise<void>;
}

async function binaries(): Promise<{ apiserver: string; etcd: string }> {
  let apiserver = process.env.KIRSA_KUBE_APISERVER;
  let etcd = process.env.KIRSA_ETCD;
  // In a checkout the real parts are built by its tools/realparts/build.sh; an installed package or the
  // single executable has no such script, and takes them from the environment only.
  const root = packageRoot();
  if ((!apiserver || !etcd) && root) {
    try {
      const { stdout } = await run('bash', ['tools/realparts/build.sh', '--print-json'], { cwd: root });
      const parts = JSON.parse(stdout) as Record<string, string>;
      apiserver ??= parts.KIRSA_KUBE_APISERVER;
      etcd ??= parts.KIRSA_ETCD;
    } catch {
      // not built, or not a checkout: said below
    }
  }
  if (!apiserver || !etcd)
    throw new KirsaError('REAL_PARTS_MISSING', 'kube-apiserver and etcd are not built on this machine', {
      hint: 'in the repository run bash tools/realparts/build.sh (npm test does it too), or set KIRSA_KUBE_APISERVER and KIRSA_ETCD',
    });
  return { apiserver, etcd };
}

/** True when both binaries are known (through the environment or the real-parts cache). */
export async function kubeApiserverAvailable(): Promise<boolean> {
  try {
    await binaries();
    return true;
  } catch {
    return false;
  }
}

function get(url: string, token: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 5_000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end();
  });
}

function kubeconfig(url: string, caFile: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user } }],
    'current-context': 'test',
  });
}

export function startKubeApiserver(options: KubeApiserverOptions = {}): Promise<KubeApiserver> {
  return startWithFreshPorts(() => startKubeApiserverOnce(options));
}

async function startKubeApiserverOnce(options: KubeApiserverOptions): Promise<KubeApiserver> {
  const { apiserver, etcd } = await binaries();
  const dir = await mkdtemp(join(tmpdir(), 'kirsa-kube-'));
  const children: ChildProcess[] = [];
  const output = new ChildOutput(200_000);
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdChild = spawn(
      etcd,
      [
        '--name=test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(etcdChild);
    output.collect('etcd', etcdChild);

    const issuer = options.issuer ?? 'https://kubernetes.default.svc';
    let signingKeyPem = options.signingKeyPem;
    let publicKeyPem = options.serviceAccountKeyPem;
    if (signingKeyPem === undefined) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      signingKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      publicKeyPem ??= pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    }
    const signingKeyFile = join(dir, 'sa-signing.key');
    const publicKeyFile = join(dir, 'sa.pub');
    await writeFile(signingKeyFile, signingKeyPem, { mode: 0o600 });
    await writeFile(publicKeyFile, publicKeyPem ?? signingKeyPem);

    const token = randomBytes(24).toString('hex');
    const tokens: Record<string, string> = {};
    const lines = [`${token},kirsa-test-admin,kirsa-test-admin,"system:masters"`];
    for (const [user, groups] of Object.entries(options.users ?? {})) {
      tokens[user] = randomBytes(24).toString('hex');
      lines.push(`${tokens[user]},${user},${user}${groups.length ? `,"${groups.join(',')}"` : ''}`);
    }
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    const certDir = join(dir, 'certs');
    await mkdir(certDir);

    let serviceAccountArgs = options.serviceAccountFlags ?? [
      `--service-account-issuer=${issuer}`,
      `--service-account-key-file=${publicKeyFile}`,
      `--service-account-signing-key-file=${signingKeyFile}`,
      `--api-audiences=${(options.apiAudiences ?? [issuer]).join(',')}`,
    ];
    const address = options.address ?? '127.0.0.1';
    const apiserverArgs = () => [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${securePort}`,
      `--cert-dir=${certDir}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      `--authorization-mode=${(options.authorizationModes ?? ['RBAC']).join(',')}`,
      `--token-auth-file=${tokenFile}`,
      ...serviceAccountArgs,
      `--endpoint-reconciler-type=${options.address ? 'lease' : 'none'}`,
      '--profiling=false',
      '--v=0',
      ...(options.extraArgs ?? []),
    ];
    const startApiserver = () => {
      const child = spawn(apiserver, apiserverArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      output.collect('kube-apiserver', child);
      return child;
    };
    let apiChild = startApiserver();

    const url = `https://${address}:${securePort}`;
    const caFile = join(certDir, 'apiserver.crt');
    const waitReady = async () => {
      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      for (;;) {
        const exited = [etcdChild, apiChild].find((child) => child.exitCode !== null);
        if (exited)
          throw exitedDuringStart(output.nameOf(exited) ?? 'kube-apiserver or etcd', exited, output, 4000);
        try {
          const ca = await readFile(caFile);
          const ready = await get(`${url}/readyz`, token, ca);
          // The bootstrap RBAC roles and the default namespace exist once /readyz says so.
          if (
            ready.status === 200 &&
            (await get(`${url}/api/v1/namespaces/default`, token, ca)).status === 200
          )
            break;
        } catch {
          // not listening yet, or the certificate is not written yet
        }
        if (Date.now() > deadline)
          throw new Error(`kube-apiserver not ready in ${STARTUP_TIMEOUT_MS} ms:\n${output.text(4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await waitReady();

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(url, caFile, 'kirsa-test-admin', token), { mode: 0o600 });
    return {
      url,
      token,
      tokens,
      caFile,
      kubeconfigPath,
      async kubeconfigFor(user) {
        const userToken = tokens[user];
        if (userToken === undefined) throw new Error(`no static token for user ${user}`);
        const path = join(dir, `${user}.kubeconfig`);
        await writeFile(path, kubeconfig(url, caFile, user, userToken), { mode: 0o600 });
        return path;
      },
      serviceAccountKeyFiles: { signing: signingKeyFile, public: publicKeyFile },
      dir,
      output: () => output.text(),
      async request(method, path, body, contentType = 'application/json') {
        const ca = await readFile(caFile);
        return new Promise((resolve, reject) => {
          const call = httpsRequest(
            new URL(path, url),
            {
              method,
              ca,
              headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
              timeout: 30_000,
            },
            (response) => {
              let text = '';
              response.setEncoding('utf8').on('data', (chunk: string) => {
                text += chunk;
              });
              response.on('end', () => {
                let json: unknown = text;
                try {
                  json = JSON.parse(text);
                } catch {
                  // not JSON (e.g. /readyz): keep the text
                }
                resolve({ status: response.statusCode ?? 0, json });
              });
            },
          );
          call.on('error', reject);
          call.end(body === undefined ? undefined : JSON.stringify(body));
        });
      },
      async restartApiserver(downMs = 0, changes = {}) {
        if (changes.serviceAccountFlags) serviceAccountArgs = changes.serviceAccountFlags;
        await stopProcess(apiChild);
        children.splice(children.indexOf(apiChild), 1);
        await new Promise((resolve) => setTimeout(resolve, downMs));
        apiChild = startApiserver();
        await waitReady();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
