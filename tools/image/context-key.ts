// Prints one sha256 over what the Dockerfile takes from the build context: the Dockerfile and .dockerignore
// themselves, then every file under the sources of its COPY lines (those without --from) that .dockerignore
// does not exclude, by path and content. tools/image/build.sh keys the cached image on it, so an edit to
// src/ rebuilds the image and an edit to a test, a doc or a script does not.
//
// Usage: node tools/image/context-key.ts [CONTEXT_DIR]   (default: the repository root)
// With --list it prints the files instead, one per line.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, matchesGlob, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const list = args.includes('--list');
const context = args.find((arg) => arg !== '--list') ?? fileURLToPath(new URL('../..', import.meta.url));

const dockerfile = readFileSync(join(context, 'Dockerfile'), 'utf8');
const patterns = readFileSync(join(context, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
// Docker's exceptions (!pattern) re-include files; this reader does not model them, so it refuses them
// rather than hash a different set of files than the builder sends.
const exception = patterns.find((pattern) => pattern.startsWith('!'));
if (exception) {
  process.stderr.write(`context-key: .dockerignore exceptions (${exception}) are not supported here\n`);
  process.exit(2);
}

/** Docker's rule: a path is excluded when it or one of its parent folders matches a pattern. */
function ignored(path: string): boolean {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (patterns.some((pattern) => matchesGlob(prefix, pattern.replace(/^\/+|\/+$/g, '')))) return true;
  }
  return false;
}

function sourcesOfCopyLines(text: string): string[] {
  const sources: string[] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== 'COPY' && words[0]?.toUpperCase() !== 'ADD') continue;
    const rest = words.slice(1);
    if (rest.some((word) => word.startsWith('--from'))) continue;
    const operands = rest.filter((word) => !word.startsWith('--'));
    sources.push(...operands.slice(0, -1));
  }
  return sources;
}

function walk(path: string, into: string[]): void {
  const relativePath = relative(context, path);
  if (ignored(relativePath)) return;
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) walk(join(path, name), into);
  } else {
    into.push(relativePath);
  }
}

const files = ['Dockerfile', '.dockerignore'];
for (const source of sourcesOfCopyLines(dockerfile)) walk(join(context, source), files);
const unique = [...new Set(files)];

if (list) {
  process.stdout.write(`${unique.join('\n')}\n`);
} else {
  const hash = createHash('sha256');
  for (const file of unique) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(context, file)));
    hash.update('\0');
  }
  process.stdout.write(`${hash.digest('hex')}\n`);
}
