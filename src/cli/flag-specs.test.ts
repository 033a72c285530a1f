import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import fc from 'fast-check';
import { isKirsaError } from '../errors.ts';
import {
  DEFAULT_INSTALL_SETTINGS,
  type InstallSettings,
  renderInstallManifests,
} from '../install/manifests.ts';
import { flagShape, parseDeclaredFlags } from './flag-specs.ts';
import { buildProgram } from './main.ts';
import { WEBHOOK_FLAGS } from './webhook.ts';

type Outcome = { values: Record<string, unknown> } | { refused: string } | { deferred: true };

/** What the webhook's own parse makes of a command line. */
function ownParse(words: string[]): Outcome {
  try {
    const values = parseDeclaredFlags(words, WEBHOOK_FLAGS);
    return values === undefined ? { deferred: true } : { values };
  } catch (error) {
    assert.ok(isKirsaError(error), String(error));
    return { refused: error.message };
  }
}

/** What commander makes of `kirsa webhook <words>`, the webhook's action replaced by one that keeps the flags. */
async function commanderParse(words: string[]): Promise<Outcome | { failed: string }> {
  const program = await buildProgram(['webhook']);
  let values: Record<string, unknown> | undefined;
  const silent = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };
  program.configureOutput(silent);
  const webhook = program.commands.find((command: Command) => command.name() === 'webhook')!;
  webhook.configureOutput(silent).action((flags: Record<string, unknown>) => {
    values = { ...flags };
  });
  try {
    await program.parseAsync(['webhook', ...words], { from: 'user' });
  } catch (error) {
    if (isKirsaError(error)) return { refused: error.message };
    return { failed: (error as Error).message };
  }
  assert.ok(values !== undefined, 'commander ran no action');
  return { values };
}

const VALUES = [
  'true',
  'false',
  '0',
  '1',
  '8443',
  '-1',
  '-5',
  '1s',
  '250ms',
  'abc',
  '',
  'a,b',
  'INFO',
  'x=1',
  'f.go:1',
];
const STRAYS = [
  'word',
  '--',
  '--unknown',
  '-x',
  '--debug',
  '-h',
  '--help',
  '--version',
  '-V',
  '-v',
  '--port',
  '-',
];

/** One flag as a user could write it: `--name value`, `--name=value`, bare, and for -v `-v5`, `-v=5`. */
const oneFlag = fc
  .tuple(
    fc.constantFrom(...WEBHOOK_FLAGS),
    fc.constantFrom('spaced', 'equals', 'bare', 'short-attached', 'short-spaced'),
    fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 6 })),
  )
  .map(([spec, form, value]) => {
    const { long, short } = flagShape(spec);
    if (short !== undefined && form === 'short-attached') return [`-${short}${value}`];
    if (short !== undefined && form === 'short-spaced') return [`-${short}`, value];
    if (form === 'bare') return [`--${long}`];
    if (form === 'equals') return [`--${long}=${value}`];
    return [`--${long}`, value];
  });

const commandLine = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: oneFlag },
      { weight: 1, arbitrary: fc.constantFrom(...STRAYS).map((word) => [word]) },
    ),
    {
      maxLength: 6,
    },
  )
  .map((parts) => parts.flat());

test("the webhook's own parse agrees with commander on every command line it reads, and leaves the rest to it", async () => {
  const seen = { values: 0, refused: 0, deferred: 0 };
  await fc.assert(
    fc.asyncProperty(commandLine, async (words) => {
      const own = ownParse(words);
      if ('deferred' in own) {
        seen.deferred++;
        return;
      }
      const theirs = await commanderParse(words);
      if ('values' in own) seen.values++;
      else seen.refused++;
      assert.deepEqual(theirs, own, JSON.stringify(words));
    }),
    { numRuns: 600 },
  );
  // Each outcome came up often enough for the agreement to mean something.
  for (const [outcome, count] of Object.entries(seen)) assert.ok(count >= 30, `${outcome}: ${count} of 600`);
});

/** The webhook container's arguments in `kirsa manifests`' Deployment (the chart renders the same; its tests say so). */
function installArgs(settings: InstallSettings): string[] {
  const deployment = renderInstallManifests(settings).find((manifest) => manifest.kind === 'Deployment') as {
    spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
  };
  const [verb, ...args] = deployment.spec.template.spec.containers[0]!.args;
  assert.equal(verb, 'webhook');
  return args;
}

test("the command lines of the reference's installs and of kirsa's own are read without commander", () => {
  const lines = [
    // The reference's deploy/ folder and the kOps addon, as test/real-parts/webhook/drop-in.test.ts runs them.
    [
      '--in-cluster=false',
      '--namespace=default',
      '--service-name=pod-identity-webhook',
      '--annotation-prefix=eks.amazonaws.com',
      '--token-audience=sts.amazonaws.com',
      '--logtostderr',
    ],
    [
      '--in-cluster=false',
      '--namespace=kube-system',
      '--service-name=pod-identity-webhook',
      '--annotation-prefix=eks.amazonaws.com',
      '--token-audience=amazonaws.com',
      '--logtostderr',
      '--watch-config-map',
      '--sts-regional-endpoint',
      '--aws-default-region=us-test-1',
      '--v=5',
    ],
    installArgs(DEFAULT_INSTALL_SETTINGS),
    installArgs({
      ...DEFAULT_INSTALL_SETTINGS,
      dnsDomain: 'example.internal',
      tls: { ...DEFAULT_INSTALL_SETTINGS.tls, mode: 'self-managed' },
      webhook: {
        ...DEFAULT_INSTALL_SETTINGS.webhook,
        awsDefaultRegion: 'eu-west-1',
        watchConfigMap: true,
        configMapNamespace: 'kube-system',
        readEnvFromConfigMaps: true,
      },
    }),
    // The tests' harness writes `--name value` and klog's `-v N`.
    [
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--bind-address',
      '127.0.0.1',
      '--shutdown-drain-delay',
      '0s',
      '-v',
      '4',
    ],
  ];
  for (const words of lines)
    assert.notEqual(parseDeclaredFlags(words, WEBHOOK_FLAGS), undefined, words.join(' '));
  const kops = parseDeclaredFlags(lines[1]!, WEBHOOK_FLAGS)!;
  assert.equal(kops.watchConfigMap, true);
  assert.equal(kops.inCluster, false);
  assert.equal(kops.v, 5);
  assert.equal(kops.awsDefaultRegion, 'us-test-1');
  assert.equal(kops.port, 443, 'the default');
  const selfManaged = parseDeclaredFlags(lines[3]!, WEBHOOK_FLAGS)!;
  assert.equal(selfManaged.selfManagedTls, true);
  assert.equal(selfManaged.configMapNamespace, 'kube-system');
  assert.deepEqual(selfManaged.tlsHosts, ['kirsa-webhook.kirsa.svc.example.internal']);
});

test('flag shapes: names, value kinds and the key commander gives each', () => {
  assert.deepEqual(flagShape({ flags: '--tls-cert <file>' }), {
    long: 'tls-cert',
    attribute: 'tlsCert',
    value: 'required',
  });
  assert.deepEqual(flagShape({ flags: '--pod-events [bool]' }), {
    long: 'pod-events',
    attribute: 'podEvents',
    value: 'optional',
  });
  assert.deepEqual(flagShape({ flags: '-v, --v <value>' }), {
    long: 'v',
    short: 'v',
    attribute: 'v',
    value: 'required',
  });
  assert.deepEqual(flagShape({ flags: '--log_file_max_size <value>' }), {
    long: 'log_file_max_size',
    attribute: 'log_file_max_size',
    value: 'required',
  });
  assert.deepEqual(flagShape({ flags: '--version' }), {
    long: 'version',
    attribute: 'version',
    value: 'none',
  });
});
