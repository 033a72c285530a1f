// Reading /proc/self/mountinfo: one line per mount, "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...]
// - FSTYPE SOURCE SUPER-OPTIONS" (proc(5)). Pure. The kernel writes a space, tab, newline or backslash in a
// path as a three-digit octal escape, so ROOT and MOUNT-POINT come back unescaped.

export interface Mount {
  /** Where the mount starts inside its filesystem (for a cgroup hierarchy: the cgroup mounted there). */
  root: string;
  mountPoint: string;
  fsType: string;
  /** The filesystem's own options (for cgroup v1: its controllers among them). */
  superOptions: string[];
}

/** The mounts in mountinfo's text; lines that are not mounts are skipped. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [fsType = '', , superOptions = ''] = after.split(' ');
    mounts.push({
      root: unescapePath(fields[3] ?? ''),
      mountPoint: unescapePath(fields[4] ?? ''),
      fsType,
      superOptions: superOptions.split(','),
    });
  }
  return mounts;
}

function unescapePath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
