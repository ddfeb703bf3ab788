// Reading the event log: pages of numbered events after a position, as the
// reader's principal (RLS shows a subscriber only the events about objects it
// may read: migration 0012), and one LISTEN per process that wakes every
// local subscriber when the sequencer of any process has numbered new events.
import { EventEmitter } from 'node:events';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';

export const EVENT_TYPES = [
  'storage.object.created',
  'storage.object.deleted',
  'storage.object.downloaded',
  'storage.object.scanned',
  'storage.object.quarantined',
  'storage.bucket.created',
  'storage.bucket.deleted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The File Storage Blueprint's names for the object events (bucket events
 * have none): the same events from the same outbox, in its vocabulary
 * (storage.blueprint_event_type and storage.blueprint_event_json, migration
 * 0016, which SSE and webhooks both use).
 */
export const BLUEPRINT_EVENT_TYPES = ['file.uploaded', 'file.downloaded', 'file.deleted', 'file.scanned', 'file.quarantined'] as const;

/** `storage`: this project's events (Supabase-style names); `blueprint`: the file.* vocabulary. */
export const EVENT_FORMATS = ['storage', 'blueprint'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

export interface EventFilter {
  bucket?: string;
  /** Empty: every type. Named in the format's vocabulary. */
  types: readonly string[];
  /** Only events whose path starts with this. */
  prefix: string;
  format?: EventFormat;
}

/** One event, its JSON made by storage.event_json() so that SSE and webhooks send the same thing. */
export interface FeedEvent {
  seq: number;
  type: string;
  json: string;
}

/** Up to `limit` events numbered after `after`, in order, that `principal` may read and `filter` lets through. */
export function readEvents(sql: Sql, principal: Principal, after: number, filter: EventFilter, limit = 500): Promise<FeedEvent[]> {
  const blueprint = filter.format === 'blueprint';
  return readAs(sql, principal, (tx) => {
    const type = blueprint ? tx`storage.blueprint_event_type(e.type)` : tx`e.type`;
    return tx<FeedEvent[]>`
    select e.seq, ${type} as type, ${blueprint ? tx`storage.blueprint_event_json(e)` : tx`storage.event_json(e)`}::text as json
    from storage.events e
    where e.seq > ${after}
      ${blueprint ? tx`and storage.blueprint_event_type(e.type) is not null` : tx``}
      ${filter.bucket !== undefined ? tx`and e.bucket = ${filter.bucket}` : tx``}
      ${filter.types.length > 0 ? tx`and ${type} = any(${filter.types as string[]}::text[])` : tx``}
      ${filter.prefix !== '' ? tx`and starts_with(coalesce(e.key, ''), ${filter.prefix})` : tx``}
    order by e.seq limit ${limit}`;
  });
}

/** The number of the latest event (0 when there is none yet): where a subscriber without a position starts. */
export async function latestSeq(sql: Sql): Promise<number> {
  // The counter is the service role's; a number reveals nothing about any event.
  const [row] = await readAs(sql, SERVICE, (tx) => tx<{ last: number }[]>`select last_seq as last from storage.event_counter`);
  return row ? Number(row.last) : 0;
}

/**
 * Emits 'sequenced' (with the last number) whenever any process has numbered
 * events, and also after the LISTEN connection is re-established (events may
 * have been numbered meanwhile: subscribers read from their own position, so
 * a spurious wake-up costs one query).
 */
export class EventFeed extends EventEmitter {
  private unlisten?: () => Promise<void>;

  constructor(private readonly sql: Sql) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const wake = (payload?: string) => this.emit('sequenced', Number(payload ?? 0));
    const { unlisten } = await this.sql.listen('aerostore_events_sequenced', wake, () => wake());
    this.unlisten = unlisten;
  }

  async stop(): Promise<void> {
    this.emit('closing');
    await this.unlisten?.();
  }
}
