# The kirsa webhook image. Build stage: install everything and compile TypeScript to dist/ (Node refuses to
# strip types under node_modules, and a compiled image starts faster). Runtime stage: production
# dependencies and dist/ only, without npm, as a non-root user, on a read-only root filesystem.
#
#   docker build -t kirsa:dev \
#     --build-arg VERSION="$(node -p 'require("./package.json").version')" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#
# NODE_IMAGE is the Node.js 24 image both stages start from: anything with node, npm, a shell and `rm`
# (the official slim image has them). The default is a tag, not a digest: this project is built on machines
# that cannot reach an image registry, so no digest could be checked here, and a digest written down unchecked
# could name the wrong platform or nothing at all. For a reproducible build pin it yourself:
#   --build-arg NODE_IMAGE=docker.io/library/node:24-bookworm-slim@sha256:<digest>
# (`skopeo inspect docker://docker.io/library/node:24-bookworm-slim` or `docker buildx imagetools inspect`
# print the digest). The tests build this same file on a base made from Debian packages and the project's
# own Node 24 binary (tools/image/build.sh).
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN node_modules/.bin/tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
# V8 optimizes no further than Maglev (--max-opt=2): TurboFan's compiles on the webhook's one core set its
# latency tail for the first 20 s of load after every start (p99 8-42 ms against 2.7-3.5 ms without them,
# 1,000 admissions/s of 20 KB pods), and TurboFan's code pages alone were 5.6 MB of an idle webhook's RSS
# (68 -> 62 MB). It costs CPU: in the benchmark's closed loops 12 % more per 1 KB admission and 2 % per 20 KB
# one, up to 15 % at 1,000/s (docs/webhook.md, "Performance"). Node refuses this flag in NODE_OPTIONS, so
# node gets it on its command line. --build-arg NODE_FLAGS= turns TurboFan back on.
# No function reaches Maglev while kirsa loads (--invocation-count-for-maglev=100000): loading about a hundred
# modules made Node's module loader hot enough for 29 Maglev compiles of code that never runs again, and they
# paged 2.3 MB of the compiler into an idle webhook's RSS. The webhook puts V8's default back once it listens
# (KIRSA_V8_FLAGS_WHEN_LISTENING below; src/io/v8-flags.ts), so its own hot path tiers up as before. Other
# verbs run in the container (`kirsa doctor`, `kirsa mutate`) keep the start-up threshold: they end in seconds.
# Nor does anything reach Sparkplug, V8's baseline compiler, while kirsa loads (--no-sparkplug, turned back on
# once it listens in the same way): start-up's baseline compiles of Node's module loader and kirsa's set-up
# code were 0.7-1.0 MB of an idle in-cluster webhook's RSS (60.0-60.2 -> 59.3-59.4 MB; docs/webhook.md,
# "Sparkplug after start-up"), with the same CPU per admission under load.
ARG NODE_FLAGS="--max-opt=2 --invocation-count-for-maglev=100000 --no-sparkplug"
# The webhook never runs npm, npx, corepack or yarn; a runtime without them has fewer tools for an intruder
# and fewer packages for a scanner to report. `kirsa` goes on PATH (for `--entrypoint kirsa`), and /webhook
# is the command the reference webhook's manifests give the container (bin/webhook.js): two-line scripts that
# start node with NODE_FLAGS, exec'd so that node stays the container's first process and gets its signals.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
  && printf '#!/bin/sh\nexec node %s /app/bin/kirsa.js "$@"\n' "$NODE_FLAGS" > /usr/local/bin/kirsa \
  && printf '#!/bin/sh\nexec node %s /app/bin/webhook.js "$@"\n' "$NODE_FLAGS" > /webhook \
  && chmod 755 /usr/local/bin/kirsa /webhook
# A 4 MB young generation (V8's semi-space; 16 MB by default). At 1,000 admissions/s with 20 KB pods a 1 MB one
# was scavenged 75 times a second and promoted request garbage, so the old space needed a 4-10 ms mark-compact
# every 2-5 s: kirsa's latency tail (docs/webhook.md, "Where the tail and the memory come from"). At 4 MB: 4x
# fewer scavenges, fewer mark-compacts, no more RSS under load than at 1 MB, and a large mapping's garbage is
# still collected as it goes: 50,000 identities idle at 91.9 MB (88-94 MB at 1 MB; bench/identities-memory.ts).
# 16 MB cut scavenges 8x but held 10-25 MB more under load. --expose-gc lets the webhook run one full collection
# right after it loads a large mapping (src/identity/mapping-text.ts) and give memory back once a burst of
# admissions is over (src/webhook/idle-release.ts). They are set here, not on a command line, so that the
# entrypoint and /webhook both get them.
ENV NODE_ENV=production NODE_OPTIONS="--max-semi-space-size=4 --expose-gc"
# glibc's malloc with a fixed mmap threshold: blocks of 32 KB and more get their own mapping, returned to the
# system when freed. With glibc's default the threshold climbs as such blocks are freed (up to 32 MB), so
# under load the TLS and socket buffers of 16-64 KB came from the arenas and stayed there: RSS 1.25-1.31x its
# idle figure 20 s after 20 s of 1,000 admissions/s with 20 KB pods, 1.12-1.14x with this (the same CPU per
# admission and tail; docs/webhook.md, "Memory after load: glibc's arenas").
ENV MALLOC_MMAP_THRESHOLD_=32768
# And no top pad on glibc's main heap (128 KB by default: each time malloc grows the heap it asks the system
# for that much more than it needs). Measured, not traced to a cause: with it, the main heap grew to 14-20 MB
# in the first 2 s of 1,000 admissions/s with 20 KB pods after a start and stayed there; without it, to 10-11
# MB. RSS 20 s after that load 1.29-1.39x the idle figure (7 runs) against 1.23-1.26x (6), the same CPU per
# admission (docs/webhook.md, "glibc's top pad"). MALLOC_TRIM_THRESHOLD_=0 alone changed nothing.
ENV MALLOC_TOP_PAD_=0
# V8's default Maglev threshold and Sparkplug (`node --v8-options`), which the webhook sets once it listens:
# the start-up settings in NODE_FLAGS above are for loading only (a test keeps these equal to V8's defaults).
ENV KIRSA_V8_FLAGS_WHEN_LISTENING="--invocation-count-for-maglev=400 --sparkplug"
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# 65532: the conventional "nonroot" uid, matched by runAsUser in deploy/.
USER 65532:65532
EXPOSE 8443 9999
ENTRYPOINT ["kirsa"]
CMD ["webhook"]

ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="kirsa" \
      org.opencontainers.image.description="IAM Roles for Service Accounts on self-managed Kubernetes: the pod identity webhook" \
      org.opencontainers.image.source="https://github.com/kirsa-dev/kirsa" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
