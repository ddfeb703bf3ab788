// Request bodies of /storage/v1: one reader for JSON documents and one way
// to report what the zod schema refused, for every route.
import type { Context } from 'hono';
import type { z } from 'zod';
import { StorageApiError } from './errors.ts';

const notAnObject = () => new StorageApiError(400, 'INVALID_REQUEST', 'The body must be a JSON object.');

/** The request's JSON object; an empty body is `{}`. */
export async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw notAnObject();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw notAnObject();
  return parsed as Record<string, unknown>;
}

/** The body, validated by `schema`; a 400 naming each refused field otherwise. */
export async function validBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const parsed = schema.safeParse(await jsonObject(c));
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new StorageApiError(400, 'INVALID_REQUEST', why);
  }
  return parsed.data;
}
