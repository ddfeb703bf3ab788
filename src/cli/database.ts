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
  /** Whether the database is the embedded cluster of config.dataDir. */
  embedded: boolean;
  close(): Promise<void>;
}

/** A database that cannot be found or reached; the message says what to do. */
export class CliDatabaseError extends Error {}

/** The port of the Postgres running on `pgdata`, if one is (postmaster.pid: line 1 pid, line 4 port). */
async function runningPostmasterPort(pgdata: string): Promise<number | undefined> {
  const text = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but another user's (as root the cluster runs as 'postgres').
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}

async function embeddedUrl(config: Config, log: Logger): Promise<{ url: string; started?: EmbeddedDatabase }> {
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
  const port = await runningPostmasterPort(pgdata);
  if (port !== undefined) return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres` };
  const started = await startEmbeddedPostgres(config.dataDir, password, log);
  return { url: started.url, started };
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
    embedded: !config.databaseUrl,
    close: async () => {
      await sql.end({ timeout: 5 });
      await started?.stop();
    },
  };
}
