// Listing keys with prefix and delimiter, in UTF-8 byte order.
//
// One SQL statement walks the (bucket_id, key COLLATE "C") index: each step
// is a single index probe for the next key above a bound. When a key rolls up
// into a common prefix, the next bound jumps past every key under that prefix,
// so a page of 1,000 common prefixes costs 1,000 probes — not a scan of the
// millions of keys beneath them.
import { requireBucket } from './buckets.ts';
import type { ObjectRow } from './objects.ts';
import type { BucketRow, Storage } from './storage.ts';

export interface ListQuery {
  bucket: string;
  prefix: string;
  delimiter: string;
  /** List strictly after this key (start-after, marker, or a continuation position). */
  after: string;
  maxKeys: number;
}

export type ListedObject = Pick<ObjectRow, 'key' | 'size' | 'etag' | 'updated_at' | 'owner_id' | 'checksums'>;

export interface ListResult {
  bucket: BucketRow;
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts. */
  last?: { value: string; isPrefix: boolean };
}

/**
 * Bound above which nothing shares `prefix`: U+10FFFF is the largest code
 * point, so in byte order every key under the prefix sorts below it (a key
 * that itself contains U+10FFFF right after the prefix is walked key by key,
 * and the duplicate common prefix it yields is dropped below).
 */
const PAST_PREFIX = '\u{10FFFF}';

export async function listObjects(storage: Storage, q: ListQuery): Promise<ListResult> {
  const bucket = await requireBucket(storage, q.bucket);
  if (q.maxKeys <= 0) return { bucket, objects: [], commonPrefixes: [], isTruncated: false };

  // A start position that is itself a common prefix (a continuation token or
  // a V1 marker pointing at one) means "after everything under it".
  let after = q.after;
  if (q.delimiter && after.startsWith(q.prefix) && after.endsWith(q.delimiter) && after.length > q.prefix.length) {
    const rest = after.slice(q.prefix.length);
    if (rest.indexOf(q.delimiter) === rest.length - q.delimiter.length) after += PAST_PREFIX;
  }
  const lowerBound = after > q.prefix ? after : q.prefix;
  const inclusive = !(after > q.prefix);

  type Step = ListedObject & { cp: string | null };
  const rows = await storage.sql<Step[]>`
    with recursive walk as (
      (select 1 as n, f.*, storage.common_prefix(f.key, ${q.prefix}, ${q.delimiter}) as cp
       from (select key, size, etag, updated_at, owner_id, checksums from storage.objects
             where bucket_id = ${bucket.id}
               and (key > ${lowerBound}::text collate "C" or (${inclusive}::boolean and key = ${lowerBound}::text collate "C"))
             order by key limit 1) f
       where starts_with(f.key, ${q.prefix}))
      union all
      (select w.n + 1, f.*, storage.common_prefix(f.key, ${q.prefix}, ${q.delimiter})
       from walk w
       cross join lateral (
         select key, size, etag, updated_at, owner_id, checksums from storage.objects
         where bucket_id = ${bucket.id}
           and key > (case when w.cp is null then w.key
                           else greatest(w.key, w.cp || ${PAST_PREFIX}::text) end) collate "C"
         order by key limit 1) f
       where w.n <= ${q.maxKeys} and starts_with(f.key, ${q.prefix}))
    )
    select key, size, etag, updated_at, owner_id, checksums, cp from walk order by n`;

  // Collapse consecutive keys of one common prefix (only the U+10FFFF edge
  // above produces them), then cut the page.
  const entries: Step[] = [];
  for (const r of rows) {
    const prev = entries[entries.length - 1];
    if (r.cp !== null && prev?.cp === r.cp) continue;
    entries.push(r);
  }
  const page = entries.slice(0, q.maxKeys);
  const isTruncated = entries.length > q.maxKeys;

  const lastEntry = page[page.length - 1];
  return {
    bucket,
    objects: page.filter((e) => e.cp === null),
    commonPrefixes: page.filter((e) => e.cp !== null).map((e) => e.cp as string),
    isTruncated,
    last: lastEntry && { value: lastEntry.cp ?? lastEntry.key, isPrefix: lastEntry.cp !== null },
  };
}
