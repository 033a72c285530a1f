// Which Node.js kirsa needs, and what to tell someone whose Node is older. Plain JavaScript that any Node
// since 16 parses: it runs before anything else, on whatever Node the user has.
//
// Three ways to run kirsa, three floors:
//   - an installed package runs the compiled dist/: the floor is package.json's `engines.node` (22.19, from
//     undici 8, which @kubernetes/client-node needs), so that field is the one home of that number;
//   - a checkout runs the TypeScript sources, which needs Node 24's type stripping; the project brings that
//     Node as its `node` dev dependency, whose install script fetches the binary (skipped by
//     `npm ci --ignore-scripts`);
//   - the single executable carries the Node that built it: only building it is gated (tools/sea/build.sh).

// node:fs from Node's module table rather than an ES import, whose facade the webhook would carry for the life
// of its pod (test/loopback/webhook/loaded-modules.test.ts); the import is for a Node too old to have the table's
// reader (before 20.16), which this file exists to turn away with a clear message.
const { existsSync, readFileSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));

/** The oldest Node that runs the TypeScript sources of a checkout. */
export const CHECKOUT_MAJOR = 24;

/** package.json's `engines.node` as [major, minor, patch]: the floor of the compiled package. */
export function packageFloor(packageRoot) {
  const manifest = JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8'));
  const match = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(manifest.engines?.node || '');
  if (!match) throw new Error('package.json: engines.node must read ">=MAJOR.MINOR.PATCH"');
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function parse(version) {
  return String(version)
    .replace(/^v/, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

function atLeast(version, floor) {
  const have = parse(version);
  for (let i = 0; i < 3; i += 1) {
    if ((have[i] || 0) !== floor[i]) return (have[i] || 0) > floor[i];
  }
  return true;
}

/**
 * Undefined when `version` can run kirsa laid out as `layout`, else the message and hint to print.
 * layout: 'package' (compiled dist/), 'checkout' (TypeScript sources) or 'sea-build' (the Node that a
 * single executable is built from, and so embeds). `projectNode` says, for a checkout, whether the
 * project's own Node binary is there ('present'), or its package is installed without its binary
 * ('no-binary': its install script did not run) or not at all ('absent').
 */
export function nodeVersionProblem({ version, layout, floor, projectNode = 'absent' }) {
  const floorText = floor.join('.');
  if (layout === 'checkout') {
    if (parse(version)[0] >= CHECKOUT_MAJOR) return undefined;
    const message = `kirsa: running the TypeScript sources of a checkout needs Node.js ${CHECKOUT_MAJOR} or newer, this is ${version}.`;
    if (projectNode === 'present')
      return {
        message,
        hint: 'run it as `npx kirsa ...` or `npm run kirsa -- ...`: both use the Node 24 the project brings in node_modules',
      };
    if (projectNode === 'no-binary')
      return {
        message,
        hint: "the project's Node 24 (the `node` dev dependency) was installed without its install script, as `npm ci --ignore-scripts` does: run `npm rebuild node`, then `npx kirsa ...`",
      };
    return {
      message,
      hint: 'run `npm ci` in the repository (it brings Node 24 as a dev dependency), then `npx kirsa ...`; or install Node 24',
    };
  }
  if (atLeast(version, floor)) return undefined;
  if (layout === 'sea-build')
    return {
      message: `kirsa: a single executable embeds the Node.js that builds it; that needs ${floorText} or newer, this is ${version}.`,
      hint: "run `npm rebuild node` for the project's Node 24, or set KIRSA_SEA_NODE to a newer node binary",
    };
  return {
    message: `kirsa: needs Node.js ${floorText} or newer, this is ${version}.`,
    hint: `install Node.js ${floorText} or newer (or 24), or use the single executable kirsa-linux-x64, which brings its own Node (see "Install" in the README)`,
  };
}

/** How kirsa is laid out at `packageRoot` (a file: URL ending in /), and the state of the project's Node. */
export function layoutAt(packageRoot) {
  const source = new URL('src/cli/main.ts', packageRoot);
  const checkout = existsSync(source) && !decodeURIComponent(source.pathname).includes('/node_modules/');
  if (!checkout) return { layout: 'package', projectNode: 'absent' };
  const nodePackage = new URL('node_modules/node/', packageRoot);
  const projectNode = existsSync(new URL('bin/node', nodePackage))
    ? 'present'
    : existsSync(new URL('package.json', nodePackage))
      ? 'no-binary'
      : 'absent';
  return { layout: 'checkout', projectNode };
}
