// Running kirsa from this checkout as a non-root user (the image's UID 65532, a chart's runAsUser), for the
// tests that check what such a user can and cannot do. The checkout may sit below a folder only root can
// enter (`mktemp -d` makes 0700 folders, and CI may clone into one), and then the user cannot even load
// bin/kirsa.js. So the command runs in a private mount namespace where the checkout is bind-mounted on a
// folder everyone can traverse, and Node and kirsa are started from there; nothing is copied.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KIRSA_BIN } from './run-kirsa.ts';

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));

export interface ReadableCheckout {
  /** Shell command (run as root, inside `unshare --mount --propagation private`) that makes the paths below
   * reachable. */
  mount: string;
  /** The Node binary to run, through the mount when it lives in the checkout (node_modules/node). */
  node: string;
  /** bin/kirsa.js through the mount. */
  kirsaBin: string;
  cleanup(): Promise<void>;
}

export async function readableCheckout(): Promise<ReadableCheckout> {
  const mountpoint = await mkdtemp(join(tmpdir(), 'kirsa-checkout-'));
  await chmod(mountpoint, 0o755);
  const through = (path: string): string =>
    path.startsWith(CHECKOUT) ? join(mountpoint, relative(CHECKOUT, path)) : path;
  return {
    mount: `mount --bind '${CHECKOUT}' '${mountpoint}'`,
    node: through(process.execPath),
    kirsaBin: through(KIRSA_BIN),
    cleanup: () => rm(mountpoint, { recursive: true, force: true }),
  };
}
