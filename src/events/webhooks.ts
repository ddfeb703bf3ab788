// Webhooks: per-bucket subscriptions to the event log, managed by the admin
// API (src/admin/webhooks.ts), and the signature every delivery carries.
// Deliveries are queued by the database as the sequencer numbers each event
// (migration 0013) and sent by the worker of every process (webhook-worker.ts).
//
// Only the service role may touch storage.webhooks and
// storage.webhook_deliveries (migration 0012): every statement runs as SERVICE.
// Secrets are sealed with the server's SecretBox, bound to `webhook:<id>`.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { requireBucket } from '../core/buckets.ts';
import type { Services } from '../core/services.ts';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import { BLUEPRINT_EVENT_TYPES, EVENT_FORMATS, EVENT_TYPES, type EventFormat } from './feed.ts';

/** New deliveries and re-queued ones are announced here, to wake the workers of every process. */
export const WEBHOOKS_CHANNEL = 'aerostore_webhooks';

export const SIGNATURE_HEADER = 'x-aerostore-signature';

/**
 * The signature header's value, Stripe's scheme: `t=<unix seconds>,v1=<hex
 * HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp is signed with the
 * body, so a receiver that refuses old timestamps cannot be fed a captured
 * delivery again later. `v1` names the scheme, leaving room for another.
 */
export function signDelivery(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

const sealContext = (webhookId: string) => `webhook:${webhookId}`;

export function openWebhookSecret(box: SecretBox, webhookId: string, sealed: Buffer): string {
  return box.open(sealed.toString('utf8'), sealContext(webhookId));
}

/**
 * A new subscription as the admin API receives it. Strict: a misspelt field
 * ("eventTypes") is an error rather than a silently broader subscription.
 */
export const NewWebhookSchema = z.strictObject(
  {
    bucket: z.string('must be a bucket name').min(1, 'must be a bucket name'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048, 'must be at most 2048 characters')
      // fetch refuses URLs with credentials; say so now rather than at every delivery.
      .refine((u) => !/^https?:\/\/[^/?#]*@/i.test(u), 'must not contain credentials'),
    /** Named in the format's vocabulary; checked below, once the format is known. */
    event_types: z.array(z.string('must be event type names')).default([]),
    prefix: z.string('must be a string').max(1024, 'must be at most 1024 characters').default(''),
    secret: z.string('must be a string').min(16, 'must be at least 16 characters').max(256, 'must be at most 256 characters').optional(),
    /** `blueprint`: deliveries in the File Storage Blueprint's file.* vocabulary (events/feed.ts). */
    format: z.enum(EVENT_FORMATS, `must be one of ${EVENT_FORMATS.join(', ')}`).default('storage'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : 'the body must be a JSON object') },
).superRefine((w, ctx) => {
  const known: readonly string[] = w.format === 'blueprint' ? BLUEPRINT_EVENT_TYPES : EVENT_TYPES;
  if (w.event_types.some((t) => !known.includes(t))) ctx.addIssue({ code: 'custom', path: ['event_types'], message: `must be one of ${known.join(', ')}` });
});
export type NewWebhook = z.output<typeof NewWebhookSchema>;

/** A subscription as the admin API shows it: never its secret. */
export interface Webhook {
  id: string;
  bucket: string;
  url: string;
  /** Empty: every type. */
  event_types: string[];
  prefix: string;
  format: EventFormat;
  enabled: boolean;
  /** ISO 8601. */
  created_at: string;
}

/** A subscription just created: the only time its secret leaves the server. */
export interface CreatedWebhook extends Webhook {
  secret: string;
}

interface WebhookRow extends Omit<Webhook, 'created_at'> {
  created_at: Date;
}

const toWebhook = (row: WebhookRow): Webhook => ({ ...row, created_at: row.created_at.toISOString() });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Subscribes to `input.bucket`'s events; throws NoSuchBucket (a DomainError) when it does not exist. */
export async function createWebhook(storage: Services, box: SecretBox, input: NewWebhook): Promise<CreatedWebhook> {
  const bucket = await requireBucket(storage, input.bucket);
  // The id is made here, not by the database: the sealed secret is bound to it.
  const id = randomUUID();
  const secret = input.secret ?? randomBytes(32).toString('base64url');
  const sealed = Buffer.from(box.seal(secret, sealContext(id)), 'utf8');
  const eventTypes = [...new Set(input.event_types)];
  const [row] = await asPrincipal(storage.sql, SERVICE, (tx) => tx<{ created_at: Date }[]>`
    insert into storage.webhooks (id, bucket_id, url, event_types, prefix, secret_sealed, format)
    values (${id}, ${bucket.id}, ${input.url}, ${eventTypes}::text[], ${input.prefix}, ${sealed}, ${input.format})
    returning created_at`);
  const webhook = toWebhook({
    id,
    bucket: bucket.name,
    url: input.url,
    event_types: eventTypes,
    prefix: input.prefix,
    format: input.format,
    enabled: true,
    created_at: row.created_at,
  });
  return { ...webhook, secret };
}

/** Every subscription, or a bucket's, oldest first. */
export async function listWebhooks(sql: Sql, bucket?: string): Promise<Webhook[]> {
  const rows = await readAs(sql, SERVICE, (tx) => tx<WebhookRow[]>`
    select w.id, b.name as bucket, w.url, w.event_types, w.prefix, w.format, w.enabled, w.created_at
    from storage.webhooks w join storage.buckets b on b.id = w.bucket_id
    ${bucket !== undefined ? tx`where b.name = ${bucket}` : tx``}
    order by w.created_at, w.id`);
  return rows.map(toWebhook);
}

export async function getWebhook(sql: Sql, id: string): Promise<Webhook | undefined> {
  if (!UUID.test(id)) return undefined; // Postgres would refuse the cast
  const [row] = await readAs(sql, SERVICE, (tx) => tx<WebhookRow[]>`
    select w.id, b.name as bucket, w.url, w.event_types, w.prefix, w.format, w.enabled, w.created_at
    from storage.webhooks w join storage.buckets b on b.id = w.bucket_id
    where w.id = ${id}`);
  return row && toWebhook(row);
}

/** Removes a subscription and its deliveries, sent or not; false when there is none. */
export async function deleteWebhook(sql: Sql, id: string): Promise<boolean> {
  if (!UUID.test(id)) return false;
  const rows = await asPrincipal(sql, SERVICE, (tx) => tx`delete from storage.webhooks where id = ${id} returning id`);
  return rows.length > 0;
}

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A delivery as the admin API shows it: dead ones are the dead-letter queue. */
export interface Delivery {
  id: number;
  /** The event's public number: its `id` in the payload and `x-aerostore-event-id`. */
  event_id: number;
  event_type: string;
  state: DeliveryState;
  attempts: number;
  /** When a pending delivery is next tried (while an attempt runs: when it is given up for lost); null otherwise. */
  next_attempt_at: string | null;
  /** The receiver's HTTP status at the last attempt; null when none came (network error, timeout). */
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  event: unknown;
}

interface DeliveryRow {
  id: number;
  event_seq: number;
  state: DeliveryState;
  attempts: number;
  run_after: Date;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  event: { type: string };
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    event_id: row.event_seq,
    event_type: row.event.type,
    state: row.state,
    attempts: row.attempts,
    next_attempt_at: row.state === 'pending' ? row.run_after.toISOString() : null,
    last_status: row.last_status,
    last_error: row.last_error,
    delivered_at: row.delivered_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    event: row.event,
  };
}

const DELIVERY_COLUMNS = 'id, event_seq, state, attempts, run_after, last_status, last_error, delivered_at, created_at, event';

/** A webhook's deliveries, newest first, optionally in one state. */
export async function listDeliveries(sql: Sql, webhookId: string, opts: { state?: DeliveryState; limit: number }): Promise<Delivery[]> {
  const rows = await readAs(sql, SERVICE, (tx) => tx<DeliveryRow[]>`
    select ${tx.unsafe(DELIVERY_COLUMNS)} from storage.webhook_deliveries
    where webhook_id = ${webhookId} ${opts.state ? tx`and state = ${opts.state}` : tx``}
    order by id desc limit ${opts.limit}`);
  return rows.map(toDelivery);
}

export type RetryResult = { requeued: Delivery } | { problem: 'not-found' | 'not-dead' };

/**
 * Puts a dead delivery back in the queue with a fresh set of attempts. Only
 * a dead one: a pending delivery may be in flight right now, and sending a
 * delivered one again is the receiver's duplicate to sort out.
 */
export async function retryDelivery(sql: Sql, webhookId: string, deliveryId: number): Promise<RetryResult> {
  return asPrincipal(sql, SERVICE, async (tx) => {
    const [found] = await tx<{ state: DeliveryState }[]>`
      select state from storage.webhook_deliveries where id = ${deliveryId} and webhook_id = ${webhookId} for update`;
    if (!found) return { problem: 'not-found' };
    if (found.state !== 'dead') return { problem: 'not-dead' };
    const [row] = await tx<DeliveryRow[]>`
      update storage.webhook_deliveries set state = 'pending', attempts = 0, run_after = now()
      where id = ${deliveryId} returning ${tx.unsafe(DELIVERY_COLUMNS)}`;
    await tx`select pg_notify(${WEBHOOKS_CHANNEL}, '')`;
    return { requeued: toDelivery(row) };
  });
}
