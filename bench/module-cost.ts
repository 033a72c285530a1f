// What each runtime library costs the webhook in resident memory just by being loaded: a fresh Node process
// under the image's flags imports one package, collects garbage, settles, and reports its RSS; the floor is
// the same process importing nothing. Three rounds each, the median printed beside the floor. This is the
// profile behind the idle-memory figure of bench/watch-memory.ts: the webhook's distance from a do-nothing
// server is mostly the libraries it loads, not its own data.

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { imageNodeFlags } from './webhook-process.ts';

const ROUNDS = 3;
const SETTLE_MS = 1_500;
/**
 * What `kirsa webhook` loads in-cluster (commander, pino, @streamparser/json, prom-client; yaml only for a
 * kubeconfig), what other verbs load (jose), and what the webhook no longer loads (client-node).
 */
const PACKAGES = [
  ['commander'],
  ['pino'],
  ['@streamparser/json'],
  ['prom-client'],
  ['yaml'],
  ['jose'],
  // Together they share Node's own modules (streams, events), so their costs do not simply add up.
  ['commander', 'pino', '@streamparser/json', 'prom-client'],
  ['commander', 'pino', '@streamparser/json'],
  ['@kubernetes/client-node'],
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
    { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname },
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
    `   ${names.join(' + ').padEnd(52)} RSS ${rss.toFixed(1)} MB  (+${(rss - floor).toFixed(1)} MB over the floor)`,
  );
}
