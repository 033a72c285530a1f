// kirsa's version, read from its package.json: one level up from src/ in a checkout, two from dist/src/ in
// the package and the image, and an asset of the single executable (tools/sea/build.sh embeds the file).
// `kirsa webhook --version` prints it, as the reference's `--version` prints its.

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { readFileSync } = process.getBuiltinModule('node:fs');
const { getAsset, isSea } = process.getBuiltinModule('node:sea');

let cached: string | undefined;

export function kirsaVersion(): string {
  if (cached !== undefined) return cached;
  if (isSea()) {
    cached = (JSON.parse(getAsset('package.json', 'utf8')) as { version: string }).version;
    return cached;
  }
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'kirsa' && typeof manifest.version === 'string') {
        cached = manifest.version;
        return cached;
      }
    } catch {
      // not at this level: try the next one
    }
  }
  cached = 'unknown';
  return cached;
}
