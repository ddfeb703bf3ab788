// Removing files that no row names — under the same locks as the uploads
// that might be about to name them. Shared by the sweeper and `fsck --repair`.
//
// Blob files. An upload places its blob file (link) while its transaction
// holds the blob row's lock — the row it inserted or incremented — and
// commits after (core/objects.ts commitObject). "No row visible" is therefore
// no proof of an orphan: the row may be an uncommitted insert whose file is
// already there. Uploads take no advisory lock on the content, only the row,
// and a missing row cannot be locked with SELECT … FOR UPDATE; so the remover
// makes the row itself: it INSERTs a placeholder row (ref_count 0) for the
// content, ON CONFLICT DO NOTHING, and only if that insert wins does it look
// at the file and unlink it, then rolls the placeholder back.
//   - An upload that inserted first (committed or not) makes our insert wait
//     for its commit and then conflict: we touch nothing.
//   - An upload that comes second blocks on our uncommitted placeholder in
//     its own INSERT … ON CONFLICT; when we roll back it inserts a fresh row
//     at count 1 and links its own file into place (the old one is gone).
// Either way no committed row ever names a file we removed. (The collector,
// core/objects.ts collectBlob, is the same argument from the other side: it
// deletes the zero-count row under its lock, then unlinks.)
//
// Part files. storePart moves a part file under its upload while holding
// the upload row FOR KEY SHARE, until its part row commits
// (core/multipart.ts); the remover takes the upload row FOR UPDATE, which
// waits for those and holds new ones off, and only then reads which files
// the part rows name.
//
// Temp files have no row to lock: only idle ones go (BlobStore.removeIdleTempFile:
// mtime older than the grace; ingest() keeps writing, and so touching, a live
// upload's file).
// Losing a temp file fails its upload cleanly — place() cannot link it, the
// transaction rolls back — but loses nothing that was acknowledged.
import type { Logger } from 'pino';
import type { BlobStore, PartFile } from '../blobs/store.ts';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';

/** What maintenance needs: the database, the blob store, a logger. A Services is one. */
export interface Maintainer {
  sql: Sql;
  blobs: BlobStore;
  log: Logger;
}

/** Thrown to roll the placeholder transaction back, carrying what happened. */
class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super('rollback');
  }
}

export type OrphanBlobOutcome =
  /** The file was an orphan and is gone. */
  | 'removed'
  /** A row exists (or was being written): the file is someone's. */
  | 'claimed'
  /** Changed within the grace: left alone this time. */
  | 'young'
  /** The file had gone already. */
  | 'gone'
  /** The bucket no longer exists: its leftovers go whole (BlobStore.removeBucket). */
  | 'no-bucket';

/** Removes a blob file that no row named when we looked, if that is still so under the row lock (see the top). */
export async function removeOrphanBlob(m: Maintainer, bucketId: string, sha256: string, graceMs: number): Promise<OrphanBlobOutcome> {
  try {
    return await asPrincipal(m.sql, SERVICE, async (tx) => {
      const [placeholder] = await tx`
        insert into storage.blobs (bucket_id, sha256, size, ref_count) values (${bucketId}, ${sha256}, 0, 0)
        on conflict do nothing returning sha256`;
      if (!placeholder) return 'claimed' as const;
      // The row is ours until we roll back: no upload can place this content meanwhile.
      const file = await m.blobs.statBlob(bucketId, sha256);
      if (file === undefined) throw new Rollback('gone' as const);
      if (file.idleMs < graceMs) throw new Rollback('young' as const);
      await m.blobs.remove(bucketId, sha256);
      throw new Rollback('removed' as const);
    });
  } catch (err) {
    if (err instanceof Rollback) return err.outcome as OrphanBlobOutcome;
    if ((err as { code?: string }).code === '23503') return 'no-bucket';
    throw err;
  }
}

/**
 * Removes an upload's part files among `parts` that no part row names and
 * that have been idle for `graceMs`, under the upload row's lock (see the
 * top); an upload that no longer exists loses all its files. Returns the
 * part files removed (all of `parts` for a finished upload).
 */
export async function removeOrphanParts(
  m: Maintainer,
  bucketId: string,
  uploadId: string,
  parts: readonly PartFile[],
  graceMs: number,
): Promise<PartFile[]> {
  const gone = await asPrincipal(m.sql, SERVICE, async (tx) => {
    const [upload] = await tx`
      select id from storage.multipart_uploads where id = ${uploadId} and bucket_id = ${bucketId} for update`;
    // Completed, aborted or expired: its files are garbage. (The upload row
    // commits before any part file exists, so "not visible" means "deleted".)
    if (!upload) return undefined;
    const named = new Set(
      (await tx<{ path: string }[]>`select path from storage.multipart_parts where upload_id = ${uploadId}`).map((r) => r.path),
    );
    const removed: PartFile[] = [];
    for (const part of parts) {
      if (named.has(part.ref)) continue;
      const file = await m.blobs.statPart(part.ref);
      if (file === undefined || file.idleMs < graceMs) continue;
      await m.blobs.removePart(part.ref);
      removed.push(part);
    }
    return removed;
  });
  if (gone !== undefined) return gone;
  await m.blobs.removeUpload(bucketId, uploadId);
  return [...parts];
}

/**
 * The bucket ids among `ids` that have no bucket row. Callers list the
 * store's buckets first and ask second: a bucket's row commits before any of
 * its files can exist, and ids are never reused, so a bucket the store holds
 * whose row is not visible afterwards was deleted (its removal after the
 * commit was cut short).
 */
export async function deletedBuckets(sql: Sql, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const live = await readAs(sql, SERVICE, (tx) => tx<{ id: string }[]>`
    select id from storage.buckets where id = any(${ids as string[]}::uuid[])`);
  const alive = new Set(live.map((r) => r.id));
  return ids.filter((id) => !alive.has(id));
}
