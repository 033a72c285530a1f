// Shared parts of the webhook tests: the real `kirsa webhook` as a child process on loopback (ports chosen
// at run time, read back from its "listening" log line), an HTTPS keep-alive client, and review builders.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { type Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { apiServerReview } from './admission-reviews.ts';
import { KIRSA_BIN, WEBHOOK_ON_LOOPBACK } from './run-kirsa.ts';
import { makeServingCertificate, type ServingCertificate } from './tls.ts';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface WebhookProcess {
  port: number;
  metricsPort: number;
  child: ChildProcess;
  logs: LogLine[];
  stderr(): string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** A command to run the webhook through first (e.g. unshare); it must end by executing its arguments. */
  launcher?: string[];
  /** The node arguments that run `kirsa webhook`; by default the checkout's bin (the benchmarks pass a build). */
  kirsa?: string[];
}

/** Starts `kirsa webhook` on loopback, with `args` after the loopback flags. */
export function startWebhook(args: string[], options: StartOptions = {}): Promise<WebhookProcess> {
  return startServerProcess(
    [
      ...(options.launcher ?? []),
      process.execPath,
      ...(options.kirsa ?? [KIRSA_BIN, 'webhook']),
      ...WEBHOOK_ON_LOOPBACK,
      ...args,
    ],
    options.env,
  );
}

/**
 * Starts a server process that logs JSON lines, and resolves once it logs "listening" with its port (and
 * metricsPort, NaN for a server without one).
 */
export async function startServerProcess(
  command: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<WebhookProcess> {
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBERNETES_SERVICE_HOST: '', ...env },
  });
  const logs: LogLine[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 'raw', msg: line });
      }
      newline = buffered.indexOf('\n');
    }
    for (const listener of [...listeners]) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  function waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = logs.find(predicate);
        if (found) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `log line not seen in ${timeoutMs} ms; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      const onExit = () => {
        setTimeout(() => {
          check();
          cleanup();
          reject(
            new Error(
              `webhook exited before the log line; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`,
            ),
          );
        }, 100);
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });
  }

  let listening: LogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'listening');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port: listening.port as number,
    metricsPort: Number(listening.metricsPort),
    child,
    logs,
    stderr: () => stderr,
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
}

export interface WebhookFolder {
  dir: string;
  cert: ServingCertificate;
  /** --tls-cert, --tls-key and --identities-file, naming the files in `dir`. */
  flags: string[];
  cleanup(): Promise<void>;
}

/**
 * A scratch folder for a webhook that serves from files: a serving pair copied in as tls.crt and tls.key
 * (so a test may replace them) and the identities file.
 */
export async function webhookFolder(prefix: string, identities: unknown): Promise<WebhookFolder> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cert = await makeServingCertificate();
  await copyFile(cert.certFile, join(dir, 'tls.crt'));
  await copyFile(cert.keyFile, join(dir, 'tls.key'));
  await writeFile(join(dir, 'identities.json'), JSON.stringify(identities));
  return {
    dir,
    cert,
    flags: [
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--identities-file',
      join(dir, 'identities.json'),
    ],
    async cleanup() {
      await cert.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Replaces the serving pair (tls.crt, tls.key) in `dir` as a Secret volume update does: the new files land
 * beside the old ones, then are renamed over them, key first.
 */
export async function replaceServingPair(
  dir: string,
  pair: { certFile: string; keyFile: string },
): Promise<void> {
  await copyFile(pair.keyFile, join(dir, 'tls.key.next'));
  await copyFile(pair.certFile, join(dir, 'tls.crt.next'));
  await rename(join(dir, 'tls.key.next'), join(dir, 'tls.key'));
  await rename(join(dir, 'tls.crt.next'), join(dir, 'tls.crt'));
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** sha256 fingerprint of the certificate the server presented. */
  peerFingerprint: string | undefined;
  reusedSocket: boolean;
}

export interface CallOptions {
  agent?: Agent;
  ca: string | Buffer;
  method?: string;
  path?: string;
  body?: string | Buffer;
  headers?: Record<string, string | number>;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  timeoutMs?: number;
  /** Read the server certificate's fingerprint (costly: only when a test looks at it). */
  peer?: boolean;
}

export function httpsCall(port: number, options: CallOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.body;
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/mutate?timeout=10s',
        ca: options.ca,
        agent: options.agent ?? false,
        ...(options.minVersion ? { minVersion: options.minVersion } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        headers: {
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
            : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        const peer = options.peer ? (response.socket as TLSSocket).getPeerCertificate?.() : undefined;
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            peerFingerprint: peer?.fingerprint256,
            reusedSocket: request.reusedSocket,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample in a Prometheus text exposition, or undefined. */
export function metricValue(
  exposition: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = (match[2] ?? '')
      .split(',')
      .filter((part) => part !== '')
      .sort()
      .join(',');
    if (got === wanted) return Number(match[3]);
  }
  return undefined;
}

export interface PodReviewOptions {
  apiVersion?: string;
  uid?: string;
  namespace?: string;
  serviceAccountName?: string;
  operation?: string;
  kind?: { group: string; version: string; kind: string };
  pod?: Record<string, unknown>;
}

export function podReview(options: PodReviewOptions = {}): string {
  const pod = options.pod ?? {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'app-', labels: { app: 'demo' } },
    spec: {
      serviceAccountName: options.serviceAccountName ?? 'app',
      containers: [
        { name: 'main', image: 'public.ecr.aws/docker/library/busybox:1.36', command: ['sleep', '3600'] },
      ],
    },
  };
  return apiServerReview(pod, {
    ...(options.uid ? { uid: options.uid } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
    ...(options.operation ? { operation: options.operation } : {}),
    ...(options.kind ? { kind: options.kind } : {}),
  });
}

export interface DecodedReply {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    warnings?: string[];
  };
  patch: Array<{ op: string; path: string; value: unknown }> | undefined;
}

export function decodeReply(body: string): DecodedReply {
  const reply = JSON.parse(body) as Omit<DecodedReply, 'patch'>;
  const patch = reply.response.patch
    ? (JSON.parse(Buffer.from(reply.response.patch, 'base64').toString('utf8')) as DecodedReply['patch'])
    : undefined;
  return { ...reply, patch };
}

/** The env entries the patch adds to the first container, by name. */
export function envOf(patch: DecodedReply['patch']): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const operation of patch ?? []) {
    if (!/^\/spec\/containers\/0\/env/.test(operation.path)) continue;
    const entries = (Array.isArray(operation.value) ? operation.value : [operation.value]) as Array<{
      name: string;
      value: unknown;
    }>;
    for (const entry of entries) env[entry.name] = entry.value;
  }
  return env;
}

/**
 * Admits a pod of ns/sa through the webhook (a CREATE review over TLS) and returns the role it was given, if
 * any, with the reply's warnings. Asserts the answer is a 200 that allows the pod, as kirsa always does.
 */
export async function admittedRole(
  webhook: WebhookProcess,
  ca: string,
  namespace: string,
  serviceAccountName: string,
): Promise<{ role: string | undefined; warnings: string[] }> {
  const answer = await httpsCall(webhook.port, { ca, body: podReview({ namespace, serviceAccountName }) });
  assert.equal(answer.status, 200);
  const reply = decodeReply(answer.body);
  assert.equal(reply.response.allowed, true);
  return {
    role: envOf(reply.patch).AWS_ROLE_ARN as string | undefined,
    warnings: reply.response.warnings ?? [],
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until)
      throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
