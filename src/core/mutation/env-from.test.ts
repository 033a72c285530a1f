// The envFrom region rule: which ConfigMap keys can set a region (with or without a prefix), what is known
// when the ConfigMaps were read, and what stays unknown (not read, a Secret, a missing or unreadable
// ConfigMap). A set region wins over unknown sources.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, PodLike } from '../kube-types.ts';
import { type EnvFromConfigMaps, envFromConfigMapNames, envFromRegion, regionKeysOf } from './env-from.ts';

function container(envFrom: unknown[]): Container {
  return { name: 'app', envFrom };
}
const found = (...keys: string[]) => ({ found: true as const, regionKeys: regionKeysOf(keys) });

test('the keys kept are those a prefix can complete to AWS_REGION or AWS_DEFAULT_REGION', () => {
  assert.deepEqual(regionKeysOf(['AWS_REGION', 'REGION', 'DEFAULT_REGION', 'N', 'LOG_LEVEL', 'region', '']), [
    'AWS_REGION',
    'REGION',
    'DEFAULT_REGION',
    'N',
  ]);
});

test('the ConfigMaps not read (the flag off): unknown', () => {
  const verdict = envFromRegion(container([{ configMapRef: { name: 'settings' } }]), undefined);
  assert.equal(verdict.kind, 'unknown');
});

test('no envFrom at all: nothing to know', () => {
  assert.deepEqual(envFromRegion({ name: 'app' }, undefined), { kind: 'none' });
  assert.deepEqual(envFromRegion(container([]), new Map()), { kind: 'none' });
});

test('a ConfigMap with AWS_REGION or AWS_DEFAULT_REGION sets the region; one without does not', () => {
  const maps: EnvFromConfigMaps = new Map([
    ['with-region', found('AWS_REGION', 'OTHER')],
    ['with-default', found('AWS_DEFAULT_REGION')],
    ['plain', found('LOG_LEVEL', 'REGION')],
  ]);
  assert.deepEqual(envFromRegion(container([{ configMapRef: { name: 'with-region' } }]), maps), {
    kind: 'sets',
  });
  assert.deepEqual(envFromRegion(container([{ configMapRef: { name: 'with-default' } }]), maps), {
    kind: 'sets',
  });
  assert.deepEqual(envFromRegion(container([{ configMapRef: { name: 'plain' } }]), maps), { kind: 'none' });
});

test("envFrom's prefix is prepended as the kubelet does", () => {
  const maps: EnvFromConfigMaps = new Map([['plain', found('REGION', 'AWS_REGION')]]);
  assert.deepEqual(envFromRegion(container([{ prefix: 'AWS_', configMapRef: { name: 'plain' } }]), maps), {
    kind: 'sets',
  });
  // With a prefix, AWS_REGION becomes APP_AWS_REGION: no region.
  const only = new Map([['cm', found('AWS_REGION')]]);
  assert.deepEqual(envFromRegion(container([{ prefix: 'APP_', configMapRef: { name: 'cm' } }]), only), {
    kind: 'none',
  });
});

test('a Secret, a ConfigMap not found, unreadable or not read: unknown, saying which', () => {
  const maps: EnvFromConfigMaps = new Map([
    ['gone', { found: false, why: 'absent' }],
    ['denied', { found: false, why: 'unreadable' }],
  ]);
  const why = (envFrom: unknown[]) => {
    const verdict = envFromRegion(container(envFrom), maps);
    assert.equal(verdict.kind, 'unknown');
    return verdict.kind === 'unknown' ? verdict.why : '';
  };
  assert.match(why([{ secretRef: { name: 'creds' } }]), /Secret "creds" is not read/);
  assert.match(why([{ configMapRef: { name: 'gone', optional: true } }]), /ConfigMap "gone" was not found/);
  assert.match(why([{ configMapRef: { name: 'denied' } }]), /ConfigMap "denied" could not be read/);
  assert.match(why([{ configMapRef: { name: 'never-asked' } }]), /ConfigMap "never-asked" was not read/);
});

test('a ConfigMap that sets the region wins over an unknown source beside it', () => {
  const maps: EnvFromConfigMaps = new Map([['with-region', found('AWS_REGION')]]);
  const verdict = envFromRegion(
    container([{ secretRef: { name: 'creds' } }, { configMapRef: { name: 'with-region' } }]),
    maps,
  );
  assert.deepEqual(verdict, { kind: 'sets' });
});

test('malformed entries (as a hostile client could send) are skipped, not thrown on', () => {
  const maps: EnvFromConfigMaps = new Map([['ok', found()]]);
  const verdict = envFromRegion(
    container([
      null,
      7,
      { configMapRef: null },
      { configMapRef: { name: 3 } },
      { configMapRef: { name: 'ok' } },
    ]),
    maps,
  );
  assert.deepEqual(verdict, { kind: 'none' });
});

test('the names to read: distinct, init containers too, secrets left out, at most the bound', () => {
  const pod: PodLike = {
    spec: {
      initContainers: [{ name: 'init', envFrom: [{ configMapRef: { name: 'a' } }] }],
      containers: [
        { name: 'x', envFrom: [{ configMapRef: { name: 'b' } }, { secretRef: { name: 's' } }] },
        { name: 'y', envFrom: [{ configMapRef: { name: 'a' } }, { configMapRef: { name: 'c' } }] },
      ],
    },
  };
  assert.deepEqual(envFromConfigMapNames(pod, 16).sort(), ['a', 'b', 'c']);
  assert.equal(envFromConfigMapNames(pod, 2).length, 2);
  assert.deepEqual(envFromConfigMapNames({ spec: { containers: [{ name: 'plain' }] } }, 16), []);
});
