// The single executable (tools/sea/build.sh; npm test builds it, cached by its inputs), run as someone who
// downloaded it would: copied alone into an empty folder, with a PATH and a HOME that hold no Node and
// nothing else. From there it must do the first-touch verbs (mutate, issuer init, trust-policy, explain,
// manifests), the doctor against a real kube-apiserver, the whole demo (which starts the webhook, the
// s3-echoer example and `kirsa explain` as children of the executable itself), and the webhook serving a
// real AdmissionReview over TLS.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  type KubeApiserver,
  kubeApiserverUnavailable,
  startKubeApiserver,
} from '../support/kube-apiserver.ts';
import {
  decodeReply,
  envOf,
  httpsCall,
  podReview,
  startServerProcess,
  type WebhookFolder,
  webhookFolder,
} from '../support/webhook-harness.ts';

const ROOT = new URL('../../', import.meta.url);
const manifest = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as { version: string };
const ROLE = 'arn:aws:iam::111122223333:role/sea-test';

/** The executable's path: npm test exports KIRSA_SEA; otherwise ask the build script (it never builds then). */
async function builtExecutable(): Promise<string | undefined> {
  if (process.env.KIRSA_SEA) return process.env.KIRSA_SEA;
  return new Promise((resolve) => {
    execFile('bash', [new URL('tools/sea/build.sh', ROOT).pathname, '--print-env'], (error, stdout) =>
      resolve(error ? undefined : /KIRSA_SEA=(.+)/.exec(stdout)?.[1]?.trim()),
    );
  });
}

// Outside CI an executable that is not built skips these tests with the reason; CI never skips them.
const built = await builtExecutable();
const skip = built
  ? false
  : 'the single executable is not built for these sources: run npm run build:sea (npm test builds it)';
if (skip && process.env.CI === 'true') throw new Error(skip);

let home: string;
let exe: string;
/** The environment of every run: no Node anywhere, and nothing of this test process's. */
let bare: Record<string, string>;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sea(args: string[], env: Record<string, string> = {}, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(exe, args, { cwd: home, env: { ...bare, ...env }, timeout }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  if (skip) return;
  home = await mkdtemp(join(tmpdir(), 'kirsa-sea-'));
  exe = join(home, 'kirsa-linux-x64');
  await copyFile(built!, exe);
  // PATH names an empty folder: a child started as `node` would fail; kirsa must start itself instead.
  await mkdir(join(home, 'bin'));
  bare = { PATH: join(home, 'bin'), HOME: home };
});

after(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

describe('the single executable, alone in an empty folder with no Node', { skip }, () => {
  it('is alone, and answers --version and --help', async () => {
    assert.deepEqual(await readdir(home), ['bin', 'kirsa-linux-x64'].sort());
    assert.deepEqual(await readdir(join(home, 'bin')), []);
    const version = await sea(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), manifest.version);
    const help = await sea(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kirsa/);
  });

  it('mutates a pod as the webhook would', async () => {
    await writeFile(
      join(home, 'pod.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  serviceAccountName: app\n  containers: [{name: main, image: busybox}]\n',
    );
    const run = await sea(['mutate', '-f', 'pod.yaml', '--role-arn', ROLE, '-o', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const pod = JSON.parse(run.stdout) as {
      spec: { containers: { env: { name: string; value: string }[] }[] };
    };
    const env = Object.fromEntries(pod.spec.containers[0]!.env.map((entry) => [entry.name, entry.value]));
    assert.equal(env.AWS_ROLE_ARN, ROLE);
    assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  });

  it('makes an issuer, prints a trust policy and explains a denial', async () => {
    const init = await sea([
      'issuer',
      'init',
      '--issuer-url',
      'https://issuer.example.com/c1',
      '--dir',
      'issuer',
    ]);
    assert.equal(init.code, 0, init.stderr);
    const discovery = JSON.parse(await readFile(join(home, 'issuer/discovery.json'), 'utf8')) as {
      issuer: string;
      jwks_uri: string;
    };
    assert.equal(discovery.issuer, 'https://issuer.example.com/c1');
    const jwks = JSON.parse(await readFile(join(home, 'issuer/keys.json'), 'utf8')) as {
      keys: { kty: string }[];
    };
    assert.equal(jwks.keys[0]?.kty, 'RSA');

    const policy = await sea([
      'trust-policy',
      '--provider-arn',
      'arn:aws:iam::111122223333:oidc-provider/issuer.example.com/c1',
      '--service-account',
      'default/app',
    ]);
    assert.equal(policy.code, 0, policy.stderr);
    await writeFile(join(home, 'policy.json'), policy.stdout);
    const subject = (account: string) => [
      'explain',
      '--policy-file',
      'policy.json',
      '--issuer-url',
      'https://issuer.example.com/c1',
      '--service-account',
      account,
    ];
    const allowed = await sea(subject('app'));
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    const denied = await sea(subject('other'));
    assert.equal(denied.code, 1, denied.stderr);
    assert.match(denied.stdout, /denied/);
  });

  it('prints the install manifests', async () => {
    const run = await sea(['manifests', '--image', 'kirsa:dev', '--tls-mode', 'self-managed']);
    assert.equal(run.code, 0, run.stderr);
    const kinds = parseAllDocuments(run.stdout).map((document) => (document.toJS() as { kind: string }).kind);
    assert.ok(kinds.includes('Deployment'), kinds.join(', '));
    assert.ok(kinds.includes('MutatingWebhookConfiguration'), kinds.join(', '));
  });

  it('runs the whole demo, starting the webhook, the example and explain from itself', async () => {
    const run = await sea(['demo'], {}, 120_000);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /all \d+ steps passed/);
    assert.match(run.stdout, /assumed-role\/s3-echoer\//, 'the example got role credentials');
  });

  describe('the webhook', () => {
    let folder: WebhookFolder;
    before(async () => {
      folder = await webhookFolder('kirsa-sea-webhook-', { 'default/app': { RoleARN: ROLE } });
    });
    after(async () => folder?.cleanup());

    it('serves health and a real AdmissionReview over TLS', async () => {
      const webhook = await startServerProcess(
        [
          exe,
          'webhook',
          '--port',
          '0',
          '--metrics-port',
          '0',
          '--bind-address',
          '127.0.0.1',
          // No drain wait on stop: nothing else calls this webhook.
          '--shutdown-drain-delay',
          '0s',
          ...folder.flags,
        ],
        { ...bare },
      );
      try {
        const health = await httpsCall(webhook.port, {
          ca: folder.cert.caPem,
          method: 'GET',
          path: '/healthz',
        });
        assert.equal(health.status, 200);
        const answer = await httpsCall(webhook.port, {
          ca: folder.cert.caPem,
          body: podReview({ uid: 'sea-1' }),
        });
        assert.equal(answer.status, 200);
        const reply = decodeReply(answer.body);
        assert.equal(reply.response.uid, 'sea-1');
        assert.equal(reply.response.allowed, true);
        assert.equal(envOf(reply.patch).AWS_ROLE_ARN, ROLE);
        assert.equal(await webhook.stop(), 0, webhook.stderr());
      } finally {
        await webhook.stop();
      }
    });
  });

  describe('the doctor, against a real kube-apiserver', () => {
    let kube: KubeApiserver | undefined;
    let missing: string | false = false;
    before(async () => {
      missing = (await kubeApiserverUnavailable()) ?? false;
      if (missing) return;
      kube = await startKubeApiserver();
      const created = await kube.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'app', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
      });
      assert.equal(created.status, 201);
    });
    after(async () => kube?.stop());

    it('reads the service account through the API server and names what is missing', async (t) => {
      if (missing) return t.skip(missing);
      const run = await sea([
        'doctor',
        'sa',
        'app',
        '-n',
        'default',
        '--kubeconfig',
        kube!.kubeconfigPath,
        '--no-aws',
        '-o',
        'json',
      ]);
      assert.ok(run.code === 1 || run.code === 3, `exit ${run.code}: ${run.stderr}`);
      const { checks } = JSON.parse(run.stdout) as {
        checks: { id: string; status: string; reason: string }[];
      };
      const passed = checks.filter((check) => check.status === 'pass').map((check) => check.id);
      const failed = checks.filter((check) => check.status === 'fail').map((check) => check.id);
      assert.ok(passed.length > 0, JSON.stringify(checks, null, 1));
      assert.ok(failed.length > 0, 'no webhook is installed in this cluster, so something must fail');
      assert.ok(
        checks.some((check) => check.reason.includes(ROLE)),
        `the annotated role read from the API server appears: ${JSON.stringify(checks, null, 1)}`,
      );
    });
  });
});
