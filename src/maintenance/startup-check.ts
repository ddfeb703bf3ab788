// The health check a server runs as it starts (DESIGN.md FS-I1), in the
// background: start-up never waits for it. A small store (up to
// FULL_CHECK_BLOBS blob rows) gets the whole non-deep fsck — it takes well
// under a second there. A larger one gets a sample: the reference counts,
// files and file sizes of SAMPLE_SIZE random blob rows, the zero-reference
// rows and the idle temp files, so that a store that lost its disk (or was
// restored from mismatched backups) says so in the first log lines, not at
// the first 500. Neither repairs anything: that is `aerostore fsck --repair`
// (and, for orphans, the sweeper).
import type { Logger } from 'pino';
import type { Services } from '../core/services.ts';
import { readAs, SERVICE } from '../db/session.ts';
import { fsck, type FsckReport } from './fsck.ts';
import { storedSizeFits } from '../blobs/store.ts';

export const FULL_CHECK_BLOBS = 10_000;
const SAMPLE_SIZE = 1_000;

export interface StartupCheckReport {
  mode: 'full' | 'sample';
  objects: number;
  blobs: number;
  /** Blob rows looked at. */
  checked: number;
  /** Problems by kind (fsck's kinds). */
  problems: Record<string, number>;
  /** Full mode: orphan candidates younger than the grace. */
  inFlight?: number;
  durationMs: number;
}

export async function startupCheck(
  storage: Services,
  graceMs: number,
  opts: { signal?: AbortSignal; fullCheckBlobs?: number } = {},
): Promise<StartupCheckReport> {
  const started = Date.now();
  const { signal } = opts;
  const { blobs } = storage;
  const [counts] = await readAs(storage.sql, SERVICE, (tx) => tx<{ objects: number; blobs: number }[]>`
    select (select count(*)::int from storage.objects) as objects, (select count(*)::int from storage.blobs) as blobs`);
  if (counts.blobs <= (opts.fullCheckBlobs ?? FULL_CHECK_BLOBS)) {
    const r: FsckReport = await fsck(storage.sql, blobs, { graceMs, signal, log: storage.log });
    return {
      mode: 'full',
      ...counts,
      checked: r.checked.blobRows,
      problems: r.remaining as Record<string, number>,
      inFlight: r.inFlight,
      durationMs: Date.now() - started,
    };
  }

  // A sample: TABLESAMPLE SYSTEM picks whole pages at random, cheaply; ask for
  // about twice the sample and keep SAMPLE_SIZE of it.
  const percent = Math.min(100, (200 * SAMPLE_SIZE) / counts.blobs);
  const sample = await readAs(storage.sql, SERVICE, (tx) => tx<{ bucket_id: string; sha256: string; size: number; ref_count: number; counted: number }[]>`
    select b.bucket_id, b.sha256, b.size, b.ref_count,
      (select count(*)::int from storage.blob_references o where o.bucket_uuid = b.bucket_id and o.sha256 = b.sha256) as counted
    from storage.blobs b tablesample system (${percent}) where b.ref_count > 0 limit ${SAMPLE_SIZE}`);
  const problems: Record<string, number> = {};
  const bump = (kind: string) => (problems[kind] = (problems[kind] ?? 0) + 1);
  for (const row of sample) {
    if (signal?.aborted) break;
    // Unlocked reads: a write racing the check can make one look wrong. This
    // is a smoke test; `aerostore fsck` looks again under the row lock.
    if (row.counted !== row.ref_count) bump('ref-count-mismatch');
    const st = await blobs.statBlob(row.bucket_id, row.sha256).catch(() => undefined);
    if (!st) bump('blob-file-missing');
    else if (!storedSizeFits(st.size, row.size)) bump('blob-file-wrong-size');
  }
  const [{ zero }] = await readAs(storage.sql, SERVICE, (tx) => tx<{ zero: number }[]>`
    select count(*)::int as zero from storage.blobs where ref_count = 0`);
  if (zero) problems['zero-reference-blob'] = zero;
  let idleTemp = 0;
  for await (const f of blobs.listTempFiles()) if (f.idleMs >= graceMs) idleTemp++;
  if (idleTemp) problems['orphan-temp-file'] = idleTemp;
  return { mode: 'sample', ...counts, checked: sample.length, problems, durationMs: Date.now() - started };
}

/** Runs the start-up check in the background and logs its summary; the returned function stops it. */
export function checkOnStartup(storage: Services, graceMs: number, log: Logger): () => void {
  const abort = new AbortController();
  const job = startupCheck(storage, graceMs, { signal: abort.signal })
    .then((r) => {
      if (abort.signal.aborted) return;
      const found = Object.values(r.problems).reduce((a, b) => a + b, 0);
      if (found === 0) log.info({ check: r }, 'start-up check: blob store and database agree');
      else log.warn({ check: r }, `start-up check: ${found} problem(s) between blob store and database; run \`aerostore fsck\` for details (\`--repair\` fixes what it can)`);
    })
    .catch((err: unknown) => log.warn({ err }, 'start-up check failed'))
    .finally(() => storage.background.delete(job));
  storage.background.add(job);
  return () => abort.abort();
}
