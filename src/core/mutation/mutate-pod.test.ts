import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_TOKEN_MOUNT_PATH } from '../../consts.ts';
import type { ContainerCredentialsIdentity, WebIdentity } from '../identity/identity.ts';
import type { PodLike } from '../kube-types.ts';
import { applyAddOperations } from './json-patch.ts';
import { type MutationOptions, mutatePod, normaliseMountPath } from './mutate-pod.ts';

const ROLE = 'arn:aws:iam::111122223333:role/s3-echoer';
const web: WebIdentity = {
  mode: 'web-identity',
  roleArn: ROLE,
  audience: 'sts.amazonaws.com',
  regionalSts: false,
  tokenExpirationSeconds: 86400,
  source: 'test',
};
const containerCredentials: ContainerCredentialsIdentity = {
  mode: 'container-credentials',
  fullUri: 'http://169.254.170.23/v1/credentials',
  audience: 'pods.eks.amazonaws.com',
  mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  volumeName: 'eks-pod-identity-token',
  tokenFileName: 'eks-pod-identity-token',
  regionalSts: false,
  tokenExpirationSeconds: 86400,
  source: 'test',
};
const options: MutationOptions = {
  annotationPrefix: 'eks.amazonaws.com',
  tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
  defaultRegion: '',
  random: () => 0,
};

function pod(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): PodLike {
  return {
    metadata: { name: 'p', ...metadata },
    spec: { containers: [{ name: 'app', image: 'x' }], ...spec },
  };
}

function mutated(
  input: PodLike,
  identity = web as WebIdentity | ContainerCredentialsIdentity,
  opts = options,
) {
  const result = mutatePod(input, identity, opts);
  return { result, output: applyAddOperations(input, result.patch) };
}

function envOf(output: PodLike, index = 0, field: 'containers' | 'initContainers' = 'containers') {
  return Object.fromEntries(
    (output.spec?.[field]?.[index]?.env ?? []).map((entry) => [entry.name, entry.value]),
  );
}

describe('mutatePod', () => {
  test('no identity means no patch and no warning', () => {
    assert.deepEqual(mutatePod(pod(), undefined, options), {
      outcome: 'unchanged',
      patch: [],
      warnings: [],
      conflictedContainers: [],
    });
  });

  test('adds env, mount and volume by index, keeping every other field', () => {
    const input = pod({
      containers: [
        {
          name: 'app',
          env: [{ name: 'A', value: '1' }],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
          startupProbe: { grpc: { port: 9 } },
          futureField: { nested: [1, 2] },
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    });
    const { result, output } = mutated(input);
    assert.equal(result.outcome, 'mutated');
    assert.deepEqual(
      result.patch.map((operation) => operation.path),
      [
        '/spec/volumes/0',
        '/spec/containers/0/env/1',
        '/spec/containers/0/env/2',
        '/spec/containers/0/volumeMounts/1',
      ],
    );
    const container = output.spec!.containers![0]!;
    assert.deepEqual(container.startupProbe, { grpc: { port: 9 } });
    assert.deepEqual(container.futureField, { nested: [1, 2] });
    assert.deepEqual(envOf(output), {
      A: '1',
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    });
  });

  test('env order: STS, default region, region, then the pair', () => {
    const { output } = mutated(
      pod(),
      { ...web, regionalSts: true },
      { ...options, defaultRegion: 'eu-west-1' },
    );
    assert.deepEqual(
      output.spec!.containers![0]!.env!.map((entry) => entry.name),
      [
        'AWS_STS_REGIONAL_ENDPOINTS',
        'AWS_DEFAULT_REGION',
        'AWS_REGION',
        'AWS_ROLE_ARN',
        'AWS_WEB_IDENTITY_TOKEN_FILE',
      ],
    );
  });

  test('a second pass over the output adds nothing', () => {
    const { output } = mutated(pod({ initContainers: [{ name: 'init' }] }), { ...web, regionalSts: true });
    assert.deepEqual(mutatePod(output, { ...web, regionalSts: true }, options).patch, []);
  });

  test('spec.os.name windows selects the Windows token path; the mount stays Unix', () => {
    const { output } = mutated(pod({ os: { name: 'windows' } }));
    assert.equal(
      envOf(output).AWS_WEB_IDENTITY_TOKEN_FILE,
      'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token',
    );
    assert.equal(output.spec!.containers![0]!.volumeMounts![0]!.mountPath, DEFAULT_TOKEN_MOUNT_PATH);
  });

  test('skip-containers names are trimmed', () => {
    const input = pod(
      { containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] },
      {
        annotations: { 'eks.amazonaws.com/skip-containers': ' a , "b" ' },
      },
    );
    const { output } = mutated(input);
    assert.deepEqual(envOf(output, 0), {});
    assert.deepEqual(envOf(output, 1), {});
    assert.equal(envOf(output, 2).AWS_ROLE_ARN, ROLE);
  });

  test('an unreadable skip-containers value skips nothing and warns', () => {
    const input = pod({}, { annotations: { 'eks.amazonaws.com/skip-containers': 'a"b' } });
    const { result, output } = mutated(input);
    assert.equal(envOf(output).AWS_ROLE_ARN, ROLE);
    assert.match(result.warnings[0]!, /skip-containers could not be read \(a quote inside an unquoted name/);
  });

  test('skip-containers after a leading empty line is read, as Go reads CSV (issue 17, bug 3)', () => {
    const input = pod(
      { containers: [{ name: 'app' }, { name: 'sidecar' }] },
      { annotations: { 'eks.amazonaws.com/skip-containers': '\nsidecar' } },
    );
    const { result, output } = mutated(input);
    assert.equal(envOf(output, 0).AWS_ROLE_ARN, ROLE);
    assert.deepEqual(envOf(output, 1), {}, 'sidecar is skipped');
    assert.deepEqual(result.warnings, []);
  });

  test('skip-containers: a quoted name spanning a newline continues the record (issue 17, bug 4)', () => {
    const input = pod(
      { containers: [{ name: 'a\nb' }, { name: 'sidecar' }, { name: 'app' }] },
      { annotations: { 'eks.amazonaws.com/skip-containers': '"a\nb",sidecar' } },
    );
    const { result, output } = mutated(input);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(envOf(output, 0), {}, 'the name with a newline is skipped');
    assert.deepEqual(envOf(output, 1), {}, 'sidecar, after the quoted newline, is skipped');
    assert.equal(envOf(output, 2).AWS_ROLE_ARN, ROLE);
  });

  test('Windows pods: another mount at the token file, written as every mountPath is, conflicts (issue 17, bug 5)', () => {
    const input = pod({
      nodeSelector: { 'kubernetes.io/os': 'windows' },
      volumes: [{ name: 'mine', emptyDir: {} }],
      containers: [
        { name: 'app', volumeMounts: [{ name: 'mine', mountPath: `${DEFAULT_TOKEN_MOUNT_PATH}/token` }] },
      ],
    });
    const { result, output } = mutated(input);
    assert.deepEqual(envOf(output), {}, 'no env pointing at a token file another volume holds');
    assert.deepEqual(result.conflictedContainers, ['app']);
    assert.match(result.warnings[0]!, /already mounts "mine" at/);
  });

  test('a token lifetime above 2^32 s is lowered to the API server ceiling, with a warning (issue 17, bug 2)', () => {
    const input = pod({}, { annotations: { 'eks.amazonaws.com/token-expiration': '9223372036854775807' } });
    const { result, output } = mutated(input);
    const seconds = (
      output.spec!.volumes![0] as {
        projected: { sources: Array<{ serviceAccountToken: { expirationSeconds: number } }> };
      }
    ).projected.sources[0]!.serviceAccountToken.expirationSeconds;
    assert.equal(seconds, 2 ** 32);
    // What the API server decodes: the patch text must hold an int64 and a lifetime it accepts.
    const text = JSON.stringify(result.patch).match(/"expirationSeconds":(\d+)/)![1]!;
    assert.ok(BigInt(text) <= 2n ** 32n);
    assert.match(
      result.warnings[0]!,
      /"9223372036854775807" \(pod annotation eks\.amazonaws\.com\/token-expiration\) is longer than the API server accepts/,
    );
  });

  test('a role that is not an IAM role ARN injects nothing and quotes the value', () => {
    const result = mutatePod(pod(), { ...web, roleArn: 'arn:aws:iam::1234:user/bob' }, options);
    assert.equal(result.outcome, 'invalid-identity');
    assert.deepEqual(result.patch, []);
    assert.match(result.warnings[0]!, /"arn:aws:iam::1234:user\/bob" \(from test\) is not an IAM role ARN/);
  });

  test('a foreign volume under the token name: nothing injected, a warning with the fix', () => {
    const result = mutatePod(pod({ volumes: [{ name: 'aws-iam-token', emptyDir: {} }] }), web, options);
    assert.equal(result.outcome, 'conflict');
    assert.deepEqual(result.patch, []);
    assert.match(
      result.warnings[0]!,
      /volume "aws-iam-token" \(a emptyDir volume\).*Rename or remove that volume/,
    );
  });

  test('a projected token for another audience under the token name is a conflict too', () => {
    const volume = {
      name: 'aws-iam-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'vault', path: 'token' } }] },
    };
    const result = mutatePod(pod({ volumes: [volume] }), web, options);
    assert.equal(result.outcome, 'conflict');
    assert.match(result.warnings[0]!, /a projected token for audience "vault"/);
  });

  test('our own token volume (same audience and file) is reused, whatever its lifetime', () => {
    const volume = {
      name: 'aws-iam-token',
      projected: {
        sources: [
          { serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } },
        ],
      },
    };
    const result = mutatePod(pod({ volumes: [volume] }), web, options);
    assert.equal(result.outcome, 'mutated');
    assert.ok(result.patch.every((operation) => !operation.path.startsWith('/spec/volumes')));
  });

  test('another mount at the token path: that container is left alone, the others are mutated', () => {
    const input = pod({
      containers: [
        { name: 'istio', volumeMounts: [{ name: 'other', mountPath: `${DEFAULT_TOKEN_MOUNT_PATH}/` }] },
        { name: 'app' },
      ],
    });
    const { result, output } = mutated(input);
    assert.deepEqual(result.conflictedContainers, ['istio']);
    assert.deepEqual(envOf(output, 0), {});
    assert.equal(output.spec!.containers![0]!.volumeMounts!.length, 1);
    assert.equal(envOf(output, 1).AWS_ROLE_ARN, ROLE);
    assert.match(result.warnings[0]!, /container "istio" already mounts "other"/);
  });

  test('a container mounting the token volume elsewhere gets nothing: the env would point nowhere', () => {
    const input = pod({
      containers: [{ name: 'app', volumeMounts: [{ name: 'aws-iam-token', mountPath: '/elsewhere' }] }],
    });
    const result = mutatePod(input, web, options);
    assert.equal(result.outcome, 'mutated'); // the volume is still added for the pod
    assert.ok(result.patch.every((operation) => !operation.path.startsWith('/spec/containers')));
    assert.match(result.warnings[0]!, /mounts volume "aws-iam-token" at "\/elsewhere"/);
  });

  test('the early exit leaves a container with all three groups untouched, mount included', () => {
    const env = [
      { name: 'AWS_ROLE_ARN', value: 'mine' },
      { name: 'AWS_REGION', value: 'x' },
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' },
    ];
    const result = mutatePod(pod({ containers: [{ name: 'app', env }] }), web, options);
    assert.deepEqual(
      result.patch.map((operation) => operation.path),
      ['/spec/volumes'],
    );
  });

  test('env null or absent is created whole; an empty list is appended to', () => {
    for (const env of [null, undefined]) {
      const result = mutatePod(pod({ containers: [{ name: 'app', env }] }), web, options);
      assert.ok(result.patch.some((operation) => operation.path === '/spec/containers/0/env'));
    }
    const result = mutatePod(pod({ containers: [{ name: 'app', env: [] }] }), web, options);
    assert.ok(result.patch.some((operation) => operation.path === '/spec/containers/0/env/0'));
  });

  test('token lifetime: pod annotation over identity, invalid values ignored, floor 600', () => {
    const lifetime = (annotation: string | undefined, identitySeconds = 7200) => {
      const annotations =
        annotation === undefined ? {} : { 'eks.amazonaws.com/token-expiration': annotation };
      const result = mutatePod(
        pod({}, { annotations }),
        { ...web, tokenExpirationSeconds: identitySeconds },
        options,
      );
      const volume = result.patch[0]!.value as Array<{
        projected: { sources: Array<{ serviceAccountToken: { expirationSeconds: number } }> };
      }>;
      return volume[0]!.projected.sources[0]!.serviceAccountToken.expirationSeconds;
    };
    assert.equal(lifetime(undefined), 7200);
    assert.equal(lifetime('3600'), 3600);
    assert.equal(lifetime('3600s'), 7200);
    assert.equal(lifetime('0'), 600);
    assert.equal(lifetime('-5'), 600);
    assert.equal(lifetime('99999999999999999999'), 7200);
  });

  test('container credentials: label, jitter over the full range only at the default lifetime', () => {
    const lifetime = (random: number, seconds = 86400) => {
      const result = mutatePod(
        pod(),
        { ...containerCredentials, tokenExpirationSeconds: seconds },
        { ...options, random: () => random },
      );
      const volume = result.patch[1]!.value as Array<{
        projected: { sources: Array<{ serviceAccountToken: { expirationSeconds: number } }> };
      }>;
      return volume[0]!.projected.sources[0]!.serviceAccountToken.expirationSeconds;
    };
    assert.equal(lifetime(0), 79200);
    assert.equal(lifetime(0.999999999), 86400);
    assert.equal(lifetime(0.5, 10000), 10000);
    const { result, output } = mutated(pod(), containerCredentials);
    assert.deepEqual(result.patch[0], {
      op: 'add',
      path: '/metadata/labels',
      value: { 'eks.amazonaws.com/pod-identity': 'enabled' },
    });
    assert.equal(
      envOf(output).AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
      '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    );
  });

  test('container credentials: an existing label map gets one escaped key', () => {
    const result = mutatePod(pod({}, { labels: { app: 'x' } }), containerCredentials, options);
    assert.deepEqual(result.patch[0], {
      op: 'add',
      path: '/metadata/labels/eks.amazonaws.com~1pod-identity',
      value: 'enabled',
    });
  });
});

test('mount paths normalise as posix.normalize does, minus a trailing slash, also on the fast path', () => {
  const reference = (path: string) => {
    const normalised = posix.normalize(path);
    return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
  };
  const piece = fc.constantFrom('/', '.', '..', 'a', 'eks.amazonaws.com', '\\', '...');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
      const path = pieces.join('');
      assert.equal(normaliseMountPath(path), reference(path), JSON.stringify(path));
    }),
    { numRuns: 5000 },
  );
  for (const path of [
    '/var/run/secrets/eks.amazonaws.com/serviceaccount',
    '/a//b',
    '/a/./b',
    '/a/..',
    '/a/',
    '',
  ])
    assert.equal(normaliseMountPath(path), reference(path), JSON.stringify(path));
});

describe('kirsa extensions', () => {
  const GOV_ROLE = 'arn:aws-us-gov:iam::111122223333:role/app';
  const CN_ROLE = 'arn:aws-cn:iam::111122223333:role/app';

  test("a role in another partition than the default region's gets that partition's region and regional STS", () => {
    const east = { ...options, defaultRegion: 'us-east-1' };
    const gov = envOf(mutated(pod(), { ...web, roleArn: GOV_ROLE }, east).output);
    assert.equal(gov.AWS_REGION, 'us-gov-west-1');
    assert.equal(gov.AWS_DEFAULT_REGION, 'us-gov-west-1');
    assert.equal(gov.AWS_STS_REGIONAL_ENDPOINTS, 'regional');
    const china = envOf(mutated(pod(), { ...web, roleArn: CN_ROLE }).output);
    assert.equal(china.AWS_REGION, 'cn-north-1', 'no default region is the commercial partition');
    assert.equal(china.AWS_STS_REGIONAL_ENDPOINTS, 'regional');
    const same = envOf(mutated(pod(), web, east).output);
    assert.equal(same.AWS_REGION, 'us-east-1');
    assert.equal(same.AWS_STS_REGIONAL_ENDPOINTS, undefined, 'same partition: the flags decide, as before');
    const govDefault = envOf(
      mutated(pod(), { ...web, roleArn: GOV_ROLE }, { ...options, defaultRegion: 'us-gov-east-1' }).output,
    );
    assert.equal(govDefault.AWS_REGION, 'us-gov-east-1', 'a default region of the role partition stays');
  });

  test("the account's region wins; one outside the role's partition is warned about", () => {
    const east = { ...options, defaultRegion: 'us-east-1' };
    const { output, result } = mutated(pod(), { ...web, region: 'eu-west-1' }, east);
    assert.equal(envOf(output).AWS_REGION, 'eu-west-1');
    assert.deepEqual(result.warnings, []);
    const wrong = mutated(pod(), { ...web, roleArn: GOV_ROLE, region: 'eu-west-1' }, east);
    assert.equal(envOf(wrong.output).AWS_REGION, 'eu-west-1');
    assert.match(
      wrong.result.warnings[0]!,
      /region eu-west-1 .* is in partition aws, but role .* is in aws-us-gov/,
    );
  });

  test('a container that sets either region name keeps its region: kirsa adds neither', () => {
    const input = pod({
      containers: [
        { name: 'region', env: [{ name: 'AWS_REGION', value: 'ap-south-1' }] },
        { name: 'default-region', env: [{ name: 'AWS_DEFAULT_REGION', value: 'ap-south-1' }] },
        { name: 'plain' },
      ],
    });
    const { output } = mutated(input, web, { ...options, defaultRegion: 'us-east-1' });
    const [region, defaultRegion] = [envOf(output, 0), envOf(output, 1)];
    assert.equal(region.AWS_ROLE_ARN, ROLE);
    assert.deepEqual([region.AWS_REGION, region.AWS_DEFAULT_REGION], ['ap-south-1', undefined]);
    assert.equal(defaultRegion.AWS_ROLE_ARN, ROLE);
    assert.deepEqual([defaultRegion.AWS_REGION, defaultRegion.AWS_DEFAULT_REGION], [undefined, 'ap-south-1']);
    assert.equal(envOf(output, 2).AWS_REGION, 'us-east-1');
    assert.equal(envOf(output, 2).AWS_DEFAULT_REGION, 'us-east-1');
  });

  test('a container with envFrom gets no region, and a warning says why; the rest is injected', () => {
    const input = pod({
      containers: [{ name: 'app', envFrom: [{ configMapRef: { name: 'settings' } }] }, { name: 'plain' }],
    });
    const { output, result } = mutated(input, web, { ...options, defaultRegion: 'us-east-1' });
    assert.equal(envOf(output, 0).AWS_REGION, undefined);
    assert.equal(envOf(output, 0).AWS_ROLE_ARN, ROLE);
    assert.equal(envOf(output, 1).AWS_REGION, 'us-east-1');
    assert.match(result.warnings[0]!, /container "app" takes env from envFrom/);
  });

  test('with the ConfigMaps read: a region where envFrom sets none, none where it does, warned where unknown', () => {
    const input = pod({
      containers: [
        { name: 'plain', envFrom: [{ configMapRef: { name: 'plain' } }] },
        { name: 'set', envFrom: [{ prefix: 'AWS_', configMapRef: { name: 'suffix' } }] },
        { name: 'secret', envFrom: [{ secretRef: { name: 'creds' } }] },
      ],
    });
    const envFromConfigMaps = new Map([
      ['plain', { found: true as const, regionKeys: [] }],
      ['suffix', { found: true as const, regionKeys: ['REGION'] }],
    ]);
    const east = { ...options, defaultRegion: 'us-east-1' };
    const result = mutatePod(input, web, east, { envFromConfigMaps });
    const output = applyAddOperations(input, result.patch);
    assert.equal(envOf(output, 0).AWS_REGION, 'us-east-1');
    assert.equal(envOf(output, 1).AWS_REGION, undefined);
    assert.equal(envOf(output, 2).AWS_REGION, undefined);
    assert.equal(envOf(output, 1).AWS_ROLE_ARN, ROLE);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /container "secret" .* and Secret "creds" is not read by kirsa/);
    assert.deepEqual(
      mutatePod(output, web, east, { envFromConfigMaps }).patch,
      [],
      'a second pass adds nothing',
    );
  });

  test('--inject-region-without-role: a pod with no role gets the default region only', () => {
    const regionOnly = { ...options, defaultRegion: 'eu-central-1', regionWithoutRole: true };
    const input = pod({
      containers: [{ name: 'a' }, { name: 'b', env: [{ name: 'AWS_REGION', value: 'x' }] }],
    });
    const result = mutatePod(input, undefined, regionOnly);
    const output = applyAddOperations(input, result.patch);
    assert.deepEqual(envOf(output, 0), { AWS_DEFAULT_REGION: 'eu-central-1', AWS_REGION: 'eu-central-1' });
    assert.deepEqual(envOf(output, 1), { AWS_REGION: 'x' });
    assert.equal(result.outcome, 'mutated');
    assert.deepEqual(mutatePod(output, undefined, regionOnly).patch, [], 'a second pass adds nothing');
    assert.deepEqual(
      mutatePod(pod(), undefined, { ...options, defaultRegion: 'eu-central-1' }).patch,
      [],
      'off by default',
    );
  });

  test('AWS_ROLE_SESSION_NAME by opt-in, from metadata.name through fieldRef, within STS rules', () => {
    const on = { ...options, roleSessionName: true };
    const named = () => pod({}, { name: 'web-1' });
    const { output } = mutated(named(), web, on);
    const env = output.spec!.containers![0]!.env!;
    assert.deepEqual(env.at(-1), {
      name: 'AWS_ROLE_SESSION_NAME',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    assert.equal(env.at(-2)!.name, 'AWS_WEB_IDENTITY_TOKEN_FILE', 'after the pair');
    assert.deepEqual(mutatePod(output, web, on).patch, [], 'a second pass adds nothing');
    assert.equal(envOf(mutated(named(), web).output).AWS_ROLE_SESSION_NAME, undefined, 'off by default');
    const byAccount = mutated(named(), { ...web, sessionName: true }).output;
    assert.ok('AWS_ROLE_SESSION_NAME' in envOf(byAccount), "the account's annotation turns it on");
    const podSaysNo = pod(
      {},
      { name: 'web-1', annotations: { 'eks.amazonaws.com/role-session-name': 'false' } },
    );
    assert.equal(envOf(mutated(podSaysNo, web, on).output).AWS_ROLE_SESSION_NAME, undefined);
    const generated = pod({}, { name: undefined, generateName: 'web-7d9f8-' });
    assert.ok('AWS_ROLE_SESSION_NAME' in envOf(mutated(generated, web, on).output), 'generateName pods too');
    for (const metadata of [
      { name: 'a'.repeat(65) },
      { name: undefined, generateName: `${'a'.repeat(60)}-` },
      { name: 'a' },
    ]) {
      const { output: long, result } = mutated(pod({}, metadata), web, on);
      assert.equal(envOf(long).AWS_ROLE_SESSION_NAME, undefined, JSON.stringify(metadata));
      assert.match(result.warnings[0]!, /is not a valid STS session name/);
    }
    assert.equal(
      envOf(mutated(named(), containerCredentials, on).output).AWS_ROLE_SESSION_NAME,
      undefined,
      'web identity only',
    );
  });

  test('include-containers: only those it names, never the skipped ones; unreadable includes none', () => {
    const three = { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'init' }] };
    const only = (annotations: Record<string, string>) => {
      const { output, result } = mutated(pod(three, { annotations }));
      return {
        names: [envOf(output, 0), envOf(output, 1), envOf(output, 0, 'initContainers')].map(
          (env) => 'AWS_ROLE_ARN' in env,
        ),
        warnings: result.warnings,
      };
    };
    assert.deepEqual(only({ 'eks.amazonaws.com/include-containers': 'b, init' }).names, [false, true, true]);
    assert.deepEqual(
      only({ 'eks.amazonaws.com/include-containers': 'a,b', 'eks.amazonaws.com/skip-containers': 'b' }).names,
      [true, false, false],
    );
    const unreadable = only({ 'eks.amazonaws.com/include-containers': 'a"b' });
    assert.deepEqual(unreadable.names, [false, false, false]);
    assert.match(
      unreadable.warnings[0]!,
      /include-containers could not be read .*no container was given credentials/,
    );
  });

  test('--inject-fs-group: only when the pod sets no fsGroup, with a warning; a second pass adds nothing', () => {
    const withGroup = { ...options, fsGroup: 65534 };
    const bare = mutated(pod(), web, withGroup);
    assert.deepEqual(bare.output.spec!.securityContext, { fsGroup: 65534 });
    assert.match(bare.result.warnings[0]!, /set securityContext.fsGroup 65534/);
    assert.deepEqual(mutatePod(bare.output, web, withGroup).patch, []);
    const partial = mutated(pod({ securityContext: { runAsUser: 1000 } }), web, withGroup);
    assert.deepEqual(partial.output.spec!.securityContext, { runAsUser: 1000, fsGroup: 65534 });
    const chosen = mutated(pod({ securityContext: { fsGroup: 0 } }), web, withGroup);
    assert.deepEqual(chosen.output.spec!.securityContext, { fsGroup: 0 }, "the pod's choice, even 0, stands");
    assert.deepEqual(chosen.result.warnings, []);
    assert.equal(mutated(pod(), web).output.spec!.securityContext, undefined, 'off by default');
  });
});
