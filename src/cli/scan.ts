// `aerostore scan ...`: the virus-scan queue, directly on the database, as
// the admin API's /scan endpoints (admin/scan.ts) show and change it. The
// running servers' workers pick re-queued blobs up at their next poll.
import { rescan, scanOverview, type ScanOverview } from '../scanning/queue.ts';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';
import type { CliDatabase } from './database.ts';

export const SCAN_USAGE = `usage:
  aerostore scan status [--json]
  aerostore scan rescan [--bucket <name>]

status: the scan queue (jobs, scanning, retrying, the last error) and the
verdicts of the stored content. rescan: every blob (of one bucket) is
scanned again, as after a signature update; clean content is pending until
then, infected content stays quarantined until a new verdict.

Works directly on the database of the configured data directory
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL).`;

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
export function runScanCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return runCommand({ name: 'scan', usage: SCAN_USAGE, needsArguments: true, parse: parseInvocation, run: (inv, { db, io: out }) => run(inv, db, out) }, argv, io);
}
