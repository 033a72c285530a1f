// Value imports of node:http stay out of src/: the first ES import of node:http in a process reads all of
// its exports, lazy ones included, and so loads undici, http2, zlib and worker_threads (+8.5 MB of RSS under
// the image's flags). src/io/node-http.ts takes the functions from Node's module table instead, with the
// measurement. Type-only imports are erased before Node runs the file, so they are allowed.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The import statements of a file that bring a value (not only types) from `specifier`. */
export function valueImports(source: string, specifier: string): string[] {
  const found: string[] = [];
  const quoted = `['"]${specifier.replace(/[/]/g, '\\/')}['"]`;
  const statement = new RegExp(
    `^\\s*(import|export)\\b([^;]*?)\\bfrom\\s+${quoted}|import\\s*\\(\\s*${quoted}|^\\s*import\\s+${quoted}`,
    'gms',
  );
  for (const match of source.matchAll(statement)) {
    const clause = (match[2] ?? '').trim();
    const typeOnly =
      /^type\b/.test(clause) ||
      (/^\{[^}]*\}$/.test(clause) &&
        clause
          .slice(1, -1)
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '')
          .every((name) => name.startsWith('type ')));
    if (!typeOnly || match[2] === undefined) found.push(match[0].trim());
  }
  return found;
}

test('no file under src/ imports a value from node:http (src/io/node-http.ts hands them out)', () => {
  const offenders: string[] = [];
  for (const name of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const path = join(SRC, name);
    for (const statement of valueImports(readFileSync(path, 'utf8'), 'node:http'))
      offenders.push(`${relative(SRC, path)}: ${statement}`);
  }
  assert.deepEqual(offenders, []);
});

test('the check tells value imports from type-only ones', () => {
  const check = (source: string) => valueImports(source, 'node:http').length;
  assert.equal(check("import { createServer } from 'node:http';"), 1);
  assert.equal(check("import { request as r, type IncomingMessage } from 'node:http';"), 1);
  assert.equal(check("import * as http from 'node:http';"), 1);
  assert.equal(check("import http from 'node:http';"), 1);
  assert.equal(check("import 'node:http';"), 1);
  assert.equal(check("const http = await import('node:http');"), 1);
  assert.equal(check("export { STATUS_CODES } from 'node:http';"), 1);
  assert.equal(check("import type { IncomingMessage } from 'node:http';"), 0);
  assert.equal(check("import { type IncomingMessage, type ServerResponse } from 'node:http';"), 0);
  assert.equal(check("import {\n  type IncomingMessage,\n  type ServerResponse,\n} from 'node:http';"), 0);
  assert.equal(check("import { createServer } from 'node:https';"), 0);
});
