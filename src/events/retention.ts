// Pruning the event log: events older than the retention (default 7 days)
// go, with the webhook deliveries that are finished (delivered or dead) and as
// old. One process prunes at a time (a try-lock; the others skip that round).
// Pending deliveries stay whatever their age: they hold their own copy of the
// event.
import type { Logger } from 'pino';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';

const PRUNE_LOCK = 0x5e9_0002;
const EVERY_MS = 60 * 60 * 1000;
const BATCH = 10_000;

/** Deletes events (and finished deliveries) older than `days`; resolves to the number of events deleted. */
export async function pruneEvents(sql: Sql, days: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await asPrincipal(sql, SERVICE, async (tx) => {
      const [{ locked }] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${PRUNE_LOCK}) as locked`;
      if (!locked) return 0;
      const cutoff = tx`now() - make_interval(days => ${days})`;
      await tx`delete from storage.webhook_deliveries where state <> 'pending' and created_at < ${cutoff}`;
      // Numbered events only: an unnumbered one has not been seen by anyone yet.
      const gone = await tx`
        delete from storage.events where id in (
          select id from storage.events where created_at < ${cutoff} and seq is not null limit ${BATCH})`;
      return gone.count;
    });
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Prunes at start and hourly; the returned function stops it. */
export function schedulePruning(sql: Sql, days: number, log: Logger): () => void {
  const run = () =>
    pruneEvents(sql, days)
      .then((n) => n > 0 && log.info({ events: n, days }, 'pruned old events'))
      .catch((err: unknown) => log.warn({ err }, 'event pruning failed'));
  void run();
  const timer = setInterval(() => void run(), EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
