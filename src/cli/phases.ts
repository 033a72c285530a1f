// The one runner for verbs made of several steps (issuer publish, provider create, role create), after azwi's
// phase workflow: every phase's validation (reads only) runs before any phase changes anything, so a bad
// input found by the last phase leaves nothing half done; `--skip-phases` takes only the names the verb
// has; the verb's help lists its phases from their descriptions; phases return what they did and the verb
// prints it, so a phase holds no printing and the runner holds no verb's format.

import type { Command } from 'commander';
import { KirsaError } from '../errors.ts';
import { printJson } from './flags.ts';

/** What a phase did. "unchanged" is what every phase of a rerun should say. */
export interface PhaseOutcome {
  status: 'created' | 'updated' | 'deleted' | 'unchanged' | 'skipped' | 'done' | 'failed';
  /** One line saying what was done or found. */
  detail: string;
  /** The verb's output proper, when the phase has some (an ARN, uploaded keys, check lines). */
  lines?: readonly string[];
  /** With status "failed": the run stops with this error once the outcome is printed. */
  error?: KirsaError;
}

export interface Phase<Context> {
  name: string;
  /** One line for the verb's help. */
  description: string;
  /** Reads only: checks inputs and the world, fills the context. Runs for every phase before any run(). */
  validate?(context: Context): Promise<void>;
  run(context: Context): Promise<PhaseOutcome>;
}

/** The outcome a phase left out by --skip-phases reports, so every phase has a line in the output. */
export const SKIPPED_BY_FLAG: PhaseOutcome = { status: 'skipped', detail: '--skip-phases' };

function phaseNames(phases: ReadonlyArray<Phase<never>>): string[] {
  return phases.map((phase) => phase.name);
}

/** Throws a usage error (exit 2) naming the verb's phases when a name is not one of them. */
export function checkSkipPhases(phases: ReadonlyArray<Phase<never>>, skip: readonly string[]): void {
  const names = phaseNames(phases);
  const unknown = skip.filter((name) => !names.includes(name));
  if (unknown.length > 0)
    throw new KirsaError('PHASE_UNKNOWN', `unknown phase ${unknown.join(', ')}`, {
      hint: `phases: ${names.join(', ')}`,
    });
}

/**
 * Validates every phase not skipped, then runs them in order, handing each outcome (a skipped phase's too)
 * to report as soon as it is known, so what was done is printed even when a later phase fails.
 */
export async function runPhases<Context>(
  phases: ReadonlyArray<Phase<Context>>,
  context: Context,
  {
    skip = [],
    report,
  }: { skip?: readonly string[]; report: (phase: Phase<Context>, outcome: PhaseOutcome) => void },
): Promise<PhaseOutcome[]> {
  checkSkipPhases(phases, skip);
  const selected = phases.filter((phase) => !skip.includes(phase.name));
  for (const phase of selected) await phase.validate?.(context);
  const outcomes: PhaseOutcome[] = [];
  for (const phase of phases) {
    const outcome = selected.includes(phase) ? await phase.run(context) : SKIPPED_BY_FLAG;
    outcomes.push(outcome);
    report(phase, outcome);
    if (outcome.status === 'failed')
      throw (
        outcome.error ??
        new KirsaError('PHASE_FAILED_UNEXPLAINED', `phase ${phase.name} failed without saying why`, {
          hint: 'run again with --debug and report it',
        })
      );
  }
  return outcomes;
}

/** The help section listing the phases, aligned, from their descriptions. */
export function phasesHelp(phases: ReadonlyArray<Phase<never>>): string {
  const width = Math.max(...phaseNames(phases).map((name) => name.length));
  return [
    'Phases (in order; every validation runs before any change):',
    ...phases.map((phase) => `  ${phase.name.padEnd(width)}  ${phase.description}`),
  ].join('\n');
}

/**
 * Adds `--skip-phases` (comma-separated, repeatable), checked against the phase names while the command
 * line is parsed, so an unknown name fails before anything is read or changed; and the phases to --help.
 */
export function addPhaseOptions(command: Command, phases: ReadonlyArray<Phase<never>>): Command {
  return command
    .option(
      '--skip-phases <phases>',
      `phases to skip, comma-separated: ${phaseNames(phases).join(', ')}`,
      (value: string, previous: string[] | undefined) => {
        const names = value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean);
        checkSkipPhases(phases, names);
        return [...(previous ?? []), ...names];
      },
    )
    .addHelpText('after', `\n${phasesHelp(phases)}`);
}

/** One phase as `-o json` prints it (docs/cli-json.md). */
export interface PhaseJson {
  name: string;
  status: PhaseOutcome['status'];
  detail: string;
  lines: readonly string[];
}

/** A report function for -o json: it collects each phase's outcome for finishVerb instead of printing. */
export function collectPhases(into: PhaseJson[]): (phase: { name: string }, outcome: PhaseOutcome) => void {
  return (phase, outcome) =>
    into.push({
      name: phase.name,
      status: outcome.status,
      detail: outcome.detail,
      lines: outcome.lines ?? [],
    });
}

/**
 * The end of every verb that changes something: with -o json, one JSON object on stdout (the verb's result
 * fields, its phases, and the next commands); else the `next:` lines, on stderr so that stdout stays the
 * verb's output for scripts and pipes (an ARN, manifests). `next` holds whole command lines to run.
 */
export function finishVerb(
  json: boolean,
  result: { phases?: PhaseJson[]; [field: string]: unknown },
  next: readonly string[],
): void {
  if (json) {
    printJson({ ...result, next });
    return;
  }
  for (const line of next) process.stderr.write(`next: ${line}\n`);
}
