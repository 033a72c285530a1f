// What a running webhook has loaded, read from the process itself by a preload: Node's own modules
// (`process.moduleLoadList`) and every specifier that Node's module loaders resolved, as URLs: kirsa's files,
// libraries' files, and built-in modules that went through a loader, written `import node:x` or
// `require node:x` (a require hands out the module's own exports; only an ES import builds a facade). The list
// is written at exit, so a test starts the webhook with the preload, makes it work, stops it, then reads.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The environment variable that tells the preload where to write its list. */
export const LOADED_MODULES_FILE = 'KIRSA_TEST_MODULES';

/** Writes the preload into `dir` and returns its path, for `node --import <path>`. */
export async function writeLoadedModulesPreload(dir: string): Promise<string> {
  const path = join(dir, 'loaded-modules-preload.mjs');
  await writeFile(
    path,
    [
      "import { writeFileSync } from 'node:fs';",
      "import { registerHooks } from 'node:module';",
      // Registered after the preload's own two imports, so those are not on the list.
      'const urls = [];',
      'const how = (context) => (context.conditions.includes("require") ? "require" : "import");',
      'registerHooks({ resolve(specifier, context, next) { const found = next(specifier, context); urls.push(found.url.startsWith("node:") ? how(context) + " " + found.url : found.url); return found; } });',
      `process.on('exit', () => writeFileSync(process.env.${LOADED_MODULES_FILE}, JSON.stringify([...process.moduleLoadList, ...urls])));`,
    ].join('\n'),
  );
  return path;
}

/** The list a preloaded process wrote at exit. */
export async function readLoadedModules(file: string): Promise<string[]> {
  return JSON.parse(await readFile(file, 'utf8')) as string[];
}

/** The built-in modules on the list that an ES import reached, each building its facade. */
export function builtinsImported(loaded: readonly string[]): string[] {
  return [
    ...new Set(loaded.filter((entry) => entry.startsWith('import node:')).map((entry) => entry.slice(7))),
  ].sort();
}
