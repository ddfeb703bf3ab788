// /storage/v1/object/list and /object/list-v2: listing a bucket the way
// storage-js asks; core/folder-list.ts reads the entries.
//
// list (v1): one folder's files and subfolders, with offset paging, a name
// search and any sort. list-v2: S3's listing in storage-js's shape — a prefix,
// folders rolled up at "/" on request, and an opaque cursor that resumes
// exactly after the last entry however the bucket changes in between.
// Both read as the principal: row-level security shows what it may read.
import { Hono } from 'hono';
import { z } from 'zod';
import { trimChars } from '../core/trim.ts';
import { listFolder, listPrefix, type FolderFile } from '../core/folder-list.ts';
import { isoMillis } from '../core/list.ts';
import type { Services } from '../core/services.ts';
import type { ApiEnv } from '../http/env.ts';
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

/** One file in storage-js's shape, written straight to JSON (a page has up to 1,000); list-v2 adds the full key. */
function fileJson(name: string, f: FolderFile, key?: string): string {
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

/** The folder a prefix lies in ("a/b/ph" → "a/b/"): list-v2's names are relative to it. */
const folderOf = (prefix: string) => prefix.slice(0, prefix.lastIndexOf('/') + 1);

const JSON_TYPE = { 'content-type': 'application/json; charset=UTF-8' };

export function listRoutes(storage: Services): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.post('/list/:bucket', async (c) => {
    const q = await validBody(c, listBody);
    const entries = await listFolder(storage, {
      bucket: c.req.param('bucket'),
      // storage-js sends the folder without its trailing slash.
      folder: q.prefix === '' ? '' : trimChars(q.prefix, '/') + '/',
      search: q.search,
      column: q.sortBy.column === 'last_accessed_at' ? 'updated_at' : q.sortBy.column,
      order: q.sortBy.order,
      offset: q.offset,
      limit: q.limit,
      principal: c.get('principal'),
    });
    const json = `[${entries.map((e) => (e.file === null ? folderJson(e.name) : fileJson(e.name, e.file))).join(',')}]`;
    return c.body(json, 200, JSON_TYPE);
  });

  app.post('/list-v2/:bucket', async (c) => {
    const q = await validBody(c, listV2Body);
    const page = await listPrefix(storage, {
      bucket: c.req.param('bucket'),
      prefix: q.prefix,
      folders: q.with_delimiter,
      column: q.sortBy.column,
      order: q.sortBy.order,
      limit: q.limit,
      cursor: q.cursor,
      principal: c.get('principal'),
    });
    const base = folderOf(q.prefix);
    const objects = page.files.map((f) => fileJson(f.key.slice(base.length), f, f.key));
    const folders = page.folders.map((cp) => `{"name":${jsonString(cp.slice(base.length, -1))},"key":${jsonString(cp)}}`);
    const next = page.nextCursor ? `,"nextCursor":"${page.nextCursor}"` : '';
    const json = `{"hasNext":${page.nextCursor !== undefined}${next},"folders":[${folders.join(',')}],"objects":[${objects.join(',')}]}`;
    return c.body(json, 200, JSON_TYPE);
  });
  return app;
}
