#!/usr/bin/env node
// Entry point of the `kirsa` command.
// In a checkout we run the TypeScript sources directly: Node 24 strips types itself, so there is no build
// step between an edit and a run. Node refuses to strip types under node_modules, so an installed package
// runs the compiled dist/ instead (built by `npm run build` before packing), which needs only Node 22.19.
// Which Node each way needs, and what to say when it is older, lives in node-gate.js.
import { layoutAt, nodeVersionProblem, packageFloor } from './node-gate.js';

const root = new URL('../', import.meta.url);
const { layout, projectNode } = layoutAt(root);
const problem = nodeVersionProblem({
  version: process.version,
  layout,
  floor: packageFloor(root),
  projectNode,
});
if (problem) {
  process.stderr.write(`${problem.message}\n  hint: ${problem.hint}\n`);
  process.exit(2);
}

const entry =
  layout === 'checkout' ? new URL('src/cli/main.ts', root) : new URL('dist/src/cli/main.js', root);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
