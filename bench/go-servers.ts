// The benchmarks' Go servers, built from source on demand: the do-nothing Go floor (bench/go-floor/, Go's
// standard library only) and the reference webhook (aws/amazon-eks-pod-identity-webhook), so that kirsa's
// figures print beside both a Go and a Node floor and beside the webhook it replaces, in the same run. The
// fixed-rate load generator (bench/go-loadgen/, standard library only, run by bench/go-load.ts) builds the
// same way.
//
// Both build with the real parts' Go toolchain and caches: `tools/realparts/build.sh --print-go-env` gives
// its settings (GOMODCACHE and GOCACHE under ~/.cache/kirsa-tools, GOTOOLCHAIN=local, CGO off), so there is
// one home for how this project runs Go. Flags as the reference's own Dockerfile builds it: `-trimpath
// -ldflags "-s -w"`. A binary is cached at ~/.cache/kirsa-tools/bench/<name>-<key>/<name>, where <key>
// hashes its sources (go.mod, go.sum, every non-test .go file), the Go version and the platform: a changed
// source rebuilds it, anything else reuses it. `npm run bench` builds both before its first benchmark (a
// cold reference build downloads its modules and compiles client-go: minutes); a benchmark run on its own
// builds what it needs the same way.
//
// The reference webhook's own module is not served by the Go module proxy, so its source is a checkout:
//   git clone https://github.com/aws/amazon-eks-pod-identity-webhook ~/.cache/kirsa-tools/src/amazon-eks-pod-identity-webhook
// (or KIRSA_REFERENCE_WEBHOOK_SRC=<a checkout>); its dependencies come through the machine's GOPROXY. It is
// measured at whatever commit the checkout holds, which the benchmarks print. Its code is never copied
// into kirsa. Without Go, the checkout or a module, the benchmarks print why and leave that column out.
//
// Both run with GOMAXPROCS=1: a Node server runs its JavaScript on one thread, and the load generator
// shares this machine's cores with the server under test.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { freePort, stopProcess } from '../src/local/processes.ts';
import {
  httpsCall,
  podReview,
  startServerProcess,
  type WebhookProcess,
} from '../test/support/webhook-harness.ts';
import { processCpuMs, residentMb } from './webhook-process.ts';

const BUILD_SH = new URL('../tools/realparts/build.sh', import.meta.url).pathname;
const GO_FLOOR_SOURCE = new URL('./go-floor/', import.meta.url).pathname;
const GO_LOADGEN_SOURCE = new URL('./go-loadgen/', import.meta.url).pathname;
const LDFLAGS = '-s -w';

/** The environment the Go servers run with (see the header). */
export const GO_SERVER_ENV = { GOMAXPROCS: '1' };

/** A Go server's binary, or why there is none. */
export type GoBinary = { binary: string; about: string } | { skipped: string };

interface Toolchain {
  toolsDir: string;
  version: string;
  platform: string;
}

/** Runs `script` in bash after the real parts' Go settings are exported; `args` are its $1, $2, ... */
function withGo(script: string, args: string[] = []) {
  return spawnSync(
    'bash',
    ['-c', `set -e; settings=$(bash "$0" --print-go-env); eval "$settings"; ${script}`, BUILD_SH, ...args],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
}

function lastLines(text: string, count = 6): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

let toolchain: Toolchain | string | undefined;

/** The Go toolchain the real parts use, or why there is none (memoised). */
function goToolchain(): Toolchain | string {
  if (toolchain !== undefined) return toolchain;
  const probe = withGo('echo "$KIRSA_TOOLS_DIR"; go env GOVERSION GOOS GOARCH');
  if (probe.status !== 0) {
    toolchain = `no Go toolchain: ${lastLines(probe.stderr || probe.stdout)}`;
    return toolchain;
  }
  const [toolsDir, version, os, arch] = probe.stdout.trim().split('\n');
  toolchain = { toolsDir: toolsDir!, version: version!, platform: `${os}/${arch}` };
  return toolchain;
}

/** go.mod, go.sum and the non-test Go files under `dir` (not .git, testdata or vendor), sorted. */
function sourceFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter(
      (path) =>
        !/(^|\/)(\.git|testdata|vendor)(\/|$)/.test(path) &&
        (/(^|\/)go\.(mod|sum)$/.test(path) || (path.endsWith('.go') && !path.endsWith('_test.go'))),
    )
    .sort();
}

/**
 * Builds the main package of the module at `moduleDir` into the cache (see the header) unless a binary
 * built from the same sources with the same Go is there already.
 */
function buildCached(name: string, moduleDir: string): { binary: string; built: boolean } | string {
  const go = goToolchain();
  if (typeof go === 'string') return go;
  const hash = createHash('sha256').update(
    `kirsa bench go ${name}\n${go.version} ${go.platform} ${LDFLAGS}\n`,
  );
  for (const path of sourceFiles(moduleDir))
    hash.update(`${path}\n`).update(readFileSync(join(moduleDir, path)));
  const dir = join(go.toolsDir, 'bench', `${name}-${hash.digest('hex').slice(0, 16)}`);
  const binary = join(dir, name);
  if (existsSync(binary)) return { binary, built: false };
  mkdirSync(dir, { recursive: true });
  // A temporary name, renamed into place once complete: an interrupted build leaves no binary behind.
  const partial = `${binary}.${process.pid}.partial`;
  const build = withGo('cd "$1"; go build -trimpath -ldflags "$2" -o "$3" .', [moduleDir, LDFLAGS, partial]);
  if (build.status !== 0) {
    rmSync(partial, { force: true });
    try {
      rmdirSync(dir); // only when empty: another build of the same sources may be under way in it
    } catch {}
    return `go build failed in ${moduleDir}: ${lastLines(build.stderr || build.stdout)}`;
  }
  renameSync(partial, binary);
  return { binary, built: true };
}

/** A module of this folder that needs only Go's standard library, built if needed (or why it is not). */
function ownGoBinary(name: string, source: string): GoBinary {
  const result = buildCached(name, source);
  if (typeof result === 'string') return { skipped: result };
  const go = goToolchain() as Toolchain;
  return { binary: result.binary, about: `${go.version}${result.built ? ', built now' : ''}` };
}

/** The do-nothing Go server of bench/go-floor/, built if needed. */
export function goFloorBinary(): GoBinary {
  return ownGoBinary('go-floor', GO_FLOOR_SOURCE);
}

/** The fixed-rate load generator of bench/go-loadgen/, built if needed. */
export function goLoadgenBinary(): GoBinary {
  return ownGoBinary('go-loadgen', GO_LOADGEN_SOURCE);
}

/** Where the reference webhook's checkout is expected. */
export function referenceSource(): string | undefined {
  if (process.env.KIRSA_REFERENCE_WEBHOOK_SRC) return process.env.KIRSA_REFERENCE_WEBHOOK_SRC;
  const go = goToolchain();
  return typeof go === 'string' ? undefined : join(go.toolsDir, 'src', 'amazon-eks-pod-identity-webhook');
}

/** The reference webhook built from its checkout (see the header), or why not. */
export function referenceBinary(): GoBinary {
  const go = goToolchain();
  if (typeof go === 'string') return { skipped: go };
  const source = referenceSource()!;
  if (!existsSync(join(source, 'go.mod')))
    return {
      skipped: `no checkout of the reference webhook at ${source}: git clone https://github.com/aws/amazon-eks-pod-identity-webhook ${source} (or set KIRSA_REFERENCE_WEBHOOK_SRC)`,
    };
  const result = buildCached('amazon-eks-pod-identity-webhook', source);
  if (typeof result === 'string') return { skipped: result };
  const commit = spawnSync('git', ['-C', source, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const at = commit.status === 0 ? `at ${commit.stdout.trim()}` : 'commit unknown (not a git checkout)';
  return { binary: result.binary, about: `${at}, ${go.version}${result.built ? ', built now' : ''}` };
}

/** Starts the Go floor on a free loopback port (it prints the same "listening" line as the Node floor). */
export function startGoFloor(
  binary: string,
  certFile: string,
  keyFile: string,
  launcher: string[] = [],
): Promise<WebhookProcess> {
  return startServerProcess([...launcher, binary, certFile, keyFile], GO_SERVER_ENV);
}

export interface ReferenceProcess {
  port: number;
  child: ChildProcess;
  /** From spawning it to its first 200 on /healthz. */
  listeningMs: number;
  /** Its log (klog, on stderr) so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface ReferenceOptions {
  ca: string;
  certFile: string;
  keyFile: string;
  kubeconfig: string;
  /** A folder for its log: it writes a line per admission, kept out of the load generator's process. */
  dir: string;
  /** Put before its command, e.g. taskset's (bench/pinning.ts). */
  launcher?: string[];
}

/**
 * Starts the reference webhook out of cluster on a free port: TLS from files, ServiceAccounts from the API
 * server of `kubeconfig`, no ConfigMap, the region kirsa's benchmarks give kirsa. Resolves once it answers
 * /healthz.
 */
export async function startReferenceWebhook(
  binary: string,
  options: ReferenceOptions,
): Promise<ReferenceProcess> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const logFile = join(options.dir, `reference-webhook-${port}.log`);
  const fd = openSync(logFile, 'a');
  const started = performance.now();
  const launcher = options.launcher ?? [];
  const child = spawn(
    launcher[0] ?? binary,
    [
      ...launcher.slice(1),
      ...(launcher.length > 0 ? [binary] : []),
      '--in-cluster=false',
      `--kubeconfig=${options.kubeconfig}`,
      `--tls-cert=${options.certFile}`,
      `--tls-key=${options.keyFile}`,
      `--port=${port}`,
      `--metrics-port=${metricsPort}`,
      '--aws-default-region=eu-west-1',
    ],
    { stdio: ['ignore', fd, fd], env: { ...process.env, ...GO_SERVER_ENV } },
  );
  closeSync(fd);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = () => stopProcess(child, 2_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the reference webhook exited: ${lastLines(log())}`);
    const answer = await httpsCall(port, {
      ca: options.ca,
      method: 'GET',
      path: '/healthz',
      timeoutMs: 1_000,
    })
      .then((reply) => reply.status)
      .catch(() => 0);
    if (answer === 200) break;
    if (performance.now() - started > 60_000) {
      await stop();
      throw new Error(`the reference webhook did not answer /healthz in 60 s: ${lastLines(log())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, child, listeningMs: performance.now() - started, log, stop };
}

/**
 * True when an admission answer's JSON patch sets AWS_ROLE_ARN to `role` anywhere: kirsa adds env entries,
 * the reference rewrites whole containers, and both count.
 */
export function patchGivesRole(body: string, role: string): boolean {
  const patch = (JSON.parse(body) as { response?: { patch?: string } }).response?.patch;
  if (patch === undefined) return false;
  const seek = (value: unknown): boolean => {
    if (Array.isArray(value)) return value.some(seek);
    if (value === null || typeof value !== 'object') return false;
    const entry = value as Record<string, unknown>;
    if (entry.name === 'AWS_ROLE_ARN' && entry.value === role) return true;
    return Object.values(entry).some(seek);
  };
  return seek(JSON.parse(Buffer.from(patch, 'base64').toString('utf8')));
}

/** Admits a pod of namespace/name through the server on `port`, as fast as it answers, until it gets `role`. */
export async function untilRoleGiven(
  port: number,
  ca: string,
  account: { namespace: string; name: string; role: string },
  timeoutMs = 120_000,
): Promise<void> {
  const body = podReview({ namespace: account.namespace, serviceAccountName: account.name });
  const until = performance.now() + timeoutMs;
  for (;;) {
    const answer = await httpsCall(port, { ca, body }).catch(() => undefined);
    if (answer?.status === 200 && patchGivesRole(answer.body, account.role)) return;
    if (performance.now() > until)
      throw new Error(`no admission gave ${account.role} within ${timeoutMs / 1000} s`);
  }
}

export interface ReferenceMeasure {
  listeningMs: number;
  rightMs: number;
  startCpuMs: number;
  rssMb: number;
}

/**
 * The reference's counterpart of measureWebhook (bench/webhook-process.ts): spawn to /healthz, to the first
 * admission that gives `account` its role, the CPU used by then, and its RSS `settleMs` later.
 */
export async function measureReference(
  binary: string,
  options: ReferenceOptions,
  account: { namespace: string; name: string; role: string },
  settleMs: number,
): Promise<ReferenceMeasure> {
  const started = performance.now();
  const reference = await startReferenceWebhook(binary, options);
  try {
    await untilRoleGiven(reference.port, options.ca, account);
    const rightMs = performance.now() - started;
    const startCpuMs = processCpuMs(reference.child.pid!);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return {
      listeningMs: reference.listeningMs,
      rightMs,
      startCpuMs,
      rssMb: residentMb(reference.child.pid!),
    };
  } finally {
    await reference.stop();
  }
}
