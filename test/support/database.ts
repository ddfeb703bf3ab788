// Direct SQL access to the embedded Postgres a test server runs in its data
// directory (the port is in postmaster.pid, line 4; the password is the one
// the server generated).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';

/** The superuser URL of the embedded Postgres of a server's data directory. */
export async function embeddedDatabaseUrl(dataDir: string): Promise<string> {
  const port = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3]);
  const password = (await readFile(path.join(dataDir, 'pg-password'), 'utf8')).trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/**
 * A connection as an application's own login role, created here with the
 * request roles an application is told to grant it (README "Querying the
 * metadata with SQL"). `superuser` is a connection to embeddedDatabaseUrl.
 */
export async function connectAsApplication(
  superuser: postgres.Sql,
  dataDir: string,
  login: string,
): Promise<postgres.Sql> {
  const password = `${login}-pw`;
  await superuser.unsafe(`create role ${login} login password '${password}' in role aerostore_anon, aerostore_authenticated`);
  const url = new URL(await embeddedDatabaseUrl(dataDir));
  url.username = login;
  url.password = password;
  return postgres(url.toString(), { max: 1, onnotice: () => {} });
}
