// Virus scanning in the admin API, mounted at /admin/v1 behind the
// middleware that lets only the service role through (admin/app.ts):
//   GET  /quarantine[?limit=]        → 200 [ { bucket, key, size, signature, last_modified }, ... ]
//                                      the quarantined objects, newest first (limit 1..1000, default 100)
//   GET  /quarantine/{bucket}/{key}  → 200 the object's bytes, whatever its verdict:
//                                      the one way out for quarantined content
//   POST /quarantine/release { bucket, key }
//                                  → 200 { released: [keys] }: the object's content is clean by the
//                                      operator's word (a false positive), with every object on it;
//                                      404 NoSuchKey, 409 NotQuarantined
//   GET  /scan/status                → 200 the queue and the verdicts (scanning/queue.ts ScanOverview)
//   POST /scan/rescan  { bucket? }   → 200 { queued }: every blob (of the bucket) scanned again,
//                                      e.g. after a signature update
// Errors are JSON (http/json-error.ts); DomainErrors (NoSuchBucket) and anything
// unexpected go to the mounting app's onError.
import type { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { requireBucket } from '../core/buckets.ts';
import { openObject, validateKey } from '../core/objects.ts';
import type { Services } from '../core/services.ts';
import { jsonError } from '../http/json-error.ts';
import { jsonBody } from './request.ts';
import { listQuarantined, objectWithVerdict, releaseContent, rescan, scanOverview } from '../scanning/queue.ts';
import type { ApiEnv } from '../http/env.ts';

const QuarantineQuery = z.coerce.number().int().min(1).max(1000);
const ReleaseBody = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) }, { error: 'the body must be { "bucket": "<name>", "key": "<key>" }' });
const RescanBody = z.strictObject({ bucket: z.string().min(1).optional() }, { error: 'the body must be {} or { "bucket": "<name>" }' });

/** {bucket}/{key} after /quarantine/, percent-decoded; undefined when malformed. */
function quarantineTarget(c: Context<ApiEnv>): { bucket: string; key: string } | undefined {
  const raw = (c.env.incoming.url ?? '').split('?')[0];
  const rest = raw.slice(raw.indexOf('/quarantine/') + '/quarantine/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  try {
    return { bucket: decodeURIComponent(rest.slice(0, slash)), key: decodeURIComponent(rest.slice(slash + 1)) };
  } catch {
    return undefined;
  }
}

export function scanAdmin(storage: Services): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.get('/quarantine', async (c) => {
    const limit = QuarantineQuery.safeParse(c.req.query('limit') ?? '100');
    if (!limit.success) return jsonError(c, 400, 'InvalidRequest', 'limit: a whole number from 1 to 1000');
    return c.json(await listQuarantined(storage.sql, limit.data));
  });

  app.get('/quarantine/*', async (c) => {
    const target = quarantineTarget(c);
    if (!target) return jsonError(c, 400, 'InvalidRequest', 'expected /quarantine/{bucket}/{key}, percent-encoded');
    validateKey(target.key);
    const bucket = await requireBucket(storage, target.bucket);
    const row = await objectWithVerdict(storage.sql, bucket.id, target.key);
    if (!row) return jsonError(c, 404, 'NoSuchKey', `no object ${target.bucket}/${target.key}`);
    const body = await openObject(storage, { bucket, object: row });
    // A download like any other: the audit trail records it (and a download event, if the bucket asks for them).
    storage.downloads.record(bucket, row, c.get('principal'));
    const res: ServerResponse = c.env.outgoing;
    // Never rendered: whatever the stored type, this is a download of suspect bytes.
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': row.size,
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(target.key.slice(target.key.lastIndexOf('/') + 1))}`,
      'x-content-type-options': 'nosniff',
      'x-aerostore-scan-status': row.scan_status,
      ...(row.scan_signature ? { 'x-aerostore-scan-signature': row.scan_signature } : {}),
    });
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
    return RESPONSE_ALREADY_SENT;
  });

  app.post('/quarantine/release', async (c) => {
    const body = await jsonBody(c, ReleaseBody);
    if ('refusal' in body) return body.refusal;
    const { bucket: name, key } = body.data;
    validateKey(key);
    const bucket = await requireBucket(storage, name);
    const outcome = await releaseContent(storage.sql, bucket.id, key, c.get('principal'));
    if ('missing' in outcome) return jsonError(c, 404, 'NoSuchKey', `no object ${name}/${key}`);
    if ('notQuarantined' in outcome) return jsonError(c, 409, 'NotQuarantined', `${name}/${key} is not quarantined (its content is ${outcome.notQuarantined})`);
    storage.log.warn({ bucket: name, key, released: outcome.released.length }, 'quarantined content released by an operator');
    return c.json(outcome);
  });

  app.get('/scan/status', async (c) => c.json(await scanOverview(storage.sql)));

  app.post('/scan/rescan', async (c) => {
    const text = await c.req.text();
    let json: unknown = {};
    try {
      if (text.trim() !== '') json = JSON.parse(text);
    } catch {
      return jsonError(c, 400, 'InvalidRequest', 'the body must be JSON');
    }
    const parsed = RescanBody.safeParse(json);
    if (!parsed.success) return jsonError(c, 400, 'InvalidRequest', parsed.error.issues.map((i) => i.message).join('; '));
    const queued = await rescan(storage.sql, parsed.data.bucket);
    if (queued === undefined) return jsonError(c, 404, 'NoSuchBucket', `no bucket ${parsed.data.bucket}`);
    return c.json({ queued });
  });

  return app;
}
