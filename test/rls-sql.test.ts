// Row-level security seen from SQL: an application connected to the metadata
// database as its own login role, with a user's claims set, sees exactly the
// rows that user may read over S3 — and without claims only public ones.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { connectAsApplication, embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { xmlValues } from './support/s3-xml.ts';
import { S3RawClient, sendRaw } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let srv: TestServer;
let root: S3RawClient;
let superuser: postgres.Sql;
let app: postgres.Sql;
const A = randomUUID();
const B = randomUUID();
const users: Record<string, S3RawClient> = {};

async function userClient(userId: string): Promise<S3RawClient> {
  return new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, userId)));
}

async function ok(p: Promise<{ status: number; body: Buffer }>): Promise<void> {
  const res = await p;
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.body}`);
}

/** Bucket name → policy and member writes, all owned by A. */
const BUCKETS = {
  'sql-private': { policy: 'private', member_writes: false },
  'sql-members': { policy: 'private', member_writes: true },
  'sql-signed-in': { policy: 'authenticated', member_writes: false },
  'sql-public': { policy: 'public', member_writes: false },
} as const;

before(async () => {
  srv = await startTestServer();
  root = new S3RawClient(srv.url, srv);
  users.A = await userClient(A);
  users.B = await userClient(B);
  for (const [name, settings] of Object.entries(BUCKETS)) {
    await ok(users.A.send({ method: 'PUT', path: `/${name}` }));
    await setBucketSettings(root, name, settings);
    await ok(users.A.send({ method: 'PUT', path: `/${name}/a-small`, body: 'a' }));
    await ok(users.A.send({ method: 'PUT', path: `/${name}/a-large`, body: 'A'.repeat(2000) }));
  }
  await ok(users.B.send({ method: 'PUT', path: '/sql-members/b-own', body: 'b' }));
  // Objects with their own ACLs (migration 0021): readable beyond their bucket's policy.
  await ok(users.A.send({ method: 'PUT', path: '/sql-private/acl-public', headers: { 'x-amz-acl': 'public-read' }, body: 'p' }));
  await ok(users.A.send({ method: 'PUT', path: '/sql-private/acl-b', headers: { 'x-amz-grant-read': `id="${B}"` }, body: 'b' }));
  await ok(users.A.send({ method: 'PUT', path: '/sql-members/acl-signed-in', headers: { 'x-amz-acl': 'authenticated-read' }, body: 's' }));
  // A bucket whose own ACL names B (migration 0028): B reads and lists all of it.
  await ok(users.A.send({ method: 'PUT', path: '/sql-granted', headers: { 'x-amz-grant-read': `id="${B}"` } }));
  await ok(users.A.send({ method: 'PUT', path: '/sql-granted/g', body: 'g' }));
  // ...and one whose ACL no longer counts: its bucket enforces bucket-owner ownership.
  await ok(users.A.send({ method: 'PUT', path: '/sql-enforced' }));
  await ok(users.A.send({ method: 'PUT', path: '/sql-enforced/acl-public', headers: { 'x-amz-acl': 'public-read' }, body: 'e' }));
  await ok(
    users.A.send({
      method: 'PUT',
      path: '/sql-enforced',
      query: { ownershipControls: '' },
      body: '<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>',
    }),
  );

  superuser = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  // The role an application would log in as: it may act as an anonymous or
  // a signed-in principal (README, "Querying the metadata with SQL").
  app = await connectAsApplication(superuser, srv.dataDir, 'app_reader');
});

after(async () => {
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await srv?.stop();
});

type Row = { bucket: string; key: string };
const names = (rows: readonly Row[]) => rows.map((r) => `${r.bucket}/${r.key}`).sort();

/** The objects the app sees, as `userId` (or with no claims at all). */
async function visibleAs(userId: string | undefined): Promise<string[]> {
  // Bucket names from the superuser: an object's ACL grants its reader the
  // object's row, not its bucket's (as on S3, where it grants no ListBucket).
  const bucketNames = new Map((await superuser<{ id: string; name: string }[]>`select id, name from storage.buckets`).map((r) => [r.id, r.name]));
  const rows = await app.begin(async (tx) => {
    if (userId) {
      await tx`set local role aerostore_authenticated`;
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: 'authenticated' })}, true)`;
    }
    return tx<{ bucket_uuid: string; key: string }[]>`select o.bucket_uuid, o.key from storage.objects o`;
  });
  return names(rows.map((r) => ({ bucket: bucketNames.get(r.bucket_uuid) as string, key: r.key })));
}

/** Every object there is (as the superuser sees it). */
async function everyObject(): Promise<string[]> {
  return names(await superuser<Row[]>`select b.name as bucket, o.key from storage.objects o join storage.buckets b on b.id = o.bucket_uuid`);
}

/** The same world over S3, object by object: what `client` (or, without one, an anonymous client) may GET. */
async function readableOverS3(client: S3RawClient | undefined): Promise<string[]> {
  const base = new URL(srv.url);
  const out: string[] = [];
  for (const name of await everyObject()) {
    const res = client ? await client.send({ method: 'GET', path: `/${name}` }) : await sendRaw(base, 'GET', `/${name}`, { host: base.host });
    if (res.status === 200) out.push(name);
    else assert.equal(res.status, 403, `${name}: ${res.status} ${res.body}`);
  }
  return out;
}

/** The same world over S3: every key `client` can list in every bucket it may list. */
async function listedOverS3(client: S3RawClient): Promise<string[]> {
  const out: string[] = [];
  for (const name of [...Object.keys(BUCKETS), 'sql-granted']) {
    const res = await client.send({ method: 'GET', path: `/${name}`, query: { 'list-type': '2' } });
    if (res.status === 403) continue;
    assert.equal(res.status, 200, res.body.toString());
    for (const key of xmlValues(res.body.toString(), 'Key')) out.push(`${name}/${key}`);
  }
  return out.sort();
}

describe('row-level security from SQL', () => {
  it("with user B's claims: exactly what B may read over S3, object by object", async () => {
    const seen = await visibleAs(B);
    assert.deepEqual(seen, [
      'sql-granted/g',
      'sql-members/acl-signed-in',
      'sql-members/b-own',
      'sql-private/acl-b',
      'sql-private/acl-public',
      'sql-public/a-large',
      'sql-public/a-small',
      'sql-signed-in/a-large',
      'sql-signed-in/a-small',
    ]);
    assert.deepEqual(seen, await readableOverS3(users.B));
    // What B lists over S3 is what it sees of the buckets it may list (not sql-private, whose objects' ACLs grant it two).
    const listed = await listedOverS3(users.B);
    assert.deepEqual(listed, seen.filter((n) => !n.startsWith('sql-private/')));
  });

  it("with the bucket owner A's claims: all of A's buckets", async () => {
    const seen = await visibleAs(A);
    assert.deepEqual(seen, await everyObject());
    assert.deepEqual(seen, await readableOverS3(users.A));
    assert.deepEqual(seen.filter((n) => !n.startsWith('sql-enforced/')), await listedOverS3(users.A));
  });

  it('with no claims: objects in public buckets, and public-read objects where ACLs apply', async () => {
    assert.deepEqual(await visibleAs(undefined), ['sql-private/acl-public', 'sql-public/a-large', 'sql-public/a-small']);
    assert.deepEqual(await visibleAs(undefined), await readableOverS3(undefined));
    // The signed-in role without a user id in the claims is nobody: it sees nothing.
    const nobody = await app.begin(async (tx) => {
      await tx`set local role aerostore_authenticated`;
      return names(await tx<Row[]>`select b.name as bucket, o.key from storage.objects o join storage.buckets b on b.id = o.bucket_uuid`);
    });
    assert.deepEqual(nobody, []);
  });

  it("the README's query: a user's own small files in one bucket", async () => {
    const rows = await app.begin(async (tx) => {
      await tx`set local role aerostore_authenticated`;
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: A })}, true)`;
      return tx<{ key: string }[]>`
        select key from storage.objects
        where bucket_uuid = (select id from storage.buckets where name = 'sql-members')
          and owner = storage.uid() and size < 1000
        order by key`;
    });
    assert.deepEqual(rows.map((r) => r.key), ['a-small', 'acl-signed-in']);
  });

  it('an object’s ACL as GetObjectAcl answers it: storage.object_acl, READ_ACP or ownership', async () => {
    const aclAs = (userId: string | undefined, bucket: string, key: string) =>
      app.begin(async (tx) => {
        if (userId) {
          await tx`set local role aerostore_authenticated`;
          await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: 'authenticated' })}, true)`;
        }
        const [id] = await superuser<{ id: string }[]>`select id from storage.buckets where name = ${bucket}`;
        return (await tx<{ acl: string[] | null }[]>`select acl from storage.object_acl(${id.id}, ${key})`).map((r) => r.acl);
      });
    assert.deepEqual(await aclAs(A, 'sql-private', 'acl-b'), [[`READ:${B}`]]);
    assert.deepEqual(await aclAs(B, 'sql-private', 'acl-b'), [], 'B reads the object, not its ACL (no READ_ACP)');
    assert.deepEqual(await aclAs(undefined, 'sql-private', 'acl-public'), []);
    assert.equal((await users.B.send({ method: 'GET', path: '/sql-private/acl-b', query: { acl: '' } })).status, 403, 'as over S3');
  });

  it('writes are the server’s: B can change or delete nothing, not even its own rows, nor read the key table', async () => {
    // (test/security/sql-roles.test.ts covers every table and function for every request role.)
    for (const statement of [
      (tx: postgres.TransactionSql) => tx`update storage.objects set content_type = 'text/evil' where key = 'a-small' returning 1`,
      (tx: postgres.TransactionSql) => tx`delete from storage.objects where key = 'b-own' returning 1`,
      (tx: postgres.TransactionSql) => tx`update storage.buckets set owner_id = ${B} returning 1`,
      (tx: postgres.TransactionSql) => tx`select * from storage.access_keys`,
    ]) {
      await assert.rejects(
        app.begin(async (tx) => {
          await tx`set local role aerostore_authenticated`;
          await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: B })}, true)`;
          await statement(tx);
        }),
        /permission denied/,
      );
    }
    // Nor act as the server's writer role.
    await assert.rejects(app.begin((tx) => tx`set local role aerostore_writer`), /permission denied/);
    // Cannot give itself the service role.
    await assert.rejects(app.begin((tx) => tx`set local role aerostore_service`), /permission denied/);
    const [still] = await superuser<{ n: number }[]>`select count(*)::int as n from storage.objects where key = 'a-small'`;
    assert.equal(still.n, Object.keys(BUCKETS).length);
    const [own] = await superuser<{ n: number }[]>`select count(*)::int as n from storage.objects where key = 'b-own'`;
    assert.equal(own.n, 1);
  });

  it('every storage table forces row-level security, so even its owner is filtered', async () => {
    const tables = await superuser<{ relname: string; relforcerowsecurity: boolean }[]>`
      select c.relname, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'storage' and c.relkind = 'r' order by 1`;
    assert.ok(tables.length >= 7);
    for (const t of tables) assert.equal(t.relforcerowsecurity, true, `${t.relname} forces row-level security`);
  });
});
