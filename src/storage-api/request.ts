// Request bodies of /storage/v1: one reader for JSON documents and one way
// to report what the zod schema refused, for every route.
import type { Context } from 'hono';
import type { z } from 'zod';
import { StorageApiError } from './errors.ts';

const notAnObject = () => new StorageApiError(400, 'INVALID_REQUEST', 'The body must be a JSON object.');

/** Far above any honest request of this API (a batch of 1,000 paths of 1,024 bytes). */
export const MAX_JSON_BODY = 2 * 1024 * 1024;
const tooLarge = () => new StorageApiError(413, 'PAYLOAD_TOO_LARGE', `A JSON body may be at most ${MAX_JSON_BODY} bytes.`);

/** The body as text, refused with 413 once it passes MAX_JSON_BODY (before it is all in memory). */
async function boundedText(c: Context): Promise<string> {
  const declared = Number(c.req.header('content-length'));
  if (declared > MAX_JSON_BODY) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > MAX_JSON_BODY) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request's JSON object; an empty body is `{}`. */
export async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await boundedText(c);
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
