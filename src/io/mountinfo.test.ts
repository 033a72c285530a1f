import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo } from './mountinfo.ts';

test('each mount: its root, mount point, filesystem type and super options; other lines skipped', () => {
  const text = [
    '41 33 0:35 /kubepods/pod1/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct',
    // Optional fields (shared:N) sit between the options and the separator.
    '30 24 0:26 / /sys/fs/cgroup rw,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate',
    '',
    'not a mount line',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text), [
    {
      root: '/kubepods/pod1/abc',
      mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
      fsType: 'cgroup',
      superOptions: ['rw', 'cpu', 'cpuacct'],
    },
    { root: '/', mountPoint: '/sys/fs/cgroup', fsType: 'cgroup2', superOptions: ['rw', 'nsdelegate'] },
  ]);
});

test("the kernel's octal escapes in paths come back as the characters: space, tab, newline, backslash", () => {
  const [mount] = parseMountinfo('50 1 0:40 /a\\134b /mnt/my\\040dir\\011x\\012y rw - tmpfs tmpfs rw');
  assert.equal(mount?.root, '/a\\b');
  assert.equal(mount?.mountPoint, '/mnt/my dir\tx\ny');
});
