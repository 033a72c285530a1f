// The command-line side of the phase runner (workflows/phases.ts): `--skip-phases` checked while the command
// line is parsed, the phases in --help, and how a verb that changes something ends (JSON or `next:` lines).

import type { Command } from 'commander';
import {
  checkSkipPhases,
  type Phase,
  type PhaseOutcome,
  phaseNames,
  phasesHelp,
} from '../workflows/phases.ts';
import { printJson } from './flags.ts';

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

/**
 * A report function for text output: one line a phase, its name and status aligned in columns, then the
 * phase's own lines (migrate's per-workload lines) indented under it.
 */
export function printPhases(
  phases: ReadonlyArray<{ name: string }>,
): (phase: { name: string }, outcome: PhaseOutcome) => void {
  const width = Math.max(...phases.map((phase) => phase.name.length));
  return (phase, outcome) => {
    process.stdout.write(`${phase.name.padEnd(width)}  ${outcome.status.padEnd(9)}  ${outcome.detail}\n`);
    for (const line of outcome.lines ?? []) process.stdout.write(`  ${line}\n`);
  };
}
