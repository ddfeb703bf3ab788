// Encryption at rest, SSE-S3 (issue 20, step 2), against a real server
// started with AEROSTORE_ENCRYPTION=on: no plaintext on disk after uploads
// through both APIs (blobs, parts, temp files while a body streams in),
// ranged reads byte-exact across 64 KiB chunk boundaries, a flipped byte
// failing the read, deduplication kept, the response headers S3 sends; and
// a data directory written with encryption off still read after restarting
// with it on (mixed plaintext and sealed blobs).
//
// The walk for the marker covers the whole data directory, the embedded
// Postgres cluster under pg/ included: the marker is only ever in bodies,
// which no table row holds, so it must not be found anywhere.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { encodeKey, S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { xmlValues } from './support/s3-xml.ts';

const SECRET = 'encryption-test-secret-0123456789abcdef';
const CHUNK = 64 * 1024;
const SSE = 'x-amz-server-side-encryption';
/** A string no one else writes: it must never reach the disk in the clear. */
const MARKER = `plaintext-marker-${randomUUID()}`;

/** `size` bytes of random data with the marker every 1000 bytes (whichever window a file shows, it holds the marker). */
function marked(size: number): Buffer {
  const b = randomBytes(size);
  for (let at = 0; at + MARKER.length <= size; at += 1000) b.write(MARKER, at, 'latin1');
  return b;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Every file under `dir` that holds the marker (read whole; the test's data directory is small). */
async function filesWithMarker(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const f of await filesUnder(dir)) {
    const bytes = await readFile(f).catch(() => undefined);
    if (bytes?.includes(MARKER, 0, 'latin1')) found.push(f);
  }
  return found;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}

describe('encryption at rest on (AEROSTORE_ENCRYPTION=on)', () => {
  let srv: TestServer;
  let s3: S3RawClient;
  let storage: StorageClient;
  const put = (bucket: string, key: string, body: Buffer, headers: Record<string, string> = {}) =>
    s3.send({ method: 'PUT', path: `/${bucket}/${encodeKey(key)}`, body, headers });
  const get = (bucket: string, key: string, headers: Record<string, string> = {}) =>
    s3.send({ method: 'GET', path: `/${bucket}/${encodeKey(key)}`, headers });

  before(async () => {
    srv = await startTestServer({ env: { AEROSTORE_ENCRYPTION: 'on', AEROSTORE_JWT_SECRET: SECRET } });
    s3 = new S3RawClient(srv.url, srv);
    for (const b of ['sealed', 'dedup', 'flip']) assert.equal((await s3.send({ method: 'PUT', path: `/${b}` })).status, 200);
    const token = await jwt({ sub: randomUUID(), role: 'authenticated' });
    storage = new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });
    assert.equal((await storage.createBucket('native')).error, null);
  });
  after(async () => {
    if (process.env.AEROSTORE_TEST_LOG) console.error(srv?.log());
    await srv?.stop();
  });

  it('PUT, multipart and /storage/v1 uploads leave no plaintext anywhere under the data directory', async () => {
    const single = marked(200_000);
    const res = await put('sealed', 'single.bin', single);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers[SSE], 'AES256', 'PutObject reports SSE-S3');

    // Multipart: parts stay on disk (sealed) until completion; look while they are there too.
    const init = await s3.send({ method: 'POST', path: '/sealed/multi.bin', query: { uploads: '' }, headers: { [SSE]: 'AES256' } });
    assert.equal(init.status, 200, init.body.toString());
    assert.equal(init.headers[SSE], 'AES256');
    const uploadId = xmlValues(init.body.toString(), 'UploadId')[0];
    const parts = [marked(5 * 1024 * 1024), marked(300_001)];
    const etags: string[] = [];
    for (const [i, body] of parts.entries()) {
      const up = await s3.send({ method: 'PUT', path: '/sealed/multi.bin', query: { partNumber: String(i + 1), uploadId }, body });
      assert.equal(up.status, 200, up.body.toString());
      assert.equal(up.headers[SSE], 'AES256');
      etags.push(up.headers.etag as string);
    }
    assert.deepEqual(await filesWithMarker(srv.dataDir), [], 'part files are sealed');
    const complete = await s3.send({
      method: 'POST',
      path: '/sealed/multi.bin',
      query: { uploadId },
      body: `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
    });
    assert.equal(complete.status, 200, complete.body.toString());
    assert.equal(complete.headers[SSE], 'AES256');

    // /storage/v1, streamed: while the body is half in, the temp file holds only sealed bytes.
    const native = marked(600_000);
    let release!: () => void;
    const halfway = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const halfIn = new Promise<void>((r) => (reached = r));
    async function* body() {
      yield native.subarray(0, 300_000);
      reached();
      await halfway;
      yield native.subarray(300_000);
    }
    const upload = storage.from('native').upload('streamed.bin', Readable.from(body()), { contentType: 'application/octet-stream', duplex: 'half' });
    await halfIn;
    await new Promise((r) => setTimeout(r, 500));
    const tmp = await filesUnder(path.join(srv.dataDir, 'tmp'));
    const midway = await filesWithMarker(srv.dataDir);
    release();
    assert.equal((await upload).error, null);
    assert.deepEqual(midway, [], `no plaintext while the upload streams in (temp files then: ${tmp.length})`);

    assert.deepEqual(await filesWithMarker(srv.dataDir), [], 'blobs, parts, temp files and the database hold no plaintext');

    // And every one reads back whole, at its plaintext size.
    const got = await get('sealed', 'single.bin');
    assert.equal(got.status, 200);
    assert.equal(got.headers[SSE], 'AES256');
    assert.equal(got.headers['content-length'], String(single.length));
    assert.ok(got.body.equals(single));
    const head = await s3.send({ method: 'HEAD', path: '/sealed/single.bin' });
    assert.equal(head.headers[SSE], 'AES256');
    assert.equal(head.headers['content-length'], String(single.length), 'HEAD reports the plaintext size');
    const multi = await get('sealed', 'multi.bin');
    assert.ok(multi.body.equals(Buffer.concat(parts)), 'the multipart object reads back whole');
    const down = await storage.from('native').download('streamed.bin');
    assert.ok(Buffer.from(await down.data!.arrayBuffer()).equals(native));
    const list = await s3.send({ method: 'GET', path: '/sealed', query: { 'list-type': '2' } });
    assert.deepEqual(xmlValues(list.body.toString(), 'Size').map(Number).sort((a, b) => a - b), [single.length, parts[0].length + parts[1].length]);
  });

  it('Range GETs are byte-exact across chunk boundaries', async () => {
    const content = marked(3 * CHUNK + 12_345);
    assert.equal((await put('sealed', 'ranges.bin', content)).status, 200);
    const ranges: Array<[number, number]> = [
      [0, 0],
      [CHUNK - 1, CHUNK],
      [CHUNK - 10, CHUNK + 10],
      [CHUNK, 2 * CHUNK - 1],
      [100, 3 * CHUNK + 5],
      [2 * CHUNK + 7, content.length - 1],
      [content.length - 1, content.length - 1],
      [0, content.length - 1],
    ];
    for (const [start, end] of ranges) {
      const res = await get('sealed', 'ranges.bin', { range: `bytes=${start}-${end}` });
      assert.equal(res.status, 206, `${start}-${end}`);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${content.length}`);
      assert.ok(res.body.equals(content.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
    const suffix = await get('sealed', 'ranges.bin', { range: 'bytes=-70000' });
    assert.ok(suffix.body.equals(content.subarray(content.length - 70000)));
    // A copy within the bucket reads the same sealed blob; a copy into another bucket is sealed under that bucket's key.
    const copy = await s3.send({ method: 'PUT', path: '/dedup/copied.bin', headers: { 'x-amz-copy-source': '/sealed/ranges.bin' } });
    assert.equal(copy.status, 200, copy.body.toString());
    assert.equal(copy.headers[SSE], 'AES256');
    assert.ok((await get('dedup', 'copied.bin')).body.equals(content));
  });

  it('keeps one blob file for the same content twice in a bucket', async () => {
    const content = marked(100_000);
    assert.equal((await put('dedup', 'a.bin', content)).status, 200);
    assert.equal((await put('dedup', 'b.bin', content)).status, 200);
    const named = (await filesUnder(path.join(srv.dataDir, 'blobs'))).filter((f) => path.basename(f) === sha256(content));
    assert.equal(named.length, 1, 'one blob file for both keys');
    assert.ok((await get('dedup', 'b.bin')).body.equals(content));
  });

  it('fails the read of a blob with a flipped byte instead of serving wrong bytes, and logs it', async () => {
    const content = marked(4 * CHUNK);
    assert.equal((await put('flip', 'late.bin', content)).status, 200);
    const early = marked(3 * CHUNK);
    assert.equal((await put('flip', 'early.bin', early)).status, 200);
    const flip = async (c: Buffer, offset: number) => {
      const [file] = (await filesUnder(path.join(srv.dataDir, 'blobs'))).filter((f) => path.basename(f) === sha256(c));
      const handle = await open(file, 'r+');
      const one = Buffer.alloc(1);
      await handle.read(one, 0, 1, offset);
      one[0] ^= 0x01;
      await handle.write(one, 0, 1, offset);
      await handle.close();
    };
    // In the third chunk: the first two are sent before the damage is reached; the response is cut.
    await flip(content, 80 + 2 * (CHUNK + 16) + 100);
    const late = await get('flip', 'late.bin').catch((err: Error) => err);
    if (!(late instanceof Error)) {
      assert.ok(late.status >= 500 || late.body.length < content.length, `status ${late.status}, ${late.body.length} bytes`);
      assert.ok(!late.body.equals(content));
      assert.ok(content.subarray(0, late.body.length).equals(late.body), 'what was sent is a prefix of the true content');
    }
    // In the first chunk: nothing authentic to send, the request fails with a 5xx (or a cut connection).
    await flip(early, 80 + 500);
    const first = await get('flip', 'early.bin').catch((err: Error) => err);
    if (!(first instanceof Error)) {
      assert.ok(first.status >= 500 || first.body.length === 0, `status ${first.status}, ${first.body.length} bytes`);
    }
    // A range inside an intact chunk still reads; one over the damage fails.
    const intact = await get('flip', 'late.bin', { range: `bytes=0-${CHUNK - 1}` });
    assert.equal(intact.status, 206);
    assert.ok(intact.body.equals(content.subarray(0, CHUNK)));
    const damaged = await get('flip', 'late.bin', { range: `bytes=${2 * CHUNK}-${2 * CHUNK + 10}` }).catch((err: Error) => err);
    if (!(damaged instanceof Error)) assert.ok(damaged.status >= 500 || damaged.body.length === 0, `status ${damaged.status}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.match(srv.log(), /SealedBlobCorrupt|does not authenticate/, srv.log().split('\n').filter((l) => /"level":(50|40)/.test(l)).join('\n'));
  });

  it('refuses aws:kms with 501 NotImplemented and accepts AES256', async () => {
    const kms = await put('sealed', 'kms.bin', Buffer.from('x'), { [SSE]: 'aws:kms' });
    assert.equal(kms.status, 501, kms.body.toString());
    assert.match(kms.body.toString(), /<Code>NotImplemented<\/Code>/);
    const bogus = await put('sealed', 'bogus.bin', Buffer.from('x'), { [SSE]: 'DES' });
    assert.equal(bogus.status, 400);
    const aes = await put('sealed', 'aes.bin', Buffer.from('x'), { [SSE]: 'AES256' });
    assert.equal(aes.status, 200);
    assert.equal(aes.headers[SSE], 'AES256');
  });
});

describe('a data directory written with encryption off, restarted with it on', () => {
  let dataDir: string;
  let srv: TestServer | undefined;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-mixed-'));
  });
  after(async () => {
    await srv?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reads the plaintext blobs it already had and seals the new ones', async () => {
    const old = marked(150_000);
    srv = await startTestServer({ dataDir, env: { AEROSTORE_ENCRYPTION: 'off' } });
    let s3 = new S3RawClient(srv.url, srv);
    assert.equal((await s3.send({ method: 'PUT', path: '/mixed' })).status, 200);
    const first = await s3.send({ method: 'PUT', path: '/mixed/old.bin', body: old });
    assert.equal(first.status, 200);
    assert.equal(first.headers[SSE], undefined, 'no claim of encryption with it off');
    await srv.stop({ keepData: true });
    assert.ok((await filesWithMarker(path.join(dataDir, 'blobs'))).length > 0, 'written in plaintext with encryption off');

    srv = await startTestServer({ dataDir, env: { AEROSTORE_ENCRYPTION: 'on' } });
    s3 = new S3RawClient(srv.url, srv);
    const again = await s3.send({ method: 'GET', path: '/mixed/old.bin' });
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(old), 'the plaintext blob still reads');
    assert.equal(again.headers[SSE], undefined, 'and is not reported as encrypted');
    const ranged = await s3.send({ method: 'GET', path: '/mixed/old.bin', headers: { range: 'bytes=65530-65545' } });
    assert.ok(ranged.body.equals(old.subarray(65530, 65546)));
    // The same content again: deduplicated onto the plaintext blob (one file, no claim of encryption).
    const dup = await s3.send({ method: 'PUT', path: '/mixed/dup.bin', body: old });
    assert.equal(dup.status, 200);
    assert.equal(dup.headers[SSE], undefined, 'deduplicated onto a plaintext blob: reported as it is stored');
    const fresh = marked(90_000);
    const sealed = await s3.send({ method: 'PUT', path: '/mixed/new.bin', body: fresh });
    assert.equal(sealed.headers[SSE], 'AES256');
    assert.ok((await s3.send({ method: 'GET', path: '/mixed/new.bin' })).body.equals(fresh));
    const withMarker = await filesWithMarker(path.join(dataDir, 'blobs'));
    assert.deepEqual(withMarker.map((f) => path.basename(f)), [sha256(old)], 'only the old plaintext blob shows the marker');
    await srv.stop({ keepData: true });

    // And back off: sealed blobs are read whatever the setting.
    srv = await startTestServer({ dataDir, env: { AEROSTORE_ENCRYPTION: 'off' } });
    s3 = new S3RawClient(srv.url, srv);
    const back = await s3.send({ method: 'GET', path: '/mixed/new.bin' });
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(fresh), 'a sealed blob reads with encryption off');
    assert.equal(back.headers[SSE], 'AES256');
  });
});
