// JSON error bodies for the service's own HTTP APIs (/admin/v1, and
// /storage/v1 later), in Supabase Storage's shape so that its clients
// (storage-js) read them unchanged: { statusCode: "404", error, message }.
// statusCode is a string there, not a number.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { RateLimited } from './rate-limit.ts';
import type { NodeBindings } from './env.ts';
import { noteRequest } from './request-log.ts';

export interface JsonErrorBody {
  statusCode: string;
  /** A stable, machine-readable code, e.g. InvalidRequest, AccessDenied, NotFound. */
  error: string;
  /** For people; may change between versions. */
  message: string;
}

export function jsonError(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  noteRequest((c.env as Partial<NodeBindings> | undefined)?.incoming, { code });
  const body: JsonErrorBody = { statusCode: String(status), error: code, message };
  return c.json(body, status);
}

/** A rate limit's refusal (http/rate-limit.ts) in a JSON API: 429 with Retry-After, under the API's code for it. */
export function rateLimitedJson(c: Context, refusal: RateLimited, code: string): Response {
  c.header('retry-after', String(refusal.retryAfterSeconds));
  return jsonError(c, 429, code, refusal.message);
}
