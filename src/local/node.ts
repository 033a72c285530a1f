// A one-node cluster on this machine, for the node tier of the tests: the local control plane
// (kube-apiserver and etcd) plus kube-controller-manager, kube-scheduler, containerd (with runc and the CNI
// bridge plugin) and a kubelet, all built by tools/realparts/build.sh. Pods really run: the kubelet mounts
// their volumes and writes their projected service-account tokens, so tests read what a kubelet does
// instead of a model of it.
//
// Everything a run makes is its own and is removed by stop(): a folder under /tmp (containerd's root and
// state, the kubelet's root, pod logs, the CNI state), a bridge with a /24 of 10.200.0.0/16 (the node's
// address is the bridge's gateway address, so all traffic stays on this machine), and a cgroup root
// (`/kirsa-<id>` in every hierarchy) under which the kubelet puts all pods. It needs root: a kubelet mounts
// tmpfs volumes, makes cgroups and network namespaces.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KirsaError } from '../errors.ts';
import { parseMountinfo } from '../io/mountinfo.ts';
import { createCertificateAuthority, issueClientCertificate } from '../tls/certificates.ts';
import { type KubeApiserver, type KubeApiserverOptions, startKubeApiserver } from './control-plane.ts';
import { ChildOutput, exitedDuringStart, freePort, startWithFreshPorts, stopProcess } from './processes.ts';

const run = promisify(execFile);
const NODE_READY_TIMEOUT_MS = 120_000;
/** The user the API server presents to the kubelet (`kubectl logs`, `exec`), as kubeadm names it. */
const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** The binaries and images the node needs: the KIRSA_* names tools/realparts/build.sh --print-env sets. */
export interface NodeParts {
  kubelet: string;
  controllerManager: string;
  scheduler: string;
  kubeProxy: string;
  containerd: string;
  ctr: string;
  cniBinDir: string;
  ociRuntime: string;
  pauseImage: string;
  pauseArchive: string;
  /** Further OCI archives to import (e.g. the probe image), by image name. */
  images: Record<string, string>;
}

const PART_VARIABLES = {
  kubelet: 'KIRSA_KUBELET',
  controllerManager: 'KIRSA_KUBE_CONTROLLER_MANAGER',
  scheduler: 'KIRSA_KUBE_SCHEDULER',
  kubeProxy: 'KIRSA_KUBE_PROXY',
  containerd: 'KIRSA_CONTAINERD',
  ctr: 'KIRSA_CTR',
  cniBinDir: 'KIRSA_CNI_BIN_DIR',
  ociRuntime: 'KIRSA_OCI_RUNTIME',
  pauseImage: 'KIRSA_PAUSE_IMAGE',
  pauseArchive: 'KIRSA_PAUSE_ARCHIVE',
} as const;

/**
 * The node parts from the environment (npm test exports them), or why the node cannot start here: a part
 * not built, or not running as root.
 */
export function nodeParts(
  env: NodeJS.ProcessEnv = process.env,
): NodeParts | { missing: string; needsRoot?: true } {
  const found: Partial<Record<keyof typeof PART_VARIABLES, string>> = {};
  const absent: string[] = [];
  for (const [field, variable] of Object.entries(PART_VARIABLES)) {
    const value = env[variable];
    if (value) found[field as keyof typeof PART_VARIABLES] = value;
    else absent.push(variable);
  }
  if (absent.length > 0) {
    const why = env.KIRSA_NODE_PARTS_MISSING ? ` (not built: ${env.KIRSA_NODE_PARTS_MISSING})` : '';
    return {
      missing: `${absent.join(', ')} not set${why}: run the tests with npm test, or tools/realparts/build.sh`,
    };
  }
  if (process.getuid?.() !== 0)
    return { missing: 'the node tier needs root (a kubelet mounts and makes cgroups)', needsRoot: true };
  const images: Record<string, string> = {};
  if (env.KIRSA_PROBE_IMAGE && env.KIRSA_PROBE_ARCHIVE)
    images[env.KIRSA_PROBE_IMAGE] = env.KIRSA_PROBE_ARCHIVE;
  return { ...(found as Omit<NodeParts, 'images'>), images };
}

export interface LocalNodeOptions {
  /** Passed to the control plane; the node adds its own users, authorizers and admission plugins. */
  controlPlane?: KubeApiserverOptions;
  /** Extra KubeletConfiguration fields. */
  kubeletConfig?: Record<string, unknown>;
  /**
   * Run kube-proxy, so that pods reach Services by their cluster IP: above all the `kubernetes` Service,
   * which in-cluster clients (the webhook installed by its chart) use. Its iptables chains are the
   * machine's, not the run's (KUBE-SERVICES and the rest have fixed names), so only one node with a proxy
   * may run on a machine at a time; stop() removes them.
   */
  serviceProxy?: boolean;
}

export interface LocalNode {
  kube: KubeApiserver;
  nodeName: string;
  /** The node's address: the gateway address of its bridge. */
  nodeIp: string;
  /** The kubelet's --root-dir: pods' volumes are under pods/<uid>/volumes. */
  kubeletRoot: string;
  /** The kubelet's pod log folder: <namespace>_<pod>_<uid>/<container>/<restart>.log. */
  podLogsDir: string;
  dir: string;
  /**
   * Imports an OCI image layout folder (e.g. tools/image's oci/) into the node's containerd. Its
   * manifests carry only a tag (org.opencontainers.image.ref.name), so the image is named
   * `<repository>:<tag>`; that name is returned, for pods with imagePullPolicy Never.
   */
  importOciLayout(layoutDir: string, repository: string): Promise<string>;
  /** What a container wrote, from the kubelet's log files (CRI lines stripped to their text). */
  containerLog(pod: { namespace: string; name: string; uid: string }, container: string): Promise<string>;
  /** The folder of a container's log files on the node. */
  containerLogDir(pod: { namespace: string; name: string; uid: string }, container: string): string;
  output(): string;
  stop(): Promise<void>;
}

function toml(config: Record<string, unknown>, prefix = ''): string {
  const scalars: string[] = [];
  const tables: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const name = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      tables.push(toml(value as Record<string, unknown>, prefix ? `${prefix}.${name}` : name));
    } else scalars.push(`${name} = ${JSON.stringify(value)}`);
  }
  const head = prefix && scalars.length > 0 ? `[${prefix}]\n` : '';
  return [scalars.length > 0 ? `${head}${scalars.join('\n')}\n` : '', ...tables].join('');
}

/** A /24 of 10.200.0.0/16 that no interface of this machine uses yet. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = 1 + Math.floor(Math.random() * 254);
    if (!stdout.includes(` 10.200.${third}.`)) return third;
  }
  throw new Error('no free /24 in 10.200.0.0/16 for the node bridge');
}

/** Mount points at or under `dir`, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const points = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))
    .map((mount) => mount.mountPoint)
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Processes whose command line names `dir` (the containerd shims a run started). */
async function processesNaming(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Every cgroup folder of the run's cgroup root, in every v1 hierarchy (or the v2 tree), deepest first. */
async function cgroupsUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) await walk(join(path, entry.name));
    found.push(path);
  };
  const hierarchies = await readdir('/sys/fs/cgroup', { withFileTypes: true });
  const isV2 = hierarchies.some((entry) => entry.name === 'cgroup.controllers');
  if (isV2) await walk(join('/sys/fs/cgroup', root));
  else for (const h of hierarchies) if (h.isDirectory()) await walk(join('/sys/fs/cgroup', h.name, root));
  return found.sort((a, b) => b.length - a.length);
}

/**
 * The kubelet adds iptables chains of its own (a canary that tells it when the rules were flushed, and
 * KUBE-FIREWALL, which drops packets to 127.0.0.0/8 from other sources). They are the machine's, not the
 * run's, so they go when the node stops. (A second node still running here adds them again: its kubelet
 * watches its canary.)
 */
async function removeKubeletChains(): Promise<void> {
  const steps: Array<[string, string[]]> = [
    ['filter', ['-D', 'INPUT', '-j', 'KUBE-FIREWALL']],
    ['filter', ['-D', 'OUTPUT', '-j', 'KUBE-FIREWALL']],
    ['filter', ['-F', 'KUBE-FIREWALL']],
    ['filter', ['-X', 'KUBE-FIREWALL']],
    ['filter', ['-X', 'KUBE-KUBELET-CANARY']],
    ['mangle', ['-X', 'KUBE-KUBELET-CANARY']],
    ['mangle', ['-X', 'KUBE-IPTABLES-HINT']],
    ['nat', ['-X', 'KUBE-KUBELET-CANARY']],
  ];
  for (const tool of ['iptables', 'ip6tables'])
    for (const [table, args] of steps) await run(tool, ['-w', '-t', table, ...args]).catch(() => undefined);
}

async function makeCgroupRoot(root: string): Promise<void> {
  const hierarchies = await readdir('/sys/fs/cgroup', { withFileTypes: true });
  if (hierarchies.some((entry) => entry.name === 'cgroup.controllers')) {
    await mkdir(join('/sys/fs/cgroup', root), { recursive: true });
    return;
  }
  for (const h of hierarchies) {
    if (!h.isDirectory()) continue;
    const path = join('/sys/fs/cgroup', h.name, root);
    await mkdir(path, { recursive: true });
    if (h.name.split(',').includes('cpuset'))
      for (const file of ['cpuset.cpus', 'cpuset.mems'])
        await writeFile(join(path, file), await readFile(join('/sys/fs/cgroup', h.name, file), 'utf8'));
  }
}

/**
 * Starts the one-node cluster; started again from nothing (new ports, names and folder) when a child lost a
 * port freePort found to another process before binding it, as startKubeApiserver does for its own.
 */
export function startLocalNode(parts: NodeParts, options: LocalNodeOptions = {}): Promise<LocalNode> {
  return startWithFreshPorts(() => startLocalNodeOnce(parts, options));
}

async function startLocalNodeOnce(parts: NodeParts, options: LocalNodeOptions): Promise<LocalNode> {
  const id = randomBytes(3).toString('hex');
  const nodeName = `kirsa-node-${id}`;
  const bridge = `kirsa${id}`;
  const cgroupRoot = `/kirsa-${id}`;
  // Short: containerd's socket path must fit in a sockaddr_un (108 bytes) with its suffixes.
  const dir = await mkdtemp('/tmp/kn-');
  const children: ChildProcess[] = [];
  const output = new ChildOutput(400_000);
  const start = (name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    children.push(child);
    output.collect(name, child);
    return child;
  };

  let kube: KubeApiserver | undefined;
  let bridgeMade = false;
  let cgroupMade = false;
  let kubeletStarted = false;
  let proxyStarted = false;
  const stop = async () => {
    // Pods first, through the kubelet, so it tears down their containers, network and volumes itself.
    if (kube && children.some((child) => child.exitCode === null)) {
      try {
        const pods = await kube.request('GET', '/api/v1/pods');
        for (const pod of pods.json?.items ?? [])
          await kube.request(
            'DELETE',
            `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}?gracePeriodSeconds=0`,
          );
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const left = await kube.request('GET', '/api/v1/pods');
          if ((left.json?.items ?? []).length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      } catch {
        // the control plane is gone; the sweep below still cleans up
      }
    }
    // Shims listen on /run/containerd/s/<sha256 of "<containerd socket>/<namespace>/<task id>">, outside
    // the run's folder; a shim killed below leaves its socket file, so those names are worked out first.
    const taskDir = join(dir, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'k8s.io');
    const shimSockets = (await readdir(taskDir).catch(() => [] as string[])).map(
      (task) =>
        `/run/containerd/s/${createHash('sha256')
          .update(join(dir, 'containerd.sock'), 'utf8')
          .update(`/k8s.io/${task}`)
          .digest('hex')}`,
    );
    for (const child of [...children].reverse()) await stopProcess(child, 10_000);
    // What may outlive containerd: its shims and the containers' processes, all named by the run's folder
    // or inside its cgroup root.
    const cgroups = cgroupMade ? await cgroupsUnder(cgroupRoot) : [];
    const pids = new Set(await processesNaming(dir));
    for (const cgroup of cgroups) {
      for (const pid of (await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean))
        pids.add(Number(pid));
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (pids.size > 0) await new Promise((resolve) => setTimeout(resolve, 500));
    for (const point of await mountsUnder(dir)) await run('umount', ['-l', point]).catch(() => undefined);
    for (const cgroup of cgroups) await rmdir(cgroup).catch(() => undefined);
    for (const socketFile of shimSockets) await rm(socketFile, { force: true });
    // The kubelet links every container's log into /var/log/containers, a fixed path; the links that
    // point into this run's folder are this run's.
    for (const link of await readdir('/var/log/containers').catch(() => [] as string[])) {
      const path = join('/var/log/containers', link);
      if ((await readlink(path).catch(() => '')).startsWith(`${dir}/`)) await rm(path, { force: true });
    }
    if (bridgeMade) await run('ip', ['link', 'delete', bridge]).catch(() => undefined);
    if (kubeletStarted) await removeKubeletChains();
    // kube-proxy's own clean-up mode removes every chain and rule it adds.
    if (proxyStarted) await run(parts.kubeProxy, ['--cleanup']).catch(() => undefined);
    await kube?.stop();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    const third = await freeSubnet();
    const nodeIp = `10.200.${third}.1`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    bridgeMade = true;
    await run('ip', ['addr', 'add', `${nodeIp}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);

    const nodeUser = `system:node:${nodeName}`;
    // `kubectl logs` and `exec` go through the API server to the kubelet, which (anonymous access off) wants
    // a client certificate from a CA it trusts, and asks the API server whether that user may use its API.
    const kubeletClients = await createCertificateAuthority({
      commonName: `kirsa-node kubelet clients ${nodeName}`,
    });
    const apiserverClient = await issueClientCertificate(kubeletClients, { commonName: KUBELET_CLIENT_USER });
    const kubeletClientCaFile = join(dir, 'kubelet-client-ca.crt');
    await writeFile(kubeletClientCaFile, kubeletClients.certPem);
    await writeFile(join(dir, 'apiserver-kubelet-client.crt'), apiserverClient.certPem);
    await writeFile(join(dir, 'apiserver-kubelet-client.key'), apiserverClient.keyPem, { mode: 0o600 });
    kube = await startKubeApiserver({
      ...options.controlPlane,
      // On the bridge, so pods reach it (through the `kubernetes` Service when kube-proxy runs).
      address: nodeIp,
      users: {
        ...options.controlPlane?.users,
        [nodeUser]: ['system:nodes'],
        'system:kube-controller-manager': [],
        'system:kube-scheduler': [],
        // Bound to system:node-proxier by the API server's bootstrap policy.
        'system:kube-proxy': [],
      },
      // The node authorizer and NodeRestriction are what limit a real kubelet: it may only request tokens
      // for the service accounts of pods bound to its node.
      authorizationModes: ['Node', 'RBAC'],
      extraArgs: [
        '--enable-admission-plugins=NodeRestriction',
        `--kubelet-client-certificate=${join(dir, 'apiserver-kubelet-client.crt')}`,
        `--kubelet-client-key=${join(dir, 'apiserver-kubelet-client.key')}`,
        // The node's name is not in any DNS here; its address on the bridge is.
        '--kubelet-preferred-address-types=InternalIP',
        ...(options.controlPlane?.extraArgs ?? []),
      ],
    });
    // The bootstrap policy's role for the kubelet's API, as kubeadm binds it for its API server.
    const binding = await kube.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kirsa-node:apiserver-kubelet-client' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:kubelet-api-admin',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBELET_CLIENT_USER }],
    });
    if (binding.status !== 201)
      throw new Error(`could not bind system:kubelet-api-admin for the API server (${binding.status})`);

    // containerd, with the CRI plugin set up for this run only.
    const containerdDir = join(dir, 'containerd');
    const socket = join(dir, 'containerd.sock');
    const cniConfDir = join(dir, 'cni', 'net.d');
    await mkdir(cniConfDir, { recursive: true });
    const runtimes = {
      runc: {
        runtime_type: 'io.containerd.runc.v2',
        options: { BinaryName: parts.ociRuntime, SystemdCgroup: false },
      },
    };
    await writeFile(
      join(dir, 'containerd.toml'),
      toml({
        version: 3,
        root: join(containerdDir, 'root'),
        state: join(containerdDir, 'state'),
        // NRI would listen on a fixed path shared with any other containerd on the machine.
        disabled_plugins: ['io.containerd.nri.v1.nri'],
        grpc: { address: socket },
        ttrpc: { address: `${socket}.ttrpc` },
        plugins: {
          'io.containerd.cri.v1.images': {
            snapshotter: 'overlayfs',
            pinned_images: { sandbox: parts.pauseImage },
          },
          'io.containerd.cri.v1.runtime': {
            containerd: { default_runtime_name: 'runc', runtimes },
            cni: { bin_dirs: [parts.cniBinDir], conf_dir: cniConfDir, max_conf_num: 1 },
            // Sandboxes ask for oom_score_adj -998, and lowering it needs CAP_SYS_RESOURCE, which some
            // machines (this one: a VM whose bounding set lacks it) do not grant even to root. Clamped
            // to containerd's own value, pods start everywhere; only their OOM ranking differs.
            restrict_oom_score_adj: true,
          },
          'io.containerd.grpc.v1.cri': { stream_server_address: '127.0.0.1', stream_server_port: '0' },
        },
      }),
    );
    const containerdBinDir = parts.containerd.slice(0, parts.containerd.lastIndexOf('/'));
    const containerdChild = start(
      'containerd',
      parts.containerd,
      ['--config', join(dir, 'containerd.toml')],
      {
        ...process.env,
        // containerd finds its shim on PATH.
        PATH: `${containerdBinDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      },
    );
    const ctr = (...args: string[]) =>
      run(parts.ctr, ['--address', socket, '--namespace', 'k8s.io', ...args]);
    const containerdDeadline = Date.now() + 30_000;
    for (;;) {
      if (containerdChild.exitCode !== null)
        throw exitedDuringStart('containerd', containerdChild, output, 4000);
      try {
        await ctr('version');
        break;
      } catch {
        if (Date.now() > containerdDeadline)
          throw new Error(`containerd not up in 30 s:\n${output.text(4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    for (const archive of [parts.pauseArchive, ...Object.values(parts.images)])
      await ctr('images', 'import', archive);

    // The pod network: the bridge made above, addresses from its /24, no masquerading (nothing leaves it).
    await writeFile(
      join(cniConfDir, '10-kirsa.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'kirsa',
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: `10.200.${third}.0/24`, gateway: nodeIp }]],
              // Everything through the node, as on any cluster: Service addresses (kube-proxy rewrites
              // them on the node) are outside the pod's /24.
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: join(dir, 'cni', 'ipam'),
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );

    // Controllers: the service-account and root-CA publishers are what every pod's kube-api-access volume
    // needs; the scheduler binds pods to the node.
    const cmKubeconfig = await kube.kubeconfigFor('system:kube-controller-manager');
    start('kube-controller-manager', parts.controllerManager, [
      `--kubeconfig=${cmKubeconfig}`,
      '--use-service-account-credentials=true',
      `--root-ca-file=${kube.caFile}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
    start('kube-scheduler', parts.scheduler, [
      `--kubeconfig=${await kube.kubeconfigFor('system:kube-scheduler')}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);

    // The kubelet puts pods under its cgroup root but wants the root to exist in every hierarchy already;
    // a new v1 cpuset starts with no CPUs or memory nodes, so it gets its parent's.
    await makeCgroupRoot(cgroupRoot);
    cgroupMade = true;

    const kubeletRoot = join(dir, 'kubelet');
    const podLogsDir = join(dir, 'pod-logs');
    await mkdir(kubeletRoot, { recursive: true });
    await mkdir(podLogsDir, { recursive: true });
    const kubeletConfig = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // This machine's kernel mounts cgroup v1; kubelets since 1.35 refuse it unless told not to.
      failCgroupV1: false,
      failSwapOn: false,
      // The kubelet's own -999 needs CAP_SYS_RESOURCE too (see restrict_oom_score_adj above).
      oomScoreAdj: 0,
      cgroupDriver: 'cgroupfs',
      cgroupRoot,
      address: nodeIp,
      port: await freePort(),
      readOnlyPort: 0,
      healthzPort: 0,
      containerRuntimeEndpoint: `unix://${socket}`,
      podLogsDir,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: kubeletClientCaFile },
      },
      authorization: { mode: 'Webhook' },
      // A shared test machine's disk and memory are not this node's to defend.
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      ...options.kubeletConfig,
    };
    await writeFile(join(dir, 'kubelet.json'), JSON.stringify(kubeletConfig, null, 2));
    kubeletStarted = true;
    const kubeletChild = start('kubelet', parts.kubelet, [
      `--config=${join(dir, 'kubelet.json')}`,
      `--kubeconfig=${await kube.kubeconfigFor(nodeUser)}`,
      `--root-dir=${kubeletRoot}`,
      // Its default is /var/lib/kubelet/pki whatever --root-dir says.
      `--cert-dir=${join(kubeletRoot, 'pki')}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${nodeIp}`,
      '--v=1',
    ]);

    if (options.serviceProxy) {
      const proxyConfig = {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig: await kube.kubeconfigFor('system:kube-proxy') },
        mode: 'iptables',
        clusterCIDR: `10.200.${third}.0/24`,
        hostnameOverride: nodeName,
        // Not started again when another process takes one of these two first (as the kubelet's port is):
        // without bindAddressHardFail kube-proxy logs the bind error, retries, and goes on proxying.
        healthzBindAddress: `127.0.0.1:${await freePort()}`,
        metricsBindAddress: `127.0.0.1:${await freePort()}`,
        // 0: leave the machine's conntrack table size alone (a VM may not let it be set).
        conntrack: { maxPerCore: 0, min: 0 },
      };
      await writeFile(join(dir, 'kube-proxy.json'), JSON.stringify(proxyConfig, null, 2));
      proxyStarted = true;
      start('kube-proxy', parts.kubeProxy, [`--config=${join(dir, 'kube-proxy.json')}`, '--v=1']);
    }

    const deadline = Date.now() + NODE_READY_TIMEOUT_MS;
    for (;;) {
      // The kubelet exits when its port (freePort below) was taken before it bound it.
      for (const child of children)
        if (child.exitCode !== null)
          throw exitedDuringStart(`the node's ${output.nameOf(child)}`, child, output, 6000);
      const node = await kube.request('GET', `/api/v1/nodes/${nodeName}`);
      const ready = node.json?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
      const account = await kube.request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      if (ready?.status === 'True' && account.status === 200) break;
      if (Date.now() > deadline)
        throw new Error(
          `node ${nodeName} not Ready in ${NODE_READY_TIMEOUT_MS} ms (${ready?.message ?? 'not registered'}):\n${output.text(6000)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    void kubeletChild;
    const controlPlane = kube;
    const logDir = (pod: { namespace: string; name: string; uid: string }, container: string) =>
      join(podLogsDir, `${pod.namespace}_${pod.name}_${pod.uid}`, container);
    return {
      kube: controlPlane,
      nodeName,
      nodeIp,
      kubeletRoot,
      podLogsDir,
      dir,
      async importOciLayout(layoutDir, repository) {
        const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
        const tag = index.manifests?.[0]?.annotations?.['org.opencontainers.image.ref.name'];
        if (!tag) throw new Error(`${layoutDir}/index.json names no org.opencontainers.image.ref.name`);
        const archive = join(dir, `import-${randomBytes(4).toString('hex')}.tar`);
        await run('tar', ['-C', layoutDir, '-cf', archive, '.']);
        try {
          await ctr('images', 'import', '--base-name', repository, archive);
        } finally {
          await rm(archive, { force: true });
        }
        return `${repository}:${tag}`;
      },
      containerLogDir: logDir,
      async containerLog(pod, container) {
        const folder = logDir(pod, container);
        let text = '';
        for (const file of (await readdir(folder).catch(() => [] as string[])).sort())
          text += await readFile(join(folder, file), 'utf8');
        // CRI log lines: <time> <stream> <P|F> <text>
        return text
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ').slice(3).join(' '))
          .join('\n');
      },
      output: () => `${controlPlane.output()}\n${output.text()}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Thrown by callers that need a node where none can start (`kirsa demo --node`), from what nodeParts()
 * found missing: the hint is the command that fixes it.
 */
export function nodeUnavailable(missing: { missing: string; needsRoot?: true }): KirsaError {
  if (missing.needsRoot)
    return new KirsaError('NODE_NEEDS_ROOT', `the local node cannot start: ${missing.missing}`, {
      hint: 'run it as root, keeping the KIRSA_* variables: sudo -E env PATH="$PATH" npx kirsa demo --node',
    });
  return new KirsaError('REAL_PARTS_MISSING', `the local node cannot start: ${missing.missing}`, {
    hint: 'build the node parts and put them in this shell: bash tools/realparts/build.sh && eval "$(bash tools/realparts/build.sh --print-env)"',
  });
}
