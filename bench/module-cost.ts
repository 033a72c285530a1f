// What each runtime library costs the webhook in resident memory just by being loaded: a fresh Node process
// under the image's flags imports one package, collects garbage, settles, and reports its RSS; the floor is
// the same process importing nothing. Three rounds each, the median printed beside the floor. This is the
// profile behind the idle-memory figure of bench/watch-memory.ts: the webhook's distance from a do-nothing
// server is mostly the libraries it loads, not its own data. kirsa's own metrics and log modules (compiled,
// as the image runs them) are measured the same way: they replaced prom-client, which cost +18.1 MB here on
// 2026-12-01 (README.md's library table), and pino (docs/webhook.md).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { imageEnvironment, imageNodeFlags, webhookAsImageRunsIt } from './webhook-process.ts';

const ROUNDS = 3;
const SETTLE_MS = 1_500;
/**
 * What replaced prom-client: kirsa's registry and its process collectors (src/webhook/metrics-registry.ts,
 * process-metrics.ts, compiled as the image build does), a registry built and scraped once, since the
 * collectors are part of the cost. Not metrics.ts: it imports the admission core, which the webhook loads
 * whatever its metrics.
 */
async function kirsaMetricsEntry(): Promise<string> {
  const { compiledSrc } = await webhookAsImageRunsIt();
  const path = join(compiledSrc, 'webhook', 'bench-metrics-entry.js');
  writeFileSync(
    path,
    [
      "import { createMetricsRegistry } from './metrics-registry.js';",
      "import { registerProcessMetrics } from './process-metrics.js';",
      'const registry = createMetricsRegistry();',
      'registerProcessMetrics(registry);',
      'await registry.metrics();',
      'globalThis.kept = registry;',
    ].join('\n'),
  );
  return path;
}
const KIRSA_METRICS = await kirsaMetricsEntry();
/**
 * What replaced pino: kirsa's logger (src/io/log.ts, compiled likewise), one logger made and one line with
 * an Error written, to a destination that drops it (the bench reads the process's stdout).
 */
async function kirsaLogEntry(): Promise<string> {
  const path = join(dirname(KIRSA_METRICS), '..', 'io', 'bench-log-entry.js');
  writeFileSync(
    path,
    [
      "import { createLogger } from './log.js';",
      "const logger = createLogger('info', { write() {} });",
      "logger.error({ err: new Error('measured') }, 'one line');",
      'globalThis.kept = logger;',
    ].join('\n'),
  );
  return path;
}
const KIRSA_LOG = await kirsaLogEntry();
/**
 * node:http as src/io/node-http.ts takes it, from Node's module table: an ES import of node:http reads its
 * lazy exports and so loads undici, http2 and zlib (compare the 'node:http' row).
 */
const HTTP_FROM_TABLE = "data:text/javascript,process.getBuiltinModule('node:http')";
const LABELS = new Map([
  [KIRSA_METRICS, "kirsa's metrics registry + process collectors"],
  [KIRSA_LOG, "kirsa's logger"],
  [HTTP_FROM_TABLE, 'node:http from the module table'],
]);

/**
 * What `kirsa webhook` loads in-cluster (commander, @streamparser/json, kirsa's logger and metrics; yaml only
 * for a kubeconfig), what other verbs load (jose), and what the webhook no longer loads (client-node).
 */
const PACKAGES = [
  ['commander'],
  [KIRSA_LOG],
  ['@streamparser/json'],
  [KIRSA_METRICS],
  ['yaml'],
  ['jose'],
  // Together they share Node's own modules (streams, events), so their costs do not simply add up.
  ['commander', KIRSA_LOG, '@streamparser/json', KIRSA_METRICS],
  ['commander', KIRSA_LOG, '@streamparser/json'],
  ['@kubernetes/client-node'],
  // Node's own: what an ES import of node:http costs, against the way kirsa takes it.
  ['node:https'],
  ['node:http'],
  [HTTP_FROM_TABLE],
];

function residentMb(imports: string[]): number {
  const script = `
    ${imports.map((name) => `await import(${JSON.stringify(name)});`).join('\n')}
    await new Promise((resolve) => setTimeout(resolve, ${SETTLE_MS}));
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.stdout.write(String(process.memoryUsage().rss));`;
  const result = spawnSync(
    process.execPath,
    [...imageNodeFlags(), '--expose-gc', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, ...imageEnvironment() },
    },
  );
  if (result.status !== 0) throw new Error(`importing ${imports.join(', ')}: ${result.stderr}`);
  return Number(result.stdout) / 2 ** 20;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const measure = (imports: string[]) => median(Array.from({ length: ROUNDS }, () => residentMb(imports)));

const floor = measure([]);
console.log(
  `   floor: node ${imageNodeFlags().join(' ')} importing nothing: RSS ${floor.toFixed(1)} MB (median of ${ROUNDS}; load ${loadavg()[0]!.toFixed(2)})`,
);
for (const names of PACKAGES) {
  const rss = measure(names);
  console.log(
    `   ${names
      .map((name) => LABELS.get(name) ?? name)
      .join(' + ')
      .padEnd(52)} RSS ${rss.toFixed(1)} MB  (+${(rss - floor).toFixed(1)} MB over the floor)`,
  );
}
