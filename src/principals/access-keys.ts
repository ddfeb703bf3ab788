// Stored S3 access keys (storage.access_keys, migration 0009): created,
// listed and revoked by the admin API (src/admin/keys.ts) and the CLI
// (src/cli/keys.ts), resolved for SigV4 by StoredKeyResolver. Only the
// service role may touch the table, so every statement runs as SERVICE.
// Secrets are stored sealed (secret-box.ts) and bound to their access key id.
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type postgres from 'postgres';
import { z } from 'zod';
import type { Sql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import type { KeyResolver, ResolvedKey } from './keys.ts';
import type { Role } from './principal.ts';
import type { SecretBox } from './secret-box.ts';

/** Revocations are announced here (payload: the access key id), so every server drops its cached copy. */
export const KEYS_CHANNEL = 'aerostore_keys';

/** AWS-style base32 alphabet (RFC 4648 §6): upper-case letters and 2–7. */
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** 'AK' + 18 base32 characters: 20 in all, like AWS's (90 random bits). */
const ACCESS_KEY_ID = /^AK[A-Z2-7]{18}$/;

/**
 * The rules for a new key, shared by the admin API and the CLI. Names are
 * free text shown in listings: no control characters (Postgres text cannot
 * hold NUL, and a terminal should not receive escapes).
 */
export const accessKeyFields = {
  userId: z.guid('must be a uuid'),
  role: z.enum(['authenticated', 'service'], 'must be "authenticated" or "service"').default('authenticated'),
  name: z
    .string('must be a string')
    .max(200, 'must be at most 200 characters')
    .regex(/^\P{Cc}*$/u, 'must not contain control characters')
    .default(''),
};
const NewAccessKeySchema = z.object(accessKeyFields);

export type NewAccessKey = z.input<typeof NewAccessKeySchema>;

/** An invalid NewAccessKey; the message names the field. */
export class AccessKeyInputError extends Error {}

/** "field: problem; ..." — callers pass their own names for the fields (user_id, --user). */
export function describeIssues(error: z.ZodError, names: Record<string, string> = {}): string {
  return error.issues
    .map((i) => {
      const field = i.path.map(String).join('.');
      return field ? `${names[field] ?? field}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** A stored key as listings show it: never its secret. */
export interface AccessKey {
  id: string;
  access_key_id: string;
  user_id: string;
  role: Role;
  name: string;
  /** ISO 8601. */
  created_at: string;
}

/** A key just created: the only time its secret leaves the server. */
export interface CreatedAccessKey extends AccessKey {
  secret_access_key: string;
}

interface AccessKeyRow {
  id: string;
  access_key_id: string;
  user_id: string;
  role: Role;
  name: string;
  created_at: Date;
}

function toAccessKey(row: AccessKeyRow): AccessKey {
  return {
    id: row.id,
    access_key_id: row.access_key_id,
    user_id: row.user_id,
    role: row.role,
    name: row.name,
    created_at: row.created_at.toISOString(),
  };
}

function generateAccessKeyId(): string {
  // 256 is a multiple of 32: masking keeps every character equally likely.
  return 'AK' + Array.from(randomBytes(18), (b) => KEY_ALPHABET[b & 31]).join('');
}

function generateSecret(): string {
  return randomBytes(30).toString('base64url'); // 40 characters, as long as AWS's
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates `input` and stores a new key; the result carries the secret in the clear, once. */
export async function createAccessKey(sql: Sql, box: SecretBox, input: NewAccessKey): Promise<CreatedAccessKey> {
  const parsed = NewAccessKeySchema.safeParse(input);
  if (!parsed.success) throw new AccessKeyInputError(describeIssues(parsed.error));
  const { userId, role, name } = parsed.data;
  // A collision of two 90-bit random ids is not worth a retry loop; the
  // unique constraint would turn one into an error rather than a shared id.
  const accessKeyId = generateAccessKeyId();
  const secret = generateSecret();
  const [row] = await asPrincipal(sql, SERVICE, (tx) => tx<AccessKeyRow[]>`
    insert into storage.access_keys (access_key_id, secret_encrypted, user_id, role, name)
    values (${accessKeyId}, ${box.seal(secret, accessKeyId)}, ${userId}, ${role}, ${name})
    returning id, access_key_id, user_id, role, name, created_at`);
  const { id, access_key_id, user_id, created_at } = toAccessKey(row);
  return { id, access_key_id, secret_access_key: secret, user_id, role: row.role, name: row.name, created_at };
}

/**
 * The active keys, oldest first. Revoked keys are left out: they can never
 * be used again (a revoked row is kept only as a record), and the admin API
 * answers 404 for them, as for keys that never existed.
 */
export async function listAccessKeys(sql: Sql): Promise<AccessKey[]> {
  const rows = await readAs(sql, SERVICE, (tx) => tx<AccessKeyRow[]>`
    select id, access_key_id, user_id, role, name, created_at
    from storage.access_keys where revoked_at is null order by created_at, id`);
  return rows.map(toAccessKey);
}

/**
 * Revokes an active key by its id (the row's uuid) and returns its access
 * key id; undefined when there is no such active key. The notification goes
 * out when the revocation commits, so no server can hear of it before it is
 * true.
 */
export async function revokeAccessKey(sql: Sql, id: string): Promise<string | undefined> {
  if (!UUID.test(id)) return undefined; // not a uuid: Postgres would refuse the cast
  return asPrincipal(sql, SERVICE, async (tx) => {
    const [row] = await tx<{ access_key_id: string }[]>`
      update storage.access_keys set revoked_at = now()
      where id = ${id} and revoked_at is null returning access_key_id`;
    if (!row) return undefined;
    await tx`select pg_notify(${KEYS_CHANNEL}, ${row.access_key_id})`;
    return row.access_key_id;
  });
}

/**
 * Resolves stored access keys for SigV4, with decrypted secrets cached (up
 * to 10 000 keys, 5 minutes). A revocation anywhere (this process, another
 * server, the CLI) reaches every server through LISTEN aerostore_keys and
 * evicts the key at once; the TTL only bounds the damage should a
 * notification be lost some other way.
 */
export class StoredKeyResolver implements KeyResolver {
  private readonly cache = new LRUCache<string, ResolvedKey>({ max: 10_000, ttl: 5 * 60_000 });
  /**
   * Bumped by every notification and (re)subscription. A lookup that read
   * the row before a revocation may finish after its notification: it
   * answers its own request but must not cache what it read.
   */
  private epoch = 0;
  private listening: postgres.ListenMeta | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly box: SecretBox,
  ) {}

  /** Subscribes to revocations; call before serving requests. */
  async start(): Promise<void> {
    this.listening = await this.sql.listen(
      KEYS_CHANNEL,
      (accessKeyId) => {
        this.epoch++;
        this.cache.delete(accessKeyId);
      },
      // Runs on the first subscription and again after every reconnect:
      // notifications sent while disconnected are lost, so forget everything.
      () => {
        this.epoch++;
        this.cache.clear();
      },
    );
  }

  /**
   * Forgets a key at once. The revoking process calls it so that its own
   * answer to the revocation is already true here, without waiting for its
   * notification to come back.
   */
  forget(accessKeyId: string): void {
    this.epoch++;
    this.cache.delete(accessKeyId);
  }

  async stop(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    await listening?.unlisten();
    this.cache.clear();
  }

  async resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedKey | undefined> {
    if (sessionToken !== undefined) return undefined; // temporary credentials are STS's
    // Exact match only: no trimming, no case folding (the column is collate "C").
    if (!ACCESS_KEY_ID.test(accessKeyId)) return undefined;
    const cached = this.cache.get(accessKeyId);
    if (cached) return cached;
    const epoch = this.epoch;
    const [row] = await readAs(this.sql, SERVICE, (tx) => tx<{ secret_encrypted: string; user_id: string; role: Role }[]>`
      select secret_encrypted, user_id, role from storage.access_keys
      where access_key_id = ${accessKeyId} and revoked_at is null`);
    if (!row) return undefined;
    let secretAccessKey: string;
    try {
      secretAccessKey = this.box.open(row.secret_encrypted, accessKeyId);
    } catch (err) {
      // Loud on purpose: every stored key failing at once means a changed master key.
      throw new Error(
        `the stored secret of access key ${accessKeyId} does not decrypt: is AEROSTORE_MASTER_KEY (or <data>/master.key) the one it was created under?`,
        { cause: err },
      );
    }
    const found: ResolvedKey = {
      secretAccessKey,
      principal: { kind: 'user', via: 'access-key', accessKeyId, userId: row.user_id, role: row.role },
    };
    if (epoch === this.epoch) this.cache.set(accessKeyId, found);
    return found;
  }
}
