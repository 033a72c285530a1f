// Where the test tiers find the real parts that tools/realparts/build.sh built (npm test exports their
// paths). Outside CI a missing part skips the test that needs it, saying which; in CI it fails, because CI
// never skips the real parts.

import type { SuiteContext, TestContext } from 'node:test';

export type RealPart =
  | 'KIRSA_KUBE_APISERVER'
  | 'KIRSA_ETCD'
  | 'KIRSA_HELM'
  | 'KIRSA_MOTO_SERVER'
  | 'KIRSA_AWS_CLI'
  | 'KIRSA_KUBECTL';

/** The binary's path, or undefined after marking the test skipped (never in CI, where it throws). */
export function realPart(t: TestContext | SuiteContext, part: RealPart): string | undefined {
  const path = process.env[part];
  if (path) return path;
  const message = `${part} is not set: run the tests with npm test (which builds the real parts), or tools/realparts/build.sh`;
  if (process.env.CI === 'true') throw new Error(message);
  // A hook's context cannot skip; the tests it prepares then skip themselves.
  if ('skip' in t) t.skip(message);
  return undefined;
}
