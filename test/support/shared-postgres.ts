// A freshly migrated database for a unit test file, cheaply: one Postgres per
// test run, and per file a database of its own cloned from a migrated
// template (`create database … template …`: a copy of the template's pages,
// ~0.3 s, instead of replaying the migrations).
//
// `npm run test:fast` runs its files through a wrapper
// (test/support/with-shared-postgres.ts) that starts the run's Postgres,
// hands the files the template's URL in AEROSTORE_TEST_DATABASE_URL, and
// stops and removes that Postgres when the run ends, however it ended. The
// variable may also name a migrated database elsewhere, on a Postgres where
// its login may create databases and roles. A file run by hand without it
// (`node --import tsx --test src/core/objects.test.ts`) starts a private
// cluster (a few seconds more) and stops and removes it when it closes its
// database.
//
// The embedded Postgres is the server's own (src/db/embedded.ts: as root it
// runs as the system user `postgres`), told not to fsync (its data is thrown
// away), and the template is migrated by the server's own migrate().
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { connect } from '../../src/db/connect.ts';
import { generateDatabasePassword, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';

export const TEST_DATABASE_ENV = 'AEROSTORE_TEST_DATABASE_URL';

const TEMPLATE = 'aerostore_template';

export interface TestCluster {
  /** The migrated template database: AEROSTORE_TEST_DATABASE_URL. */
  templateUrl: string;
  /** Stops the cluster and removes its directory. */
  stop(): Promise<void>;
}

/** `url` with its database replaced. */
function onDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

function superuser(url: string): postgres.Sql {
  return postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'aerostore-tests' } });
}

/** Whether the postmaster of a data directory is still running (a Ctrl-C reaches it too: same process group). */
async function postmasterRunning(pgdata: string): Promise<boolean> {
  const pid = Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * An embedded Postgres in a new directory under os.tmpdir(), with the
 * template database migrated. Its data is thrown away, so nothing is fsynced.
 */
export async function startTestCluster(): Promise<TestCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-test-pg-'));
  // mkdtemp makes 0700 directories; as root the cluster runs as 'postgres'.
  await chmod(dir, 0o755);
  const log = pino({ level: 'warn', base: undefined }, pino.destination(2));
  let stopPostgres = async () => {};
  const stop = async () => {
    if (await postmasterRunning(path.join(dir, 'pg'))) await stopPostgres();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const embedded = await startEmbeddedPostgres(dir, generateDatabasePassword(), log);
    stopPostgres = () => embedded.stop();
    const admin = superuser(embedded.url);
    try {
      for (const setting of ['fsync', 'synchronous_commit', 'full_page_writes']) await admin.unsafe(`alter system set ${setting} = off`);
      await admin`select pg_reload_conf()`;
      await admin.unsafe(`create database ${ident(TEMPLATE)}`);
    } finally {
      await admin.end({ timeout: 5 });
    }
    const templateUrl = onDatabase(embedded.url, TEMPLATE);
    // As the server migrates: on a connection of its own, as the connecting role.
    const migrator = connect(templateUrl, { max: 1 });
    try {
      await migrate(migrator);
    } finally {
      await migrator.end({ timeout: 5 });
    }
    return { templateUrl, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

export interface TestDatabase {
  /** A superuser URL of the file's own database, migrated. */
  url: string;
  /** Drops the database (and stops the private cluster, if this file started one). */
  close(): Promise<void>;
}

/**
 * A database of its own for the calling test file, cloned from the run's
 * template, or from a private cluster's when AEROSTORE_TEST_DATABASE_URL is
 * unset. Call it once per file (each call without the variable starts a cluster).
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  const cluster = process.env[TEST_DATABASE_ENV] ? undefined : await startTestCluster();
  const templateUrl = process.env[TEST_DATABASE_ENV] ?? cluster!.templateUrl;
  const name = `aerostore_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  // Connected elsewhere than the template: cloning needs it to have no sessions.
  const maintenance = onDatabase(templateUrl, 'postgres');
  const admin = superuser(maintenance);
  try {
    await admin.unsafe(`create database ${ident(name)} template ${ident(databaseOf(templateUrl))}`);
  } catch (err) {
    await admin.end({ timeout: 1 });
    await cluster?.stop();
    throw err;
  }
  await admin.end({ timeout: 5 });
  return {
    url: onDatabase(templateUrl, name),
    close: async () => {
      const admin = superuser(maintenance);
      try {
        await admin.unsafe(`drop database if exists ${ident(name)} with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
        await cluster?.stop();
      }
    },
  };
}
