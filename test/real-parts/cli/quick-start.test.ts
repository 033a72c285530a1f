// The README's quick start cannot drift from what works. Three tests read it:
// - every `npx kirsa` command in it names a command and flags that exist (read from the full command tree);
// - the steps that need no cluster or AWS account run as written, in a fresh folder, exit 0;
// - every console line of it runs top to bottom against the real parts (a kube-apiserver with the job
//   controller, moto's S3 and IAM, helm, kubectl), through bash, each word as the README writes it except
//   the few in SUBSTITUTIONS (what must differ on this machine, one table), and each step's real outcome is
//   asserted: the bucket's objects, the provider and role in IAM, the ServiceAccount's annotation, the pod
//   the webhook mutated, the doctor's verdict, and the output lines the README shows. A line that cannot
//   run here is in SKIPPED with the reason (one: docker build); a new line that is in neither fails the test.
//   KIRSA_QUICK_START_LOG=1 prints each line as it ran here, with its output.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetBucketPolicyCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../../../src/cli/main.ts';
import { webhookConfigurationForUrl } from '../../../src/install/manifests.ts';
import {
  type KubeApiserver,
  kubeApiserverAvailable,
  startKubeApiserver,
} from '../../support/kube-apiserver.ts';
import { type MotoServer, motoUnavailable, startMoto } from '../../support/moto.ts';
import { stopProcess } from '../../support/processes.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';
import { type S3Https, startS3Https } from '../../support/s3-https.ts';
import { pointAtMoto, terraformOrReason } from '../../support/terraform.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import { eventually, httpsCall, startWebhook, type WebhookProcess } from '../../support/webhook-harness.ts';

const ROOT = new URL('../../../', import.meta.url);
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-quick-start-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The quick start's kirsa commands, continuation lines joined, split into words (no quoting is used). */
async function quickStartCommands(): Promise<string[][]> {
  const readme = await readFile(new URL('README.md', ROOT), 'utf8');
  const start = readme.indexOf('## Quick start on a real cluster');
  const end = readme.indexOf('\n## ', start + 1);
  assert.ok(start > 0 && end > start, 'the README has a quick start section');
  const section = readme.slice(start, end).replace(/\\\n\s*/g, ' ');
  const commands: string[][] = [];
  for (const match of section.matchAll(/(?:^\s*\$ |`)npx (kirsa [^`\n#|]+)/gm)) {
    commands.push(match[1]!.trim().split(/\s+/).slice(1));
  }
  return commands;
}

function find(program: Command, words: string[]): { command: Command; rest: string[] } {
  let command = program;
  let at = 0;
  while (at < words.length) {
    const next = command.commands.find((sub) => sub.name() === words[at]);
    if (!next) break;
    command = next;
    at += 1;
  }
  return { command, rest: words.slice(at) };
}

test('every kirsa command in the quick start names a command and flags that exist', async () => {
  const commands = await quickStartCommands();
  assert.ok(commands.length >= 7, `found ${commands.length} commands`);
  const program = await buildProgram([], { all: true });
  for (const words of commands) {
    const { command, rest } = find(program, words);
    assert.ok(
      command !== program && command.commands.length === 0,
      `not a command: kirsa ${words.join(' ')}`,
    );
    for (const word of rest.filter((item) => item.startsWith('-'))) {
      const flag = word.split('=')[0]!;
      assert.ok(
        command.options.some((option) => option.long === flag || option.short === flag),
        `kirsa ${words.join(' ')}: no flag ${flag}`,
      );
    }
  }
});

test('the offline steps of the quick start run as written', async () => {
  const commands = await quickStartCommands();
  const offline = commands.filter((words) =>
    ['issuer init', 'apiserver-config', 'manifests', 'mutate'].some((name) =>
      words.join(' ').startsWith(name),
    ),
  );
  assert.ok(offline.length >= 4, `found ${offline.length} offline steps`);
  for (const words of offline) {
    // Files the README names relative to the checkout (examples/...) are read from it.
    const args = words.map((word) => (word.startsWith('examples/') ? new URL(word, ROOT).pathname : word));
    const run = await runKirsa(args, { cwd: work });
    assert.equal(run.code, 0, `kirsa ${words.join(' ')}:\n${run.stderr}`);
  }
});

// --- the whole quick start against the real parts ------------------------------------------------------------

/** One console line of the quick start (continuations joined) and the output lines the README shows for it. */
interface ConsoleStep {
  line: string;
  shown: string[];
}

async function consoleSteps(): Promise<ConsoleStep[]> {
  const readme = await readFile(new URL('README.md', ROOT), 'utf8');
  const start = readme.indexOf('## Quick start on a real cluster');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const steps: ConsoleStep[] = [];
  for (const block of section.matchAll(/```console\n([\s\S]*?)```/g)) {
    const lines = block[1]!.replace(/\\\n\s*/g, ' ').split('\n');
    let current: ConsoleStep | undefined;
    for (const raw of lines.map((line) => line.trim())) {
      if (raw.startsWith('$ ')) {
        current = { line: raw.slice(2), shown: [] };
        steps.push(current);
      } else if (raw.startsWith('#')) current = undefined;
      else if (current && raw !== '' && raw !== '...') current.shown.push(raw);
    }
  }
  return steps;
}

/** The README's issuer host: an S3 bucket's public face on AWS. */
const README_HOST = 'my-bucket.s3.eu-west-1.amazonaws.com';
const BUCKET = 'my-bucket';
const README_ACCOUNT = '111122223333';
const ROLE_ARN = `arn:aws:iam::${README_ACCOUNT}:role/kirsa-default-s3-echoer`;

/**
 * SUBSTITUTIONS: everything that differs from the README on this machine, and why; every other word of each
 * console line runs as the README writes it. `here()` in the test below applies the word rows, the before
 * hook sets up the environment and stand-in rows.
 */
const SUBSTITUTIONS: ReadonlyArray<{ readme: string; here: string; why: string }> = [
  // Words in the commands (and in the output lines the README shows).
  {
    readme: README_HOST,
    here: '127.X.Y.Z (a loopback address of its own, port 443)',
    why: "the issuer's host, in its URL and the provider ARN: S3's public HTTPS face for my-bucket, here an HTTPS server serving moto's my-bucket (test/support/s3-https.ts); port 443 because IAM and kirsa stack refuse an issuer URL with a port",
  },
  {
    readme: 'deploy/..., examples/...',
    here: 'the same paths in this checkout, absolute',
    why: "the commands run in a scratch folder, the user's own; these paths name files of the checkout",
  },
  {
    readme: 'kirsa issuer publish, provider create, role create, doctor',
    here: 'the same, then --endpoint-url <moto>',
    why: 'they call AWS: here moto (S3 and IAM)',
  },
  {
    readme: "<the job's pod>",
    here: 'the name the job controller gave the pod',
    why: 'the README cannot know it',
  },
  {
    readme: 'kid kR-3gPO9KBeT6rqn-nF1eT1HaKE_5Yov8ch7fGeQUDE (output)',
    here: 'the kid of the key made here',
    why: 'a key id is the hash of a fresh random key',
  },
  // The environment every line runs in.
  {
    readme: 'npx, helm, kubectl',
    here: "PATH: an npx shim running this checkout's bin/kirsa.js; the real-parts helm and kubectl",
    why: 'npx in a folder without kirsa installed would fetch it from the registry',
  },
  {
    readme: 'your kubeconfig',
    here: "KUBECONFIG: the local API server's admin",
    why: 'the cluster here is a local control plane',
  },
  {
    readme: 'your AWS credentials and account 111122223333',
    here: "moto's dummy keys, no AWS_REGION; moto started with MOTO_ACCOUNT_ID=111122223333 and AWS's managed policies",
    why: "so the README's account and AmazonS3ReadOnlyAccess are the ones here",
  },
  {
    readme: "S3's publicly trusted certificate",
    here: 'NODE_EXTRA_CA_CERTS: the CA of the loopback HTTPS face',
    why: 'the verify phase and the doctor fetch the issuer over HTTPS, as STS does',
  },
  // What the user's cluster and account have that this machine stands in for.
  {
    readme: 'a cluster of your distribution (kOps applies the --for kops snippet)',
    here: 'kube-apiserver started with what `kirsa apiserver-config --for flags` prints for the same folder and URL, and kube-controller-manager running the job controller alone',
    why: 'no kOps here; the flags are the same settings the kOps snippet carries',
  },
  {
    readme: 'my-bucket exists',
    here: 'created in moto, in eu-west-1',
    why: 'the quick start publishes into a bucket the user has',
  },
  {
    readme: "cert-manager (the chart's default TLS)",
    here: 'its two CustomResourceDefinitions (Issuer, Certificate), no controller',
    why: 'helm install needs its API types; nothing here would run its controller',
  },
  {
    readme: 'helm install ..., or kirsa manifests | kubectl apply -f -',
    here: 'both, with helm uninstall between',
    why: 'they are alternatives making the same objects',
  },
  {
    readme: "the webhook Deployment's pods",
    here: '`kirsa webhook` on loopback, registered by URL (webhookConfigurationForUrl)',
    why: 'no node runs pods here',
  },
  {
    readme: 'terraform -chdir=iam init && terraform -chdir=iam apply',
    here: "iam/moto-provider.tf.json (the aws provider's endpoints: moto), TF_CLI_CONFIG_FILE (hashicorp/aws from a local mirror), `yes` typed at apply's prompt, and a moto of its own",
    why: 'no registry or AWS here; the alternative to steps 2 and 4 starts from an account without their objects',
  },
  {
    readme: 'roles.yaml, as step 4 describes it',
    here: 'roles: [{service-account: default/s3-echoer, policy-arn: AmazonS3ReadOnlyAccess}]',
    why: 'the README describes the file instead of printing it',
  },
];

/** moto as the README's account: its id, and AWS's managed policies (AmazonS3ReadOnlyAccess) loaded. */
const MOTO_ENV = { MOTO_ACCOUNT_ID: README_ACCOUNT, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' };

interface AwsClients {
  s3: S3Client;
  iam: IAMClient;
}

function awsClients(endpoint: string): AwsClients {
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  return {
    s3: new S3Client({ region: 'eu-west-1', endpoint, forcePathStyle: true, credentials }),
    iam: new IAMClient({ region: 'us-east-1', endpoint, credentials }),
  };
}

/** Lines that cannot run here, with the reason; kept short. */
const SKIPPED: Record<string, string> = {
  'docker build':
    'no image builder on this machine; the node tier (test/node/seed.test.ts) builds s3-echoer from examples/s3-echoer and runs the Job as uid 1000 on a real kubelet',
};

/** The words of a line, whitespace collapsed, for comparing output lines with column padding. */
const squeeze = (text: string) => text.trim().replace(/\s+/g, ' ');

const realPartsMissing =
  (await motoUnavailable()) ??
  (!(await kubeApiserverAvailable()) ? 'kube-apiserver and etcd are not built' : undefined) ??
  (['KIRSA_HELM', 'KIRSA_KUBECTL', 'KIRSA_KUBE_CONTROLLER_MANAGER'].find((part) => !process.env[part])
    ? 'KIRSA_HELM, KIRSA_KUBECTL or KIRSA_KUBE_CONTROLLER_MANAGER is not set: eval "$(bash tools/realparts/build.sh --print-env)"'
    : undefined);
if (realPartsMissing && process.env.CI === 'true') throw new Error(realPartsMissing);

describe('the quick start, top to bottom on the real parts', { skip: realPartsMissing ?? false }, () => {
  let scratch: string;
  let moto: MotoServer;
  /** The Terraform alternative's account. */
  let second: MotoServer | undefined;
  let face: S3Https;
  let kube: KubeApiserver | undefined;
  let controllers: ChildProcess | undefined;
  let webhook: WebhookProcess | undefined;
  let webhookCert: ServingCertificate | undefined;
  let env: NodeJS.ProcessEnv;
  let s3: S3Client;
  let iam: IAMClient;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'kirsa-quick-start-real-'));
    moto = await startMoto({ env: MOTO_ENV });
    // On a loopback address of its own and port 443, so the issuer URL has no port (IAM refuses one, and
    // `kirsa stack` with it); another address is tried if this one is taken.
    for (let attempt = 0; ; attempt += 1) {
      const host = `127.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
      try {
        face = await startS3Https(moto.endpoint, BUCKET, { host, port: 443 });
        break;
      } catch (error) {
        if (attempt > 5) throw error;
      }
    }
    ({ s3, iam } = awsClients(moto.endpoint));
    // The user's bucket, before the quick start.
    await s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const bin = join(scratch, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'npx'),
      `#!/bin/sh\n[ "$1" = kirsa ] || { echo "npx $1: only kirsa here" >&2; exit 127; }\nshift\nexec "${process.execPath}" "${KIRSA_BIN}" "$@"\n`,
      { mode: 0o755 },
    );
    await symlink(process.env.KIRSA_HELM!, join(bin, 'helm'));
    await symlink(process.env.KIRSA_KUBECTL!, join(bin, 'kubectl'));
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: scratch,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      NODE_EXTRA_CA_CERTS: face.caFile,
    };
  });

  after(async () => {
    await webhook?.stop('SIGKILL');
    await stopProcess(controllers);
    await kube?.stop();
    await webhookCert?.cleanup();
    s3?.destroy();
    iam?.destroy();
    await face?.stop();
    await moto?.stop();
    await second?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('every console line runs as written (but for SUBSTITUTIONS) and does what the README says', async (t) => {
    const steps = await consoleSteps();
    const work = join(scratch, 'work');
    await mkdir(work);
    const host = new URL(face.url).host;
    const issuer = `https://${host}/cluster-1`;
    const providerArn = `arn:aws:iam::${README_ACCOUNT}:oidc-provider/${host}/cluster-1`;
    const values = { kid: '', readmeKid: '', jobPod: "<the job's pod>" };
    const done = new Set<ConsoleStep>();

    /** The README's line that starts with `prefix` (the next one not run yet, unless `again`). */
    const find = (prefix: string, again = false): ConsoleStep => {
      const step = steps.find(
        (candidate) => candidate.line.startsWith(prefix) && (again || !done.has(candidate)),
      );
      assert.ok(step, `the quick start has no line starting "${prefix}"`);
      done.add(step);
      return step;
    };
    /** The line as it runs here: SUBSTITUTIONS applied, nothing else. */
    const here = (text: string, aws: boolean): string => {
      let line = text
        .replaceAll(README_HOST, host)
        .replace(/(^|\s)((?:deploy|examples)\/)/g, `$1${fileURLToPath(ROOT)}$2`)
        .replaceAll("<the job's pod>", values.jobPod);
      if (aws) line = line.replace(/^(npx kirsa [^|#]*?)\s*(#.*)?$/, `$1 --endpoint-url ${moto.endpoint}`);
      return line;
    };
    /** Every output line the README shows for the step is printed (column padding aside). */
    const showsAsReadme = (step: ConsoleStep, out: string): void => {
      const printed = new Set(out.split('\n').map(squeeze));
      for (const shown of step.shown) {
        let expected = shown.replaceAll(README_HOST, host).replaceAll("<the job's pod>", values.jobPod);
        if (values.readmeKid) expected = expected.replaceAll(values.readmeKid, values.kid);
        assert.ok(
          printed.has(squeeze(expected)),
          `$ ${step.line}\nthe README shows: ${expected}\nprinted:\n${out}`,
        );
      }
    };
    /** Runs the README's line through bash in the user's folder; exit 0 and the README's output lines. */
    const run = async (
      prefix: string,
      {
        aws = false,
        again = false,
        check = true,
        input = '',
        extraEnv = {},
      }: {
        aws?: boolean;
        again?: boolean;
        check?: boolean;
        /** What the user types. */
        input?: string;
        extraEnv?: Record<string, string>;
      } = {},
    ): Promise<{ step: ConsoleStep; out: string }> => {
      const step = find(prefix, again);
      const line = here(step.line, aws);
      const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('bash', ['-o', 'pipefail', '-c', line], {
          cwd: work,
          env: { ...env, ...(kube ? { KUBECONFIG: kube.kubeconfigPath } : {}), ...extraEnv },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        child.stdin.end(input);
        let out = '';
        const keep = (chunk: string) => {
          out += chunk;
        };
        child.stdout.setEncoding('utf8').on('data', keep);
        child.stderr.setEncoding('utf8').on('data', keep);
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
      assert.equal(result.code, 0, `$ ${line}\n${result.out}`);
      if (process.env.KIRSA_QUICK_START_LOG) t.diagnostic(`$ ${line}\n${result.out}`);
      if (check) showsAsReadme(step, result.out);
      return { step, out: result.out };
    };
    const api = (method: string, path: string, body?: unknown) => kube!.request(method, path, body);
    const annotationOf = async (name: string): Promise<string | undefined> => {
      const account = await api('GET', `/api/v1/namespaces/default/serviceaccounts/${name}`);
      assert.equal(account.status, 200, JSON.stringify(account.json));
      return account.json.metadata.annotations?.['eks.amazonaws.com/role-arn'];
    };

    // What each AWS step leaves in the account, for the API steps and the Terraform alternative alike.
    const issuerObjectsAreThere = async ({ s3 }: AwsClients) => {
      for (const [key, file] of [
        ['cluster-1/.well-known/openid-configuration', 'discovery.json'],
        ['cluster-1/keys.json', 'keys.json'],
      ] as const) {
        const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        assert.equal(object.ContentType, 'application/json', key);
        assert.equal(
          await object.Body!.transformToString(),
          await readFile(join(work, 'kirsa-issuer', file), 'utf8'),
          `${key} holds ${file}`,
        );
      }
      const policy = JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy!);
      const grant = policy.Statement.find(
        (statement: { Sid?: string }) => statement.Sid === 'KirsaPublicIssuerDocuments',
      );
      assert.equal(grant?.Effect, 'Allow');
      assert.equal(grant?.Principal, '*');
      assert.deepEqual([grant?.Resource].flat().sort(), [
        `arn:aws:s3:::${BUCKET}/cluster-1/.well-known/openid-configuration`,
        `arn:aws:s3:::${BUCKET}/cluster-1/keys.json`,
      ]);
    };
    const providerIsThere = async ({ iam }: AwsClients) => {
      const provider = await iam.send(
        new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
      );
      assert.deepEqual(provider.ClientIDList, ['sts.amazonaws.com']);
    };
    const roleIsThere = async ({ iam }: AwsClients) => {
      const created = await iam.send(new GetRoleCommand({ RoleName: 'kirsa-default-s3-echoer' }));
      assert.equal(created.Role?.Arn, ROLE_ARN);
      const trust = JSON.parse(decodeURIComponent(created.Role!.AssumeRolePolicyDocument!));
      assert.equal(trust.Statement.length, 1, JSON.stringify(trust));
      const [statement] = trust.Statement;
      assert.equal(statement.Effect, 'Allow');
      assert.deepEqual(statement.Principal, { Federated: providerArn });
      assert.equal(statement.Action, 'sts:AssumeRoleWithWebIdentity');
      assert.deepEqual(statement.Condition, {
        StringEquals: {
          [`${host}/cluster-1:sub`]: 'system:serviceaccount:default:s3-echoer',
          [`${host}/cluster-1:aud`]: 'sts.amazonaws.com',
        },
      });
      const attached = await iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: 'kirsa-default-s3-echoer' }),
      );
      assert.deepEqual(
        attached.AttachedPolicies?.map((policy) => policy.PolicyArn),
        ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
      );
    };

    // 1. Keys and issuer documents, and the flags for the API server.
    const init = await run('npx kirsa issuer init', { check: false });
    const jwks = JSON.parse(await readFile(join(work, 'kirsa-issuer/keys.json'), 'utf8'));
    values.kid = jwks.keys[0].kid;
    values.readmeKid =
      /^kid (\S+)$/.exec(init.step.shown.find((line) => line.startsWith('kid ')) ?? '')?.[1] ?? '';
    assert.ok(values.readmeKid, 'the README shows the kid line');
    showsAsReadme(init.step, init.out);
    const discovery = JSON.parse(await readFile(join(work, 'kirsa-issuer/discovery.json'), 'utf8'));
    assert.equal(discovery.issuer, issuer);
    assert.equal(discovery.jwks_uri, `${issuer}/keys.json`);
    const kops = await run('npx kirsa apiserver-config --for kops');
    assert.match(kops.out, /fileAssets/);
    assert.ok(kops.out.includes(`serviceAccountIssuer: ${issuer}`), kops.out);
    // This machine's distribution is a bare kube-apiserver: it starts with the flags kirsa prints for one.
    const flags = await runKirsa(
      ['apiserver-config', '--for', 'flags', '--dir', './kirsa-issuer', '--issuer-url', issuer],
      { cwd: work },
    );
    assert.equal(flags.code, 0, flags.stderr);
    kube = await startKubeApiserver({
      serviceAccountFlags: flags.stdout.split('\n').filter((line) => line.startsWith('--')),
    });
    // The job controller alone: it makes the Job's pod (no scheduler, no node: the pod stays Pending).
    controllers = spawn(
      process.env.KIRSA_KUBE_CONTROLLER_MANAGER!,
      [
        `--kubeconfig=${kube.kubeconfigPath}`,
        '--controllers=job',
        '--leader-elect=false',
        '--secure-port=0',
        '--use-service-account-credentials=false',
      ],
      { stdio: 'ignore' },
    );

    // 2. Publish the issuer and create the IAM provider.
    await run('npx kirsa issuer publish', { aws: true });
    await issuerObjectsAreThere({ s3, iam });
    await run('npx kirsa provider create', { aws: true });
    await providerIsThere({ s3, iam });

    // 3. Install the webhook. The chart's default TLS is cert-manager's: its two API types (not its
    // controller, nothing here would run it) are what `helm install` needs of it.
    for (const kind of ['Issuer', 'Certificate']) {
      const plural = `${kind.toLowerCase()}s`;
      const created = await api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.cert-manager.io` },
        spec: {
          group: 'cert-manager.io',
          names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
    }
    await eventually(
      async () => (await api('GET', '/apis/cert-manager.io/v1/certificates')).status === 200 || undefined,
      30_000,
    );
    const installed = async (manager: RegExp) => {
      const deployment = await api('GET', '/apis/apps/v1/namespaces/kirsa/deployments/kirsa-webhook');
      assert.equal(deployment.status, 200, JSON.stringify(deployment.json));
      assert.equal(deployment.json.spec.replicas, 2);
      assert.match(
        JSON.stringify(
          deployment.json.metadata.managedFields.map((field: { manager: string }) => field.manager),
        ),
        manager,
      );
      const budget = await api('GET', '/apis/policy/v1/namespaces/kirsa/poddisruptionbudgets/kirsa-webhook');
      assert.equal(budget.status, 200);
      const certificate = await api(
        'GET',
        '/apis/cert-manager.io/v1/namespaces/kirsa/certificates/kirsa-webhook',
      );
      assert.equal(certificate.status, 200);
      const configuration = await api(
        'GET',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kirsa-webhook-kirsa',
      );
      assert.equal(configuration.status, 200);
      assert.equal(configuration.json.webhooks[0].failurePolicy, 'Ignore');
      assert.deepEqual(configuration.json.webhooks[0].clientConfig.service, {
        namespace: 'kirsa',
        name: 'kirsa-webhook',
        path: configuration.json.webhooks[0].clientConfig.service.path,
        port: configuration.json.webhooks[0].clientConfig.service.port,
      });
    };
    await run('helm install kirsa deploy/helm/kirsa');
    await installed(/helm/);
    // The README offers the plain YAML as the other way to the same objects: the first is undone first.
    await promisify(execFile)(process.env.KIRSA_HELM!, ['uninstall', 'kirsa', '-n', 'kirsa'], {
      env: { ...env, KUBECONFIG: kube.kubeconfigPath },
    });
    await run('npx kirsa manifests | kubectl apply -f -');
    await installed(/kubectl/);
    // No node runs the Deployment's pods here: `kirsa webhook` runs on loopback instead, registered by URL.
    webhookCert = await makeServingCertificate({ hosts: ['127.0.0.1'] });
    const started = await startWebhook([
      '--tls-cert',
      webhookCert.certFile,
      '--tls-key',
      webhookCert.keyFile,
      '--kubeconfig',
      kube.kubeconfigPath,
      '--shutdown-drain-delay',
      '0s',
    ]);
    webhook = started;
    await eventually(async () => {
      const ready = await httpsCall(started.port, { ca: webhookCert!.caPem, method: 'GET', path: '/readyz' });
      return ready.status === 200 || undefined;
    }, 40_000);
    const registered = await api(
      'POST',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      webhookConfigurationForUrl(`https://127.0.0.1:${started.port}/mutate`, webhookCert.caPem),
    );
    assert.equal(registered.status, 201, JSON.stringify(registered.json));

    // 4. The role and the annotated ServiceAccount.
    await run('npx kirsa role create', { aws: true });
    await roleIsThere({ s3, iam });
    assert.equal(await annotationOf('s3-echoer'), ROLE_ARN);
    // "a rerun changes nothing"
    const rerun = await run('npx kirsa role create', { aws: true, again: true, check: false });
    const statuses = rerun.out
      .split('\n')
      .filter((line) => /^[a-z-]+ {2,}/.test(line))
      .map((line) => line.split(/\s+/)[1]);
    assert.ok(
      statuses.length >= 4 && statuses.every((status) => status === 'unchanged' || status === 'skipped'),
      rerun.out,
    );

    // The whole AWS side as one Terraform configuration, from a roles file as the README describes it.
    await writeFile(
      join(work, 'roles.yaml'),
      'roles:\n  - service-account: default/s3-echoer\n    policy-arn: arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\n',
    );
    await run('npx kirsa stack -o terraform');
    const terraform = await terraformOrReason();
    if (typeof terraform === 'string') {
      // Outside CI only (terraformOrReason throws in CI).
      find('terraform -chdir=iam init');
      t.diagnostic(`skipped here: terraform -chdir=iam init && terraform -chdir=iam apply: ${terraform}`);
    } else {
      // The alternative to steps 2 and 4 starts from an account without their objects: a moto of its own.
      second = await startMoto({ env: MOTO_ENV });
      const clients = awsClients(second.endpoint);
      try {
        await clients.s3.send(
          new CreateBucketCommand({
            Bucket: BUCKET,
            CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
          }),
        );
        const tfEnv = await pointAtMoto(terraform, join(work, 'iam'), second.endpoint);
        await run('terraform -chdir=iam init', { input: 'yes\n', extraEnv: tfEnv });
        await issuerObjectsAreThere(clients);
        await providerIsThere(clients);
        await roleIsThere(clients);
      } finally {
        clients.s3.destroy();
        clients.iam.destroy();
      }
    }
    await run('kubectl apply -f iam/kirsa-stack.serviceaccount.yaml');
    assert.equal(await annotationOf('s3-echoer'), ROLE_ARN, "the stack's ServiceAccount names the same role");

    // 5. Run a pod and verify. First, until the API server calls the webhook (it picks up a new
    // configuration within a moment): a dry-run pod of the same account comes back mutated.
    await eventually(
      async () => {
        const probe = await api('POST', '/api/v1/namespaces/default/pods?dryRun=All', {
          metadata: { name: 'probe' },
          spec: { serviceAccountName: 's3-echoer', containers: [{ name: 'probe', image: 'probe' }] },
        });
        return JSON.stringify(probe.json).includes('AWS_ROLE_ARN') || undefined;
      },
      30_000,
      200,
    );
    await run('kubectl apply -f examples/s3-echoer/job.yaml');
    assert.equal((await api('GET', '/apis/batch/v1/namespaces/default/jobs/s3-echoer')).status, 200);
    assert.equal(
      await annotationOf('s3-echoer'),
      ROLE_ARN,
      "applying the Job leaves role create's annotation",
    );
    const pod = await eventually(async () => {
      const pods = await api('GET', '/api/v1/namespaces/default/pods?labelSelector=job-name%3Ds3-echoer');
      return pods.json.items?.[0];
    }, 60_000);
    values.jobPod = pod.metadata.name;
    const container = pod.spec.containers[0];
    const podEnv = Object.fromEntries(
      container.env.map((entry: { name: string; value?: string }) => [entry.name, entry.value]),
    );
    assert.equal(podEnv.AWS_ROLE_ARN, ROLE_ARN, "the webhook mutated the Job's pod");
    const doctor = await run('npx kirsa doctor pod', { aws: true });
    assert.match(doctor.out, /^ ?\d+\. pass {2}pod-mutated /m);
    const mutate = await run('npx kirsa mutate -f examples/s3-echoer/job.yaml');
    const previewed = parseYaml(mutate.out.slice(0, mutate.out.indexOf('\nnext:') + 1 || undefined));
    const previewEnv = Object.fromEntries(
      previewed.spec.template.spec.containers[0].env.map((entry: { name: string; value?: string }) => [
        entry.name,
        entry.value,
      ]),
    );
    assert.deepEqual(previewEnv, podEnv, 'the preview adds the env the webhook added');

    // Every console line either ran or is skipped with its reason, and every skip names a line still there.
    for (const step of steps) {
      assert.ok(
        done.has(step) || Object.keys(SKIPPED).some((prefix) => step.line.startsWith(prefix)),
        `a quick-start line that this test neither runs nor skips: ${step.line}`,
      );
    }
    for (const prefix of Object.keys(SKIPPED))
      assert.ok(
        steps.some((step) => step.line.startsWith(prefix)),
        `SKIPPED names a line the README lost: ${prefix}`,
      );
    t.diagnostic(
      [
        'substituted here:',
        ...SUBSTITUTIONS.map((row) => `  ${row.readme} -> ${row.here}: ${row.why}`),
        `  (here: host ${host}, moto ${moto.endpoint}, pod ${values.jobPod}, kid ${values.kid})`,
        'skipped:',
        ...Object.entries(SKIPPED).map(([line, why]) => `  ${line}: ${why}`),
      ].join('\n'),
    );
  });
});
