// The File Storage Blueprint's contract (issue 15): the file record after
// each kind of upload (filename from each source), GET /storage/v1/file with
// presigned URLs, SQL's storage.files view under row-level security, and the
// file.* events over SSE and a webhook, field by field.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { connectAsApplication, embeddedDatabaseUrl } from './support/database.ts';
import { postForm, signPostPolicy } from './support/post-policy.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { openEventStream, type SseStream } from './support/sse.ts';

const SECRET = 'blueprint-test-secret-0123456789abcdefgh';
const A = randomUUID();
const B = randomUUID();
let srv: TestServer;
let s3: S3RawClient;
let superuser: postgres.Sql;
let app: postgres.Sql;
let tokenA: string;
let tokenB: string;
let asA: StorageClient;
const streams: SseStream[] = [];

const jwt = (sub: string) =>
  new SignJWT({ sub, role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const serviceJwt = () =>
  new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const RECORD_FIELDS = [
  'bucket',
  'checksum_sha256',
  'content_type',
  'file_id',
  'filename',
  'key',
  'scan_status',
  'size_bytes',
  'storage_provider',
  'uploaded_at',
  'uploaded_by',
];

interface FileRecord {
  file_id: string;
  bucket: string;
  key: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  checksum_sha256: string;
  storage_provider: string;
  upload_url?: string;
  download_url?: string;
  uploaded_by: string | null;
  uploaded_at: string;
  scan_status: string;
}

async function fileRecord(bucket: string, key: string, token = tokenA, query = ''): Promise<FileRecord> {
  const res = await fetch(`${srv.url}/storage/v1/file/${bucket}/${key}${query}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as FileRecord;
}

/** Every field of a record, its id and time checked for shape. */
function assertRecord(r: FileRecord, expected: Omit<FileRecord, 'file_id' | 'uploaded_at' | 'storage_provider' | 'scan_status'>): void {
  assert.deepEqual(Object.keys(r).filter((k) => !k.endsWith('_url')).sort(), RECORD_FIELDS);
  assert.match(r.file_id, /^[0-9a-f-]{36}$/);
  assert.ok(Math.abs(Date.parse(r.uploaded_at) - Date.now()) < 60_000, r.uploaded_at);
  const { file_id: _id, uploaded_at: _at, upload_url: _u, download_url: _d, ...rest } = r;
  // No scanner is configured: content waits as pending for one (README "Virus scanning").
  assert.deepEqual(rest, { ...expected, storage_provider: 'local', scan_status: 'pending' });
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_MASTER_KEY: randomBytes(32).toString('base64') } });
  s3 = new S3RawClient(srv.url, srv);
  superuser = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  app = await connectAsApplication(superuser, srv.dataDir, 'blueprint_app');
  tokenA = await jwt(A);
  tokenB = await jwt(B);
  asA = new StorageClient(`${srv.url}/storage/v1`, { apikey: tokenA, Authorization: `Bearer ${tokenA}` });
  const bucket = await fetch(`${srv.url}/storage/v1/bucket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'files', public: false, download_events: true }),
  });
  assert.equal(bucket.status, 200, await bucket.text());
  assert.equal((await s3.send({ method: 'PUT', path: '/s3files' })).status, 200);
});

after(async () => {
  for (const s of streams) s.close();
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await srv?.stop();
});

describe('the file record', () => {
  it('after an S3 PutObject: the filename of its Content-Disposition, else the key’s last segment', async () => {
    const put = await s3.send({
      method: 'PUT',
      path: '/s3files/reports/2026/q4.bin',
      headers: { 'content-type': 'application/pdf', 'content-disposition': `attachment; filename="old.pdf"; filename*=UTF-8''Q4%20r%C3%A9sum%C3%A9.pdf` },
      body: 'pdf-bytes',
    });
    assert.equal(put.status, 200);
    // The root key writes as the service role: no uploader id.
    const serviceToken = await serviceJwt();
    assertRecord(await fileRecord('s3files', 'reports/2026/q4.bin', serviceToken), {
      bucket: 's3files',
      key: 'reports/2026/q4.bin',
      filename: 'Q4 résumé.pdf',
      content_type: 'application/pdf',
      size_bytes: 9,
      checksum_sha256: sha256('pdf-bytes'),
      uploaded_by: null,
    });
    assert.equal((await s3.send({ method: 'PUT', path: '/s3files/plain/notes.txt', body: 'n' })).status, 200);
    const plain = await fileRecord('s3files', 'plain/notes.txt', serviceToken);
    assert.equal(plain.filename, 'notes.txt');
    // S3 stores an object without a type as binary/octet-stream's absence; the record names the default.
    assert.equal(plain.content_type, 'application/octet-stream');
  });

  it('after an S3 POST form upload: the form part’s filename', async () => {
    const signed = signPostPolicy({ accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, conditions: [{ bucket: 's3files' }, ['starts-with', '$key', 'forms/']] });
    const form = postForm({ key: 'forms/${filename}-copy' }, signed, { data: 'form-bytes', filename: 'C:\\Users\\me\\holiday.jpg', type: 'image/jpeg' });
    const res = await fetch(`${srv.url}/s3files`, { method: 'POST', body: form });
    assert.equal(res.status, 204, await res.text());
    const record = await fileRecord('s3files', 'forms/holiday.jpg-copy', await serviceJwt());
    assert.equal(record.filename, 'holiday.jpg');
    assert.equal(record.size_bytes, 10);
  });

  it('after /storage/v1 uploads: a File’s name, a raw body’s Content-Disposition, the key for a nameless Blob', async () => {
    const named = await asA.from('files').upload('docs/a1', new File(['named file'], 'Annual Report.docx', { type: 'text/plain' }));
    assert.equal(named.error, null);
    assertRecord(await fileRecord('files', 'docs/a1'), {
      bucket: 'files',
      key: 'docs/a1',
      filename: 'Annual Report.docx',
      content_type: 'text/plain',
      size_bytes: 10,
      checksum_sha256: sha256('named file'),
      uploaded_by: A,
    });
    const raw = await fetch(`${srv.url}/storage/v1/object/files/docs/raw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="data.csv"' },
      body: 'a,b',
    });
    assert.equal(raw.status, 200);
    // The upload's answer carries the record too.
    const answer = (await raw.json()) as { file: FileRecord };
    assert.equal(answer.file.filename, 'data.csv');
    assert.equal((await fileRecord('files', 'docs/raw')).filename, 'data.csv');
    assert.equal((await asA.from('files').upload('docs/blob.bin', new Blob(['x']))).error, null);
    assert.equal((await fileRecord('files', 'docs/blob.bin')).filename, 'blob.bin');
  });

  it('is refused to a principal that may not read the object, as its download is', async () => {
    const headers = { authorization: `Bearer ${tokenB}` };
    const res = await fetch(`${srv.url}/storage/v1/file/files/docs/a1`, { headers });
    const download = await fetch(`${srv.url}/storage/v1/object/authenticated/files/docs/a1`, { headers });
    assert.ok(res.status === 403 || res.status === 404, String(res.status));
    assert.deepEqual([res.status, await res.json()], [download.status, await download.json()]);
  });

  it('hands out presigned URLs on request: download_url as an attachment under the original name, upload_url replacing the file; 3600 s by default', async () => {
    const r = await fileRecord('files', 'docs/a1', tokenA, '?urls=download,upload');
    assert.ok(r.download_url && r.upload_url);
    assert.ok(r.download_url.startsWith(`${srv.url}/storage/v1/object/sign/files/docs/a1?token=`), r.download_url);
    const token = new URL(r.download_url).searchParams.get('token')!;
    const { exp } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { exp: number };
    assert.ok(Math.abs(exp - Date.now() / 1000 - 3600) < 30, `expires in ${exp - Date.now() / 1000} s`);
    const got = await fetch(r.download_url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-disposition'), `attachment; filename*=UTF-8''Annual%20Report.docx`);
    assert.equal(await got.text(), 'named file');
    const replaced = await fetch(r.upload_url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="Annual Report v2.docx"' },
      body: 'new content',
    });
    assert.equal(replaced.status, 200, await replaced.clone().text());
    assert.equal((await fileRecord('files', 'docs/a1')).checksum_sha256, sha256('new content'));
    const bad = await fetch(`${srv.url}/storage/v1/file/files/docs/a1?urls=thumbnail`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(bad.status, 400);
  });

  it('createSignedUrl’s answer carries the record with its download_url', async () => {
    const res = await fetch(`${srv.url}/storage/v1/object/sign/files/docs/raw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await res.json()) as { url: string; file: FileRecord };
    assert.equal(body.file.download_url, `/storage/v1${body.url}`);
    assert.equal(body.file.filename, 'data.csv');
  });

  it('is a SQL view, storage.files, under the objects table’s row-level security', async () => {
    const as = (sub: string) =>
      app.begin(async (tx) => {
        await tx.unsafe('set local role aerostore_authenticated');
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub, role: 'authenticated' })}, true)`;
        return tx<FileRecord[]>`select * from storage.files where bucket = 'files' order by key`;
      });
    const mine = await as(A);
    assert.deepEqual(
      mine.map((f) => [f.key, f.filename, f.uploaded_by, Number(f.size_bytes)]),
      [
        ['docs/a1', 'Annual Report v2.docx', A, 11],
        ['docs/blob.bin', 'blob.bin', A, 1],
        ['docs/raw', 'data.csv', A, 3],
      ],
    );
    assert.deepEqual([...(await as(B))], []);
  });
});

describe('the file.* events', () => {
  it('streams the blueprint’s vocabulary over SSE with ?format=blueprint, field by field', async () => {
    const s = await openEventStream(`${srv.url}/storage/v1/events?bucket=files&prefix=ev/&format=blueprint`, { authorization: `Bearer ${tokenA}` });
    streams.push(s);
    assert.equal(s.status, 200);
    assert.equal((await asA.from('files').upload('ev/report.txt', new File(['report'], 'Report.txt', { type: 'text/plain' }))).error, null);
    const uploaded = await s.next();
    const up = JSON.parse(uploaded.data) as { id: number; type: string; bucket: string; key: string; data: Record<string, unknown> };
    assert.equal(uploaded.event, 'file.uploaded');
    assert.equal(up.type, 'file.uploaded');
    assert.deepEqual([up.bucket, up.key], ['files', 'ev/report.txt']);
    const fileId = up.data.file_id as string;
    assert.deepEqual(up.data, { file_id: fileId, filename: 'Report.txt', content_type: 'text/plain', size_bytes: 6, uploaded_by: A });

    assert.equal((await asA.from('files').download('ev/report.txt')).error, null);
    const downloaded = await s.next(5000); // download events are written in batches, once a second
    assert.equal(downloaded.event, 'file.downloaded');
    assert.deepEqual(JSON.parse(downloaded.data).data, { file_id: fileId, downloaded_by: A });

    assert.equal((await asA.from('files').remove(['ev/report.txt'])).error, null);
    const deleted = await s.next();
    assert.equal(deleted.event, 'file.deleted');
    assert.deepEqual(JSON.parse(deleted.data).data, { file_id: fileId, filename: 'Report.txt', deleted_by: A });
    // Unknown names in this vocabulary are refused.
    const bad = await fetch(`${srv.url}/storage/v1/events?format=blueprint&type=storage.object.created`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(bad.status, 400);
  });

  it('maps scan verdicts: file.scanned (scan_status, scan_engine) and file.quarantined (threat_name, uploaded_by)', async () => {
    // The mapping is SQL's (migration 0016): applied here to rows shaped as the scanner writes them.
    const rows = [
      { seq: 5, type: 'storage.object.scanned', bucket: 'files', key: 'k', object_id: A, owner_id: A, payload: { verdict: 'clean', engine: 'ClamAV 1.4' }, created_at: new Date().toISOString() },
      { seq: 6, type: 'storage.object.quarantined', bucket: 'files', key: 'k', object_id: A, owner_id: A, payload: { verdict: 'infected', signature: 'Eicar-Test-Signature', engine: 'ClamAV 1.4' }, created_at: new Date().toISOString() },
    ];
    const [scanned, quarantined] = await superuser<{ json: { type: string; data: unknown } }[]>`
      select storage.blueprint_event_json(jsonb_populate_record(null::storage.events, x)) as json
      from jsonb_array_elements(${superuser.json(rows)}) with ordinality as r(x, n) order by n`;
    assert.deepEqual([scanned.json.type, scanned.json.data], ['file.scanned', { file_id: A, scan_status: 'clean', scan_engine: 'ClamAV 1.4' }]);
    assert.deepEqual([quarantined.json.type, quarantined.json.data], ['file.quarantined', { file_id: A, threat_name: 'Eicar-Test-Signature', uploaded_by: A }]);
  });

  it('delivers the same events to a webhook subscribed with format: blueprint', async () => {
    const bodies: Array<{ type: string; data: Record<string, unknown> }> = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await s3.send({
        method: 'POST',
        path: '/admin/v1/webhooks',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bucket: 'files', url, format: 'blueprint', event_types: ['file.uploaded', 'file.deleted'] }),
      });
      assert.equal(created.status, 201, created.body.toString());
      assert.equal(JSON.parse(created.body.toString()).format, 'blueprint');
      const refused = await s3.send({
        method: 'POST',
        path: '/admin/v1/webhooks',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bucket: 'files', url, format: 'blueprint', event_types: ['storage.object.created'] }),
      });
      assert.equal(refused.status, 400);

      assert.equal((await asA.from('files').upload('hook/x.txt', new File(['hook'], 'x.txt', { type: 'text/plain' }))).error, null);
      assert.equal((await asA.from('files').download('hook/x.txt')).error, null); // not subscribed
      assert.equal((await asA.from('files').remove(['hook/x.txt'])).error, null);
      const deadline = Date.now() + 15_000;
      while (bodies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500)); // nothing else comes (the download's batch included)
      assert.deepEqual(
        bodies.map((b) => b.type),
        ['file.uploaded', 'file.deleted'],
      );
      const fileId = bodies[0].data.file_id;
      assert.deepEqual(bodies[0].data, { file_id: fileId, filename: 'x.txt', content_type: 'text/plain', size_bytes: 4, uploaded_by: A });
      assert.deepEqual(bodies[1].data, { file_id: fileId, filename: 'x.txt', deleted_by: A });
    } finally {
      receiver.close();
    }
  });
});
