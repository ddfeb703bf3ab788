// /storage/v1/object/list and /object/list-v2: listing a bucket the way
// storage-js asks.
//
// list (v1): one folder's files and subfolders, with offset paging, a name
// search and any sort. list-v2: S3's listing in storage-js's shape — a prefix,
// folders rolled up at "/" on request, and an opaque cursor that resumes
// exactly after the last entry however the bucket changes in between.
// Both read as the principal: row-level security shows what it may read.
import { Hono } from 'hono';
import { z } from 'zod';
import { trimChars } from '../core/trim.ts';
import { requireList } from '../core/access.ts';
import { requireBucket } from '../core/buckets.ts';
import { isoMillis, listObjects, prefixEnd, type ListedObject } from '../core/list.ts';
import type { ObjectRow } from '../core/objects.ts';
import type { Storage } from '../core/storage.ts';
import type { BucketRow } from '../core/bucket.ts';
import type { TransactionSql } from '../db/connect.ts';
import { readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { ApiEnv } from '../http/env.ts';
import { StorageApiError } from './errors.ts';
import { validBody } from './request.ts';

/** Postgres text cannot hold NUL: no key contains one. */
const noNul = (s: z.ZodString) => s.refine((v) => !v.includes('\0'), 'must not contain NUL characters');

export const listBody = z.object({
  prefix: noNul(z.string()).default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  search: noNul(z.string()).default(''),
  sortBy: z
    .object({
      column: z.enum(['name', 'created_at', 'updated_at', 'last_accessed_at']).default('name'),
      order: z.enum(['asc', 'desc']).default('asc'),
    })
    .default({ column: 'name', order: 'asc' }),
});

/** A listed file's columns (core's ListedObject plus what /object/list shows). */
interface ListedFile extends Pick<ListedObject, 'size' | 'etag' | 'modified_ms'>, Pick<ObjectRow, 'id' | 'content_type' | 'cache_control'> {
  created_ms: number;
}

/** The extra columns listObjects reads for a file entry; times as epoch ms (to_char costs more than the scan). */
const FILE_COLUMNS = (sql: TransactionSql) => sql`id, content_type, cache_control, floor(extract(epoch from created_at) * 1000)::int8 as created_ms`;

/**
 * Files and folders of one folder in name (byte) order, as the response's
 * JSON, through core listObjects: one statement per 1,000 entries.
 */
async function listByName(
  storage: Storage,
  bucket: BucketRow,
  prefix: string,
  offset: number,
  limit: number,
  order: 'asc' | 'desc',
  principal: Principal,
): Promise<string> {
  // Descending needs the whole folder; ascending only the first offset + limit entries.
  const want = order === 'asc' ? offset + limit : Number.MAX_SAFE_INTEGER;
  const entries: Array<{ name: string; json: string }> = [];
  let folders = false;
  let after = '';
  for (;;) {
    const page = await listObjects(storage, {
      bucket: bucket.name,
      prefix,
      delimiter: '/',
      after,
      maxKeys: Math.min(1000, want - entries.length),
      principal,
      columns: FILE_COLUMNS,
    });
    for (const o of page.objects) {
      const name = o.key.slice(prefix.length);
      entries.push({ name, json: fileJson(name, o as ListedObject & ListedFile) });
    }
    for (const cp of page.commonPrefixes) {
      const name = cp.slice(prefix.length, -1);
      entries.push({ name, json: folderJson(name) });
      folders = true;
    }
    if (!page.isTruncated || !page.last || entries.length >= want) break;
    after = page.last.value;
  }
  // The walk goes in key order, where folder "a" (key "a/") follows file "a.txt"; names sort otherwise.
  if (folders) entries.sort((x, y) => byteOrder(x.name, y.name));
  if (order === 'desc') entries.reverse();
  return `[${entries
    .slice(offset, offset + limit)
    .map((e) => e.json)
    .join(',')}]`;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** One file in storage-js's shape, written straight to JSON (a page has up to 1,000); list-v2 adds the full key. */
function fileJson(name: string, f: ListedFile, key?: string): string {
  const modified = isoMillis(f.modified_ms);
  return (
    `{"name":${jsonString(name)},${key === undefined ? '' : `"key":${jsonString(key)},`}"id":"${f.id}","created_at":"${isoMillis(f.created_ms)}",` +
    `"updated_at":"${modified}","last_accessed_at":"${modified}","metadata":{"eTag":${JSON.stringify(f.etag)},` +
    `"size":${f.size},"mimetype":${jsonString(f.content_type)},"cacheControl":${jsonString(f.cache_control)},` +
    `"lastModified":"${modified}","contentLength":${f.size},"httpStatusCode":200}}`
  );
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
/** JSON.stringify for a string or null, skipping the escaper for the usual plain name. */
const jsonString = (s: string | null) => (s === null ? 'null' : NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

const folderJson = (name: string) =>
  JSON.stringify({ name, id: null, created_at: null, updated_at: null, last_accessed_at: null, metadata: null });

/** Any other order, or a search: one statement over the folder's key range. */
async function listBySql(
  storage: Storage,
  bucketId: string,
  prefix: string,
  q: z.infer<typeof listBody>,
  column: string,
  principal: Principal,
): Promise<string> {
  // A key range the (bucket_id, key) index serves: the folder and nothing else.
  const end = prefix === '' ? undefined : prefixEnd(prefix);
  const skip = [...prefix].length; // substr counts characters
  const rows = await readAs(storage.sql, principal, (tx) => tx<Array<{ name: string; folder: boolean } & ListedFile>>`
      with x as (
        select o.*, substr(o.key, ${skip + 1}) as rest from storage.objects o
        where o.bucket_id = ${bucketId} and o.key >= ${prefix}::text collate "C"
          ${end === undefined ? tx`` : tx`and o.key < ${end}::text collate "C"`}
          and starts_with(lower(substr(o.key, ${skip + 1})), ${q.search.toLowerCase()})
      ), entries as (
        select distinct left(rest, strpos(rest, '/') - 1) as name, true as folder, null::uuid as id,
          null::timestamptz as created_at, null::timestamptz as updated_at, null::text as etag, null::bigint as size,
          null::text as content_type, null::text as cache_control
        from x where strpos(rest, '/') > 0
        union all
        select rest, false, id, created_at, updated_at, etag, size, content_type, cache_control
        from x where strpos(rest, '/') = 0
      )
      select name, folder, id, etag, size, content_type, cache_control,
        floor(extract(epoch from created_at) * 1000)::int8 as created_ms, floor(extract(epoch from updated_at) * 1000)::int8 as modified_ms
      from entries
      order by ${tx.unsafe(column === 'name' ? 'name collate "C"' : column)} ${tx.unsafe(q.sortBy.order)} nulls last, name collate "C"
      offset ${q.offset} limit ${q.limit}`);
  return `[${rows.map((r) => (r.folder ? folderJson(r.name) : fileJson(r.name, r))).join(',')}]`;
}


export const listV2Body = z.object({
  prefix: noNul(z.string()).default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  cursor: z.string().max(4096).optional(),
  with_delimiter: z.boolean().default(false),
  sortBy: z
    .object({
      column: z.enum(['name', 'created_at', 'updated_at']).default('name'),
      order: z.enum(['asc', 'desc']).default('asc'),
    })
    .default({ column: 'name', order: 'asc' }),
});
type ListV2Query = z.infer<typeof listV2Body>;

/**
 * What a list-v2 cursor carries: the order it belongs to and the last entry
 * returned (in name order its key or folder; in time order the time, exactly
 * as Postgres wrote it, and the key). Opaque to clients: base64url JSON.
 */
type Cursor = { o: string; k: string; t?: string };

/** A timestamptz as Postgres writes it (DateStyle ISO): what a time cursor carries. */
const PG_TIMESTAMPTZ = /^\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d){0,2}( BC)?$/;

const orderOf = (q: ListV2Query) => `${q.sortBy.column}.${q.sortBy.order}${q.with_delimiter ? '/' : ''}`;
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decodeCursor(q: ListV2Query): Cursor | undefined {
  if (q.cursor === undefined || q.cursor === '') return undefined;
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  const ok = typeof c === 'object' && c !== null && typeof (c as Cursor).o === 'string' && typeof (c as Cursor).k === 'string' && !(c as Cursor).k.includes('\0');
  if (!ok) throw new StorageApiError(400, 'INVALID_REQUEST', 'cursor: not a cursor this server returned.');
  const cursor = c as Cursor;
  if (cursor.o !== orderOf(q)) {
    throw new StorageApiError(400, 'INVALID_REQUEST', 'cursor: it belongs to a listing with another sortBy or with_delimiter; pass the same options as for the first page.');
  }
  if (cursor.o.startsWith('name') ? cursor.t !== undefined : typeof cursor.t !== 'string' || !PG_TIMESTAMPTZ.test(cursor.t)) {
    throw new StorageApiError(400, 'INVALID_REQUEST', 'cursor: not a cursor this server returned.');
  }
  return cursor;
}

/** The folder a prefix lies in ("a/b/ph" → "a/b/"): list-v2's names are relative to it. */
const folderOf = (prefix: string) => prefix.slice(0, prefix.lastIndexOf('/') + 1);

/** A list-v2 page, with entry names relative to the prefix's folder. */
interface PageV2 {
  objects: string[];
  folders: string[];
  next?: Cursor;
}

/**
 * By name, ascending: core listObjects, S3's walk — a range scan, folders
 * skipped over in the index, one statement per page.
 */
async function listV2ByName(storage: Storage, bucket: BucketRow, q: ListV2Query, after: string, principal: Principal): Promise<PageV2> {
  const base = folderOf(q.prefix);
  const page = await listObjects(storage, {
    bucket: bucket.name,
    prefix: q.prefix,
    delimiter: q.with_delimiter ? '/' : '',
    after,
    maxKeys: q.limit,
    principal,
    columns: FILE_COLUMNS,
  });
  return {
    objects: page.objects.map((o) => fileJson(o.key.slice(base.length), o as ListedObject & ListedFile, o.key)),
    folders: page.commonPrefixes.map((cp) => `{"name":${jsonString(cp.slice(base.length, -1))},"key":${jsonString(cp)}}`),
    next: page.isTruncated && page.last ? { o: orderOf(q), k: page.last.value } : undefined,
  };
}

/**
 * By name descending, or by a time: files only (folders have neither), a
 * keyset over (column, key) in one statement. The prefix's key range bounds
 * the scan; the sort is over that range, so a huge prefix costs a sort.
 */
async function listV2BySql(storage: Storage, bucket: BucketRow, q: ListV2Query, cursor: Cursor | undefined, principal: Principal): Promise<PageV2> {
  const base = folderOf(q.prefix);
  const end = q.prefix === '' ? undefined : prefixEnd(q.prefix);
  const desc = q.sortBy.order === 'desc';
  const column = q.sortBy.column;
  const read = readAs(storage.sql, principal, (tx) => {
    const cmp = tx.unsafe(desc ? '<' : '>');
    const dir = tx.unsafe(desc ? 'desc' : 'asc');
    let past = tx``;
    if (cursor && column === 'name') past = tx`and o.key ${cmp} ${cursor.k}::text collate "C"`;
    // ::text first: a timestamptz parameter goes through postgres.js's Date, which drops the microseconds.
    else if (cursor) past = tx`and (o.${tx(column)}, o.key collate "C") ${cmp} (${cursor.t!}::text::timestamptz, ${cursor.k}::text collate "C")`;
    return tx<Array<ListedObject & ListedFile & { t: string }>>`
      select o.key, o.size, o.etag, o.id, o.content_type, o.cache_control, o.${tx(column === 'name' ? 'updated_at' : column)}::text as t,
        floor(extract(epoch from o.created_at) * 1000)::int8 as created_ms, floor(extract(epoch from o.updated_at) * 1000)::int8 as modified_ms
      from storage.objects o
      where o.bucket_id = ${bucket.id} and o.key >= ${q.prefix}::text collate "C"
        ${end === undefined ? tx`` : tx`and o.key < ${end}::text collate "C"`}
        ${past}
      order by ${column === 'name' ? tx`` : tx`o.${tx(column)} ${dir},`} o.key collate "C" ${dir}
      limit ${q.limit + 1}`;
  });
  const rows = await read.catch((err: { code?: string }) => {
    // Class 22, data exception: a time in the cursor Postgres cannot read (the pattern above lets "02-31" by).
    if (cursor && err.code?.startsWith('22')) throw new StorageApiError(400, 'INVALID_REQUEST', 'cursor: not a cursor this server returned.');
    throw err;
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    objects: page.map((o) => fileJson(o.key.slice(base.length), o, o.key)),
    folders: [],
    next: rows.length > q.limit ? { o: orderOf(q), k: last.key, ...(column !== 'name' && { t: last.t }) } : undefined,
  };
}

export function listRoutes(storage: Storage): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.post('/list/:bucket', async (c) => {
    const q = await validBody(c, listBody);
    const principal = c.get('principal');
    const bucket = await requireBucket(storage, c.req.param('bucket'));
    requireList(bucket, principal);
    // storage-js sends the folder without its trailing slash.
    const prefix = q.prefix === '' ? '' : trimChars(q.prefix, '/') + '/';
    const column = q.sortBy.column === 'last_accessed_at' ? 'updated_at' : q.sortBy.column;
    // By name, no search: the S3 listing's walk (range scan, skip-scan over
    // folders) finds the page in the index however big the bucket is.
    const json =
      column === 'name' && q.search === ''
        ? await listByName(storage, bucket, prefix, q.offset, q.limit, q.sortBy.order, principal)
        : await listBySql(storage, bucket.id, prefix, q, column, principal);
    return c.body(json, 200, { 'content-type': 'application/json; charset=UTF-8' });
  });


  app.post('/list-v2/:bucket', async (c) => {
    const q = await validBody(c, listV2Body);
    const principal = c.get('principal');
    const bucket = await requireBucket(storage, c.req.param('bucket'));
    requireList(bucket, principal);
    const byName = q.sortBy.column === 'name' && q.sortBy.order === 'asc';
    if (q.with_delimiter && !byName) {
      // Folders have no times, and S3's rollup walks keys in order: only name ascending rolls up.
      throw new StorageApiError(400, 'INVALID_REQUEST', 'with_delimiter lists in name order only: drop sortBy, or list without with_delimiter.');
    }
    const cursor = decodeCursor(q);
    const page = byName ? await listV2ByName(storage, bucket, q, cursor?.k ?? '', principal) : await listV2BySql(storage, bucket, q, cursor, principal);
    const next = page.next ? `,"nextCursor":"${encodeCursor(page.next)}"` : '';
    const json = `{"hasNext":${page.next !== undefined}${next},"folders":[${page.folders.join(',')}],"objects":[${page.objects.join(',')}]}`;
    return c.body(json, 200, { 'content-type': 'application/json; charset=UTF-8' });
  });
  return app;
}
