// kirsa itself as a process: a checkout (TypeScript sources), an installed package (dist/) or a single
// executable (SEA: one file holding Node and a bundle of kirsa, built by tools/sea/build.sh). The demo starts
// kirsa again as child processes (the webhook, `kirsa explain`) and the s3-echoer example; where those
// are depends on which of the three this is, and is decided here only.

import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

/** True in the single executable: there is no bin/, no src/ and no node_modules, only this file. */
export const runningAsSea: boolean = isSea();

/**
 * The environment variable the single executable's entry (tools/sea/entry.ts) reads to run a bundled
 * example instead of the CLI: the executable has no other way to run a second program.
 */
export const SEA_EXAMPLE_ENV = 'KIRSA_SEA_EXAMPLE';

export interface SelfCommand {
  file: string;
  args: string[];
  /** Variables to add to the child's environment. */
  env: Record<string, string>;
}

interface Layout {
  /** The package root, ending in /: the checkout or the installed package. */
  root: URL;
  /** '.ts' in a checkout, '.js' in the compiled package. */
  extension: string;
}

let layout: Layout | undefined;

/** src/self.ts in a checkout, dist/src/self.js in the package: the same layout below the root. */
function packageLayout(): Layout {
  // import.meta.url is read only here, and never in the single executable (its bundle has no file URL).
  layout ??= import.meta.url.endsWith('.ts')
    ? { root: new URL('../', import.meta.url), extension: '.ts' }
    : { root: new URL('../../', import.meta.url), extension: '.js' };
  return layout;
}

/** The command that runs `kirsa ARGS` with the Node and the code of this process. */
export function kirsaCommand(args: string[]): SelfCommand {
  if (runningAsSea) return { file: process.execPath, args, env: {} };
  return {
    file: process.execPath,
    args: [fileURLToPath(new URL('bin/kirsa.js', packageLayout().root)), ...args],
    env: {},
  };
}

/** The command that runs examples/s3-echoer with these arguments (the demo's stand-in for a pod's app). */
export function s3EchoerCommand(args: string[]): SelfCommand {
  if (runningAsSea) return { file: process.execPath, args, env: { [SEA_EXAMPLE_ENV]: 's3-echoer' } };
  const { root, extension } = packageLayout();
  const dir = extension === '.ts' ? 'examples/s3-echoer/' : 'dist/examples/s3-echoer/';
  return {
    file: process.execPath,
    args: [fileURLToPath(new URL(`${dir}s3-echoer${extension}`, root)), ...args],
    env: {},
  };
}

/** The package root as a path, or undefined in the single executable (which has none). */
export function packageRoot(): string | undefined {
  return runningAsSea ? undefined : fileURLToPath(packageLayout().root);
}
