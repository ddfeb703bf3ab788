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
import { asPrincipal } from '../db/session.ts';
import { DomainError } from './errors.ts';
import type { Principal } from '../principals/principal.ts';
import { knowsWholeBucket } from './access.ts';
import { requireChangeOf } from './policy-checks.ts';
import { requireBucket } from './buckets.ts';
import { collectInBackground, rethrowWriteFailure } from './objects.ts';
import type { Services } from './services.ts';
import { recordEvents } from '../events/record.ts';

/** S3's limit on one DeleteObjects request. */
export const MAX_DELETE_KEYS = 1000;

export interface DeleteObjectsResult {
  /** Keys that had an object. */
  deleted: Set<string>;
  /** Keys the principal may not delete: visible but not its to delete, or not visible to it at all. */
  refused: Set<string>;
}

/** Why a deletion happened, when not at a client's request: its events say so. */
export interface DeletionOptions {
  /** A lifecycle rule expired it (maintenance/lifecycle.ts). */
  cause?: 'lifecycle';
}

/**
 * Deletes `keys` (already validated) from a bucket. Missing keys are not an
 * error, as in S3.
 */
export async function deleteObjects(
  storage: Services,
  bucketName: string,
  keys: readonly string[],
  principal: Principal,
  opts: DeletionOptions = {},
): Promise<DeleteObjectsResult> {
  const bucket = await requireBucket(storage, bucketName);
  await requireChangeOf(storage, bucket, principal, 'DELETE');
  const unique = [...new Set(keys)];
  if (unique.length === 0) return { deleted: new Set(), refused: new Set() };
  // The same lock names as objects.ts keyLock: hashtextextended(bucket-id/key).
  const lockNames = unique.map((k) => bucket.id + '/' + k);
  const released: string[] = [];
  const result = await asPrincipal(storage.sql, principal, async (tx) => {
    const [, deleted, kept] = await Promise.all([
      // offset 0 keeps the sort below the lock calls: locks go in lock-id order.
      tx`select pg_advisory_xact_lock(l.id) from (
           select distinct hashtextextended(n, 0) as id from unnest(${lockNames}::text[]) as n order by 1 offset 0
         ) as l`,
      tx<{ id: string; key: string; sha256: string; size: number; owner_id: string | null; content_type: string | null; filename: string | null }[]>`
        delete from storage.objects where bucket_uuid = ${bucket.id} and key = any(${unique}::text[])
        returning id, key, sha256, size, owner_id, content_type, filename`,
      tx<{ key: string }[]>`select key from storage.objects where bucket_uuid = ${bucket.id} and key = any(${unique}::text[])`,
    ]);
    const outcome = { deleted: new Set(deleted.map((d) => d.key)), refused: new Set(kept.map((k) => k.key)) };
    // A principal that does not see the whole bucket cannot be told a key is missing.
    if (!knowsWholeBucket(bucket, principal)) for (const k of unique) if (!outcome.deleted.has(k)) outcome.refused.add(k);
    if (deleted.length === 0) return outcome;
    const refs = new Map<string, number>();
    for (const d of deleted) refs.set(d.sha256, (refs.get(d.sha256) ?? 0) + 1);
    const shas = [...refs.keys()].sort();
    const [, , counts] = await Promise.all([
      recordEvents(
        tx,
        deleted.map((d) => ({
          type: 'storage.object.deleted' as const,
          bucketId: bucket.id,
          bucket: bucket.name,
          key: d.key,
          objectId: d.id,
          ownerId: d.owner_id,
          payload: { size: d.size, sha256: d.sha256, content_type: d.content_type, filename: d.filename ?? undefined, cause: opts.cause },
        })),
      ),
      // Row locks in sha256 order (the Sort is below LockRows), as commitObject takes them.
      tx`select 1 from storage.blobs where bucket_id = ${bucket.id} and sha256 = any(${shas}::text[])
         order by sha256 for update`,
      tx<{ sha256: string; ref_count: number }[]>`
        update storage.blobs as b set ref_count = b.ref_count - d.n
        from unnest(${shas}::text[], ${shas.map((s) => refs.get(s) as number)}::int[]) as d(sha, n)
        where b.bucket_id = ${bucket.id} and b.sha256 = d.sha
        returning b.sha256, b.ref_count`,
    ]);
    for (const c of counts) if (c.ref_count === 0) released.push(c.sha256);
    return outcome;
  }).catch((err: unknown) => rethrowWriteFailure(storage, bucketName, err));
  for (const sha of released) collectInBackground(storage, bucket.id, sha);
  return result;
}

/**
 * Deletes a key; deleting a missing key is not an error (S3 answers 204
 * either way). RLS deletes only what the principal may delete; a row it can
 * see but not delete is AccessDenied, and so is a key it cannot see at all
 * unless it sees the whole bucket (core/access.ts knowsWholeBucket).
 * Returns whether there was an object.
 */
export async function deleteObject(storage: Services, bucketName: string, key: string, principal: Principal): Promise<boolean> {
  const { deleted, refused } = await deleteObjects(storage, bucketName, [key], principal);
  if (refused.has(key)) throw new DomainError('AccessDenied');
  return deleted.has(key);
}
