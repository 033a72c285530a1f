// The kirsa image, built by tools/image/build.sh from the repository's own Dockerfile (npm test builds it),
// run by a real OCI runtime (runc) the way a kubelet runs a strict pod: the user the image names (65532),
// a read-only root filesystem, no capabilities, no new privileges, the TLS pair and the identities mounted
// read-only. Twice:
// - the image's entrypoint with kirsa's chart-style args (`webhook --tls-cert=/etc/kirsa/tls/...`), in this
//   machine's network namespace, listening on loopback only;
// - `/webhook` with the reference webhook's deploy/ flags and its port 443, in a network namespace the test
//   makes (only `lo` in it), where 443 is unprivileged through the net.ipv4.ip_unprivileged_port_start
//   sysctl, as a pod's securityContext.sysctls would set it.
// Each serves /healthz, /readyz and a real AdmissionReview over TLS, and stops cleanly on SIGTERM.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type SuiteContext, type TestContext } from 'node:test';
import { imageEnvironment, imageNodeFlags } from '../../bench/webhook-process.ts';
import { WEBHOOK_ON_LOOPBACK } from '../support/run-kirsa.ts';
import {
  decodeReply,
  envOf,
  httpsCall,
  podReview,
  startServerProcess,
  type WebhookFolder,
  type WebhookProcess,
  webhookFolder,
} from '../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/image-test';
const NONROOT = 65532;
const repositoryRoot = new URL('../../', import.meta.url);
const packageJson = JSON.parse(readFileSync(new URL('package.json', repositoryRoot), 'utf8')) as {
  version: string;
  license: string;
};

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
}

interface Image {
  oci: string;
  bundle: string;
  config: ImageConfig;
  /** The OCI runtime config umoci derived from the image config. */
  runtimeConfig: RuntimeConfig;
}

// The parts of an OCI runtime config.json the test reads or changes.
interface RuntimeConfig {
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: Record<string, string[]>;
    noNewPrivileges?: boolean;
  };
  root: { path: string; readonly?: boolean };
  mounts: Array<{ destination: string; type: string; source: string; options?: string[] }>;
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    sysctl?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * The built image, or undefined after marking the test skipped: outside CI a machine that cannot build or
 * run it skips with the reason; in CI (where npm test builds it) a missing part fails.
 */
function imageOrSkip(t: TestContext | SuiteContext): Image | undefined {
  const why = missing();
  if (why !== undefined) {
    if (process.env.CI === 'true') throw new Error(why);
    if ('skip' in t) t.skip(why);
    return undefined;
  }
  const oci = process.env.KIRSA_IMAGE_OCI!;
  const bundle = process.env.KIRSA_IMAGE_BUNDLE!;
  const blob = (digest: string) => {
    const [algorithm, hex] = digest.split(':');
    return JSON.parse(readFileSync(join(oci, 'blobs', algorithm!, hex!), 'utf8'));
  };
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = blob(index.manifests[0].digest);
  return {
    oci,
    bundle,
    config: blob(manifest.config.digest).config as ImageConfig,
    runtimeConfig: JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeConfig,
  };
}

function missing(): string | undefined {
  if (!process.env.KIRSA_IMAGE_BUNDLE || !process.env.KIRSA_IMAGE_OCI) {
    // scripts/test-all.sh passes on why tools/image/build.sh could not build it.
    const why = process.env.KIRSA_IMAGE_UNAVAILABLE ?? 'KIRSA_IMAGE_BUNDLE is not set';
    return `${why}: run the tests with npm test (which builds the image), or tools/image/build.sh`;
  }
  if (process.getuid?.() !== 0) return 'running the image with runc needs root (CI runs as root)';
  for (const tool of ['runc', 'ip', 'nsenter']) {
    if (spawnSync(tool, ['--version']).error)
      return `${tool} is not installed (tools/image/build.sh installs runc)`;
  }
  return undefined;
}

interface Container {
  id: string;
  webhook: WebhookProcess;
  /** The container's first process, as the host sees it. */
  pid: number;
  stop(): Promise<number | null>;
}

interface RunOptions {
  name: string;
  args: string[];
  mounts: RuntimeConfig['mounts'];
  /** A network namespace to join (a path under /run/netns); without it the host's. */
  netns?: string;
  sysctl?: Record<string, string>;
}

let stateDir: string;

/**
 * Runs the image as a strict pod would: umoci's config (the image's user, env, working folder) with no
 * capabilities, no new privileges and a read-only root, the given args and mounts added.
 */
async function runContainer(image: Image, options: RunOptions): Promise<Container> {
  const base = image.runtimeConfig;
  const none = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  const namespaces = base.linux.namespaces.filter((namespace) => namespace.type !== 'network');
  if (options.netns) namespaces.push({ type: 'network', path: options.netns });
  const config: RuntimeConfig = {
    ...base,
    process: {
      ...base.process,
      terminal: false,
      args: options.args,
      capabilities: none,
      noNewPrivileges: true,
    },
    root: { path: join(image.bundle, 'rootfs'), readonly: true },
    mounts: [...base.mounts, ...options.mounts],
    linux: { ...base.linux, namespaces, ...(options.sysctl ? { sysctl: options.sysctl } : {}) },
  };
  const bundleDir = await mkdtemp(join(tmpdir(), `kirsa-image-${options.name}-`));
  await writeFile(join(bundleDir, 'config.json'), JSON.stringify(config, null, 2));
  const id = `kirsa-image-${process.pid}-${options.name}`;
  const runc = (...args: string[]) => spawnSync('runc', ['--root', stateDir, ...args], { encoding: 'utf8' });
  let webhook: WebhookProcess;
  try {
    webhook = await startServerProcess(['runc', '--root', stateDir, 'run', '--bundle', bundleDir, id]);
  } catch (error) {
    runc('delete', '--force', id);
    await rm(bundleDir, { recursive: true, force: true });
    throw error;
  }
  return {
    id,
    webhook,
    pid: JSON.parse(runc('state', id).stdout).pid as number,
    async stop() {
      // As a kubelet does: SIGTERM to the container's first process, SIGKILL if it has not exited in time.
      runc('kill', id, 'TERM');
      const timer = setTimeout(() => runc('kill', id, 'KILL'), 20_000);
      const code = await webhook.exited;
      clearTimeout(timer);
      runc('delete', '--force', id);
      await rm(bundleDir, { recursive: true, force: true });
      return code;
    },
  };
}

function readOnlyBind(source: string, destination: string): RuntimeConfig['mounts'][number] {
  return { destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
}

/** A serving pair and identities file owned by the container's user, as a Secret volume with fsGroup is. */
async function folderForTheContainer(prefix: string): Promise<WebhookFolder> {
  const folder = await webhookFolder(prefix, { 'default/app': { RoleARN: ROLE } });
  for (const name of ['', 'tls.crt', 'tls.key', 'identities.json']) {
    await chown(join(folder.dir, name), NONROOT, NONROOT);
  }
  return folder;
}

/** What the host sees of a process: its user ids, effective capabilities and root mount options. */
function processFacts(pid: number): { uids: string; capEff: string; rootReadOnly: boolean } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[4] === '/');
  return {
    uids: field('Uid').split(/\s+/).join(' '),
    capEff: field('CapEff'),
    rootReadOnly: (rootMount?.[5] ?? '').split(',').includes('ro'),
  };
}

function assertStrict(pid: number): void {
  const facts = processFacts(pid);
  assert.equal(
    facts.uids,
    `${NONROOT} ${NONROOT} ${NONROOT} ${NONROOT}`,
    'runs as 65532 (real, effective, saved, fs)',
  );
  assert.equal(facts.capEff, '0000000000000000', 'no effective capabilities');
  assert.equal(facts.rootReadOnly, true, 'the root filesystem is mounted read-only');
}

/**
 * The container's first process is node itself (the script exec'd it, so it gets the runtime's signals),
 * running `entry` with the flags and environment bench/webhook-process.ts reads from the Dockerfile: the benchmarks measure
 * the webhook as this image runs it, so the image must run it that way.
 */
function assertNodeFlags(pid: number, entry: 'kirsa' | 'webhook'): void {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const script = argv.indexOf(`/app/bin/${entry}.js`);
  assert.equal(argv[0], 'node', `the first process is node: ${argv.join(' ')}`);
  assert.ok(script > 0, `node runs /app/bin/${entry}.js: ${argv.join(' ')}`);
  const nodeOptions = environ.find((line) => line.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length);
  const flags = [...argv.slice(1, script), ...(nodeOptions ?? '').split(/\s+/).filter(Boolean)];
  assert.deepEqual(flags.sort(), [...imageNodeFlags()].sort());
  // README's Performance section and docs/webhook.md describe the webhook running V8 no further than Maglev.
  assert.ok(flags.includes('--max-opt=2'), `node runs with --max-opt=2: ${flags.join(' ')}`);
  // ...and glibc's malloc with the fixed mmap threshold and no top pad the memory figures were measured with.
  const expected = imageEnvironment();
  assert.equal(expected.MALLOC_MMAP_THRESHOLD_, '32768');
  assert.equal(expected.MALLOC_TOP_PAD_, '0');
  for (const [name, value] of Object.entries(expected))
    assert.ok(environ.includes(`${name}=${value}`), `node's environment has ${name}=${value}`);
}

function assertMutated(body: string, uid: string): void {
  const reply = decodeReply(body);
  assert.equal(reply.response.uid, uid);
  assert.equal(reply.response.allowed, true);
  assert.equal(envOf(reply.patch).AWS_ROLE_ARN, ROLE);
}

before(() => {
  stateDir = join(tmpdir(), `kirsa-image-runc-${process.pid}`);
});

after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('the image', () => {
  it('names its user, its entrypoint and the OCI labels, and carries no npm', (t) => {
    const image = imageOrSkip(t);
    if (!image) return;
    assert.equal(image.config.User, `${NONROOT}:${NONROOT}`);
    assert.deepEqual(image.config.Entrypoint, ['kirsa']);
    assert.deepEqual(image.config.Cmd, ['webhook']);
    const labels = image.config.Labels ?? {};
    assert.equal(labels['org.opencontainers.image.version'], packageJson.version);
    assert.equal(labels['org.opencontainers.image.licenses'], packageJson.license);
    assert.match(
      labels['org.opencontainers.image.source'] ?? '',
      /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/,
    );
    // The commit the image was built at (a later commit with the same image inputs reuses it); a copy of
    // the sources without git history has none to give.
    const inGit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repositoryRoot }).status === 0;
    assert.match(labels['org.opencontainers.image.revision'] ?? '', inGit ? /^[0-9a-f]{40}$/ : /^$/);
    // umoci turned USER into the runtime user: what a kubelet would run without runAsUser.
    assert.deepEqual(
      [image.runtimeConfig.process.user.uid, image.runtimeConfig.process.user.gid],
      [NONROOT, NONROOT],
    );
    const rootfs = join(image.bundle, 'rootfs');
    for (const gone of [
      'usr/local/bin/npm',
      'usr/local/bin/npx',
      'usr/local/bin/corepack',
      'usr/local/lib/node_modules',
    ]) {
      assert.equal(existsSync(join(rootfs, gone)), false, `${gone} is not in the runtime image`);
    }
    // /webhook and the entrypoint start node with the flags NODE_OPTIONS may not carry (checked running, below).
    for (const [script, entry] of [
      ['webhook', 'webhook'],
      ['usr/local/bin/kirsa', 'kirsa'],
    ] as const) {
      const text = readFileSync(join(rootfs, script), 'utf8');
      assert.ok(
        text.startsWith('#!/bin/sh\nexec node '),
        `${script} is a shell script that execs node: ${text}`,
      );
      assert.ok(text.endsWith(` /app/bin/${entry}.js "$@"\n`), `${script} passes its arguments on: ${text}`);
    }
    assert.equal(existsSync(join(rootfs, 'app/dist/src/cli/main.js')), true, 'the compiled CLI is there');
    assert.equal(existsSync(join(rootfs, 'app/src')), false, 'no TypeScript sources');
  });

  describe('its entrypoint with the chart-style args, on loopback', () => {
    let image: Image | undefined;
    let folder: WebhookFolder;
    let container: Container | undefined;

    before(async (t) => {
      image = imageOrSkip(t);
      if (!image) return;
      folder = await folderForTheContainer('kirsa-image-entrypoint-');
      container = await runContainer(image, {
        name: 'entrypoint',
        // Kubernetes `args` replace the image's Cmd and keep its Entrypoint, as the chart's do.
        args: [
          ...(image.config.Entrypoint ?? []),
          'webhook',
          ...WEBHOOK_ON_LOOPBACK,
          '--tls-cert=/etc/kirsa/tls/tls.crt',
          '--tls-key=/etc/kirsa/tls/tls.key',
          '--identities-file=/etc/kirsa/tls/identities.json',
          '--namespace=kirsa',
          '--annotation-prefix=eks.amazonaws.com',
          '--token-audience=sts.amazonaws.com',
        ],
        mounts: [readOnlyBind(folder.dir, '/etc/kirsa/tls')],
      });
    });

    after(async () => {
      if (container && container.webhook.child.exitCode === null) await container.stop();
      await folder?.cleanup();
    });

    it("runs as 65532 with no capabilities on a read-only root, node with the image's flags", (t) => {
      if (!container) return t.skip('no image');
      assertStrict(container.pid);
      assertNodeFlags(container.pid, 'kirsa');
    });

    it('answers /healthz, /readyz and an AdmissionReview over TLS', async (t) => {
      if (!container) return t.skip('no image');
      const port = container.webhook.port;
      for (const path of ['/healthz', '/readyz']) {
        const answer = await httpsCall(port, { ca: folder.cert.caPem, method: 'GET', path });
        assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      }
      const uid = crypto.randomUUID();
      const answer = await httpsCall(port, { ca: folder.cert.caPem, body: podReview({ uid }) });
      assert.equal(answer.status, 200);
      assertMutated(answer.body, uid);
    });

    it('exits 0 on SIGTERM', async (t) => {
      if (!container) return t.skip('no image');
      assert.equal(await container.stop(), 0);
    });
  });

  describe('/webhook with the reference deploy/ flags, on port 443 in its own network namespace', () => {
    let image: Image | undefined;
    let folder: WebhookFolder;
    let container: Container | undefined;
    const netnsName = `kirsa-image-${process.pid}`;
    let netnsMade = false;

    /** An HTTPS call from inside the namespace (a Node child entered with nsenter), on loopback. */
    function callInside(request: { path: string; method: string; body?: string }): {
      status: number;
      body: string;
    } {
      const code = `
        const p = JSON.parse(process.env.CALL);
        const req = require('node:https').request(
          { host: '127.0.0.1', port: 443, path: p.path, method: p.method, ca: p.ca,
            headers: p.body ? { 'Content-Type': 'application/json' } : {} },
          (res) => { let b = ''; res.setEncoding('utf8'); res.on('data', (c) => { b += c; });
            res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b }))); });
        req.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });
        req.end(p.body);`;
      const result = spawnSync(
        'nsenter',
        [`--net=/run/netns/${netnsName}`, '--', process.execPath, '-e', code],
        {
          env: { ...process.env, CALL: JSON.stringify({ ...request, ca: folder.cert.caPem }) },
          encoding: 'utf8',
          timeout: 15_000,
        },
      );
      assert.equal(result.status, 0, `call inside the namespace failed: ${result.stderr}`);
      return JSON.parse(result.stdout);
    }

    before(async (t) => {
      image = imageOrSkip(t);
      if (!image) return;
      execFileSync('ip', ['netns', 'add', netnsName]);
      netnsMade = true;
      execFileSync('ip', ['-n', netnsName, 'link', 'set', 'lo', 'up']);
      folder = await folderForTheContainer('kirsa-image-reference-');
      container = await runContainer(image, {
        name: 'reference',
        args: [
          // The command of amazon-eks-pod-identity-webhook's deploy/deployment-base.yaml, as written there...
          '/webhook',
          '--in-cluster=false',
          '--namespace=default',
          '--service-name=pod-identity-webhook',
          '--annotation-prefix=eks.amazonaws.com',
          '--token-audience=sts.amazonaws.com',
          '--logtostderr',
          // ...with the reference's default port said out loud, and the mapping from a file (no cluster here).
          '--port=443',
          '--identities-file=/etc/webhook/certs/identities.json',
        ],
        // The reference's certificate volume: --tls-cert/--tls-key default to these files.
        mounts: [readOnlyBind(folder.dir, '/etc/webhook/certs')],
        netns: `/run/netns/${netnsName}`,
        sysctl: { 'net.ipv4.ip_unprivileged_port_start': '443' },
      });
    });

    after(async () => {
      if (container && container.webhook.child.exitCode === null) await container.stop();
      await folder?.cleanup();
      if (netnsMade) spawnSync('ip', ['netns', 'delete', netnsName]);
    });

    it("listens on 443 as 65532 with no capabilities on a read-only root, node with the image's flags", (t) => {
      if (!container) return t.skip('no image');
      assert.equal(container.webhook.port, 443);
      assertStrict(container.pid);
      assertNodeFlags(container.pid, 'webhook');
    });

    it('answers /healthz, /readyz and an AdmissionReview over TLS', (t) => {
      if (!container) return t.skip('no image');
      for (const path of ['/healthz', '/readyz']) {
        const answer = callInside({ method: 'GET', path });
        assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      }
      const uid = crypto.randomUUID();
      const answer = callInside({ method: 'POST', path: '/mutate?timeout=10s', body: podReview({ uid }) });
      assert.equal(answer.status, 200);
      assertMutated(answer.body, uid);
    });

    it('exits 0 on SIGTERM', async (t) => {
      if (!container) return t.skip('no image');
      assert.equal(await container.stop(), 0);
    });
  });
});
