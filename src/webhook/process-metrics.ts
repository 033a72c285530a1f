// The process_* and nodejs_* series a Node process is expected to export, under the names, types, HELP texts
// and labels prom-client's default collectors gave them (kirsa exported those until it wrote its own
// registry, metrics-registry.ts), so dashboards and alerts built on them keep working. Beside them,
// process_virtual_memory_max_bytes, which the Go client's process collector exports and prom-client's did not.
//
// Values are sampled at each scrape (memory, CPU, file descriptors, handles) except the garbage collections,
// which an observer counts as they happen, and the event-loop delays, which a libuv timer records between
// two scrapes: the minimum, maximum, mean and percentiles are those of the interval since the previous
// scrape, and nodejs_eventloop_lag_seconds is how long a callback queued by this scrape waited.
//
// The garbage collections only when asked (`kirsa webhook --gc-metrics`): while anything observes Node's
// 'gc' performance entries, every young-generation collection moves 4,336 bytes into the old generation
// (Node 24, measured with --trace-gc-nvp: 0 bytes without the observer), and under load
// that alone filled the old generation and set off a full collection every 2-15 s, with its marking steps
// and its pause on the admissions' thread (docs/webhook.md, "Watching the collector made it collect").
// A stall, collections included, shows in nodejs_eventloop_lag_* without it.

import type { MetricsRegistry, ObservedSeries } from './metrics-registry.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { readdirSync, readFileSync } = process.getBuiltinModule('node:fs');
const {
  monitorEventLoopDelay,
  PerformanceObserver,
  constants: performanceConstants,
} = process.getBuiltinModule('node:perf_hooks');
const { getHeapSpaceStatistics } = process.getBuiltinModule('node:v8');

/** The Go client's (and prom-client's) garbage collection buckets, in seconds. */
const GC_DURATION_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
/**
 * The event-loop delay sampling interval: libuv's timer, Node's default. Node's histogram records the whole
 * gap between two of its ticks, so the nodejs_eventloop_lag_{min,max,...} series include the interval (an
 * idle loop shows about 0.010 s), as prom-client's did: a gap of G ms means a stall of G - 10 to G ms.
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** The fields of /proc/self/status read for the memory series, in bytes (Linux only). */
function processStatus(): { rss: number; virtual: number; data: number } | undefined {
  let text: string;
  try {
    // /proc is not disk: the kernel answers from memory, so a synchronous read does not stall the loop.
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;
  return { rss: kib('VmRSS'), virtual: kib('VmSize'), data: kib('VmData') };
}

/** A soft limit from /proc/self/limits, "unlimited" as the largest uint64 (as Go reads it); undefined off Linux. */
function processLimit(name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const soft = new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(text)?.[1];
  if (soft === undefined) return undefined;
  return soft === 'unlimited' ? 2 ** 64 : Number(soft);
}

/** How many of each kind a list holds, by a name per item. */
function countBy<T>(items: readonly T[], nameOf: (item: T) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const name = nameOf(item);
    if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** libuv's handles and requests, which Node exposes only through these underscored methods. */
const internals = process as unknown as {
  _getActiveHandles?: () => object[];
  _getActiveRequests?: () => object[];
};
const constructorName = (item: object | null | undefined) => item?.constructor?.name;

export interface ProcessMetricsOptions {
  /** Export nodejs_gc_duration_seconds, observing every collection (see the header for its cost). */
  gcDurations?: boolean;
}

export function registerProcessMetrics(registry: MetricsRegistry, options: ProcessMetricsOptions = {}): void {
  const cpuUser = registry.counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
  });
  const cpuSystem = registry.counter({
    name: 'process_cpu_system_seconds_total',
    help: 'Total system CPU time spent in seconds.',
  });
  const cpuTotal = registry.counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
  });
  const startTime = registry.gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
  });
  startTime.set(Math.round(Date.now() / 1000 - process.uptime()));
  const resident = registry.gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
  });
  const virtual = registry.gauge({
    name: 'process_virtual_memory_bytes',
    help: 'Virtual memory size in bytes.',
  });
  const heap = registry.gauge({ name: 'process_heap_bytes', help: 'Process heap size in bytes.' });
  const onLinux = process.platform === 'linux';
  const openFds = onLinux
    ? registry.gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.' })
    : undefined;
  const maxFdsValue = processLimit('Max open files');
  if (maxFdsValue !== undefined)
    registry
      .gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.' })
      .set(maxFdsValue);

  const lag = registry.gauge({ name: 'nodejs_eventloop_lag_seconds', help: 'Lag of event loop in seconds.' });
  const delays = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delays.enable();
  const delayGauges = (
    [
      ['min', 'The minimum recorded event loop delay.', () => delays.min],
      ['max', 'The maximum recorded event loop delay.', () => delays.max],
      ['mean', 'The mean of the recorded event loop delays.', () => delays.mean],
      ['stddev', 'The standard deviation of the recorded event loop delays.', () => delays.stddev],
      ['p50', 'The 50th percentile of the recorded event loop delays.', () => delays.percentile(50)],
      ['p90', 'The 90th percentile of the recorded event loop delays.', () => delays.percentile(90)],
      ['p99', 'The 99th percentile of the recorded event loop delays.', () => delays.percentile(99)],
    ] as const
  ).map(([which, help, read]) => ({
    gauge: registry.gauge({ name: `nodejs_eventloop_lag_${which}_seconds`, help }),
    read,
  }));

  const resources = registry.gauge({
    name: 'nodejs_active_resources',
    help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    labelNames: ['type'],
  });
  const resourcesTotal = registry.gauge({
    name: 'nodejs_active_resources_total',
    help: 'Total number of active resources.',
  });
  const handles = registry.gauge({
    name: 'nodejs_active_handles',
    help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
    labelNames: ['type'],
  });
  const handlesTotal = registry.gauge({
    name: 'nodejs_active_handles_total',
    help: 'Total number of active handles.',
  });
  const requests = registry.gauge({
    name: 'nodejs_active_requests',
    help: 'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
    labelNames: ['type'],
  });
  const requestsTotal = registry.gauge({
    name: 'nodejs_active_requests_total',
    help: 'Total number of active requests.',
  });

  const heapTotal = registry.gauge({
    name: 'nodejs_heap_size_total_bytes',
    help: 'Process heap size from Node.js in bytes.',
  });
  const heapUsed = registry.gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: 'Process heap size used from Node.js in bytes.',
  });
  const external = registry.gauge({
    name: 'nodejs_external_memory_bytes',
    help: 'Node.js external memory size in bytes.',
  });
  const spaces = (['total', 'used', 'available'] as const).map((which) =>
    registry.gauge({
      name: `nodejs_heap_space_size_${which}_bytes`,
      help: `Process heap space size ${which} from Node.js in bytes.`,
      labelNames: ['space'],
    }),
  );
  const [major, minor, patch] = process.versions.node.split('.');
  registry
    .gauge({
      name: 'nodejs_version_info',
      help: 'Node.js version info.',
      labelNames: ['version', 'major', 'minor', 'patch'],
    })
    .labels(process.version, major!, minor!, patch!)
    .set(1);

  if (options.gcDurations) observeCollections(registry);

  let lastCpu = process.cpuUsage();
  registry.beforeScrape(async () => {
    // How long a callback queued as the scrape begins waits for the loop, the collection below included.
    const queued = performance.now();
    const turn = new Promise((resolve) => setImmediate(resolve));

    const cpu = process.cpuUsage();
    cpuUser.inc((cpu.user - lastCpu.user) / 1e6);
    cpuSystem.inc((cpu.system - lastCpu.system) / 1e6);
    cpuTotal.inc((cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1e6);
    lastCpu = cpu;

    const status = processStatus();
    if (status !== undefined) {
      resident.set(status.rss);
      virtual.set(status.virtual);
      heap.set(status.data);
    }
    if (openFds !== undefined) {
      try {
        // Less the descriptor readdirSync itself held while it listed the folder.
        openFds.set(readdirSync('/proc/self/fd').length - 1);
      } catch {
        // /proc unreadable (a sandbox): keep the last value
      }
    }

    for (const { gauge, read } of delayGauges) gauge.set(read() / 1e9);
    delays.reset();

    const resourceInfo = process.getActiveResourcesInfo();
    resources.reset();
    for (const [type, count] of countBy(resourceInfo, (name) => name)) resources.labels(type).set(count);
    resourcesTotal.set(resourceInfo.length);
    const activeHandles = internals._getActiveHandles?.() ?? [];
    handles.reset();
    for (const [type, count] of countBy(activeHandles, constructorName)) handles.labels(type).set(count);
    handlesTotal.set(activeHandles.length);
    const activeRequests = internals._getActiveRequests?.() ?? [];
    requests.reset();
    for (const [type, count] of countBy(activeRequests, constructorName)) requests.labels(type).set(count);
    requestsTotal.set(activeRequests.length);

    const memory = process.memoryUsage();
    heapTotal.set(memory.heapTotal);
    heapUsed.set(memory.heapUsed);
    external.set(memory.external);
    for (const space of getHeapSpaceStatistics()) {
      const name = space.space_name.replace(/_space$/, '');
      spaces[0]!.labels(name).set(space.space_size);
      spaces[1]!.labels(name).set(space.space_used_size);
      spaces[2]!.labels(name).set(space.space_available_size);
    }

    await turn;
    lag.set((performance.now() - queued) / 1000);
  });

  const addressSpace = processLimit('Max address space');
  if (addressSpace !== undefined)
    registry
      .gauge({
        name: 'process_virtual_memory_max_bytes',
        help: 'Maximum amount of virtual memory available in bytes.',
      })
      .set(addressSpace);
}

/** nodejs_gc_duration_seconds, from Node's 'gc' performance entries (--gc-metrics only: see the header). */
function observeCollections(registry: MetricsRegistry): void {
  const gc = registry.histogram({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: GC_DURATION_BUCKETS,
  });
  // A kind's series appears with its first collection of that kind, as it did under prom-client.
  const gcKindNames = new Map([
    [performanceConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
    [performanceConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
    [performanceConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
    [performanceConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
  ]);
  const gcKinds = new Map<number, ObservedSeries>();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === undefined) continue;
      let series = gcKinds.get(kind);
      if (series === undefined) {
        const name = gcKindNames.get(kind);
        if (name === undefined) continue;
        series = gc.labels(name);
        gcKinds.set(kind, series);
      }
      series.observe(entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
}
