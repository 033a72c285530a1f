#!/usr/bin/env node
// Entry point of the `kirsa` command.
// In a checkout we run the TypeScript sources directly: Node 24 strips types itself, so there is no build
// step between an edit and a run. Node refuses to strip types under node_modules, so an installed package
// runs the compiled dist/ instead (built by `npm run build` before packing).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `kirsa: needs Node.js 24 or newer, this is ${process.version}.\n` +
      '  hint: in the repository run it as `npx kirsa ...` (the project brings its own Node 24 after `npm ci`), or install Node 24.\n',
  );
  process.exit(2);
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const useSource = existsSync(source) && !fileURLToPath(source).includes('/node_modules/');
const entry = useSource ? source : new URL('../dist/src/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
