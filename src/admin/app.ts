// The admin API (/admin/v1): access keys, bucket settings and figures
// (GET /buckets/stats: core/bucket-stats.ts), webhooks, virus scanning
// (admin/scan.ts), the audit trail (admin/audit.ts) and the server's state
// and metrics (admin/server.ts). Only the
// service role gets in — the root key or a service-role access key by SigV4,
// or a service-role JWT as `Authorization: Bearer`. Errors are JSON.
import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { updateBucketSettings } from '../core/buckets.ts';
import { bucketStats } from '../core/bucket-stats.ts';
import type { Services } from '../core/services.ts';
import type { BucketRow } from '../core/bucket.ts';
import { isDomainError } from '../core/errors.ts';
import { answerFailure } from '../http/failure.ts';
import { clientAddress } from '../http/client-address.ts';
import { jsonError } from '../http/json-error.ts';
import { noteRequest } from '../http/request-log.ts';
import { authenticate, type Authenticator } from '../principals/authenticate.ts';
import { isService, type Principal } from '../principals/principal.ts';
import type { StoredKeyResolver } from '../principals/access-keys.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import { adminAuthError, adminDomainError } from './errors.ts';
import { auditAdmin } from './audit.ts';
import { keysAdmin } from './keys.ts';
import { scanAdmin } from './scan.ts';
import { webhooksAdmin } from './webhooks.ts';
import { serverAdmin } from './server.ts';
import type { ServerFacts } from '../metrics/server-facts.ts';
import type { ApiEnv } from '../http/env.ts';

/** Admin request bodies are small JSON documents. */
const MAX_ADMIN_BODY = 64 * 1024;

export function adminApp(deps: { storage: Services; auth: Authenticator; box: SecretBox; storedKeys: StoredKeyResolver; server: ServerFacts }): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.use('*', async (c, next) => {
    const req = c.env.incoming;
    let principal: Principal;
    try {
      const head = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, address: clientAddress(req) };
      const { principal: p, signature } = await authenticate(head, deps.auth);
      principal = p;
      if (signature && /^[0-9a-f]{64}$/.test(signature.payloadHash)) {
        // A signed payload hash must be the body's.
        const body = Buffer.from(await c.req.arrayBuffer());
        if (body.length > MAX_ADMIN_BODY) return jsonError(c, 413, 'PayloadTooLarge', 'The request body is too large.');
        if (createHash('sha256').update(body).digest('hex') !== signature.payloadHash) {
          return jsonError(c, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match the body.");
        }
      }
    } catch (err) {
      if (!isDomainError(err)) throw err;
      return adminAuthError(c, err);
    }
    noteRequest(c.env.incoming, { principal });
    if (principal.kind === 'anonymous') return jsonError(c, 401, 'Unauthorized', 'The admin API needs service-role credentials.');
    if (!isService(principal)) return jsonError(c, 403, 'AccessDenied', 'The admin API is for the service role only.');
    c.set('principal', principal);
    await next();
  });

  app.route('/keys', keysAdmin({ sql: deps.storage.sql, box: deps.box, resolver: deps.storedKeys }));
  app.route('/', scanAdmin(deps.storage));
  app.route('/', auditAdmin(deps.storage));
  app.route('/webhooks', webhooksAdmin({ storage: deps.storage, box: deps.box }));
  app.route('/', serverAdmin(deps.server));

  const settings = z
    .object({
      policy: z.enum(['private', 'authenticated', 'public']).optional(),
      member_writes: z.boolean().optional(),
      public_list: z.boolean().optional(),
      download_events: z.boolean().optional(),
    })
    .strict();
  const bucketJson = (b: BucketRow) => ({
    id: b.id,
    name: b.name,
    owner_id: b.owner_id,
    policy: b.policy,
    member_writes: b.member_writes,
    public_list: b.public_list,
    download_events: b.download_events,
    created_at: b.created_at.toISOString(),
  });
  app.get('/buckets/stats', async (c) => c.json(await bucketStats(deps.storage.sql)));
  app.patch('/buckets/:name', async (c) => {
    const parsed = settings.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return jsonError(c, 400, 'InvalidRequest', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const { policy, member_writes: memberWrites, public_list: publicList, download_events: downloadEvents } = parsed.data;
    const row = await updateBucketSettings(deps.storage, c.req.param('name'), c.get('principal'), { policy, memberWrites, publicList, downloadEvents });
    return c.json(bucketJson(row));
  });

  app.onError((err, c: Context<ApiEnv>) =>
    answerFailure(c, err, { isAnswer: isDomainError(err), log: deps.storage.log }, () =>
      // A full disk too: the admin API writes nothing to the data directory, so it answers as it always did.
      isDomainError(err) ? adminDomainError(c, err) : jsonError(c, 500, 'InternalError', 'Internal error.'),
    ),
  );
  return app;
}
