// What a list of STS-style checks amounts to, for every verb that runs them (`issuer verify`, the verify
// phase of `issuer publish`): one line per check with its mark, and the one error when any failed. One home,
// so the two verbs cannot drift in how they mark a check or count failures.

import { KirsaError } from '../../errors.ts';
import type { Check } from './documents.ts';

/** Four characters each, so the messages line up under one another. */
const MARK: Record<Check['status'], string> = { pass: 'ok  ', fail: 'FAIL', warn: 'warn' };

/** One line per check: its mark, then its message. */
export function checkLines(checks: readonly Check[]): string[] {
  return checks.map((check) => `${MARK[check.status]} ${check.message}`);
}

/** CHECKS_FAILED naming how many failed, or undefined when none did (warnings do not fail). */
export function checksFailure(checks: readonly Check[], what: string, hint: string): KirsaError | undefined {
  const failed = checks.filter((check) => check.status === 'fail').length;
  return failed > 0
    ? new KirsaError('CHECKS_FAILED', `${what}: ${failed} check(s) failed`, { hint })
    : undefined;
}
