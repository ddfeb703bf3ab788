// /storage/v1/object through @supabase/storage-js: upload (Buffer, Blob,
// stream; upsert), download, info/exists, list with folders, remove; the
// bucket's upload rules; the same object seen over S3.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from './support/database.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'storage-objects-test-secret-0123456789';
let srv: TestServer;
let root: S3RawClient;
const A = randomUUID();
const B = randomUUID();
let tokenA: string;
let asA: StorageClient;
let asB: StorageClient;
let anon: StorageClient;

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}
const clientFor = (token: string) => new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });
const status = (error: unknown) => (error as { status?: number } | null)?.status;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  root = new S3RawClient(srv.url, srv);
  tokenA = await jwt({ sub: A, role: 'authenticated' });
  asA = clientFor(tokenA);
  asB = clientFor(await jwt({ sub: B, role: 'authenticated' }));
  anon = clientFor(await jwt({ role: 'anon' }));
  assert.equal((await asA.createBucket('docs')).error, null);
  assert.equal((await asA.createBucket('pics', { public: true, fileSizeLimit: 1024, allowedMimeTypes: ['image/*'] })).error, null);
});
after(() => srv?.stop());

describe('/storage/v1/object with storage-js', () => {
  it('uploads a Buffer, a Blob and a stream, and downloads the same bytes', async () => {
    const bytes = randomBytes(5000);
    const up = await asA.from('docs').upload('reports/q1.bin', bytes, { contentType: 'application/octet-stream' });
    assert.equal(up.error, null, String(up.error));
    assert.equal(up.data?.path, 'reports/q1.bin');
    assert.ok(up.data?.id);
    const blob = await asA.from('docs').upload('reports/q2.txt', new Blob(['hello blob'], { type: 'text/plain' }));
    assert.equal(blob.error, null, String(blob.error));
    const stream = await asA.from('docs').upload('notes/s.txt', Readable.from([Buffer.from('streamed')]), { contentType: 'text/plain', duplex: 'half' });
    assert.equal(stream.error, null, String(stream.error));

    const down = await asA.from('docs').download('reports/q1.bin');
    assert.equal(down.error, null);
    assert.deepEqual(Buffer.from(await down.data!.arrayBuffer()), bytes);
    assert.equal(await (await asA.from('docs').download('reports/q2.txt')).data!.text(), 'hello blob');
    assert.equal(await (await asA.from('docs').download('notes/s.txt')).data!.text(), 'streamed');
    // One object, both APIs.
    const overS3 = await root.send({ method: 'GET', path: '/docs/reports/q1.bin' });
    assert.deepEqual(overS3.body, bytes);
  });

  it('refuses an existing path without upsert, replaces it with upsert', async () => {
    assert.equal((await asA.from('docs').upload('dup.txt', Buffer.from('one'), { contentType: 'text/plain' })).error, null);
    const again = await asA.from('docs').upload('dup.txt', Buffer.from('two'), { contentType: 'text/plain' });
    assert.equal(status(again.error), 409);
    assert.equal(await (await asA.from('docs').download('dup.txt')).data!.text(), 'one');
    assert.equal((await asA.from('docs').upload('dup.txt', Buffer.from('two'), { contentType: 'text/plain', upsert: true })).error, null);
    assert.equal(await (await asA.from('docs').download('dup.txt')).data!.text(), 'two');
  });

  it('info, exists, list with folders, remove', async () => {
    const info = await asA.from('docs').info('reports/q1.bin');
    assert.equal(info.error, null, String(info.error));
    assert.equal(info.data?.size, 5000);
    assert.equal((await asA.from('docs').exists('reports/q1.bin')).data, true);
    assert.equal((await asA.from('docs').exists('reports/nope.bin')).data, false);

    const top = await asA.from('docs').list();
    assert.equal(top.error, null, String(top.error));
    assert.deepEqual(top.data?.map((e) => [e.name, e.id === null]), [['dup.txt', false], ['notes', true], ['reports', true]]);
    const reports = await asA.from('docs').list('reports', { sortBy: { column: 'name', order: 'desc' } });
    assert.deepEqual(reports.data?.map((e) => e.name), ['q2.txt', 'q1.bin']);
    assert.equal(reports.data?.[1].metadata?.size, 5000);
    assert.deepEqual((await asA.from('docs').list('reports', { search: 'q1' })).data?.map((e) => e.name), ['q1.bin']);
    assert.deepEqual((await asA.from('docs').list('reports', { limit: 1, offset: 1 })).data?.map((e) => e.name), ['q2.txt']);

    const removed = await asA.from('docs').remove(['reports/q2.txt', 'missing.txt']);
    assert.equal(removed.error, null, String(removed.error));
    assert.deepEqual(removed.data?.map((o) => o.name), ['reports/q2.txt']);
    assert.equal((await asA.from('docs').exists('reports/q2.txt')).data, false);
  });

  it('lists entries the same way by name and by search, with their metadata, folders sorted by name', async () => {
    await root.send({ method: 'PUT', path: '/docs/order/a.txt', body: Buffer.from('dot'), headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=60' } });
    await root.send({ method: 'PUT', path: '/docs/order/a/inner.txt', body: Buffer.from('in') });
    await root.send({ method: 'PUT', path: '/docs/order/%C3%A9t%C3%A9.txt', body: Buffer.from('utf8') });
    const byName = await asA.from('docs').list('order');
    assert.equal(byName.error, null, String(byName.error));
    // Names in byte order: folder "a" before "a.txt" (though its key "a/" sorts after "a.txt").
    assert.deepEqual(byName.data?.map((e) => e.name), ['a', 'a.txt', 'été.txt']);
    const file = byName.data![1];
    const head = await root.send({ method: 'HEAD', path: '/docs/order/a.txt' });
    assert.equal(file.metadata?.eTag, head.headers.etag);
    assert.equal(file.metadata?.size, 3);
    assert.equal(file.metadata?.mimetype, 'text/plain');
    assert.equal(file.metadata?.cacheControl, 'max-age=60');
    assert.match(String(file.created_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(new Date(String(file.updated_at)).toUTCString(), head.headers['last-modified']);
    // The search path (one SQL statement) renders the same entry, and counts characters, not UTF-16 units.
    const bySearch = await asA.from('docs').list('order', { search: 'a.' });
    assert.deepEqual(bySearch.data, [file]);
    assert.deepEqual((await asA.from('docs').list('order', { search: 'ét' })).data?.map((e) => e.name), ['été.txt']);
    const byCreated = await asA.from('docs').list('order', { sortBy: { column: 'created_at', order: 'desc' } });
    assert.deepEqual(byCreated.data?.map((e) => e.name), ['été.txt', 'a.txt', 'a']);
  });

  it('answers an upload in both shapes (AeroDB: id, bucket, path, size, content_type, owner_id, created_at; storage-js: Key, Id) and signs with ?expires_in', async () => {
    const api = `${srv.url}/storage/v1`;
    const res = await fetch(`${api}/object/docs/raw/shape.json`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(res.status, 200);
    const { file, ...body } = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(
      { ...body, id: typeof body.id, Id: body.Id === body.id, created_at: Number.isNaN(Date.parse(String(body.created_at))) },
      { id: 'string', Id: true, Key: 'docs/raw/shape.json', bucket: 'docs', path: 'raw/shape.json', size: 7, content_type: 'application/json', owner_id: A, created_at: false },
    );
    // And the File Storage Blueprint's record of it (test/blueprint.test.ts has every field).
    assert.equal((file as { file_id: string; filename: string }).file_id, body.id);
    assert.equal((file as { filename: string }).filename, 'shape.json');
    const before = Date.now();
    const signed = await fetch(`${api}/object/sign/docs/raw/shape.json?expires_in=120`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(signed.status, 200);
    const { url, expires_at } = (await signed.json()) as { url: string; expires_at: string };
    const lifetime = Date.parse(expires_at) - before;
    assert.ok(lifetime > 118_000 && lifetime <= 121_000, `expires in ${lifetime} ms`);
    assert.equal(await (await fetch(`${api}${url}`)).text(), '{"a":1}');
  });

  it('follows the bucket policy: B and anonymous cannot read A’s private bucket; anyone reads a public one', async () => {
    assert.equal(status((await asB.from('docs').download('dup.txt')).error) !== undefined, true);
    assert.notEqual((await asB.from('docs').upload('b.txt', Buffer.from('b'), { contentType: 'text/plain' })).error, null);
    assert.notEqual((await anon.from('docs').download('dup.txt')).error, null);

    assert.equal((await asA.from('pics').upload('cat.png', Buffer.from('png-ish'), { contentType: 'image/png' })).error, null);
    const url = asA.from('pics').getPublicUrl('cat.png').data.publicUrl;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'png-ish');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((await fetch(`${srv.url}/storage/v1/object/public/docs/dup.txt`)).status, 403, 'a private bucket is not public');
  });

  it('enforces the bucket’s size and type rules before the body is read, on both APIs', async () => {
    const big = await asA.from('pics').upload('big.png', randomBytes(2048), { contentType: 'image/png' });
    assert.equal(status(big.error), 413);
    const pdf = await asA.from('pics').upload('doc.pdf', Buffer.from('%PDF-1.7'), { contentType: 'application/pdf' });
    assert.equal(status(pdf.error), 415);
    // A declared size over the limit is refused without sending the body (Expect: 100-continue).
    const early = await fetch(`${srv.url}/storage/v1/object/pics/early.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'image/png', 'content-length': '4096' },
      body: randomBytes(4096),
    });
    assert.equal(early.status, 413);
    assert.equal(((await early.json()) as { error: string }).error, 'FILE_TOO_LARGE');
    // S3 PutObject into the same bucket: the same rules, S3's codes.
    const s3Big = await root.send({ method: 'PUT', path: '/pics/s3-big.png', body: randomBytes(2048), headers: { 'content-type': 'image/png' } });
    assert.equal(s3Big.status, 400);
    assert.match(s3Big.body.toString(), /EntityTooLarge/);
    const s3Type = await root.send({ method: 'PUT', path: '/pics/s3.pdf', body: 'x', headers: { 'content-type': 'application/pdf' } });
    assert.equal(s3Type.status, 415);
    assert.equal((await asA.from('pics').list()).data?.map((e) => e.name).join(','), 'cat.png', 'nothing refused was stored');
  });

  it('downloads: ranges, ETag caching, attachment for active types', async () => {
    assert.equal((await asA.from('docs').upload('page.html', Buffer.from('<script>alert(1)</script>'), { contentType: 'text/html' })).error, null);
    const auth = { authorization: `Bearer ${tokenA}` };
    const html = await fetch(`${srv.url}/storage/v1/object/docs/page.html`, { headers: auth });
    assert.match(html.headers.get('content-disposition') ?? '', /^attachment/);
    const part = await fetch(`${srv.url}/storage/v1/object/docs/page.html`, { headers: { ...auth, range: 'bytes=0-7' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), '<script>');
    const past = await fetch(`${srv.url}/storage/v1/object/docs/page.html`, { headers: { ...auth, range: 'bytes=1000-' } });
    assert.equal(past.status, 416);
    assert.equal(((await past.json()) as { error: string }).error, 'INVALID_RANGE');
    // An empty object ignores Range, as on S3: 200 and no body, not "bytes 0--1/0".
    assert.equal((await asA.from('docs').upload('empty.txt', Buffer.alloc(0), { contentType: 'text/plain' })).error, null);
    for (const range of ['bytes=-5', 'bytes=0-']) {
      const empty = await fetch(`${srv.url}/storage/v1/object/docs/empty.txt`, { headers: { ...auth, range } });
      assert.equal(empty.status, 200, range);
      assert.equal(empty.headers.get('content-range'), null, range);
      assert.equal(await empty.text(), '');
    }
    const etag = html.headers.get('etag')!;
    const cached = await fetch(`${srv.url}/storage/v1/object/docs/page.html`, { headers: { ...auth, 'if-none-match': etag } });
    assert.equal(cached.status, 304);
    const named = await fetch(`${srv.url}/storage/v1/object/docs/dup.txt?download=report.txt`, { headers: auth });
    assert.match(named.headers.get('content-disposition') ?? '', /attachment; filename\*=UTF-8''report\.txt/);
  });

  it('verifies a raw upload’s Content-MD5 as S3 does: a malformed or wrong one stores nothing', async () => {
    const url = `${srv.url}/storage/v1/object/docs/md5/checked.txt`;
    const put = (body: string, md5: string) =>
      fetch(url, { method: 'POST', body, headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'text/plain', 'content-md5': md5, 'x-upsert': 'true' } });
    const md5 = (s: string) => createHash('md5').update(s).digest('base64');
    for (const [header, why] of [[md5('other bytes'), 'wrong'], ['not-base64!', 'malformed']]) {
      const refused = await put('the bytes', header);
      assert.equal(refused.status, 400, why);
      assert.equal(((await refused.json()) as { error: string }).error, 'INVALID_REQUEST', why);
      assert.equal((await asA.from('docs').exists('md5/checked.txt')).data, false, why);
    }
    const ok = await put('the bytes', md5('the bytes'));
    assert.equal(ok.status, 200);
    assert.equal(await (await asA.from('docs').download('md5/checked.txt')).data!.text(), 'the bytes');
  });
});

describe('the bucket rules on S3 multipart uploads', () => {
  it('refuses a disallowed type at CreateMultipartUpload and an oversized object at Complete', async () => {
    const refused = await root.send({ method: 'POST', path: '/pics/m.pdf', query: { uploads: '' }, headers: { 'content-type': 'application/pdf' } });
    assert.equal(refused.status, 415);
    const created = await root.send({ method: 'POST', path: '/pics/m.png', query: { uploads: '' }, headers: { 'content-type': 'image/png' } });
    assert.equal(created.status, 200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())![1];
    const part = await root.send({ method: 'PUT', path: '/pics/m.png', query: { partNumber: '1', uploadId }, body: randomBytes(2048) });
    assert.equal(part.status, 200);
    const etag = part.headers.etag as string;
    const done = await root.send({
      method: 'POST',
      path: '/pics/m.png',
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(done.status, 400);
    assert.match(done.body.toString(), /EntityTooLarge/);
    assert.equal((await root.send({ method: 'HEAD', path: '/pics/m.png' })).status, 404);
  });
});

describe('content sniffing', () => {
  it('refuses a PDF declared as image/png with 422 and stores nothing, on both APIs', async () => {
    const pdf = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n', 'latin1');
    const forged = await asA.from('pics').upload('forged.png', pdf, { contentType: 'image/png' });
    assert.equal(status(forged.error), 422);
    const res = await fetch(`${srv.url}/storage/v1/object/pics/forged2.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'image/png' },
      body: pdf,
    });
    assert.equal(((await res.json()) as { error: string }).error, 'FILE_CONTENT_TYPE_NOT_ALLOWED');
    const overS3 = await root.send({ method: 'PUT', path: '/pics/forged3.png', body: pdf, headers: { 'content-type': 'image/png' } });
    assert.equal(overS3.status, 422);
    assert.match(overS3.body.toString(), /ContentTypeNotAllowed/);
    for (const key of ['forged.png', 'forged2.png', 'forged3.png']) {
      assert.equal((await root.send({ method: 'HEAD', path: `/pics/${key}` })).status, 404, key);
    }
    // Nothing half-written: no blob row for the PDF's bytes, no temp file.
    const db = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
    try {
      const sha = createHash('sha256').update(pdf).digest('hex');
      assert.equal((await db`select 1 from storage.blobs where sha256 = ${sha}`).length, 0);
    } finally {
      await db.end();
    }
    assert.deepEqual(await readdir(path.join(srv.dataDir, 'tmp')), []);
    // A real PNG signature passes.
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
    assert.equal((await asA.from('pics').upload('real.png', png, { contentType: 'image/png' })).error, null);
  });

  it('refuses a PDF assembled by an S3 multipart upload declared as image/png, at Complete, with 422', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(300)]);
    const created = await root.send({ method: 'POST', path: '/pics/parts.png', query: { uploads: '' }, headers: { 'content-type': 'image/png' } });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())![1];
    const part = await root.send({ method: 'PUT', path: '/pics/parts.png', query: { partNumber: '1', uploadId }, body: pdf });
    const done = await root.send({
      method: 'POST',
      path: '/pics/parts.png',
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag as string}</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(done.status, 422);
    assert.match(done.body.toString(), /ContentTypeNotAllowed/);
    assert.equal((await root.send({ method: 'HEAD', path: '/pics/parts.png' })).status, 404);
    assert.deepEqual(await readdir(path.join(srv.dataDir, 'tmp')), []);
    // The upload is still there to abort, as after any refused Complete.
    assert.equal((await root.send({ method: 'DELETE', path: '/pics/parts.png', query: { uploadId } })).status, 204);
  });
});
