// V8 flags the webhook sets on itself once it listens. The image starts node with a Maglev threshold no
// function reaches while kirsa loads (--invocation-count-for-maglev=100000): loading about a hundred modules
// made Node's own module loader hot enough for 29 Maglev compiles, which paged 2.3 MB of the compiler's code
// into an idle webhook's RSS and compiled functions that never run again. Once the webhook listens, everything
// it runs from then on is its work, so the image names V8's default threshold here and the webhook puts it
// back: the hot path reaches Maglev as soon as it would have without the start-up setting (docs/webhook.md,
// "Maglev after start-up"). Sparkplug, the baseline compiler, goes the same way (--no-sparkplug at start,
// --sparkplug here): its start-up compiles were 0.7-1.0 MB of an idle webhook's RSS ("Sparkplug after
// start-up"). Node accepts V8's tiering flags only on its command line, not in NODE_OPTIONS, so the start-up
// half lives in the image's NODE_FLAGS and this half in its environment.

import { KirsaError } from '../errors.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { setFlagsFromString } = process.getBuiltinModule('node:v8');

/** The environment variable naming the V8 flags to set once the webhook listens (the image sets it). */
export const V8_FLAGS_WHEN_LISTENING = 'KIRSA_V8_FLAGS_WHEN_LISTENING';

// A V8 flag as `node --v8-options` spells them: --name or --name=value, value without spaces.
const V8_FLAG = /^--[a-z][a-z0-9-]*(=[^\s]+)?$/;

/** The flags the environment asks for, checked (an empty or unset variable asks for none). */
export function v8FlagsWhenListening(env: NodeJS.ProcessEnv): string[] {
  const words = (env[V8_FLAGS_WHEN_LISTENING] ?? '').split(/\s+/).filter((word) => word !== '');
  const bad = words.find((word) => !V8_FLAG.test(word));
  if (bad !== undefined) {
    throw new KirsaError(
      'FLAG_INVALID',
      `${V8_FLAGS_WHEN_LISTENING} has ${JSON.stringify(bad)}, not a V8 flag`,
      {
        hint: `give V8 flags as \`node --v8-options\` lists them, separated by spaces (the image sets ${V8_FLAGS_WHEN_LISTENING}="--invocation-count-for-maglev=400 --sparkplug"), or unset it`,
      },
    );
  }
  return words;
}

/**
 * The collector's work V8 hands to other threads, which on one CPU take turns with the webhook instead of
 * running beside it: concurrent marking (its turns were whole milliseconds in which no admission was
 * answered) and parallel scavenging (each young-generation collection split into tasks that the main thread
 * then waits on). Both are read by V8 each time it starts that work, so they can change once the webhook
 * listens. Parallel marking is not one of them: set after start, V8 stopped on a failed check here.
 */
const THREADED_COLLECTOR_WORK = ['concurrent-marking', 'parallel-scavenge'] as const;

/**
 * V8's collector flags for a process with `cpus` CPUs to run on. With one (a container's CPU limit of 1 or
 * less, or an affinity mask of one CPU), the collector works on the webhook's thread alone: marking in V8's
 * small incremental steps between admissions (0.1-0.9 ms each) brought the 20 KB pod's p99.9 at 1,000/s on
 * one core from 2.79x to 2.11x the do-nothing floor's, for more memory under sustained load; a scavenge done
 * by the main thread alone paused it for 0.30-0.32 ms (median) against 0.40-0.42 ms split into tasks
 * (docs/webhook.md, "Marking on one CPU" and "Scavenging on one CPU").
 * With two or more CPUs the helpers run on another one, and V8's default stays. A flag the environment names
 * (`named`, from KIRSA_V8_FLAGS_WHEN_LISTENING) either way is an operator's choice, left as named.
 */
export function collectorFlagsForCpus(cpus: number, named: readonly string[] = []): string[] {
  if (cpus > 1) return [];
  const isNamed = (work: string) => named.some((flag) => new RegExp(`^--(no-)?${work}(=|$)`).test(flag));
  return THREADED_COLLECTOR_WORK.filter((work) => !isNamed(work)).map((work) => `--no-${work}`);
}

/**
 * Sets V8 flags in the running process (V8 reads its tiering thresholds each time it decides, and whether to
 * mark concurrently or scavenge in parallel each time it starts that work).
 */
export function setV8Flags(flags: string[]): void {
  for (const flag of flags) setFlagsFromString(flag);
}
