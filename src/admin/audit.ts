// The audit trail in the admin API, mounted at /admin/v1 behind the
// middleware that lets only the service role through (admin/app.ts):
//   GET /audit[?actor=&bucket=&prefix=&since=&until=&action=&limit=&cursor=]
//     → 200 { records: [ record, ... ], next_cursor } newest first (events/audit.ts AuditRecord);
//       actor: a user id, an access key id or `anonymous`; since/until: ISO 8601 or an age (24h, 7d);
//       next_cursor (null on the last page) is the next request's cursor.
// A malformed query is 400 InvalidRequest (http/json-error.ts).
import { Hono } from 'hono';
import type { Services } from '../core/services.ts';
import { InvalidAuditQuery, parseAuditQuery, queryAudit } from '../events/audit.ts';
import { jsonError } from '../http/json-error.ts';
import type { ApiEnv } from '../http/env.ts';

export function auditAdmin(storage: Services): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/audit', async (c) => {
    let query;
    try {
      query = parseAuditQuery(c.req.query());
    } catch (err) {
      if (!(err instanceof InvalidAuditQuery)) throw err;
      return jsonError(c, 400, 'InvalidRequest', err.message);
    }
    return c.json(await queryAudit(storage.sql, c.get('principal'), query));
  });
  return app;
}
