// The S3 core against a real server process on a real (embedded) Postgres.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeKey, S3RawClient, sendRaw } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValues } from './support/s3-xml.ts';
import { presign } from './support/principals.ts';

let server: TestServer;
let s3: S3RawClient;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await server?.stop();
});

const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

/** Polls until `count()` equals `want` (blob collection runs after the response). */
async function eventuallyCount(count: () => Promise<number>, want: number, message: string): Promise<void> {
  let got = await count();
  for (let i = 0; i < 50 && got !== want; i++) {
    await new Promise((r) => setTimeout(r, 50));
    got = await count();
  }
  assert.equal(got, want, message);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}

async function createBucket(name: string) {
  const res = await s3.send({ method: 'PUT', path: `/${name}` });
  assert.equal(res.status, 200, res.body.toString());
}

const put = (bucket: string, key: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/${bucket}/${encodeKey(key)}`, body, headers });
const get = (bucket: string, key: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'GET', path: `/${bucket}/${encodeKey(key)}`, headers });

describe('buckets', () => {
  it('creates, reports, lists and deletes a bucket', async () => {
    await createBucket('lifecycle');
    assert.equal((await s3.send({ method: 'HEAD', path: '/lifecycle' })).status, 200);
    const list = await s3.send({ method: 'GET', path: '/' });
    assert.ok(xmlValues(list.body.toString(), 'Name').includes('lifecycle'));
    const loc = await s3.send({ method: 'GET', path: '/lifecycle', query: { location: '' } });
    assert.match(loc.body.toString(), /<LocationConstraint[^>]*><\/LocationConstraint>|<LocationConstraint[^>]*\/>/);
    const again = await s3.send({ method: 'PUT', path: '/lifecycle' });
    assert.equal(again.status, 409);
    assert.equal(errorCode(again.body), 'BucketAlreadyOwnedByYou');
    assert.equal((await s3.send({ method: 'DELETE', path: '/lifecycle' })).status, 204);
    const gone = await s3.send({ method: 'HEAD', path: '/lifecycle' });
    assert.equal(gone.status, 404);
  });

  it('enforces naming rules and refuses to delete a non-empty bucket', async () => {
    const bad = await s3.send({ method: 'PUT', path: '/Bad_Name' });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidBucketName');
    await createBucket('nonempty');
    assert.equal((await put('nonempty', 'k', 'x')).status, 200);
    const del = await s3.send({ method: 'DELETE', path: '/nonempty' });
    assert.equal(del.status, 409);
    assert.equal(errorCode(del.body), 'BucketNotEmpty');
  });

  it('never creates a bucket implicitly', async () => {
    const res = await put('no-such-bucket', 'k', 'x');
    assert.equal(res.status, 404);
    assert.equal(errorCode(res.body), 'NoSuchBucket');
    assert.equal((await s3.send({ method: 'HEAD', path: '/no-such-bucket' })).status, 404);
  });
});

describe('objects', () => {
  before(() => createBucket('objects'));

  it('stores and returns bytes, ETag, metadata and standard headers', async () => {
    const body = randomBytes(10_000);
    const res = await put('objects', 'docs/a.bin', body, {
      'content-type': 'application/x-test',
      'content-md5': md5b64(body),
      'cache-control': 'max-age=60',
      'content-disposition': 'attachment; filename="a.bin"',
      'x-amz-meta-color': 'blue',
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers.etag, `"${md5hex(body)}"`);
    assert.ok(res.headers['x-amz-request-id']);

    const got = await get('objects', 'docs/a.bin');
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(body));
    assert.equal(got.headers['content-type'], 'application/x-test');
    assert.equal(got.headers['cache-control'], 'max-age=60');
    assert.equal(got.headers['content-disposition'], 'attachment; filename="a.bin"');
    assert.equal(got.headers['x-amz-meta-color'], 'blue');
    assert.equal(got.headers.etag, `"${md5hex(body)}"`);
    assert.ok(!Number.isNaN(Date.parse(String(got.headers['last-modified']))));

    const head = await s3.send({ method: 'HEAD', path: '/objects/docs/a.bin' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '10000');
    assert.equal(head.body.length, 0);
  });

  it('keeps non-ASCII metadata as the text the client sent (raw UTF-8 bytes, as boto3 sends them) — issue 16.6', async () => {
    const meta = { greeting: 'Grüße, é', euro: '5 € 日本', plain: 'ascii' };
    // Signed over the text (as the SDKs sign it), sent as its UTF-8 bytes: Node writes a
    // header string as latin1, so the string sent is the bytes spelled as latin1 characters.
    const signed = await s3.sign({
      method: 'PUT',
      path: '/objects/meta-utf8',
      body: 'x',
      headers: Object.fromEntries(Object.entries(meta).map(([k, v]) => [`x-amz-meta-${k}`, v])),
    });
    const asBytes = (v: string) => Buffer.from(v, 'utf8').toString('latin1');
    const wire = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, k.startsWith('x-amz-meta-') ? asBytes(v) : v]));
    // A Buffer body: Node writes the head with a string body's encoding (UTF-8), with a Buffer's as latin1.
    const res = await sendRaw(s3.base, 'PUT', signed.path, wire, Buffer.from('x'));
    assert.equal(res.status, 200, `${res.body}`);

    for (const method of ['GET', 'HEAD']) {
      const got = await s3.send({ method, path: '/objects/meta-utf8' });
      // Clients read header bytes as latin1: a value that fits goes back as those bytes (é is é,
      // not Ã©); one that does not is RFC 2047-encoded, as S3 sends non-ASCII values.
      assert.equal(got.headers['x-amz-meta-greeting'], 'Grüße, é', method);
      assert.equal(got.headers['x-amz-meta-euro'], `=?UTF-8?B?${Buffer.from('5 € 日本').toString('base64')}?=`, method);
      assert.equal(got.headers['x-amz-meta-plain'], 'ascii', method);
    }
    // Stored as that text, so a copy that replaces nothing keeps it.
    const copy = await s3.send({ method: 'PUT', path: '/objects/meta-utf8-copy', headers: { 'x-amz-copy-source': '/objects/meta-utf8' } });
    assert.equal(copy.status, 200, copy.body.toString());
    assert.equal((await get('objects', 'meta-utf8-copy')).headers['x-amz-meta-greeting'], 'Grüße, é');
  });

  it('stores Content-Encoding as sent, less only the aws-chunked token — issue 16.6', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['aws-chunked, gzip', 'gzip'],
      ['gzip,aws-chunked', 'gzip'],
      ['deflate, aws-chunked,  br', 'deflate,  br'],
      ['AWS-Chunked', undefined],
      ['deflate, gzip', 'deflate, gzip'],
      ['gzip', 'gzip'],
    ];
    for (const [sent, stored] of cases) {
      assert.equal((await put('objects', 'encoded', 'x', { 'content-encoding': sent })).status, 200, sent);
      assert.equal((await get('objects', 'encoded')).headers['content-encoding'], stored, sent);
    }
    // A multipart upload keeps its Content-Encoding the same way.
    const init = await s3.send({ method: 'POST', path: '/objects/encoded-mpu', query: { uploads: '' }, headers: { 'content-encoding': 'aws-chunked, deflate, gzip' } });
    const uploadId = xmlValues(init.body.toString(), 'UploadId')[0];
    const part = await s3.send({ method: 'PUT', path: '/objects/encoded-mpu', query: { partNumber: '1', uploadId }, body: 'y' });
    const done = await s3.send({
      method: 'POST',
      path: '/objects/encoded-mpu',
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(done.status, 200, done.body.toString());
    assert.equal((await get('objects', 'encoded-mpu')).headers['content-encoding'], 'deflate, gzip');
  });

  it('serves single ranges and refuses unsatisfiable ones', async () => {
    const body = Buffer.from('0123456789');
    await put('objects', 'range', body);
    const part = await get('objects', 'range', { range: 'bytes=2-5' });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), '2345');
    assert.equal(part.headers['content-range'], 'bytes 2-5/10');
    const tail = await get('objects', 'range', { range: 'bytes=-3' });
    assert.equal(tail.body.toString(), '789');
    const bad = await get('objects', 'range', { range: 'bytes=10-' });
    assert.equal(bad.status, 416);
    assert.equal(errorCode(bad.body), 'InvalidRange');
  });

  it('answers conditional reads: 304, 412, and HTTP precedence', async () => {
    const res = await put('objects', 'cond', 'conditional');
    const etag = String(res.headers.etag);
    const lastModified = String((await get('objects', 'cond')).headers['last-modified']);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    assert.equal((await get('objects', 'cond', { 'if-none-match': etag })).status, 304);
    assert.equal((await get('objects', 'cond', { 'if-none-match': '"other"' })).status, 200);
    assert.equal((await get('objects', 'cond', { 'if-modified-since': later })).status, 304);
    assert.equal((await get('objects', 'cond', { 'if-modified-since': earlier })).status, 200);
    const failed = await get('objects', 'cond', { 'if-match': '"other"' });
    assert.equal(failed.status, 412);
    assert.equal(errorCode(failed.body), 'PreconditionFailed');
    assert.equal((await get('objects', 'cond', { 'if-unmodified-since': earlier })).status, 412);
    // If-Match that holds wins over a failing If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert.equal((await get('objects', 'cond', { 'if-match': etag, 'if-unmodified-since': earlier })).status, 200);
    assert.equal((await get('objects', 'cond', { 'if-none-match': '"other"', 'if-modified-since': later })).status, 200);
    const head = await s3.send({ method: 'HEAD', path: '/objects/cond', headers: { 'if-none-match': etag } });
    assert.equal(head.status, 304);
  });

  it('overrides response headers from response-* parameters on signed requests', async () => {
    await put('objects', 'report.csv', 'a,b\n', { 'content-type': 'text/csv' });
    const res = await s3.send({
      method: 'GET',
      path: '/objects/report.csv',
      query: {
        'response-content-type': 'application/octet-stream',
        'response-content-disposition': 'attachment; filename="report 1.csv"',
        'response-cache-control': 'no-store',
        'response-content-language': 'en',
        'response-expires': 'Thu, 01 Dec 2094 16:00:00 GMT',
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="report 1.csv"');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['content-language'], 'en');
    assert.equal(res.headers.expires, 'Thu, 01 Dec 2094 16:00:00 GMT');
  });

  it('answers Expect: 100-continue only after the request has been checked', async () => {
    const body = randomBytes(100_000);
    /** Sends the head only, and reports what the server says before any body byte. */
    const exchange = async (bucket: string) => {
      const { path: p, headers } = await s3.sign({
        method: 'PUT',
        path: `/${bucket}/expect`,
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      });
      const socket = net.connect(Number(s3.base.port), s3.base.hostname);
      await new Promise((r) => socket.once('connect', r));
      const head = Object.entries({ ...headers, 'content-length': String(body.length), expect: '100-continue' })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.write(`PUT ${p} HTTP/1.1\r\n${head}\r\n\r\n`);
      for (let i = 0; i < 40 && !/\r\n\r\n/.test(received); i++) await new Promise((r) => setTimeout(r, 25));
      const first = received;
      if (first.startsWith('HTTP/1.1 100')) {
        socket.write(body);
        for (let i = 0; i < 80 && !/HTTP\/1.1 200/.test(received); i++) await new Promise((r) => setTimeout(r, 25));
      }
      socket.destroy();
      return { first, all: received };
    };
    const refused = await exchange('no-such-bucket');
    assert.match(refused.first, /^HTTP\/1.1 404/, 'a missing bucket is refused before the body is sent');
    assert.match(refused.first, /<Code>NoSuchBucket<\/Code>/);
    const accepted = await exchange('objects');
    assert.match(accepted.first, /^HTTP\/1.1 100 Continue/);
    assert.match(accepted.all, /HTTP\/1.1 200 OK/);
    assert.ok((await get('objects', 'expect')).body.equals(body));
  });

  it('refuses a wrong Content-MD5 with BadDigest and stores nothing', async () => {
    const res = await put('objects', 'bad-md5', 'hello', { 'content-md5': md5b64('other') });
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'BadDigest');
    assert.equal((await get('objects', 'bad-md5')).status, 404);
  });

  it('refuses a body that does not match its signed SHA-256', async () => {
    const { path: p, headers } = await s3.sign({ method: 'PUT', path: '/objects/sha-mismatch', body: 'signed body' });
    const res = await sendRaw(s3.base, 'PUT', p, { ...headers, 'content-length': '11' }, 'other body!');
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'XAmzContentSHA256Mismatch');
    assert.equal((await get('objects', 'sha-mismatch')).status, 404);
  });

  it('keeps keys exactly: spaces, plus, equals, tilde, percent, unicode, double slashes', async () => {
    const keys = ['a b', 'a+b', 'a=b', 'a~b', '100%', 'ünï/cödé ✓', 'x//y', 'dir/', 'trailing/./dot/../x'];
    for (const key of keys) {
      const res = await put('objects', key, `body of ${key}`);
      assert.equal(res.status, 200, `${key}: ${res.body}`);
      const got = await get('objects', key);
      assert.equal(got.status, 200, key);
      assert.equal(got.body.toString(), `body of ${key}`);
    }
    const list = await s3.send({ method: 'GET', path: '/objects', query: { 'list-type': '2' } });
    const listed = xmlValues(list.body.toString(), 'Key').map((k) => k.replace(/&amp;/g, '&'));
    for (const key of keys) assert.ok(listed.includes(key), key);
  });

  it('deletes idempotently', async () => {
    await put('objects', 'to-delete', 'x');
    assert.equal((await s3.send({ method: 'DELETE', path: '/objects/to-delete' })).status, 204);
    assert.equal((await s3.send({ method: 'DELETE', path: '/objects/to-delete' })).status, 204);
    const res = await get('objects', 'to-delete');
    assert.equal(res.status, 404);
    assert.equal(errorCode(res.body), 'NoSuchKey');
  });
});

describe('authentication', () => {
  it('refuses anonymous requests, unknown keys and bad signatures with S3 codes', async () => {
    const anon = await sendRaw(s3.base, 'GET', '/', {});
    assert.equal(anon.status, 403);
    assert.equal(errorCode(anon.body), 'AccessDenied');
    const stranger = new S3RawClient(server.url, { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x'.repeat(40) });
    const unknown = await stranger.send({ method: 'GET', path: '/' });
    assert.equal(unknown.status, 403);
    assert.equal(errorCode(unknown.body), 'InvalidAccessKeyId');
    const wrong = new S3RawClient(server.url, { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' });
    const bad = await wrong.send({ method: 'GET', path: '/' });
    assert.equal(bad.status, 403);
    assert.equal(errorCode(bad.body), 'SignatureDoesNotMatch');
  });

  it('serves presigned GETs until they expire', async () => {
    await createBucket('presign');
    await put('presign', 'p.txt', 'presigned');
    const { path: p } = await s3.sign({ method: 'GET', path: '/presign/p.txt', presignExpiresIn: 60 });
    const ok = await sendRaw(s3.base, 'GET', p, {});
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'presigned');
    const tampered = await sendRaw(s3.base, 'GET', p.replace('p.txt', 'q.txt'), {});
    assert.equal(tampered.status, 403);
    assert.equal(errorCode(tampered.body), 'SignatureDoesNotMatch');
  });

  it('refuses unusable X-Amz-Expires and expired URLs with S3’s answers — issue 16.6', async () => {
    const { path: p } = await s3.sign({ method: 'GET', path: '/presign/p.txt', presignExpiresIn: 60 });
    const withExpires = (value: string) => p.replace('X-Amz-Expires=60', `X-Amz-Expires=${encodeURIComponent(value)}`);
    const cases: Array<[string, string]> = [
      ['604801', 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds'],
      ['-1', 'X-Amz-Expires must be non-negative'],
      ['abc', 'X-Amz-Expires should be a number'],
      ['0', 'X-Amz-Expires must be at least 1 second'],
    ];
    for (const [value, message] of cases) {
      const res = await sendRaw(s3.base, 'GET', withExpires(value), {});
      assert.equal(res.status, 400, `${value}: ${res.body}`);
      assert.equal(errorCode(res.body), 'AuthorizationQueryParametersError', value);
      assert.equal(xmlValues(res.body.toString(), 'Message')[0], message, value);
    }
    const old = await presign(server.url, server, { method: 'GET', path: '/presign/p.txt' }, { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const expired = await sendRaw(s3.base, 'GET', old.path, old.headers);
    assert.equal(expired.status, 403);
    assert.equal(errorCode(expired.body), 'AccessDenied');
    assert.equal(xmlValues(expired.body.toString(), 'Message')[0], 'Request has expired');
    assert.equal(xmlValues(expired.body.toString(), 'X-Amz-Expires')[0], '60');
  });

  it('verifies every chunk signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body', async () => {
    await createBucket('chunked');
    const data = randomBytes(70_000);
    const build = async (tamper: boolean) => {
      const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      const headers = {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-decoded-content-length': String(data.length),
        'content-encoding': 'aws-chunked',
        'x-amz-date': amzDate,
      };
      const signed = await s3.sign({ method: 'PUT', path: '/chunked/obj', headers });
      const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)![1];
      const day = amzDate.slice(0, 8);
      const scope = `${day}/us-east-1/s3/aws4_request`;
      let key: Buffer = createHmac('sha256', 'AWS4' + server.secretAccessKey).update(day).digest();
      for (const part of ['us-east-1', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      let prev = seed;
      const pieces: Buffer[] = [];
      for (const chunk of [data.subarray(0, 65536), data.subarray(65536), Buffer.alloc(0)]) {
        const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, prev, sha(Buffer.alloc(0)), sha(chunk)].join('\n');
        prev = createHmac('sha256', key).update(toSign).digest('hex');
        const sent = tamper && chunk.length > 0 && chunk.length < 65536 ? Buffer.from(chunk).fill(1, 0, 1) : chunk;
        pieces.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${prev}\r\n`), sent, Buffer.from('\r\n'));
      }
      const body = Buffer.concat(pieces);
      return sendRaw(s3.base, 'PUT', signed.path, { ...signed.headers, 'content-length': String(body.length) }, body);
    };
    const ok = await build(false);
    assert.equal(ok.status, 200, ok.body.toString());
    const got = await get('chunked', 'obj');
    assert.ok(got.body.equals(data));
    const tampered = await build(true);
    assert.equal(tampered.status, 403);
    assert.equal(errorCode(tampered.body), 'SignatureDoesNotMatch');
    assert.ok((await get('chunked', 'obj')).body.equals(data), 'the refused upload left the old object intact');
  });
});

describe('content-addressed blobs', () => {
  before(() => createBucket('dedup'));

  it('stores identical content once, and releases blobs on overwrite and delete', async () => {
    const blobs = path.join(server.dataDir, 'blobs');
    const count = async () => (await filesUnder(blobs)).length;
    const before = await count();
    const content = randomBytes(50_000);
    await put('dedup', 'one', content);
    await put('dedup', 'two', content);
    assert.equal(await count(), before + 1, 'two keys, same bytes: one blob file');

    await put('dedup', 'one', randomBytes(1000));
    assert.equal(await count(), before + 2, 'overwriting one key keeps the shared blob');
    await put('dedup', 'two', randomBytes(1000));
    await eventuallyCount(count, before + 2, 'the last reference gone: the old blob is removed');

    await s3.send({ method: 'DELETE', path: '/dedup/one' });
    await s3.send({ method: 'DELETE', path: '/dedup/two' });
    await eventuallyCount(count, before, 'deleting both keys removes their blobs');
  });

  it('never loses content that a concurrent upload claims while its last reference is deleted', async () => {
    // Each round: key "old" holds X alone; then, at once, "old" is deleted
    // (its blob drops to zero and is collected) while "new" is written with
    // the same bytes X. Whatever the interleaving, "new" must read back whole.
    for (let round = 0; round < 25; round++) {
      const content = randomBytes(20_000 + round);
      assert.equal((await put('dedup', `race/old-${round}`, content)).status, 200);
      const [del, created] = await Promise.all([
        s3.send({ method: 'DELETE', path: `/dedup/race/old-${round}` }),
        put('dedup', `race/new-${round}`, content),
      ]);
      assert.equal(del.status, 204);
      assert.equal(created.status, 200);
      const got = await get('dedup', `race/new-${round}`);
      assert.equal(got.status, 200, `round ${round}`);
      assert.ok(got.body.equals(content), `round ${round}: bytes intact`);
    }
  });

  it('leaves no object, blob or temp file when the client disconnects mid-upload', async () => {
    const blobs = path.join(server.dataDir, 'blobs');
    const tmp = path.join(server.dataDir, 'tmp');
    const blobsBefore = (await filesUnder(blobs)).length;
    const { path: p, headers } = await s3.sign({
      method: 'PUT',
      path: '/dedup/cut-off',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const socket = net.connect(Number(s3.base.port), s3.base.hostname);
    await new Promise((r) => socket.once('connect', r));
    const head = Object.entries({ ...headers, 'content-length': String(10 * 1024 * 1024) })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n');
    socket.write(`PUT ${p} HTTP/1.1\r\n${head}\r\n\r\n`);
    socket.write(randomBytes(1024 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await filesUnder(tmp)).length, 1, 'the upload is being staged');
    socket.destroy();
    // The server notices the reset and cleans up.
    for (let i = 0; i < 50 && (await filesUnder(tmp)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await filesUnder(tmp), []);
    await eventuallyCount(async () => (await filesUnder(blobs)).length, blobsBefore, 'no blob left behind');
    assert.equal((await get('dedup', 'cut-off')).status, 404);
  });
});

describe('malformed requests', () => {
  before(() => createBucket('hostile'));

  it('answers each with an S3 error, 4xx, and keeps serving', async () => {
    const long = 'k'.repeat(1025);
    const cases: Array<{ name: string; req: () => Promise<{ status: number; body: Buffer }>; code: string }> = [
      { name: 'key over 1,024 bytes', req: () => put('hostile', long, 'x'), code: 'KeyTooLongError' },
      { name: 'NUL in the key', req: () => s3.send({ method: 'PUT', path: '/hostile/a%00b', body: 'x' }), code: 'InvalidArgument' },
      { name: 'invalid UTF-8 in the path', req: () => s3.send({ method: 'GET', path: '/hostile/%C3%28' }), code: 'InvalidURI' },
      { name: 'garbage Authorization', req: () => sendRaw(s3.base, 'GET', '/hostile', { authorization: 'AWS4-HMAC-SHA256 garbage' }), code: 'AuthorizationHeaderMalformed' },
      { name: 'SigV2 Authorization without a date', req: () => sendRaw(s3.base, 'GET', '/hostile', { authorization: 'AWS AKID:c2ln' }), code: 'AccessDenied' },
      { name: 'SigV2 Authorization without a signature', req: () => sendRaw(s3.base, 'GET', '/hostile', { authorization: 'AWS AKID', date: new Date().toUTCString() }), code: 'InvalidArgument' },
      {
        name: 'malformed Content-MD5',
        req: () => put('hostile', 'md5', 'x', { 'content-md5': 'not-base64!' }),
        code: 'InvalidDigest',
      },
      {
        name: 'aws-chunked body with broken framing',
        req: async () => {
          const { path: p, headers } = await s3.sign({
            method: 'PUT',
            path: '/hostile/chunked',
            headers: {
              'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
              'content-encoding': 'aws-chunked',
              'x-amz-decoded-content-length': '5',
            },
          });
          const body = 'zz\r\nhello\r\n0\r\n\r\n';
          return sendRaw(s3.base, 'PUT', p, { ...headers, 'content-length': String(body.length) }, body);
        },
        code: 'IncompleteBody',
      },
      {
        name: 'unknown checksum algorithm',
        req: () => put('hostile', 'ck', 'x', { 'x-amz-checksum-md4': 'AAAA' }),
        code: 'InvalidRequest',
      },
      { name: 'malformed bucket XML', req: () => s3.send({ method: 'PUT', path: '/hostile2', body: '<CreateBucketConfiguration><Loc' }), code: 'MalformedXML' },
      {
        name: 'XML with an entity declaration',
        req: () =>
          s3.send({
            method: 'PUT',
            path: '/hostile3',
            body: '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CreateBucketConfiguration>&e;</CreateBucketConfiguration>',
          }),
        code: 'MalformedXML',
      },
    ];
    for (const c of cases) {
      const res = await c.req();
      assert.ok(res.status >= 400 && res.status < 500, `${c.name}: status ${res.status}`);
      assert.equal(errorCode(res.body), c.code, `${c.name}: ${res.body}`);
    }
    assert.equal((await s3.send({ method: 'GET', path: '/' })).status, 200, 'still serving');
    assert.equal((await s3.send({ method: 'HEAD', path: '/hostile2' })).status, 404, 'no bucket made from bad XML');
    assert.equal((await get('hostile', 'chunked')).status, 404, 'nothing stored from a broken body');
  });
});

describe('listing', () => {
  const keys = [
    'a.txt', 'b/1', 'b/2', 'b/c/1', 'b/c/2', 'b/d/1', 'b/e', 'c/1', 'c/2/3', 'd', 'e/', 'e/1', 'f+g/1', 'f g/1', 'ü/1', 'z',
  ].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

  before(async () => {
    await createBucket('listing');
    for (const key of keys) await put('listing', key, key);
  });

  /** What S3 should answer for a full listing: keys and common prefixes in byte order. */
  function expected(prefix: string, delimiter: string): string[] {
    const out: string[] = [];
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const i = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const entry = i >= 0 ? 'P:' + key.slice(0, i + delimiter.length) : 'K:' + key;
      if (out[out.length - 1] !== entry) out.push(entry);
    }
    return out;
  }

  async function listAllV2(prefix: string, delimiter: string, maxKeys: number): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100; page++) {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(maxKeys) };
      if (delimiter) query.delimiter = delimiter;
      if (token) query['continuation-token'] = token;
      const res = await s3.send({ method: 'GET', path: '/listing', query });
      assert.equal(res.status, 200, res.body.toString());
      const xml = res.body.toString();
      const entries = [
        ...xmlValues(xml, 'Key').map((k) => 'K:' + k),
        ...[...xml.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map((m) => 'P:' + m[1]),
      ].sort((x, y) => Buffer.compare(Buffer.from(x.slice(2)), Buffer.from(y.slice(2))));
      assert.ok(entries.length <= maxKeys);
      assert.equal(Number(xmlValues(xml, 'KeyCount')[0]), entries.length);
      out.push(...entries);
      const truncated = xmlValues(xml, 'IsTruncated')[0] === 'true';
      token = xmlValues(xml, 'NextContinuationToken')[0];
      if (!truncated) {
        assert.equal(token, undefined);
        return out;
      }
      assert.ok(token, 'a truncated page carries a continuation token');
    }
    assert.fail('listing did not end');
  }

  it('pages through keys and common prefixes at every page size, in byte order', async () => {
    for (const [prefix, delimiter] of [['', ''], ['', '/'], ['b/', '/'], ['b/', ''], ['b/c', '/'], ['f', '/'], ['nothing', '/']]) {
      const want = expected(prefix, delimiter);
      for (let maxKeys = 1; maxKeys <= want.length + 1; maxKeys++) {
        assert.deepEqual(await listAllV2(prefix, delimiter, maxKeys), want, `prefix=${prefix} delimiter=${delimiter} max-keys=${maxKeys}`);
      }
    }
  });

  it('honours start-after, V1 markers and url encoding', async () => {
    const res = await s3.send({ method: 'GET', path: '/listing', query: { 'list-type': '2', 'start-after': 'b/c/2', delimiter: '/', prefix: 'b/' } });
    assert.deepEqual(xmlValues(res.body.toString(), 'Key'), ['b/e']);
    assert.deepEqual([...res.body.toString().matchAll(/<Prefix>(b\/[^<]+)<\/Prefix>/g)].map((m) => m[1]), ['b/d/']);

    const v1 = await s3.send({ method: 'GET', path: '/listing', query: { delimiter: '/', 'max-keys': '3' } });
    const xml = v1.body.toString();
    assert.equal(xmlValues(xml, 'IsTruncated')[0], 'true');
    assert.equal(xmlValues(xml, 'NextMarker')[0], 'c/');
    const next = await s3.send({ method: 'GET', path: '/listing', query: { delimiter: '/', marker: 'c/' } });
    assert.deepEqual(xmlValues(next.body.toString(), 'Key'), ['d', 'z']);

    const enc = await s3.send({ method: 'GET', path: '/listing', query: { 'list-type': '2', prefix: 'f', 'encoding-type': 'url' } });
    assert.deepEqual(xmlValues(enc.body.toString(), 'Key'), ['f%20g/1', 'f%2Bg/1']);
  });

  it('applies encoding-type=url (any case) to every field S3 encodes, in V1, V2, ListObjectVersions and ListMultipartUploads — issue 16.6', async () => {
    const listing = (query: Record<string, string>) => s3.send({ method: 'GET', path: '/listing', query }).then((r) => r.body.toString());
    const v1 = await listing({ 'encoding-type': 'URL', prefix: 'f ', delimiter: '/', marker: 'f ', 'max-keys': '1' });
    assert.equal(xmlValues(v1, 'EncodingType')[0], 'url');
    assert.deepEqual(['Prefix', 'Marker', 'Delimiter'].map((t) => xmlValues(v1, t)[0]), ['f%20', 'f%20', '/']);
    assert.deepEqual(xmlValues(v1, 'Prefix').slice(1), ['f%20g/'], 'common prefixes');
    const v1b = await listing({ 'encoding-type': 'url', prefix: 'f', delimiter: '/', 'max-keys': '1' });
    assert.equal(xmlValues(v1b, 'NextMarker')[0], 'f%20g/');
    const v2 = await listing({ 'list-type': '2', 'encoding-type': 'url', prefix: 'ü', delimiter: '/', 'start-after': 'f+g/1' });
    assert.deepEqual(['Prefix', 'StartAfter', 'Delimiter'].map((t) => xmlValues(v2, t)[0]), ['%C3%BC', 'f%2Bg/1', '/']);
    assert.deepEqual(xmlValues(v2, 'Prefix').slice(1), ['%C3%BC/']);
    const versions = await listing({ versions: '', 'encoding-type': 'url', prefix: 'f', 'key-marker': 'e 1', 'max-keys': '1' });
    assert.deepEqual(['Prefix', 'KeyMarker', 'NextKeyMarker', 'Key'].map((t) => xmlValues(versions, t)[0]), ['f', 'e%201', 'f%20g/1', 'f%20g/1']);
    const init = await s3.send({ method: 'POST', path: '/listing/f%20upload%2B1', query: { uploads: '' } });
    assert.equal(init.status, 200);
    const uploads = await listing({ uploads: '', 'encoding-type': 'url', prefix: 'f ', delimiter: '+', 'key-marker': 'f a' });
    assert.deepEqual(['Prefix', 'KeyMarker', 'Delimiter'].map((t) => xmlValues(uploads, t)[0]), ['f%20', 'f%20a', '%2B']);
    assert.deepEqual(xmlValues(uploads, 'Prefix').slice(1), ['f%20upload%2B']);
    const bad = await s3.send({ method: 'GET', path: '/listing', query: { 'encoding-type': 'base64' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    // An empty continuation-token is refused as S3 refuses it.
    const empty = await s3.send({ method: 'GET', path: '/listing', query: { 'list-type': '2', 'continuation-token': '' } });
    assert.equal(empty.status, 400);
    assert.equal(xmlValues(empty.body.toString(), 'Message')[0], 'The continuation token provided is incorrect');
  });

  it('validates max-keys and continuation tokens', async () => {
    const bad = await s3.send({ method: 'GET', path: '/listing', query: { 'list-type': '2', 'max-keys': 'ten' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    const token = await s3.send({ method: 'GET', path: '/listing', query: { 'list-type': '2', 'continuation-token': 'garbage' } });
    assert.equal(token.status, 400);
  });
});
