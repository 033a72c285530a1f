// The CPU limit a container runtime set on this process, in CPUs: a pod's `limits.cpu: 500m` is 0.5. Read as
// the kernel applies it: cgroup v2's `cpu.max` or v1's CFS quota over its period, in the process's own cgroup
// and every ancestor it can see, the smallest limit winning. os.availableParallelism() covers the affinity
// mask, and libuv 1.52 (Node 24) adds some cgroup limits to it but not all: on this project's test machine a
// v1 hierarchy mounted as `cpu` with a quota of half a CPU still read as 2. The webhook takes the smaller of
// the two (src/webhook/main.ts), so either one being 1 or less is enough.
//
// The paths come from /proc/self/mountinfo, not a fixed /sys/fs/cgroup/cpu: a mount's root is where it starts
// in the hierarchy (a container's own cgroup, without a cgroup namespace, is mounted at the top), so the
// process's path from /proc/self/cgroup is taken relative to it.

import { parseMountinfo } from './mountinfo.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { readFileSync } = process.getBuiltinModule('node:fs');

/** A cgroup hierarchy mounted here: v2's single one, or v1's with the cpu controller. */
export interface CgroupMount {
  version: 1 | 2;
  /** Where the mount starts in the hierarchy (`/` unless a container's own cgroup is mounted). */
  root: string;
  mountPoint: string;
}

/** The cgroup mounts in /proc/self/mountinfo that can hold a CPU limit. */
export function cpuCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const { fsType, superOptions, root, mountPoint } of parseMountinfo(mountinfo)) {
    if (fsType === 'cgroup2') mounts.push({ version: 2, root, mountPoint });
    else if (fsType === 'cgroup' && superOptions.includes('cpu'))
      mounts.push({ version: 1, root, mountPoint });
  }
  return mounts;
}

/** This process's cgroup path in each kind of hierarchy, from /proc/self/cgroup. */
export function ownCgroupPaths(procSelfCgroup: string): { v1Cpu?: string; v2?: string } {
  const paths: { v1Cpu?: string; v2?: string } = {};
  for (const line of procSelfCgroup.split('\n')) {
    // "ID:CONTROLLERS:PATH"; v2's line is "0::PATH". The path may itself hold colons.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') paths.v2 = path;
    else if (controllers.split(',').includes('cpu')) paths.v1Cpu = path;
  }
  return paths;
}

/** The directories holding the limits that apply to `path` under `mount`: its own, then each parent's. */
export function limitDirectories(mount: CgroupMount, path: string): string[] {
  // A path outside the mount's root (another container's view) says nothing about this mount.
  const inside =
    mount.root === '/'
      ? path
      : path === mount.root || path.startsWith(`${mount.root}/`)
        ? path.slice(mount.root.length)
        : undefined;
  if (inside === undefined) return [];
  const parts = inside.split('/').filter((part) => part !== '');
  const base = mount.mountPoint.replace(/\/$/, '');
  const dirs: string[] = [];
  for (let depth = parts.length; depth >= 0; depth--)
    dirs.push([base, ...parts.slice(0, depth)].join('/') || '/');
  return dirs;
}

/** cgroup v2's `cpu.max`: "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  return quotaOverPeriod(quota, period);
}

/** cgroup v1's `cpu.cfs_quota_us` (-1 for no limit) over `cpu.cfs_period_us`. */
export function parseCfsQuota(quotaText: string, periodText: string): number | undefined {
  return quotaOverPeriod(quotaText.trim(), periodText.trim());
}

function quotaOverPeriod(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period))
    return undefined;
  const cpus = Number(quota) / Number(period);
  return Number.isFinite(cpus) && cpus > 0 ? cpus : undefined;
}

/** A file's text, or undefined when it is not there or not readable (no cgroup, another kernel, no /proc). */
function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPU limit on this process in CPUs (the smallest along its cgroups), or undefined when it has none. */
export function cgroupCpuLimit(read: (path: string) => string | undefined = readIfThere): number | undefined {
  const mountinfo = read('/proc/self/mountinfo');
  const own = read('/proc/self/cgroup');
  if (mountinfo === undefined || own === undefined) return undefined;
  const paths = ownCgroupPaths(own);
  let smallest: number | undefined;
  const consider = (cpus: number | undefined) => {
    if (cpus !== undefined && (smallest === undefined || cpus < smallest)) smallest = cpus;
  };
  for (const mount of cpuCgroupMounts(mountinfo)) {
    const path = mount.version === 2 ? paths.v2 : paths.v1Cpu;
    if (path === undefined) continue;
    for (const dir of limitDirectories(mount, path)) {
      if (mount.version === 2) {
        const max = read(`${dir}/cpu.max`);
        if (max !== undefined) consider(parseCpuMax(max));
      } else {
        const quota = read(`${dir}/cpu.cfs_quota_us`);
        const period = read(`${dir}/cpu.cfs_period_us`);
        if (quota !== undefined && period !== undefined) consider(parseCfsQuota(quota, period));
      }
    }
  }
  return smallest;
}
