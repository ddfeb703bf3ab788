// The orphan sweeper (DESIGN.md "Blobs", FS-I1): a crash can leave files
// without rows — temp files, blob files whose transaction never committed,
// part files — and rows nobody needs any more: zero-reference blobs, expired
// multipart uploads. Every server process schedules sweeps; a session-level
// advisory try-lock lets one process sweep at a time, the others skip that
// round. Files go only when idle beyond the grace (30 min by default), and
// blob and part files only under the locks uploads take (maintenance/orphans.ts),
// so a sweep never removes what a concurrent upload has claimed. With a sweep
// every 15 minutes, an orphan is gone within grace + interval: the hour the
// design promises.
import type { Logger } from 'pino';
import type { StoreArea } from '../blobs/store.ts';
import { expireUploads } from './upload-expiry.ts';
import { collectBlob } from '../core/objects.ts';
import type { Services } from '../core/services.ts';
import { readAs, SERVICE } from '../db/session.ts';
import { blobRows, pairBlobs, uploadsInStore } from './inventory.ts';
import { deletedBuckets, removeOrphanBlob, removeOrphanParts, type Maintainer } from './orphans.ts';
import { scheduleExclusive } from './exclusive.ts';
import { sweeps } from '../metrics/registry.ts';

/** The advisory lock the sweeps of all processes take turns on (docs/architecture.md "Advisory locks"). */
const SWEEP_LOCK = 0x5e9_0003;
/** Zero-reference rows handed to the collector per query. */
const COLLECT_BATCH = 1000;

export interface SweepOptions {
  /** Files idle (mtime) for less than this are left alone. */
  graceMs: number;
  /** Also expire multipart uploads initiated more than this many days ago. */
  expiryDays?: number;
  /** Stops the sweep between items (shutdown). */
  signal?: AbortSignal;
}

export interface SweepReport {
  /** Idle temp files removed (where the store stages bodies). */
  tempFiles: number;
  /** Blob files without a row, removed under the placeholder-row lock. */
  orphanBlobFiles: number;
  /** Zero-reference blob rows handed to the collector (row and file). */
  zeroReferenceBlobs: number;
  /** Multipart uploads past their expiry, removed with their parts. */
  expiredUploads: number;
  /** Part files no part row names (of live uploads, or of finished ones). */
  orphanPartFiles: number;
  /** Leftovers of buckets that no longer exist (blobs and parts, counted by the area they were found in). */
  deletedBucketDirs: number;
  /** Orphan candidates left for a later sweep: idle for less than the grace, or claimed meanwhile. */
  skipped: number;
  durationMs: number;
}

const removedAnything = (r: SweepReport): boolean =>
  r.tempFiles + r.orphanBlobFiles + r.zeroReferenceBlobs + r.expiredUploads + r.orphanPartFiles + r.deletedBucketDirs > 0;

/** One sweep, now, in this process (scheduleSweeps adds the one-at-a-time lock). */
export async function sweep(storage: Services, opts: SweepOptions): Promise<SweepReport> {
  const started = Date.now();
  const report: SweepReport = {
    tempFiles: 0,
    orphanBlobFiles: 0,
    zeroReferenceBlobs: 0,
    expiredUploads: 0,
    orphanPartFiles: 0,
    deletedBucketDirs: 0,
    skipped: 0,
    durationMs: 0,
  };
  const stopped = () => opts.signal?.aborted === true;
  if (opts.expiryDays !== undefined) report.expiredUploads = await expireUploads(storage, opts.expiryDays);
  await collectZeroReferenceBlobs(storage, report, stopped);
  if (!stopped()) await sweepTemp(storage, opts.graceMs, report);
  if (!stopped()) await sweepBlobFiles(storage, opts.graceMs, report, stopped);
  if (!stopped()) await sweepPartFiles(storage, opts.graceMs, report, stopped);
  report.durationMs = Date.now() - started;
  return report;
}

/** Rows at zero whose collection never ran (a crash after the decrement's commit) or failed. */
async function collectZeroReferenceBlobs(storage: Services, report: SweepReport, stopped: () => boolean): Promise<void> {
  let after = { bucket: '00000000-0000-0000-0000-000000000000', sha: '' };
  for (;;) {
    const rows = await readAs(storage.sql, SERVICE, (tx) => tx<{ bucket_id: string; sha256: string }[]>`
      select bucket_id, sha256 from storage.blobs
      where ref_count = 0 and (bucket_id, sha256) > (${after.bucket}::uuid, ${after.sha})
      order by bucket_id, sha256 limit ${COLLECT_BATCH}`);
    // collectBlob deletes only while the count is still zero, under the row lock.
    for (const r of rows) {
      if (stopped()) return;
      await collectBlob(storage, r.bucket_id, r.sha256);
      report.zeroReferenceBlobs++;
    }
    if (rows.length < COLLECT_BATCH) return;
    const last = rows[rows.length - 1];
    after = { bucket: last.bucket_id, sha: last.sha256 };
  }
}

async function sweepTemp(m: Maintainer, graceMs: number, report: SweepReport): Promise<void> {
  for await (const f of m.blobs.listTempFiles()) {
    if (f.idleMs < graceMs) continue;
    if (await m.blobs.removeIdleTempFile(f.name, graceMs)) report.tempFiles++;
  }
}

/**
 * The buckets holding something in the store's `area` whose bucket rows
 * still exist; the leftovers of deleted buckets are removed on the way.
 * The store is listed first, bucket rows read second (orphans.ts deletedBuckets).
 */
async function liveBuckets(m: Maintainer, area: StoreArea, report: SweepReport, stopped: () => boolean): Promise<string[]> {
  const bucketIds = (await m.blobs.listBuckets(area)).buckets.map((b) => b.id);
  const deleted = new Set(await deletedBuckets(m.sql, bucketIds));
  const live: string[] = [];
  for (const bucketId of bucketIds) {
    if (stopped()) break;
    if (!deleted.has(bucketId)) live.push(bucketId);
    else {
      await m.blobs.removeBucket(bucketId);
      report.deletedBucketDirs++;
    }
  }
  return live;
}

async function sweepBlobFiles(m: Maintainer, graceMs: number, report: SweepReport, stopped: () => boolean): Promise<void> {
  for (const bucketId of await liveBuckets(m, 'blobs', report, stopped)) {
    if (stopped()) return;
    for await (const pair of pairBlobs(m.blobs.listBlobs(bucketId), blobRows(m.sql, bucketId))) {
      if (stopped()) return;
      // Rows without files and stray names are fsck's to report; the sweeper removes only orphans.
      if ('stray' in pair || pair.row) continue;
      const file = await m.blobs.statBlob(bucketId, pair.sha256);
      if (file === undefined) continue;
      if (file.idleMs < graceMs) {
        report.skipped++;
        continue;
      }
      const outcome = await removeOrphanBlob(m, bucketId, pair.sha256, graceMs);
      if (outcome === 'removed') report.orphanBlobFiles++;
      else if (outcome === 'young' || outcome === 'claimed') report.skipped++;
    }
  }
}

async function sweepPartFiles(m: Maintainer, graceMs: number, report: SweepReport, stopped: () => boolean): Promise<void> {
  for (const bucketId of await liveBuckets(m, 'parts', report, stopped)) {
    if (stopped()) return;
    // The store first, the rows second: a part row commits only after its
    // file is in place, so a file listed here that no row names (read after)
    // is an orphan candidate; removeOrphanParts decides under the upload's lock.
    const { uploads } = await uploadsInStore(m.blobs, bucketId);
    if (uploads.size === 0) continue;
    const rows = await readAs(m.sql, SERVICE, (tx) => tx<{ id: string; path: string | null }[]>`
      select u.id, p.path from storage.multipart_uploads u left join storage.multipart_parts p on p.upload_id = u.id
      where u.bucket_id = ${bucketId} and u.id = any(${[...uploads.keys()]}::text[])`);
    const live = new Set(rows.map((r) => r.id));
    const named = new Set(rows.map((r) => r.path));
    for (const [uploadId, parts] of uploads) {
      if (stopped()) return;
      let candidates = parts;
      if (live.has(uploadId)) {
        candidates = [];
        for (const part of parts) {
          if (named.has(part.ref)) continue;
          const file = await m.blobs.statPart(part.ref);
          if (file === undefined) continue;
          if (file.idleMs < graceMs) report.skipped++;
          else candidates.push(part);
        }
        if (candidates.length === 0) continue;
      }
      report.orphanPartFiles += (await removeOrphanParts(m, bucketId, uploadId, candidates, graceMs)).length;
    }
  }
}

export interface SweepSchedule {
  graceMs: number;
  /** Between sweeps (15 minutes by default). */
  everyMs: number;
  /** The first sweep, after start-up. */
  firstAfterMs?: number;
  expiryDays?: number;
}

/**
 * Sweeps shortly after start and then every `everyMs`, one process at a
 * time (maintenance/exclusive.ts). Shutdown stops a sweep in progress
 * between items and waits for it (Services.background). Returns the
 * function that stops it.
 */
export function scheduleSweeps(storage: Services, schedule: SweepSchedule, log: Logger): () => void {
  return scheduleExclusive(
    storage,
    { lockId: SWEEP_LOCK, everyMs: schedule.everyMs, firstAfterMs: schedule.firstAfterMs ?? Math.min(5_000, schedule.everyMs) },
    async (signal) => {
      const report = await sweep(storage, { graceMs: schedule.graceMs, expiryDays: schedule.expiryDays, signal });
      countSweep(report);
      if (removedAnything(report)) log.info({ sweep: report }, 'orphan sweep removed garbage');
      else log.debug({ sweep: report }, 'orphan sweep: nothing to remove');
    },
    (err) => {
      sweeps.runs.inc({ result: 'failed' });
      log.warn({ err }, 'orphan sweep failed; retried at the next run');
    },
  );
}

/** A scheduled sweep's report, as metrics (metrics/registry.ts sweeps). */
function countSweep(r: SweepReport): void {
  sweeps.runs.inc({ result: 'ok' });
  sweeps.removed.inc({ kind: 'temp_files' }, r.tempFiles);
  sweeps.removed.inc({ kind: 'orphan_blob_files' }, r.orphanBlobFiles);
  sweeps.removed.inc({ kind: 'zero_reference_blobs' }, r.zeroReferenceBlobs);
  sweeps.removed.inc({ kind: 'expired_uploads' }, r.expiredUploads);
  sweeps.removed.inc({ kind: 'orphan_part_files' }, r.orphanPartFiles);
  sweeps.removed.inc({ kind: 'deleted_bucket_dirs' }, r.deletedBucketDirs);
}
