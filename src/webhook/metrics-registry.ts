// A Prometheus registry of our own: counters, gauges, histograms and quantile-free summaries, with labels,
// rendered in the text exposition format 0.0.4. Written instead of loading prom-client because importing
// prom-client alone took a Node process under the image's flags from 44.7 to 62.8 MB of RSS (+18.1 MB,
// bench/module-cost.ts, 2026-12-01): it pulls in zlib, the cluster module, OpenTelemetry's API and a
// t-digest, none of which a webhook exposing a few dozen series needs. README.md's library table keeps
// the figure.
//
// Made for the webhook's hot path: a series' label text is escaped and joined once, when the series is
// first asked for, so an observation is an addition and a scrape a concatenation. Families render in the
// order they were registered.

import { KirsaError } from '../errors.ts';

/** The Content-Type of the text exposition format this registry renders. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type LabelValue = string | number;

interface FamilyOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends FamilyOptions {
  /** Upper bounds, ascending; +Inf is added. */
  buckets: readonly number[];
}

export interface CounterSeries {
  inc(by?: number): void;
}

export interface GaugeSeries {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

export interface ObservedSeries {
  observe(value: number): void;
}

/** A family: its series for one set of label values (in labelNames' order), and the unlabelled series' methods. */
export interface Counter extends CounterSeries {
  labels(...values: LabelValue[]): CounterSeries;
}

export interface Gauge extends GaugeSeries {
  labels(...values: LabelValue[]): GaugeSeries;
  /** Forgets every labelled series (a gauge whose label values come and go, such as handle types). */
  reset(): void;
}

export interface Histogram extends ObservedSeries {
  labels(...values: LabelValue[]): ObservedSeries;
}

export interface MetricsRegistry {
  readonly contentType: string;
  counter(options: FamilyOptions): Counter;
  gauge(options: FamilyOptions): Gauge;
  histogram(options: HistogramOptions): Histogram;
  /** A summary without quantiles (only _sum and _count), as the Go client's are unless quantiles are asked. */
  summary(options: FamilyOptions): Histogram;
  /** Runs before each rendering, to read values that are sampled rather than counted (memory, file descriptors). */
  beforeScrape(collect: () => void | Promise<void>): void;
  /** The exposition of every family: collectors first, then one pass over the series. */
  metrics(): Promise<string>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample value as the format writes it: Go's float text for the infinities and NaN. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** HELP text escapes backslash and line feed (the format ends a HELP line at the first raw line feed). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value escapes backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `name="value",...` without braces, or '' for no labels. */
function labelPairs(name: string, labelNames: readonly string[], values: readonly LabelValue[]): string {
  if (values.length !== labelNames.length)
    throw misuse(
      `${name} takes ${labelNames.length} label values (${labelNames.join(', ')}), given ${values.length}`,
    );
  return labelNames.map((label, i) => `${label}="${escapeLabelValue(String(values[i]))}"`).join(',');
}

function misuse(message: string): KirsaError {
  return new KirsaError('METRICS_MISUSE', message, {
    hint: 'a bug in kirsa: please report it with this message',
  });
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  /** Appends the family's sample lines. */
  render(lines: string[]): void;
}

/**
 * The series of one family by their label text. A family without labels has its one series from the start
 * (so it renders 0 before anything happens, as Prometheus clients do); a labelled one has a series once its
 * values are first asked for.
 */
function seriesMap<S>(name: string, labelNames: readonly string[], create: () => S) {
  const byLabels = new Map<string, S>();
  if (labelNames.length === 0) byLabels.set('', create());
  return {
    byLabels,
    get(values: readonly LabelValue[]): S {
      const pairs = labelPairs(name, labelNames, values);
      let series = byLabels.get(pairs);
      if (series === undefined) {
        series = create();
        byLabels.set(pairs, series);
      }
      return series;
    },
    unlabelled(): S {
      const series = byLabels.get('');
      if (series === undefined || labelNames.length > 0)
        throw misuse(`${name} has labels (${labelNames.join(', ')}): use labels(...) first`);
      return series;
    },
  };
}

const braced = (pairs: string) => (pairs === '' ? '' : `{${pairs}}`);

export function createMetricsRegistry(): MetricsRegistry {
  const families: Family[] = [];
  const collectors: (() => void | Promise<void>)[] = [];

  function register(family: Family, labelNames: readonly string[]): void {
    if (!METRIC_NAME.test(family.name)) throw misuse(`"${family.name}" is not a metric name`);
    for (const label of labelNames)
      if (!LABEL_NAME.test(label) || label.startsWith('__'))
        throw misuse(`"${label}" is not a label name (${family.name})`);
    if (families.some((each) => each.name === family.name))
      throw misuse(`${family.name} is registered already`);
    families.push(family);
  }

  /** A counter or gauge family: one sample line per label set, the series' value. */
  function registerSingleValued(
    options: FamilyOptions,
    type: 'counter' | 'gauge',
    series: { byLabels: Map<string, { value: number }> },
  ): void {
    register(
      {
        name: options.name,
        help: options.help,
        type,
        render(lines) {
          for (const [pairs, one] of series.byLabels)
            lines.push(`${options.name}${braced(pairs)} ${formatValue(one.value)}`);
        },
      },
      options.labelNames ?? [],
    );
  }

  function counter(options: FamilyOptions): Counter {
    const labelNames = options.labelNames ?? [];
    const series = seriesMap(options.name, labelNames, () => {
      const one = {
        value: 0,
        inc(by = 1) {
          if (!(by >= 0)) throw misuse(`${options.name} is a counter: it cannot go down (inc(${by}))`);
          one.value += by;
        },
      };
      return one;
    });
    registerSingleValued(options, 'counter', series);
    return {
      labels: (...values) => series.get(values),
      inc: (by) => series.unlabelled().inc(by),
    };
  }

  function gauge(options: FamilyOptions): Gauge {
    const labelNames = options.labelNames ?? [];
    const create = () => {
      const one = {
        value: 0,
        set(value: number) {
          one.value = value;
        },
        inc(by = 1) {
          one.value += by;
        },
        dec(by = 1) {
          one.value -= by;
        },
      };
      return one;
    };
    const series = seriesMap(options.name, labelNames, create);
    registerSingleValued(options, 'gauge', series);
    return {
      labels: (...values) => series.get(values),
      set: (value) => series.unlabelled().set(value),
      inc: (by) => series.unlabelled().inc(by),
      dec: (by) => series.unlabelled().dec(by),
      reset() {
        if (labelNames.length > 0) series.byLabels.clear();
        else series.unlabelled().set(0);
      },
    };
  }

  function histogram(options: HistogramOptions): Histogram {
    const labelNames = options.labelNames ?? [];
    if (labelNames.includes('le')) throw misuse(`${options.name}: "le" is the bucket label of a histogram`);
    const bounds = [...options.buckets];
    if (bounds.some((bound, i) => Number.isNaN(bound) || (i > 0 && bound <= bounds[i - 1]!)))
      throw misuse(`${options.name}: buckets must be ascending numbers`);
    if (bounds.at(-1) !== Number.POSITIVE_INFINITY) bounds.push(Number.POSITIVE_INFINITY);
    const les = bounds.map((bound) => `le="${formatValue(bound)}"`);
    const series = seriesMap(options.name, labelNames, () => {
      // Per-bucket counts, not cumulative: an observation touches one slot; the scrape adds them up.
      const one = {
        counts: new Float64Array(bounds.length),
        sum: 0,
        count: 0,
        observe(value: number) {
          let i = 0;
          while (value > bounds[i]!) i++;
          one.counts[i]! += 1;
          one.sum += value;
          one.count += 1;
        },
      };
      return one;
    });
    register(
      {
        name: options.name,
        help: options.help,
        type: 'histogram',
        render(lines) {
          for (const [pairs, one] of series.byLabels) {
            const rest = pairs === '' ? '}' : `,${pairs}}`;
            let cumulative = 0;
            for (let i = 0; i < bounds.length; i++) {
              cumulative += one.counts[i]!;
              lines.push(`${options.name}_bucket{${les[i]}${rest} ${formatValue(cumulative)}`);
            }
            lines.push(`${options.name}_sum${braced(pairs)} ${formatValue(one.sum)}`);
            lines.push(`${options.name}_count${braced(pairs)} ${formatValue(one.count)}`);
          }
        },
      },
      labelNames,
    );
    return {
      labels: (...values) => series.get(values),
      observe: (value) => series.unlabelled().observe(value),
    };
  }

  function summary(options: FamilyOptions): Histogram {
    const labelNames = options.labelNames ?? [];
    const series = seriesMap(options.name, labelNames, () => {
      const one = {
        sum: 0,
        count: 0,
        observe(value: number) {
          one.sum += value;
          one.count += 1;
        },
      };
      return one;
    });
    register(
      {
        name: options.name,
        help: options.help,
        type: 'summary',
        render(lines) {
          for (const [pairs, one] of series.byLabels) {
            lines.push(`${options.name}_sum${braced(pairs)} ${formatValue(one.sum)}`);
            lines.push(`${options.name}_count${braced(pairs)} ${formatValue(one.count)}`);
          }
        },
      },
      labelNames,
    );
    return {
      labels: (...values) => series.get(values),
      observe: (value) => series.unlabelled().observe(value),
    };
  }

  return {
    contentType: EXPOSITION_CONTENT_TYPE,
    counter,
    gauge,
    histogram,
    summary,
    beforeScrape(collect) {
      collectors.push(collect);
    },
    async metrics() {
      await Promise.all(collectors.map((collect) => collect()));
      const lines: string[] = [];
      for (const family of families) {
        lines.push(
          `# HELP ${family.name} ${escapeHelp(family.help)}`,
          `# TYPE ${family.name} ${family.type}`,
        );
        family.render(lines);
        // A blank line between families, as prom-client wrote them (the format ignores empty lines).
        lines.push('');
      }
      return lines.join('\n');
    },
  };
}
