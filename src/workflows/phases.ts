// The one runner for workflows made of several steps (issuer publish, provider create, role create and
// delete, migrate): every phase's validation (reads only) runs before any phase changes anything, so a bad
// input found by the last phase leaves nothing half done; a skip list takes only the names the workflow
// has; phases return what they did and the caller prints it, so a phase holds no printing and the runner
// holds no verb's format. The command-line side (`--skip-phases`, the help section) is cli/phases.ts.

import { KirsaError } from '../errors.ts';

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

export function phaseNames(phases: ReadonlyArray<Phase<never>>): string[] {
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
