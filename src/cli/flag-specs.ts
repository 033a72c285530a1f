// Flags declared as data, so one declaration serves two parsers: commander, which every verb's command line
// goes through (help, did-you-mean, every error message), and parseDeclaredFlags below, which the webhook's
// process uses instead for a command line it can read with certainty. The webhook runs for the life of a
// pod, and commander's code (with node:child_process, which it loads for subcommands kirsa never spawns)
// costs that process about 1.2 MB of resident memory for a parse done once at start (docs/webhook.md,
// "Without pino and commander"). So the fast path reads only what it is sure of and hands anything else
// (an unknown flag, a missing value, a word that is not a flag, --help) to commander, whose messages stay the
// only ones a user sees; a property test checks that both parsers agree on every command line the fast path
// accepts (flag-specs.test.ts).

/** One flag, as commander's `.option()` takes it. */
export interface FlagSpec {
  /** Commander's syntax: `--port <port>` (value required), `--pod-events [bool]` (value optional), `-v, --v <value>`, `--version`. */
  flags: string;
  description?: string;
  /** Turns the text into the value; gets the value so far (the default, or the flag's previous value). */
  parse?: (text: string, previous: unknown) => unknown;
  /** The value when the flag is not given (already parsed; absent means the flag has no value then). */
  default?: unknown;
  /** What help prints as the default, when not the value itself (a duration's text, not its milliseconds). */
  defaultText?: string;
  /** Accepted but left out of --help (the reference's flags with no kirsa meaning). */
  hidden?: boolean;
}

export interface FlagShape {
  long: string;
  short?: string;
  /** The key of the parsed values, as commander names it: `--tls-cert` is `tlsCert`, `--log_dir` stays `log_dir`. */
  attribute: string;
  value: 'required' | 'optional' | 'none';
}

/** The names and value kind in a spec's `flags` text. */
export function flagShape(spec: FlagSpec): FlagShape {
  const long = /--([\w-]+)/.exec(spec.flags)?.[1];
  if (long === undefined) throw new Error(`flag spec without a long name: ${spec.flags}`);
  const short = /^-(\w)\b/.exec(spec.flags)?.[1];
  return {
    long,
    ...(short !== undefined ? { short } : {}),
    attribute: long.split('-').reduce((name, word) => name + word[0]!.toUpperCase() + word.slice(1)),
    value: spec.flags.includes('<') ? 'required' : spec.flags.includes('[') ? 'optional' : 'none',
  };
}

/**
 * The program's own options (`--debug`, `-V`/`--version`, `-h`/`--help`): commander reads them anywhere on
 * the line, even where a flag's value stands, and a word starting `-V` or `-h` is read as those short flags.
 * A line with any of them goes to commander.
 */
function commanderReadsAsProgramOption(word: string): boolean {
  return ['--debug', '--version', '--help'].includes(word) || /^-[Vh]/.test(word);
}

/** Commander takes a negative number as the value of a flag whose value is optional. */
const NEGATIVE_NUMBER = /^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/;

/**
 * The values a command line gives these flags, with their defaults, keyed as commander keys them; undefined
 * when the line has anything this parser leaves to commander. A value's parser may throw (a KirsaError, as
 * it does under commander); the flags are read left to right, as commander reads them.
 */
export function parseDeclaredFlags(
  words: readonly string[],
  specs: readonly FlagSpec[],
): Record<string, unknown> | undefined {
  if (words.some(commanderReadsAsProgramOption)) return undefined;
  const byName = new Map<string, { spec: FlagSpec; shape: FlagShape }>();
  for (const spec of specs) {
    const shape = flagShape(spec);
    byName.set(`--${shape.long}`, { spec, shape });
    if (shape.short !== undefined) byName.set(`-${shape.short}`, { spec, shape });
  }
  const values: Record<string, unknown> = {};
  for (const spec of specs) {
    if (spec.default === undefined) continue;
    values[flagShape(spec).attribute] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  }
  const set = ({ spec, shape }: { spec: FlagSpec; shape: FlagShape }, text: string | undefined) => {
    // Commander's rule: a bare flag whose value is optional (or that takes none) is true, unparsed.
    values[shape.attribute] =
      text === undefined ? true : spec.parse ? spec.parse(text, values[shape.attribute]) : text;
  };
  for (let at = 0; at < words.length; at++) {
    const word = words[at]!;
    const flag = byName.get(word);
    if (flag !== undefined) {
      if (flag.shape.value === 'required') {
        if (at + 1 >= words.length) return undefined;
        set(flag, words[++at]!);
      } else if (flag.shape.value === 'optional') {
        const next = words[at + 1];
        const takesNext =
          next !== undefined && (!(next.length > 1 && next[0] === '-') || NEGATIVE_NUMBER.test(next));
        set(flag, takesNext ? words[++at]! : undefined);
      } else {
        set(flag, undefined);
      }
      continue;
    }
    // `-v5` and `-v=5`: a short flag with its value attached (commander keeps the "=").
    if (word.length > 2 && word[0] === '-' && word[1] !== '-') {
      const short = byName.get(word.slice(0, 2));
      if (short === undefined || short.shape.value === 'none') return undefined;
      set(short, word.slice(2));
      continue;
    }
    const equals = /^(--[^=]+)=/.exec(word);
    const named = equals ? byName.get(equals[1]!) : undefined;
    if (named === undefined || named.shape.value === 'none') return undefined;
    set(named, word.slice(equals![0].length));
  }
  return values;
}
