// What the memory benchmarks share: the webhook as the container image runs it (compiled JavaScript, with
// the node flags of the Dockerfile's ENTRYPOINT, read from it so the two cannot drift), one measured start
// of a webhook process, and the realistic ServiceAccounts they load.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpGet, metricValue, startWebhook } from '../test/webhook/harness.ts';

const REPOSITORY = new URL('..', import.meta.url).pathname;
const TSC = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;

/** The node flags the image starts kirsa with: those between "node" and the script in ENTRYPOINT. */
export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(join(REPOSITORY, 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  if (entrypoint === undefined) throw new Error('the Dockerfile has no ENTRYPOINT ["node", ...] line');
  const words = JSON.parse(entrypoint) as string[];
  return words.slice(1).filter((word) => word.startsWith('--'));
}

let compiled: string[] | undefined;

/** Compiles kirsa as the image build does (once per process) and returns the command that runs its webhook. */
export async function webhookAsImageRunsIt(): Promise<string[]> {
  if (compiled) return compiled;
  const outDir = join(REPOSITORY, '.kirsa-scratch', 'bench-dist');
  const build = spawnSync(
    process.execPath,
    [TSC, '-p', join(REPOSITORY, 'tsconfig.build.json'), '--outDir', outDir],
    {
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
  const entry = join(outDir, 'src', 'cli', 'bench-entry.js');
  await writeFile(
    entry,
    "import { main } from './main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n",
  );
  compiled = [...imageNodeFlags(), entry, 'webhook'];
  return compiled;
}

export interface WebhookMeasure {
  rssMb: number;
  /** From spawning the process to its "listening" log line. */
  startMs: number;
  /** From spawning the process to the log line waited for (`until`), when one was. */
  untilMs?: number;
}

/**
 * Starts a webhook (`kirsa` is the node arguments that run it), waits for "listening" and, when given, for
 * a log line with the message `until`; lets it settle `settleMs`, and reads its RSS from its own /metrics.
 */
export async function measureWebhook(
  kirsa: string[],
  args: string[],
  options: { settleMs: number; until?: string },
): Promise<WebhookMeasure> {
  const started = performance.now();
  const webhook = await startWebhook(args, { kirsa });
  try {
    const startMs = performance.now() - started;
    let untilMs: number | undefined;
    if (options.until !== undefined) {
      await webhook.waitForLog((line) => line.msg === options.until, 120_000);
      untilMs = performance.now() - started;
    }
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    const metrics = (await httpGet(webhook.metricsPort, '/metrics')).body;
    const rssMb = (metricValue(metrics, 'process_resident_memory_bytes') ?? Number.NaN) / 2 ** 20;
    return untilMs === undefined ? { rssMb, startMs } : { rssMb, startMs, untilMs };
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
