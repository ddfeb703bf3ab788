// `aerostore fsck`: checks that the blob store and the database agree
// (src/maintenance/fsck.ts), with a progress bar on a terminal, and a summary.
// Safe to run beside running servers: it works on the same database and data
// directory, and repairs only under the locks uploads take.
import { BucketKeyRing } from '../blobs/bucket-key-ring.ts';
import { MasterKey } from '../principals/master-key.ts';
import type { Logger } from 'pino';
import { openBlobStore } from '../blobs/store.ts';
import type { Config } from '../config.ts';
import { DEFAULT_FSCK_GRACE_MS, fsck, FsckError, PROBLEM_KINDS, type FsckProgress, type FsckReport, type ProblemKind } from '../maintenance/fsck.ts';
import { runCommand, UsageError, type CliIo } from './command.ts';
import type { CliDatabase } from './database.ts';

export const FSCK_USAGE = `usage:
  aerostore fsck [--repair] [--deep] [--bucket <name>] [--grace-minutes <n>] [--json]

Checks that every object has its blob row and file (of the right size; with
--deep, the right SHA-256), that every blob file has a row, that reference
counts match the objects, and that no orphan temp or part files are left.
--repair recounts references, collects unreferenced blobs, and removes orphan
files idle for --grace-minutes (default ${DEFAULT_FSCK_GRACE_MS / 60_000}); a row whose file is missing is
listed, never deleted. Exit status: 0 when nothing remains to fix, 1 when
something does, 2 for a wrong invocation.

Works directly on the database and data directory of the configuration
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL), running servers or not.`;

export interface FsckIo extends CliIo {
  /** Progress output (stderr); a TTY gets a redrawn bar, anything else a line now and then. */
  progress: (text: string) => void;
  isTTY: boolean;
}

const processIo: FsckIo = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  progress: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
  env: process.env,
};

interface Invocation {
  repair: boolean;
  deep: boolean;
  json: boolean;
  bucket?: string;
  graceMs: number;
  configArgs: string[];
}

function parseInvocation(argv: readonly string[]): Invocation {
  const inv: Invocation = { repair: false, deep: false, json: false, graceMs: DEFAULT_FSCK_GRACE_MS, configArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) throw new UsageError(`unexpected argument: ${argv[i]}`);
    const [, name, inline] = m;
    const flag = (key: 'repair' | 'deep' | 'json') => {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      inv[key] = true;
    };
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'repair' || name === 'deep' || name === 'json') flag(name);
    else if (name === 'bucket') inv.bucket = value();
    else if (name === 'grace-minutes') {
      const minutes = Number(value());
      if (!Number.isFinite(minutes) || minutes < 0) throw new UsageError('--grace-minutes needs a number of minutes, 0 or more');
      inv.graceMs = minutes * 60_000;
    } else {
      // A server setting with its value; loadConfig rejects what it does not know.
      inv.configArgs.push(argv[i]);
      if (inline === undefined && i + 1 < argv.length) inv.configArgs.push(argv[++i]);
    }
  }
  return inv;
}

const UNITS: Record<FsckProgress['unit'], (n: number) => string> = {
  buckets: (n) => `${n} bucket(s)`,
  blobs: (n) => `${n} blob(s)`,
  files: (n) => `${n} file(s)`,
  bytes: (n) => formatBytes(n),
};

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Draws progress: a bar redrawn in place on a terminal, a plain line every 5 s otherwise. */
function progressPrinter(io: FsckIo): { update: (p: FsckProgress) => void; end: () => void } {
  let lastLineAt = 0;
  let drawn = false;
  return {
    update(p) {
      const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
      const counts = `${UNITS[p.unit](p.done)} of ${UNITS[p.unit](p.total)}`;
      if (io.isTTY) {
        const width = 30;
        const filled = Math.round(share * width);
        io.progress(`\r\x1b[2K${p.phase.padEnd(7)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%  ${counts}`);
        drawn = true;
      } else if (Date.now() - lastLineAt >= 5_000) {
        lastLineAt = Date.now();
        io.progress(`fsck: ${p.phase}: ${counts} (${Math.floor(share * 100)}%)\n`);
      }
    },
    end() {
      if (drawn) io.progress('\r\x1b[2K');
      drawn = false;
    },
  };
}

export function describeReport(r: FsckReport): string {
  const c = r.checked;
  const lines = [
    `checked ${c.buckets} bucket(s), ${c.objects} object(s), ${c.blobRows} blob row(s), ${c.blobFiles} blob file(s)` +
      (r.scope.deep ? `, ${formatBytes(c.bytesHashed)} hashed` : '') +
      `, ${c.uploads} multipart upload(s), ${c.partFiles} part file(s)` +
      (r.scope.bucket === undefined ? `, ${c.tempFiles} temp file(s)` : ` (bucket ${r.scope.bucket} only)`) +
      ` in ${(r.durationMs / 1000).toFixed(1)} s`,
  ];
  const kinds = Object.keys(r.found) as ProblemKind[];
  if (kinds.length) {
    lines.push('', 'problems:');
    for (const kind of kinds) {
      const found = r.found[kind] ?? 0;
      const repaired = r.repaired[kind] ?? 0;
      const remaining = r.remaining[kind] ?? 0;
      const status = [`${found} found`, ...(repaired ? [`${repaired} repaired`] : []), ...(remaining ? [`${remaining} remaining`] : [])].join(', ');
      lines.push(`  ${kind.padEnd(24)} ${status}`, `    ${PROBLEM_KINDS[kind].meaning}`);
      for (const p of r.problems.filter((p) => p.kind === kind)) {
        const where = [
          p.bucket !== undefined ? `bucket ${p.bucket}` : undefined,
          p.key !== undefined ? `key ${JSON.stringify(p.key)}` : undefined,
          p.sha256 !== undefined ? `sha256 ${p.sha256}` : undefined,
          p.path !== undefined && p.sha256 === undefined ? p.path : undefined,
        ].filter(Boolean);
        lines.push(`    ${p.repaired ? 'repaired' : '-'} ${where.join(', ')}${p.detail ? ` (${p.detail})` : ''}`);
      }
      const listed = r.problems.filter((p) => p.kind === kind).length;
      if (listed < found) lines.push(`    … and ${found - listed} more`);
    }
  }
  if (r.inFlight) lines.push('', `${r.inFlight} file(s) changed within the last ${r.scope.graceMs / 60_000} min: taken for uploads in flight, left alone`);
  const remaining = Object.values(r.remaining).reduce((a, b) => a + (b ?? 0), 0);
  lines.push(
    '',
    r.interrupted
      ? 'interrupted: the check did not finish'
      : remaining === 0
        ? Object.keys(r.found).length
          ? 'result: clean after repair'
          : 'result: clean'
        : `result: ${remaining} problem(s) remain` + (r.scope.repair ? '' : ' (run with --repair to fix what can be fixed)'),
  );
  return lines.join('\n');
}

/** One check (and repair) with progress shown; Ctrl-C ends it between items with a partial report. */
async function run(inv: Invocation, { config, db, io, log }: { config: Config; db: CliDatabase; io: FsckIo; log: Logger }): Promise<number> {
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  const progress = progressPrinter(io);
  try {
    // Sealed blobs (encryption at rest) are hashed as their plaintext, with the bucket keys the server uses.
    const keys = new BucketKeyRing(db.sql, await MasterKey.load(config.dataDir, config.masterKey));
    const report = await fsck(db.sql, openBlobStore(config.dataDir, keys), {
      deep: inv.deep,
      repair: inv.repair,
      bucket: inv.bucket,
      graceMs: inv.graceMs,
      onProgress: inv.json ? undefined : progress.update,
      signal: abort.signal,
      log,
    });
    progress.end();
    io.out(inv.json ? JSON.stringify(report, null, 2) : describeReport(report));
    return report.clean ? 0 : 1;
  } finally {
    progress.end();
    process.off('SIGINT', interrupt);
  }
}

/** Runs `aerostore fsck <argv...>`; resolves to the process exit code. */
export function runFsckCli(argv: readonly string[], io: FsckIo = processIo): Promise<number> {
  return runCommand({ name: 'fsck', usage: FSCK_USAGE, needsArguments: false, parse: parseInvocation, run, expected: [FsckError] }, argv, io);
}
