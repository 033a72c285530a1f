// processAdmission's promise: a reply and an outcome on every path, whatever throws inside. Identity sources
// here are plain objects implementing the core's port (the real provider is used in src/webhook).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_TOKEN_MOUNT_PATH } from '../../consts.ts';
import type { Identity } from '../identity/identity.ts';
import type { IdentitySource, IdentityVerdict } from '../identity/source.ts';
import { type Admission, decidePod, processAdmission } from './process.ts';
import { type IncomingReview, podCreateReview, replyPatch } from './review.ts';

const mutation = {
  annotationPrefix: 'eks.amazonaws.com',
  tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
  defaultRegion: '',
  random: () => 0,
};
const identity: Identity = {
  mode: 'web-identity',
  roleArn: 'arn:aws:iam::111122223333:role/app',
  audience: 'sts.amazonaws.com',
  regionalSts: false,
  tokenExpirationSeconds: 86400,
  source: 'test',
};
const found: IdentityVerdict = { identity, serviceAccountMissing: false };

function review(containers: unknown[], extra: Record<string, unknown> = {}): IncomingReview {
  const built = podCreateReview(
    { metadata: { name: 'p' }, spec: { serviceAccountName: 'app', containers } },
    {
      uid: 'u-1',
      namespace: 'ns',
    },
  );
  return { apiVersion: built.apiVersion, request: { ...built.request!, ...extra } };
}
const good = [{ name: 'c', image: 'x' }];
// No API server sends a null container; any client that reaches the port can.
const hostile = [null];

function assertAdmittedUnchanged(admission: Admission, warning: RegExp) {
  assert.equal(admission.outcome, 'error');
  assert.equal(admission.reply.response?.uid, 'u-1');
  assert.equal(admission.reply.response?.allowed, true);
  assert.equal(admission.reply.response?.patch, undefined);
  assert.match(admission.reply.response?.warnings?.[0] ?? '', warning);
}

describe('processAdmission', () => {
  test('a cache hit is answered synchronously with the patch', () => {
    const admission = processAdmission(review(good), { identityFor: () => found }, { mutation });
    assert.ok(!(admission instanceof Promise));
    assert.equal(admission.outcome, 'mutated');
    assert.equal(admission.pod, 'ns/p');
    assert.equal(admission.identitySource, 'test');
    assert.ok(replyPatch(admission.reply.response).length > 0);
  });

  test('a mutation that throws: admitted unchanged, on a hit and after a miss alike', async () => {
    const hit = processAdmission(review(hostile), { identityFor: () => found }, { mutation });
    assert.ok(!(hit instanceof Promise));
    assertAdmittedUnchanged(hit, /internal error/);
    assert.equal(hit.trouble?.kind, 'internal');
    assert.ok(hit.trouble?.error instanceof TypeError);
    const miss = processAdmission(review(hostile), { identityFor: async () => found }, { mutation });
    assert.ok(miss instanceof Promise);
    const late = await miss;
    assertAdmittedUnchanged(late, /internal error/);
    assert.equal(late.trouble?.kind, 'internal');
  });

  test('an identity source that throws, rejects or never answers: admitted unchanged', async () => {
    const throwing: IdentitySource = {
      identityFor: () => {
        throw new Error('boom');
      },
    };
    assertAdmittedUnchanged(processAdmission(review(good), throwing, { mutation }) as Admission, /internal/);
    const rejected = await processAdmission(
      review(good),
      { identityFor: () => Promise.reject(new Error('down')) },
      { mutation },
    );
    assertAdmittedUnchanged(rejected, /identity lookup failed/);
    assert.equal((rejected.trouble?.error as Error | undefined)?.message, 'down');
    const hanging = await processAdmission(
      review(good),
      { identityFor: () => new Promise(() => {}) },
      { mutation, deadlineMs: 20 },
    );
    assertAdmittedUnchanged(hanging, /no answer within 20 ms/);
    assert.equal(hanging.trouble?.kind, 'deadline');
  });

  test('not a pod CREATE: allowed as sent, skipped, the identity never asked', () => {
    const never: IdentitySource = {
      identityFor: () => assert.fail('asked for an identity'),
    };
    const admission = processAdmission(review(good, { operation: 'UPDATE' }), never, { mutation });
    assert.deepEqual(admission, {
      reply: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: 'u-1', allowed: true },
      },
      outcome: 'skipped',
    });
  });

  test('a mirror pod (static pod copy): allowed as sent, skipped, even when its account maps to a role', () => {
    const mirror = {
      metadata: { name: 'etcd-node-1', annotations: { 'kubernetes.io/config.mirror': 'abc123' } },
      spec: { nodeName: 'node-1', containers: good },
    };
    const admission = processAdmission(
      review(good, { object: mirror }),
      { identityFor: () => found },
      { mutation },
    );
    assert.deepEqual(admission, {
      reply: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: 'u-1', allowed: true },
      },
      outcome: 'skipped',
    });
    // The same pod without the annotation is mutated: the annotation alone makes the difference.
    const plain = { metadata: { name: 'etcd-node-1' }, spec: { nodeName: 'node-1', containers: good } };
    const mutated = processAdmission(
      review(good, { object: plain }),
      { identityFor: () => found },
      {
        mutation,
      },
    ) as Admission;
    assert.equal(mutated.outcome, 'mutated');
  });
});

describe('decidePod', () => {
  const pod = { spec: { containers: good } };

  test('no identity: no patch; a missing account adds the warning that names it', () => {
    assert.deepEqual(decidePod(pod, 'ns', { identity: undefined, serviceAccountMissing: false }, mutation), {
      outcome: 'no_identity',
      patch: [],
      warnings: [],
      identity: undefined,
      conflictedContainers: [],
    });
    const missing = decidePod(pod, 'ns', { identity: undefined, serviceAccountMissing: true }, mutation);
    assert.equal(missing.outcome, 'service_account_missing');
    assert.match(missing.warnings[0] ?? '', /service account ns\/default was not found/);
  });

  test('a role that is not an IAM role ARN: invalid_identity, warned, nothing injected', () => {
    const decision = decidePod(
      pod,
      'ns',
      { identity: { ...identity, roleArn: 'nope' }, serviceAccountMissing: false },
      mutation,
    );
    assert.equal(decision.outcome, 'invalid_identity');
    assert.deepEqual(decision.patch, []);
    assert.equal(decision.warnings.length, 1);
  });
});

describe('--read-env-from-config-maps: the ConfigMaps envFrom names', () => {
  const regional = { ...mutation, defaultRegion: 'eu-west-1' };
  const withEnvFrom = (name: string) => [{ name: 'c', image: 'x', envFrom: [{ configMapRef: { name } }] }];
  const regionOf = (admission: Admission) =>
    (
      replyPatch(admission.reply.response).find(
        (op) => op.path === '/spec/containers/0/env' || op.path === '/spec/containers/0/env/0',
      )?.value as Array<{ name: string; value: string }> | undefined
    )?.find((entry) => entry.name === 'AWS_REGION')?.value;
  const keys = {
    plain: { found: true as const, regionKeys: [] },
    regional: { found: true as const, regionKeys: ['AWS_REGION'] },
  };

  test('read from the cache: synchronous; a region only where the ConfigMap sets none, no warning', () => {
    const asked: string[] = [];
    const configMaps = {
      keysOf: (namespace: string, name: string) => {
        asked.push(`${namespace}/${name}`);
        return name === 'plain' ? keys.plain : keys.regional;
      },
    };
    const plain = processAdmission(
      review(withEnvFrom('plain')),
      { identityFor: () => found },
      { mutation: regional, configMaps },
    );
    assert.ok(!(plain instanceof Promise));
    assert.equal(regionOf(plain), 'eu-west-1');
    assert.equal(plain.reply.response?.warnings, undefined);
    const set = processAdmission(
      review(withEnvFrom('regional')),
      { identityFor: () => found },
      { mutation: regional, configMaps },
    );
    assert.ok(!(set instanceof Promise));
    assert.equal(regionOf(set), undefined);
    assert.equal(set.outcome, 'mutated');
    assert.equal(set.reply.response?.warnings, undefined);
    assert.deepEqual(asked, ['ns/plain', 'ns/regional'], 'read in the pod namespace');
  });

  test('a read on a miss: the answer waits for it; a missing ConfigMap leaves the region out, warned', async () => {
    const admission = processAdmission(
      review(withEnvFrom('later')),
      { identityFor: async () => found },
      {
        mutation: regional,
        configMaps: { keysOf: async () => ({ found: false as const, why: 'absent' as const }) },
      },
    );
    assert.ok(admission instanceof Promise);
    const answered = await admission;
    assert.equal(answered.outcome, 'mutated');
    assert.equal(regionOf(answered), undefined);
    assert.match(
      answered.reply.response?.warnings?.[0] ?? '',
      /takes env from envFrom, which may set AWS_REGION, and ConfigMap "later" was not found/,
    );
  });

  test('pods without envFrom, or that cannot get a region, never ask', () => {
    const configMaps = {
      keysOf: () => {
        throw new Error('asked');
      },
    };
    const plain = processAdmission(
      review(good),
      { identityFor: () => found },
      { mutation: regional, configMaps },
    );
    assert.ok(!(plain instanceof Promise));
    assert.equal(plain.outcome, 'mutated');
    const noRole = processAdmission(
      review(withEnvFrom('x')),
      { identityFor: () => ({ identity: undefined, serviceAccountMissing: false }) },
      { mutation: regional, configMaps },
    );
    assert.ok(!(noRole instanceof Promise));
    assert.equal(noRole.outcome, 'no_identity');
  });

  test('a source that throws or rejects: admitted unchanged, as any internal error', async () => {
    const thrown = processAdmission(
      review(withEnvFrom('x')),
      { identityFor: () => found },
      {
        mutation: regional,
        configMaps: {
          keysOf: () => {
            throw new Error('boom');
          },
        },
      },
    );
    assert.ok(!(thrown instanceof Promise));
    assertAdmittedUnchanged(thrown, /internal error/);
    const rejected = await processAdmission(
      review(withEnvFrom('x')),
      { identityFor: () => found },
      { mutation: regional, configMaps: { keysOf: () => Promise.reject(new Error('boom')) } },
    );
    assertAdmittedUnchanged(rejected, /internal error/);
  });
});
