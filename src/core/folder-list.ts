// The /storage/v1 listings as the database answers them (storage-js's
// list() and list-v2); storage-api/list.ts writes them as JSON.
//
// listFolder (v1): one folder's files and subfolders, with offset paging, a
// name search and any sort. listPrefix (v2): S3's listing in storage-js's
// terms — a prefix, folders rolled up at "/" on request, and an opaque
// cursor that resumes exactly after the last entry however the bucket
// changes in between. Both read as the principal: row-level security shows
// what it may read. In name order both walk the keys with core listObjects
// (range scan, folders skipped over in the index).
import type { TransactionSql } from '../db/connect.ts';
import { readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { requireListing } from './policy-checks.ts';
import type { BucketRow } from './bucket.ts';
import { requireBucket } from './buckets.ts';
import { DomainError } from './errors.ts';
import { listObjects, type ListedObject } from './list.ts';
import { prefixEnd } from './key-range.ts';
import type { ObjectRow } from './objects.ts';
import type { Services } from './services.ts';

/** A listed file's columns: core's ListedObject plus what a storage-js entry shows; times as epoch ms. */
export interface FolderFile extends Pick<ListedObject, 'size' | 'etag' | 'modified_ms'>, Pick<ObjectRow, 'id' | 'content_type' | 'cache_control'> {
  created_ms: number;
}

/** The extra columns listObjects reads for a file entry; times as epoch ms (to_char costs more than the scan). */
const FILE_COLUMNS = (sql: TransactionSql) => sql`id, content_type, cache_control, floor(extract(epoch from created_at) * 1000)::int8 as created_ms`;

/** Columns a listing may sort by. */
export type FolderColumn = 'name' | 'created_at' | 'updated_at';

export interface FolderQuery {
  bucket: string;
  /** The folder: '' for the bucket's top, else ending in '/'. */
  folder: string;
  /** Entries whose name (relative to the folder) starts with this, case-insensitively; '' for all. */
  search: string;
  column: FolderColumn;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
  principal: Principal;
}

/** An entry of a folder: a file, or a subfolder (`file` null); `name` is relative to the folder. */
export interface FolderEntry {
  name: string;
  file: FolderFile | null;
}

/** One folder's entries, sorted and paged as asked. */
export async function listFolder(storage: Services, q: FolderQuery): Promise<FolderEntry[]> {
  const bucket = await requireBucket(storage, q.bucket);
  await requireListing(storage, bucket, q.principal);
  // By name, no search: the S3 listing's walk (range scan, skip-scan over
  // folders) finds the page in the index however big the bucket is.
  return q.column === 'name' && q.search === '' ? folderByName(storage, bucket, q) : folderBySql(storage, bucket, q);
}

/** Files and folders of one folder in name (byte) order, through core listObjects: one statement per 1,000 entries. */
async function folderByName(storage: Services, bucket: BucketRow, q: FolderQuery): Promise<FolderEntry[]> {
  // Descending needs the whole folder; ascending only the first offset + limit entries.
  const want = q.order === 'asc' ? q.offset + q.limit : Number.MAX_SAFE_INTEGER;
  const entries: FolderEntry[] = [];
  let folders = false;
  let after = '';
  for (;;) {
    const page = await listObjects(storage, {
      bucket: bucket.name,
      prefix: q.folder,
      delimiter: '/',
      after,
      maxKeys: Math.min(1000, want - entries.length),
      principal: q.principal,
      columns: FILE_COLUMNS,
    });
    for (const o of page.objects) entries.push({ name: o.key.slice(q.folder.length), file: o as ListedObject & FolderFile });
    for (const cp of page.commonPrefixes) {
      entries.push({ name: cp.slice(q.folder.length, -1), file: null });
      folders = true;
    }
    if (!page.isTruncated || !page.last || entries.length >= want) break;
    after = page.last.value;
  }
  // The walk goes in key order, where folder "a" (key "a/") follows file "a.txt"; names sort otherwise.
  if (folders) entries.sort((x, y) => byteOrder(x.name, y.name));
  if (q.order === 'desc') entries.reverse();
  return entries.slice(q.offset, q.offset + q.limit);
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Any other order, or a search: one statement over the folder's key range. */
async function folderBySql(storage: Services, bucket: BucketRow, q: FolderQuery): Promise<FolderEntry[]> {
  // A key range the (bucket_uuid, key) index serves: the folder and nothing else.
  const end = q.folder === '' ? undefined : prefixEnd(q.folder);
  const skip = [...q.folder].length; // substr counts characters
  const rows = await readAs(storage.sql, q.principal, (tx) => tx<Array<{ name: string; folder: boolean } & FolderFile>>`
      with x as (
        select o.*, substr(o.key, ${skip + 1}) as rest from storage.objects o
        where o.bucket_uuid = ${bucket.id} and o.key >= ${q.folder}::text collate "C"
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
      order by ${tx.unsafe(q.column === 'name' ? 'name collate "C"' : q.column)} ${tx.unsafe(q.order)} nulls last, name collate "C"
      offset ${q.offset} limit ${q.limit}`);
  return rows.map((r) => ({ name: r.name, file: r.folder ? null : r }));
}

export interface PrefixQuery {
  bucket: string;
  prefix: string;
  /** Roll keys up into folders at '/' (name ascending only). */
  folders: boolean;
  column: FolderColumn;
  order: 'asc' | 'desc';
  limit: number;
  /** A cursor this function returned for the same column, order and folders, or '' / undefined for the first page. */
  cursor?: string;
  principal: Principal;
}

export interface PrefixPage {
  /** Files with their full keys. */
  files: Array<FolderFile & { key: string }>;
  /** Folders' full keys, ending in '/'. */
  folders: string[];
  /** Where the next page starts, when there is one. */
  nextCursor?: string;
}

/**
 * What a cursor carries: the order it belongs to and the last entry
 * returned (in name order its key or folder; in time order the time, exactly
 * as Postgres wrote it, and the key). Opaque to clients: base64url JSON.
 */
type Cursor = { o: string; k: string; t?: string };

/** A timestamptz as Postgres writes it (DateStyle ISO): what a time cursor carries. */
const PG_TIMESTAMPTZ = /^\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d){0,2}( BC)?$/;

const orderOf = (q: PrefixQuery) => `${q.column}.${q.order}${q.folders ? '/' : ''}`;
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
const notACursor = () => new DomainError('InvalidArgument', 'cursor: not a cursor this server returned.');

function decodeCursor(q: PrefixQuery): Cursor | undefined {
  if (q.cursor === undefined || q.cursor === '') return undefined;
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  const ok = typeof c === 'object' && c !== null && typeof (c as Cursor).o === 'string' && typeof (c as Cursor).k === 'string' && !(c as Cursor).k.includes('\0');
  if (!ok) throw notACursor();
  const cursor = c as Cursor;
  if (cursor.o !== orderOf(q)) {
    throw new DomainError('InvalidArgument', 'cursor: it belongs to a listing with another sortBy or with_delimiter; pass the same options as for the first page.');
  }
  if (cursor.o.startsWith('name') ? cursor.t !== undefined : typeof cursor.t !== 'string' || !PG_TIMESTAMPTZ.test(cursor.t)) throw notACursor();
  return cursor;
}

/** One page of the keys under a prefix. */
export async function listPrefix(storage: Services, q: PrefixQuery): Promise<PrefixPage> {
  const bucket = await requireBucket(storage, q.bucket);
  await requireListing(storage, bucket, q.principal);
  const byName = q.column === 'name' && q.order === 'asc';
  if (q.folders && !byName) {
    // Folders have no times, and S3's rollup walks keys in order: only name ascending rolls up.
    throw new DomainError('InvalidArgument', 'with_delimiter lists in name order only: drop sortBy, or list without with_delimiter.');
  }
  const cursor = decodeCursor(q);
  return byName ? prefixByName(storage, bucket, q, cursor?.k ?? '') : prefixBySql(storage, bucket, q, cursor);
}

/** By name, ascending: core listObjects, S3's walk — a range scan, folders skipped over in the index, one statement per page. */
async function prefixByName(storage: Services, bucket: BucketRow, q: PrefixQuery, after: string): Promise<PrefixPage> {
  const page = await listObjects(storage, {
    bucket: bucket.name,
    prefix: q.prefix,
    delimiter: q.folders ? '/' : '',
    after,
    maxKeys: q.limit,
    principal: q.principal,
    columns: FILE_COLUMNS,
  });
  return {
    files: page.objects as Array<ListedObject & FolderFile>,
    folders: page.commonPrefixes,
    nextCursor: page.isTruncated && page.last ? encodeCursor({ o: orderOf(q), k: page.last.value }) : undefined,
  };
}

/**
 * By name descending, or by a time: files only (folders have neither), a
 * keyset over (column, key) in one statement. The prefix's key range bounds
 * the scan; the sort is over that range, so a huge prefix costs a sort.
 */
async function prefixBySql(storage: Services, bucket: BucketRow, q: PrefixQuery, cursor: Cursor | undefined): Promise<PrefixPage> {
  const end = q.prefix === '' ? undefined : prefixEnd(q.prefix);
  const desc = q.order === 'desc';
  const column = q.column;
  const read = readAs(storage.sql, q.principal, (tx) => {
    const cmp = tx.unsafe(desc ? '<' : '>');
    const dir = tx.unsafe(desc ? 'desc' : 'asc');
    let past = tx``;
    if (cursor && column === 'name') past = tx`and o.key ${cmp} ${cursor.k}::text collate "C"`;
    // ::text first: a timestamptz parameter goes through postgres.js's Date, which drops the microseconds.
    else if (cursor) past = tx`and (o.${tx(column)}, o.key collate "C") ${cmp} (${cursor.t!}::text::timestamptz, ${cursor.k}::text collate "C")`;
    return tx<Array<ListedObject & FolderFile & { t: string }>>`
      select o.key, o.size, o.etag, o.id, o.content_type, o.cache_control, o.${tx(column === 'name' ? 'updated_at' : column)}::text as t,
        floor(extract(epoch from o.created_at) * 1000)::int8 as created_ms, floor(extract(epoch from o.updated_at) * 1000)::int8 as modified_ms
      from storage.objects o
      where o.bucket_uuid = ${bucket.id} and o.key >= ${q.prefix}::text collate "C"
        ${end === undefined ? tx`` : tx`and o.key < ${end}::text collate "C"`}
        ${past}
      order by ${column === 'name' ? tx`` : tx`o.${tx(column)} ${dir},`} o.key collate "C" ${dir}
      limit ${q.limit + 1}`;
  });
  const rows = await read.catch((err: { code?: string }) => {
    // Class 22, data exception: a time in the cursor Postgres cannot read (the pattern above lets "02-31" by).
    if (cursor && err.code?.startsWith('22')) throw notACursor();
    throw err;
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    files: page,
    folders: [],
    nextCursor: rows.length > q.limit ? encodeCursor({ o: orderOf(q), k: last.key, ...(column !== 'name' && { t: last.t }) }) : undefined,
  };
}
