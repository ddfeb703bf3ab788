// Emptying a bucket (/storage/v1's POST /bucket/:id/empty, storage-js's
// emptyBucket): every object the principal may delete goes, a thousand keys
// at a time through the same batch delete as S3's DeleteObjects. S3 has no
// such operation (a client lists and deletes).
import type { Principal } from '../principals/principal.ts';
import { readAs } from '../db/session.ts';
import { requireAdminister } from './access.ts';
import { requireBucket } from './buckets.ts';
import { deleteObjects, MAX_DELETE_KEYS } from './delete-objects.ts';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';

/**
 * Deletes the bucket's objects; only its administrator may ask. Keys are read
 * as the principal (RLS), so a batch it may see but not delete at all stops
 * the loop with AccessDenied instead of going round forever.
 */
export async function emptyBucket(storage: Services, bucketName: string, principal: Principal): Promise<void> {
  const bucket = await requireBucket(storage, bucketName);
  requireAdminister(bucket, principal);
  for (;;) {
    const keys = await readAs(storage.sql, principal, (tx) => tx<{ key: string }[]>`
      select key from storage.objects where bucket_uuid = ${bucket.id} order by key limit ${MAX_DELETE_KEYS}`);
    if (keys.length === 0) return;
    const { deleted, refused } = await deleteObjects(storage, bucket.name, keys.map((k) => k.key), principal);
    if (deleted.size === 0 && refused.size > 0) throw new DomainError('AccessDenied', 'Some objects of the bucket may not be deleted by this principal.');
  }
}
