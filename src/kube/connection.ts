// How the webhook reaches its API server, without @kubernetes/client-node on its hot process: that library
// alone takes a Node process from about 64 MB to 106 MB of memory and adds 0.5-3 s to its start
// (bench/webhook-start.ts measures both). The webhook needs only GETs, lists and watches, so it speaks to
// the API server over node:https itself, with the credentials read here from the in-cluster files or from a
// kubeconfig. Only a kubeconfig whose user needs the client's machinery (an exec plugin, an auth provider)
// or a proxy loads the full client, and then its KubeConfig signs the requests. Self-managed TLS, which
// writes Secrets and webhook configurations through the generated API, also loads it (kubeConfig()).

import type { IncomingMessage, RequestOptions } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { KirsaError } from '../errors.ts';
import { request as httpRequest } from '../io/node-http.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');
const { request: httpsRequest } = process.getBuiltinModule('node:https');
const { dirname, isAbsolute, join } = process.getBuiltinModule('node:path');

/** Where the kubelet mounts a pod's service-account token, the cluster CA and the namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A bound token is rotated by the kubelet on disk; client-go re-reads it once a minute, so does kirsa. */
const TOKEN_REREAD_MS = 60_000;

export interface KubeConnection {
  /** The API server's URL, without a trailing slash. */
  readonly server: string;
  /** Whether the full client signs the requests (an exec plugin, an auth provider, a proxy). */
  readonly usesFullClient: boolean;
  /** TLS settings and credentials for one request (a token file is re-read as client-go does). */
  requestOptions(): Promise<RequestOptions>;
  /** The full client's KubeConfig for the same cluster and user, loaded on the first call. */
  kubeConfig(): Promise<KubeConfig>;
}

interface Credentials {
  ca?: Buffer | undefined;
  insecure?: boolean;
  serverName?: string | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  basic?: string | undefined;
}

function ownConnection(
  server: string,
  credentials: Credentials,
  loadKubeConfig: () => Promise<KubeConfig>,
): KubeConnection {
  let token = credentials.token;
  let tokenReadAt = 0;
  let kubeConfig: Promise<KubeConfig> | undefined;
  return {
    server: server.replace(/\/+$/, ''),
    usesFullClient: false,
    async requestOptions() {
      if (credentials.tokenFile !== undefined && Date.now() - tokenReadAt >= TOKEN_REREAD_MS) {
        token = readFileSync(credentials.tokenFile, 'utf8').trim();
        tokenReadAt = Date.now();
      }
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      else if (credentials.basic) headers.Authorization = `Basic ${credentials.basic}`;
      return {
        headers,
        ...(credentials.ca ? { ca: credentials.ca } : {}),
        ...(credentials.cert ? { cert: credentials.cert } : {}),
        ...(credentials.key ? { key: credentials.key } : {}),
        ...(credentials.serverName ? { servername: credentials.serverName } : {}),
        ...(credentials.insecure ? { rejectUnauthorized: false } : {}),
      };
    },
    kubeConfig() {
      kubeConfig ??= loadKubeConfig();
      return kubeConfig;
    },
  };
}

function fullClientConnection(config: KubeConfig, server: string): KubeConnection {
  return {
    server: server.replace(/\/+$/, ''),
    usesFullClient: true,
    async requestOptions() {
      const options: RequestOptions = { headers: {} };
      await config.applyToHTTPSOptions(options);
      return options;
    },
    kubeConfig: async () => config,
  };
}

/** In a pod: KUBERNETES_SERVICE_HOST/PORT, and the token and CA the kubelet mounted. */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const tokenFile = join(dir, 'token');
  // Read now, so a pod without its token fails at start with the path, not at the first list.
  readFileSync(tokenFile);
  return ownConnection(server, { ca: readFileSync(join(dir, 'ca.crt')), tokenFile }, async () => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const config = new KubeConfig();
    config.loadFromCluster();
    return config;
  });
}

/** --kube-api without a kubeconfig: that URL and no credentials, as client-go's BuildConfigFromFlags. */
export function anonymousConnection(server: string): KubeConnection {
  return ownConnection(server, {}, async () => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'kube-api', server, skipTLSVerify: false }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'kube-api', cluster: 'kube-api', user: 'anonymous' }],
      currentContext: 'kube-api',
    });
    return config;
  });
}

/**
 * How the webhook reaches the cluster: --kubeconfig (its URL replaced by --kube-api when both are given,
 * as client-go overrides the cluster), else --kube-api alone with no credentials (client-go's
 * BuildConfigFromFlags), else the in-cluster service account; undefined when none applies.
 */
export async function connectToCluster(
  path: string | undefined,
  apiUrl: string | undefined,
): Promise<KubeConnection | undefined> {
  if (path === undefined && apiUrl === undefined && !process.env.KUBERNETES_SERVICE_HOST) return undefined;
  // A pod with automountServiceAccountToken: false still gets KUBERNETES_SERVICE_HOST; it has no cluster
  // access, which is fine when its identities come from a file (the checks after this say when not).
  if (path === undefined && apiUrl === undefined && !existsSync(join(SERVICE_ACCOUNT_DIR, 'token')))
    return undefined;
  try {
    if (path !== undefined) return await kubeConfigFileConnection(path, apiUrl);
    if (apiUrl !== undefined) return anonymousConnection(apiUrl);
    return inClusterConnection();
  } catch (error) {
    throw new KirsaError(
      'KUBECONFIG_INVALID',
      `cannot load the cluster configuration: ${(error as Error).message}`,
      {
        hint: path
          ? 'check the --kubeconfig file (set current-context in it)'
          : 'run in a pod with a service account, or pass --kubeconfig',
        cause: error,
      },
    );
  }
}

interface NamedEntry<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}
type Fields = Record<string, unknown>;

function named(list: unknown, name: unknown, kind: 'cluster' | 'user' | 'context'): Fields | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = (list as NamedEntry<Fields>[]).find((each) => each?.name === name);
  return entry?.[kind] ?? undefined;
}

/**
 * A kubeconfig file, as kubectl reads it: its current context's cluster and user. `server` (--kube-api)
 * replaces the cluster's URL. A user with `exec` or `auth-provider`, or a cluster with `proxy-url`, is
 * handed to the full client.
 */
export async function kubeConfigFileConnection(path: string, server?: string): Promise<KubeConnection> {
  const text = readFileSync(path, 'utf8');
  // js-yaml, not the `yaml` library the CLI's manifests go through: it is the parser the full client reads
  // kubeconfigs with, so this path and the full client's agree on what the file says, and it is one module
  // where `yaml` is 72, which a webhook started with a kubeconfig compiled on every start (docs/webhook.md).
  // Imported here: a pod's webhook reads no kubeconfig and need not load a YAML parser at all.
  const { load } = await import('js-yaml');
  const document = (load(text) ?? {}) as Fields;
  const contextName = document['current-context'];
  const context = named(document.contexts, contextName, 'context');
  const cluster = context ? named(document.clusters, context.cluster, 'cluster') : undefined;
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`${path} has no current cluster`);
  const user = (context ? named(document.users, context.user, 'user') : undefined) ?? {};
  const url = server ?? cluster.server;
  const loadFull = async () => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const config = new KubeConfig();
    config.loadFromFile(path);
    if (server !== undefined) {
      const current = config.getCurrentCluster();
      config.clusters = config.clusters.map((each) =>
        each.name === current?.name ? { ...each, server } : each,
      );
    }
    return config;
  };
  if (user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined)
    return fullClientConnection(await loadFull(), url);
  // Relative paths in a kubeconfig are relative to the file, as kubectl resolves them.
  const file = (value: unknown) =>
    typeof value === 'string' && value !== ''
      ? readFileSync(isAbsolute(value) ? value : join(dirname(path), value))
      : undefined;
  const data = (value: unknown) =>
    typeof value === 'string' && value !== '' ? Buffer.from(value, 'base64') : undefined;
  const tokenFile = user.tokenFile ?? user['token-file'];
  return ownConnection(
    url,
    {
      ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
      insecure: cluster['insecure-skip-tls-verify'] === true,
      serverName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
      cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
      key: data(user['client-key-data']) ?? file(user['client-key']),
      token: typeof user.token === 'string' ? user.token : undefined,
      tokenFile:
        typeof tokenFile === 'string'
          ? isAbsolute(tokenFile)
            ? tokenFile
            : join(dirname(path), tokenFile)
          : undefined,
      basic:
        typeof user.username === 'string'
          ? Buffer.from(`${user.username}:${String(user.password ?? '')}`).toString('base64')
          : undefined,
    },
    loadFull,
  );
}

/** An answer the API server gave with a status other than the one expected. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(`HTTP ${statusCode}: ${message}`);
    this.statusCode = statusCode;
  }
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (text.length < 65_536) text += chunk;
    });
    response.on('end', () => resolve(text));
    response.on('error', reject);
  });
}

/** The API error for a non-2xx answer: the status, and the Status object's message when it has one. */
export async function apiErrorOf(response: IncomingMessage): Promise<KubeApiError> {
  const body = await readText(response).catch(() => '');
  let message = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(response.statusCode ?? 0, message);
}

export interface KubeGet {
  /** API path with its query, e.g. /api/v1/serviceaccounts?limit=500. */
  path: string;
  accept: string;
  signal?: AbortSignal;
  /** Socket inactivity, in ms, after which the request fails with a TimeoutError. */
  idleTimeoutMs: number;
}

/** A GET to the API server; resolves with the answer as it starts to arrive (any status). */
export async function kubeGet(connection: KubeConnection, get: KubeGet): Promise<IncomingMessage> {
  const options = await connection.requestOptions();
  const url = new URL(connection.server + get.path);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const call = request(
      url,
      {
        ...options,
        method: 'GET',
        headers: { ...(options.headers as Record<string, string>), Accept: get.accept },
        timeout: get.idleTimeoutMs,
        ...(get.signal ? { signal: get.signal } : {}),
      },
      resolve,
    );
    call.on('timeout', () =>
      call.destroy(
        Object.assign(new Error(`no data from the API server for ${get.idleTimeoutMs} ms`), {
          name: 'TimeoutError',
        }),
      ),
    );
    call.on('error', reject);
    call.end();
  });
}

/** A GET whose whole JSON answer is wanted: the parsed object, undefined on 404, a KubeApiError otherwise. */
export async function kubeGetJson(connection: KubeConnection, get: KubeGet): Promise<unknown> {
  const response = await kubeGet(connection, get);
  if (response.statusCode === 404) {
    response.resume();
    return undefined;
  }
  if (response.statusCode !== 200) throw await apiErrorOf(response);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A POST of one JSON object (an Event the webhook creates); resolves on 2xx, else rejects with a KubeApiError. */
export async function kubePostJson(
  connection: KubeConnection,
  post: { path: string; body: unknown; idleTimeoutMs: number },
): Promise<void> {
  const options = await connection.requestOptions();
  const url = new URL(connection.server + post.path);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const text = JSON.stringify(post.body);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const call = request(
      url,
      {
        ...options,
        method: 'POST',
        headers: {
          ...(options.headers as Record<string, string>),
          Accept: 'application/json',
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        },
        timeout: post.idleTimeoutMs,
      },
      resolve,
    );
    call.on('timeout', () =>
      call.destroy(
        Object.assign(new Error(`no answer from the API server for ${post.idleTimeoutMs} ms`), {
          name: 'TimeoutError',
        }),
      ),
    );
    call.on('error', reject);
    call.end(text);
  });
  if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) {
    response.resume();
    return;
  }
  throw await apiErrorOf(response);
}
