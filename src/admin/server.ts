// The server itself, for the service role (the console's server page):
// GET /admin/v1/server — version, uptime, disk, stored totals as JSON
// (metrics/server-facts.ts) — and GET /admin/v1/metrics, the Prometheus
// text /metrics serves, behind the admin API's own authentication instead
// of the metrics token or the loopback rule.
import { Hono } from 'hono';
import type { ApiEnv } from '../http/env.ts';
import { exposition } from '../metrics/app.ts';
import { serverReport, type ServerFacts } from '../metrics/server-facts.ts';

export function serverAdmin(facts: ServerFacts): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/server', async (c) => c.json(await serverReport(facts)));
  app.get('/metrics', (c) => exposition(c));
  return app;
}
