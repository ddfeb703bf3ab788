// Maintenance that one server process at a time does (the orphan sweeper,
// the lifecycle pass), on a schedule in every process. A session-level
// advisory try-lock on a reserved connection decides who runs a round: a
// process that dies mid-run drops its connection, and the lock with it; the
// others skip the round. The lock ids (0x5e9_xxxx) are listed in
// docs/architecture.md "Advisory locks".
import type { Services } from '../core/services.ts';

/** Runs `fn` holding the advisory lock `lockId`; undefined without running when another session holds it. */
export async function runExclusive<T>(storage: Pick<Services, 'sql'>, lockId: number, fn: () => Promise<T>): Promise<T | undefined> {
  const c = await storage.sql.reserve();
  try {
    const [{ locked }] = await c<{ locked: boolean }[]>`select pg_try_advisory_lock(${lockId}) as locked`;
    if (!locked) return undefined;
    try {
      return await fn();
    } finally {
      await c`select pg_advisory_unlock(${lockId})`;
    }
  } finally {
    c.release();
  }
}

export interface ExclusiveSchedule {
  lockId: number;
  /** Between runs. */
  everyMs: number;
  /** The first run, after start-up. */
  firstAfterMs: number;
}

/**
 * Runs `run` under runExclusive shortly after start and then every
 * `everyMs`, on unref'd timers, never two at once in this process; a
 * failure goes to `failed` and the next round tries again. Shutdown (the
 * returned function) aborts the signal `run` is given, so it stops between
 * items, and Services.background lets the server wait for it.
 */
export function scheduleExclusive(
  storage: Pick<Services, 'sql' | 'background'>,
  schedule: ExclusiveSchedule,
  run: (signal: AbortSignal) => Promise<void>,
  failed: (err: unknown) => void,
): () => void {
  const abort = new AbortController();
  let running = false;
  const round = () => {
    if (running || abort.signal.aborted) return;
    running = true;
    const job = runExclusive(storage, schedule.lockId, () => run(abort.signal))
      .catch(failed)
      .finally(() => {
        running = false;
        storage.background.delete(job);
      });
    storage.background.add(job);
  };
  const first = setTimeout(round, schedule.firstAfterMs);
  const timer = setInterval(round, schedule.everyMs);
  first.unref();
  timer.unref();
  return () => {
    abort.abort();
    clearTimeout(first);
    clearInterval(timer);
  };
}
