import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cgroupCpuLimit,
  cpuCgroupMounts,
  limitDirectories,
  ownCgroupPaths,
  parseCfsQuota,
  parseCpuMax,
} from './cpu-limit.ts';

// Lines as kernels write them, one per layout the webhook meets.
const V2_NAMESPACED =
  '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate';
const V1_DOCKER_CPU =
  '41 33 0:35 /kubepods/burstable/pod1/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct';
const V1_MEMORY =
  '42 33 0:36 /kubepods/burstable/pod1/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory';
const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

/** A reader over a table of files; anything else is not there. */
function files(table: Record<string, string>): (path: string) => string | undefined {
  return (path) => table[path];
}

describe('reading mountinfo and /proc/self/cgroup', () => {
  test('the v2 mount and the v1 mounts with the cpu controller, and no other', () => {
    assert.deepEqual(cpuCgroupMounts([V2_NAMESPACED, V1_DOCKER_CPU, V1_MEMORY, ''].join('\n')), [
      { version: 2, root: '/', mountPoint: '/sys/fs/cgroup' },
      { version: 1, root: '/kubepods/burstable/pod1/abc', mountPoint: '/sys/fs/cgroup/cpu,cpuacct' },
    ]);
    assert.deepEqual(
      cpuCgroupMounts(HYBRID).map((mount) => mount.mountPoint),
      ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/unified'],
    );
  });

  test('a mount point with a space comes back unescaped', () => {
    const [mount] = cpuCgroupMounts('50 1 0:40 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw');
    assert.equal(mount?.mountPoint, '/mnt/my cgroup');
  });

  test("the process's path in v2 and in v1's cpu hierarchy; a path may hold colons", () => {
    assert.deepEqual(ownCgroupPaths('0::/kubepods.slice/a:b.scope\n'), { v2: '/kubepods.slice/a:b.scope' });
    assert.deepEqual(ownCgroupPaths('5:memory:/x\n4:cpu,cpuacct:/kubepods/pod1/abc\n0::/\n'), {
      v1Cpu: '/kubepods/pod1/abc',
      v2: '/',
    });
    assert.deepEqual(ownCgroupPaths('1:name=systemd:/\n'), {});
  });
});

describe('the directories whose limits apply', () => {
  test('its own cgroup, then each parent up to the mount point', () => {
    assert.deepEqual(
      limitDirectories({ version: 2, root: '/', mountPoint: '/sys/fs/cgroup' }, '/kubepods/pod1/c'),
      [
        '/sys/fs/cgroup/kubepods/pod1/c',
        '/sys/fs/cgroup/kubepods/pod1',
        '/sys/fs/cgroup/kubepods',
        '/sys/fs/cgroup',
      ],
    );
    assert.deepEqual(limitDirectories({ version: 2, root: '/', mountPoint: '/sys/fs/cgroup' }, '/'), [
      '/sys/fs/cgroup',
    ]);
  });

  test("a container's own cgroup mounted at the top: the path is taken relative to the mount's root", () => {
    const mount = {
      version: 1 as const,
      root: '/kubepods/pod1/abc',
      mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
    };
    assert.deepEqual(limitDirectories(mount, '/kubepods/pod1/abc'), ['/sys/fs/cgroup/cpu,cpuacct']);
    assert.deepEqual(limitDirectories(mount, '/kubepods/pod1/abc/sub'), [
      '/sys/fs/cgroup/cpu,cpuacct/sub',
      '/sys/fs/cgroup/cpu,cpuacct',
    ]);
    // Neither a path elsewhere nor one that only starts with the same letters is under this mount.
    assert.deepEqual(limitDirectories(mount, '/kubepods/pod2/def'), []);
    assert.deepEqual(limitDirectories(mount, '/kubepods/pod1/abcd'), []);
  });
});

describe('limits', () => {
  test("v2's cpu.max and v1's quota over period, in CPUs; none when unlimited or unreadable", () => {
    assert.equal(parseCpuMax('50000 100000\n'), 0.5);
    assert.equal(parseCpuMax('200000 100000'), 2);
    assert.equal(parseCpuMax('max 100000\n'), undefined);
    assert.equal(parseCpuMax(''), undefined);
    assert.equal(parseCfsQuota('100000\n', '100000\n'), 1);
    assert.equal(parseCfsQuota('-1\n', '100000\n'), undefined);
    assert.equal(parseCfsQuota('50000', '0'), undefined);
  });

  test("a pod's limits.cpu of 500m under cgroup v2 with a namespace: 0.5", () => {
    const read = files({
      '/proc/self/mountinfo': V2_NAMESPACED,
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/cpu.max': '50000 100000\n',
    });
    assert.equal(cgroupCpuLimit(read), 0.5);
  });

  test('the smallest limit along the path wins, a parent included', () => {
    const table = {
      '/proc/self/mountinfo': V2_NAMESPACED,
      '/proc/self/cgroup': '0::/pod/c\n',
      '/sys/fs/cgroup/pod/c/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/pod/cpu.max': '100000 100000\n',
    };
    assert.equal(cgroupCpuLimit(files(table)), 1);
    assert.equal(cgroupCpuLimit(files({ ...table, '/sys/fs/cgroup/pod/c/cpu.max': '30000 100000' })), 0.3);
  });

  test("v1 in a container without a cgroup namespace: the container's own quota at the mount point", () => {
    const read = files({
      '/proc/self/mountinfo': [V1_DOCKER_CPU, V1_MEMORY].join('\n'),
      '/proc/self/cgroup':
        '5:memory:/kubepods/burstable/pod1/abc\n4:cpu,cpuacct:/kubepods/burstable/pod1/abc\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '150000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cgroupCpuLimit(read), 1.5);
  });

  test('no limit anywhere, or no /proc: none', () => {
    const read = files({
      '/proc/self/mountinfo': HYBRID,
      '/proc/self/cgroup': '1:cpu:/\n0::/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cgroupCpuLimit(read), undefined);
    assert.equal(cgroupCpuLimit(files({})), undefined);
  });
});
