#!/usr/bin/env bash
# Build kirsa as a single executable (a Node single executable application, SEA): one file holding Node and
# a bundle of kirsa, that runs on a Linux machine with no Node at all, like a kubectl download.
#   1. esbuild bundles tools/sea/entry.ts (the CLI, and the s3-echoer example the demo runs) with every
#      dependency into one minified CommonJS file: Node 24's SEAs load one CommonJS script;
#   2. Node (`--experimental-sea-config`) turns it into a blob, with package.json as an asset (the version);
#   3. postject injects the blob into a copy of the Node binary, stripped of its debug symbols first.
# The result is cached by its inputs, like tools/image and the real parts.
#
# Usage:
#   tools/sea/build.sh                 build if missing, then copy it to ./kirsa-<os>-<arch> (npm run build:sea)
#   tools/sea/build.sh --cache-only    build if missing, leave it in the cache (what npm test does)
#   tools/sea/build.sh --print-env     print `export KIRSA_SEA=...` (never builds; exit 1 if missing)
#
# The executable embeds the Node that builds it: the project's Node 24 (node_modules/node), or the node
# binary KIRSA_SEA_NODE names. It is built for that binary's platform: this script knows Linux (x64,
# arm64); README.md ("Install") says how other platforms are built.
#
# Cache: ${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}/sea
#   tools-<versions>/   esbuild and postject, installed with npm at the versions pinned below
#   kirsa-<key>/        the executable, its bundle, build.log, stamp; <key> hashes this script, the Node
#                       binary, the tool versions and every input of the bundle (src/, examples/, the entry,
#                       package.json, package-lock.json). A part counts only when its stamp is there.
set -euo pipefail

# Bump when a change to this script must rebuild everything.
SCRIPT_VERSION=1
ESBUILD_VERSION=0.28.2
POSTJECT_VERSION=1.0.0-alpha.6
# The fuse Node's SEA support looks for in its own binary (Node's single-executable-applications doc).
SEA_FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
# How many built executables (about 115 MB each) stay in the cache.
KEEP=3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}
dir="$cache/sea"
mode=${1:-copy}

die() {
  echo "sea: $*" >&2
  exit 1
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

node_bin=${KIRSA_SEA_NODE:-$repo/node_modules/node/bin/node}
[[ -x $node_bin ]] ||
  die "no node binary at $node_bin: run npm ci (or npm rebuild node after --ignore-scripts), or set KIRSA_SEA_NODE"
node_version=$("$node_bin" --version)
target=$("$node_bin" -p 'process.platform + "-" + process.arch')
[[ $target == linux-* ]] ||
  die "$node_bin is a $target Node; this script builds Linux executables (README.md, Install, says how to build others)"

# The Node gate of bin/node-gate.js, for the Node the executable will carry.
gate=$("$node_bin" --input-type=module -e "
  import { nodeVersionProblem, packageFloor } from '$repo/bin/node-gate.js';
  const problem = nodeVersionProblem({ version: process.version, layout: 'sea-build', floor: packageFloor(new URL('file://$repo/')) });
  if (problem) console.log(problem.message + '\n  hint: ' + problem.hint);
") || die "could not run $node_bin"
[[ -z $gate ]] || die "${gate#kirsa: }"

key=$(
  {
    echo "script $SCRIPT_VERSION esbuild $ESBUILD_VERSION postject $POSTJECT_VERSION"
    echo "node $node_version $target $(stat -c %s "$node_bin")"
    cd "$repo"
    find src examples tools/sea package.json package-lock.json -type f ! -name '*.test.ts' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
out="$dir/kirsa-$key"
exe="$out/kirsa-$target"

if [[ $mode == --print-env ]]; then
  [[ -f $out/stamp ]] || die "not built for the current sources: run bash tools/sea/build.sh"
  echo "export KIRSA_SEA=$exe"
  exit 0
fi
[[ $mode == copy || $mode == --cache-only ]] || die "unknown argument $mode (see the usage at the top of $0)"

tools="$dir/tools-esbuild-$ESBUILD_VERSION-postject-$POSTJECT_VERSION"
if [[ ! -f $tools/stamp ]]; then
  t0=$EPOCHREALTIME
  rm -rf "$tools"
  mkdir -p "$tools"
  # Kept out of the project's devDependencies: only this build uses them, and `npm ci` stays as it was.
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error \
    "esbuild@$ESBUILD_VERSION" "postject@$POSTJECT_VERSION" >&2 || die "npm install of esbuild and postject failed"
  touch "$tools/stamp"
  echo "sea: tools          installed in $(elapsed "$t0")  esbuild $ESBUILD_VERSION, postject $POSTJECT_VERSION" >&2
fi

if [[ ! -f $out/stamp ]]; then
  t0=$EPOCHREALTIME
  rm -rf "$out"
  mkdir -p "$out"
  {
    # --keep-names: error classes keep their names (the CLI and the AWS SDK tell errors apart by name).
    # import.meta is empty in CommonJS; src/self.ts and src/version.ts do not read it in an executable.
    "$tools/node_modules/.bin/esbuild" "$repo/tools/sea/entry.ts" --bundle --platform=node --format=cjs \
      --target=node22 --minify --keep-names --log-level=warning --log-override:empty-import-meta=silent \
      --outfile="$out/kirsa.cjs"
    cp "$repo/package.json" "$out/package.json"
    cat >"$out/sea-config.json" <<EOF
{
  "main": "$out/kirsa.cjs",
  "output": "$out/kirsa.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": true,
  "assets": { "package.json": "$out/package.json" }
}
EOF
    "$node_bin" --experimental-sea-config "$out/sea-config.json"
    cp "$node_bin" "$exe.tmp"
    chmod u+w "$exe.tmp"
    # Node's release binary carries about 18 MB of symbols that a CLI never uses.
    if command -v strip >/dev/null; then strip --strip-all "$exe.tmp"; fi
    "$tools/node_modules/.bin/postject" "$exe.tmp" NODE_SEA_BLOB "$out/kirsa.blob" --sentinel-fuse "$SEA_FUSE"
    mv "$exe.tmp" "$exe"
    rm -f "$out/kirsa.blob"
  } >"$out/build.log" 2>&1 || {
    tail -n 30 "$out/build.log" >&2
    die "build failed; the log is $out/build.log"
  }
  echo "$key" >"$out/stamp"
  echo "sea: kirsa-$target built   in $(elapsed "$t0")  $(du -m "$exe" | cut -f1) MB, $exe" >&2
  # Older builds go, newest first kept.
  ls -1dt "$dir"/kirsa-*/ 2>/dev/null | tail -n +$((KEEP + 1)) | xargs -r rm -rf
fi

if [[ $mode == copy ]]; then
  cp "$exe" "$repo/kirsa-$target.tmp"
  mv "$repo/kirsa-$target.tmp" "$repo/kirsa-$target"
  echo "sea: $repo/kirsa-$target ($node_version inside)" >&2
fi
