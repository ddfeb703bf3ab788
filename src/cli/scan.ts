// `aerostore scan ...`: the virus-scan queue, directly on the database, as
// the admin API's /scan endpoints (admin/scan.ts) show and change it. The
// running servers' workers pick re-queued blobs up at their next poll.
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { rescan, scanOverview, type ScanOverview } from '../scanning/queue.ts';
import { CliDatabaseError, openDatabase, type CliDatabase } from './database.ts';
import type { CliIo } from './keys.ts';

export const SCAN_USAGE = `usage:
  aerostore scan status [--json]
  aerostore scan rescan [--bucket <name>]

status: the scan queue (jobs, scanning, retrying, the last error) and the
verdicts of the stored content. rescan: every blob (of one bucket) is
scanned again, as after a signature update; clean content is pending until
then, infected content stays quarantined until a new verdict.

Works directly on the database of the configured data directory
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL).`;

/** Wrong invocation: exit 2 with the usage text. */
class UsageError extends Error {}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  env: process.env,
};

type Invocation = { configArgs: string[] } & ({ command: 'status'; json: boolean } | { command: 'rescan'; bucket?: string });

function parseInvocation(argv: readonly string[]): Invocation {
  const [command, ...rest] = argv;
  if (command !== 'status' && command !== 'rescan') {
    throw new UsageError(command === undefined ? 'a command is needed' : `unknown command: ${command}`);
  }
  let json = false;
  let bucket: string | undefined;
  const configArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(rest[i]);
    if (!m) throw new UsageError(`unexpected argument: ${rest[i]}`);
    const [, name, inline] = m;
    if (name === 'json' && command === 'status') {
      if (inline !== undefined) throw new UsageError('--json takes no value');
      json = true;
    } else if (name === 'bucket' && command === 'rescan') {
      bucket = inline ?? rest[++i];
      if (!bucket) throw new UsageError('--bucket needs a name');
    } else {
      // A server setting with its value; loadConfig rejects what it does not know.
      configArgs.push(rest[i]);
      if (inline === undefined && i + 1 < rest.length) configArgs.push(rest[++i]);
    }
  }
  return command === 'status' ? { command, json, configArgs } : { command, bucket, configArgs };
}

function describe(o: ScanOverview): string {
  const q = o.queue;
  const lines = [
    `queue: ${q.jobs} job(s), ${q.scanning} scanning, ${q.retrying} retrying` +
      (q.oldest_enqueued_at ? `, oldest enqueued ${q.oldest_enqueued_at}` : ''),
    ...(q.last_error ? [`last error: ${q.last_error}`] : []),
    'verdicts (distinct contents):',
    ...Object.entries(o.verdicts).map(([status, v]) => `  ${status.padEnd(10)} ${String(v.blobs).padStart(8)}  ${v.bytes} bytes`),
    `quarantined objects: ${o.quarantined_objects}`,
  ];
  return lines.join('\n');
}

async function run(inv: Invocation, db: CliDatabase, io: CliIo): Promise<number> {
  if (inv.command === 'status') {
    const overview = await scanOverview(db.sql);
    io.out(inv.json ? JSON.stringify(overview, null, 2) : describe(overview));
    return 0;
  }
  const queued = await rescan(db.sql, inv.bucket);
  if (queued === undefined) {
    io.err(`aerostore scan: no bucket ${inv.bucket}`);
    return 1;
  }
  io.out(`queued ${queued} blob(s) for a new scan${inv.bucket ? ` in bucket ${inv.bucket}` : ''}`);
  return 0;
}

/** Runs `aerostore scan <argv...>`; resolves to the process exit code. */
export async function runScanCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    (argv.length === 0 ? io.err : io.out)(SCAN_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  let inv: Invocation;
  let config: Config;
  try {
    inv = parseInvocation(argv);
    config = loadConfig(io.env, inv.configArgs);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    io.err(`aerostore scan: ${err.message}\n\n${SCAN_USAGE}`);
    return 2;
  }
  // Only the embedded Postgres logs here, and only what needs attention.
  const log = pino({ level: 'warn', base: undefined }, pino.destination(2));
  let db: CliDatabase | undefined;
  try {
    db = await openDatabase(config, log);
    return await run(inv, db, io);
  } catch (err) {
    if (err instanceof CliDatabaseError) {
      io.err(`aerostore scan: ${err.message}`);
      return 1;
    }
    io.err(`aerostore scan failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    await db?.close();
  }
}
