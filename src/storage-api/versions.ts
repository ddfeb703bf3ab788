// Versions over /storage/v1 (issue 18 §5). Supabase Storage has no version
// API beyond copy()'s sourceVersionId, which objects.ts honours; these two
// routes are aerostore's, in the same JSON style:
//   GET  /object/versions/{bucket}/{path}[?limit=&cursor=]  a key's versions, newest first
//   POST /object/restore/{bucket}/{path}  {"versionId"?}     make a past version current again
// Downloads and /object/info take ?versionId= (objects.ts). Everything is
// decided as the caller: RLS shows past versions to their owner and the
// bucket's owner (migration 0025).
import { Hono } from 'hono';
import { z } from 'zod';
import { copyObjectTo } from '../core/move.ts';
import type { Services } from '../core/services.ts';
import { listVersions } from '../core/versions.ts';
import type { Principal } from '../principals/principal.ts';
import type { ApiEnv } from '../http/env.ts';
import { StorageApiError } from './errors.ts';
import { objectTarget } from './objects.ts';
import { validBody } from './request.ts';

const MAX_LISTED = 1000;

/** Up to `limit` versions of exactly this key, newest first, after `cursor` (a version id); and the cursor of the next page. */
async function versionsOf(storage: Services, bucket: string, key: string, principal: Principal, limit: number, cursor?: string) {
  const page = await listVersions(storage, {
    bucket,
    prefix: key,
    delimiter: '',
    keyMarker: cursor === undefined ? '' : key,
    versionIdMarker: cursor,
    maxKeys: limit,
    principal,
  });
  // The prefix also matches longer keys; they come after this one's versions, so a page of them ends it.
  const mine = page.entries.filter((e) => e.key === key);
  const more = page.isTruncated && mine.length === page.entries.length;
  return { versions: mine, next: more ? mine[mine.length - 1]?.version : undefined };
}

export const restoreBody = z.object({ versionId: z.string().min(1).optional() }).optional();

export function versionRoutes(storage: Services): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/versions/*', async (c) => {
    const { bucket, key } = objectTarget(c, 'versions/');
    const limit = Math.min(Number(c.req.query('limit') ?? MAX_LISTED) || MAX_LISTED, MAX_LISTED);
    const { versions, next } = await versionsOf(storage, bucket, key, c.get('principal'), limit, c.req.query('cursor') || undefined);
    return c.json({
      versions: versions.map((v) => ({
        version_id: v.version,
        is_latest: v.isLatest,
        delete_marker: v.delete_marker,
        size: v.delete_marker ? null : v.size,
        etag: v.delete_marker ? null : v.etag,
        last_modified: new Date(Number(v.modified_ms)).toISOString(),
        owner_id: v.owner_id,
      })),
      next_cursor: next ?? null,
    });
  });

  // Restoring copies the version onto its key: the key's history keeps everything, as S3's
  // "restore a previous version" does. Without a version id: the newest version that is not a
  // delete marker, which undeletes a deleted object.
  app.post('/restore/*', async (c) => {
    const { bucket, key } = objectTarget(c, 'restore/');
    const principal = c.get('principal');
    const asked = (await validBody(c, restoreBody))?.versionId;
    let versionId = asked;
    if (versionId === undefined) {
      const { versions } = await versionsOf(storage, bucket, key, principal, MAX_LISTED);
      if (versions[0] && !versions[0].delete_marker) throw new StorageApiError(400, 'INVALID_REQUEST', 'The object is not deleted: name the version to restore.');
      versionId = versions.find((v) => !v.delete_marker)?.version;
      if (versionId === undefined) throw new StorageApiError(404, 'FILE_NOT_FOUND', 'No version of this object can be restored.');
    }
    const { object } = await copyObjectTo(storage, { sourceBucket: bucket, sourceKey: key, sourceVersionId: versionId, bucket, key, principal }, true);
    return c.json({ message: 'Successfully restored', restored_version_id: versionId, version_id: object.version, Key: `${bucket}/${key}` });
  });
  return app;
}
