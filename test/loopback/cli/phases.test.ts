// `--skip-phases` on every verb made of phases (issuer publish, provider create and delete, role create and
// delete), as processes: the names are checked before anything is read or sent (an unknown one exits 2
// naming the phases), every phase can be left out, and --help lists the phases. The AWS endpoint is a closed
// port, so a run that sent anything would fail: skipping everything must touch nothing.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../support/processes.ts';
import { runKirsa } from '../../support/run-kirsa.ts';

let work: string;
let dir: string;
let nowhere: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-phases-'));
  dir = join(work, 'issuer');
  const init = await runKirsa([
    'issuer',
    'init',
    '--issuer-url',
    'https://issuer.example.test/c1',
    '--dir',
    dir,
  ]);
  assert.equal(init.code, 0, init.stderr);
  nowhere = `http://127.0.0.1:${await freePort()}`;
});

after(() => rm(work, { recursive: true, force: true }));

// Offline credentials, so that the SDKs would try the closed port (and fail) rather than look for any.
const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };

const VERBS = [
  {
    verb: ['issuer', 'publish'],
    args: () => ['--dir', dir, '--bucket', 'kirsa-issuer', '--endpoint-url', nowhere],
    phases: ['upload', 'bucket-policy', 'read-back', 'verify'],
  },
  {
    verb: ['provider', 'create'],
    args: () => ['--issuer-url', 'https://issuer.example.test/c1', '--endpoint-url', nowhere],
    phases: ['provider'],
  },
  {
    verb: ['role', 'create'],
    args: () => [
      '--provider-arn',
      'arn:aws:iam::111122223333:oidc-provider/issuer.example.test/c1',
      '--service-account',
      'default/app',
      '--endpoint-url',
      nowhere,
    ],
    phases: ['role', 'policies', 'inline-policy', 'service-account'],
  },
  {
    verb: ['role', 'delete'],
    args: () => [
      '--provider-arn',
      'arn:aws:iam::111122223333:oidc-provider/issuer.example.test/c1',
      '--service-account',
      'default/app',
      '--endpoint-url',
      nowhere,
    ],
    phases: ['service-account', 'inline-policy', 'policies', 'role'],
    readsWhenAllSkipped: 'it reads the role to plan the teardown whichever phases run',
  },
  {
    verb: ['provider', 'delete'],
    args: () => ['--issuer-url', 'https://issuer.example.test/c1', '--endpoint-url', nowhere],
    phases: ['provider'],
  },
] as Array<{ verb: string[]; args: () => string[]; phases: string[]; readsWhenAllSkipped?: string }>;

for (const { verb, args, phases, readsWhenAllSkipped } of VERBS) {
  describe(`kirsa ${verb.join(' ')} --skip-phases`, () => {
    test('an unknown phase is a usage error (exit 2) that lists the phases', async () => {
      const run = await runKirsa([...verb, ...args(), '--skip-phases', `${phases[0]},nope`], { env });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /unknown phase nope/);
      assert.ok(run.stderr.includes(`hint: phases: ${phases.join(', ')}`), run.stderr);
      assert.equal(run.stdout, '');
    });

    test('skipping every phase sends nothing and reports each phase as skipped', {
      skip: readsWhenAllSkipped ?? false,
    }, async () => {
      const run = await runKirsa([...verb, ...args(), '--skip-phases', phases.join(',')], { env });
      assert.equal(run.code, 0, run.stderr);
      for (const phase of phases)
        assert.match(run.stdout + run.stderr, new RegExp(`${phase}\\b.*skipped|skipped: ${phase}`));
    });

    test('--help lists the phases with their descriptions', async () => {
      const run = await runKirsa([...verb, '--help']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Phases \(in order; every validation runs before any change\):/);
      for (const phase of phases) assert.match(run.stdout, new RegExp(`^  ${phase} +\\S`, 'm'));
    });
  });
}
