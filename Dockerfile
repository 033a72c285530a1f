# The kirsa webhook image. Build stage: install everything and compile TypeScript to dist/ (Node refuses to
# strip types under node_modules, and a compiled image starts faster). Runtime stage: production
# dependencies and dist/ only, as a non-root user, on a read-only root filesystem.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# 65532: the conventional "nonroot" uid, matched by runAsUser in deploy/.
USER 65532:65532
EXPOSE 8443 9999
# A 1 MB young generation: the short-lived garbage of reading a large identity mapping is collected as it
# goes instead of growing the heap. --expose-gc lets the webhook run one full collection right after it
# loads a large mapping (src/identity/mapping-text.ts). With 50,000 identities it idles at 88-94 MB of RSS
# (bench/identities-memory.ts), with the same admission latency in bench/webhook-admission.ts.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--expose-gc", "/app/bin/kirsa.js"]
CMD ["webhook"]
