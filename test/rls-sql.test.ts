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
import { S3RawClient } from './support/signer.ts';
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
  return app.begin(async (tx) => {
    if (userId) {
      await tx`set local role aerostore_authenticated`;
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: userId, role: 'authenticated' })}, true)`;
    }
    return names(await tx<Row[]>`
      select b.name as bucket, o.key from storage.objects o join storage.buckets b on b.id = o.bucket_id`);
  });
}

/** The same world over S3: every key `client` can list in every bucket it may list. */
async function listedOverS3(client: S3RawClient): Promise<string[]> {
  const out: string[] = [];
  for (const name of Object.keys(BUCKETS)) {
    const res = await client.send({ method: 'GET', path: `/${name}`, query: { 'list-type': '2' } });
    if (res.status === 403) continue;
    assert.equal(res.status, 200, res.body.toString());
    for (const key of xmlValues(res.body.toString(), 'Key')) out.push(`${name}/${key}`);
  }
  return out.sort();
}

describe('row-level security from SQL', () => {
  it("with user B's claims: exactly what B may read, and what B lists over S3", async () => {
    const seen = await visibleAs(B);
    assert.deepEqual(seen, [
      'sql-members/b-own',
      'sql-public/a-large',
      'sql-public/a-small',
      'sql-signed-in/a-large',
      'sql-signed-in/a-small',
    ]);
    assert.deepEqual(seen, await listedOverS3(users.B));
  });

  it("with the bucket owner A's claims: all of A's buckets", async () => {
    const seen = await visibleAs(A);
    assert.equal(seen.length, 9);
    assert.deepEqual(seen, await listedOverS3(users.A));
  });

  it('with no claims: only objects in public buckets', async () => {
    assert.deepEqual(await visibleAs(undefined), ['sql-public/a-large', 'sql-public/a-small']);
    // The signed-in role without a user id in the claims is nobody: it sees nothing.
    const nobody = await app.begin(async (tx) => {
      await tx`set local role aerostore_authenticated`;
      return names(await tx<Row[]>`select b.name as bucket, o.key from storage.objects o join storage.buckets b on b.id = o.bucket_id`);
    });
    assert.deepEqual(nobody, []);
  });

  it("the README's query: a user's own small files in one bucket", async () => {
    const rows = await app.begin(async (tx) => {
      await tx`set local role aerostore_authenticated`;
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: A })}, true)`;
      return tx<{ key: string }[]>`
        select key from storage.objects
        where bucket_id = (select id from storage.buckets where name = 'sql-members')
          and owner_id = storage.uid() and size < 1000
        order by key`;
    });
    assert.deepEqual(rows.map((r) => r.key), ['a-small']);
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
