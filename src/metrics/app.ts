// GET /metrics: the Prometheus text exposition of this process's registry
// (metrics/registry.ts, metrics/scrape.ts), behind the token or the
// loopback rule (metrics/access.ts). The admin API serves the same text to
// the service role at /admin/v1/metrics (admin/server.ts).
import { Hono, type Context } from 'hono';
import { clientAddress } from '../http/client-address.ts';
import type { HttpEnv } from '../http/env.ts';
import { jsonError } from '../http/json-error.ts';
import { metricsAccess } from './access.ts';
import { registry } from './registry.ts';

/** The exposition as a response (Prometheus text format 0.0.4). */
export async function exposition(c: Context): Promise<Response> {
  const text = await registry.metrics();
  return c.body(text, 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
}

/** The /metrics application; `token` is AEROSTORE_METRICS_TOKEN. */
export function metricsApp(token: string | undefined): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get('/metrics', async (c) => {
    const req = c.env.incoming;
    const access = metricsAccess(token, req.headers, clientAddress(req));
    if (!access.allowed) {
      if (access.status === 401) c.header('www-authenticate', 'Bearer realm="aerostore metrics"');
      return jsonError(c, access.status, access.code, access.message);
    }
    return exposition(c);
  });
  return app;
}
