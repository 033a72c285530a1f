#!/usr/bin/env bash
# Every test tier, in one run: static checks, then the real parts (built once and cached), then all tests
# (unit, conformance, CLI processes, webhook over TLS, reliability, e2e on the real kube-apiserver and moto)
# in one node test run, so its closing summary counts them all.
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
  echo "== real parts (kube-apiserver, etcd, helm, moto; cached after the first build)"
  bash tools/realparts/build.sh
  eval "$(bash tools/realparts/build.sh --print-env)"
elif [ "${CI:-}" = "true" ]; then
  echo "test-all: CI never skips the real parts" >&2
  exit 2
fi

echo "== tests"
node --test --test-reporter=spec --test-concurrency=2 \
  'src/**/*.test.ts' 'test/**/*.test.ts'
