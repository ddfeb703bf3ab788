// Supabase Storage's own policies, pasted unchanged (issue 17 §1, §2): the
// examples of Supabase's storage access-control documentation, created with
// `aerostore sql` as an operator would, on buckets whose built-in preset
// admits no one but the service role. Each policy must then mean the same
// thing for storage-js, for S3 (signed by a user's access key) and for a
// SQL session under the user's claims — and nothing beyond it. Before
// migration 0022 every upload below was refused by the presets, whatever
// the policies said, and `bucket_id = 'sb-docs'` did not parse (the column
// was the bucket's uuid).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { runAerostoreSql } from './support/aerostore-sql.ts';
import { connectAsApplication, embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf, userJwt } from './support/principals.ts';
import { errorCode, xmlValues } from './support/s3-xml.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 'supabase-policies-jwt-secret-0123456789';
const A = randomUUID();
const B = randomUUID();

/** Verbatim in Supabase's style: `to authenticated`, bucket_id by name, the helpers, auth.uid(). */
const POLICIES = `
create policy "Public read of the public folder" on storage.objects for select to public
  using (bucket_id = 'sb-docs' and (storage.foldername(name))[1] = 'public');
create policy "Users read their own folder" on storage.objects for select to authenticated
  using (bucket_id = 'sb-docs' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "Users upload into their own folder" on storage.objects for insert to authenticated
  with check (bucket_id = 'sb-docs' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "Only allow PNG uploads" on storage.objects for insert to authenticated
  with check (bucket_id = 'sb-cats' and storage.extension(name) = 'png');
create policy "Authenticated uploads to the inbox" on storage.objects for insert to authenticated
  with check (bucket_id = 'sb-inbox');
create policy "Individual user Access" on storage.objects for select to authenticated
  using ((select auth.uid()) = owner_id::uuid);
create policy "Individual user update" on storage.objects for update to authenticated
  using ((select auth.uid()) = owner_id::uuid) with check ((select auth.uid()) = owner_id::uuid);
create policy "User can delete their own objects" on storage.objects for delete to authenticated
  using (owner_id = (select auth.uid()::text));
create policy "Staff read the staff folder" on storage.objects for select to authenticated
  using (bucket_id = 'sb-docs' and (storage.foldername(name))[1] = 'staff'
         and (select auth.jwt() ->> 'email') like '%@staff.example');
`;

let srv: TestServer;
let root: S3RawClient;
const s3: Record<'A' | 'B', S3RawClient> = {} as never;
const js: Record<'A' | 'B', StorageClient> = {} as never;
let superuser: postgres.Sql;
let app: postgres.Sql;

async function ok(p: Promise<{ status: number; body: Buffer }>): Promise<void> {
  const res = await p;
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.body}`);
}

/** An anonymous request, as a browser or curl sends it. */
async function anonymous(method: string, target: string, body?: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`${srv.url}${target}`, { method, body });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

const statusOf = (error: unknown) => (error as { status?: number } | null)?.status;

/** The keys of a bucket as the service role sees them. */
async function storedKeys(bucket: string): Promise<string[]> {
  const rows = await superuser<{ name: string }[]>`select name from storage.objects where bucket_id = ${bucket} order by name`;
  return rows.map((r) => r.name);
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  root = new S3RawClient(srv.url, srv);
  for (const [name, id] of [['A', A], ['B', B]] as const) {
    s3[name] = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, id)));
    const token = await userJwt(JWT_SECRET, id);
    js[name] = new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });
  }
  // Private buckets of the service role: the presets admit no user at all.
  for (const bucket of ['sb-docs', 'sb-cats', 'sb-inbox']) await ok(root.send({ method: 'PUT', path: `/${bucket}` }));
  await ok(root.send({ method: 'PUT', path: '/sb-docs/public/readme.txt', body: 'for everyone' }));
  await ok(root.send({ method: 'PUT', path: '/sb-docs/staff/salaries.txt', body: 'for no one' }));
  superuser = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  app = await connectAsApplication(superuser, srv.dataDir, 'sb_app');
});

after(async () => {
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await srv?.stop();
});

describe('Supabase storage policies, pasted into aerostore sql', () => {
  it('are refused by the presets until the policies exist', async () => {
    const res = await s3.A.send({ method: 'PUT', path: `/sb-docs/${A}/early.txt`, body: 'too early' });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res.body), 'AccessDenied');
    const created = await runAerostoreSql(srv.dataDir, [], POLICIES);
    assert.equal(created.code, 0, created.err + created.out);
  });

  it('upload into one’s own folder: storage-js and S3 write there, and nowhere else', async () => {
    const mine = await js.A.from('sb-docs').upload(`${A}/avatar.png`, Buffer.from('png bytes'), { contentType: 'image/png' });
    assert.equal(mine.error, null);
    await ok(s3.A.send({ method: 'PUT', path: `/sb-docs/${A}/notes.txt`, body: 'mine' }));

    const theirs = await js.A.from('sb-docs').upload(`${B}/avatar.png`, Buffer.from('not mine'), { contentType: 'image/png' });
    assert.equal(statusOf(theirs.error), 403, JSON.stringify(theirs.error));
    const top = await s3.A.send({ method: 'PUT', path: '/sb-docs/loose.txt', body: 'no folder' });
    assert.equal(top.status, 403);
    assert.equal(errorCode(top.body), 'AccessDenied');
    assert.deepEqual(await storedKeys('sb-docs'), [`${A}/avatar.png`, `${A}/notes.txt`, 'public/readme.txt', 'staff/salaries.txt'].sort());
  });

  it('a multipart upload into one’s own folder: create, part, complete', async () => {
    const key = `/sb-docs/${A}/big.bin`;
    const created = await s3.A.send({ method: 'POST', path: key, query: { uploads: '' } });
    assert.equal(created.status, 200, created.body.toString());
    const [uploadId] = xmlValues(created.body.toString(), 'UploadId');
    const part = await s3.A.send({ method: 'PUT', path: key, query: { partNumber: '1', uploadId }, body: 'one part' });
    assert.equal(part.status, 200, part.body.toString());
    const etag = String(part.headers.etag);
    const done = await s3.A.send({
      method: 'POST',
      path: key,
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(done.status, 200, done.body.toString());
    assert.equal((await s3.A.send({ method: 'GET', path: key })).body.toString(), 'one part');
    // "User can delete their own objects" holds in every bucket.
    assert.equal((await s3.A.send({ method: 'DELETE', path: key })).status, 204);
    const theirs = await s3.A.send({ method: 'POST', path: `/sb-docs/${B}/big.bin`, query: { uploads: '' } });
    assert.equal(theirs.status, 403);
  });

  it('a user reads and lists its own folder and the public one, over both APIs', async () => {
    const list = await s3.A.send({ method: 'GET', path: '/sb-docs', query: { 'list-type': '2' } });
    assert.equal(list.status, 200, list.body.toString());
    assert.deepEqual(xmlValues(list.body.toString(), 'Key'), [`${A}/avatar.png`, `${A}/notes.txt`, 'public/readme.txt'].sort());
    const folder = await js.A.from('sb-docs').list(A);
    assert.deepEqual(folder.data?.map((f) => f.name), ['avatar.png', 'notes.txt']);
    const download = await js.A.from('sb-docs').download(`${A}/notes.txt`);
    assert.equal(await download.data?.text(), 'mine');

    // B sees the public folder only: A's files are not there for it, over either API.
    const listB = await s3.B.send({ method: 'GET', path: '/sb-docs', query: { 'list-type': '2' } });
    assert.deepEqual(xmlValues(listB.body.toString(), 'Key'), ['public/readme.txt']);
    assert.notEqual((await js.B.from('sb-docs').download(`${A}/notes.txt`)).error, null);
    assert.equal((await s3.B.send({ method: 'GET', path: `/sb-docs/${A}/notes.txt` })).status, 403);
    assert.equal((await s3.B.send({ method: 'GET', path: '/sb-docs/staff/salaries.txt' })).status, 403);
  });

  it('public read of a folder: anonymous S3 reads and lists it, and nothing else', async () => {
    const readme = await anonymous('GET', '/sb-docs/public/readme.txt');
    assert.equal(readme.status, 200);
    assert.equal(readme.body.toString(), 'for everyone');
    assert.equal((await anonymous('GET', `/sb-docs/${A}/notes.txt`)).status, 403);
    const listed = await anonymous('GET', '/sb-docs?list-type=2');
    assert.equal(listed.status, 200);
    assert.deepEqual(xmlValues(listed.body.toString(), 'Key'), ['public/readme.txt']);
    // Another bucket: a select policy for anonymous readers exists, so the
    // listing runs, and RLS admits none of its rows (README "The access model").
    const other = await anonymous('GET', '/sb-cats?list-type=2');
    assert.equal(other.status, 200);
    assert.deepEqual(xmlValues(other.body.toString(), 'Key'), []);
  });

  it('restrict uploads by extension: only .png goes into sb-cats, refused before the body is read', async () => {
    await ok(s3.B.send({ method: 'PUT', path: '/sb-cats/tabby.png', body: 'png' }));
    const jpeg = await s3.B.send({ method: 'PUT', path: '/sb-cats/tabby.jpg', body: 'jpeg' });
    assert.equal(jpeg.status, 403);
    const viaJs = await js.B.from('sb-cats').upload('tabby.gif', Buffer.from('gif'), { contentType: 'image/gif' });
    assert.equal(statusOf(viaJs.error), 403);
    // Multipart goes through the same trial, at creation.
    const mpu = await s3.B.send({ method: 'POST', path: '/sb-cats/big.jpg', query: { uploads: '' } });
    assert.equal(mpu.status, 403);
    assert.deepEqual(await storedKeys('sb-cats'), ['tabby.png']);
  });

  it('authenticated uploads to one bucket; anonymous ones stay refused', async () => {
    await ok(s3.A.send({ method: 'PUT', path: '/sb-inbox/from-a.txt', body: 'a' }));
    const upload = await js.B.from('sb-inbox').upload('from-b.txt', Buffer.from('b'), { contentType: 'text/plain' });
    assert.equal(upload.error, null);
    assert.equal((await anonymous('PUT', '/sb-inbox/from-anyone.txt', 'x')).status, 403);
    assert.deepEqual(await storedKeys('sb-inbox'), ['from-a.txt', 'from-b.txt']);
  });

  it('per-user update and delete: each changes its own objects only', async () => {
    // Overwrite needs insert, select and update, as Supabase documents for upsert.
    const upsert = await js.A.from('sb-inbox').upload('from-a.txt', Buffer.from('a, again'), { contentType: 'text/plain', upsert: true });
    assert.equal(upsert.error, null);
    const overwriteTheirs = await s3.A.send({ method: 'PUT', path: '/sb-inbox/from-b.txt', body: 'taken over' });
    assert.equal(overwriteTheirs.status, 403);
    const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
    await ok(s3.A.send({ method: 'PUT', path: '/sb-inbox/from-a.txt', query: { tagging: '' }, body: tagging }));
    assert.equal((await s3.A.send({ method: 'PUT', path: '/sb-inbox/from-b.txt', query: { tagging: '' }, body: tagging })).status, 403);

    const removed = await js.B.from('sb-inbox').remove(['from-a.txt']);
    assert.deepEqual(removed.data, [], 'B cannot delete A’s file: nothing removed');
    assert.equal((await s3.B.send({ method: 'DELETE', path: '/sb-inbox/from-a.txt' })).status, 403);
    assert.equal((await s3.A.send({ method: 'DELETE', path: '/sb-inbox/from-a.txt' })).status, 204);
    const mine = await js.B.from('sb-inbox').remove(['from-b.txt']);
    assert.deepEqual(mine.data?.map((o) => o.name), ['from-b.txt']);
    assert.deepEqual(await storedKeys('sb-inbox'), []);
  });

  it('auth.jwt() reads the whole token: a claim of the JWT decides', async () => {
    const token = await new SignJWT({ sub: B, role: 'authenticated', email: 'bea@staff.example' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const staff = new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });
    const read = await staff.from('sb-docs').download('staff/salaries.txt');
    assert.equal(await read.data?.text(), 'for no one');
    // The same user without the claim (its access key; a JWT without email) reads nothing there.
    assert.equal((await s3.B.send({ method: 'GET', path: '/sb-docs/staff/salaries.txt' })).status, 403);
    assert.notEqual((await js.B.from('sb-docs').download('staff/salaries.txt')).error, null);
  });

  it('a SQL session under a user’s claims sees what the APIs showed it', async () => {
    const asUser = (sub: string | null) =>
      app.begin(async (tx) => {
        await tx.unsafe(`set local role ${sub ? 'aerostore_authenticated' : 'aerostore_anon'}`);
        if (sub) await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub, role: 'authenticated' })}, true)`;
        return (await tx<{ name: string }[]>`select name from storage.objects where bucket_id = 'sb-docs' order by name`).map((r) => r.name);
      });
    assert.deepEqual(await asUser(A), [`${A}/avatar.png`, `${A}/notes.txt`, 'public/readme.txt'].sort());
    assert.deepEqual(await asUser(B), ['public/readme.txt']);
    assert.deepEqual(await asUser(null), ['public/readme.txt']);
  });
});
