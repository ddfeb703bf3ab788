// The scan queue in Postgres (storage.scan_jobs, migrations 0012 and 0014):
// claiming jobs, recording verdicts and failures, and the admin's view and
// rescan. Every statement runs as the service role. Transactions are short:
// a claim is a lease (run_after moved past the scan's deadline, a fresh
// lease id), not a lock held while clamd reads, so a job whose worker died
// is simply claimed again when its lease runs out.
import type { ObjectRow } from '../core/objects.ts';
import type { PendingQuery, Row } from 'postgres';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { Verdict } from './clamd.ts';
import { recordEvents, type NewEvent } from '../events/record.ts';

export interface ScanJob {
  bucketId: string;
  sha256: string;
  size: number;
  /** Failed attempts so far. */
  attempts: number;
  /** This claim's lease id: the verdict is recorded only while the job still carries it. */
  lease: string;
  /** The content must be scanned; otherwise its stored verdict only settles the objects pending on it. */
  scan: boolean;
}

/** How long a claim is held: long enough for the slowest scan the worker waits for (worker.ts scanDeadlineMs), plus a margin. */
export interface LeaseTerms {
  baseSeconds: number;
  bytesPerSecond: number;
}

/** Longest wait between attempts of a failing job. */
const MAX_BACKOFF_SECONDS = 300;

/** Who events recorded by the worker name as their actor. */
const SCANNER_ACTOR = { kind: 'system', via: 'scanner', role: 'service' };

/**
 * Claims up to `limit` due jobs, oldest first. Jobs of unreferenced blobs
 * are left alone: the collector is about to remove them (and their jobs).
 */
export async function claimScanJobs(sql: Sql, limit: number, terms: LeaseTerms): Promise<ScanJob[]> {
  return asPrincipal(sql, SERVICE, (tx) => tx<ScanJob[]>`
    with due as (
      select j.bucket_id, j.sha256, b.size, j.scan or b.scan_status = 'pending' as scan from storage.scan_jobs j
      join storage.blobs b on b.bucket_id = j.bucket_id and b.sha256 = j.sha256 and b.ref_count > 0
      where j.run_after <= now()
      order by j.run_after
      limit ${limit}
      for update of j skip locked
    )
    update storage.scan_jobs j
    set lease = gen_random_uuid(),
        run_after = now() + make_interval(secs => ${terms.baseSeconds} + due.size / ${terms.bytesPerSecond}::float8)
    from due
    where j.bucket_id = due.bucket_id and j.sha256 = due.sha256
    returning j.bucket_id as "bucketId", j.sha256, due.size, j.attempts, j.lease, due.scan`);
}

/**
 * Records a verdict on the blob and settles the objects on it: each gets
 * the verdict as its own scan state and its own storage.object.scanned
 * event (storage.object.quarantined too when it turns infected), and the
 * job is removed. `verdict` is a scan's result, which settles every object
 * of the blob; 'known' (a job that asked for no scan: new objects written
 * onto content already scanned) settles only the objects still pending,
 * with the blob's stored verdict, and sends no byte to clamd. In this
 * order: the blob row lock first (a write of a new object onto this blob
 * waits for it), the verdict, the objects it settles (read while they still
 * show their previous state), their new states, the job; then the events.
 * Returns false, having changed nothing, when the lease is no longer this
 * claim's.
 */
export async function recordVerdict(sql: Sql, job: ScanJob, verdict: Verdict | 'known', engine: string | null): Promise<boolean> {
  const settlesAll = verdict !== 'known';
  try {
    return await asPrincipal(sql, SERVICE, async (tx) => {
      const inScope = settlesAll ? tx`` : tx`and o.scan_status = 'pending'`;
      // What the verdict settles, read after the verdict and before the objects take it on.
      const settled = settledObjects(tx, job.bucketId, job.sha256, inScope);
      const steps = [
        tx`select 1 from storage.blobs where bucket_id = ${job.bucketId} and sha256 = ${job.sha256} for update`,
        ...(verdict === 'known'
          ? []
          : [
              tx`
                update storage.blobs
                set scan_status = ${verdict.status}, scan_signature = ${verdict.status === 'infected' ? verdict.signature : null},
                    scan_engine = ${engine}, scan_note = ${verdict.status === 'infected' ? null : (verdict.note ?? null)}, scanned_at = now()
                where bucket_id = ${job.bucketId} and sha256 = ${job.sha256}`,
            ]),
        settled,
        tx`
          update storage.objects o set scan_status = b.scan_status
          from storage.blobs b
          where b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
            and o.bucket_uuid = ${job.bucketId} and o.sha256 = ${job.sha256} ${inScope}`,
        // Past versions on the content take the verdict too (their reads obey it; no events: they are history).
        tx`
          update storage.object_versions o set scan_status = b.scan_status
          from storage.blobs b
          where b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256 and not o.delete_marker
            and o.bucket_uuid = ${job.bucketId} and o.sha256 = ${job.sha256} ${inScope}`,
      ];
      const held = tx<{ held: number }[]>`
        delete from storage.scan_jobs
        where bucket_id = ${job.bucketId} and sha256 = ${job.sha256} and lease = ${job.lease}
        returning 1 as held`;
      const [, [stillHeld]] = await Promise.all([Promise.all(steps), held]);
      if (!stillHeld) throw new LeaseLost();
      await recordEvents(tx, (await settled).flatMap((o) => scanEvents(job.bucketId, o)));
      return true;
    });
  } catch (err) {
    if (err instanceof LeaseLost) return false;
    throw err;
  }
}

/** The objects on a content a verdict settles (`inScope` narrows them), each with its state before and the content's verdict. */
function settledObjects(tx: TransactionSql, bucketId: string, sha256: string, inScope: PendingQuery<Row[]>) {
  return tx<Settled[]>`
    select o.id, o.key, o.owner_id, o.size, o.sha256, o.content_type, o.scan_status as was, k.name as bucket,
      b.scan_status as verdict, b.scan_signature as signature, b.scan_note as note, b.scan_engine as engine
    from storage.objects o
    join storage.buckets k on k.id = o.bucket_uuid
    join storage.blobs b on b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
    where o.bucket_uuid = ${bucketId} and o.sha256 = ${sha256} ${inScope}
    order by o.key`;
}

/** An object a verdict settles, as it was before (was) and the blob's verdict. */
interface Settled {
  id: string;
  key: string;
  owner_id: string | null;
  size: number;
  sha256: string;
  content_type: string | null;
  was: string;
  bucket: string;
  verdict: string;
  signature: string | null;
  note: string | null;
  engine: string | null;
}

/**
 * storage.object.scanned for every settled object, and
 * storage.object.quarantined for one that turns infected now. `actor`:
 * the scanner's, or null for the transaction's own principal (an
 * operator's release).
 */
function scanEvents(bucketId: string, o: Settled, actor: object | null = SCANNER_ACTOR): NewEvent[] {
  const payload = {
    size: o.size,
    sha256: o.sha256,
    content_type: o.content_type ?? undefined,
    verdict: o.verdict,
    signature: o.signature ?? undefined,
    note: o.note ?? undefined,
    engine: o.engine ?? undefined,
  };
  const base = { bucketId, bucket: o.bucket, key: o.key, objectId: o.id, ownerId: o.owner_id, payload, ...(actor ? { actor } : {}) };
  const scanned: NewEvent = { type: 'storage.object.scanned', ...base };
  return o.verdict === 'infected' && o.was !== 'infected' ? [scanned, { type: 'storage.object.quarantined', ...base }] : [scanned];
}

/** Thrown inside recordVerdict's transaction to roll it back. */
class LeaseLost extends Error {}

/**
 * A failed attempt: the job waits 2, 4, 8 ... seconds (at most
 * MAX_BACKOFF_SECONDS) and keeps the error for `aerostore scan status`. The
 * blob stays pending.
 */
export async function recordScanFailure(sql: Sql, job: ScanJob, error: string): Promise<void> {
  await asPrincipal(sql, SERVICE, (tx) => tx`
    update storage.scan_jobs
    set attempts = attempts + 1, lease = null, last_error = ${error.slice(0, 2000)},
        run_after = now() + make_interval(secs => least(${MAX_BACKOFF_SECONDS}, power(2, least(attempts + 1, 30))))
    where bucket_id = ${job.bucketId} and sha256 = ${job.sha256} and lease = ${job.lease}`);
}

/** Gives a claimed job back untouched (its worker is stopping): due at once, no attempt counted. */
export async function releaseScanJob(sql: Sql, job: ScanJob): Promise<void> {
  await asPrincipal(sql, SERVICE, (tx) => tx`
    update storage.scan_jobs set lease = null, run_after = now()
    where bucket_id = ${job.bucketId} and sha256 = ${job.sha256} and lease = ${job.lease}`);
}

export type ScanStatus = 'pending' | 'clean' | 'infected' | 'unscanned';

export interface ScanOverview {
  queue: {
    /** Jobs in the queue, whatever their state. */
    jobs: number;
    /** Claimed by a worker, lease running. */
    scanning: number;
    /** Failed at least once, waiting for their next attempt. */
    retrying: number;
    oldest_enqueued_at: string | null;
    /** The most recent failure's error, if any job is failing. */
    last_error: string | null;
  };
  /** Distinct contents (blobs) by verdict, and their bytes. */
  verdicts: Record<ScanStatus, { blobs: number; bytes: number }>;
  /** Objects whose content is infected: every read of them answers 403. */
  quarantined_objects: number;
}

export async function scanOverview(sql: Sql): Promise<ScanOverview> {
  const [[queue], verdicts, [quarantined]] = await asPrincipal(sql, SERVICE, (tx) =>
    Promise.all([
      tx<(Omit<ScanOverview['queue'], 'oldest_enqueued_at'> & { oldest_enqueued_at: Date | null })[]>`
        select count(*) as jobs,
          count(*) filter (where lease is not null and run_after > now()) as scanning,
          count(*) filter (where attempts > 0 and lease is null) as retrying,
          min(enqueued_at) as oldest_enqueued_at,
          (select last_error from storage.scan_jobs where last_error is not null and attempts > 0
           order by run_after desc limit 1) as last_error
        from storage.scan_jobs`,
      tx<{ status: ScanStatus; blobs: number; bytes: number }[]>`
        select scan_status as status, count(*) as blobs, coalesce(sum(size), 0)::bigint as bytes
        from storage.blobs where ref_count > 0 group by scan_status`,
      tx<{ objects: number }[]>`
        select count(*) as objects from storage.objects where scan_status = 'infected'`,
    ]),
  );
  const verdictCounts: ScanOverview['verdicts'] = {
    pending: { blobs: 0, bytes: 0 },
    clean: { blobs: 0, bytes: 0 },
    infected: { blobs: 0, bytes: 0 },
    unscanned: { blobs: 0, bytes: 0 },
  };
  for (const v of verdicts) verdictCounts[v.status] = { blobs: v.blobs, bytes: v.bytes };
  return {
    queue: { ...queue, oldest_enqueued_at: queue.oldest_enqueued_at?.toISOString() ?? null },
    verdicts: verdictCounts,
    quarantined_objects: quarantined.objects,
  };
}

/**
 * Queues every referenced blob (of the named bucket, or of all) for a new
 * scan, as after a signature update. Clean and unscanned content, and its
 * objects, go back to pending; infected content stays infected, so
 * quarantined until a new verdict says otherwise. The blobs it resets are locked before any job is
 * touched (a worker, too, locks the blob before its job), so a rescan and a
 * verdict being recorded cannot deadlock. Returns the number of blobs
 * queued; undefined when there is no such bucket.
 */
export async function rescan(sql: Sql, bucketName?: string): Promise<number | undefined> {
  return asPrincipal(sql, SERVICE, async (tx) => {
    // Blobs name their bucket by its row id (bucket_id), objects by bucket_uuid (migration 0022).
    let blobsInScope = tx``;
    let objectsInScope = tx``;
    if (bucketName !== undefined) {
      const [bucket] = await tx<{ id: string }[]>`select id from storage.buckets where name = ${bucketName}`;
      if (!bucket) return undefined;
      blobsInScope = tx`and bucket_id = ${bucket.id}`;
      objectsInScope = tx`and bucket_uuid = ${bucket.id}`;
    }
    await tx`
      update storage.blobs
      set scan_status = 'pending', scan_signature = null, scan_engine = null, scan_note = null, scanned_at = null
      where ref_count > 0 and scan_status <> 'infected' ${blobsInScope}`;
    await tx`update storage.objects set scan_status = 'pending' where scan_status <> 'infected' ${objectsInScope}`;
    const queued = await tx`
      insert into storage.scan_jobs (bucket_id, sha256)
      select bucket_id, sha256 from storage.blobs where ref_count > 0 ${blobsInScope}
      on conflict (bucket_id, sha256) do update
      set attempts = 0, lease = null, last_error = null, run_after = now(), enqueued_at = now(), scan = true`;
    return queued.count;
  });
}

/** What a release answers: the current objects now served again, or why nothing changed. */
export type Release = { released: string[] } | { missing: true } | { notQuarantined: ScanStatus };

/**
 * An operator's verdict on the content of `key` in its bucket: released,
 * i.e. clean by `principal`'s word rather than clamd's (a false positive).
 * A verdict belongs to the content, so every object and past version on
 * those bytes in the bucket is served again, and each current object gets
 * a storage.object.scanned event naming the operator as its actor. A
 * release is a verdict like clamd's: a later rescan asks clamd again.
 */
export async function releaseContent(sql: Sql, bucketId: string, key: string, principal: Principal): Promise<Release> {
  return asPrincipal(sql, principal, async (tx) => {
    const [object] = await tx<{ sha256: string }[]>`select sha256 from storage.objects where bucket_uuid = ${bucketId} and key = ${key}`;
    if (!object) return { missing: true };
    const [blob] = await tx<{ scan_status: ScanStatus; scan_signature: string | null }[]>`
      select scan_status, scan_signature from storage.blobs where bucket_id = ${bucketId} and sha256 = ${object.sha256} for update`;
    if (blob.scan_status !== 'infected') return { notQuarantined: blob.scan_status };
    const note = `released by an operator (clamd had found ${blob.scan_signature ?? 'a signature'})`;
    await tx`
      update storage.blobs
      set scan_status = 'clean', scan_signature = null, scan_engine = 'operator', scan_note = ${note}, scanned_at = now()
      where bucket_id = ${bucketId} and sha256 = ${object.sha256}`;
    const settled = await settledObjects(tx, bucketId, object.sha256, tx`and o.scan_status <> 'clean'`);
    await tx`update storage.objects set scan_status = 'clean' where bucket_uuid = ${bucketId} and sha256 = ${object.sha256} and scan_status <> 'clean'`;
    await tx`
      update storage.object_versions set scan_status = 'clean'
      where bucket_uuid = ${bucketId} and sha256 = ${object.sha256} and not delete_marker and scan_status <> 'clean'`;
    await recordEvents(tx, settled.flatMap((o) => scanEvents(bucketId, o, null)));
    return { released: settled.map((o) => o.key) };
  });
}

/** The object's row with its scan state and its content's signature, whatever the verdict: the admin's way to quarantined bytes. */
export async function objectWithVerdict(
  sql: Sql,
  bucketId: string,
  key: string,
): Promise<(ObjectRow & { scan_status: ScanStatus; scan_signature: string | null }) | undefined> {
  const [row] = await readAs(sql, SERVICE, (tx) => tx<(ObjectRow & { scan_status: ScanStatus; scan_signature: string | null })[]>`
    select o.*, b.scan_signature from storage.objects o
    join storage.blobs b on b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
    where o.bucket_uuid = ${bucketId} and o.key = ${key}`);
  return row;
}

/** One quarantined object, as the admin API lists it. */
export interface QuarantinedObject {
  bucket: string;
  key: string;
  size: number;
  signature: string | null;
  last_modified: string;
}

/** The objects whose content is infected (every read of them answers 403), newest first, at most `limit`. */
export async function listQuarantined(sql: Sql, limit: number): Promise<QuarantinedObject[]> {
  const rows = await readAs(sql, SERVICE, (tx) => tx<{ bucket: string; key: string; size: number; signature: string | null; last_modified: Date }[]>`
    select o.bucket_id as bucket, o.key, o.size, b.scan_signature as signature, o.updated_at as last_modified
    from storage.objects o
    join storage.blobs b on b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
    where o.scan_status = 'infected'
    order by o.updated_at desc
    limit ${limit}`);
  return rows.map((r) => ({ ...r, size: Number(r.size), last_modified: r.last_modified.toISOString() }));
}
