// The lifecycle pass (issue 18 §4; docs/architecture.md "Lifecycle"): applies
// every bucket's enabled lifecycle rules (core/lifecycle.ts) as of "now" —
// aborts multipart uploads, expires noncurrent versions, removes expired
// delete markers, expires current versions. Every deletion goes through the
// functions the S3 API uses (deleteObjects, deleteVersions, abortUpload) as
// the service role, so blob references, events (cause 'lifecycle') and
// object lock hold as for any client; in batches of at most BATCH keys or
// versions, each its own transaction, so a bucket of millions of objects is
// worked through without one huge transaction. Object lock is the
// database's (migration 0025: a locked version must exist at commit,
// SQLSTATE AS010): a batch refused for it is retried without the locked
// versions, which are reported and left alone.
//
// Order within a bucket: uploads, noncurrent versions, expired delete
// markers, current versions — so what this pass makes noncurrent (a current
// version expired in a versioned bucket) waits for a later pass, as in S3,
// even when "now" is set ahead of the clock (AEROSTORE_LIFECYCLE_NOW).
import type { Logger } from 'pino';
import type { LifecycleRule } from '../core/bucket.ts';
import { deleteObjects } from '../core/delete-objects.ts';
import { isDomainError } from '../core/errors.ts';
import { prefixEnd } from '../core/key-range.ts';
import { dueCutoff } from '../core/lifecycle.ts';
import { abortUpload } from '../core/multipart.ts';
import type { Services } from '../core/services.ts';
import { deleteVersions, type VersionRef } from '../core/versions.ts';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';
import { runExclusive, scheduleExclusive } from './exclusive.ts';
import { lifecycle } from '../metrics/registry.ts';

/** The advisory lock the passes of all processes take turns on (docs/architecture.md "Advisory locks"). */
export const LIFECYCLE_LOCK = 0x5e9_0005;
/** Keys or versions per deletion (one transaction each), and rows per query. */
export const BATCH = 500;
/** Locked versions listed in a report (all are counted). */
const LISTED = 100;

export interface LifecycleOptions {
  /** The pass's "now"; the clock's when absent. */
  now?: Date;
  /** This bucket only. */
  bucket?: string;
  /** Stops the pass between batches (shutdown). */
  signal?: AbortSignal;
  /** Keys or versions per deletion; BATCH by default (tests use less). */
  batchSize?: number;
  /** Deletes versions by id: core/versions.ts's deleteVersions unless given (tests look at what the pass asks for). */
  deleteVersions?: typeof deleteVersions;
}

export interface LifecycleReport {
  now: string;
  /** Buckets with a lifecycle configuration visited. */
  buckets: number;
  /** Current versions expired: deleted, or (versioned buckets) made noncurrent under a new delete marker. */
  expired: number;
  /** Noncurrent versions (and noncurrent delete markers) deleted. */
  noncurrentExpired: number;
  /** Delete markers that were their key's only version, removed. */
  deleteMarkersRemoved: number;
  /** Incomplete multipart uploads aborted. */
  uploadsAborted: number;
  /** Versions a rule expired that object lock keeps (legal hold or retention): left alone. */
  locked: number;
  /** The first of them. */
  lockedVersions: { bucket: string; key: string; versionId?: string }[];
  /** Versions deleteVersions refused for another reason. */
  errors: { bucket: string; key: string; versionId: string; code: string; message: string }[];
  /** Buckets whose rules failed part way (the error); the others were still worked through. */
  failedBuckets: { bucket: string; message: string }[];
  /** Stopped before the end (shutdown). */
  interrupted: boolean;
  durationMs: number;
}

interface BucketRules {
  id: string;
  name: string;
  lifecycle: LifecycleRule[];
}

/** One pass over every bucket with rules (or one), now, in this process; runLifecycleAlone adds the one-at-a-time lock. */
export async function runLifecycle(storage: Services, opts: LifecycleOptions = {}): Promise<LifecycleReport> {
  const started = Date.now();
  const now = opts.now ?? new Date();
  const report: LifecycleReport = {
    now: now.toISOString(),
    buckets: 0,
    expired: 0,
    noncurrentExpired: 0,
    deleteMarkersRemoved: 0,
    uploadsAborted: 0,
    locked: 0,
    lockedVersions: [],
    errors: [],
    failedBuckets: [],
    interrupted: false,
    durationMs: 0,
  };
  const buckets = await readAs(storage.sql, SERVICE, (tx) => tx<BucketRules[]>`
    select id, name, lifecycle from storage.buckets
    where lifecycle is not null ${opts.bucket !== undefined ? tx`and name = ${opts.bucket}` : tx``}
    order by name`);
  const pass = new Pass(storage, now, report, opts);
  for (const bucket of buckets) {
    if (pass.stopped()) break;
    report.buckets++;
    try {
      await pass.bucket(bucket);
    } catch (err) {
      // One bucket's failure (the database gone away, a bug) leaves the others their pass; the next run retries it.
      storage.log.warn({ err, bucket: bucket.name }, 'lifecycle pass failed for a bucket');
      report.failedBuckets.push({ bucket: bucket.name, message: err instanceof Error ? err.message : String(err) });
    }
  }
  report.interrupted = pass.stopped();
  report.durationMs = Date.now() - started;
  return report;
}

type Fragment = ReturnType<Sql>;

class Pass {
  private readonly batch: number;

  constructor(
    private readonly storage: Services,
    private readonly now: Date,
    private readonly report: LifecycleReport,
    private readonly opts: LifecycleOptions,
  ) {
    this.batch = opts.batchSize ?? BATCH;
  }

  stopped(): boolean {
    return this.opts.signal?.aborted === true;
  }

  async bucket(b: BucketRules): Promise<void> {
    const rules = b.lifecycle.filter((r) => r.enabled);
    for (const rule of rules) if (rule.abortIncompleteMultipartUpload) await this.abortUploads(b, rule, rule.abortIncompleteMultipartUpload.daysAfterInitiation);
    for (const rule of rules) if (rule.noncurrentVersionExpiration) await this.expireNoncurrent(b, rule, rule.noncurrentVersionExpiration);
    for (const rule of rules) {
      const exp = rule.expiration;
      // Expired delete markers: asked for, or — with Days — once as old as the rule's age
      // ("When you specify the Days tag, Amazon S3 automatically performs
      // ExpiredObjectDeleteMarker cleanup when the delete markers are old enough").
      if (exp?.expiredObjectDeleteMarker) await this.removeExpiredMarkers(b, rule);
      else if (exp?.days !== undefined && !usesTagsOrSizes(rule)) await this.removeExpiredMarkers(b, rule, dueCutoff(this.now, exp.days));
    }
    for (const rule of rules) {
      const exp = rule.expiration;
      if (exp?.days !== undefined) await this.expireCurrent(b, rule, sql => sql`and updated_at < ${dueCutoff(this.now, exp.days as number)}`);
      else if (exp?.date !== undefined && this.now >= new Date(exp.date)) await this.expireCurrent(b, rule, (sql) => sql``);
    }
  }

  /** The rule's Prefix and Filter as a condition on key, size and tags. */
  private filter(sql: Sql, rule: LifecycleRule): Fragment {
    const f = rule.filter ?? {};
    const tags = Object.fromEntries((f.tags ?? []).map((t) => [t.key, t.value]));
    return sql`
      ${prefixRange(sql, rule)}
      ${f.tags?.length ? sql`and tags @> ${sql.json(tags)}` : sql``}
      ${f.sizeGreaterThan !== undefined ? sql`and size > ${f.sizeGreaterThan}` : sql``}
      ${f.sizeLessThan !== undefined ? sql`and size < ${f.sizeLessThan}` : sql``}`;
  }

  private async abortUploads(b: BucketRules, rule: LifecycleRule, days: number): Promise<void> {
    const cutoff = dueCutoff(this.now, days);
    let after = { key: '', id: '' };
    for (;;) {
      if (this.stopped()) return;
      const uploads = await readAs(this.storage.sql, SERVICE, (sql) => sql<{ id: string; key: string }[]>`
        select id, key from storage.multipart_uploads
        where bucket_id = ${b.id} and initiated_at < ${cutoff} and (key, id) > (${after.key}, ${after.id}) ${this.filter(sql, rule)}
        order by key, id limit ${this.batch}`);
      for (const u of uploads) {
        try {
          await abortUpload(this.storage, b.name, u.key, u.id, SERVICE);
          this.report.uploadsAborted++;
        } catch (err) {
          // Completed or aborted meanwhile.
          if (!(isDomainError(err) && err.code === 'NoSuchUpload')) throw err;
        }
      }
      if (uploads.length < this.batch) return;
      after = uploads[uploads.length - 1];
    }
  }

  /**
   * NoncurrentVersionExpiration: a version is noncurrent from when the next
   * newer version of its key was written (the window below: that version's
   * Last-Modified, updated_at); it expires NoncurrentDays after, unless it
   * is among the NewerNoncurrentVersions newest noncurrent versions. Keys
   * are taken BATCH at a time; the due versions of those keys deleted BATCH
   * at a time.
   */
  private async expireNoncurrent(
    b: BucketRules,
    rule: LifecycleRule,
    nc: NonNullable<LifecycleRule['noncurrentVersionExpiration']>,
  ): Promise<void> {
    const cutoff = dueCutoff(this.now, nc.noncurrentDays);
    // Position 1 is the current version (or a current delete marker); position p is
    // noncurrent with p - 2 noncurrent versions newer than it.
    const minPosition = 2 + (nc.newerNoncurrentVersions ?? 0);
    const markers = !usesTagsOrSizes(rule);
    let after = '';
    for (;;) {
      if (this.stopped()) return;
      const keys = (
        await readAs(this.storage.sql, SERVICE, (sql) => sql<{ key: string }[]>`
          select distinct key from storage.object_versions
          where bucket_uuid = ${b.id} and key > ${after} ${prefixRange(sql, rule)}
          order by key limit ${this.batch}`)
      ).map((r) => r.key);
      if (keys.length === 0) return;
      const due = await readAs(this.storage.sql, SERVICE, (sql) => sql<{ key: string; version: string }[]>`
        with versions as (
          select key, version, version_seq, updated_at, size, tags, delete_marker
          from storage.object_versions where bucket_uuid = ${b.id} and key = any(${keys}::text[])
          union all
          select key, version, version_seq, updated_at, size, tags, false
          from storage.objects where bucket_uuid = ${b.id} and key = any(${keys}::text[])
        ), placed as (
          select *, lag(updated_at) over w as noncurrent_since, row_number() over w as position
          from versions window w as (partition by key order by version_seq desc)
        )
        select key, version from placed
        where position >= ${minPosition} and noncurrent_since < ${cutoff}
          ${markers ? sql`` : sql`and not delete_marker`} ${this.filter(sql, rule)}
        order by key, version_seq desc`);
      for (let i = 0; i < due.length; i += this.batch) {
        if (this.stopped()) return;
        const refs = due.slice(i, i + this.batch).map((r) => ({ key: r.key, versionId: r.version }));
        this.report.noncurrentExpired += await this.deleteVersionRefs(b, refs);
      }
      if (keys.length < this.batch) return;
      after = keys[keys.length - 1];
    }
  }

  /**
   * Delete markers that are their key's only version (no current version,
   * no other noncurrent one): ExpiredObjectDeleteMarker, or a Days rule's
   * age (`createdBefore`).
   */
  private async removeExpiredMarkers(b: BucketRules, rule: LifecycleRule, createdBefore?: Date): Promise<void> {
    let after = '';
    for (;;) {
      if (this.stopped()) return;
      const markers = await readAs(this.storage.sql, SERVICE, (sql) => sql<{ key: string; version: string }[]>`
        select v.key, v.version from storage.object_versions v
        where v.bucket_uuid = ${b.id} and v.delete_marker and v.key > ${after}
          ${createdBefore ? sql`and v.updated_at < ${createdBefore}` : sql``} ${this.filter(sql, rule)}
          and not exists (select 1 from storage.objects o where o.bucket_uuid = v.bucket_uuid and o.key = v.key)
          and not exists (select 1 from storage.object_versions w
                          where w.bucket_uuid = v.bucket_uuid and w.key = v.key and w.version <> v.version)
        order by v.key limit ${this.batch}`);
      if (markers.length === 0) return;
      this.report.deleteMarkersRemoved += await this.deleteVersionRefs(
        b,
        markers.map((m) => ({ key: m.key, versionId: m.version })),
      );
      if (markers.length < this.batch) return;
      after = markers[markers.length - 1].key;
    }
  }

  /** Current versions the rule expires (`due`: its age or date condition), BATCH keys per deleteObjects. */
  private async expireCurrent(b: BucketRules, rule: LifecycleRule, due: (sql: Sql) => Fragment): Promise<void> {
    let after = '';
    for (;;) {
      if (this.stopped()) return;
      const keys = (
        await readAs(this.storage.sql, SERVICE, (sql) => sql<{ key: string }[]>`
          select key from storage.objects
          where bucket_uuid = ${b.id} and key > ${after} ${due(sql)} ${this.filter(sql, rule)}
          order by key limit ${this.batch}`)
      ).map((r) => r.key);
      if (keys.length === 0) return;
      this.report.expired += await this.withoutLocked(
        b,
        keys.map((key) => ({ key })),
        async (batch) => (await deleteObjects(this.storage, b.name, batch.map((r) => r.key), SERVICE, { cause: 'lifecycle' })).deleted.size,
      );
      if (keys.length < this.batch) return;
      after = keys[keys.length - 1];
    }
  }

  /**
   * deleteVersions for lifecycle. A version it refuses (rather than failing
   * the batch) because object lock keeps it counts as locked; other
   * refusals are reported as errors. Returns how many went.
   */
  private deleteVersionRefs(b: BucketRules, refs: VersionRef[]): Promise<number> {
    return this.withoutLocked(b, refs, async (batch) => {
      const remove = this.opts.deleteVersions ?? deleteVersions;
      const { deleted, errors } = await remove(this.storage, b.name, batch as VersionRef[], SERVICE, { cause: 'lifecycle' });
      if (errors.length) {
        const locked = await lockedAmong(this.storage, b.id, errors);
        for (const e of errors) {
          if (locked.has(refName(e))) this.noteLocked(b, { key: e.key, versionId: e.versionId });
          else this.report.errors.push({ bucket: b.name, ...e });
        }
      }
      return deleted.length;
    });
  }

  private noteLocked(b: BucketRules, ref: { key: string; versionId?: string }): void {
    this.report.locked++;
    if (this.report.lockedVersions.length >= LISTED) return;
    this.report.lockedVersions.push({ bucket: b.name, key: ref.key, ...(ref.versionId !== undefined ? { versionId: ref.versionId } : {}) });
  }

  /**
   * Runs a batch deletion; when it fails and some of its versions are under
   * object lock (a legal hold, or a retention still running), those are
   * reported and the rest retried. A refusal with nothing locked is a real
   * failure: thrown. Each round drops at least one version, so it ends.
   */
  private async withoutLocked<T extends { key: string; versionId?: string }>(
    b: BucketRules,
    items: T[],
    run: (batch: T[]) => Promise<number>,
  ): Promise<number> {
    try {
      return await run(items);
    } catch (err) {
      const locked = await lockedAmong(this.storage, b.id, items);
      if (locked.size === 0) throw err;
      const rest: T[] = [];
      for (const item of items) {
        if (locked.has(refName(item))) this.noteLocked(b, { key: item.key, versionId: item.versionId });
        else rest.push(item);
      }
      this.storage.log.info({ bucket: b.name, locked: items.length - rest.length }, 'lifecycle: versions under object lock left alone');
      return rest.length ? this.withoutLocked(b, rest, run) : 0;
    }
  }
}

/** The keys under the rule's prefix: one index range (keys are COLLATE "C", S3's order). */
function prefixRange(sql: Sql, rule: LifecycleRule): Fragment {
  const prefix = rule.prefix ?? rule.filter?.prefix ?? '';
  if (prefix === '') return sql``;
  const end = prefixEnd(prefix);
  return sql`and key >= ${prefix} ${end !== undefined ? sql`and key < ${end}` : sql``}`;
}

const usesTagsOrSizes = (rule: LifecycleRule) =>
  (rule.filter?.tags?.length ?? 0) > 0 || rule.filter?.sizeGreaterThan !== undefined || rule.filter?.sizeLessThan !== undefined;

/** key, or key + version: what a batch names. */
const refName = (r: { key: string; versionId?: string }) => (r.versionId === undefined ? r.key : `${r.key}\0${r.versionId}`);

/**
 * Of these keys (their current versions) or versions, the ones object lock
 * keeps: a legal hold, or a retention ahead of the database's clock (the
 * commit-time rule of migration 0025 reads now(), not the pass's "now").
 */
async function lockedAmong(storage: Services, bucketId: string, items: readonly { key: string; versionId?: string }[]): Promise<Set<string>> {
  const keys = items.map((i) => i.key);
  const rows = await readAs(storage.sql, SERVICE, (sql) => sql<{ key: string; version: string; current: boolean }[]>`
    select key, version, true as current from storage.objects
    where bucket_uuid = ${bucketId} and key = any(${keys}::text[]) and (legal_hold or retain_until > now())
    union all
    select key, version, false from storage.object_versions
    where bucket_uuid = ${bucketId} and key = any(${keys}::text[]) and (legal_hold or retain_until > now())`);
  const byVersion = items.some((i) => i.versionId !== undefined);
  return new Set(rows.filter((r) => byVersion || r.current).map((r) => (byVersion ? `${r.key}\0${r.version}` : r.key)));
}

const removedAnything = (r: LifecycleReport) => r.expired + r.noncurrentExpired + r.deleteMarkersRemoved + r.uploadsAborted > 0;

/** One pass unless another process is running one (maintenance/exclusive.ts); undefined then. */
export function runLifecycleAlone(storage: Services, opts: LifecycleOptions = {}): Promise<LifecycleReport | undefined> {
  return runExclusive(storage, LIFECYCLE_LOCK, () => runLifecycle(storage, opts));
}

export interface LifecycleSchedule {
  /** Between passes (an hour by default). */
  everyMs: number;
  /** The first pass, after start-up. */
  firstAfterMs?: number;
  /** AEROSTORE_LIFECYCLE_NOW: every pass's "now" (testing only). */
  now?: Date;
}

/**
 * Runs passes on unref'd timers, one process at a time; shutdown stops a
 * pass between batches and waits for it (Services.background). Returns the
 * function that stops it.
 */
export function scheduleLifecycle(storage: Services, schedule: LifecycleSchedule, log: Logger): () => void {
  return scheduleExclusive(
    storage,
    { lockId: LIFECYCLE_LOCK, everyMs: schedule.everyMs, firstAfterMs: schedule.firstAfterMs ?? Math.min(10_000, schedule.everyMs) },
    async (signal) => {
      const report = await runLifecycle(storage, { now: schedule.now, signal });
      countPass(report);
      if (removedAnything(report) || report.locked > 0) log.info({ lifecycle: report }, 'lifecycle pass expired objects');
      else log.debug({ lifecycle: report }, 'lifecycle pass: nothing due');
    },
    (err) => {
      lifecycle.runs.inc({ result: 'failed' });
      log.warn({ err }, 'lifecycle pass failed; retried at the next run');
    },
  );
}

/** A scheduled pass's report, as metrics (metrics/registry.ts lifecycle). */
function countPass(r: LifecycleReport): void {
  lifecycle.runs.inc({ result: r.failedBuckets.length > 0 ? 'partial' : 'ok' });
  lifecycle.actions.inc({ action: 'expired' }, r.expired);
  lifecycle.actions.inc({ action: 'noncurrent_expired' }, r.noncurrentExpired);
  lifecycle.actions.inc({ action: 'delete_markers_removed' }, r.deleteMarkersRemoved);
  lifecycle.actions.inc({ action: 'uploads_aborted' }, r.uploadsAborted);
  lifecycle.actions.inc({ action: 'locked' }, r.locked);
}
