// The benchmarks measure the webhook as the image runs it: the node flags and environment come from the
// Dockerfile itself (bench/webhook-process.ts), so the figures in the README cannot drift from what ships.
// test/image checks the built image runs node with the same; this checks what the benchmarks read.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { imageEnvironment, imageNodeFlags } from '../../../bench/webhook-process.ts';

const DOCKERFILE = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');

test("the benchmarks' node flags are the image's", () => {
  const flags = imageNodeFlags();
  for (const flag of ['--max-opt=2', '--expose-gc', '--max-semi-space-size=4'])
    assert.ok(flags.includes(flag), flag);
  assert.ok(flags.every((flag) => DOCKERFILE.includes(flag)));
});

test("the benchmarks' environment is the final stage's ENV lines, NODE_OPTIONS aside", () => {
  const environment = imageEnvironment();
  // README's Performance section and docs/webhook.md ("Memory after load: glibc's arenas") rest on it.
  assert.equal(environment.MALLOC_MMAP_THRESHOLD_, '32768');
  assert.equal(environment.NODE_ENV, 'production');
  assert.equal(environment.NODE_OPTIONS, undefined, 'NODE_OPTIONS reaches node as flags, not twice');
  const finalStage = DOCKERFILE.slice(DOCKERFILE.lastIndexOf('\nFROM '));
  for (const [name, value] of Object.entries(environment))
    assert.match(finalStage, new RegExp(`^ENV .*\\b${name}="?${value}`, 'm'));
});
