// storage.object.downloaded events, for buckets that ask for them
// (buckets.download_events). Downloads are the busiest path, so a GET never
// waits on the database for its event: events are buffered and written in one
// statement per second (or per 500). An event buffered when the process dies
// is lost — a download log is best-effort by design, unlike the change events
// that commit with their change.
import type { Logger } from 'pino';
import type { Sql } from '../db/connect.ts';
import { actorOf, asPrincipal, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { BucketRow } from '../core/bucket.ts';
import { recordEvents, type NewEvent } from './record.ts';

const FLUSH_MS = 1000;
const FLUSH_AT = 500;
/** Beyond this many unwritten events (the database is down), new ones are dropped, not hoarded. */
const MAX_BUFFERED = 50_000;


export class DownloadLog {
  private buffer: NewEvent[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** Notes a download of `object` by `principal`, if its bucket records downloads. */
  record(
    bucket: BucketRow,
    object: { id: string; key: string; owner_id: string | null; size: number; content_type: string | null; sha256: string },
    principal: Principal,
    range?: string,
  ): void {
    if (!bucket.download_events) return;
    if (this.buffer.length >= MAX_BUFFERED) return;
    this.buffer.push({
      type: 'storage.object.downloaded',
      bucketId: bucket.id,
      bucket: bucket.name,
      key: object.key,
      objectId: object.id,
      ownerId: object.owner_id,
      payload: { size: object.size, content_type: object.content_type, sha256: object.sha256, range },
      actor: actorOf(principal),
    });
    if (this.buffer.length >= FLUSH_AT) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /** Writes what is buffered; shutdown awaits it. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const batch = this.buffer;
    if (batch.length === 0) return;
    this.buffer = [];
    this.flushing = asPrincipal(this.sql, SERVICE, (tx) => recordEvents(tx, batch))
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn({ err, events: batch.length }, 'download events not written'));
    await this.flushing;
  }
}
