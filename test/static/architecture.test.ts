// The dependency rule, enforced: which folder of src/ may import which. The pure core imports only the
// core, consts and errors (and no I/O module); each shell does one job and reaches another shell only
// where the table below says so and why; only the CLI and the demo assemble everything. A new import that
// breaks the rule fails here with the file and the edge, so the layering cannot erode unnoticed.
// docs/architecture.md draws the same table.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Foundations every layer may use. */
const BASE = ['consts', 'errors', 'version'];

/**
 * For each unit (a folder of src/, or a top-level file), the units it may import. The core comes first;
 * then the small I/O mechanisms; then the shells, one job each; then the two composers.
 */
const ALLOWED: Record<string, readonly string[]> = {
  consts: [],
  errors: [],
  version: [],
  core: ['consts', 'errors'],
  // I/O mechanisms shared by the shells: reading input, watching files, listening, signals.
  io: [...BASE],
  tls: [...BASE],
  kube: [...BASE, 'core', 'io'],
  // self: where kirsa's own files are, and whether there are any (the single executable has none).
  self: [],
  // The local control plane finds the real parts through the checkout that self names.
  local: [...BASE, 'io', 'self', 'tls'],
  // Shells.
  aws: [...BASE, 'core', 'io'],
  issuer: [...BASE, 'core', 'io', 'tls'],
  identity: [...BASE, 'core', 'kube', 'io'],
  sts: [...BASE, 'core', 'io'],
  webhook: [...BASE, 'core', 'io', 'tls', 'kube'],
  install: [...BASE, 'core', 'tls'],
  // The doctor reads every side of a setup, each through the shell that owns it.
  doctor: [...BASE, 'core', 'kube', 'aws', 'issuer'],
  // Workflows: verbs of several steps (role create/delete, provider create, issuer publish, migrate) run as
  // phases over the shells. They report through what they return and through a callback, never by writing
  // to a terminal, so the CLI that calls them is only flags and printing.
  workflows: [...BASE, 'core', 'io', 'tls', 'kube', 'aws', 'issuer', 'identity', 'install'],
  // Composers: they assemble shells, so they may import any of them (but nothing imports them).
  demo: ['*'],
  cli: ['*'],
};

/**
 * The declared exceptions: a shell reaching another shell's module, each with the reason it is not a
 * port. Keyed "from-file -> to-file" (paths under src/; a trailing * matches a prefix).
 */
const DECLARED: Record<string, string> = {
  'sts/issuer-keys.ts -> issuer/https.ts':
    'the local STS fetches the issuer through the one reader of "the issuer as STS sees it"',
  'webhook/main.ts -> *':
    "the webhook's composition root builds what the webhook is handed: identity sources, instance metadata",
};

/**
 * Packages the pure core must not import: they reach files, sockets, processes or remote services. kirsa's
 * own I/O (src/io/, the logger src/io/log.ts among it) is kept out by the table: core may import only core.
 */
const IMPURE =
  /^(node:)?(fs|fs\/promises|net|http|https|http2|tls|dgram|dns|child_process|worker_threads|cluster)$|^@aws-sdk\/|^@kubernetes\//;

export interface ImportEdge {
  /** Path under src/ of the importing file. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Path under src/ of the imported file, for a relative import inside src/. */
  to?: string;
}

function unitOf(path: string): string {
  const [first, second] = path.split('/');
  return second === undefined ? first!.replace(/\.ts$/, '') : first!;
}

/** The DECLARED entry that allows this file-to-file import, if one does. */
function declaredException(from: string, to: string): string | undefined {
  const matches = (pattern: string, path: string) =>
    pattern === '*' || (pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path);
  return Object.keys(DECLARED).find((key) => {
    const [fromPattern, toPattern] = key.split(' -> ') as [string, string];
    return matches(fromPattern, from) && matches(toPattern, to);
  });
}

/** Whether the table itself lets `from`'s unit import `to`'s unit. */
function allowedByTable(from: string, to: string): boolean {
  const allowed = ALLOWED[unitOf(from)] ?? [];
  return unitOf(from) === unitOf(to) || allowed.includes('*') || allowed.includes(unitOf(to));
}

/** Every edge that breaks the rule, as "from -> to: why". */
export function violations(edges: readonly ImportEdge[]): string[] {
  const found: string[] = [];
  for (const edge of edges) {
    const fromUnit = unitOf(edge.from);
    const allowed = ALLOWED[fromUnit];
    if (allowed === undefined) {
      found.push(`${edge.from}: the folder ${fromUnit} has no place in the layer table`);
      continue;
    }
    if (edge.to === undefined) {
      if (fromUnit === 'core' && IMPURE.test(edge.specifier))
        found.push(`${edge.from} -> ${edge.specifier}: the core is pure; I/O belongs to a shell`);
      continue;
    }
    const toUnit = unitOf(edge.to);
    if (toUnit === fromUnit) continue;
    if (toUnit === 'cli' || toUnit === 'demo') {
      if (fromUnit !== 'cli')
        found.push(`${edge.from} -> ${edge.to}: nothing below the CLI imports ${toUnit}`);
      continue;
    }
    if (allowedByTable(edge.from, edge.to) || declaredException(edge.from, edge.to)) continue;
    found.push(
      `${edge.from} -> ${edge.to}: ${fromUnit} may import ${allowed.join(', ') || 'nothing of src'}`,
    );
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => join(dir, name));
}

/** An import's specifier, or a built-in module taken from Node's module table (the same edge for the rule). */
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+|\bgetBuiltinModule\(\s*)'([^']+)'/gm;

export function importEdges(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      if (!specifier!.startsWith('.')) {
        edges.push({ from, specifier: specifier! });
        continue;
      }
      const target = relative(SRC, resolve(dirname(file), specifier!));
      if (target.startsWith('..')) edges.push({ from, specifier: specifier! });
      else edges.push({ from, specifier: specifier!, to: target });
    }
  }
  return edges;
}

describe('the dependency rule', () => {
  test('src/ follows it', () => {
    const edges = importEdges();
    assert.ok(edges.length > 100, `expected the import graph of src/, found ${edges.length} edges`);
    assert.deepEqual(violations(edges), []);
  });

  test('it catches a back-edge into a shell, a shell-to-shell import, an impure core (a package, or src/io/) and an import of the CLI', () => {
    assert.deepEqual(
      violations([
        { from: 'core/mutation/mutate-pod.ts', specifier: '../../webhook/app.ts', to: 'webhook/app.ts' },
        { from: 'identity/provider.ts', specifier: '../webhook/app.ts', to: 'webhook/app.ts' },
        { from: 'core/oidc/keys.ts', specifier: 'node:fs' },
        { from: 'core/mutation/mutate-pod.ts', specifier: '../../io/log.ts', to: 'io/log.ts' },
        { from: 'webhook/app.ts', specifier: '../cli/flags.ts', to: 'cli/flags.ts' },
        { from: 'sts/server.ts', specifier: '../issuer/store.ts', to: 'issuer/store.ts' },
      ]),
      [
        'core/mutation/mutate-pod.ts -> webhook/app.ts: core may import consts, errors',
        'identity/provider.ts -> webhook/app.ts: identity may import consts, errors, version, core, kube, io',
        'core/oidc/keys.ts -> node:fs: the core is pure; I/O belongs to a shell',
        'core/mutation/mutate-pod.ts -> io/log.ts: core may import consts, errors',
        'webhook/app.ts -> cli/flags.ts: nothing below the CLI imports cli',
        'sts/server.ts -> issuer/store.ts: sts may import consts, errors, version, core, io',
      ],
    );
  });

  test("a built-in taken from Node's module table is an edge too, so the core's purity still covers it", () => {
    const edges = importEdges();
    assert.ok(edges.some((edge) => edge.from === 'core/iam/arn.ts' && edge.specifier === 'node:crypto'));
    assert.ok(edges.some((edge) => edge.from === 'webhook/server.ts' && edge.specifier === 'node:https'));
  });

  test('the declared exceptions are exactly the ones the tree uses', () => {
    const used = new Set<string>();
    for (const edge of importEdges()) {
      if (edge.to === undefined || allowedByTable(edge.from, edge.to)) continue;
      const key = declaredException(edge.from, edge.to);
      if (key) used.add(key);
    }
    assert.deepEqual(
      [...used].sort(),
      Object.keys(DECLARED).sort(),
      'remove a declared exception nothing uses',
    );
  });
});
