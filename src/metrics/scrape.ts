// What the metrics read at scrape time rather than count: the data
// directory's disk space (statfs, each scrape) and what Postgres holds —
// objects, blobs, bytes, the scan queue, the webhook backlog — from one
// statement, kept STORED_TTL_MS so that a scrape storm (many Prometheus
// replicas, a console polling) costs Postgres one statement per process
// per TTL at most; concurrent scrapes share the statement in flight.
import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';
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
  /** Blobs waiting for (or in) a virus scan. */
  scanQueue: number;
  /** Webhook deliveries still to be made, and those dead after their last attempt. */
  webhookPending: number;
  webhookDead: number;
}

/**
 * One statement as the service role. Exact: storage.blobs carries each
 * content's size and reference count (a row per distinct content, never
 * more than objects), so logical and stored bytes are one pass over it; the
 * object count is an index-only count. Measured in docs/benchmarks.md
 * "Metrics" at a million objects.
 */
async function readTotals(sql: Sql): Promise<StoredTotals> {
  const [row] = await readAs(sql, SERVICE, (tx) => tx<Omit<StoredTotals, 'dedupSavedBytes'>[]>`
    select
      (select count(*) from storage.objects)::float8 as objects,
      b.blobs::float8, b.bytes::float8, b.logical::float8 as "logicalBytes",
      (select count(*) from storage.scan_jobs)::float8 as "scanQueue",
      (select count(*) from storage.webhook_deliveries where state = 'pending')::float8 as "webhookPending",
      (select count(*) from storage.webhook_deliveries where state = 'dead')::float8 as "webhookDead"
    from (
      select count(*) as blobs, coalesce(sum(size), 0) as bytes, coalesce(sum(size::numeric * ref_count), 0) as logical
      from storage.blobs where ref_count > 0
    ) b`);
  return { ...row, dedupSavedBytes: row.logicalBytes - row.bytes };
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
