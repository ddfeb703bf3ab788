// Direct SQL access to the embedded Postgres a test server runs in its data
// directory (the port is in postmaster.pid, line 4; the password is the one
// the server generated).
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The superuser URL of the embedded Postgres of a server's data directory. */
export async function embeddedDatabaseUrl(dataDir: string): Promise<string> {
  const port = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3]);
  const password = (await readFile(path.join(dataDir, 'pg-password'), 'utf8')).trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}
