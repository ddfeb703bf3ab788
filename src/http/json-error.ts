// JSON error bodies for the service's own HTTP APIs (/admin/v1, and
// /storage/v1 later), in Supabase Storage's shape so that its clients
// (storage-js) read them unchanged: { statusCode: "404", error, message }.
// statusCode is a string there, not a number.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface JsonErrorBody {
  statusCode: string;
  /** A stable, machine-readable code, e.g. InvalidRequest, AccessDenied, NotFound. */
  error: string;
  /** For people; may change between versions. */
  message: string;
}

export function jsonError(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  const body: JsonErrorBody = { statusCode: String(status), error: code, message };
  return c.json(body, status);
}
