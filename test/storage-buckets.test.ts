// /storage/v1/bucket through @supabase/storage-js (unmodified) as a user, the
// service role and anonymously, plus the AeroDB request shapes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'storage-buckets-test-secret-0123456789';
let srv: TestServer;
let root: S3RawClient;
const A = randomUUID();
const B = randomUUID();

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}

async function client(claims: Record<string, unknown>): Promise<StorageClient> {
  const token = await jwt(claims);
  return new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });
}

let asA: StorageClient;
let asB: StorageClient;
let asService: StorageClient;
let asAnon: StorageClient;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  root = new S3RawClient(srv.url, srv);
  asA = await client({ sub: A, role: 'authenticated' });
  asB = await client({ sub: B, role: 'authenticated' });
  asService = await client({ role: 'service_role' });
  asAnon = await client({ role: 'anon' });
});
after(() => srv?.stop());

describe('/storage/v1/bucket with storage-js', () => {
  it('creates, gets, lists, updates, empties and deletes', async () => {
    const created = await asA.createBucket('avatars', { public: false, fileSizeLimit: '1MB', allowedMimeTypes: ['image/*'] });
    assert.equal(created.error, null, String(created.error));
    assert.equal(created.data?.name, 'avatars');

    const got = await asA.getBucket('avatars');
    assert.equal(got.error, null);
    assert.equal(got.data?.id, 'avatars');
    assert.equal(got.data?.public, false);
    assert.equal(got.data?.owner, A);
    assert.equal(got.data?.file_size_limit, 1024 * 1024);
    assert.deepEqual(got.data?.allowed_mime_types, ['image/*']);

    const listed = await asA.listBuckets();
    assert.deepEqual(listed.data?.map((b) => b.name), ['avatars']);

    const updated = await asA.updateBucket('avatars', { public: true, fileSizeLimit: 2048, allowedMimeTypes: ['image/png', 'text/*'] });
    assert.equal(updated.error, null, String(updated.error));
    const after = (await asA.getBucket('avatars')).data;
    assert.equal(after?.public, true);
    assert.equal(after?.file_size_limit, 2048);
    assert.deepEqual(after?.allowed_mime_types, ['image/png', 'text/*']);

    // Objects (written over S3 here, within the bucket's rules) go with empty; then the bucket can go.
    const text = { 'content-type': 'text/plain' };
    assert.equal((await root.send({ method: 'PUT', path: '/avatars/a.txt', body: 'a', headers: text })).status, 200);
    assert.equal((await root.send({ method: 'PUT', path: '/avatars/b/c.txt', body: 'c', headers: text })).status, 200);
    const notEmpty = await asA.deleteBucket('avatars');
    assert.equal((notEmpty.error as { status?: number } | null)?.status, 409);
    assert.equal((await asA.emptyBucket('avatars')).error, null);
    assert.equal((await root.send({ method: 'GET', path: '/avatars/a.txt' })).status, 404);
    assert.equal((await asA.deleteBucket('avatars')).error, null);
    assert.equal((await asA.getBucket('avatars')).data, null);
  });

  it('follows the bucket policies: others see public buckets, not private ones, and change neither', async () => {
    assert.equal((await asA.createBucket('a-private')).error, null);
    assert.equal((await asA.createBucket('a-public', { public: true })).error, null);

    assert.deepEqual((await asB.listBuckets()).data?.map((b) => b.name).sort(), ['a-public']);
    assert.deepEqual((await asAnon.listBuckets()).data?.map((b) => b.name).sort(), ['a-public']);
    const hidden = await asB.getBucket('a-private');
    assert.equal((hidden.error as { status?: number } | null)?.status, 404);

    const update = await asB.updateBucket('a-public', { public: false });
    assert.equal((update.error as { status?: number } | null)?.status, 403);
    assert.equal((await asB.deleteBucket('a-public')).error !== null, true);
    assert.equal((await asAnon.createBucket('anon-made')).error !== null, true);

    // The service role sees and may change everything.
    assert.deepEqual((await asService.listBuckets()).data?.map((b) => b.name).sort(), ['a-private', 'a-public']);
    assert.equal((await asService.updateBucket('a-private', { public: false, fileSizeLimit: '5MB' })).error, null);
    assert.equal((await asService.getBucket('a-private')).data?.file_size_limit, 5 * 1024 * 1024);
  });

  it('answers errors as JSON with a stable code', async () => {
    const token = await jwt({ sub: A, role: 'authenticated' });
    const post = (body: unknown) =>
      fetch(`${srv.url}/storage/v1/bucket`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const cases: Array<[unknown, number, string]> = [
      ['{not json', 400, 'INVALID_REQUEST'],
      [{ public: true }, 400, 'INVALID_REQUEST'],
      [{ name: 'Bad Name' }, 400, 'INVALID_BUCKET_NAME'],
      [{ name: 'sizes', file_size_limit: '10 parsecs' }, 400, 'INVALID_REQUEST'],
      [{ name: 'types', allowed_mime_types: ['not a type'] }, 400, 'INVALID_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      assert.equal(res.status, status, JSON.stringify(body));
      const json = (await res.json()) as { statusCode: string; error: string; message: string };
      assert.equal(json.statusCode, String(status));
      assert.equal(json.error, code, json.message);
    }
    assert.equal((await post({ name: 'dup-bucket' })).status, 200);
    const dup = await post({ name: 'dup-bucket' });
    assert.equal(dup.status, 409);
    assert.equal(((await dup.json()) as { error: string }).error, 'BUCKET_ALREADY_EXISTS');
    const missing = await fetch(`${srv.url}/storage/v1/bucket/nope-nope`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'BUCKET_NOT_FOUND');
    const forged = await fetch(`${srv.url}/storage/v1/bucket`, { headers: { authorization: `Bearer ${token}x` } });
    assert.equal(forged.status, 403);
  });

  it('accepts the AeroDB shapes: policy and max_file_size', async () => {
    const token = await jwt({ sub: A, role: 'authenticated' });
    const res = await fetch(`${srv.url}/storage/v1/bucket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'aerodb-shape', policy: 'authenticated', max_file_size: '10MB' }),
    });
    assert.equal(res.status, 200);
    const got = (await asA.getBucket('aerodb-shape')).data as unknown as { policy: string; max_file_size: number };
    assert.equal(got.policy, 'authenticated');
    assert.equal(got.max_file_size, 10 * 1024 * 1024);
    assert.ok((await asB.listBuckets()).data?.some((b) => b.name === 'aerodb-shape'), 'authenticated buckets are visible to B');
  });
});

describe('/storage/v1/openapi.json', () => {
  it('describes the routes with the request schemas the handlers validate with', async () => {
    const res = await fetch(`${srv.url}/storage/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };
    assert.equal(doc.openapi, '3.1.0');
    const create = doc.paths['/bucket'].post.requestBody!.content['application/json'].schema;
    for (const field of ['name', 'public', 'policy', 'file_size_limit', 'max_file_size', 'allowed_mime_types']) {
      assert.ok(create.properties && field in create.properties, field);
    }
    assert.ok(doc.paths['/object/list/{bucket}'].post.requestBody!.content['application/json'].schema.properties?.sortBy);
    assert.ok(doc.paths['/object/upload/sign/{bucket}/{path}'].put);
  });
});
