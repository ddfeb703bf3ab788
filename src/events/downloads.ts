// Downloads, written in batches: the audit trail's record of every download
// (events/audit.ts, storage.audit_log) and, for buckets that ask for them
// (buckets.download_events), storage.object.downloaded events. Downloads are
// the busiest path, so a GET never waits on the database for either: they
// are buffered and written in one transaction per second (or per 500). What
// is buffered when the process dies is lost — the price of a GET that does
// not wait, unlike uploads and deletions, whose events and audit records
// commit with their change.
import type { Logger } from 'pino';
import type { Sql } from '../db/connect.ts';
import { actorOf, asPrincipal, SERVICE } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { BucketRow } from '../core/bucket.ts';
import { recordDownloads, type DownloadRecord } from './audit.ts';
import { recordEvents, type NewEvent } from './record.ts';

const FLUSH_MS = 1000;
const FLUSH_AT = 500;
/** Beyond this many unwritten downloads (the database is down), new ones are dropped, not hoarded. */
const MAX_BUFFERED = 50_000;

export class DownloadLog {
  private records: DownloadRecord[] = [];
  private events: NewEvent[] = [];
  private dropped = 0;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** Notes a download of `object` by `principal`: always for the audit trail, as an event if its bucket records downloads. */
  record(
    bucket: BucketRow,
    object: { id: string; key: string; owner_id: string | null; size: number; content_type: string | null; sha256: string },
    principal: Principal,
    range?: string,
  ): void {
    if (this.records.length >= MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    const actor = actorOf(principal);
    this.records.push({
      at: new Date(),
      bucketId: bucket.id,
      bucket: bucket.name,
      key: object.key,
      objectId: object.id,
      size: object.size,
      sha256: object.sha256,
      contentType: object.content_type,
      actor,
      address: principal.address,
      ownerId: object.owner_id,
      bucketOwnerId: bucket.owner_id,
      range,
    });
    if (bucket.download_events) {
      this.events.push({
        type: 'storage.object.downloaded',
        bucketId: bucket.id,
        bucket: bucket.name,
        key: object.key,
        objectId: object.id,
        ownerId: object.owner_id,
        payload: { size: object.size, content_type: object.content_type, sha256: object.sha256, range },
        actor,
      });
    }
    if (this.records.length >= FLUSH_AT) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /** Writes what is buffered; shutdown awaits it. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const { records, events, dropped } = this;
    if (records.length === 0 && dropped === 0) return;
    this.records = [];
    this.events = [];
    this.dropped = 0;
    if (dropped > 0) this.log.warn({ downloads: dropped }, 'downloads not recorded: too many waiting to be written');
    if (records.length === 0) return;
    this.flushing = asPrincipal(this.sql, SERVICE, (tx) =>
      Promise.all([recordDownloads(tx, records), events.length > 0 ? recordEvents(tx, events) : undefined]),
    )
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn({ err, downloads: records.length, events: events.length }, 'downloads not recorded'));
    await this.flushing;
  }
}
