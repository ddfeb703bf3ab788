// Bucket CORS: Put/Get/DeleteBucketCors, the preflight OPTIONS answer, and
// the Access-Control-* headers on actual cross-origin responses.
import type { IncomingMessage } from 'node:http';
import { requireAdminister } from '../../core/access.ts';
import { requireBucket } from '../../core/buckets.ts';
import { matchCorsRule, setBucketCors } from '../../core/cors.ts';
import { type CorsRule } from '../../core/bucket.ts';
import type { BucketRow } from '../../core/bucket.ts';
import { bucketOf, xmlReply, type HeaderValue, type S3Operation, type S3Reply } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { toXml } from '../xml.ts';
import type { Services } from '../../core/services.ts';

/** Text elements only: an element with children where text belongs is MalformedXML, not "[object Object]". */
const text = (x: unknown): string => {
  if (typeof x !== 'string') throw new S3Error('MalformedXML');
  return x.trim();
};
const strings = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(text);

/** The rules of a parsed `<CORSConfiguration>` document (validated later by core/cors.ts). */
export function corsRulesFromXml(doc: Record<string, unknown> | undefined): CorsRule[] {
  const config = doc?.CORSConfiguration as { CORSRule?: unknown } | undefined;
  if (!config || typeof config !== 'object') throw new S3Error('MalformedXML');
  const rules = config.CORSRule ?? [];
  if (!Array.isArray(rules)) throw new S3Error('MalformedXML');
  return rules.map((rule) => {
    if (rule === null || typeof rule !== 'object') throw new S3Error('MalformedXML');
    const r = rule as Record<string, unknown>;
    return {
      ...(r.ID !== undefined ? { id: text(r.ID) } : {}),
      allowedOrigins: strings(r.AllowedOrigin),
      allowedMethods: strings(r.AllowedMethod),
      allowedHeaders: strings(r.AllowedHeader),
      exposeHeaders: strings(r.ExposeHeader),
      ...(r.MaxAgeSeconds !== undefined ? { maxAgeSeconds: Number(text(r.MaxAgeSeconds)) } : {}),
    };
  });
}

export const putBucketCorsOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, {
    optional: false,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  await setBucketCors(ctx.storage, bucketOf(ctx), ctx.principal, corsRulesFromXml(doc));
  return { status: 200 };
};

export const getBucketCorsOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  if (!bucket.cors) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: bucket.name });
  return xmlReply(
    toXml('CORSConfiguration', {
      CORSRule: bucket.cors.map((r) => ({
        ID: r.id,
        AllowedHeader: r.allowedHeaders,
        AllowedMethod: r.allowedMethods,
        AllowedOrigin: r.allowedOrigins,
        ExposeHeader: r.exposeHeaders,
        MaxAgeSeconds: r.maxAgeSeconds,
      })),
    }),
  );
};

export const deleteBucketCorsOp: S3Operation = async (ctx) => {
  await setBucketCors(ctx.storage, bucketOf(ctx), ctx.principal, null);
  return { status: 204 };
};

function allowHeaders(rule: CorsRule, origin: string): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {
    // A rule for any origin answers "*"; a specific rule echoes the origin.
    'access-control-allow-origin': rule.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (rule.exposeHeaders.length) headers['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) headers['access-control-max-age'] = String(rule.maxAgeSeconds);
  if (!rule.allowedOrigins.includes('*')) headers['access-control-allow-credentials'] = 'true';
  return headers;
}

/** Preflight (OPTIONS): unauthenticated, answered from the bucket's rules alone. */
export async function answerPreflight(storage: Services, req: IncomingMessage, bucketName: string): Promise<S3Reply> {
  const origin = req.headers.origin;
  const method = req.headers['access-control-request-method'];
  if (!origin || typeof method !== 'string') {
    throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  }
  const bucket = await requireBucket(storage, bucketName);
  if (!bucket.cors) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const requested = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const rule = matchCorsRule(bucket.cors, origin, method, requested);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      'CORSResponse: This CORS request is not allowed. The Origin, Access-Control-Request-Method or Access-Control-Request-Headers are not allowed by the bucket\'s CORS rules.',
    );
  }
  const headers = allowHeaders(rule, origin);
  if (requested.length) headers['access-control-allow-headers'] = requested.join(', ');
  return { status: 200, headers };
}

/** Access-Control-* headers for an actual request from another origin, when a rule allows it. */
export function corsHeadersFor(bucket: BucketRow, req: IncomingMessage): Record<string, HeaderValue> {
  const origin = req.headers.origin;
  if (!origin || !bucket.cors) return {};
  const method = req.method === 'HEAD' ? 'HEAD' : (req.method ?? 'GET');
  const rule = matchCorsRule(bucket.cors, origin, method);
  return rule ? allowHeaders(rule, origin) : {};
}
