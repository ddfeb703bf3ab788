// Statements run as a principal: each transaction first sets the database
// role and the claims that the row-level-security policies read
// (src/db/migrations/0009_principals_rls.sql). BEGIN, the principal and the
// first statements leave in one write and come back in one read, so RLS adds
// no round trip: postgres.js pipelines queries on a reserved connection, in
// the order their promises are first awaited.
//
// The service role has a pool of its own whose sessions start as
// aerostore_service (connectPools): its work needs no role switch, so a
// service-role read is one plain statement. Only a service-role principal
// reaches that pool, through these functions.
import { isService, type Principal } from '../principals/principal.ts';
import { database } from '../metrics/registry.ts';
import { connect, type Sql, type TransactionSql } from './connect.ts';

/**
 * The database role each kind of principal acts as in the server. A
 * signed-in principal acts as aerostore_writer: a member of
 * aerostore_authenticated (whose policies decide its rows) that may also
 * write, which SQL sessions under aerostore_authenticated may not
 * (migration 0015, docs/security.md).
 */
export const DB_ROLES = {
  anon: 'aerostore_anon',
  authenticated: 'aerostore_writer',
  service: 'aerostore_service',
} as const;

/** Maintenance work (collection, expiry, key lookup): the service role, named as such. */
export const SERVICE: Principal = { kind: 'user', via: 'access-key', userId: null, role: 'service' };

/** Who acts, as events record it (storage.events.actor, via the aerostore.actor setting). */
export function actorOf(p: Principal): Record<string, string | null> {
  if (p.kind === 'anonymous') return { kind: 'anonymous' };
  return { kind: 'user', via: p.via, user_id: p.userId, role: p.role, ...(p.accessKeyId ? { access_key_id: p.accessKeyId } : {}) };
}

/**
 * The transaction's settings for `p`. Beside the role and claims that RLS
 * reads: `aerostore.actor` (who, for events) and `aerostore.client_address`
 * (from where, for the audit trail, migration 0017; '' when unknown). The
 * address stays out of the actor: events go to subscribers, and a client's
 * address is for the audit trail's readers only.
 */
function settingsOf(p: Principal): { role: string; claims: string; actor: string; address: string; context: string } {
  const actor = JSON.stringify(actorOf(p));
  const address = p.address ?? '';
  const context = requestContextOf(p);
  if (p.kind === 'anonymous') return { role: DB_ROLES.anon, claims: JSON.stringify({ role: 'anon' }), actor, address, context };
  const role = p.role === 'service' ? DB_ROLES.service : DB_ROLES.authenticated;
  const claims = JSON.stringify({
    ...p.claims,
    ...(p.userId ? { sub: p.userId } : {}),
    role: p.role === 'service' ? 'service_role' : 'authenticated',
  });
  return { role, claims, actor, address, context };
}

/**
 * `request.context`: the request's facts that bucket-policy conditions read
 * (migration 0023 storage.policy_facts), as the S3 front end stated them
 * (s3/policy-precheck.ts); else (/storage/v1) what every request from a
 * client states: its address, and no TLS — the server has no TLS listener,
 * so a TLS-only Deny holds on every API alike.
 */
function requestContextOf(p: Principal): string {
  if (p.requestContext) return JSON.stringify(p.requestContext);
  return p.address ? JSON.stringify({ 'aws:sourceip': p.address, 'aws:securetransport': 'false' }) : '{}';
}

type Query<T> = Promise<T> & { execute(): Query<T> };

/** request pool → its service-role pool. */
const servicePools = new WeakMap<Sql, Sql>();

export interface Pools {
  /** The request pool: sessions start as aerostore_anon. Pass it to asPrincipal/readAs. */
  sql: Sql;
  end(opts?: { timeout?: number }): Promise<void>;
}

/** The request pool, and beside it the service role's pool (a quarter of the size). */
export function connectPools(url: string, opts: { max?: number } = {}): Pools {
  const max = opts.max ?? 20;
  const sql = connect(url, { max, role: DB_ROLES.anon });
  const serviceMax = Math.max(2, Math.ceil(max / 4));
  const service = connect(url, { max: serviceMax, role: DB_ROLES.service });
  servicePools.set(sql, service);
  database.poolSize.set({ pool: 'request' }, max);
  database.poolSize.set({ pool: 'service' }, serviceMax);
  return { sql, end: async (o) => void (await Promise.all([sql.end(o), service.end(o)])) };
}

/** The pool to run a service-role principal's statements on directly, if there is one. */
function servicePoolFor(sql: Sql, p: Principal): Sql | undefined {
  return isService(p) ? servicePools.get(sql) : undefined;
}

/** Starts the transaction and sets the principal, without waiting for either. */
function open(c: Sql, p: Principal, sessionIsService: boolean, writing: boolean): Promise<unknown> {
  const { role, claims, actor, address, context } = settingsOf(p);
  // A write transaction says so: the policies that only take reads away
  // (a bucket policy's Deny of s3:GetObject, IgnorePublicAcls) then leave
  // its statements to the write policies (migration 0029).
  const mode = writing ? 'on' : 'off';
  // execute() sends at once: these go ahead of anything the caller queues.
  const started = Promise.all([
    (c`begin` as unknown as Query<unknown>).execute(),
    (sessionIsService
      ? c`select set_config('aerostore.actor', ${actor}, true), set_config('aerostore.client_address', ${address}, true)`
      : c`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${claims}, true),
            set_config('request.context', ${context}, true),
            set_config('aerostore.actor', ${actor}, true), set_config('aerostore.client_address', ${address}, true),
            set_config('aerostore.writing', ${mode}, true)`
    ).execute(),
  ]);
  // Awaited (and reported) after the caller's statements; this keeps an early
  // failure from surfacing as an unhandled rejection meanwhile.
  started.catch(() => {});
  return started;
}

/**
 * Runs `fn` in a transaction as `principal`. Commits when `fn` resolves,
 * rolls back when it throws. `fn` should start its first statement(s)
 * before awaiting anything else, so they ride with BEGIN.
 */
export async function asPrincipal<T>(sql: Sql, principal: Principal, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  const service = servicePoolFor(sql, principal);
  const c = await (service ?? sql).reserve();
  try {
    const started = open(c as unknown as Sql, principal, service !== undefined, true);
    let result: T;
    try {
      result = await fn(c as unknown as TransactionSql);
      await started;
    } catch (err) {
      // A failure to start is the real cause of whatever failed after it.
      const cause = await started.then(() => err, (startErr: unknown) => startErr);
      await c`rollback`.catch(() => {});
      throw cause;
    }
    const done = await c`commit`;
    // COMMIT of a transaction that failed inside (an error swallowed by fn) reports ROLLBACK.
    if (done.command !== 'COMMIT') throw new Error(`transaction rolled back (${done.command})`);
    return result;
  } finally {
    c.release();
  }
}

/**
 * One read as `principal` in one round trip: BEGIN, principal, the
 * statements and COMMIT go out together. For statements that change nothing
 * — and for a write's trial (`trialWrite`: a write undone, held to the write
 * policies as the write itself will be, core/policy-checks.ts).
 */
export async function readAs<T>(sql: Sql, principal: Principal, fn: (tx: TransactionSql) => Query<T>, opts: { trialWrite?: boolean } = {}): Promise<T> {
  const service = servicePoolFor(sql, principal);
  // One statement is its own transaction.
  if (service) return fn(service as TransactionSql);
  const c = await sql.reserve();
  try {
    const started = open(c as unknown as Sql, principal, false, opts.trialWrite === true);
    const query = fn(c as unknown as TransactionSql);
    void query.execute(); // sends it now (pipelined); Promise.all below awaits it
    const commit = (c`commit` as unknown as Query<unknown>).execute();
    const [, result] = await Promise.all([started, query, commit]);
    return result;
  } catch (err) {
    await c`rollback`.catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/**
 * The rows of `keys` in bucket `bucketUuid` that `principal` may see, in
 * one statement: storage.read_objects_as (migration 0024) sets the
 * principal transaction-locally and selects, so the lookup on every GET
 * costs what the root key's does — one statement, not BEGIN, settings,
 * SELECT and COMMIT.
 */
export async function readObjectsAs<T extends object>(sql: Sql, principal: Principal, bucketUuid: string, keys: readonly string[]): Promise<T[]> {
  const service = servicePoolFor(sql, principal);
  if (service) return await service<T[]>`select o.* from storage.objects o where o.bucket_uuid = ${bucketUuid} and o.key = any(${keys as string[]}::text[])`;
  const { role, claims, actor, address, context } = settingsOf(principal);
  return await sql<T[]>`select * from storage.read_objects_as(${role}, ${claims}, ${context}, ${actor}, ${address}, ${bucketUuid}, ${keys as string[]}::text[])`;
}
