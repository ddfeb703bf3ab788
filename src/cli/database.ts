// The database a CLI command works on: the one the server with the same
// configuration uses. DATABASE_URL when set; otherwise the embedded cluster
// under <data>/pg — through the running server's Postgres when there is one,
// else started just for the command and stopped after it.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { connect, type Sql } from '../db/connect.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';

export interface CliDatabase {
  /** A pool whose session role is aerostore_anon, like the server's: work goes through db/session.ts. */
  sql: Sql;
  /** The connection string: DATABASE_URL, or the embedded cluster's superuser. It holds the password. */
  url: string;
  /** Whether the database is the embedded cluster of config.dataDir. */
  embedded: boolean;
  /** Whether this command started the embedded Postgres (no server was running), to stop it at close. */
  startedHere: boolean;
  close(): Promise<void>;
}

/** A database that cannot be found or reached; the message says what to do. */
export class CliDatabaseError extends Error {}

/** The pid and port of the Postgres running on `pgdata`, if one is (postmaster.pid: line 1 pid, line 4 port). */
async function runningPostmaster(pgdata: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return alive(pid) ? { pid, port } : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's (as root the cluster runs as 'postgres').
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The embedded cluster's directory and superuser password; refuses a data directory without one. */
async function embeddedCluster(config: Config): Promise<{ pgdata: string; password: string }> {
  const pgdata = path.join(config.dataDir, 'pg');
  // Never create a cluster here: a mistyped --data-dir would otherwise
  // get a fresh, empty database that no server uses.
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    throw new CliDatabaseError(
      `no aerostore database in ${config.dataDir} (no ${pgdata}): start the server once with this data directory, ` +
        `or pass --data-dir (AEROSTORE_DATA_DIR) or DATABASE_URL`,
    );
  }
  const password = await readFile(path.join(config.dataDir, 'pg-password'), 'utf8').then(
    (t) => t.trim(),
    () => {
      throw new CliDatabaseError(`cannot read ${path.join(config.dataDir, 'pg-password')}`);
    },
  );
  return { pgdata, password };
}

const superuserUrl = (password: string, port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

async function embeddedUrl(config: Config, log: Logger): Promise<{ url: string; started?: EmbeddedDatabase }> {
  const { pgdata, password } = await embeddedCluster(config);
  const running = await runningPostmaster(pgdata);
  if (running !== undefined) return { url: superuserUrl(password, running.port) };
  const cluster = await startEmbeddedPostgres(config.dataDir, password, log, { sharedBuffers: config.pgSharedBuffers });
  const pid = (await runningPostmaster(pgdata))?.pid;
  // A server started meanwhile stops this Postgres to start its own
  // (db/embedded.ts, stopStalePostmaster): stopping it again would wait for
  // an exit that has already happened, and the server's is not ours to stop.
  const stop = async () => {
    if (pid === undefined || alive(pid)) await cluster.stop();
  };
  return { url: cluster.url, started: { url: cluster.url, stop } };
}

/**
 * The connection string of the configured database as it runs now, without
 * starting anything: DATABASE_URL, or the superuser's URL of the embedded
 * Postgres the server runs. A cluster started for one command stops when
 * the command ends, so a URL to it would be of no use.
 */
export async function runningDatabaseUrl(config: Config): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const { pgdata, password } = await embeddedCluster(config);
  const running = await runningPostmaster(pgdata);
  if (running === undefined) {
    throw new CliDatabaseError(
      `the embedded Postgres of ${config.dataDir} is not running: start the server with this data directory first ` +
        `(a database started for this command would stop when it ends); \`aerostore sql\` alone starts it for its session`,
    );
  }
  return superuserUrl(password, running.port);
}

/** Opens the configured database and brings its schema up to date, as the server does at start-up. */
export async function openDatabase(config: Config, log: Logger): Promise<CliDatabase> {
  const { url, started } = config.databaseUrl ? { url: config.databaseUrl } : await embeddedUrl(config, log);
  try {
    const plain = connect(url, { max: 1 });
    try {
      await migrate(plain);
    } finally {
      await plain.end({ timeout: 5 });
    }
  } catch (err) {
    await started?.stop();
    throw err;
  }
  const sql = connect(url, { max: 2, role: 'aerostore_anon' });
  return {
    sql,
    url,
    embedded: !config.databaseUrl,
    startedHere: started !== undefined,
    close: async () => {
      await sql.end({ timeout: 5 });
      await started?.stop();
    },
  };
}
