// `aerostore fsck`: does the blob store agree with the database? (DESIGN.md FS-I1:
// an object row exists ⇔ its blob file exists.) Checks, per bucket: every
// object has its blob row, of the object's size; every blob row's reference
// count is the number of objects naming it; every blob row with references
// has its file, of the right size (and, with `deep`, the right SHA-256);
// every blob file has a row; every part row has its file and every part file
// a row; and, store-wide, idle temp files and leftovers of deleted buckets.
//
// Safe against a running server: everything found from two separate reads
// (a row here, a file there) is looked at again under the row's lock before
// it counts, and `repair` changes things only under the locks the write
// path takes (maintenance/orphans.ts): it recounts references, collects
// zero-reference blobs, recreates a missing blob row when its file is there
// with exactly the named content, and removes orphan files idle beyond the
// grace. It never deletes a row whose file is missing, nor a file it cannot
// account for: those are listed.
import pino, { type Logger } from 'pino';
import type { BlobStore, PartFile, StoreArea, TempFile } from '../blobs/store.ts';
import { storedSizeFits } from '../blobs/store.ts';
import { collectBlob } from '../core/objects.ts';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import { blobRows, pairBlobs, uploadsInStore } from './inventory.ts';
import { deletedBuckets, removeOrphanBlob, removeOrphanParts, type Maintainer } from './orphans.ts';

/** What fsck can find, and whether `repair` can fix it without guessing. */
export const PROBLEM_KINDS = {
  'object-without-blob-row': { repairable: true, meaning: 'an object names content that has no blob row (repair recreates the row when the file holds exactly that content)' },
  'object-size-mismatch': { repairable: false, meaning: "an object's size differs from its blob's" },
  'ref-count-mismatch': { repairable: true, meaning: "a blob's reference count differs from the number of objects naming it (repair recounts)" },
  'zero-reference-blob': { repairable: true, meaning: 'a blob row no object names, not yet collected (repair collects it)' },
  'blob-file-missing': { repairable: false, meaning: 'a blob row with references has no file: its objects cannot be read (listed, never deleted)' },
  'blob-file-wrong-size': { repairable: false, meaning: "a blob file's size differs from its row's" },
  'blob-file-wrong-hash': { repairable: false, meaning: "a blob file's SHA-256 is not its name (--deep)" },
  'orphan-blob-file': { repairable: true, meaning: 'a blob file without a row (repair removes it)' },
  'part-file-missing': { repairable: false, meaning: 'a multipart part row has no file: that upload cannot complete' },
  'orphan-part-file': { repairable: true, meaning: 'a part file no part row names, or of a finished upload (repair removes it)' },
  'orphan-temp-file': { repairable: true, meaning: 'an idle file in the temp directory (repair removes it)' },
  'deleted-bucket-files': { repairable: true, meaning: 'files of a bucket that no longer exists (repair removes them)' },
  'stray-file': { repairable: false, meaning: 'a file not named like anything aerostore writes (listed, never touched)' },
} as const;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

export interface FsckProblem {
  kind: ProblemKind;
  bucket?: string;
  key?: string;
  sha256?: string;
  /** Where the blob store keeps it (BlobStore's StoreLocation: on the local disk, a path). */
  path?: string;
  detail?: string;
  repaired: boolean;
}

export interface FsckProgress {
  phase: 'objects' | 'blobs' | 'parts' | 'temp';
  done: number;
  total: number;
  unit: 'buckets' | 'blobs' | 'bytes' | 'files';
}

export interface FsckOptions {
  /** Also hash every blob file (SHA-256, streamed) against its name. */
  deep?: boolean;
  /** Fix what can be fixed without guessing (see the top). */
  repair?: boolean;
  /** Only this bucket (by name); temp files and deleted buckets' leftovers are then not checked. */
  bucket?: string;
  /** Orphan files idle for less than this are taken for uploads in flight: counted as such, never removed. Default 5 minutes. */
  graceMs?: number;
  /** Problems listed per kind in the report (all are counted). Default 100. */
  listLimit?: number;
  onProgress?: (p: FsckProgress) => void;
  signal?: AbortSignal;
  log?: Logger;
}

export interface FsckReport {
  scope: { bucket?: string; deep: boolean; repair: boolean; graceMs: number };
  checked: {
    buckets: number;
    objects: number;
    blobRows: number;
    blobFiles: number;
    bytesHashed: number;
    uploads: number;
    partFiles: number;
    tempFiles: number;
  };
  /** Problems by kind: found, of which repaired, and what remains. */
  found: Partial<Record<ProblemKind, number>>;
  repaired: Partial<Record<ProblemKind, number>>;
  remaining: Partial<Record<ProblemKind, number>>;
  /** The problems, up to listLimit of each kind. */
  problems: FsckProblem[];
  /** Orphan candidates younger than the grace: work in flight, left alone. */
  inFlight: number;
  /** Nothing remains to be fixed. */
  clean: boolean;
  /** Stopped before the end (signal). */
  interrupted: boolean;
  durationMs: number;
}

/** A bucket named in --bucket that does not exist. */
export class FsckError extends Error {}

export const DEFAULT_FSCK_GRACE_MS = 5 * 60_000;

/** Checks (and with `repair`, repairs) `blobs` against the database; openBlobStore(dataDir) is a data directory's store. */
export async function fsck(sql: Sql, blobs: BlobStore, opts: FsckOptions = {}): Promise<FsckReport> {
  const run = new FsckRun(sql, blobs, opts);
  await run.all();
  return run.finish();
}

interface BucketRef {
  id: string;
  name: string;
}

class FsckRun {
  private readonly m: Maintainer;
  private readonly graceMs: number;
  private readonly listLimit: number;
  private readonly started = Date.now();
  private readonly listed = new Map<ProblemKind, number>();
  readonly report: FsckReport;
  private progress: FsckProgress = { phase: 'objects', done: 0, total: 0, unit: 'buckets' };
  private lastProgressAt = 0;

  constructor(
    sql: Sql,
    blobs: BlobStore,
    private readonly opts: FsckOptions,
  ) {
    this.m = { sql, blobs, log: opts.log ?? pino({ level: 'silent' }) };
    this.graceMs = opts.graceMs ?? DEFAULT_FSCK_GRACE_MS;
    this.listLimit = opts.listLimit ?? 100;
    this.report = {
      scope: { bucket: opts.bucket, deep: opts.deep === true, repair: opts.repair === true, graceMs: this.graceMs },
      checked: { buckets: 0, objects: 0, blobRows: 0, blobFiles: 0, bytesHashed: 0, uploads: 0, partFiles: 0, tempFiles: 0 },
      found: {},
      repaired: {},
      remaining: {},
      problems: [],
      inFlight: 0,
      clean: false,
      interrupted: false,
      durationMs: 0,
    };
  }

  private get stopped(): boolean {
    if (this.opts.signal?.aborted) this.report.interrupted = true;
    return this.report.interrupted;
  }

  private get repair(): boolean {
    return this.opts.repair === true;
  }

  private add(problem: Omit<FsckProblem, 'repaired'>, repaired = false): void {
    const { kind } = problem;
    const r = this.report;
    r.found[kind] = (r.found[kind] ?? 0) + 1;
    if (repaired) r.repaired[kind] = (r.repaired[kind] ?? 0) + 1;
    else r.remaining[kind] = (r.remaining[kind] ?? 0) + 1;
    const n = this.listed.get(kind) ?? 0;
    if (n < this.listLimit) {
      this.listed.set(kind, n + 1);
      r.problems.push({ ...problem, repaired });
    }
  }

  private tick(step: Partial<FsckProgress> & { advance?: number }, force = false): void {
    const { advance, ...rest } = step;
    this.progress = { ...this.progress, ...rest };
    if (advance) this.progress.done += advance;
    const now = Date.now();
    if (!this.opts.onProgress || (!force && now - this.lastProgressAt < 100)) return;
    this.lastProgressAt = now;
    this.opts.onProgress({ ...this.progress });
  }

  async all(): Promise<void> {
    const { sql } = this.m;
    const buckets = await readAs(sql, SERVICE, (tx) => tx<BucketRef[]>`
      select id, name from storage.buckets ${this.opts.bucket === undefined ? tx`` : tx`where name = ${this.opts.bucket}`}
      order by name`);
    if (this.opts.bucket !== undefined && buckets.length === 0) throw new FsckError(`no bucket named ${this.opts.bucket}`);
    const ids = buckets.map((b) => b.id);
    const [totals] = await readAs(sql, SERVICE, (tx) => tx<{ objects: number; blobs: number; bytes: number }[]>`
      select (select count(*)::int from storage.objects where bucket_uuid = any(${ids}::uuid[])) as objects,
             (select count(*)::int from storage.blobs where bucket_id = any(${ids}::uuid[])) as blobs,
             (select coalesce(sum(size), 0)::float8 from storage.blobs where bucket_id = any(${ids}::uuid[])) as bytes`);
    this.report.checked.buckets = buckets.length;
    this.report.checked.objects = totals.objects;

    this.tick({ phase: 'objects', done: 0, total: buckets.length, unit: 'buckets' }, true);
    for (const b of buckets) {
      if (this.stopped) return;
      await this.checkObjects(b);
      await this.checkRefCounts(b);
      this.tick({ advance: 1 });
    }

    const deep = this.opts.deep === true;
    this.tick({ phase: 'blobs', done: 0, total: deep ? totals.bytes : totals.blobs, unit: deep ? 'bytes' : 'blobs' }, true);
    for (const b of buckets) {
      if (this.stopped) return;
      await this.checkBlobs(b);
    }
    this.tick({}, true);

    this.tick({ phase: 'parts', done: 0, total: buckets.length, unit: 'buckets' }, true);
    for (const b of buckets) {
      if (this.stopped) return;
      await this.checkParts(b);
      this.tick({ advance: 1 });
    }

    if (this.opts.bucket === undefined && !this.stopped) {
      await this.checkLeftovers();
      await this.checkTemp();
    }
  }

  finish(): FsckReport {
    const r = this.report;
    r.clean = !r.interrupted && Object.values(r.remaining).every((n) => !n);
    r.durationMs = Date.now() - this.started;
    return r;
  }

  /** Objects whose blob row is missing, or of another size. Object and blob rows commit together: no race to allow for. */
  private async checkObjects(b: BucketRef): Promise<void> {
    const { sql } = this.m;
    const rowless = await readAs(sql, SERVICE, (tx) => tx<{ key: string; sha256: string; size: number }[]>`
      select o.key, o.sha256, o.size from storage.blob_references o
      where o.bucket_uuid = ${b.id}
        and not exists (select 1 from storage.blobs x where x.bucket_id = o.bucket_uuid and x.sha256 = o.sha256)
      order by o.sha256, o.key`);
    const bySha = new Map<string, { size: number; keys: string[] }>();
    for (const o of rowless) {
      const entry = bySha.get(o.sha256) ?? { size: o.size, keys: [] };
      entry.keys.push(o.key);
      bySha.set(o.sha256, entry);
    }
    for (const [sha256, { size, keys }] of bySha) {
      const why = this.repair ? await this.recreateBlobRow(b, sha256, size) : undefined;
      for (const key of keys) {
        this.add({ kind: 'object-without-blob-row', bucket: b.name, key, sha256, detail: why ?? undefined }, why === null);
      }
    }

    const sized = await readAs(sql, SERVICE, (tx) => tx<{ key: string; sha256: string; size: number; blob_size: number }[]>`
      select o.key, o.sha256, o.size, x.size as blob_size from storage.blob_references o
      join storage.blobs x on x.bucket_id = o.bucket_uuid and x.sha256 = o.sha256
      where o.bucket_uuid = ${b.id} and o.size <> x.size`);
    for (const o of sized) {
      this.add({ kind: 'object-size-mismatch', bucket: b.name, key: o.key, sha256: o.sha256, detail: `object ${o.size} bytes, blob ${o.blob_size}` });
    }
  }

  /**
   * Recreates the blob row of objects that lost it, when the file holds
   * exactly their content (its SHA-256 is its name, its size theirs).
   * Returns null when repaired, else why not.
   */
  private async recreateBlobRow(b: BucketRef, sha256: string, size: number): Promise<string | null> {
    const st = await this.m.blobs.statBlob(b.id, sha256).catch(() => undefined);
    if (!st) return 'its blob file is missing too';
    if (!storedSizeFits(st.size, size)) return `its blob file has ${st.size} bytes, the object ${size}`;
    if ((await this.hash(b.id, sha256)) !== sha256) return 'its blob file does not hold that content';
    await asPrincipal(this.m.sql, SERVICE, async (tx) => {
      // Sealed or not, as the file is (its length says: storedSizeFits).
      await tx`insert into storage.blobs (bucket_id, sha256, size, ref_count, sealed) values (${b.id}, ${sha256}, ${size}, 0, ${st.size !== size})
        on conflict do nothing`;
      await recountLocked(tx, b.id, sha256, true);
    });
    return null;
  }

  /** Reference counts against the objects, and zero-reference rows; each candidate is recounted under its row lock. */
  private async checkRefCounts(b: BucketRef): Promise<void> {
    const candidates = await readAs(this.m.sql, SERVICE, (tx) => tx<{ sha256: string }[]>`
      select x.sha256 from storage.blobs x
      left join (select sha256, count(*)::int as n from storage.blob_references where bucket_uuid = ${b.id} group by sha256) o
        on o.sha256 = x.sha256
      where x.bucket_id = ${b.id} and (x.ref_count <> coalesce(o.n, 0) or x.ref_count = 0)
      order by x.sha256`);
    for (const { sha256 } of candidates) {
      if (this.stopped) return;
      const counts = await asPrincipal(this.m.sql, SERVICE, (tx) => recountLocked(tx, b.id, sha256, this.repair));
      if (!counts) continue; // collected meanwhile
      const mismatch = counts.recorded !== counts.counted;
      if (mismatch) {
        this.add(
          { kind: 'ref-count-mismatch', bucket: b.name, sha256, detail: `recorded ${counts.recorded}, ${counts.counted} object(s) name it` },
          this.repair,
        );
      }
      if (counts.counted === 0) {
        let collected = false;
        if (this.repair) {
          await collectBlob(this.m, b.id, sha256);
          collected = !(await this.blobRowExists(b.id, sha256));
        }
        // A mismatch that reached zero is one problem, reported above; its collection completes the repair.
        if (!mismatch) this.add({ kind: 'zero-reference-blob', bucket: b.name, sha256 }, collected);
      }
    }
  }

  private async blobRowExists(bucketId: string, sha256: string): Promise<boolean> {
    const [row] = await readAs(this.m.sql, SERVICE, (tx) => tx`
      select 1 from storage.blobs where bucket_id = ${bucketId} and sha256 = ${sha256}`);
    return row !== undefined;
  }

  /** The blob rows against the blob files of one bucket, merged in sha256 order. */
  private async checkBlobs(b: BucketRef): Promise<void> {
    const deep = this.opts.deep === true;
    for await (const pair of pairBlobs(this.m.blobs.listBlobs(b.id), blobRows(this.m.sql, b.id))) {
      if (this.stopped) return;
      if ('stray' in pair) {
        this.add({ kind: 'stray-file', bucket: b.name, path: pair.stray });
        continue;
      }
      const { sha256, row, file } = pair;
      if (row) this.report.checked.blobRows++;
      if (file) this.report.checked.blobFiles++;
      if (row && row.ref_count === 0) {
        // Counted by checkRefCounts (and collected there under repair).
        this.tick({ advance: deep ? row.size : 1 });
        continue;
      }
      if (row && file) {
        const st = await this.m.blobs.statBlob(b.id, sha256).catch(() => undefined);
        if (st && !storedSizeFits(st.size, row.size)) {
          this.add({ kind: 'blob-file-wrong-size', bucket: b.name, sha256, path: file, detail: `row ${row.size} bytes, file ${st.size}` });
        } else if (st && deep) {
          const actual = await this.hash(b.id, sha256, (n) => this.tick({ advance: n }));
          if (actual !== undefined && actual !== sha256) {
            this.add({ kind: 'blob-file-wrong-hash', bucket: b.name, sha256, path: file, detail: `content hashes to ${actual}` });
          }
          continue;
        }
        this.tick({ advance: deep ? row.size : 1 });
      } else if (row) {
        await this.checkMissingBlobFile(b, sha256);
        this.tick({ advance: deep ? row.size : 1 });
      } else {
        await this.checkOrphanBlobFile(b, sha256, file!);
      }
    }
  }

  /** A row with references and no file — unless, looked at under the row's lock, it is gone or the file is there. */
  private async checkMissingBlobFile(b: BucketRef, sha256: string): Promise<void> {
    const missing = await asPrincipal(this.m.sql, SERVICE, async (tx) => {
      const [row] = await tx<{ ref_count: number }[]>`
        select ref_count from storage.blobs where bucket_id = ${b.id} and sha256 = ${sha256} for share`;
      if (!row || row.ref_count === 0) return false;
      return (await this.m.blobs.statBlob(b.id, sha256)) === undefined;
    });
    if (!missing) return;
    const keys = await readAs(this.m.sql, SERVICE, (tx) => tx<{ key: string }[]>`
      select key from storage.blob_references where bucket_uuid = ${b.id} and sha256 = ${sha256} order by key limit 5`);
    this.add({
      kind: 'blob-file-missing',
      bucket: b.name,
      sha256,
      path: this.m.blobs.blobLocation(b.id, sha256),
      key: keys[0]?.key,
      detail: `objects: ${keys.map((k) => JSON.stringify(k.key)).join(', ')}${keys.length === 5 ? ', …' : ''}`,
    });
  }

  private async checkOrphanBlobFile(b: BucketRef, sha256: string, file: string): Promise<void> {
    const st = await this.m.blobs.statBlob(b.id, sha256);
    if (st === undefined) return;
    if (st.idleMs < this.graceMs) {
      this.report.inFlight++;
      return;
    }
    if (this.repair) {
      const outcome = await removeOrphanBlob(this.m, b.id, sha256, this.graceMs);
      if (outcome === 'removed') this.add({ kind: 'orphan-blob-file', bucket: b.name, sha256, path: file }, true);
      else if (outcome === 'young') this.report.inFlight++;
      return;
    }
    if (!(await this.blobRowExists(b.id, sha256))) this.add({ kind: 'orphan-blob-file', bucket: b.name, sha256, path: file });
  }

  /** Part rows against part files, for one bucket's uploads. */
  private async checkParts(b: BucketRef): Promise<void> {
    // The store first, the rows second (as the sweeper: a part row commits only after its file is in place).
    const { uploads: inStore, strays } = await uploadsInStore(this.m.blobs, b.id);
    for (const s of strays) this.add({ kind: 'stray-file', bucket: b.name, path: s });
    const rows = await readAs(this.m.sql, SERVICE, (tx) => tx<{ id: string; key: string; part_number: number | null; path: string | null }[]>`
      select u.id, u.key, p.part_number, p.path from storage.multipart_uploads u
      left join storage.multipart_parts p on p.upload_id = u.id
      where u.bucket_id = ${b.id} order by u.id, p.part_number`);
    const live = new Set(rows.map((r) => r.id));
    const named = new Set(rows.map((r) => r.path));
    this.report.checked.uploads += live.size;

    for (const r of rows) {
      if (r.path === null || this.stopped) continue;
      if ((await this.m.blobs.statPart(r.path)) !== undefined) continue;
      // Completed or aborted meanwhile (rows first, files after), or really missing?
      const [still] = await readAs(this.m.sql, SERVICE, (tx) => tx`
        select 1 from storage.multipart_parts where upload_id = ${r.id} and part_number = ${r.part_number} and path = ${r.path}`);
      if (still && (await this.m.blobs.statPart(r.path)) === undefined) {
        this.add({ kind: 'part-file-missing', bucket: b.name, key: r.key, path: this.m.blobs.partLocation(r.path), detail: `upload ${r.id}, part ${r.part_number}` });
      }
    }

    for (const [uploadId, parts] of inStore) {
      if (this.stopped) return;
      this.report.checked.partFiles += parts.length;
      const candidates: PartFile[] = [];
      for (const part of parts) {
        if (live.has(uploadId) && named.has(part.ref)) continue;
        const st = await this.m.blobs.statPart(part.ref);
        if (st === undefined) continue;
        // A finished upload's files are garbage at any age (orphans.ts removeOrphanParts).
        if (live.has(uploadId) && st.idleMs < this.graceMs) this.report.inFlight++;
        else candidates.push(part);
      }
      if (candidates.length === 0) continue;
      const removed = this.repair ? await removeOrphanParts(this.m, b.id, uploadId, candidates, live.has(uploadId) ? this.graceMs : 0) : [];
      const removedRefs = new Set(removed.map((p) => p.ref));
      for (const part of candidates) {
        this.add(
          { kind: 'orphan-part-file', bucket: b.name, path: part.location, detail: live.has(uploadId) ? `upload ${uploadId}` : `finished upload ${uploadId}` },
          removedRefs.has(part.ref),
        );
      }
    }
  }

  /** Leftovers of deleted buckets, and anything else the store holds beside its buckets. */
  private async checkLeftovers(): Promise<void> {
    for (const area of ['blobs', 'parts'] satisfies StoreArea[]) {
      const { buckets, strays } = await this.m.blobs.listBuckets(area);
      for (const s of strays) this.add({ kind: 'stray-file', path: s });
      const deleted = new Set(await deletedBuckets(this.m.sql, buckets.map((x) => x.id)));
      for (const { id, location } of buckets.filter((x) => deleted.has(x.id))) {
        if (this.repair) await this.m.blobs.removeBucket(id);
        this.add({ kind: 'deleted-bucket-files', path: location, detail: `bucket id ${id}` }, this.repair);
      }
    }
  }

  private async checkTemp(): Promise<void> {
    const files: TempFile[] = [];
    for await (const f of this.m.blobs.listTempFiles()) files.push(f);
    this.tick({ phase: 'temp', done: 0, total: files.length, unit: 'files' }, true);
    this.report.checked.tempFiles = files.length;
    for (const f of files) {
      this.tick({ advance: 1 });
      if (f.idleMs < this.graceMs) {
        this.report.inFlight++;
        continue;
      }
      const removed = this.repair && (await this.m.blobs.removeIdleTempFile(f.name, this.graceMs));
      this.add({ kind: 'orphan-temp-file', path: f.location, detail: `idle ${Math.round(f.idleMs / 60_000)} min` }, removed);
    }
    this.tick({}, true);
  }

  /** SHA-256 of a blob's stored bytes, counted in the report; undefined when it went away. */
  private hash(bucketId: string, sha256: string, onBytes?: (n: number) => void): Promise<string | undefined> {
    return this.m.blobs.hashBlob(bucketId, sha256, (n) => {
      this.report.checked.bytesHashed += n;
      onBytes?.(n);
    });
  }
}

/**
 * Counts the objects naming a blob while holding its row lock. Every
 * transaction that adds or removes an object row also takes or drops its
 * reference on that row (core/objects.ts, copy.ts, delete-objects.ts) and so
 * holds the lock until it commits: the count — a statement after the lock,
 * with a snapshot after theirs — includes exactly the committed ones, and
 * those still to come apply their own +1/−1 on top of what we write.
 * (A count in the same statement as the lock would use a snapshot from
 * before the wait and miss the transaction it waited for.)
 */
async function recountLocked(
  tx: Sql,
  bucketId: string,
  sha256: string,
  fix: boolean,
): Promise<{ recorded: number; counted: number } | undefined> {
  const [row] = await tx<{ ref_count: number }[]>`
    select ref_count from storage.blobs where bucket_id = ${bucketId} and sha256 = ${sha256} for update`;
  if (!row) return undefined;
  const [{ n }] = await tx<{ n: number }[]>`
    select count(*)::int as n from storage.blob_references where bucket_uuid = ${bucketId} and sha256 = ${sha256}`;
  if (fix && n !== row.ref_count) {
    await tx`update storage.blobs set ref_count = ${n} where bucket_id = ${bucketId} and sha256 = ${sha256}`;
  }
  return { recorded: row.ref_count, counted: n };
}
