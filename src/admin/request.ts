// Reading an admin API request's JSON body: parsed, then validated by the
// route's schema, or the 400 InvalidRequest that says what is wrong.
import type { Context } from 'hono';
import type { z } from 'zod';
import { jsonError } from '../http/json-error.ts';
import { describeIssues } from '../principals/access-keys.ts';

export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<{ data: z.output<S> } | { refusal: Response }> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return { refusal: jsonError(c, 400, 'InvalidRequest', 'the body must be JSON') };
  }
  const parsed = schema.safeParse(body);
  return parsed.success ? { data: parsed.data } : { refusal: jsonError(c, 400, 'InvalidRequest', describeIssues(parsed.error)) };
}
