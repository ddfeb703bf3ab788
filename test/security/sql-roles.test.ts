// SQL under the documented request roles (README "Querying the metadata with
// SQL"; docs/security.md): a session has exactly the read rights its user
// has over the APIs and no write at all — blobs, reference counts, scan
// state, events and queues are the server's bookkeeping. Every table and
// function in schema `storage` is taken from the catalogue, so one added
// later without a decision here fails this test.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { connectAsApplication, embeddedDatabaseUrl } from '../support/database.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from '../support/principals.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer;
let superuser: postgres.Sql;
let app: postgres.Sql;
const OWNER = randomUUID();
const MEMBER = randomUUID();
const STRANGER = randomUUID();

/** The request roles as an application acts them: role, and the claims of a user. */
const PRINCIPALS = {
  anonymous: { role: 'aerostore_anon', sub: undefined },
  authenticated: { role: 'aerostore_authenticated', sub: STRANGER },
  owner: { role: 'aerostore_authenticated', sub: OWNER },
  member: { role: 'aerostore_authenticated', sub: MEMBER },
} as const;
type PrincipalName = keyof typeof PRINCIPALS;

/** Tables a request role may read (row-level security then filters); every other table it may not touch at all. */
const READABLE: Record<'aerostore_anon' | 'aerostore_authenticated', readonly string[]> = {
  // bucket_access_flags and public_access_default: which buckets have a policy or ignore public ACLs, and
  // the server's Block Public Access default; policy_deny_rules: the compiled Deny statements that name the
  // caller itself — what the policies on objects read (migration 0023); builtin_policies: which policies
  // ship with aerostore (migration 0022).
  aerostore_anon: [
    'bucket_access_flags', 'buckets', 'builtin_policies', 'events', 'files', 'object_versions', 'objects', 'policy_deny_rules', 'public_access_default',
  ],
  aerostore_authenticated: [
    'audit_log', 'bucket_access_flags', 'buckets', 'builtin_policies', 'events', 'files', 'multipart_uploads', 'object_versions', 'objects', 'policy_deny_rules',
    'public_access_default',
  ],
};

/** Functions a request role may call: pure helpers, and those that read through row-level security. */
const CALLABLE = [
  'acl_keys', 'blueprint_actor', 'blueprint_event_json', 'blueprint_event_type', 'common_prefix', 'custom_policies_apply', 'event_json',
  'extension', 'file_name', 'filename', 'foldername', 'object_scan_status', 'uid',
  // Bucket policies (migration 0023): the evaluation the policies on storage.objects run; they read
  // buckets only through the security-definer functions below.
  'bucket_policy_effect', 'policy_conditions_hold', 'policy_facts', 'policy_rules_match', 'policy_tag_facts', 'policy_value_matches',
  'policy_values_match',
  // A principal's lookup in one statement (migration 0024): sets what any session may set, then selects under RLS.
  'read_objects_as',
  // The keys that would make a bucket's ACL name the caller (migration 0028).
  'acl_any_keys',
  // Whether the statement runs in one of the server's write transactions (migration 0029): false in any SQL session.
  'writing',
  // policy_allow_read's rules (migration 0030): policy_rules' own, for the caller.
  'select_allow_rules',
];

/**
 * Security-definer functions a request role may call, each because the
 * policies on storage.objects call it (migrations 0021, 0023) and what it
 * answers grants nothing: the ids of the buckets where object ACLs do not
 * apply, whether the caller may give a list, the ACL of an object or a
 * bucket the caller may read the ACL of (GetObjectAcl's and GetBucketAcl's
 * rule); a Block Public Access flag, the compiled statements that name the
 * caller itself, whether an object's public grants are all that let the
 * caller read it (docs/security.md). Every other one is out of reach.
 */
const DEFINER_CALLABLE = [
  'acl_allowed', 'acl_disabled_buckets', 'bucket_acl', 'object_acl',
  'policy_rules', 'public_access_flag', 'readable_without_public_acls',
];

async function ok(p: Promise<{ status: number; body: Buffer }>): Promise<void> {
  const res = await p;
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.body}`);
}

before(async () => {
  srv = await startTestServer();
  const root = new S3RawClient(srv.url, srv);
  const owner = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, OWNER)));
  const member = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, MEMBER)));
  await ok(owner.send({ method: 'PUT', path: '/sql-shared' }));
  await setBucketSettings(root, 'sql-shared', { member_writes: true, policy: 'authenticated' });
  await ok(owner.send({ method: 'PUT', path: '/sql-shared/owner-secret', body: 'salary=123456' }));
  await ok(member.send({ method: 'PUT', path: '/sql-shared/member-own', body: 'mine' }));
  await ok(owner.send({ method: 'PUT', path: '/sql-private' }));
  await ok(owner.send({ method: 'PUT', path: '/sql-private/hidden', body: 'private bytes' }));
  await ok(owner.send({ method: 'POST', path: '/sql-shared/in-progress', query: { uploads: '' } }));

  superuser = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  app = await connectAsApplication(superuser, srv.dataDir, 'sql_app');
});

after(async () => {
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await srv?.stop();
});

/** Runs `fn` as `who` in a transaction that is always rolled back; resolves to its result or rejects with its error. */
async function as<T>(who: PrincipalName, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  const { role, sub } = PRINCIPALS[who];
  let result: T | undefined;
  await app
    .begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`);
      if (sub) await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub, role: 'authenticated' })}, true)`;
      result = await fn(tx);
      throw new RolledBack();
    })
    .catch((err: unknown) => {
      if (!(err instanceof RolledBack)) throw err;
    });
  return result as T;
}
class RolledBack extends Error {}

const refused = (p: Promise<unknown>, what: string) => assert.rejects(p, /permission denied/, what);

/** A statement of each kind for a table, with a column list valid for it. */
function statementsFor(table: string, column: string): Record<'select' | 'insert' | 'update' | 'delete', string> {
  return {
    select: `select * from storage.${table} limit 1`,
    insert: `insert into storage.${table} default values`,
    update: `update storage.${table} set ${column} = ${column}`,
    delete: `delete from storage.${table}`,
  };
}

describe('SQL under the request roles', () => {
  it('reads only the tables it may read, and writes none, for every principal and every table', async () => {
    const tables = await superuser<{ table: string; column: string }[]>`
      select c.relname as table, (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = 1) as column
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'storage' and c.relkind in ('r', 'p', 'v', 'm') order by 1`;
    assert.ok(tables.length >= 12, tables.map((t) => t.table).join());
    for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
      const readable = READABLE[PRINCIPALS[who].role];
      for (const { table, column } of tables) {
        const statements = statementsFor(table, column);
        if (readable.includes(table)) await as(who, (tx) => tx.unsafe(statements.select));
        else await refused(as(who, (tx) => tx.unsafe(statements.select)), `${who} reads ${table}`);
        for (const kind of ['insert', 'update', 'delete'] as const) {
          // A view over a join (storage.files) is refused as not writable before privileges are asked.
          await assert.rejects(as(who, (tx) => tx.unsafe(statements[kind])), /permission denied|cannot (insert into|update|delete from) view/, `${who} ${kind}s ${table}`);
        }
      }
    }
  });

  it('leaves the wrapped bucket keys of encryption at rest to the service role alone (migration 0031)', async () => {
    // Not in READABLE, so the test above already refuses every request role; this says why, and covers
    // aerostore_writer too (the role of the server's write transactions, which a SQL session cannot take).
    const [row] = await superuser<{ anon: boolean; authenticated: boolean; writer: boolean; service: boolean }[]>`
      select has_table_privilege('aerostore_anon', 'storage.bucket_keys', 'select') as anon,
             has_table_privilege('aerostore_authenticated', 'storage.bucket_keys', 'select') as authenticated,
             has_table_privilege('aerostore_writer', 'storage.bucket_keys', 'select') as writer,
             has_table_privilege('aerostore_service', 'storage.bucket_keys', 'select') as service`;
    assert.deepEqual(row, { anon: false, authenticated: false, writer: false, service: true });
  });

  it('calls only the functions it may call; the server’s security-definer functions are out of reach', async () => {
    const functions = await superuser<{ name: string; definer: boolean; anon: boolean; authenticated: boolean }[]>`
      select p.proname as name, p.prosecdef as definer,
        has_function_privilege('aerostore_anon', p.oid, 'execute') as anon,
        has_function_privilege('aerostore_authenticated', p.oid, 'execute') as authenticated
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'storage' order by 1`;
    assert.ok(functions.length >= 6, `found only ${functions.length} functions: is the query broken?`);
    for (const f of functions) {
      if (f.definer && DEFINER_CALLABLE.includes(f.name)) {
        assert.deepEqual([f.name, f.anon, f.authenticated], [f.name, true, true], `${f.name}: the policies call it`);
      } else if (f.definer) {
        assert.deepEqual([f.name, f.anon, f.authenticated], [f.name, false, false], `${f.name} runs as its owner: no request role may call it`);
      } else if (!CALLABLE.includes(f.name) && (f.anon || f.authenticated)) {
        // Trigger functions: harmless to hold EXECUTE on (Postgres refuses to call them outside a trigger), but listed here so a new one is looked at.
        assert.match(f.name, /^(events_inserted|queue_webhook_deliveries|retention_only_lengthens)$/, `${f.name}: decide whether request roles may call it`);
      }
    }
  });

  it('reads an object’s ACL only where GetObjectAcl would answer it, and never writes one', async () => {
    const [bucket] = await superuser<{ id: string }[]>`select id from storage.buckets where name = 'sql-shared'`;
    const acl = (who: PrincipalName, key: string) =>
      as(who, async (tx) => (await tx<{ owner_id: string }[]>`select owner_id from storage.object_acl(${bucket.id}, ${key})`).map((r) => r.owner_id));
    assert.deepEqual(await acl('owner', 'member-own'), [MEMBER], 'the bucket owner');
    assert.deepEqual(await acl('member', 'member-own'), [MEMBER], 'the object owner');
    assert.deepEqual(await acl('member', 'owner-secret'), [], 'a reader without READ_ACP');
    assert.deepEqual(await acl('anonymous', 'owner-secret'), []);
    for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
      await refused(
        as(who, (tx) => tx`select storage.put_object_acl(${bucket.id}, 'member-own', '{READ:AllUsers}'::text[], ${MEMBER}::uuid)`),
        `${who} calls put_object_acl`,
      );
    }
  });

  it('may not draw from any sequence (no event or delivery ids to burn or predict)', async () => {
    const sequences = await superuser<{ name: string; anon: boolean; authenticated: boolean }[]>`
      select c.relname as name,
        has_sequence_privilege('aerostore_anon', c.oid, 'usage,update') as anon,
        has_sequence_privilege('aerostore_authenticated', c.oid, 'usage,update') as authenticated
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'storage' and c.relkind = 'S'`;
    assert.ok(sequences.length >= 2);
    for (const q of sequences) assert.deepEqual([q.name, q.anon, q.authenticated], [q.name, false, false]);
  });

  it('writes nothing even when Supabase’s roles are granted everything (a Supabase dump does that)', async () => {
    await superuser.unsafe('grant all on storage.objects, storage.buckets, storage.blobs to anon, authenticated');
    try {
      for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
        await assert.rejects(
          as(who, (tx) => tx`update storage.objects set cache_control = 'forged' where key = 'member-own' returning key`.then((rows) => {
            // An update RLS filters out returns no rows rather than failing: that is a refusal too.
            if (rows.length === 0) throw new Error('permission denied: no row updated');
          })),
          /permission denied|row-level security/,
          `${who} updates an object`,
        );
        await assert.rejects(
          as(who, (tx) => tx`delete from storage.blobs`.then((r) => {
            if (r.count === 0) throw new Error('permission denied: no row deleted');
          })),
          /permission denied|row-level security/,
          `${who} deletes blobs`,
        );
      }
    } finally {
      await superuser.unsafe('revoke all on storage.objects, storage.buckets, storage.blobs from anon, authenticated');
    }
  });

  it('cannot read content hashes of blobs, nor point an object row at someone else’s content', async () => {
    const [secret] = await superuser<{ bucket_uuid: string; bucket_id: string; sha256: string; size: number; etag: string }[]>`
      select o.bucket_uuid, o.bucket_id, o.sha256, o.size, o.etag from storage.objects o where o.key = 'owner-secret'`;
    await refused(as('member', (tx) => tx`select sha256, size from storage.blobs`), 'member reads blobs');
    // The member may write into the bucket over the APIs, but a row naming the owner's content is not a write it can make.
    await refused(
      as('member', (tx) => tx`
        insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, owner)
        values (${secret.bucket_uuid}, ${secret.bucket_id}, 'stolen', ${secret.size}, ${secret.etag}, ${secret.sha256}, ${MEMBER})`),
      'member inserts an object row onto the owner’s blob',
    );
    await refused(
      as('member', (tx) => tx`update storage.objects set sha256 = ${secret.sha256} where key = 'member-own'`),
      'member repoints its own object',
    );
    const res = await new S3RawClient(srv.url, srv).send({ method: 'GET', path: '/sql-shared/stolen' });
    assert.equal(res.status, 404);
  });

  it('cannot clear a scan verdict, change a reference count, or forge an event', async () => {
    await refused(as('owner', (tx) => tx`update storage.blobs set scan_status = 'clean'`), 'owner clears its verdicts');
    await refused(as('member', (tx) => tx`update storage.blobs set ref_count = 0`), 'member zeroes reference counts');
    await refused(as('owner', (tx) => tx`update storage.objects set scan_status = 'clean'`), 'owner clears an object’s state');
    const [bucket] = await superuser<{ id: string }[]>`select id from storage.buckets where name = 'sql-shared'`;
    await refused(
      as('member', (tx) => tx`
        insert into storage.events (type, bucket_id, bucket, key, owner_id, actor)
        values ('storage.object.quarantined', ${bucket.id}, 'sql-shared', 'owner-secret', ${OWNER},
          ${tx.json({ kind: 'user', user_id: MEMBER })})`),
      'member forges an event for the owner',
    );
    await refused(as('member', (tx) => tx`insert into storage.scan_jobs (bucket_id, sha256) select bucket_uuid, sha256 from storage.objects limit 1`), 'member queues a scan');
  });

  it('learns the scan state of visible objects only', async () => {
    const [hidden] = await superuser<{ id: string }[]>`select id from storage.objects where key = 'hidden'`;
    const [visible] = await superuser<{ id: string }[]>`select id from storage.objects where key = 'owner-secret'`;
    const seen = (who: PrincipalName, id: string) =>
      as(who, async (tx) => (await tx<{ s: string | null }[]>`select storage.object_scan_status(${id}) as s`)[0].s);
    assert.equal(await seen('member', hidden.id), null);
    assert.equal(await seen('anonymous', hidden.id), null);
    assert.equal(await seen('owner', hidden.id), 'pending');
    assert.equal(await seen('member', visible.id), 'pending');
  });

  it('cannot act as the server’s writer or service role', async () => {
    for (const role of ['aerostore_writer', 'aerostore_service']) {
      await refused(app.begin((tx) => tx.unsafe(`set local role ${role}`)), `switch to ${role}`);
    }
    // The one-statement lookup (migration 0024) sets the role it is given: as SET ROLE does, it refuses one the login cannot become.
    const [bucket] = await superuser<{ id: string }[]>`select id from storage.buckets where name = 'sql-private'`;
    const claims = JSON.stringify({ sub: OWNER, role: 'authenticated' });
    for (const role of ['aerostore_writer', 'aerostore_service']) {
      await refused(
        as('anonymous', (tx) => tx`select key from storage.read_objects_as(${role}, ${claims}, '{}', '{}', '', ${bucket.id}, ${['hidden']})`),
        `read_objects_as ${role}`,
      );
    }
  });

  it('looks objects up in one statement as exactly the principal it names, and leaves nothing set behind', async () => {
    const [bucket] = await superuser<{ id: string }[]>`select id from storage.buckets where name = 'sql-private'`;
    const lookup = (sub: string) =>
      app<{ key: string; who: string }[]>`select key, current_user as who
        from storage.read_objects_as('aerostore_authenticated', ${JSON.stringify({ sub, role: 'authenticated' })}, '{}', '{}', '', ${bucket.id}, ${['hidden']})`;
    assert.deepEqual((await lookup(OWNER)).map((r) => r.key), ['hidden'], 'the owner sees it');
    assert.deepEqual((await lookup(STRANGER)).map((r) => r.key), [], 'a stranger does not');
    // Each call is its own transaction: the role and claims end with it.
    const [after] = await app<{ who: string; claims: string | null }[]>`select current_user as who, current_setting('request.jwt.claims', true) as claims`;
    assert.notEqual(after.who, 'aerostore_authenticated');
    assert.ok(!after.claims, `claims left behind: ${after.claims}`);
  });
});
