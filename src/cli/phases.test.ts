import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import type { KirsaError } from '../errors.ts';
import { type Phase, phasesHelp } from '../workflows/phases.ts';
import { addPhaseOptions } from './phases.ts';

function namedPhases(names: string[]): Array<Phase<unknown>> {
  return names.map((name) => ({
    name,
    description: `the ${name} step`,
    run: async () => ({ status: 'done', detail: name }),
  }));
}

describe('addPhaseOptions', () => {
  function command() {
    const phases = namedPhases(['role', 'inline-policy']);
    return addPhaseOptions(new Command('create').exitOverride(), phases);
  }

  test('--skip-phases takes comma-separated and repeated names', () => {
    const parsed = command().parse(['--skip-phases', 'role, inline-policy', '--skip-phases', 'role'], {
      from: 'user',
    });
    assert.deepEqual(parsed.opts().skipPhases, ['role', 'inline-policy', 'role']);
  });

  test('an unknown name fails while the command line is parsed, with the usage code', () => {
    assert.throws(
      () => command().parse(['--skip-phases', 'rol'], { from: 'user' }),
      (error: KirsaError) => error.code === 'PHASE_UNKNOWN' && error.hint === 'phases: role, inline-policy',
    );
  });

  test('the help lists each phase with its description, from the phases themselves', () => {
    const phases = namedPhases(['role', 'inline-policy']);
    assert.equal(
      phasesHelp(phases),
      [
        'Phases (in order; every validation runs before any change):',
        '  role           the role step',
        '  inline-policy  the inline-policy step',
      ].join('\n'),
    );
    let help = '';
    command()
      .configureOutput({ writeOut: (text) => (help += text) })
      .outputHelp();
    assert.ok(help.includes(phasesHelp(phases)), help);
  });
});
