// The docs name files and folders so a newcomer can open them; a rename that leaves a doc pointing at
// nothing fails here. Checked: every `path.ts` and `folder/` in backticks in docs/architecture.md (paths
// there are under src/ unless they start with test/ or tools/), and every src/, test/, tools/ or docs/
// path in backticks or links in the README and docs/*.md.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function missing(paths: Iterable<string>): string[] {
  return [...new Set(paths)].filter((path) => !existsSync(join(ROOT, path.replace(/\*\*.*$/, ''))));
}

test('docs/architecture.md names only files and folders that exist', () => {
  const text = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const named = [...text.matchAll(/`([a-z][a-z0-9-]*(?:\/[a-z0-9*.-]+)*(?:\.ts|\/))`/g)].map(
    ([, path]) => path!,
  );
  assert.ok(named.length > 40, `expected the architecture doc to name many files, found ${named.length}`);
  const resolved = named.map((path) => (/^(test|tools|src|docs)\//.test(path) ? path : `src/${path}`));
  assert.deepEqual(missing(resolved), []);
});

test('the README and docs/*.md point only at paths that exist', () => {
  // The migration guide names the reference's own files (its deploy/ folder), not ours.
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`)].filter(
    (name) => name !== 'docs/migrating-from-the-reference.md',
  );
  const named: string[] = [];
  for (const doc of docs.filter((name) => name.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const [, path] of text.matchAll(
      /[`(]((?:src|test|tools|docs|deploy|examples|bench)\/[A-Za-z0-9_./*-]+?)[`)]/g,
    ))
      named.push(path!.replace(/[.:,]$/, ''));
    for (const [, path] of text.matchAll(/\]\(((?:\.\.\/)?[a-z-]+\.md)\)/g))
      named.push(
        doc.startsWith('docs/') && !path!.startsWith('../') ? `docs/${path}` : path!.replace(/^\.\.\//, ''),
      );
  }
  assert.deepEqual(missing(named), []);
});
