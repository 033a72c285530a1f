#!/usr/bin/env bash
# Every test tier, in one run: static checks, then the real parts, the image and the single executable (each
# built once and cached), then all tests: unit, conformance, CLI processes, the package, webhook over TLS,
# reliability, e2e on the real kube-apiserver and moto (one node test run, whose closing summary counts
# them), and beside it the node tier: pods run by a real kubelet, which needs root (a summary of its own).
# Run it as `npm test`: npm puts node_modules/.bin first on PATH, so `node` here is the project's Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then
  echo "test-all: needs Node.js 24 (found $(node --version)); run it as 'npm test' after 'npm ci'." >&2
  exit 2
fi

echo "== static checks (tsc, biome)"
tsc -p tsconfig.json
biome check .

if [ -x tools/realparts/build.sh ] && [ "${KIRSA_SKIP_REAL_PARTS:-}" != "1" ]; then
  echo "== real parts (kube-apiserver, etcd, helm, moto, the node's parts; cached after the first build)"
  bash tools/realparts/build.sh
  eval "$(bash tools/realparts/build.sh --print-env)"
elif [ "${CI:-}" = "true" ]; then
  echo "test-all: CI never skips the real parts" >&2
  exit 2
fi

# The image: the repository's Dockerfile built with buildah on a local Node 24 base (no Docker daemon, no
# registry) and cached like the real parts; test/image runs it with runc. Outside CI an image that cannot be
# built (not root, no apt) makes that test skip with the reason; CI never skips it.
if [ "${KIRSA_SKIP_IMAGE:-}" != "1" ]; then
  echo "== image (tools/image/build.sh; cached after the first build)"
  image_err=$(mktemp)
  status=0
  bash tools/image/build.sh 2>"$image_err" || status=$?
  cat "$image_err" >&2
  if [ "$status" = 0 ]; then
    eval "$(bash tools/image/build.sh --print-env)"
  elif [ "${CI:-}" = "true" ]; then
    echo "test-all: CI never skips the image" >&2
    exit 2
  else
    KIRSA_IMAGE_UNAVAILABLE="tools/image/build.sh failed ($(tail -n 1 "$image_err"))"
    export KIRSA_IMAGE_UNAVAILABLE
  fi
  rm -f "$image_err"
elif [ "${CI:-}" = "true" ]; then
  echo "test-all: CI never skips the image" >&2
  exit 2
fi

# The single executable: esbuild's bundle of kirsa injected into a copy of the project's Node (no network
# past npm for esbuild and postject), cached by its inputs; test/sea runs it with no Node on PATH.
if [ "${KIRSA_SKIP_SEA:-}" != "1" ]; then
  echo "== single executable (tools/sea/build.sh; cached after the first build)"
  bash tools/sea/build.sh --cache-only
  eval "$(bash tools/sea/build.sh --print-env)"
elif [ "${CI:-}" = "true" ]; then
  echo "test-all: CI never skips the single executable" >&2
  exit 2
fi

echo "== tests"
# The node tier (test/node/) spends most of its ~10 minutes waiting for a kubelet (its token-rotation test
# waits eight), and node --test runs files in name order, so inside the main run it would start last and
# be the tail of every run. It runs beside the other tiers from the start instead, its report kept in a
# file and printed after theirs.
node_report=$(mktemp)
node --test --test-reporter=spec --test-concurrency=1 'test/node/*.test.ts' >"$node_report" 2>&1 &
node_tier=$!
status=0
# Every tier folder but test/node/ (test/static/tiers.test.ts checks this list against the folders).
node --test --test-reporter=spec --test-concurrency=2 'src/**/*.test.ts' \
  'test/static/**/*.test.ts' 'test/conformance/**/*.test.ts' 'test/loopback/**/*.test.ts' \
  'test/real-parts/**/*.test.ts' 'test/image/**/*.test.ts' 'test/package/**/*.test.ts' \
  'test/sea/**/*.test.ts' || status=$?
node_status=0
wait "$node_tier" || node_status=$?
echo "== the node tier (test/node/), run beside the others"
cat "$node_report"
rm -f "$node_report"
if [ "$status" != 0 ] || [ "$node_status" != 0 ]; then
  echo "test-all: tests failed (other tiers: exit $status; node tier: exit $node_status)" >&2
  exit 1
fi
