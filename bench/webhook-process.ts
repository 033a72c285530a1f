// What the memory benchmarks share: the webhook as the container image runs it (compiled JavaScript, with
// the node flags of the Dockerfile's NODE_OPTIONS, read from it so the two cannot drift), one measured start
// of a webhook process, and the realistic ServiceAccounts they load.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join } from 'node:path';
import type { KubeApiserver } from '../src/local/control-plane.ts';
import { podLauncher, privateMountsMissing, serviceEnv, writePodFiles } from '../test/support/pod-mounts.ts';
import { admittedRole, httpGet, metricValue, startWebhook } from '../test/support/webhook-harness.ts';

const REPOSITORY = new URL('..', import.meta.url).pathname;
const TSC = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;

/**
 * The image's stage of the Dockerfile (after its last `FROM`): its `ENV` lines' variables, and the text
 * itself for its `ARG` lines. The one reading of the Dockerfile both functions below share.
 */
function imageStage(): { environment: Record<string, string>; text: string } {
  const dockerfile = readFileSync(join(REPOSITORY, 'Dockerfile'), 'utf8');
  const text = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const environment: Record<string, string> = {};
  for (const [, line] of text.matchAll(/^ENV (.*)$/gm))
    for (const [, name, quoted, bare] of line!.matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g))
      environment[name!] = quoted ?? bare!;
  return { environment, text };
}

/**
 * The node flags the image starts kirsa with: its `ENV ... NODE_OPTIONS="..."`, then its
 * `ARG NODE_FLAGS="..."` (the flags NODE_OPTIONS may not carry, on node's command line).
 */
export function imageNodeFlags(): string[] {
  const { environment, text } = imageStage();
  const options = environment.NODE_OPTIONS;
  if (options === undefined) throw new Error('the Dockerfile has no ENV NODE_OPTIONS="..." line');
  const commandLine = /^ARG NODE_FLAGS="([^"]*)"/m.exec(text)?.[1];
  if (commandLine === undefined) throw new Error('the Dockerfile has no ARG NODE_FLAGS="..." line');
  return `${options} ${commandLine}`.split(/\s+/).filter((word) => word.startsWith('--'));
}

/**
 * The environment the image gives node besides NODE_OPTIONS, which `imageNodeFlags` puts on the command
 * line (so a benchmark passes it once, not twice).
 */
export function imageEnvironment(): Record<string, string> {
  const { NODE_OPTIONS: _onTheCommandLine, ...rest } = imageStage().environment;
  return rest;
}

/** A node process as the image starts one: the arguments after node, and the environment to add to it. */
export interface AsImage {
  nodeArgs: string[];
  env: Record<string, string>;
  /** The compiled src/ folder (dist/src/), for a benchmark that loads some of kirsa's modules alone. */
  compiledSrc: string;
}

let compiled: AsImage | undefined;

/**
 * Compiles kirsa as the image build does (once per process), laid out as the image lays out /app (package.json,
 * bin/, dist/), and returns what runs its webhook as the image does: the image's node flags before bin/kirsa.js
 * (the image's entrypoint, which checks the Node version before it loads the CLI), and the image's
 * environment, together so that no benchmark starts one without the other. node_modules is the checkout's,
 * found from .kirsa-scratch/ as the image's is from /app.
 */
export async function webhookAsImageRunsIt(): Promise<AsImage> {
  if (compiled) return compiled;
  const app = join(REPOSITORY, '.kirsa-scratch', 'bench-app');
  await rm(app, { recursive: true, force: true });
  const build = spawnSync(
    process.execPath,
    [TSC, '-p', join(REPOSITORY, 'tsconfig.build.json'), '--outDir', join(app, 'dist')],
    {
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
  await cp(join(REPOSITORY, 'bin'), join(app, 'bin'), { recursive: true });
  await cp(join(REPOSITORY, 'package.json'), join(app, 'package.json'));
  compiled = {
    nodeArgs: [...imageNodeFlags(), join(app, 'bin', 'kirsa.js'), 'webhook'],
    env: imageEnvironment(),
    compiledSrc: join(app, 'dist', 'src'),
  };
  return compiled;
}

/**
 * The do-nothing Node server (bench/floor-server.ts) started as kirsa is: plain JavaScript (Node's type
 * stripping loads a WebAssembly compiler that alone adds about 30 MB of RSS, which no compiled server pays),
 * the image's node flags and its environment. `args` go after the certificate and key.
 */
export async function floorAsImageRunsIt(
  certFile: string,
  keyFile: string,
  args: string[] = [],
): Promise<{ command: string[]; env: Record<string, string> }> {
  const source = readFileSync(new URL('./floor-server.ts', import.meta.url), 'utf8');
  const path = join(REPOSITORY, '.kirsa-scratch', 'floor-server.mjs');
  await mkdir(dirname(path), { recursive: true }); // a fresh clone has no scratch folder yet
  await writeFile(path, stripTypeScriptTypes(source));
  return {
    command: [process.execPath, ...imageNodeFlags(), path, certFile, keyFile, ...args],
    env: imageEnvironment(),
  };
}

export interface WebhookMeasure {
  rssMb: number;
  /** From spawning the process to its "listening" log line. */
  startMs: number;
  /** From spawning the process to the log line waited for (`until`), when one was. */
  untilMs?: number;
  /** From spawning the process to the first admission that gave `rightAnswer`'s role, when one was asked. */
  rightMs?: number;
  /** The V8 heap in use, from the webhook's own /metrics. */
  heapMb: number;
  /**
   * CPU time (user + system) the process had used by the first right answer (or by "listening"): the
   * start-up's cost, which a busy machine stretches in wall time but does not change.
   */
  startCpuMs: number;
}

/** A process's resident memory in MB, from /proc (Linux): the same figure for a Node or a Go server. */
export function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** CPU time (user + system) a process has used so far, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ", in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** An account whose role the webhook must give before it counts as started. */
export interface RightAnswer {
  ca: string;
  namespace: string;
  name: string;
  role: string;
}

/**
 * Starts a webhook (`kirsa` is the node arguments that run it), waits for "listening" and, when given, for
 * a log line with the message `until`; lets it settle `settleMs`, and reads its RSS from its own /metrics.
 */
export async function measureWebhook(
  kirsa: string[],
  args: string[],
  options: {
    settleMs: number;
    until?: string;
    rightAnswer?: RightAnswer;
    launcher?: string[];
    env?: NodeJS.ProcessEnv;
  },
): Promise<WebhookMeasure> {
  const started = performance.now();
  const webhook = await startWebhook(args, {
    kirsa,
    launcher: options.launcher ?? [],
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    const startMs = performance.now() - started;
    let untilMs: number | undefined;
    if (options.until !== undefined) {
      await webhook.waitForLog((line) => line.msg === options.until, 120_000);
      untilMs = performance.now() - started;
    }
    let rightMs: number | undefined;
    const right = options.rightAnswer;
    if (right !== undefined) {
      // Polled as fast as it answers: a pod created at that moment would get this answer.
      for (;;) {
        const answer = await admittedRole(webhook, right.ca, right.namespace, right.name).catch(
          () => undefined,
        );
        if (answer?.role === right.role) break;
        if (performance.now() - started > 120_000) throw new Error('no right answer within 120 s');
      }
      rightMs = performance.now() - started;
    }
    const startCpuMs = processCpuMs(webhook.child.pid!);
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    const metrics = (await httpGet(webhook.metricsPort, '/metrics')).body;
    // From /proc, as for every other server measured (the webhook's own metric is the same figure).
    const rssMb = residentMb(webhook.child.pid!);
    const heapMb = (metricValue(metrics, 'nodejs_heap_size_used_bytes') ?? Number.NaN) / 2 ** 20;
    return {
      rssMb,
      heapMb,
      startMs,
      startCpuMs,
      ...(untilMs !== undefined ? { untilMs } : {}),
      ...(rightMs !== undefined ? { rightMs } : {}),
    };
  } finally {
    await webhook.stop('SIGKILL');
  }
}

/**
 * ServiceAccount number `i` of a large cluster, as a user writes it: a Helm-style label, a role annotation on
 * one in five, and kubectl's last-applied annotation on every other one.
 */
export function serviceAccountObject(i: number): {
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
} {
  const namespace = `team-${i % 500}`;
  const name = `app-${i}`;
  const annotations: Record<string, string> = {};
  if (i % 5 === 0)
    annotations['eks.amazonaws.com/role-arn'] = `arn:aws:iam::123456789012:role/${namespace}-${name}`;
  if (i % 2 === 0) {
    annotations['kubectl.kubernetes.io/last-applied-configuration'] = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { annotations: { ...annotations }, name, namespace },
    });
  }
  return {
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'Helm' },
      annotations,
    },
  };
}

/**
 * How to start the webhook as its pod runs it (no --kubeconfig: KUBERNETES_SERVICE_HOST/PORT, and a token
 * and CA where the kubelet mounts them), on the test API server: the token is a TokenRequest's for
 * kirsa-system/kirsa, allowed to read ServiceAccounts and ConfigMaps, and the files are bound under
 * /var/run in a private mount namespace of the webhook's process alone (test/real-parts/webhook/in-cluster.test.ts
 * does the same). Needs root and unshare; says why not otherwise. The kubeconfig path loads a YAML parser
 * that a pod's webhook never loads.
 */
export async function inClusterStart(
  kube: KubeApiserver,
  dir: string,
): Promise<{ launcher: string[]; env: NodeJS.ProcessEnv } | { skipped: string }> {
  const missing = privateMountsMissing();
  if (missing !== undefined) return { skipped: missing };
  const call = async (path: string, body: unknown) => {
    const answer = await kube.request('POST', path, body);
    if (answer.status !== 201 && answer.status !== 200 && answer.status !== 409)
      throw new Error(`${path}: ${answer.status}`);
    return answer.json as { status?: { token?: string } };
  };
  await call('/api/v1/namespaces', { metadata: { name: 'kirsa-system' } });
  await call('/api/v1/namespaces/kirsa-system/serviceaccounts', { metadata: { name: 'kirsa' } });
  await call('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: 'kirsa-bench-webhook' },
    rules: [
      { apiGroups: [''], resources: ['serviceaccounts', 'configmaps'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  await call('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'kirsa-bench-webhook' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kirsa-bench-webhook' },
    subjects: [{ kind: 'ServiceAccount', name: 'kirsa', namespace: 'kirsa-system' }],
  });
  const tokenRequest = await call('/api/v1/namespaces/kirsa-system/serviceaccounts/kirsa/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  const files = join(dir, 'pod-service-account');
  await writePodFiles(files, {
    token: tokenRequest.status?.token ?? '',
    caFile: kube.caFile,
    namespace: 'kirsa-system',
  });
  return { launcher: podLauncher(files), env: serviceEnv(kube.url) };
}
