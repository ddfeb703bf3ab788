// What the metrics read at scrape time rather than count: the data
// directory's disk space (statfs, each scrape) and what Postgres holds —
// objects, blobs, bytes, the scan queue, the webhook backlog — read in one
// transaction (readTotals), kept STORED_TTL_MS so that a scrape
// storm (many Prometheus replicas, a console polling) costs Postgres one
// reading per process per TTL at most; concurrent scrapes share the reading
// in flight.
import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';
import { registry } from './registry.ts';

/** How long a reading of Postgres's totals is served before the next scrape reads again. */
export const STORED_TTL_MS = 15_000;

export interface DiskSpace {
  totalBytes: number;
  /** Free to the server's user (statfs bavail: the root reserve left out). */
  freeBytes: number;
  usedBytes: number;
}

export async function diskSpace(dir: string): Promise<DiskSpace> {
  const s = await statfs(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize };
}

export interface StoredTotals {
  /** Current objects (not noncurrent versions). */
  objects: number;
  /** Distinct contents with a reference (per bucket: deduplication is per bucket). */
  blobs: number;
  /** Their bytes: what the data directory holds for them. */
  bytes: number;
  /** Bytes as clients see them: each reference (object or noncurrent version) counted. */
  logicalBytes: number;
  /** logicalBytes − bytes. */
  dedupSavedBytes: number;
  /** The four figures above are estimates (a store beyond EXACT_TOTALS_LIMIT rows). */
  estimated: boolean;
  /** Blobs waiting for (or in) a virus scan. */
  scanQueue: number;
  /** Webhook deliveries still to be made, and those dead after their last attempt. */
  webhookPending: number;
  webhookDead: number;
}

/**
 * Up to this many rows in storage.objects and storage.blobs (Postgres's
 * own estimate, pg_class.reltuples), the totals are counted exactly; beyond
 * it, estimated. An exact count reads every row: ≈ 190 ms for a million
 * objects on 500,000 blobs on this project's machines, ≈ 50 ms for 200,000
 * on 100,000; the estimate ≈ 2–4 ms at either (docs/benchmarks.md "Metrics").
 */
export const EXACT_TOTALS_LIMIT = 100_000;

/**
 * Reads the totals as the service role. Small stores: exact, in one pass
 * over storage.blobs (each content's size and reference count: logical and
 * stored bytes at once) and an index-only count of storage.objects. Large
 * stores: the row counts Postgres keeps for the planner (reltuples, as of
 * the last VACUUM or ANALYZE: autovacuum keeps it within a few percent)
 * and, for the bytes, the average content of a 1 % page sample of
 * storage.blobs (TABLESAMPLE SYSTEM) times its row count — a few
 * milliseconds at any size, within a few percent of the truth. The scan
 * queue and webhook backlog are always counted, on their indexes (they are
 * short, or the alert worth having).
 */
async function readTotals(sql: Sql): Promise<StoredTotals> {
  return asPrincipal(sql, SERVICE, async (tx) => {
    const [queues, [rows]] = await Promise.all([
      tx<Pick<StoredTotals, 'scanQueue' | 'webhookPending' | 'webhookDead'>[]>`
        select (select count(*) from storage.scan_jobs)::float8 as "scanQueue",
          (select count(*) from storage.webhook_deliveries where state = 'pending')::float8 as "webhookPending",
          -- Per webhook, on its (webhook_id, state) index: delivered and dead rows stay for the retention period.
          (select coalesce(sum((select count(*) from storage.webhook_deliveries d where d.webhook_id = w.id and d.state = 'dead')), 0)
           from storage.webhooks w)::float8 as "webhookDead"`,
      tx<{ objects: number; blobs: number }[]>`
        select (select reltuples from pg_class where oid = 'storage.objects'::regclass)::float8 as objects,
          (select reltuples from pg_class where oid = 'storage.blobs'::regclass)::float8 as blobs`,
    ]);
    // reltuples is -1 for a table never vacuumed or analysed: small, or just filled.
    const exact = Math.max(rows.objects, rows.blobs) <= EXACT_TOTALS_LIMIT;
    const content = exact ? await countContent(tx) : await estimateContent(tx, rows);
    return { ...content, ...queues[0], dedupSavedBytes: content.logicalBytes - content.bytes, estimated: !exact };
  });
}

type Content = Pick<StoredTotals, 'objects' | 'blobs' | 'bytes' | 'logicalBytes'>;

/** Objects, blobs and bytes counted: every row read. */
export async function countContent(tx: TransactionSql): Promise<Content> {
  const [content] = await tx<Content[]>`
    select (select count(*) from storage.objects)::float8 as objects,
      count(*)::float8 as blobs, coalesce(sum(size), 0)::float8 as bytes,
      coalesce(sum(size::numeric * ref_count), 0)::float8 as "logicalBytes"
    from storage.blobs where ref_count > 0`;
  return content;
}

/** Objects, blobs and bytes estimated from the planner's row counts and a 1 % page sample of storage.blobs. */
export async function estimateContent(tx: TransactionSql, rows: { objects: number; blobs: number }): Promise<Content> {
  const [content] = await tx<Content[]>`
    select ${rows.objects}::float8 as objects,
      round(${rows.blobs} * coalesce(avg((ref_count > 0)::int), 0))::float8 as blobs,
      round(${rows.blobs} * coalesce(avg(case when ref_count > 0 then size else 0 end), 0))::float8 as bytes,
      round(${rows.blobs} * coalesce(avg(size::numeric * ref_count), 0))::float8 as "logicalBytes"
    from storage.blobs tablesample system (1)`;
  return content;
}

/** Postgres's totals, read at most once per STORED_TTL_MS. */
export class StoredTotalsCache {
  private value?: { totals: StoredTotals; at: number };
  private reading?: Promise<StoredTotals>;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly ttlMs = STORED_TTL_MS,
  ) {}

  /** The totals, read now if the last reading is older than the TTL; the last good reading if that fails (undefined if none). */
  async get(): Promise<StoredTotals | undefined> {
    if (this.value && Date.now() - this.value.at < this.ttlMs) return this.value.totals;
    this.reading ??= readTotals(this.sql).finally(() => (this.reading = undefined));
    try {
      const totals = await this.reading;
      this.value = { totals, at: Date.now() };
      return totals;
    } catch (err) {
      this.log.warn({ err }, 'metrics: could not read the stored totals from Postgres');
      return this.value?.totals;
    }
  }
}

/** Where the scrape-time gauges read from; set once the server has its database and data directory. */
let source: { totals: StoredTotalsCache; dataDir: string } | undefined;

export function readAtScrape(totals: StoredTotalsCache, dataDir: string): void {
  source = { totals, dataDir };
}

function storedGauge(name: string, help: string, pick: (t: StoredTotals) => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const t = await source?.totals.get();
      if (t) this.set(pick(t));
    },
  });
}

storedGauge('aerostore_stored_objects', 'Current objects stored (noncurrent versions not counted).', (t) => t.objects);
storedGauge('aerostore_stored_blobs', 'Distinct contents stored (deduplicated per bucket).', (t) => t.blobs);
storedGauge('aerostore_stored_bytes', 'Bytes of the distinct contents stored: what the data directory holds for objects.', (t) => t.bytes);
storedGauge('aerostore_stored_logical_bytes', 'Bytes as clients see them: every object and noncurrent version counted.', (t) => t.logicalBytes);
storedGauge('aerostore_dedup_saved_bytes', 'Bytes deduplication saves: logical bytes minus stored bytes.', (t) => t.dedupSavedBytes);
storedGauge('aerostore_stored_totals_estimated', '1 when the stored objects, blobs and bytes are estimates (a store of more than 100,000 rows), 0 when counted.', (t) => Number(t.estimated));
storedGauge('aerostore_scan_queue_depth', 'Contents waiting for (or in) a virus scan.', (t) => t.scanQueue);
storedGauge('aerostore_webhook_backlog', 'Webhook deliveries still to be made (pending, retries included).', (t) => t.webhookPending);
storedGauge('aerostore_webhook_dead', 'Webhook deliveries that failed their last attempt (admin API: dead letters).', (t) => t.webhookDead);

new Gauge({
  name: 'aerostore_data_dir_bytes',
  help: "The data directory's file system: total, free (to the server's user) and used bytes.",
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    if (!source) return;
    const d = await diskSpace(source.dataDir).catch(() => undefined);
    if (!d) return;
    this.set({ state: 'total' }, d.totalBytes);
    this.set({ state: 'free' }, d.freeBytes);
    this.set({ state: 'used' }, d.usedBytes);
  },
});
