// The event sequencer: gives committed events their public number (`seq`) in
// commit order, so that a subscriber resuming after event N can never miss an
// event that committed late with a smaller row id (migration 0012).
//
// Every process runs one; a transaction-scoped advisory lock makes them take
// turns. Each turn numbers the committed, unnumbered rows in id order from
// storage.event_counter and commits before the next turn can start, so a
// number once visible is never followed by a smaller one and none is skipped.
// A turn runs when an insert NOTIFYs aerostore_events, and every second
// anyway (a notification can be lost while the listener reconnects). It then
// NOTIFYs aerostore_events_sequenced with the last number, which wakes the
// subscribers of every process (events/feed.ts).
import type { Logger } from 'pino';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';

/** The advisory lock the sequencers take turns on (any constant unique to it). */
const SEQUENCER_LOCK = 0x5e9_0001;
/** Rows numbered per turn: a burst is numbered in a few short transactions. */
const BATCH = 1000;
const TICK_MS = 1000;

/** Numbers what has committed; resolves to the last number given (0 if none this turn). */
export async function sequenceEvents(sql: Sql): Promise<number> {
  let last = 0;
  for (;;) {
    const numbered = await asPrincipal(sql, SERVICE, async (tx) => {
      await tx`select pg_advisory_xact_lock(${SEQUENCER_LOCK})`;
      const [row] = await tx<{ count: number; last: number | null }[]>`
        with picked as (
          select id, row_number() over (order by id) as n
          from storage.events where seq is null order by id limit ${BATCH}
        ), counter as (
          update storage.event_counter set last_seq = last_seq + (select count(*) from picked)
          returning last_seq - (select count(*) from picked) as base
        ), numbered as (
          update storage.events e set seq = counter.base + picked.n
          from picked, counter where e.id = picked.id
          returning e.seq
        )
        select count(*)::int as count, max(seq) as last from numbered`;
      if (row.count > 0) await tx`select pg_notify('aerostore_events_sequenced', ${String(row.last)})`;
      return row;
    });
    if (numbered.count === 0) return last;
    last = Number(numbered.last);
    if (numbered.count < BATCH) return last;
  }
}

/** Runs the sequencer on NOTIFY and every second; the returned function stops it. */
export async function startSequencer(sql: Sql, log: Logger): Promise<() => Promise<void>> {
  let running: Promise<unknown> | undefined;
  let again = false;
  let stopped = false;
  const turn = () => {
    if (stopped) return;
    // One turn at a time here; a wake-up during a turn asks for one more.
    if (running) {
      again = true;
      return;
    }
    running = sequenceEvents(sql)
      .catch((err: unknown) => log.warn({ err }, 'event sequencer turn failed; retrying'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          turn();
        }
      });
  };
  const { unlisten } = await sql.listen('aerostore_events', turn, turn);
  const timer = setInterval(turn, TICK_MS);
  timer.unref();
  turn();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await unlisten();
    await running;
  };
}
