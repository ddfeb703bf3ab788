// The audit trail (storage.audit_log, migration 0017): who uploaded,
// downloaded or deleted which object, when and from where. Uploads and
// deletions are recorded by the database itself, from their events, in the
// change's transaction; downloads are written here, in batches, by the
// download log (events/downloads.ts). One query serves the admin API
// (GET /admin/v1/audit) and `aerostore audit`, as a principal: row-level
// security decides what it sees, as it does for SQL under the request roles.
import type { Sql, TransactionSql } from '../db/connect.ts';
import { readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import { prefixEnd } from '../core/key-range.ts';

export const AUDIT_ACTIONS = ['upload', 'download', 'delete'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One download, as the download log buffers it until its batch is written. */
export interface DownloadRecord {
  at: Date;
  bucketId: string;
  bucket: string;
  key: string;
  objectId: string;
  size: number;
  sha256: string;
  contentType: string | null;
  /** db/session.ts actorOf. */
  actor: object;
  address?: string;
  ownerId: string | null;
  bucketOwnerId: string | null;
  /** `first-last`, for a ranged read. */
  range?: string;
}

/** Appends downloads to the audit trail in one statement (as the service role: the request roles cannot). */
export function recordDownloads(tx: TransactionSql | Sql, downloads: readonly DownloadRecord[]) {
  const column = <T>(pick: (d: DownloadRecord) => T) => downloads.map(pick);
  return tx`
    insert into storage.audit_log
      (at, action, bucket_id, bucket, key, object_id, size, sha256, content_type, actor, address, owner_id, bucket_owner_id, detail)
    select at, 'download', bucket_id, bucket, key, object_id, size, sha256, content_type, actor::jsonb, address::inet, owner_id, bucket_owner_id,
      case when range is null then '{}'::jsonb else jsonb_build_object('range', range) end
    from unnest(
      ${column((d) => d.at.toISOString())}::timestamptz[], ${column((d) => d.bucketId)}::uuid[], ${column((d) => d.bucket)}::text[],
      ${column((d) => d.key)}::text[], ${column((d) => d.objectId)}::uuid[], ${column((d) => d.size)}::bigint[],
      ${column((d) => d.sha256)}::text[], ${column((d) => d.contentType)}::text[], ${column((d) => JSON.stringify(d.actor))}::text[],
      ${column((d) => d.address ?? null)}::text[], ${column((d) => d.ownerId)}::uuid[], ${column((d) => d.bucketOwnerId)}::uuid[],
      ${column((d) => d.range ?? null)}::text[]
    ) as t(at, bucket_id, bucket, key, object_id, size, sha256, content_type, actor, address, owner_id, bucket_owner_id, range)`;
}

/** What to look for; every field narrows. */
export interface AuditQuery {
  /** A user id (uuid), an access key id (S3 or STS), or `anonymous`. */
  actor?: string;
  bucket?: string;
  /** Keys starting with this (in any bucket unless `bucket` is given). */
  prefix?: string;
  /** At or after. */
  since?: Date;
  /** Before. */
  until?: Date;
  action?: AuditAction;
  /** Records per page: 1 to MAX_AUDIT_LIMIT, default DEFAULT_AUDIT_LIMIT. */
  limit?: number;
  /** The previous page's next_cursor. */
  cursor?: string;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

/** A record as the admin API and `aerostore audit --json` show it. */
export interface AuditRecord {
  id: number;
  /** ISO 8601, UTC, to the microsecond. */
  at: string;
  action: AuditAction;
  bucket_id: string;
  bucket: string;
  key: string;
  object_id: string | null;
  size: number | null;
  sha256: string | null;
  content_type: string | null;
  actor: Record<string, unknown>;
  address: string | null;
  owner_id: string | null;
  bucket_owner_id: string | null;
  detail: Record<string, unknown>;
}

/** Newest first; next_cursor is null on the last page. */
export interface AuditPage {
  records: AuditRecord[];
  next_cursor: string | null;
}

/** A query the caller got wrong: the admin API answers 400, the CLI exits 2. */
export class InvalidAuditQuery extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const AGO = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A point in time: ISO 8601 (`2026-12-07`, `2026-12-07T10:00:00Z`) or an age (`90s`, `15m`, `24h`, `7d`: that long ago). */
export function parseAuditTime(text: string, now: number = Date.now()): Date {
  const ago = AGO.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]);
  const at = ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) throw new InvalidAuditQuery(`not a time: ${JSON.stringify(text)} (ISO 8601, or an age such as 24h or 7d)`);
  return new Date(at);
}

/** The query named by string parameters (the admin API's query string, the CLI's flags); throws InvalidAuditQuery. */
export function parseAuditQuery(params: Readonly<Record<string, string | undefined>>): AuditQuery {
  const known = new Set(['actor', 'bucket', 'prefix', 'since', 'until', 'action', 'limit', 'cursor']);
  for (const name of Object.keys(params)) if (!known.has(name)) throw new InvalidAuditQuery(`unknown parameter: ${name}`);
  const { actor, bucket, prefix, since, until, action, limit, cursor } = params;
  const q: AuditQuery = {};
  if (actor !== undefined && actor !== '') q.actor = actor;
  if (bucket !== undefined && bucket !== '') q.bucket = bucket;
  if (prefix !== undefined && prefix !== '') q.prefix = prefix;
  if (since !== undefined) q.since = parseAuditTime(since);
  if (until !== undefined) q.until = parseAuditTime(until);
  if (action !== undefined) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(action)) throw new InvalidAuditQuery(`action must be one of ${AUDIT_ACTIONS.join(', ')}`);
    q.action = action as AuditAction;
  }
  if (limit !== undefined) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_AUDIT_LIMIT) throw new InvalidAuditQuery(`limit must be an integer from 1 to ${MAX_AUDIT_LIMIT}`);
    q.limit = n;
  }
  if (cursor !== undefined && cursor !== '') {
    decodeCursor(cursor);
    q.cursor = cursor;
  }
  return q;
}

/** The position after a record: its time (as the record shows it, to the microsecond) and id. */
function encodeCursor(r: Pick<AuditRecord, 'at' | 'id'>): string {
  return Buffer.from(JSON.stringify([r.at, r.id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidAuditQuery('not a cursor of this query');
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || !ISO_TIME.test(at) || !Number.isSafeInteger(id)) throw new InvalidAuditQuery('not a cursor of this query');
  return { at, id: id as number };
}

/** One page of the records `principal` may see (row-level security) that match `q`, newest first. */
export async function queryAudit(sql: Sql, principal: Principal, q: AuditQuery): Promise<AuditPage> {
  const limit = q.limit ?? DEFAULT_AUDIT_LIMIT;
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const end = q.prefix === undefined ? undefined : prefixEnd(q.prefix);
  const rows = await readAs(sql, principal, (tx) => {
    const actor =
      q.actor === undefined
        ? tx``
        : q.actor === 'anonymous'
          ? tx`and actor->>'kind' = 'anonymous'`
          : UUID.test(q.actor)
            ? tx`and actor_id = ${q.actor.toLowerCase()}::uuid`
            : tx`and access_key_id = ${q.actor}`;
    return tx<AuditRecord[]>`
      select id, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, action, bucket_id, bucket, key, object_id,
        size, sha256, content_type, actor, host(address) as address, owner_id, bucket_owner_id, detail
      from storage.audit_log
      where true ${actor}
        ${q.bucket === undefined ? tx`` : tx`and bucket = ${q.bucket}`}
        ${q.prefix === undefined ? tx`` : tx`and key >= ${q.prefix}`}
        ${end === undefined ? tx`` : tx`and key < ${end}`}
        ${q.action === undefined ? tx`` : tx`and action = ${q.action}`}
        ${q.since === undefined ? tx`` : tx`and at >= ${q.since.toISOString()}::timestamptz`}
        ${q.until === undefined ? tx`` : tx`and at < ${q.until.toISOString()}::timestamptz`}
        ${after === undefined ? tx`` : tx`and (at, id) < (${after.at}::timestamptz, ${after.id}::bigint)`}
      order by at desc, id desc
      limit ${limit + 1}`;
  });
  const records = rows.slice(0, limit);
  return { records, next_cursor: rows.length > limit ? encodeCursor(records[records.length - 1]) : null };
}
