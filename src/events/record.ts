// The storage.events outbox, written in one place: the vocabulary of event
// types, the payload each carries, and the one insert. Every change event
// commits in the transaction of its change (a caller passes its own tx);
// the feed, webhooks and retention read what is written here. The one
// writer outside TypeScript is the trigger that quarantines an object
// written onto known-infected content (migration 0014), which must fire in
// the writer's own statement.
import type { Sql, TransactionSql } from '../db/connect.ts';

/** Each event type and its payload (the JSON a subscriber receives as `payload`). */
export interface EventPayloads {
  'storage.bucket.created': { policy: string };
  'storage.bucket.deleted': Record<string, never>;
  'storage.object.created': {
    size: number;
    etag: string;
    sha256: string;
    content_type: string | null;
    owner_id: string | null;
    replaced: boolean;
    copied_from?: string;
    /** The original file name, when it is not the key's last segment. */
    filename?: string;
    /** The new version's id, in a bucket that has had versioning (migration 0025). */
    version_id?: string;
  };
  'storage.object.deleted': {
    size: number;
    sha256: string;
    content_type: string | null;
    filename?: string;
    /** The version deleted; or, with delete_marker, the marker a delete without a version id added (the object's content is kept). */
    version_id?: string;
    delete_marker?: boolean;
    /** Why, when no request asked: 'lifecycle' (a bucket's lifecycle rule). */
    cause?: 'lifecycle';
  };
  'storage.object.downloaded': { size: number; sha256: string; content_type: string | null; range?: string };
  'storage.object.scanned': ScanPayload;
  'storage.object.quarantined': ScanPayload;
}

interface ScanPayload {
  size: number;
  sha256: string;
  content_type?: string;
  verdict: string;
  signature?: string;
  note?: string;
  engine?: string;
}

export type EventType = keyof EventPayloads;

export type NewEvent = {
  [T in EventType]: {
    type: T;
    bucketId: string;
    bucket: string;
    key?: string;
    objectId?: string;
    ownerId?: string | null;
    payload: EventPayloads[T];
    /** Who acted (db/session.ts actorOf); when absent, the column's default: the transaction's own principal. */
    actor?: object;
  };
}[EventType];

/**
 * Appends events to the outbox in one statement, inside `tx` — the change's
 * own transaction, so an event exists exactly when its change committed.
 */
export function recordEvents(tx: TransactionSql | Sql, events: readonly NewEvent[]) {
  const column = <T>(pick: (e: NewEvent) => T) => events.map(pick);
  const rows = tx`unnest(
      ${column((e) => e.type)}::text[], ${column((e) => e.bucketId)}::uuid[], ${column((e) => e.bucket)}::text[],
      ${column((e) => e.key ?? null)}::text[], ${column((e) => e.objectId ?? null)}::uuid[], ${column((e) => e.ownerId ?? null)}::uuid[],
      ${column((e) => JSON.stringify(e.payload))}::text[],
      ${column((e) => (e.actor ? JSON.stringify(e.actor) : null))}::text[]) as t(type, bucket_id, bucket, key, object_id, owner_id, payload, actor)`;
  // An event that names no actor gets the column's default (migration 0012): the session's principal.
  return tx`
    insert into storage.events (type, bucket_id, bucket, key, object_id, owner_id, payload, actor)
    select type, bucket_id, bucket, key, object_id, owner_id, payload::jsonb,
      coalesce(actor::jsonb, nullif(current_setting('aerostore.actor', true), '')::jsonb)
    from ${rows}`;
}
