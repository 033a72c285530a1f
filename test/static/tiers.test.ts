// The test folders say which tier a file is in, so a reader (and `npm run test:fast`) knows what it needs
// before opening it: test/loopback/ starts nothing but kirsa on loopback, test/real-parts/ starts a real
// part. A file that starts a real part from test/loopback/, or one left in test/real-parts/ that starts
// none, fails here; so does a test file outside the tier folders.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIERS = ['static', 'conformance', 'loopback', 'real-parts', 'image', 'node', 'package', 'sea'];
/** What starts a real part: the support modules that start them, and the binaries' variables. */
const STARTS_A_REAL_PART =
  /support\/(kube-apiserver|moto|moto-iam|webhook-on-kube|terraform|real-parts)\.ts|KIRSA_(HELM|KUBECTL|KUBE_APISERVER|MOTO_SERVER)\b|startKubeApiserver/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [relative(ROOT, path)] : [];
  });
}

const files = testFiles(join(ROOT, 'test'));

test('every test file is in a tier folder', () => {
  assert.ok(files.length > 50, `expected many test files, found ${files.length}`);
  assert.deepEqual(
    files.filter((file) => !TIERS.includes(file.split('/')[1]!)),
    [],
  );
});

test('test/loopback/ starts no real part, and test/real-parts/ files each start one', () => {
  const uses = (file: string) => STARTS_A_REAL_PART.test(readFileSync(join(ROOT, file), 'utf8'));
  assert.deepEqual(
    files.filter((file) => file.startsWith('test/loopback/') && uses(file)),
    [],
    'these start a real part: move them to test/real-parts/',
  );
  assert.deepEqual(
    files.filter((file) => file.startsWith('test/real-parts/') && !uses(file)),
    [],
    'these start no real part: move them to test/loopback/',
  );
});

test('npm test runs every tier folder: test/node/ beside the others, the rest in the main run', () => {
  const script = readFileSync(join(ROOT, 'scripts/test-all.sh'), 'utf8');
  assert.match(script, /'test\/node\/\*\.test\.ts'/);
  assert.deepEqual(
    TIERS.filter((tier) => tier !== 'node' && !script.includes(`'test/${tier}/**/*.test.ts'`)),
    [],
    'tier folders scripts/test-all.sh does not run',
  );
});
