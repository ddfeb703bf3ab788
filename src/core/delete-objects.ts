// Deleting objects, protocol-neutral: the one delete transaction, for up to
// 1,000 keys at once (S3 DeleteObjects, /storage/v1 remove, emptying a
// bucket, a move's source) and for one (DeleteObject), with the same locking
// discipline as commitObject:
//   1. the keys' advisory locks, taken in one statement in ascending lock-id
//      order, so two batches sharing keys cannot deadlock (single-key writers
//      hold one key lock at a time and take blob locks only after it);
//   2. the object rows deleted, one storage.object.deleted event per row
//      deleted, in the same statement;
//   3. the blob rows locked in sha256 order, then decremented;
//   4. commit; zero-reference blobs are collected in the background.
// RLS deletes only the rows the principal may delete; keys it can see but
// not delete come back as refused.
import type { TransactionSql } from '../db/connect.ts';
import { asPrincipal } from '../db/session.ts';
import { DomainError } from './errors.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import type { BucketRow } from './bucket.ts';
import { VERSION_COLUMNS, versionForWrite } from './version-rows.ts';
import { knowsWholeBucket } from './access.ts';
import { readsDenied } from './bucket-policies.ts';
import { requireChangeOf } from './policy-checks.ts';
import { requireBucket } from './buckets.ts';
import { collectInBackground, rethrowWriteFailure } from './objects.ts';
import type { Services } from './services.ts';
import { recordEvents, type NewEvent } from '../events/record.ts';

/** S3's limit on one DeleteObjects request. */
export const MAX_DELETE_KEYS = 1000;

export interface DeleteObjectsResult {
  /** Keys that had an object. */
  deleted: Set<string>;
  /** Keys the principal may not delete: visible but not its to delete, or not visible to it at all. */
  refused: Set<string>;
  /** In a versioned bucket: key → the delete marker's version id, for each key not refused. */
  markers: Map<string, string>;
}

/** Why a delete happened when no request asked for it (events say so). */
export interface DeleteOptions {
  cause?: 'lifecycle';
}

type DeletedRow = { id: string; key: string; sha256: string; size: number; owner_id: string | null; content_type: string | null; filename: string | null; version: string };

/**
 * Deletes `keys` (already validated) from a bucket. Missing keys are not an
 * error, as in S3.
 */
export async function deleteObjects(
  storage: Services,
  bucketName: string,
  keys: readonly string[],
  principal: Principal,
  opts: DeleteOptions = {},
): Promise<DeleteObjectsResult> {
  const bucket = await requireBucket(storage, bucketName);
  await requireChangeOf(storage, bucket, principal, 'DELETE');
  const unique = [...new Set(keys)];
  if (unique.length === 0) return { deleted: new Set(), refused: new Set(), markers: new Map() };
  const released: string[] = [];
  const result = await asPrincipal(storage.sql, principal, async (tx) => {
    const [, deleted, kept] = await Promise.all([
      lockKeys(tx, bucket, unique),
      removeCurrent(tx, bucket, unique),
      tx<{ key: string }[]>`select key from storage.objects where bucket_uuid = ${bucket.id} and key = any(${unique}::text[])`,
    ]);
    const outcome: DeleteObjectsResult = { deleted: new Set(deleted.map((d) => d.key)), refused: new Set(kept.map((k) => k.key)), markers: new Map() };
    // A principal that does not see the whole bucket cannot be told a key is missing;
    // nor can one whose reads of it a bucket policy denies or IgnorePublicAcls hides.
    const unseen = unique.filter((k) => !outcome.deleted.has(k) && !outcome.refused.has(k));
    const hidden = knowsWholeBucket(bucket, principal) ? await readsDenied(tx, bucket, principal, unseen) : new Set(unseen);
    for (const k of hidden) outcome.refused.add(k);
    // Versioning keeps what was current (removeCurrent moved it); each key gets a delete marker.
    const { markers, removedNull } = await addDeleteMarkers(tx, bucket, unique.filter((k) => !outcome.refused.has(k)), principal);
    outcome.markers = markers;
    const destroyed = [...deleted.filter((d) => !keptAsVersion(bucket, d)), ...removedNull];
    const events = [
      ...deleted.map((d) => deletedEvent(bucket, d, opts, markers.get(d.key))),
      // A marker on a key that had no current object is an event too (S3's DeleteMarkerCreated).
      ...[...markers].filter(([k]) => !outcome.deleted.has(k)).map(([key, version]) =>
        deletedEvent(bucket, { id: null, key, sha256: '', size: 0, owner_id: ownerId(principal), content_type: null, filename: null, version }, opts, version)),
    ];
    if (events.length > 0) await recordEvents(tx, events);
    await releaseBlobs(tx, bucket, destroyed, released);
    return outcome;
  }).catch((err: unknown) => rethrowWriteFailure(storage, bucketName, err));
  for (const sha of released) collectInBackground(storage, bucket.id, sha);
  return result;
}

/**
 * The keys' advisory locks (the names objects.ts keyLock takes:
 * hashtextextended(bucket-id/key)), in one statement in lock-id order, so
 * two batches sharing keys cannot deadlock.
 */
export function lockKeys(tx: TransactionSql, bucket: BucketRow, keys: readonly string[]) {
  const names = [...new Set(keys)].map((k) => bucket.id + '/' + k);
  // offset 0 keeps the sort below the lock calls.
  return tx`select pg_advisory_xact_lock(l.id) from (
      select distinct hashtextextended(n, 0) as id from unnest(${names}::text[]) as n order by 1 offset 0
    ) as l`;
}

/**
 * One reference less on the blob of each row destroyed, blob row locks
 * taken in sha256 order as commitObject takes them; blobs left at zero go
 * into `released`, for the collector once the transaction commits.
 */
export async function releaseBlobs(tx: TransactionSql, bucket: BucketRow, destroyed: readonly { sha256: string }[], released: string[]): Promise<void> {
  if (destroyed.length === 0) return;
  const refs = new Map<string, number>();
  for (const d of destroyed) refs.set(d.sha256, (refs.get(d.sha256) ?? 0) + 1);
  const shas = [...refs.keys()].sort();
  const [, counts] = await Promise.all([
    // The Sort is below LockRows.
    tx`select 1 from storage.blobs where bucket_id = ${bucket.id} and sha256 = any(${shas}::text[]) order by sha256 for update`,
    tx<{ sha256: string; ref_count: number }[]>`
      update storage.blobs as b set ref_count = b.ref_count - d.n
      from unnest(${shas}::text[], ${shas.map((s) => refs.get(s) as number)}::int[]) as d(sha, n)
      where b.bucket_id = ${bucket.id} and b.sha256 = d.sha
      returning b.sha256, b.ref_count`,
  ]);
  for (const c of counts) if (c.ref_count === 0) released.push(c.sha256);
}

/** Whether deleting this current row kept it as a past version (removeCurrent). */
function keptAsVersion(bucket: BucketRow, row: { version: string }): boolean {
  return bucket.versioning === 'Enabled' || (bucket.versioning === 'Suspended' && row.version !== 'null');
}

/**
 * Deletes the keys' current rows the principal may delete (RLS), returning
 * them; in a versioned bucket the rows versioning keeps move to
 * storage.object_versions in the same statement, keeping their blob
 * references.
 */
function removeCurrent(tx: TransactionSql, bucket: BucketRow, keys: string[]): Promise<DeletedRow[]> {
  const returned = 'id, key, sha256, size, owner_id, content_type, filename, version';
  if (!bucket.versioning) {
    return tx<DeletedRow[]>`
      delete from storage.objects where bucket_uuid = ${bucket.id} and key = any(${keys}::text[]) returning ${tx.unsafe(returned)}`;
  }
  return tx<DeletedRow[]>`
    with gone as (
      delete from storage.objects where bucket_uuid = ${bucket.id} and key = any(${keys}::text[])
      returning ${tx.unsafe(VERSION_COLUMNS)}, owner_id
    ), kept as (
      insert into storage.object_versions (${tx.unsafe(VERSION_COLUMNS)})
      select ${tx.unsafe(VERSION_COLUMNS)} from gone where ${bucket.versioning === 'Enabled'} or version <> 'null'
    )
    select ${tx.unsafe(returned)} from gone`;
}

/**
 * In a versioned bucket, a delete marker on each key: a new version id
 * (Enabled), or 'null' (Suspended), replacing the key's past 'null' version
 * or marker, whose blob reference goes. Returns key → marker version.
 */
async function addDeleteMarkers(
  tx: TransactionSql,
  bucket: BucketRow,
  keys: string[],
  principal: Principal,
): Promise<{ markers: Map<string, string>; removedNull: { sha256: string }[] }> {
  if (!bucket.versioning || keys.length === 0) return { markers: new Map(), removedNull: [] };
  const versions = keys.map(() => versionForWrite(bucket));
  const removed =
    bucket.versioning === 'Suspended'
      ? tx<{ sha256: string; delete_marker: boolean }[]>`
          delete from storage.object_versions where bucket_uuid = ${bucket.id} and key = any(${keys}::text[]) and version = 'null'
          returning sha256, delete_marker`
      : Promise.resolve([]);
  const added = tx<{ key: string; version: string }[]>`
    insert into storage.object_versions (bucket_uuid, bucket_id, key, size, etag, sha256, owner, version, delete_marker, scan_status)
    select ${bucket.id}, ${bucket.name}, k, 0, '', '', ${ownerId(principal)}::uuid, v, true, 'clean'
    from unnest(${keys}::text[], ${versions}::text[]) as m(k, v)
    on conflict (bucket_uuid, key, version) do nothing
    returning key, version`;
  const [gone, markers] = await Promise.all([removed, added]);
  return { markers: new Map(markers.map((m) => [m.key, m.version])), removedNull: gone.filter((r) => !r.delete_marker) };
}

/** The storage.object.deleted event of a row deleted (or hidden behind `marker`). */
function deletedEvent(bucket: BucketRow, d: Omit<DeletedRow, 'id'> & { id: string | null }, opts: DeleteOptions, marker?: string): NewEvent {
  return {
    type: 'storage.object.deleted',
    bucketId: bucket.id,
    bucket: bucket.name,
    key: d.key,
    objectId: d.id ?? undefined,
    ownerId: d.owner_id,
    payload: {
      size: d.size,
      sha256: d.sha256,
      content_type: d.content_type,
      filename: d.filename ?? undefined,
      ...(marker ? { version_id: marker, delete_marker: true } : bucket.versioning ? { version_id: d.version } : {}),
      ...(opts.cause ? { cause: opts.cause } : {}),
    },
  };
}

/**
 * Deletes a key; deleting a missing key is not an error (S3 answers 204
 * either way). RLS deletes only what the principal may delete; a row it can
 * see but not delete is AccessDenied, and so is a key it cannot see at all
 * unless it sees the whole bucket (core/access.ts knowsWholeBucket).
 * Returns whether there was an object, and in a versioned bucket the delete
 * marker that now hides it.
 */
export async function deleteObject(
  storage: Services,
  bucketName: string,
  key: string,
  principal: Principal,
  opts: DeleteOptions = {},
): Promise<{ existed: boolean; marker?: string }> {
  const { deleted, refused, markers } = await deleteObjects(storage, bucketName, [key], principal, opts);
  if (refused.has(key)) throw new DomainError('AccessDenied');
  return { existed: deleted.has(key), marker: markers.get(key) };
}
