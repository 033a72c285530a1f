// Parsers for flag values, shared by every verb. Booleans and durations follow the Go reference's rules so
// that its users' command lines keep working.

import type { Command } from 'commander';
import { DEFAULT_ANNOTATION_PREFIX } from '../consts.ts';
import { parseGoBool } from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import type { KubeAccess } from '../kube/client.ts';

/** For `--flag [bool]` options: bare means true; `--flag=false` and Go's other spellings also work. */
export function parseBooleanFlag(name: string): (text: string) => boolean {
  return (text) => {
    const value = parseGoBool(text);
    if (value === undefined) {
      throw new KirsaError('FLAG_INVALID', `--${name} takes true or false, not "${text}"`, {
        hint: `write --${name} (true) or --${name}=false`,
      });
    }
    return value;
  };
}

export function parseIntegerFlag(name: string, { min }: { min?: number } = {}): (text: string) => number {
  return (text) => {
    if (!/^[+-]?\d+$/.test(text.trim()))
      throw new KirsaError('FLAG_INVALID', `--${name} takes a whole number, not "${text}"`);
    const value = Number(text);
    if (min !== undefined && value < min)
      throw new KirsaError('FLAG_INVALID', `--${name} must be at least ${min}, not ${value}`);
    return value;
  };
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration ("300ms", "1m30s", "0") in milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return undefined;
  return parts.reduce((total, part) => total + Number(part[1]) * DURATION_UNITS[part[2]!]!, 0);
}

export function parseDurationFlag(name: string): (text: string) => number {
  return (text) => {
    const value = parseDuration(text);
    if (value === undefined) {
      throw new KirsaError(
        'FLAG_INVALID',
        `--${name} takes a duration such as 300ms, 2s or 1m, not "${text}"`,
      );
    }
    return value;
  };
}

/**
 * The accumulator of a repeatable option (`--audience a --audience b`). No default need be given to
 * commander, so a flag without one prints no empty list in the help.
 */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `-o text|json` on the verbs that print a result; the JSON shapes are in docs/cli-json.md. */
export const OUTPUT_OPTION = [
  '-o, --output <format>',
  'text, or json for scripts (docs/cli-json.md)',
  'text',
] as const;

export function checkOutput(text: string): 'text' | 'json' {
  if (text !== 'text' && text !== 'json')
    throw new KirsaError('FLAG_INVALID', `-o takes text or json, not "${text}"`, {
      hint: 'write -o json, or leave -o out',
    });
  return text;
}

/** A warning for the person running the verb: on stderr, so stdout stays the verb's output. */
export function printWarning(line: string): void {
  process.stderr.write(`kirsa: warning: ${line}\n`);
}

/** A line for the person running the verb (what was found or done), on stderr like printWarning. */
export function printNote(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A verb's result as -o json prints it: one indented JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** --kubeconfig and --context as the cluster clients take them (an empty flag counts as not given). */
export function kubeAccessOf(flags: { kubeconfig?: string; context?: string }): KubeAccess {
  return {
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  };
}

/** --endpoint-url and --region as the AWS clients take them (an empty flag counts as not given). */
export function awsTargetOf(flags: { endpointUrl?: string; region?: string }): {
  endpointUrl?: string;
  region?: string;
} {
  return {
    ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    ...(flags.region ? { region: flags.region } : {}),
  };
}

/**
 * Where `role create` and `role delete` act: the IAM endpoint and region, and the cluster whose service
 * account carries the annotation. One definition, so the two verbs always take the same flags.
 */
export function addRoleTargetOptions(command: Command): Command {
  return command
    .option('--endpoint-url <url>', 'IAM endpoint (for tests and emulators)')
    .option('--region <region>', 'AWS region for the IAM client')
    .option(
      '--kubeconfig <file>',
      'kubeconfig for the service-account phase (default: KUBECONFIG, ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .option(
      '--annotation-prefix <prefix>',
      'service-account annotation prefix the webhook reads',
      DEFAULT_ANNOTATION_PREFIX,
    );
}
