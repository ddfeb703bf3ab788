// The webhook admin API, mounted at /admin/v1/webhooks behind a middleware
// that lets only the service role through (this file assumes it did):
//   POST   /          { bucket, url, event_types?, prefix?, secret? } → 201 the webhook, with its secret (shown this once)
//   GET    /[?bucket=]                          → 200 [ webhook, ... ], never a secret
//   GET    /:id                                 → 200 the webhook
//   DELETE /:id                                 → 204, its deliveries with it
//   GET    /:id/deliveries[?state=&limit=]      → 200 [ delivery, ... ] newest first; state=dead: the dead letters
//   POST   /:id/deliveries/:deliveryId/retry    → 200 the delivery, pending again with fresh attempts (dead ones only: else 409)
// Errors are JSON in Supabase Storage's shape (http/json-error.ts); an
// unknown bucket is the mounting app's NoSuchBucket, anything unexpected goes
// to its onError, which logs it.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Services } from '../core/services.ts';
import {
  createWebhook,
  deleteWebhook,
  DELIVERY_STATES,
  getWebhook,
  listDeliveries,
  listWebhooks,
  NewWebhookSchema,
  retryDelivery,
} from '../events/webhooks.ts';
import { jsonError } from '../http/json-error.ts';
import { describeIssues } from '../principals/access-keys.ts';
import { jsonBody } from './request.ts';
import type { SecretBox } from '../principals/secret-box.ts';

export interface WebhooksAdminDeps {
  storage: Services;
  /** Seals new secrets (the server's SecretBox; each bound to its webhook's id). */
  box: SecretBox;
}

const DeliveriesQuery = z.object({
  state: z.enum(DELIVERY_STATES, `must be one of ${DELIVERY_STATES.join(', ')}`).optional(),
  limit: z.coerce.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
});

const notFound = (c: Context, id: string) => jsonError(c, 404, 'NotFound', `no webhook with id ${id}`);

export function webhooksAdmin(deps: WebhooksAdminDeps): Hono {
  const { storage, box } = deps;
  const app = new Hono();

  app.post('/', async (c) => {
    const body = await jsonBody(c, NewWebhookSchema);
    if ('refusal' in body) return body.refusal;
    return c.json(await createWebhook(storage, box, body.data), 201);
  });

  app.get('/', async (c) => c.json(await listWebhooks(storage.sql, c.req.query('bucket'))));

  app.get('/:id', async (c) => {
    const webhook = await getWebhook(storage.sql, c.req.param('id'));
    return webhook ? c.json(webhook) : notFound(c, c.req.param('id'));
  });

  app.delete('/:id', async (c) => {
    const deleted = await deleteWebhook(storage.sql, c.req.param('id'));
    return deleted ? c.body(null, 204) : notFound(c, c.req.param('id'));
  });

  app.get('/:id/deliveries', async (c) => {
    const id = c.req.param('id');
    const query = DeliveriesQuery.safeParse(c.req.query());
    if (!query.success) return jsonError(c, 400, 'InvalidRequest', describeIssues(query.error));
    if (!(await getWebhook(storage.sql, id))) return notFound(c, id);
    return c.json(await listDeliveries(storage.sql, id, query.data));
  });

  app.post('/:id/deliveries/:deliveryId/retry', async (c) => {
    const { id, deliveryId } = c.req.param();
    if (!(await getWebhook(storage.sql, id))) return notFound(c, id);
    const missing = () => jsonError(c, 404, 'NotFound', `webhook ${id} has no delivery ${deliveryId}`);
    // Delivery ids are bigserial: anything else names none.
    if (!/^[1-9][0-9]{0,14}$/.test(deliveryId)) return missing();
    const result = await retryDelivery(storage.sql, id, Number(deliveryId));
    if ('requeued' in result) return c.json(result.requeued);
    if (result.problem === 'not-found') return missing();
    return jsonError(c, 409, 'InvalidState', `delivery ${deliveryId} is not dead: only dead deliveries are retried`);
  });

  return app;
}
