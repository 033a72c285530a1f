// Properties of the mutation over generated pods. Patches are applied with fast-json-patch, an RFC 6902
// implementation independent of kirsa's own.

import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { DEFAULT_TOKEN_MOUNT_PATH } from '../../consts.ts';
import type { Identity } from '../identity/identity.ts';
import type { Container, PodLike, Volume } from '../kube-types.ts';
import { type MutationOptions, mutatePod } from './mutate-pod.ts';

const AWS_NAMES = [
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_STS_REGIONAL_ENDPOINTS',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];
const MOUNT_PATHS = [
  DEFAULT_TOKEN_MOUNT_PATH,
  '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  '/data',
  '/custom/token/',
];
const VOLUME_NAMES = ['aws-iam-token', 'eks-pod-identity-token', 'data', 'cache'];

/** Unknown fields of any shape, to prove they survive untouched. */
const unknownFields = fc.dictionary(
  fc.constantFrom('startupProbe', 'x-future', 'resizePolicy', 'weird/key~0'),
  fc.jsonValue(),
  {
    maxKeys: 2,
  },
);

const envVar = fc.oneof(
  fc.record({ name: fc.constantFrom(...AWS_NAMES, 'HOME', 'LOG_LEVEL'), value: fc.string({ maxLength: 8 }) }),
  fc.record({
    name: fc.constantFrom(...AWS_NAMES),
    valueFrom: fc.constant({ secretKeyRef: { name: 's', key: 'k' } }),
  }),
);

const volumeMount = fc.record({
  name: fc.constantFrom(...VOLUME_NAMES),
  mountPath: fc.constantFrom(...MOUNT_PATHS),
  readOnly: fc.boolean(),
});

const container = (name: string) =>
  fc
    .tuple(
      fc.option(fc.array(envVar, { maxLength: 4 }), { nil: undefined }),
      fc.option(fc.array(volumeMount, { maxLength: 2 }), { nil: undefined }),
      unknownFields,
    )
    .map(([env, volumeMounts, extra]) => {
      const out: Container = { name, image: 'img', ...extra };
      if (env !== undefined) out.env = env;
      if (volumeMounts !== undefined) out.volumeMounts = volumeMounts;
      return out;
    });

const containers = (prefix: string, min: number) =>
  fc
    .integer({ min, max: 3 })
    .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => container(`${prefix}${i}`))));

const volume: fc.Arbitrary<Volume> = fc.oneof(
  fc.record({ name: fc.constantFrom(...VOLUME_NAMES), emptyDir: fc.constant({}) }),
  fc.record({
    name: fc.constantFrom(...VOLUME_NAMES),
    projected: fc.record({
      sources: fc.tuple(
        fc.record({
          serviceAccountToken: fc.record({
            audience: fc.constantFrom('sts.amazonaws.com', 'pods.eks.amazonaws.com', 'vault'),
            expirationSeconds: fc.constantFrom(600, 3600),
            path: fc.constantFrom('token', 'eks-pod-identity-token'),
          }),
        }),
      ),
    }),
  }),
);

const pod: fc.Arbitrary<PodLike> = fc
  .record({
    containers: containers('c', 1),
    initContainers: fc.option(containers('i', 0), { nil: undefined }),
    volumes: fc.option(fc.uniqueArray(volume, { selector: (v) => v.name, maxLength: 2 }), { nil: undefined }),
    windows: fc.constantFrom('no', 'nodeSelector', 'os'),
    labels: fc.option(
      fc.dictionary(fc.constantFrom('app', 'eks.amazonaws.com/pod-identity'), fc.string({ maxLength: 5 })),
      { nil: undefined },
    ),
    expiration: fc.option(fc.constantFrom('0', '3600', '86400', 'bad', '-1'), { nil: undefined }),
    skip: fc.option(fc.constantFrom('c0', ' c1 , i0', '"c0"', 'c0"x'), { nil: undefined }),
    extra: unknownFields,
  })
  .map((parts) => {
    const annotations: Record<string, string> = {};
    if (parts.expiration !== undefined) annotations['eks.amazonaws.com/token-expiration'] = parts.expiration;
    if (parts.skip !== undefined) annotations['eks.amazonaws.com/skip-containers'] = parts.skip;
    const spec: PodLike['spec'] = { serviceAccountName: 'app', containers: parts.containers, ...parts.extra };
    if (parts.initContainers !== undefined) spec.initContainers = parts.initContainers;
    if (parts.volumes !== undefined) spec.volumes = parts.volumes;
    if (parts.windows === 'nodeSelector') spec.nodeSelector = { 'kubernetes.io/os': 'windows' };
    if (parts.windows === 'os') spec.os = { name: 'windows' };
    const metadata: PodLike['metadata'] = { name: 'p', annotations };
    if (parts.labels !== undefined) metadata.labels = parts.labels;
    return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
  });

const identity: fc.Arbitrary<Identity> = fc.oneof(
  fc.record({
    mode: fc.constant('web-identity' as const),
    roleArn: fc.constantFrom(
      'arn:aws:iam::111122223333:role/app',
      'arn:aws-cn:iam::111122223333:role/p/app',
      'not-an-arn',
    ),
    audience: fc.constantFrom('sts.amazonaws.com', 'vault'),
    regionalSts: fc.boolean(),
    tokenExpirationSeconds: fc.constantFrom(600, 3600, 86400),
    source: fc.constant('property'),
  }),
  fc.record({
    mode: fc.constant('container-credentials' as const),
    fullUri: fc.constant('http://169.254.170.23/v1/credentials'),
    audience: fc.constant('pods.eks.amazonaws.com'),
    mountPath: fc.constant('/var/run/secrets/pods.eks.amazonaws.com/serviceaccount'),
    volumeName: fc.constant('eks-pod-identity-token'),
    tokenFileName: fc.constant('eks-pod-identity-token'),
    regionalSts: fc.boolean(),
    tokenExpirationSeconds: fc.constantFrom(3600, 86400),
    source: fc.constant('property'),
  }),
);

const options: fc.Arbitrary<MutationOptions> = fc.record({
  annotationPrefix: fc.constant('eks.amazonaws.com'),
  tokenMountPath: fc.constantFrom(DEFAULT_TOKEN_MOUNT_PATH, '/custom/token/'),
  defaultRegion: fc.constantFrom('', 'eu-west-1'),
  random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((value) => () => value),
});

const RUNS = { numRuns: 400 };

function apply(document: PodLike, operations: unknown[]): PodLike {
  const validationError = jsonPatch.validate(operations as jsonPatch.Operation[], document);
  if (validationError) throw validationError;
  return jsonPatch.applyPatch(
    structuredClone(document),
    structuredClone(operations) as jsonPatch.Operation[],
    true,
    false,
  ).newDocument;
}

/** Every field of `before` is in `after` unchanged; arrays keep their items in order, shifted by at most `shift`. */
function preserved(
  before: unknown,
  after: unknown,
  path: string,
  shiftable: Set<string>,
): string | undefined {
  if (Array.isArray(before)) {
    if (!Array.isArray(after)) return `${path} is no longer an array`;
    const shifts = shiftable.has(path) ? [0, 1] : [0];
    const failures = shifts.map((shift) =>
      before.map((item, i) => preserved(item, after[i + shift], `${path}/${i}`, shiftable)).find(Boolean),
    );
    return failures.includes(undefined) ? undefined : failures[0];
  }
  if (before !== null && typeof before === 'object') {
    if (after === null || typeof after !== 'object') return `${path} is no longer an object`;
    for (const [key, value] of Object.entries(before)) {
      const problem = preserved(value, (after as Record<string, unknown>)[key], `${path}/${key}`, shiftable);
      if (problem) return problem;
    }
    return undefined;
  }
  // JSON equality: -0 has no JSON form (the wire and fast-json-patch's cloning turn it into 0).
  return before === after
    ? undefined
    : `${path} changed from ${JSON.stringify(before)} to ${JSON.stringify(after)}`;
}

test('the patch applies cleanly with an independent RFC 6902 implementation, and only adds', () => {
  fc.assert(
    fc.property(pod, identity, options, (input, who, opts) => {
      const { patch } = mutatePod(input, who, opts);
      assert.ok(patch.every((operation) => operation.op === 'add'));
      apply(input, patch);
    }),
    RUNS,
  );
});

test('mutating the mutated pod again adds nothing', () => {
  fc.assert(
    fc.property(pod, identity, options, (input, who, opts) => {
      const once = apply(input, mutatePod(input, who, opts).patch);
      assert.deepEqual(mutatePod(once, who, opts).patch, []);
    }),
    RUNS,
  );
});

test('no input field is lost or changed', () => {
  fc.assert(
    fc.property(pod, identity, options, (input, who, opts) => {
      const output = apply(input, mutatePod(input, who, opts).patch);
      const problem = preserved(input, output, '', new Set(['/spec/volumes']));
      assert.equal(problem, undefined, problem);
    }),
    RUNS,
  );
});

test('every token-file env kirsa adds points into a mount of a projected token with the expected audience and path', () => {
  fc.assert(
    fc.property(pod, identity, options, (input, who, opts) => {
      const output = apply(input, mutatePod(input, who, opts).patch);
      const tokenEnv =
        who.mode === 'web-identity'
          ? 'AWS_WEB_IDENTITY_TOKEN_FILE'
          : 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE';
      const fileName = who.mode === 'web-identity' ? 'token' : who.tokenFileName;
      const all = (pod: PodLike) => [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
      all(output).forEach((after, index) => {
        const before = all(input)[index]!;
        const added = (after.env ?? [])
          .slice((before.env ?? []).length)
          .find((entry) => entry.name === tokenEnv);
        if (!added) return;
        const unixPath = added.value!.replace(/^C:/, '').replaceAll('\\', '/');
        const mount = (after.volumeMounts ?? []).find(
          (candidate) => posix.join(candidate.mountPath, fileName) === unixPath,
        );
        assert.ok(mount, `container ${after.name}: ${added.value} is not inside any mount`);
        const volume = (output.spec?.volumes ?? []).find((candidate) => candidate.name === mount.name);
        const token = volume?.projected?.sources?.find(
          (source) => source.serviceAccountToken,
        )?.serviceAccountToken;
        assert.equal(
          token?.audience,
          who.audience,
          `container ${after.name}: mounted volume has another audience`,
        );
        assert.equal(token?.path, fileName);
        assert.ok((token?.expirationSeconds ?? 0) >= 600);
      });
    }),
    RUNS,
  );
});
