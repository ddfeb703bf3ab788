// Sends queued webhook deliveries (storage.webhook_deliveries; queued by
// migration 0013 as events are numbered). Every process runs one worker.
//
// A delivery is claimed, FOR UPDATE SKIP LOCKED, in a short transaction that
// leases it: its attempt count goes up and its run_after moves past the time
// the attempt can take. Workers of other processes skip it while the claim
// commits and find it not due after, so one process sends each attempt; a
// process that dies mid-attempt leaves a lease that runs out, and the
// delivery is tried again rather than lost. The attempt count doubles as a
// fencing token: a result is recorded only if no one has claimed the
// delivery since.
//
// A 2xx answer delivers; anything else (another status, a redirect, a network
// error, no answer within the timeout) is retried after a backoff that
// doubles each attempt, until the last attempt fails and the delivery is
// dead: kept, shown by the admin API, re-queued by hand. Delivery is
// at least once (a receiver's 2xx can be lost on the way back), and not in
// order: receivers deduplicate by x-aerostore-event-id.
import type { Logger } from 'pino';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';
import { webhookAttempts } from '../metrics/registry.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import { openWebhookSecret, SIGNATURE_HEADER, signDelivery, WEBHOOKS_CHANNEL } from './webhooks.ts';

export interface WebhookWorkerOptions {
  /** Attempts before a delivery is dead. */
  maxAttempts: number;
  /** Wait before the first retry; doubled for each later one, up to MAX_BACKOFF_MS. */
  backoffMs: number;
  /** How long a receiver has to answer. */
  timeoutMs: number;
}

/** Deliveries in flight per process. */
const CONCURRENCY = 8;
/** A notification can be lost while the listener reconnects, and retries fall due without one: look anyway. */
const POLL_MS = 1000;
/** A lease outlasts the attempt's timeout by this much: time to record the result, even on a busy database. */
const LEASE_MARGIN_MS = 30_000;
const MAX_BACKOFF_MS = 60 * 60 * 1000;

interface ClaimedDelivery {
  id: number;
  webhook_id: string;
  event_seq: number;
  event: { type: string };
  /** Including this one: the lease's fencing token. */
  attempts: number;
  url: string;
  secret_sealed: Buffer;
}

type Outcome = { delivered: true; status: number } | { delivered: false; status: number | null; error: string };

/** The wait after failed attempt number `attempt` (1-based). */
export function backoffDelay(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
}

/** Leases up to `limit` due deliveries to this process. */
async function claimDeliveries(sql: Sql, limit: number, opts: WebhookWorkerOptions): Promise<ClaimedDelivery[]> {
  return asPrincipal(sql, SERVICE, async (tx) => {
    // Due with no attempt left: the last one's lease ran out without a result
    // (its process stopped). It counts as failed.
    await tx`
      update storage.webhook_deliveries set state = 'dead',
        last_error = coalesce(last_error || '; ', '') || 'no result from the last attempt (its server stopped)'
      where id in (select id from storage.webhook_deliveries
                   where state = 'pending' and run_after <= now() and attempts >= ${opts.maxAttempts}
                   for update skip locked)`;
    // A disabled webhook's deliveries wait for it.
    return tx<ClaimedDelivery[]>`
      with due as (
        select d.id from storage.webhook_deliveries d
        join storage.webhooks w on w.id = d.webhook_id and w.enabled
        where d.state = 'pending' and d.run_after <= now() and d.attempts < ${opts.maxAttempts}
        order by d.run_after, d.id limit ${limit}
        for update of d skip locked
      )
      update storage.webhook_deliveries d
      set attempts = d.attempts + 1, run_after = now() + ${opts.timeoutMs + LEASE_MARGIN_MS} * interval '1 millisecond'
      from due, storage.webhooks w
      where d.id = due.id and w.id = d.webhook_id
      returning d.id, d.webhook_id, d.event_seq, d.event, d.attempts, w.url, w.secret_sealed`;
  });
}

/** One POST of the event, signed with the webhook's secret. */
async function attempt(d: ClaimedDelivery, box: SecretBox, timeoutMs: number): Promise<Outcome> {
  try {
    // The bytes signed are the bytes sent.
    const body = JSON.stringify(d.event);
    const signature = signDelivery(openWebhookSecret(box, d.webhook_id, d.secret_sealed), body, Math.floor(Date.now() / 1000));
    const res = await fetch(d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'aerostore-webhooks',
        'x-aerostore-event-id': String(d.event_seq),
        'x-aerostore-event-type': d.event.type,
        'x-aerostore-webhook-id': d.webhook_id,
        [SIGNATURE_HEADER]: signature,
      },
      body,
      // A redirect is not followed: the receiver is the URL that was registered.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Only the status matters; dropping the body frees the connection.
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { delivered: true, status: res.status };
    return { delivered: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    return { delivered: false, status: null, error: describeFailure(err, timeoutMs) };
  }
}

function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  // fetch reports network failures as TypeError('fetch failed') with the reason as its cause.
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return reason.slice(0, 500);
}

/** Records an attempt's outcome, unless the lease was lost meanwhile; returns the state it left. */
async function record(sql: Sql, d: ClaimedDelivery, outcome: Outcome, opts: WebhookWorkerOptions): Promise<string | undefined> {
  const owned = (tx: Sql) => tx`id = ${d.id} and attempts = ${d.attempts} and state = 'pending'`;
  const rows = await asPrincipal(sql, SERVICE, (tx) => {
    if (outcome.delivered) {
      return tx<{ state: string }[]>`
        update storage.webhook_deliveries set state = 'delivered', delivered_at = now(), last_status = ${outcome.status}, last_error = null
        where ${owned(tx)} returning state`;
    }
    const dead = d.attempts >= opts.maxAttempts;
    return tx<{ state: string }[]>`
      update storage.webhook_deliveries
      set last_status = ${outcome.status}, last_error = ${outcome.error},
        ${dead ? tx`state = 'dead'` : tx`run_after = now() + ${backoffDelay(d.attempts, opts.backoffMs)} * interval '1 millisecond'`}
      where ${owned(tx)} returning state`;
  });
  return rows[0]?.state;
}

/**
 * Starts this process's worker: it looks for due deliveries when told of new
 * ones (NOTIFY), every second, and whenever an attempt ends. The returned
 * function stops it, letting attempts in flight finish (each is bounded by
 * the timeout) so that their results are recorded.
 */
export async function startWebhookWorker(deps: { sql: Sql; box: SecretBox; log: Logger; options: WebhookWorkerOptions }): Promise<() => Promise<void>> {
  const { sql, box, log, options } = deps;
  const inFlight = new Set<Promise<void>>();
  let claiming: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const send = async (d: ClaimedDelivery) => {
    const outcome = await attempt(d, box, options.timeoutMs);
    const state = await record(sql, d, outcome, options);
    webhookAttempts.inc({ outcome: outcome.delivered ? 'delivered' : state === 'dead' ? 'dead' : 'failed' });
    const fields = { webhookId: d.webhook_id, deliveryId: d.id, eventId: d.event_seq, attempt: d.attempts };
    if (state === 'dead') log.warn({ ...fields, outcome }, 'webhook delivery failed for the last time: dead');
    else if (state === undefined) log.warn(fields, 'webhook delivery attempt outlived its lease; its result was not recorded');
    else log.debug({ ...fields, outcome }, 'webhook delivery attempt');
  };

  const fill = async () => {
    do {
      again = false;
      const free = CONCURRENCY - inFlight.size;
      if (free <= 0 || stopped) return;
      const claimed = await claimDeliveries(sql, free, options);
      for (const d of claimed) {
        const job = send(d)
          .catch((err: unknown) => log.error({ err, deliveryId: d.id }, 'webhook delivery could not be recorded; retried when its lease ends'))
          .finally(() => {
            inFlight.delete(job);
            wake();
          });
        inFlight.add(job);
      }
      // A full batch: more may be due.
      if (claimed.length === free) again = true;
    } while (again);
  };

  // One claim at a time in this process; a wake-up meanwhile asks for one more round.
  const wake = () => {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = fill()
      .catch((err: unknown) => log.warn({ err }, 'claiming webhook deliveries failed; retrying'))
      .finally(() => (claiming = undefined));
  };

  const { unlisten } = await sql.listen(WEBHOOKS_CHANNEL, wake, wake);
  const timer = setInterval(wake, POLL_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await unlisten();
    await claiming;
    await Promise.allSettled(inFlight);
  };
}
