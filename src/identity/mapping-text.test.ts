import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAPPING_READ_SLICE } from '../consts.ts';
import { EMPTY_MAPPING, type IdentityMapping, lookupMapping } from '../core/identity/identity.ts';
import { createLogger } from '../io/log.ts';
import { applyMappingText } from './mapping-text.ts';

const ROLE = (name: string) => `arn:aws:iam::111122223333:role/${name}`;

function bigMapping(entries: number): string {
  const mapping: Record<string, { RoleARN: string }> = {};
  for (let i = 0; i < entries; i++) mapping[`team-${i % 50}/app-${i}`] = { RoleARN: ROLE(`app-${i}`) };
  return JSON.stringify(mapping);
}

test('a large mapping is read in slices: other work runs between them, and the result is whole', async () => {
  const text = bigMapping(20_000);
  assert.ok(text.length > 10 * MAPPING_READ_SLICE);
  let received: IdentityMapping = EMPTY_MAPPING;
  let turns = 0;
  let done = false;
  const ticker = (): void => {
    if (done) return;
    turns += 1;
    setImmediate(ticker);
  };
  setImmediate(ticker);
  const error = await applyMappingText(Buffer.from(text), {
    logger: createLogger('silent'),
    fields: { file: 'test' },
    label: 'identities file',
    onMapping(mapping) {
      received = mapping;
    },
  });
  done = true;
  assert.equal(error, undefined);
  assert.equal(received.size, 20_000);
  assert.equal(lookupMapping(received, 'team-7', 'app-19957')?.entry.roleArn, ROLE('app-19957'));
  // One turn of the event loop per slice, give or take the first and last.
  assert.ok(turns >= Math.floor(text.length / MAPPING_READ_SLICE) - 1, `only ${turns} turns ran`);
});

test('a text that is no mapping changes nothing and comes back as the error', async () => {
  let called = false;
  const error = await applyMappingText(`${bigMapping(5_000).slice(0, -1)},}`, {
    logger: createLogger('silent'),
    fields: { file: 'test' },
    label: 'identities file',
    onMapping() {
      called = true;
    },
  });
  assert.match(String(error), /not valid JSON/);
  assert.equal(called, false);
});
