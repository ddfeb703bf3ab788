// `aerostore lifecycle run`: one lifecycle pass now (src/maintenance/lifecycle.ts),
// directly on the database and data directory of the configuration, beside
// running servers or without one — the pass that the servers schedule, for
// operators and tests. --now sets the pass's "now".
import pino from 'pino';
import { openBlobStore } from '../blobs/store.ts';
import { isoDate, type Config } from '../config.ts';
import { createServices } from '../core/services.ts';
import { runLifecycleAlone, type LifecycleReport } from '../maintenance/lifecycle.ts';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';
import type { CliDatabase } from './database.ts';

export const LIFECYCLE_USAGE = `usage:
  aerostore lifecycle run [--now <ISO 8601 time>] [--bucket <name>] [--json]

Applies the buckets' lifecycle rules (S3 PutBucketLifecycleConfiguration)
once, now: aborts incomplete multipart uploads, expires noncurrent
versions and expired delete markers, expires current versions. Versions
under object lock are left alone and listed. The servers run the same pass
every AEROSTORE_LIFECYCLE_INTERVAL_MINUTES (one process at a time); this
waits for none of them and refuses to run beside one in progress.

--now     the time the pass acts as of (default: the clock, or
          AEROSTORE_LIFECYCLE_NOW when set): e.g. --now 2030-01-01 to see
          what rules of days will do. For testing and dry thinking only.
--bucket  this bucket's rules only.
--json    the report as JSON.

Works directly on the database and data directory of the configuration
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL).`;

interface Invocation {
  now?: Date;
  bucket?: string;
  json: boolean;
  configArgs: string[];
}

function parseInvocation(argv: readonly string[]): Invocation {
  const [command, ...rest] = argv;
  if (command !== 'run') throw new UsageError(command === undefined ? 'a command is needed' : `unknown command: ${command}`);
  const inv: Invocation = { json: false, configArgs: [] };
  for (let i = 0; i < rest.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(rest[i]);
    if (!m) throw new UsageError(`unexpected argument: ${rest[i]}`);
    const [, name, inline] = m;
    const value = () => {
      const v = inline ?? rest[++i];
      if (v === undefined || v === '') throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'json') {
      if (inline !== undefined) throw new UsageError('--json takes no value');
      inv.json = true;
    } else if (name === 'bucket') inv.bucket = value();
    else if (name === 'now') {
      const parsed = isoDate().safeParse(value());
      if (!parsed.success) throw new UsageError('--now needs an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z');
      inv.now = parsed.data;
    } else {
      // A server setting with its value; loadConfig rejects what it does not know.
      inv.configArgs.push(rest[i]);
      if (inline === undefined && i + 1 < rest.length) inv.configArgs.push(rest[++i]);
    }
  }
  return inv;
}

export function describeLifecycleReport(r: LifecycleReport): string {
  const lines = [
    `lifecycle pass as of ${r.now}: ${r.buckets} bucket(s) with rules, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  current versions expired     ${r.expired}`,
    `  noncurrent versions expired  ${r.noncurrentExpired}`,
    `  expired delete markers       ${r.deleteMarkersRemoved}`,
    `  incomplete uploads aborted   ${r.uploadsAborted}`,
    `  kept by object lock          ${r.locked}`,
  ];
  for (const v of r.lockedVersions) lines.push(`    bucket ${v.bucket}, key ${JSON.stringify(v.key)}${v.versionId !== undefined ? `, version ${v.versionId}` : ''}`);
  if (r.locked > r.lockedVersions.length) lines.push(`    … and ${r.locked - r.lockedVersions.length} more`);
  if (r.errors.length) {
    lines.push(`  refused                      ${r.errors.length}`);
    for (const e of r.errors) lines.push(`    bucket ${e.bucket}, key ${JSON.stringify(e.key)}, version ${e.versionId}: ${e.code} ${e.message}`);
  }
  for (const f of r.failedBuckets) lines.push(`failed in bucket ${f.bucket}: ${f.message}`);
  if (r.interrupted) lines.push('interrupted: the pass did not finish');
  return lines.join('\n');
}

async function run(inv: Invocation, { config, db, io }: { config: Config; db: CliDatabase; io: CliIo }): Promise<number> {
  const storage = createServices({
    sql: db.sql,
    blobs: openBlobStore(config.dataDir),
    log: pino({ level: 'warn', base: undefined }, pino.destination(2)),
    region: config.region,
    maxObjectSize: config.maxObjectSize,
    bucketCreators: config.bucketCreators,
    signedUrlMaxExpiry: config.signedUrlMaxExpiry,
    scanning: false,
    blockUntilScanned: false,
  });
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  try {
    const report = await runLifecycleAlone(storage, { now: inv.now ?? config.lifecycleNow, bucket: inv.bucket, signal: abort.signal });
    if (!report) {
      io.err('aerostore lifecycle: a pass is in progress in another process; try again when it ends');
      return 1;
    }
    io.out(inv.json ? JSON.stringify(report, null, 2) : describeLifecycleReport(report));
    return report.interrupted || report.errors.length > 0 || report.failedBuckets.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', interrupt);
    // Blobs that reached zero references are collected before the database closes.
    await Promise.allSettled([...storage.background]);
  }
}

/** Runs `aerostore lifecycle <argv...>`; resolves to the process exit code. */
export function runLifecycleCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return runCommand({ name: 'lifecycle', usage: LIFECYCLE_USAGE, needsArguments: true, parse: parseInvocation, run }, argv, io);
}
