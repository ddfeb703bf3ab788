// Objects: the write transaction, reads, deletes and the blob collector.
// Everything here is protocol-neutral; S3 and /storage/v1 call the same code.
import { SealedBlobCorrupt } from '../blobs/sealed.ts';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { StagedBlob } from '../blobs/store.ts';
import type { TransactionSql } from '../db/connect.ts';
import { asPrincipal, readAs, readObjectsAs, SERVICE } from '../db/session.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { isRlsRefusal } from './access.ts';
import { explainMissingObject } from './bucket-policies.ts';
import { requireWriteOf } from './policy-checks.ts';
import { requireBucket } from './buckets.ts';
import { DEFAULT_CHECKSUM, type ChecksumAlgorithm } from './checksums.ts';
import type { Services } from './services.ts';
import type { BucketRow, LockMode, ObjectLock } from './bucket.ts';
import { checkDeclaredUpload, checkSniffedType, sizeLimitFor } from './upload-rules.ts';
import { checkContent, checksumsToCompute, type ExpectedContent } from './integrity.ts';
import { dispositionFileName } from './file-record.ts';
import type { AclRequest } from './acl.ts';
import { objectAccessFor, type ObjectAccess } from './object-acl.ts';
import { recordEvents } from '../events/record.ts';
import { keepVersions, lockForWrite, versionForWrite } from './version-rows.ts';
import { collected } from '../metrics/registry.ts';

/** The standard headers S3 stores with an object and returns on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** x-amz-meta-* without the prefix, names lower-cased. */
  userMetadata: Record<string, string>;
}

/** The standard headers as an objects (or multipart_uploads) row stores them. */
export interface StoredHeaders {
  content_type: string | null;
  content_encoding: string | null;
  content_disposition: string | null;
  content_language: string | null;
  cache_control: string | null;
  expires: string | null;
  user_metadata: Record<string, string>;
}

/** A row's stored headers as the headers a write takes (a copy's source, a completed upload). */
export function headersOf(row: StoredHeaders): ObjectHeaders {
  return {
    contentType: row.content_type ?? undefined,
    contentEncoding: row.content_encoding ?? undefined,
    contentDisposition: row.content_disposition ?? undefined,
    contentLanguage: row.content_language ?? undefined,
    cacheControl: row.cache_control ?? undefined,
    expires: row.expires ?? undefined,
    userMetadata: row.user_metadata,
  };
}

export interface ObjectRow extends StoredHeaders {
  id: string;
  /** The bucket row's id. */
  bucket_uuid: string;
  /** The bucket's name, as Supabase's schema has it (migration 0022). */
  bucket_id: string;
  key: string;
  size: number;
  etag: string;
  sha256: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** Object tags, key → value (migration 0007). */
  tags: Record<string, string>;
  owner_id: string | null;
  /** Part sizes of a multipart object, in order; null for a single PUT. */
  parts: number[] | null;
  /** Each part's checksum (base64) in the upload's algorithm, in order (migration 0018); null without one, or for a single PUT. */
  part_checksums: string[] | null;
  /** The original file name (migration 0016); null: the key's last segment (core/file-record.ts). */
  filename: string | null;
  /** The object's ACL ('<PERMISSION>:<grantee>', core/acl.ts; migration 0021); null: its owner's FULL_CONTROL alone. */
  acl: string[] | null;
  /** This object's virus-scan state (migration 0015): pending until the scan queue settles it. */
  scan_status: 'pending' | 'clean' | 'infected' | 'unscanned';
  /** The version's id (migration 0025): 'null' where versioning never made another. */
  version: string;
  /** Orders a key's versions, newest highest. */
  version_seq: number;
  /** Object lock: the retention mode and date, both or neither; and the legal hold. */
  lock_mode: LockMode | null;
  retain_until: Date | null;
  legal_hold: boolean;
  /** A delete marker (only ever in storage.object_versions); absent on current rows. */
  delete_marker?: boolean;
  created_at: Date;
  updated_at: Date;
}

/** S3's limit on a key: 1,024 bytes of UTF-8. Postgres text cannot hold NUL. */
export function validateKey(key: string): void {
  if (key.length === 0) throw new DomainError('InvalidArgument', 'Object key must not be empty.');
  if (Buffer.byteLength(key, 'utf8') > 1024) throw new DomainError('KeyTooLong', undefined, { Key: key.slice(0, 64) });
  if (key.includes('\0')) throw new DomainError('InvalidArgument', 'Object key must not contain a NUL character.');
}

export interface PutObjectInput {
  bucket: string;
  key: string;
  body: Readable;
  /** Bytes promised by the client, when known before the body. */
  expectedSize?: number;
  headers: ObjectHeaders;
  /** The new object's tags (x-amz-tagging, validated by core/tagging.ts); none when absent. */
  tags?: Record<string, string>;
  principal: Principal;
  /**
   * The checksums to store (a copy keeps its source's, or takes the one it
   * asks for). Otherwise the one the client sent, or else the CRC64NVME S3
   * adds by default.
   */
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
  /** The size limit when the bucket sets none (the native API's default); S3 has none but the server maximum. */
  defaultSizeLimit?: number;
  /** Conditional write: the key must not exist (`If-None-Match: *`) or must have this ETag (`If-Match`). */
  condition?: WriteCondition;
  /** What the bytes must be (digests the client sent, a copy's source): checked once they are staged, before anything is committed. */
  expected?: ExpectedContent;
  /** The original file name, when the upload names one apart from its headers (a form part's filename, a copy's source); else Content-Disposition's. */
  filename?: string;
  /** The ACL the request asks for (x-amz-acl, x-amz-grant-*, a form's acl); none: the owner's FULL_CONTROL alone. */
  acl?: AclRequest;
  /** Object lock settings the request asks for (x-amz-object-lock-*); none: the bucket's default retention, if any. */
  lock?: ObjectLock;
}

export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** Whether a write may replace an existing key: anything but a create-only write (If-None-Match: *). */
export function overwrites(condition: WriteCondition | undefined): boolean {
  return condition === undefined || !('ifNoneMatch' in condition);
}

/**
 * S3's conditional writes: If-None-Match: * fails with 412 when the key
 * exists; If-Match fails with 412 on another ETag and 404 when the key is
 * missing. Evaluated under the key's advisory lock, so of N concurrent
 * creators exactly one wins.
 */
export function checkWriteCondition(condition: WriteCondition | undefined, current: { etag: string } | undefined, key: string): void {
  if (!condition) return;
  if ('ifNoneMatch' in condition) {
    if (current) throw new DomainError('KeyExists', undefined, { Condition: 'If-None-Match' });
    return;
  }
  if (!current) throw new DomainError('NoSuchKey', undefined, { Key: key });
  const bare = (t: string) => t.trim().replace(/^"|"$/g, '');
  if (bare(condition.ifMatch) !== bare(current.etag) && condition.ifMatch.trim() !== '*') {
    throw new DomainError('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

export interface PutObjectResult {
  object: ObjectRow;
  replaced: boolean;
  /** The bucket row the write went to (its versioning decides the response's x-amz-version-id). */
  bucket: BucketRow;
}

/** Advisory-lock key for one object name: writers to one key take turns. */
export function keyLock(tx: TransactionSql, bucketId: string, key: string) {
  return tx`select pg_advisory_xact_lock(hashtextextended(${bucketId + '/' + key}, 0))`;
}

export async function putObject(storage: Services, input: PutObjectInput): Promise<PutObjectResult> {
  validateKey(input.key);
  const bucket = await requireBucket(storage, input.bucket);
  // Refuse early, before any body is read (and before 100 Continue): the
  // presets, else a trial of the would-be row (core/policy-checks.ts). RLS
  // decides again at commit, as do the conditions under the key lock.
  const access = objectAccessFor(bucket, input.principal, input.acl);
  await requireWriteOf(storage, bucket, input.principal, {
    key: input.key,
    ...access,
    contentType: input.headers.contentType,
    size: input.expectedSize,
    userMetadata: input.headers.userMetadata,
    overwrite: overwrites(input.condition),
  });
  if (input.condition) {
    const [current] = await readAs(storage.sql, input.principal, (tx) => tx<{ etag: string }[]>`
      select etag from storage.objects where bucket_uuid = ${bucket.id} and key = ${input.key}`);
    checkWriteCondition(input.condition, current, input.key);
  }
  // Before 100 Continue: a body that will be refused is never sent.
  lockForWrite(bucket, input.lock);
  const maxSize = sizeLimitFor(storage, bucket, input.defaultSizeLimit);
  checkDeclaredUpload(bucket, maxSize, input.expectedSize, input.headers.contentType);
  const stored = checksumsToStore(input, storage.defaultChecksum !== false);
  const staged = await storage.blobs.ingest(input.body, {
    expectedSize: input.expectedSize,
    maxSize,
    checksums: checksumsToCompute(input.expected, stored),
    seal: await storage.sealing?.sealingKey(bucket.id),
  });
  const placement = { placed: false };
  try {
    checkContent(input.expected, staged);
    await checkSniffedType(bucket, staged);
    const etag = `"${staged.md5.toString('hex')}"`;
    const checksums = Object.fromEntries(stored.map((a) => [a, staged.checksums[a]]));
    return await commitObject(storage, bucket, { ...input, access }, staged, { etag, checksums }, placement);
  } finally {
    // Once placed (or dropped as a duplicate), the temp file is taken care of; otherwise the write was refused.
    if (!placement.placed) await storage.blobs.discard(staged);
  }
}

/**
 * The checksums an object keeps: those the caller names (a copy), else the
 * one the client sent, else S3's default — every object has one (S3 user
 * guide, "Checking object integrity": default data integrity protections),
 * unless AEROSTORE_DEFAULT_CHECKSUM is off.
 */
function checksumsToStore(input: Pick<PutObjectInput, 'checksumAlgorithms' | 'expected'>, withDefault: boolean): ChecksumAlgorithm[] {
  if (input.checksumAlgorithms?.length) return [...input.checksumAlgorithms];
  const sent = input.expected?.checksum?.algorithm;
  return sent ? [sent] : withDefault ? [DEFAULT_CHECKSUM] : [];
}

/**
 * What commitObject needs of a write: everything in PutObjectInput but the
 * body and its hooks, with the requested ACL resolved (core/object-acl.ts);
 * without `access`, the writer owns the object under the default ACL.
 */
export type CommitInput = Omit<PutObjectInput, 'body' | 'expectedSize' | 'defaultSizeLimit' | 'checksumAlgorithms' | 'expected' | 'acl'> & {
  access?: ObjectAccess;
};

/** The stored facts of one object version, as the objects row holds them. */
export interface ObjectVersion {
  size: number;
  etag: string;
  sha256: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** Part sizes of a multipart object; null for a single PUT. */
  parts: number[] | null;
  /** The parts' checksums in the upload's algorithm, when it had one. */
  part_checksums?: string[] | null;
  headers: ObjectHeaders;
  tags: Record<string, string>;
  owner: string | null;
  filename: string | null;
  acl: string[] | null;
  /** Object lock: the new version's retention and legal hold (core/object-lock.ts). */
  lock?: ObjectLock;
}

/**
 * Writes the object row (insert, or replace the key's current one) and its
 * storage.object.created event: the one place that knows the objects row's
 * columns. Callers hold the key's advisory lock and have already taken the
 * blob reference in the same transaction.
 */
async function upsertObject(
  tx: TransactionSql,
  bucket: BucketRow,
  key: string,
  v: ObjectVersion,
  version: string,
  event: { replaced: boolean; copiedFrom?: string },
): Promise<ObjectRow> {
  const h = v.headers;
  const retention = v.lock?.retention;
  // A new version in a versioned bucket is a new object: its own id and creation time (the one it replaces was kept).
  const versioned = version !== 'null';
  const [o] = await tx<ObjectRow[]>`
      insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, checksums, content_type,
        content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, owner, parts, part_checksums,
        tags, filename, acl, version, lock_mode, retain_until, legal_hold)
      values (${bucket.id}, ${bucket.name}, ${key}, ${v.size}, ${v.etag}, ${v.sha256},
        ${tx.json(v.checksums)}, ${h.contentType ?? null}, ${h.contentEncoding ?? null},
        ${h.contentDisposition ?? null}, ${h.contentLanguage ?? null}, ${h.cacheControl ?? null},
        ${h.expires ?? null}, ${tx.json(h.userMetadata)}, ${v.owner},
        ${v.parts ? tx.json(v.parts) : null}, ${v.part_checksums ? tx.json(v.part_checksums) : null}, ${tx.json(v.tags)}, ${v.filename}, ${v.acl}::text[],
        ${version}, ${retention?.mode ?? null}, ${retention?.retainUntil ?? null}, ${v.lock?.legalHold ?? false})
      on conflict (bucket_uuid, key) do update set
        size = excluded.size, etag = excluded.etag, sha256 = excluded.sha256, checksums = excluded.checksums,
        content_type = excluded.content_type, content_encoding = excluded.content_encoding,
        content_disposition = excluded.content_disposition, content_language = excluded.content_language,
        cache_control = excluded.cache_control, expires = excluded.expires,
        user_metadata = excluded.user_metadata, owner = excluded.owner, parts = excluded.parts, part_checksums = excluded.part_checksums,
        tags = excluded.tags, filename = excluded.filename, acl = excluded.acl, updated_at = now(),
        version = excluded.version, version_seq = excluded.version_seq,
        lock_mode = excluded.lock_mode, retain_until = excluded.retain_until, legal_hold = excluded.legal_hold
        ${versioned ? tx`, id = excluded.id, created_at = excluded.created_at` : tx``}
      returning *`;
  await recordEvents(tx, [
    {
      type: 'storage.object.created',
      bucketId: bucket.id,
      bucket: bucket.name,
      key: o.key,
      objectId: o.id,
      ownerId: o.owner_id,
      payload: {
        size: o.size,
        etag: o.etag,
        sha256: o.sha256,
        content_type: o.content_type,
        owner_id: o.owner_id,
        replaced: event.replaced,
        copied_from: event.copiedFrom,
        filename: o.filename ?? undefined,
        ...(bucket.versioning ? { version_id: o.version } : {}),
      },
    },
  ]);
  return o;
}

/**
 * The commit step of the write protocol for staged bytes, shared by
 * PutObject (and every upload that comes down to it) and
 * CompleteMultipartUpload (core/multipart.ts). `computed.parts`: the part
 * sizes of a multipart object; `computed.inTransaction`: runs under the key
 * lock, before the blob and object rows are written (throw to abort).
 */
export function commitObject(
  storage: Services,
  bucket: BucketRow,
  input: CommitInput,
  staged: StagedBlob,
  computed: {
    etag: string;
    checksums: StagedBlob['checksums'];
    parts?: number[];
    partChecksums?: string[];
    inTransaction?: (tx: TransactionSql) => Promise<void>;
  },
  placement: { placed: boolean },
): Promise<PutObjectResult> {
  const version = {
    size: staged.size,
    etag: computed.etag,
    sha256: staged.sha256,
    checksums: computed.checksums,
    parts: computed.parts ?? null,
    part_checksums: computed.partChecksums ?? null,
  };
  return writeObject(storage, bucket, input, version, { kind: 'staged', staged, placement }, { inTransaction: computed.inTransaction });
}

/** Where a write's content comes from. */
export type WriteContent =
  /** Bytes just staged (ingest): placed as the blob if the bucket does not hold them yet. */
  | { kind: 'staged'; staged: StagedBlob; placement: { placed: boolean } }
  /** A blob the bucket holds (a copy within the bucket): it gains a reference while its count is above zero. */
  | { kind: 'existing' };

/** An existing blob's count was at zero when a reference copy came for it: its file may be going; read the source again. */
export class ContentGone extends Error {}

/**
 * The one write transaction (PutObject, POST, uploads, multipart completion,
 * copies by reference). The key's advisory lock, so writers of one key take
 * turns; the write conditions checked under it; blob rows locked in sha256
 * order (the new content gains a reference, an overwritten object's loses
 * one), so two writers swapping contents between keys cannot deadlock; the
 * object row and its storage.object.created event in one statement; for
 * staged bytes, the blob placed (or, already there, the wait that hides
 * that). Statements are pipelined where they do not depend on each other's
 * results: Postgres still runs them in order, each with its own snapshot,
 * but the transaction costs three round trips, BEGIN and the principal
 * included. RLS checks the object row as the principal's.
 */
export async function writeObject(
  storage: Services,
  bucket: BucketRow,
  input: CommitInput,
  version: Omit<ObjectVersion, 'headers' | 'tags' | 'owner' | 'filename' | 'acl'>,
  content: WriteContent,
  opts: { inTransaction?: (tx: TransactionSql) => Promise<void>; copiedFrom?: string } = {},
): Promise<PutObjectResult> {
  const owner = input.access ? input.access.owner : ownerId(input.principal);
  const sha256 = version.sha256;
  const released: string[] = [];
  const began = performance.now();
  const versionId = versionForWrite(bucket);
  const result = await asPrincipal(storage.sql, input.principal, async (tx) => {
      // The lock and the read are sent now (execute()), before keepVersions
      // sends its statements, so the version kept is the one current under the
      // lock: else two writers could each replace a version the other never
      // kept. (A query awaited, or passed to Promise.all, goes out only in a
      // later microtask; keepVersions' own .then() sends at once.)
      const locked = Promise.all([
        keyLock(tx, bucket.id, input.key).execute(),
        tx<{ sha256: string; etag: string }[]>`
          select sha256, etag from storage.objects where bucket_uuid = ${bucket.id} and key = ${input.key}`.execute(),
      ]);
      const [[, [old]], replacedVersions] = await Promise.all([locked, keepVersions(tx, bucket, input.key)]);
      checkWriteCondition(input.condition, old, input.key);
      await opts.inTransaction?.(tx);
      // References: the new content gains one; the content this write
      // replaces loses one, unless versioning kept it as a past version; a
      // Suspended bucket's past 'null' version, replaced too, loses its own.
      const dropped = new Map<string, number>();
      if (old && !replacedVersions.keptCurrent) dropped.set(old.sha256, 1);
      for (const sha of replacedVersions.removed) dropped.set(sha, (dropped.get(sha) ?? 0) + 1);
      // The same content replaced: its gain and one loss cancel out (and the staged copy is dropped).
      const gains = !dropped.has(sha256);
      if (!gains) dropped.set(sha256, (dropped.get(sha256) as number) - 1);
      for (const [sha, n] of dropped) if (n === 0) dropped.delete(sha);
      const shas = [...new Set([...(gains ? [sha256] : []), ...dropped.keys()])].sort();
      const gaining = (sha: string) => gains && sha === sha256;
      const blobSteps = shas.map((sha) =>
        !gaining(sha)
          ? tx<{ ref_count: number; sealed?: boolean }[]>`
              update storage.blobs set ref_count = ref_count - ${dropped.get(sha) as number}
              where bucket_id = ${bucket.id} and sha256 = ${sha} returning ref_count`
          : content.kind === 'staged'
            ? tx<{ ref_count: number; sealed?: boolean }[]>`
                insert into storage.blobs (bucket_id, sha256, size, ref_count, sealed)
                values (${bucket.id}, ${sha256}, ${version.size}, 1, ${content.staged.sealed === true})
                on conflict (bucket_id, sha256) do update set ref_count = storage.blobs.ref_count + 1
                returning ref_count, sealed`
            : tx<{ ref_count: number; sealed?: boolean }[]>`
                update storage.blobs set ref_count = ref_count + 1
                where bucket_id = ${bucket.id} and sha256 = ${sha} and ref_count > 0 returning ref_count`,
      );
      // Sent in this order (a query goes out when it is first awaited): the
      // blob rows before the object row, whose trigger queues the blob's scan.
      const blobCounts = Promise.all(blobSteps);
      const upsert = upsertObject(
        tx,
        bucket,
        input.key,
        {
          ...version,
          headers: input.headers,
          tags: input.tags ?? {},
          owner,
          filename: input.filename ?? dispositionFileName(input.headers.contentDisposition) ?? null,
          acl: input.access?.acl ?? null,
          lock: lockForWrite(bucket, input.lock),
        },
        versionId,
        { replaced: old !== undefined, copiedFrom: opts.copiedFrom },
      );
      const [counts, object] = await Promise.all([blobCounts, upsert]);
      for (const [i, sha] of shas.entries()) {
        const refCount = counts[i][0]?.ref_count;
        if (!gaining(sha)) {
          if (refCount === 0) released.push(sha);
        } else if (content.kind === 'existing') {
          // Rolls the transaction back; the row written above goes with it.
          if (refCount === undefined) throw new ContentGone();
        } else if (refCount === 1) {
          // A row at ref_count > 1 guarantees the file is there; at 1 it may be
          // new, or a zero-reference row the collector has not reached yet. The
          // row lock is held until commit, so the collector cannot interfere.
          const linked = await storage.blobs.place(bucket.id, content.staged, began);
          content.placement.placed = true;
          // The row says how the file is stored (migration 0031). A row
          // brought back from zero keeps its file, and its marker, unless the
          // file was gone and ours took its place.
          const sealed = content.staged.sealed === true;
          if (linked && counts[i][0]?.sealed !== sealed) {
            await tx`update storage.blobs set sealed = ${sealed} where bucket_id = ${bucket.id} and sha256 = ${sha}`;
          }
        } else {
          // No faster than new content would be: the timing must not reveal that the bytes were here.
          await storage.blobs.placeKnown(content.staged, began);
          content.placement.placed = true;
        }
      }
      return { object, replaced: old !== undefined, bucket };
    }).catch((err: unknown) => rethrowWriteFailure(storage, input.bucket, err));
  for (const sha of released) collectInBackground(storage, bucket.id, sha);
  return result;
}

/**
 * A write transaction's failures in S3's terms: RLS refusing the row is
 * AccessDenied; a missing foreign key means the bucket was deleted after we
 * looked it up.
 */
export function rethrowWriteFailure(storage: Services, bucketName: string, err: unknown): never {
  if (isRlsRefusal(err)) throw new DomainError('AccessDenied');
  // Raised at commit by migration 0025's object lock rule.
  if ((err as { code?: string } | null)?.code === 'AS010') throw new DomainError('ObjectLocked');
  if ((err as { code?: string } | null)?.code === '23503') {
    storage.bucketCache.delete(bucketName);
    throw new DomainError('NoSuchBucket', undefined, { BucketName: bucketName });
  }
  throw err;
}

export interface ObjectLookup {
  bucket: BucketRow;
  object: ObjectRow;
}

/**
 * What an object is looked up for. 'content': its bytes, or the headers that
 * stand for them (GET, HEAD, a copy's source, downloads, signed URLs): the
 * virus scanner's verdict may withhold them. 'metadata': its tags, ACL,
 * attributes or info, or its deletion: answered whatever the verdict.
 */
export type ObjectUse = 'content' | 'metadata';

/** The object row as `principal` may see it: RLS filters the read. */
export async function findObject(
  storage: Services,
  bucketName: string,
  key: string,
  principal: Principal,
  use: ObjectUse = 'content',
): Promise<ObjectLookup> {
  const bucket = await requireBucket(storage, bucketName);
  const [object] = await readObjectsAs<ObjectRow>(storage.sql, principal, bucket.id, [key]);
  if (!object) throw await explainMissingObject(storage, bucket, principal, key);
  if (use === 'content') await requireScanClearance(storage, bucket, object);
  return { bucket, object };
}

/**
 * The object's own scan state decides (migration 0015): infected content is
 * never served, to anyone; content not scanned yet, only when
 * AEROSTORE_BLOCK_UNTIL_SCANNED. A new object on content already known to be
 * infected is pending like any other until the queue settles it (seconds),
 * and is not served meanwhile either: it answers as content not scanned yet.
 */
export async function requireScanClearance(storage: Services, bucket: BucketRow, object: ObjectRow): Promise<void> {
  const refusal = (await scanRefusals(storage, bucket, [object])).get(object);
  if (refusal) throw refusal;
}

/**
 * requireScanClearance's rule for a batch (storage-js's createSignedUrls):
 * the refusal, if any, of each object's content. Pending objects' blobs are
 * read in one statement.
 */
async function scanRefusals(storage: Services, bucket: BucketRow, objects: readonly ObjectRow[]): Promise<Map<ObjectRow, DomainError>> {
  const refusals = new Map<ObjectRow, DomainError>();
  const pending: ObjectRow[] = [];
  for (const o of objects) {
    if (o.scan_status === 'infected') refusals.set(o, new DomainError('Quarantined', undefined, { Key: o.key }));
    else if (o.scan_status !== 'pending' || !storage.scanning) continue;
    else if (storage.blockUntilScanned) refusals.set(o, new DomainError('NotScanned', undefined, { Key: o.key }));
    else pending.push(o);
  }
  if (pending.length === 0) return refusals;
  // Readers cannot see blobs under RLS: the service role looks (only while pending, so seldom).
  const infected = new Set(
    (await readAs(storage.sql, SERVICE, (tx) => tx<{ sha256: string }[]>`
      select sha256 from storage.blobs where bucket_id = ${bucket.id} and sha256 = any(${pending.map((o) => o.sha256)}::text[])
        and scan_status = 'infected'`)).map((b) => b.sha256),
  );
  for (const o of pending) if (infected.has(o.sha256)) refusals.set(o, new DomainError('NotScanned', undefined, { Key: o.key }));
  return refusals;
}

/**
 * The rows of these keys that `principal` may see (RLS filters the read), in
 * no particular order; keys it may not see, or that are not there, are
 * missing. With use 'content', objects whose content the scanner withholds
 * (requireScanClearance) are left out too.
 */
export async function findObjects(
  storage: Services,
  bucket: BucketRow,
  keys: readonly string[],
  principal: Principal,
  use: ObjectUse = 'metadata',
): Promise<ObjectRow[]> {
  const rows = await readObjectsAs<ObjectRow>(storage.sql, principal, bucket.id, keys);
  if (use === 'metadata') return rows;
  const refused = await scanRefusals(storage, bucket, rows);
  return rows.filter((o) => !refused.has(o));
}

/** Opens the object's bytes; a delete racing between the lookup and the open reads as NoSuchKey. */
export async function openObject(
  storage: Services,
  found: ObjectLookup,
  range?: { start: number; end: number },
): Promise<Readable> {
  const logCorrupt = (err: unknown) => {
    // Damaged at rest (encryption at rest: a chunk that does not authenticate):
    // the response is cut or refused, never completed with wrong bytes.
    if (err instanceof SealedBlobCorrupt) {
      storage.log.error({ err, bucket: found.bucket.name, key: found.object.key, sha256: found.object.sha256, fault: err.fault }, 'sealed blob does not authenticate; the read failed');
    }
  };
  try {
    const body = await storage.blobs.openRead(found.bucket.id, found.object.sha256, range, { size: Number(found.object.size) });
    body.once('error', logCorrupt);
    return body;
  } catch (err) {
    logCorrupt(err);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const [still] = await readAs(storage.sql, SERVICE, (tx) => tx`
      select 1 from storage.objects where bucket_uuid = ${found.bucket.id} and key = ${found.object.key}
        and sha256 = ${found.object.sha256}`);
    if (!still) throw new DomainError('NoSuchKey', undefined, { Key: found.object.key });
    storage.log.error({ bucket: found.bucket.name, key: found.object.key }, 'object row without its blob file');
    throw err;
  }
}

/**
 * Collection is garbage removal, not part of the client's request: it runs
 * after the answer, and shutdown waits for it (Services.background).
 */
export function collectInBackground(storage: Services, bucketId: string, sha256: string): void {
  const job = collectBlob(storage, bucketId, sha256).finally(() => storage.background.delete(job));
  storage.background.add(job);
}

/**
 * Removes a zero-reference blob: row lock first, then the file, then the row.
 * An upload of the same content waits on that row lock, finds the row gone
 * and places its own copy; if we crash between unlink and commit, the row
 * stays at zero and the next upload re-places the file.
 */
export async function collectBlob(storage: Pick<Services, 'sql' | 'blobs' | 'log'>, bucketId: string, sha256: string): Promise<void> {
  try {
    const gone = await asPrincipal(storage.sql, SERVICE, async (tx) => {
      const [row] = await tx<{ size: number }[]>`
        delete from storage.blobs where bucket_id = ${bucketId} and sha256 = ${sha256} and ref_count = 0
        returning size`;
      if (row) await storage.blobs.remove(bucketId, sha256);
      return row;
    });
    if (gone) {
      collected.blobs.inc();
      collected.bytes.inc(gone.size);
    }
  } catch (err) {
    // Garbage stays garbage: the sweeper will retry. The client's request succeeded.
    storage.log.warn({ err, bucketId, sha256 }, 'blob collection failed; left for the sweeper');
  }
}
