// /storage/v1/bucket: create, list, get, update, empty, delete — storage-js's
// bucket methods, and the AeroDB shapes (`policy`, `max_file_size`) beside
// Supabase's (`public`, `file_size_limit`). A bucket's id on this API is its
// name, as in Supabase.
import { Hono } from 'hono';
import { z } from 'zod';
import { canSee } from '../core/access.ts';
import type { BucketPolicy } from '../core/bucket.ts';
import { createBucket, deleteBucket, findBucket, listBuckets, requireBucket, updateBucketSettings, type BucketSettings } from '../core/buckets.ts';
import { emptyBucket } from '../core/empty-bucket.ts';
import type { Services } from '../core/services.ts';
import type { BucketRow } from '../core/bucket.ts';
import type { ApiEnv } from '../http/env.ts';
import { StorageApiError } from './errors.ts';
import { validBody } from './request.ts';

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** A size in bytes: a number, or a string such as "10MB" or "1.5 GB" (binary units). */
export function parseSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  // Trim first: `\s*` on both sides of an optional unit let the regex try
  // every split of a long run of spaces (quadratic; 30,000 spaces took 300 ms).
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?b)?$/i.exec(value.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const size = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) ctx.addIssue({ code: 'custom', message: 'a positive number of bytes, or a size such as "10MB"' });
    return bytes as number;
  });
const mimePattern = z.string().regex(/^[\w.+-]+\/(\*|[\w.+-]+)$/, 'a MIME type such as image/png or image/*');

const settingsFields = {
  public: z.boolean().optional(),
  policy: z.enum(['private', 'authenticated', 'public']).optional(),
  file_size_limit: size.nullable().optional(),
  max_file_size: size.nullable().optional(),
  allowed_mime_types: z.array(mimePattern).nullable().optional(),
  // aerostore's own: member writes, anonymous listing, download events.
  member_writes: z.boolean().optional(),
  public_list: z.boolean().optional(),
  download_events: z.boolean().optional(),
};
export const createBody = z.object({ id: z.string().optional(), name: z.string().optional(), ...settingsFields });
export const updateBody = z.object(settingsFields);

/** The request's settings; `policy` wins over `public`, `file_size_limit` over `max_file_size`. */
function settingsOf(b: z.infer<typeof updateBody>): BucketSettings {
  const policy: BucketPolicy | undefined = b.policy ?? (b.public === undefined ? undefined : b.public ? 'public' : 'private');
  const limit = b.file_size_limit !== undefined ? b.file_size_limit : b.max_file_size;
  return {
    policy,
    ...(limit !== undefined ? { fileSizeLimit: limit } : {}),
    ...(b.allowed_mime_types !== undefined ? { allowedMimeTypes: b.allowed_mime_types } : {}),
    memberWrites: b.member_writes,
    publicList: b.public_list,
    downloadEvents: b.download_events,
  };
}

/** A bucket as storage-js reads it, with the AeroDB fields beside. */
export function bucketJson(b: BucketRow) {
  const created = b.created_at.toISOString();
  return {
    id: b.name,
    name: b.name,
    owner: b.owner_id ?? '',
    owner_id: b.owner_id,
    public: b.policy === 'public',
    policy: b.policy,
    file_size_limit: b.file_size_limit,
    max_file_size: b.file_size_limit,
    allowed_mime_types: b.allowed_mime_types,
    member_writes: b.member_writes,
    public_list: b.public_list,
    download_events: b.download_events,
    created_at: created,
    updated_at: created,
  };
}

const notFound = (name: string) => new StorageApiError(404, 'BUCKET_NOT_FOUND', `Bucket not found: ${name}`);

export function bucketRoutes(storage: Services): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.get('/', async (c) => {
    const search = c.req.query('search') ?? '';
    const column = c.req.query('sortColumn') === 'created_at' ? 'created_at' : 'name';
    const descending = c.req.query('sortOrder') === 'desc';
    const offset = Math.max(0, Number(c.req.query('offset') ?? 0) || 0);
    const limit = Number(c.req.query('limit') ?? 0) || Infinity;
    const rows = (await listBuckets(storage, c.get('principal'))).filter((b) => b.name.includes(search));
    rows.sort((x, y) => {
      const order = column === 'name' ? (x.name < y.name ? -1 : x.name > y.name ? 1 : 0) : x.created_at.getTime() - y.created_at.getTime();
      return descending ? -order : order;
    });
    return c.json(rows.slice(offset, offset + limit).map(bucketJson));
  });

  app.get('/:id', async (c) => {
    const name = c.req.param('id');
    const bucket = await findBucket(storage, name);
    // A bucket the principal may not see is not there, as far as it can tell.
    if (!bucket || !canSee(bucket, c.get('principal'))) throw notFound(name);
    return c.json(bucketJson(bucket));
  });

  app.post('/', async (c) => {
    const body = await validBody(c, createBody);
    const name = body.name ?? body.id;
    if (!name) throw new StorageApiError(400, 'INVALID_REQUEST', 'name (or id): the bucket name is required.');
    const { policy, ...settings } = settingsOf(body);
    const row = await createBucket(storage, name, c.get('principal'), policy ?? 'private', settings);
    return c.json(bucketJson(row)); // storage-js reads `name`
  });

  app.put('/:id', async (c) => {
    const body = await validBody(c, updateBody);
    const name = c.req.param('id');
    const bucket = await findBucket(storage, name);
    if (!bucket || !canSee(bucket, c.get('principal'))) throw notFound(name);
    await updateBucketSettings(storage, name, c.get('principal'), settingsOf(body));
    return c.json({ message: 'Successfully updated' });
  });

  app.post('/:id/empty', async (c) => {
    await emptyBucket(storage, c.req.param('id'), c.get('principal'));
    return c.json({ message: 'Successfully emptied' });
  });

  app.delete('/:id', async (c) => {
    await deleteBucket(storage, c.req.param('id'), c.get('principal'));
    return c.json({ message: 'Successfully deleted' });
  });

  return app;
}
