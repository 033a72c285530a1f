// What a caller is told when the local node cannot start: the code names the cause (not root, parts not
// built) and the hint is the command that fixes it. Starting a node is test/node/'s subject.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeParts, nodeUnavailable } from './node.ts';

test('nodeParts names every variable that is missing from the environment', () => {
  const found = nodeParts({ KIRSA_KUBELET: '/bin/kubelet' });
  assert.ok('missing' in found);
  assert.match(found.missing, /KIRSA_KUBE_CONTROLLER_MANAGER/);
  assert.doesNotMatch(found.missing, /KIRSA_KUBELET\b/);
  assert.equal(found.needsRoot, undefined);
});

test('nodeUnavailable: parts not built is REAL_PARTS_MISSING with the build command', () => {
  const error = nodeUnavailable({ missing: 'KIRSA_KUBELET not set' });
  assert.equal(error.code, 'REAL_PARTS_MISSING');
  assert.equal(error.exitCode, 1);
  assert.match(
    error.hint ?? '',
    /bash tools\/realparts\/build\.sh && eval "\$\(bash tools\/realparts\/build\.sh --print-env\)"/,
  );
});

test('nodeUnavailable: not root is NODE_NEEDS_ROOT, and the hint keeps the environment under sudo', () => {
  const error = nodeUnavailable({ missing: 'the node tier needs root', needsRoot: true });
  assert.equal(error.code, 'NODE_NEEDS_ROOT');
  assert.equal(error.exitCode, 1);
  assert.match(error.hint ?? '', /sudo -E /);
});
