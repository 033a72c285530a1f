import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeKey, keyStatuses, keysNewestFirst, retirementLine } from './key-status.ts';
import type { KeyRecord } from './rotation.ts';

const previous: KeyRecord = {
  generation: 1,
  kid: 'kid-one',
  stage: 'previous',
  createdAt: '2026-01-01T00:00:00.000Z',
  activatedAt: '2026-01-01T00:00:00.000Z',
  stoppedSigningAt: '2026-01-02T00:00:00.000Z',
};
const active: KeyRecord = {
  generation: 2,
  kid: 'kid-two',
  stage: 'active',
  createdAt: '2026-01-01T12:00:00.000Z',
  activatedAt: '2026-01-02T00:00:00.000Z',
};
const staged: KeyRecord = {
  generation: 10,
  kid: 'kid-ten',
  stage: 'staged',
  createdAt: '2026-01-03T00:00:00.000Z',
};
const retired: KeyRecord = {
  ...previous,
  generation: 0,
  stage: 'retired',
  retiredAt: '2026-01-02T06:00:00.000Z',
};
const dayAfterStop = new Date('2026-01-03T00:00:00.000Z');

describe('key status', () => {
  test('a row names the generation, the stage and when that stage began, in aligned columns', () => {
    assert.equal(describeKey(active), '  2  active    kid-two  signing since 2026-01-02T00:00:00.000Z');
    assert.equal(describeKey(previous), '  1  previous  kid-one  stopped signing 2026-01-02T00:00:00.000Z');
    assert.equal(describeKey(retired), '  0  retired   kid-one  retired 2026-01-02T06:00:00.000Z');
    assert.equal(describeKey(staged), ' 10  staged    kid-ten  staged 2026-01-03T00:00:00.000Z');
  });

  test('newest generation first, the input left as it was', () => {
    const keys = [previous, staged, active];
    assert.deepEqual(
      keysNewestFirst(keys).map((key) => key.generation),
      [10, 2, 1],
    );
    assert.deepEqual(
      keys.map((key) => key.generation),
      [1, 10, 2],
    );
  });

  test('a previous key is retirable once the longest token it signed has expired', () => {
    assert.equal(retirementLine(previous, dayAfterStop, 3600), 'generation 1 can be retired now');
    assert.equal(
      retirementLine(previous, dayAfterStop, 2 * 86_400),
      'generation 1 can be retired after 2026-01-04T00:00:00.000Z',
    );
    const unknown = { ...previous, stoppedSigningAt: undefined };
    assert.match(retirementLine(unknown, dayAfterStop, 0), /unknown time/);
  });

  test('-o json: only previous keys carry retirable and retirableAt', () => {
    const statuses = keyStatuses([previous, active], dayAfterStop, 2 * 86_400);
    assert.deepEqual(statuses[0], active);
    assert.deepEqual(statuses[1], { ...previous, retirable: false, retirableAt: '2026-01-04T00:00:00.000Z' });
    assert.equal(
      keyStatuses([{ ...previous, stoppedSigningAt: undefined }], dayAfterStop, 0)[0]?.retirableAt,
      null,
    );
  });
});
