import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KirsaError } from '../errors.ts';
import { type Phase, type PhaseOutcome, runPhases } from './phases.ts';

/** Phases that record every call in the context's log; `failValidation` / `failRun` name phases that fail there. */
function recordingPhases(
  names: string[],
  { failValidation, failRun }: { failValidation?: string; failRun?: string } = {},
): Array<Phase<{ log: string[] }>> {
  return names.map((name) => ({
    name,
    description: `the ${name} step`,
    async validate(context) {
      context.log.push(`validate ${name}`);
      if (name === failValidation) throw new KirsaError('KEY_INVALID', `${name} is wrong`);
    },
    async run(context): Promise<PhaseOutcome> {
      context.log.push(`run ${name}`);
      if (name === failRun)
        return {
          status: 'failed',
          detail: name,
          error: new KirsaError('PUBLISH_MISMATCH', `${name} failed`),
        };
      return { status: 'created', detail: name };
    },
  }));
}

function reporter(reported: string[]) {
  return (phase: Phase<{ log: string[] }>, outcome: PhaseOutcome) =>
    reported.push(`${phase.name} ${outcome.status} ${outcome.detail}`);
}

describe('runPhases', () => {
  test('every validation runs before any run, each in the order given', async () => {
    const log: string[] = [];
    const reported: string[] = [];
    const outcomes = await runPhases(
      recordingPhases(['a', 'b', 'c']),
      { log },
      { report: reporter(reported) },
    );
    assert.deepEqual(log, ['validate a', 'validate b', 'validate c', 'run a', 'run b', 'run c']);
    assert.deepEqual(reported, ['a created a', 'b created b', 'c created c']);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['created', 'created', 'created'],
    );
  });

  test('a failed validation of the last phase stops the run before any side effect', async () => {
    const log: string[] = [];
    const reported: string[] = [];
    await assert.rejects(
      runPhases(
        recordingPhases(['a', 'b', 'c'], { failValidation: 'c' }),
        { log },
        { report: reporter(reported) },
      ),
      (error: KirsaError) => error.code === 'KEY_INVALID',
    );
    assert.deepEqual(log, ['validate a', 'validate b', 'validate c']);
    assert.deepEqual(reported, []);
  });

  test('a skipped phase is neither validated nor run, and still reported, in its place', async () => {
    const log: string[] = [];
    const reported: string[] = [];
    await runPhases(recordingPhases(['a', 'b', 'c']), { log }, { skip: ['b'], report: reporter(reported) });
    assert.deepEqual(log, ['validate a', 'validate c', 'run a', 'run c']);
    assert.deepEqual(reported, ['a created a', 'b skipped --skip-phases', 'c created c']);
  });

  test('an unknown phase name is a usage error naming the phases, before anything is validated', async () => {
    const log: string[] = [];
    await assert.rejects(
      runPhases(recordingPhases(['a', 'b']), { log }, { skip: ['x'], report: () => {} }),
      (error: KirsaError) => {
        assert.equal(error.code, 'PHASE_UNKNOWN');
        assert.equal(error.exitCode, 2);
        assert.match(error.message, /unknown phase x/);
        assert.equal(error.hint, 'phases: a, b');
        return true;
      },
    );
    assert.deepEqual(log, []);
  });

  test('a failed outcome is reported, then the run stops with its error; later phases do not run', async () => {
    const log: string[] = [];
    const reported: string[] = [];
    await assert.rejects(
      runPhases(recordingPhases(['a', 'b', 'c'], { failRun: 'b' }), { log }, { report: reporter(reported) }),
      (error: KirsaError) => error.code === 'PUBLISH_MISMATCH',
    );
    assert.deepEqual(log, ['validate a', 'validate b', 'validate c', 'run a', 'run b']);
    assert.deepEqual(reported, ['a created a', 'b failed b']);
  });
});
