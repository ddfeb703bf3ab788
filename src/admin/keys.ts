// The access-key admin API, mounted at /admin/v1/keys behind a middleware
// that lets only the service role through (this file assumes it did):
//   POST   /      { user_id, role?, name? } → 201 the key, with its secret (shown this once)
//   GET    /      → 200 [ key, ... ]          active keys, never a secret
//   DELETE /:id   → 204; 404 when unknown or already revoked
// Errors are JSON in Supabase Storage's shape (http/json-error.ts); anything
// unexpected goes to the mounting app's onError, which logs it.
import { Hono } from 'hono';
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';
import { jsonError } from '../http/json-error.ts';
import {
  AccessKeyInputError,
  accessKeyFields,
  createAccessKey,
  listAccessKeys,
  revokeAccessKey,
  type StoredKeyResolver,
} from '../principals/access-keys.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import { jsonBody } from './request.ts';

export interface KeysAdminDeps {
  sql: Sql;
  /** Seals new secrets: SecretBox over MasterKey.derive('access-key-secrets'). */
  box: SecretBox;
  /** This process's key cache, told of a revocation before it is answered. */
  resolver?: StoredKeyResolver;
}

// The wire names of accessKeyFields. Strict: a misspelt field ("userId",
// "roles") is an error rather than a silently defaulted key.
const CreateBody = z.strictObject(
  { user_id: accessKeyFields.userId, role: accessKeyFields.role, name: accessKeyFields.name },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : 'the body must be a JSON object') },
);

export function keysAdmin(deps: KeysAdminDeps): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    const body = await jsonBody(c, CreateBody);
    if ('refusal' in body) return body.refusal;
    const { user_id: userId, role, name } = body.data;
    try {
      return c.json(await createAccessKey(deps.sql, deps.box, { userId, role, name }), 201);
    } catch (err) {
      if (err instanceof AccessKeyInputError) return jsonError(c, 400, 'InvalidRequest', err.message);
      throw err;
    }
  });

  app.get('/', async (c) => c.json(await listAccessKeys(deps.sql)));

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const revoked = await revokeAccessKey(deps.sql, id);
    if (!revoked) return jsonError(c, 404, 'NotFound', `no active access key with id ${id}`);
    deps.resolver?.forget(revoked);
    return c.body(null, 204);
  });

  return app;
}
