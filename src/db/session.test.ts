// Statements as a principal (db/session.ts) against a real Postgres: the
// role and claims each kind of principal acts under, what readAs lets each
// see (row-level security, not the code, decides), that asPrincipal's
// transaction commits or rolls back whole and leaves nothing of the
// principal on the connection, and that the request roles an application's
// SQL runs under may read but never write — only the server's writer may.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { body, openTestStorage, user, type TestStorage } from '../../test/support/core-storage.ts';
import { createBucket } from '../core/buckets.ts';
import { putObject } from '../core/objects.ts';
import { ANONYMOUS, type Principal } from '../principals/principal.ts';
import { actorOf, asPrincipal, connectPools, DB_ROLES, readAs, SERVICE } from './session.ts';

let t: TestStorage;
const owner = user();
const member = user();
const other = user();

/** Bucket → [policy, member writes]; every bucket is owner's. */
const BUCKETS = {
  'session-private': ['private', false],
  'session-members': ['private', true],
  'session-signed-in': ['authenticated', false],
  'session-public': ['public', false],
} as const;

before(async () => {
  t = await openTestStorage();
  for (const [name, [policy, memberWrites]] of Object.entries(BUCKETS)) {
    await createBucket(t.storage, name, owner, policy, { memberWrites });
    await putObject(t.storage, { bucket: name, key: 'owners', body: body(`${name} by the owner`), headers: { userMetadata: {} }, principal: owner });
  }
  await putObject(t.storage, { bucket: 'session-members', key: 'members', body: body('by a member'), headers: { userMetadata: {} }, principal: member });
});
after(async () => {
  await t?.close();
});

const isPermissionDenied = (err: unknown) => (err as { code?: string }).code === '42501';

/** "bucket/key" of every object `p` can read, sorted. */
async function visibleObjects(p: Principal): Promise<string[]> {
  const rows = await readAs(t.storage.sql, p, (tx) => tx<{ name: string }[]>`
    select b.name || '/' || o.key as name from storage.objects o join storage.buckets b on b.id = o.bucket_uuid order by 1`);
  return rows.map((r) => r.name);
}

describe('db/session: statements as a principal', () => {
  it('acts as the database role DB_ROLES names for each kind of principal, with its claims and actor', async () => {
    const settingsAs = (p: Principal) =>
      asPrincipal(t.storage.sql, p, (tx) => tx<{ role: string; claims: string; actor: string }[]>`
        select current_user as role, current_setting('request.jwt.claims', true) as claims,
          current_setting('aerostore.actor', true) as actor`);
    const [anon] = await settingsAs(ANONYMOUS);
    assert.equal(anon.role, DB_ROLES.anon);
    assert.deepEqual(JSON.parse(anon.claims), { role: 'anon' });
    const [signedIn] = await settingsAs(owner);
    assert.equal(signedIn.role, DB_ROLES.authenticated);
    assert.deepEqual(JSON.parse(signedIn.claims), { sub: owner.userId, role: 'authenticated' });
    assert.deepEqual(JSON.parse(signedIn.actor), actorOf(owner));
    // The service role runs on its own pool, whose sessions start as aerostore_service.
    const [service] = await settingsAs(SERVICE);
    assert.equal(service.role, DB_ROLES.service);
    assert.deepEqual(JSON.parse(service.actor), actorOf(SERVICE));

    const roles = await t.admin<{ rolname: string; writer_is_member: boolean }[]>`
      select rolname, pg_has_role('aerostore_writer', 'aerostore_authenticated', 'member') as writer_is_member
      from pg_roles where rolname = any(${Object.values(DB_ROLES)}::text[]) order by rolname`;
    assert.deepEqual(roles.map((r) => r.rolname), [...Object.values(DB_ROLES)].sort());
    assert.equal(roles[0].writer_is_member, true, 'the writer is decided by the policies written for aerostore_authenticated');
  });

  it('readAs sees only what row-level security permits each principal', async () => {
    assert.deepEqual(await visibleObjects(ANONYMOUS), ['session-public/owners']);
    assert.deepEqual(await visibleObjects(other), ['session-public/owners', 'session-signed-in/owners']);
    // A member of a member-writes bucket sees its own objects there, not the owner's.
    assert.deepEqual(await visibleObjects(member), ['session-members/members', 'session-public/owners', 'session-signed-in/owners']);
    const everything = ['session-members/members', 'session-members/owners', 'session-private/owners', 'session-public/owners', 'session-signed-in/owners'];
    assert.deepEqual(await visibleObjects(owner), everything);
    assert.deepEqual(await visibleObjects(SERVICE), everything);

    const buckets = (p: Principal) =>
      readAs(t.storage.sql, p, (tx) => tx<{ name: string }[]>`select name from storage.buckets order by name`).then((r) => r.map((b) => b.name));
    assert.deepEqual(await buckets(ANONYMOUS), ['session-public']);
    assert.deepEqual(await buckets(other), ['session-members', 'session-public', 'session-signed-in']);
    assert.deepEqual(await buckets(owner), Object.keys(BUCKETS).sort());
    // The server's bookkeeping is not the request roles' to read.
    await assert.rejects(readAs(t.storage.sql, ANONYMOUS, (tx) => tx`select sha256 from storage.blobs`), isPermissionDenied);
  });

  it('the request pool starts as aerostore_anon: a statement outside a session sees public rows and changes nothing', async () => {
    const [{ role }] = await t.storage.sql<{ role: string }[]>`select current_user as role`;
    assert.equal(role, DB_ROLES.anon);
    const keys = await t.storage.sql<{ key: string }[]>`select key from storage.objects`;
    assert.equal(keys.length, 1, 'the public bucket’s one object');
    await assert.rejects(t.storage.sql`update storage.objects set cache_control = 'no-store'`, isPermissionDenied);
    await assert.rejects(t.storage.sql`delete from storage.objects`, isPermissionDenied);
  });

  it('asPrincipal commits what its function did, rolls all of it back when it throws, and leaves nothing of the principal on the connection', async () => {
    // One connection, so the next statement surely gets the one asPrincipal used.
    const pools = connectPools(t.databaseUrl, { max: 1 });
    try {
      const setCacheControl = (value: string) => (tx: postgres.Sql) => tx`
        update storage.objects set cache_control = ${value}
        where key = 'owners' and bucket_uuid = (select id from storage.buckets where name = 'session-private') returning key`;
      await assert.rejects(
        asPrincipal(pools.sql, owner, async (tx) => {
          assert.equal((await setCacheControl('rolled back')(tx)).length, 1);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      const cacheControl = async () =>
        (await t.admin<{ cache_control: string | null }[]>`
          select cache_control from storage.objects o join storage.buckets b on b.id = o.bucket_uuid
          where b.name = 'session-private' and o.key = 'owners'`)[0].cache_control;
      assert.equal(await cacheControl(), null);

      await asPrincipal(pools.sql, owner, (tx) => setCacheControl('committed')(tx));
      assert.equal(await cacheControl(), 'committed');
      // RLS filters the update itself: another user's changes nothing, and that is no error.
      assert.deepEqual([...(await asPrincipal(pools.sql, other, (tx) => setCacheControl('not yours')(tx)))], []);
      assert.equal(await cacheControl(), 'committed');

      // Role, claims and actor were transaction-local.
      const [left] = await pools.sql<{ role: string; claims: string | null; actor: string | null }[]>`
        select current_user as role, nullif(current_setting('request.jwt.claims', true), '') as claims,
          nullif(current_setting('aerostore.actor', true), '') as actor`;
      assert.deepEqual({ ...left }, { role: DB_ROLES.anon, claims: null, actor: null });
    } finally {
      await pools.end({ timeout: 5 });
    }
  });

  it('an application’s SQL under the request roles reads but cannot write, nor become the writer', async () => {
    // A login as an application would get one (README "Querying the metadata
    // with SQL"): the two request roles and nothing else. Roles belong to the
    // cluster, which test files share: a name of this file's own.
    const login = `app_${randomBytes(6).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await t.admin.unsafe(`create role ${login} login password '${password}' in role ${DB_ROLES.anon}, aerostore_authenticated`);
    const url = new URL(t.databaseUrl);
    url.username = login;
    url.password = password;
    const app = postgres(url.toString(), { max: 1, onnotice: () => {} });
    try {
      /** Runs `fn` in a transaction under `role` with `p`'s claims, as such an application would. */
      const as = <T>(role: string, p: Principal, fn: (tx: postgres.TransactionSql) => Promise<T>) =>
        app.begin(async (tx) => {
          const claims = p.kind === 'user' ? { sub: p.userId, role: 'authenticated' } : { role: 'anon' };
          await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
          return fn(tx);
        });
      // It reads what the owner may read…
      const seen = await as('aerostore_authenticated', owner, (tx) => tx`select key from storage.objects`);
      assert.equal(seen.length, 5);
      // …but writes nothing, not even what the owner's policies would allow the server.
      const writes: Array<[string, (tx: postgres.TransactionSql) => Promise<unknown>]> = [
        ['insert a bucket', (tx) => tx`insert into storage.buckets (name, owner_id, region) values ('sql-made', ${owner.userId}, 'us-east-1')`],
        ['update an object', (tx) => tx`update storage.objects set owner = ${owner.userId}`],
        ['delete objects', (tx) => tx`delete from storage.objects`],
        ['touch a blob', (tx) => tx`update storage.blobs set ref_count = 0`],
        [
          'forge an event',
          (tx) => tx`insert into storage.events (type, bucket_id, bucket) select 'storage.object.created', id, name from storage.buckets limit 1`,
        ],
      ];
      for (const [role, p] of [['aerostore_authenticated', owner], [DB_ROLES.anon, ANONYMOUS]] as const) {
        for (const [what, write] of writes) {
          await assert.rejects(as(role, p, write), isPermissionDenied, `${role} may not ${what}`);
        }
      }
      // Nor can it switch into the writer (or the service role) the server acts as.
      for (const role of [DB_ROLES.authenticated, DB_ROLES.service]) {
        await assert.rejects(as(role, owner, (tx) => tx`select 1`), isPermissionDenied, role);
      }
    } finally {
      await app.end({ timeout: 5 });
      await t.admin.unsafe(`drop role ${login}`);
    }
    // The server's writer, on the same rows, may: the owner's object is the owner's to change.
    const changed = await asPrincipal(t.storage.sql, owner, (tx) => tx`
      update storage.objects set cache_control = 'max-age=60' where owner_id = ${owner.userId} and key = 'owners' returning key`);
    assert.equal(changed.length, 4);
  });
});
