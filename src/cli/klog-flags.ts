// The logging flags the reference webhook takes from klog (k8s.io/klog/v2 v2.140.0, the version its go.mod
// pins: klog.InitFlags registers exactly these), so that its manifests' command lines (`--logtostderr`,
// `--v=5` ...) start kirsa unchanged. `--v` is mapped to a log level; the others describe klog's own output
// (files, headers, thresholds) and have no kirsa meaning: kirsa always writes JSON lines to stdout. They are
// accepted, their values checked as klog checks them, and named in one start-up log line.

import { KirsaError } from '../errors.ts';
import type { FlagSpec } from './flag-specs.ts';
import { parseBooleanFlag } from './flags.ts';

type KlogKind = 'bool' | 'text' | 'size' | 'level' | 'severity' | 'vmodule' | 'trace';

/** klog's flags and their value kinds, in the order klog registers them. */
export const KLOG_FLAGS: ReadonlyArray<{ name: string; kind: KlogKind }> = [
  { name: 'log_dir', kind: 'text' },
  { name: 'log_file', kind: 'text' },
  { name: 'log_file_max_size', kind: 'size' },
  { name: 'logtostderr', kind: 'bool' },
  { name: 'alsologtostderr', kind: 'bool' },
  { name: 'legacy_stderr_threshold_behavior', kind: 'bool' },
  { name: 'v', kind: 'level' },
  { name: 'add_dir_header', kind: 'bool' },
  { name: 'skip_headers', kind: 'bool' },
  { name: 'one_output', kind: 'bool' },
  { name: 'skip_log_headers', kind: 'bool' },
  { name: 'stderrthreshold', kind: 'severity' },
  { name: 'alsologtostderrthreshold', kind: 'severity' },
  { name: 'vmodule', kind: 'vmodule' },
  { name: 'log_backtrace_at', kind: 'trace' },
];

const SEVERITIES = ['INFO', 'WARNING', 'ERROR', 'FATAL'];

function refuse(name: string, text: string, expected: string): never {
  throw new KirsaError('FLAG_INVALID', `--${name} takes ${expected}, not "${text}"`);
}

/** A parser per kind that accepts what klog accepts (and refuses what it refuses). */
function parserFor(name: string, kind: Exclude<KlogKind, 'bool'>): (text: string) => string | number {
  return (raw) => {
    // `-v=5`: a one-letter flag's value keeps the "=" in commander; pflag drops it.
    const text = name === 'v' ? raw.replace(/^=/, '') : raw;
    switch (kind) {
      case 'level':
        if (!/^[+-]?\d+$/.test(text) || Math.abs(Number(text)) > 2 ** 31) refuse(name, raw, 'a whole number');
        return Number(text);
      case 'size':
        if (!/^\+?\d+$/.test(text)) refuse(name, raw, 'a size in megabytes');
        return text;
      case 'severity':
        if (!SEVERITIES.includes(text.toUpperCase()) && !/^[0-3]$/.test(text))
          refuse(name, raw, `one of ${SEVERITIES.join(', ')} (or 0-3)`);
        return text;
      case 'vmodule':
        if (text !== '' && !/^[^=,]+=\d+(,[^=,]+=\d+)*$/.test(text))
          refuse(name, raw, 'pattern=N[,pattern=N]');
        return text;
      case 'trace':
        if (text !== '' && !/^[^:]+\.go:\d+$/.test(text)) refuse(name, raw, 'file.go:N');
        return text;
      default:
        return text;
    }
  };
}

/** klog's flags as declared flags, hidden from --help (they are documented in docs/webhook.md). */
export const KLOG_FLAG_SPECS: readonly FlagSpec[] = KLOG_FLAGS.map(({ name, kind }) =>
  kind === 'bool'
    ? { flags: `--${name} [bool]`, parse: parseBooleanFlag(name), hidden: true }
    : { flags: `${name === 'v' ? '-v, ' : ''}--${name} <value>`, parse: parserFor(name, kind), hidden: true },
);

/** The klog flags present in the parsed values, as `--name`, except --v (which kirsa maps). */
export function klogFlagsGiven(values: Record<string, unknown>): string[] {
  return KLOG_FLAGS.filter(({ name }) => name !== 'v' && values[name] !== undefined).map(
    ({ name }) => `--${name}`,
  );
}
