// Pruning, each log by its own retention: events older than theirs
// (default 7 days) go, with the webhook deliveries that are finished
// (delivered or dead) and as old; audit records older than theirs (default
// 365 days). One process prunes at a time (a try-lock per log; the others
// skip that round). Pending deliveries stay whatever their age: they hold
// their own copy of the event.
import type { Logger } from 'pino';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';

// Advisory locks of their own (0x5e9_0001 is the sequencer's, 0x5e9_0003 the sweeper's).
const PRUNE_LOCK = 0x5e9_0002;
const AUDIT_PRUNE_LOCK = 0x5e9_0004;
const EVERY_MS = 60 * 60 * 1000;
const BATCH = 10_000;

/**
 * Runs `batch` (which deletes at most BATCH rows) in transactions under the
 * try-lock `lock` until one deletes fewer; resolves to the rows deleted. A
 * process that finds the lock taken stops: another one is pruning.
 */
async function inBatches(sql: Sql, lock: number, batch: (tx: TransactionSql) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await asPrincipal(sql, SERVICE, async (tx) => {
      const [{ locked }] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${lock}) as locked`;
      return locked ? batch(tx) : 0;
    });
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Deletes events (and finished deliveries) older than `days`; resolves to the number of events deleted. */
export function pruneEvents(sql: Sql, days: number): Promise<number> {
  return inBatches(sql, PRUNE_LOCK, async (tx) => {
    const cutoff = tx`now() - make_interval(days => ${days})`;
    await tx`delete from storage.webhook_deliveries where state <> 'pending' and created_at < ${cutoff}`;
    // Numbered events only: an unnumbered one has not been seen by anyone yet.
    const gone = await tx`
      delete from storage.events where id in (
        select id from storage.events where created_at < ${cutoff} and seq is not null limit ${BATCH})`;
    return gone.count;
  });
}

/** Deletes audit records older than `days`; resolves to the number deleted. */
export function pruneAudit(sql: Sql, days: number): Promise<number> {
  return inBatches(sql, AUDIT_PRUNE_LOCK, async (tx) => {
    const gone = await tx`
      delete from storage.audit_log where id in (
        select id from storage.audit_log where at < now() - make_interval(days => ${days}) limit ${BATCH})`;
    return gone.count;
  });
}

export interface Retention {
  /** AEROSTORE_EVENT_RETENTION_DAYS. */
  eventDays: number;
  /** AEROSTORE_AUDIT_RETENTION_DAYS. */
  auditDays: number;
}

/** Prunes both logs at start and hourly; the returned function stops it. */
export function schedulePruning(sql: Sql, retention: Retention, log: Logger): () => void {
  const run = async () => {
    await pruneEvents(sql, retention.eventDays)
      .then((n) => n > 0 && log.info({ events: n, days: retention.eventDays }, 'pruned old events'))
      .catch((err: unknown) => log.warn({ err }, 'event pruning failed'));
    await pruneAudit(sql, retention.auditDays)
      .then((n) => n > 0 && log.info({ records: n, days: retention.auditDays }, 'pruned old audit records'))
      .catch((err: unknown) => log.warn({ err }, 'audit pruning failed'));
  };
  void run();
  const timer = setInterval(() => void run(), EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
