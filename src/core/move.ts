// /storage/v1's copy and move (storage-js's copy() and move()): a copy that
// may be told not to overwrite, and a move — a copy, then the source's
// deletion as the principal, undone when that deletion is refused. S3 has
// CopyObject (which always overwrites unless If-None-Match: *) and no move.
import type { Principal } from '../principals/principal.ts';
import { SERVICE } from '../db/session.ts';
import { copyObject, type CopyObjectInput, type CopyObjectResult } from './copy.ts';
import { deleteObjects } from './delete-objects.ts';
import { DomainError, isDomainError } from './errors.ts';
import type { Services } from './services.ts';

/**
 * copyObject that refuses an existing destination unless `overwrite`
 * (KeyExists, as an upload without upsert): move never overwrites,
 * copy only when asked. Decided under the destination's key lock, so a
 * writer racing to create the key is never overwritten.
 */
export async function copyObjectTo(storage: Services, input: CopyObjectInput, overwrite: boolean): Promise<CopyObjectResult> {
  try {
    return await copyObject(storage, overwrite ? input : { ...input, condition: { ifNoneMatch: '*' } });
  } catch (err) {
    if (isDomainError(err) && err.code === 'KeyExists') {
      throw new DomainError('KeyExists', `The destination already exists: ${input.bucket}/${input.key}`, { Condition: 'If-None-Match' });
    }
    throw err;
  }
}

/**
 * A move is a copy (read permission on the source by RLS, write on the
 * destination; never over an existing destination), then the source's
 * deletion as the principal. A source the principal may read but not delete
 * is left as it was: the copy is undone.
 */
export async function moveObject(
  storage: Services,
  input: { sourceBucket: string; sourceKey: string; bucket: string; key: string; principal: Principal },
): Promise<void> {
  await copyObjectTo(storage, input, false);
  let failure: unknown;
  try {
    const { refused } = await deleteObjects(storage, input.sourceBucket, [input.sourceKey], input.principal);
    if (refused.has(input.sourceKey)) failure = new DomainError('AccessDenied', 'The source may not be deleted by this principal, so it cannot be moved.');
  } catch (err) {
    failure = err; // refused up front (no write access to the source bucket), or the delete failed
  }
  if (failure !== undefined) {
    // As the service role: undoing must not depend on the principal's rights over what it just made.
    await deleteObjects(storage, input.bucket, [input.key], SERVICE);
    throw failure;
  }
}
