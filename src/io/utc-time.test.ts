import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { utcIsoString } from './utc-time.ts';

// Years 0 to 9999: where toISOString writes four digits (outside, it writes a signed six-digit year).
const FIRST = Date.parse('0000-01-01T00:00:00.000Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

test('utcIsoString writes what toISOString writes, for any instant in years 0 to 9999', () => {
  fc.assert(
    fc.property(fc.integer({ min: FIRST, max: LAST }), (ms) => {
      assert.equal(utcIsoString(ms), new Date(ms).toISOString());
    }),
    { numRuns: 5000 },
  );
  for (const text of ['1970-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '2026-12-02T09:05:07.008Z'])
    assert.equal(utcIsoString(Date.parse(text)), text);
});
