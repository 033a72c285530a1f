// The admission path's compiled code through a full collection (src/webhook/app.ts, "the last admission's
// objects"; docs/webhook.md, "Compiled code through a full collection"). V8's optimized code embeds the
// hidden classes of the objects it handles, and a full collection that finds no object of such a class left
// throws the code away ("embedded weak objects cleared" under --trace-deopt). The webhook holds its last
// small review and what it built from it, so the idle release's collection leaves the code in place.
//
// A child node runs the app from the sources under the image's node flags (with the flags the webhook sets
// once it listens), admits the benchmark's 20 KB review 3,000 times, runs the idle release's collection, and
// admits a few more. Two children: one whose last review is held, one whose last review was over the length
// the webhook holds, so the second shows the test sees the code thrown away when nothing holds the shapes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { imageEnvironment, imageNodeFlags } from '../../../bench/webhook-process.ts';
import { SHAPES_KEPT_MAX_BODY_LENGTH } from '../../../src/consts.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// Functions on the admission path that V8 compiled with the review's or the reply's classes embedded, as
// --trace-deopt named them when nothing held those objects.
const ADMISSION_PATH = [
  'admit',
  'answered',
  'parseAdmissionReview',
  'processAdmission',
  'mutatePod',
  'planContainer',
  'forEachSelectedContainer',
  'admissionReply',
];

const CHILD = `
const root = process.env.KIRSA_TEST_ROOT;
const { createWebhookApp } = await import(root + 'src/webhook/app.ts');
const { createWebhookMetrics } = await import(root + 'src/webhook/metrics.ts');
const { createLogger } = await import(root + 'src/io/log.ts');
const { setV8Flags, v8FlagsWhenListening } = await import(root + 'src/io/v8-flags.ts');
const { lastResortCollection } = await import(root + 'src/io/last-resort-gc.ts');
const { makeReview } = await import(root + 'bench/pods.ts');
const { DEFAULT_TOKEN_MOUNT_PATH } = await import(root + 'src/consts.ts');
setV8Flags(v8FlagsWhenListening(process.env));
const identity = { mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/app', audience: 'sts.amazonaws.com',
  regionalSts: false, tokenExpirationSeconds: 86400, source: 'test' };
const app = createWebhookApp({
  identities: { identityFor: () => ({ identity, serviceAccountMissing: false }) },
  mutation: { annotationPrefix: 'eks.amazonaws.com', tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
    defaultRegion: 'eu-west-1', random: Math.random },
  metrics: createWebhookMetrics({ defaultMetrics: false }),
  logger: createLogger('silent'),
  notReadyReasons: () => [],
});
const reviews = Array.from({ length: 16 }, (_, i) => makeReview('large', 'uid-' + i, 'app'));
const admit = (body) => {
  const answer = app.admit(body);
  if (answer.status !== 200 || !answer.body.includes('"patch"')) throw new Error('not patched: ' + answer.body);
};
for (let i = 0; i < 3000; i++) admit(reviews[i % 16]);
// Built in a function, so that no variable of this script holds the parsed review's objects.
const longReview = () => {
  const review = JSON.parse(reviews[0]);
  review.request.object.metadata.annotations = { note: 'x'.repeat(Number(process.env.KIRSA_TEST_LENGTH)) };
  return JSON.stringify(review);
};
if (process.env.KIRSA_TEST_LAST === 'long') admit(longReview());
const collect = lastResortCollection();
if (collect === undefined) throw new Error('gc is not exposed');
collect();
for (let i = 0; i < 100; i++) admit(reviews[i % 16]);
`;

/** What V8 compiled and threw away on the admission path, by function name, in one child's run. */
function runChild(last: 'held' | 'long'): { compiled: Set<string>; cleared: Set<string> } {
  const run = spawnSync(
    process.execPath,
    [...imageNodeFlags(), '--trace-opt', '--trace-deopt', '--input-type=module', '-e', CHILD],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      env: {
        ...process.env,
        ...imageEnvironment(),
        KIRSA_TEST_ROOT: ROOT,
        KIRSA_TEST_LAST: last,
        KIRSA_TEST_LENGTH: String(SHAPES_KEPT_MAX_BODY_LENGTH + 1),
      },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const named = (pattern: RegExp) =>
    new Set(
      run.stdout
        .split('\n')
        .map((line) => pattern.exec(line)?.[1])
        .filter((name): name is string => name !== undefined && ADMISSION_PATH.includes(name)),
    );
  return {
    compiled: named(/^\[completed compiling .*<JSFunction (\w+) /),
    cleared: named(/^\[marking dependent code .*<SharedFunctionInfo (\w+)>.*embedded weak objects cleared/),
  };
}

test('a full collection leaves the admission path compiled while the last review is held', () => {
  const held = runChild('held');
  assert.ok(held.compiled.size >= 4, `compiled: ${[...held.compiled].join(', ')}`);
  assert.deepEqual([...held.cleared], [], 'code thrown away by the collection');
});

test('a review too long to hold leaves nothing holding the shapes: the collection throws the code away', () => {
  const long = runChild('long');
  assert.ok(long.compiled.size >= 4, `compiled: ${[...long.compiled].join(', ')}`);
  assert.ok(long.cleared.size >= 1, `code thrown away: ${[...long.cleared].join(', ') || 'none'}`);
});
