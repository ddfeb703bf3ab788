// GET /storage/v1/events: the event log as Server-Sent Events.
//
// Filters: `bucket`, `type` (comma-separated), `prefix` (of the path). Each
// event is `id: <seq>`, `event: <type>`, `data: <JSON>`; a client resumes with
// `Last-Event-ID` (EventSource sends it on reconnect) or `?last_event_id=`
// (0 replays everything retained). Without either, the stream starts with
// the next event. Numbers come from the sequencer in commit order, so a
// resumed stream has no gap and no duplicate. Events are read as the
// subscriber: row-level security leaves out those about objects it may not
// read. A stream opened with credentials that expire (a JWT's exp, an STS
// session) ends when they do, with a `: credentials expired` comment: the
// client reconnects with fresh ones and resumes from its last id.
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Services } from '../core/services.ts';
import {
  BLUEPRINT_EVENT_TYPES,
  EVENT_FORMATS,
  EVENT_TYPES,
  latestSeq,
  readEvents,
  type EventFeed,
  type EventFilter,
} from '../events/feed.ts';
import type { Principal } from '../principals/principal.ts';
import type { ApiEnv } from '../http/env.ts';
import { StorageApiError } from './errors.ts';

/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** setTimeout's longest delay (about 24.8 days); a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const eventsQuery = z
  .object({
    bucket: z.string().min(1).optional(),
    type: z
      .string()
      .optional()
      .transform((v) => (v ? v.split(',').map((t) => t.trim()) : [])),
    prefix: z.string().default(''),
    last_event_id: z.coerce.number().int().nonnegative().optional(),
    // `blueprint`: the File Storage Blueprint's file.* vocabulary (events/feed.ts).
    format: z.enum(EVENT_FORMATS).default('storage'),
  })
  .superRefine((q, ctx) => {
    const known: readonly string[] = q.format === 'blueprint' ? BLUEPRINT_EVENT_TYPES : EVENT_TYPES;
    if (q.type.some((t) => !known.includes(t))) ctx.addIssue({ code: 'custom', path: ['type'], message: `in format ${q.format}, one of ${known.join(', ')}` });
  });

function validQuery(query: Record<string, string>): z.infer<typeof eventsQuery> {
  const parsed = eventsQuery.safeParse(query);
  if (!parsed.success) {
    throw new StorageApiError(400, 'INVALID_REQUEST', parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/** The position to resume after: Last-Event-ID wins over the query; neither means "from now". */
function startPosition(header: string | undefined, query: number | undefined): number | undefined {
  if (header !== undefined && header.trim() !== '') {
    const n = Number(header.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new StorageApiError(400, 'INVALID_REQUEST', 'Last-Event-ID: an event id (a non-negative integer).');
    return n;
  }
  return query;
}

export function eventRoutes(storage: Services, feed: EventFeed): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/', async (c) => {
    const q = validQuery(c.req.query());
    const principal = c.get('principal');
    const filter: EventFilter = { bucket: q.bucket, types: q.type, prefix: q.prefix, format: q.format };
    const after = startPosition(c.req.header('last-event-id'), q.last_event_id) ?? (await latestSeq(storage.sql));
    const res: ServerResponse = c.env.outgoing;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    void stream(storage, feed, principal, filter, after, res);
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}

/** Writes events after `after` until the client goes away or the server stops. */
async function stream(storage: Services, feed: EventFeed, principal: Principal, filter: EventFilter, after: number, res: ServerResponse): Promise<void> {
  let cursor = after;
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const close = () => {
    closed = true;
    poke();
  };
  res.on('close', close);
  feed.on('sequenced', poke);
  feed.on('closing', close);
  const heartbeat = setInterval(() => res.write(': keepalive\n\n'), HEARTBEAT_MS);
  const expiry = principal.kind === 'user' ? principal.expiresAt : undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  const endAtExpiry = () => {
    const left = expiry! - Date.now();
    if (left > 0) {
      expiryTimer = setTimeout(endAtExpiry, Math.min(left, MAX_TIMER_MS));
      return;
    }
    res.write(': credentials expired\n\n');
    close();
  };
  if (expiry !== undefined) endAtExpiry();
  try {
    while (!closed) {
      // Armed before reading, so a wake-up during the read is not lost.
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const events = await readEvents(storage.sql, principal, cursor, filter);
      for (const e of events) {
        cursor = Number(e.seq);
        if (!res.write(`id: ${cursor}\nevent: ${e.type}\ndata: ${e.json}\n\n`)) {
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
        if (closed) break;
      }
      // A full page means more may be waiting; otherwise sleep until new events are numbered.
      if (events.length < 500) await woken;
    }
  } catch (err) {
    storage.log.warn({ err }, 'event stream ended by an error');
  } finally {
    clearInterval(heartbeat);
    clearTimeout(expiryTimer);
    feed.off('sequenced', poke);
    feed.off('closing', close);
    res.end();
  }
}
