import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRefused } from '../../../test/support/keys-and-refusals.ts';
import {
  checkKirsaOwnsKeys,
  clusterOwnedState,
  initialState,
  isRetirable,
  parseIssuerState,
  promoteStaged,
  publishedKeys,
  retirableAt,
  retirePrevious,
  stageKey,
} from './rotation.ts';

describe('rotation', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const hours = (n: number) => new Date(t0.getTime() + n * 3_600_000);
  const base = initialState(
    { issuer: 'https://i.example', jwksPath: 'keys.json', legacyEmptyKid: false, kid: 'A' },
    t0,
  );

  test('stage, promote, retire in order; retire waits for the longest token lifetime', () => {
    const staged = stageKey(base, 'B', hours(1));
    assert.deepEqual(
      publishedKeys(staged).map((key) => [key.kid, key.stage]),
      [
        ['A', 'active'],
        ['B', 'staged'],
      ],
    );
    const promoted = promoteStaged(staged, hours(2));
    assert.deepEqual(
      publishedKeys(promoted).map((key) => [key.kid, key.stage]),
      [
        ['B', 'active'],
        ['A', 'previous'],
      ],
    );
    assertRefused(
      () => retirePrevious(promoted, hours(25), 86_400),
      'RETIRE_TOO_EARLY',
      /valid until 2026-01-02T02:00:00/,
    );
    const retired = retirePrevious(promoted, hours(26), 86_400);
    assert.deepEqual(
      publishedKeys(retired).map((key) => key.kid),
      ['B'],
    );
    assert.equal(retired.keys.find((key) => key.kid === 'A')!.stage, 'retired');
    assert.equal(parseIssuerState(JSON.stringify(retired), 'state.json').keys.length, 2);
  });
  test('retire eligibility: the one rule status prints and retire enforces, to the second', () => {
    const promoted = promoteStaged(stageKey(base, 'B', hours(1)), hours(2));
    const previous = promoted.keys.find((key) => key.stage === 'previous')!;
    assert.equal(retirableAt(previous, 86_400)?.toISOString(), '2026-01-02T02:00:00.000Z');
    const justBefore = new Date(hours(26).getTime() - 1000);
    assert.equal(isRetirable(previous, justBefore, 86_400), false);
    assertRefused(() => retirePrevious(promoted, justBefore, 86_400), 'RETIRE_TOO_EARLY', /valid until/);
    assert.equal(isRetirable(previous, hours(26), 86_400), true);
    assert.doesNotThrow(() => retirePrevious(promoted, hours(26), 86_400));
    const { stoppedSigningAt: _unknown, ...unrecorded } = previous;
    assert.equal(retirableAt(unrecorded, 86_400), undefined);
    assert.equal(isRetirable(unrecorded, hours(1000), 86_400), false);
  });
  test('one staged key at a time; promote needs one; retire needs a previous', () => {
    assertRefused(() => stageKey(stageKey(base, 'B', t0), 'C', t0), 'KEY_ALREADY_STAGED', /already staged/);
    assertRefused(() => stageKey(base, 'A', t0), 'KEY_ALREADY_PRESENT', /already in this issuer/);
    assertRefused(() => promoteStaged(base, t0), 'NO_STAGED_KEY', /no staged key/);
    assertRefused(() => retirePrevious(base, t0, 0), 'NO_PREVIOUS_KEY', /no previous key/);
  });
  test('a state without exactly one active key is refused', () => {
    assertRefused(
      () => parseIssuerState(JSON.stringify({ ...base, keys: [] }), 'state.json'),
      'ISSUER_STATE_INVALID',
      /one active key/,
    );
  });
  test('a folder whose key the cluster holds: it parses back, and every key step is refused with one code', () => {
    const cluster = clusterOwnedState({ issuer: 'https://i.example', jwksPath: 'keys.json' });
    assert.deepEqual(parseIssuerState(JSON.stringify(cluster), 'state.json'), cluster);
    assert.deepEqual(publishedKeys(cluster), []);
    for (const step of [
      () => stageKey(cluster, 'B', t0),
      () => promoteStaged(cluster, t0),
      () => retirePrevious(cluster, t0, 0),
    ])
      assertRefused(
        step,
        'ISSUER_KEYS_CLUSTER_OWNED',
        /the cluster holds the signing key of https:\/\/i\.example/,
      );
    checkKirsaOwnsKeys(base, 'rotate'); // kirsa's own folder passes
    // A cluster state with key records, or a kirsa state with none, is neither.
    assertRefused(
      () => parseIssuerState(JSON.stringify({ ...cluster, keys: base.keys }), 'state.json'),
      'ISSUER_STATE_INVALID',
      /no key when the cluster holds it/,
    );
    assertRefused(
      () => parseIssuerState(JSON.stringify({ ...base, keySource: 'elsewhere' }), 'state.json'),
      'ISSUER_STATE_INVALID',
      /not a kirsa issuer state/,
    );
  });
});
