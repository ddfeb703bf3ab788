// CopyObject and DeleteObjects against a real server process.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { encodeKey, S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValues } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  for (const b of ['copy-a', 'copy-b', 'batch']) {
    const res = await s3.send({ method: 'PUT', path: `/${b}` });
    assert.equal(res.status, 200, res.body.toString());
  }
});
/** The server's own (embedded) database, to check the event outbox. */
async function database() {
  const password = (await readFile(path.join(server.dataDir, 'pg-password'), 'utf8')).trim();
  const port = Number((await readFile(path.join(server.dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3]);
  return postgres({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', max: 1, onnotice: () => {} });
}

after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await server?.stop();
});

const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const crc32b64 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
};
const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#13;/g, '\r').replace(/&amp;/g, '&');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}
const blobCount = async () => (await filesUnder(path.join(server.dataDir, 'blobs'))).length;

/** Polls until `count()` equals `want` (blob collection runs after the response). */
async function eventuallyCount(count: () => Promise<number>, want: number, message: string): Promise<void> {
  let got = await count();
  for (let i = 0; i < 50 && got !== want; i++) {
    await new Promise((r) => setTimeout(r, 50));
    got = await count();
  }
  assert.equal(got, want, message);
}

const put = (bucket: string, key: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/${bucket}/${encodeKey(key)}`, body, headers });
const get = (bucket: string, key: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'GET', path: `/${bucket}/${encodeKey(key)}`, headers });
const copy = (bucket: string, key: string, source: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/${bucket}/${encodeKey(key)}`, headers: { 'x-amz-copy-source': source, ...headers } });

function deleteXml(keys: Array<string | { key: string; versionId?: string }>, quiet = false): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const objects = keys
    .map((k) => (typeof k === 'string' ? { key: k } : k))
    .map((k) => `<Object><Key>${esc(k.key)}</Key>${k.versionId ? `<VersionId>${k.versionId}</VersionId>` : ''}</Object>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${quiet ? '<Quiet>true</Quiet>' : ''}${objects}</Delete>`;
}
const batchDelete = (bucket: string, xml: string, headers: Record<string, string> = { 'content-md5': md5b64(xml) }) =>
  s3.send({ method: 'POST', path: `/${bucket}`, query: { delete: '' }, body: xml, headers: { 'content-type': 'application/xml', ...headers } });

describe('CopyObject', () => {
  it('copies within a bucket by reference: no new blob file, same ETag, metadata copied', async () => {
    const body = randomBytes(20_000);
    const res = await put('copy-a', 'src/orig.bin', body, {
      'content-type': 'application/x-orig',
      'cache-control': 'max-age=5',
      'x-amz-meta-color': 'blue',
      'x-amz-checksum-crc32': crc32b64(body),
    });
    assert.equal(res.status, 200, res.body.toString());
    const before = await blobCount();
    const c = await copy('copy-a', 'dst/copy.bin', '/copy-a/src/orig.bin');
    assert.equal(c.status, 200, c.body.toString());
    const xml = c.body.toString();
    assert.match(xml, /^<\?xml[^>]*>\s*<CopyObjectResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    assert.equal(unescape(xmlValues(xml, 'ETag')[0]), `"${md5hex(body)}"`);
    assert.ok(!Number.isNaN(Date.parse(xmlValues(xml, 'LastModified')[0])));
    assert.equal(xmlValues(xml, 'ChecksumCRC32').length, 1, 'the stored checksum is reported');
    assert.equal(await blobCount(), before, 'a copy within a bucket writes no blob');

    const got = await get('copy-a', 'dst/copy.bin', { 'x-amz-checksum-mode': 'ENABLED' });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(body));
    assert.equal(got.headers.etag, `"${md5hex(body)}"`);
    assert.equal(got.headers['content-type'], 'application/x-orig');
    assert.equal(got.headers['cache-control'], 'max-age=5');
    assert.equal(got.headers['x-amz-meta-color'], 'blue');
    assert.equal(got.headers['x-amz-checksum-crc32'], xmlValues(xml, 'ChecksumCRC32')[0]);

    // The blob stays while either key holds it, and goes with the last.
    assert.equal((await s3.send({ method: 'DELETE', path: '/copy-a/src/orig.bin' })).status, 204);
    assert.ok((await get('copy-a', 'dst/copy.bin')).body.equals(body), 'the copy survives the source');
    assert.equal(await blobCount(), before);
    assert.equal((await s3.send({ method: 'DELETE', path: '/copy-a/dst/copy.bin' })).status, 204);
    await eventuallyCount(blobCount, before - 1, 'the last reference gone: the blob is removed');
  });

  it('releases the blob an overwriting copy replaces', async () => {
    await put('copy-a', 'over/src', 'new content for over');
    await put('copy-a', 'over/dst', 'old content, only here');
    const before = await blobCount();
    assert.equal((await copy('copy-a', 'over/dst', 'copy-a/over/src')).status, 200);
    await eventuallyCount(blobCount, before - 1, 'the overwritten destination blob is collected');
    assert.equal((await get('copy-a', 'over/dst')).body.toString(), 'new content for over');
  });

  it('copies across buckets: bytes equal, a blob in the destination bucket', async () => {
    const body = randomBytes(300_000);
    await put('copy-a', 'cross.bin', body, { 'content-type': 'image/x-test', 'x-amz-meta-a': '1' });
    const before = await blobCount();
    const c = await copy('copy-b', 'from-a.bin', 'copy-a/cross.bin');
    assert.equal(c.status, 200, c.body.toString());
    assert.equal(unescape(xmlValues(c.body.toString(), 'ETag')[0]), `"${md5hex(body)}"`);
    assert.equal(await blobCount(), before + 1, 'the destination bucket gets its own blob');
    const got = await get('copy-b', 'from-a.bin');
    assert.ok(got.body.equals(body));
    assert.equal(got.headers['content-type'], 'image/x-test');
    assert.equal(got.headers['x-amz-meta-a'], '1');
  });

  it('COPY keeps the source metadata, REPLACE takes the request headers', async () => {
    await put('copy-a', 'meta/src', 'metadata', { 'content-type': 'text/plain', 'x-amz-meta-k': 'v', 'content-language': 'en' });
    const headersForCopy = { 'content-type': 'application/json', 'x-amz-meta-other': 'o' };
    // COPY (explicit and default) ignores the request's headers.
    for (const directive of [undefined, 'COPY']) {
      const c = await copy('copy-a', 'meta/copied', '/copy-a/meta/src', { ...headersForCopy, ...(directive ? { 'x-amz-metadata-directive': directive } : {}) });
      assert.equal(c.status, 200, c.body.toString());
      const h = await s3.send({ method: 'HEAD', path: '/copy-a/meta/copied' });
      assert.equal(h.headers['content-type'], 'text/plain');
      assert.equal(h.headers['x-amz-meta-k'], 'v');
      assert.equal(h.headers['content-language'], 'en');
      assert.equal(h.headers['x-amz-meta-other'], undefined);
    }
    const r = await copy('copy-a', 'meta/replaced', '/copy-a/meta/src', { ...headersForCopy, 'x-amz-metadata-directive': 'REPLACE' });
    assert.equal(r.status, 200, r.body.toString());
    const h = await s3.send({ method: 'HEAD', path: '/copy-a/meta/replaced' });
    assert.equal(h.headers['content-type'], 'application/json');
    assert.equal(h.headers['x-amz-meta-other'], 'o');
    assert.equal(h.headers['x-amz-meta-k'], undefined);
    assert.equal(h.headers['content-language'], undefined);
    const bad = await copy('copy-a', 'meta/bad', '/copy-a/meta/src', { 'x-amz-metadata-directive': 'MERGE' });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    // REPLACE with no x-amz-tagging: the copy carries no tags (test/s3-tagging.test.ts covers tags).
    assert.equal((await copy('copy-a', 'meta/tagged', '/copy-a/meta/src', { 'x-amz-tagging-directive': 'REPLACE' })).status, 200);
  });

  it('refuses a copy onto itself without changes; REPLACE changes the content type', async () => {
    await put('copy-a', 'self', 'self content', { 'content-type': 'text/plain', 'x-amz-meta-x': '1' });
    const before = await blobCount();
    const res = await copy('copy-a', 'self', '/copy-a/self');
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'InvalidRequest');
    assert.match(res.body.toString(), /copy an object to itself without changing the object's metadata/);
    const ok = await copy('copy-a', 'self', '/copy-a/self', { 'x-amz-metadata-directive': 'REPLACE', 'content-type': 'text/markdown' });
    assert.equal(ok.status, 200, ok.body.toString());
    const got = await get('copy-a', 'self');
    assert.equal(got.headers['content-type'], 'text/markdown');
    assert.equal(got.headers['x-amz-meta-x'], undefined);
    assert.equal(got.body.toString(), 'self content');
    assert.equal(await blobCount(), before, 'a self-copy keeps the one blob');
  });

  it('adds a checksum on a self-copy with x-amz-checksum-algorithm', async () => {
    await put('copy-a', 'addsum', 'checksum me');
    const res = await copy('copy-a', 'addsum', '/copy-a/addsum', { 'x-amz-checksum-algorithm': 'SHA256' });
    assert.equal(res.status, 200, res.body.toString());
    const want = createHash('sha256').update('checksum me').digest('base64');
    assert.equal(xmlValues(res.body.toString(), 'ChecksumSHA256')[0], want);
    const h = await s3.send({ method: 'HEAD', path: '/copy-a/addsum', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    assert.equal(h.headers['x-amz-checksum-sha256'], want);
  });

  it('decodes URL-encoded source keys: spaces, unicode, plus, percent; versionId=null', async () => {
    const keys = ['a b.txt', 'ünï/cödé ✓.txt', 'a+b=c.txt', '100%.txt', 'q?x&y.txt'];
    for (const key of keys) {
      assert.equal((await put('copy-a', key, `body of ${key}`)).status, 200);
      for (const [source, dest] of [
        [`/copy-a/${encodeKey(key)}`, `enc/${key}`],
        [`copy-a/${encodeKey(key)}?versionId=null`, `enc2/${key}`],
      ]) {
        const c = await copy('copy-a', dest, source);
        assert.equal(c.status, 200, `${source}: ${c.body}`);
        assert.equal((await get('copy-a', dest)).body.toString(), `body of ${key}`, source);
      }
    }
    // '+' is a plus, not a space.
    await put('copy-a', 'plus+sign', 'plus');
    assert.equal((await copy('copy-a', 'plus-copy', '/copy-a/plus+sign')).status, 200);
    const badVersion = await copy('copy-a', 'x', '/copy-a/a%20b.txt?versionId=3HL4kqtJlcpXroDTDmJ');
    assert.equal(badVersion.status, 400);
    assert.equal(errorCode(badVersion.body), 'InvalidArgument');
    const noKey = await copy('copy-a', 'x', 'copy-a');
    assert.equal(noKey.status, 400);
    assert.equal(errorCode(noKey.body), 'InvalidArgument');
  });

  it('answers NoSuchKey and NoSuchBucket for a missing source', async () => {
    const missingKey = await copy('copy-a', 'x', '/copy-a/no/such/key');
    assert.equal(missingKey.status, 404);
    assert.equal(errorCode(missingKey.body), 'NoSuchKey');
    const missingBucket = await copy('copy-a', 'x', '/no-such-bucket/key');
    assert.equal(missingBucket.status, 404);
    assert.equal(errorCode(missingBucket.body), 'NoSuchBucket');
    await put('copy-a', 'exists', 'x');
    const missingDest = await copy('no-such-dest', 'x', '/copy-a/exists');
    assert.equal(missingDest.status, 404);
    assert.equal(errorCode(missingDest.body), 'NoSuchBucket');
    assert.equal((await get('copy-a', 'x')).status, 404, 'nothing was written');
  });

  it('honours x-amz-copy-source-if-* with S3 precedence', async () => {
    const res = await put('copy-a', 'cond', 'conditional');
    const etag = String(res.headers.etag);
    const lastModified = String((await get('copy-a', 'cond')).headers['last-modified']);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const status = async (headers: Record<string, string>) => {
      const r = await copy('copy-a', 'cond-dst', '/copy-a/cond', headers);
      if (r.status !== 200) assert.equal(errorCode(r.body), 'PreconditionFailed');
      return r.status;
    };
    assert.equal(await status({ 'x-amz-copy-source-if-match': etag }), 200);
    assert.equal(await status({ 'x-amz-copy-source-if-match': '"0000"' }), 412);
    assert.equal(await status({ 'x-amz-copy-source-if-none-match': etag }), 412);
    assert.equal(await status({ 'x-amz-copy-source-if-none-match': '"0000"' }), 200);
    assert.equal(await status({ 'x-amz-copy-source-if-modified-since': earlier }), 200);
    assert.equal(await status({ 'x-amz-copy-source-if-modified-since': later }), 412);
    assert.equal(await status({ 'x-amz-copy-source-if-unmodified-since': later }), 200);
    assert.equal(await status({ 'x-amz-copy-source-if-unmodified-since': earlier }), 412);
    // If-Match that holds wins over a failing If-Unmodified-Since.
    assert.equal(await status({ 'x-amz-copy-source-if-match': etag, 'x-amz-copy-source-if-unmodified-since': earlier }), 200);
    // If-None-Match that fails is 412 even though If-Modified-Since holds.
    assert.equal(await status({ 'x-amz-copy-source-if-none-match': etag, 'x-amz-copy-source-if-modified-since': earlier }), 412);
    const failed = await copy('copy-a', 'cond-dst2', '/copy-a/cond', { 'x-amz-copy-source-if-match': '"0000"' });
    assert.equal(failed.status, 412);
    assert.equal((await get('copy-a', 'cond-dst2')).status, 404, 'a failed condition writes nothing');
  });
});

describe('events', () => {
  it('one storage.object.created per copy, one storage.object.deleted per object a batch removed', async () => {
    const sql = await database();
    try {
      const count = async (type: string, key: string) =>
        Number((await sql`select count(*)::int as n from storage.events where type = ${type} and bucket = 'batch' and key = ${key}`)[0].n);
      await put('batch', 'ev/src', 'event source');
      assert.equal((await copy('batch', 'ev/dst', '/batch/ev/src')).status, 200);
      assert.equal(await count('storage.object.created', 'ev/dst'), 1);
      const refused = await batchDelete('batch', deleteXml(['ev/src', 'ev/dst']), { 'content-md5': md5b64('wrong') });
      assert.equal(refused.status, 400);
      assert.equal(await count('storage.object.deleted', 'ev/src'), 0, 'a refused batch commits nothing');
      const res = await batchDelete('batch', deleteXml(['ev/src', 'ev/dst', 'ev/dst', 'ev/absent']));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(await count('storage.object.deleted', 'ev/src'), 1);
      assert.equal(await count('storage.object.deleted', 'ev/dst'), 1, 'a key named twice is deleted once');
      assert.equal(await count('storage.object.deleted', 'ev/absent'), 0, 'no event is invented for a missing key');
    } finally {
      await sql.end();
    }
  });
});

describe('DeleteObjects', () => {
  it('deletes a batch, verbose: Deleted for existing and missing keys, blobs released', async () => {
    const keys = ['b/1', 'b/2', 'b/3 with space', 'b/ünï', 'b/a&b<c>'];
    const before = await blobCount();
    for (const k of keys) assert.equal((await put('batch', k, `batch ${k}`)).status, 200);
    // Two keys share one blob.
    await put('batch', 'b/dup', 'batch b/1');
    assert.equal(await blobCount(), before + keys.length);
    const xml = deleteXml([...keys, 'b/dup', 'b/missing']);
    const res = await batchDelete('batch', xml);
    assert.equal(res.status, 200, res.body.toString());
    const body = res.body.toString();
    assert.match(body, /<DeleteResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    assert.deepEqual(xmlValues(body, 'Key').map(unescape).sort(), [...keys, 'b/dup', 'b/missing'].sort());
    assert.equal(xmlValues(body, 'Code').length, 0);
    for (const k of keys) assert.equal((await get('batch', k)).status, 404, k);
    await eventuallyCount(blobCount, before, 'every blob of the batch is collected');
  });

  it('Quiet mode reports only errors; versionId=null is accepted, others fail per key', async () => {
    await put('batch', 'q/1', 'q1');
    await put('batch', 'q/2', 'q2');
    const xml = deleteXml(['q/1', { key: 'q/2', versionId: 'null' }, { key: 'q/3', versionId: 'abc' }], true);
    const res = await batchDelete('batch', xml);
    assert.equal(res.status, 200, res.body.toString());
    const body = res.body.toString();
    assert.equal(body.includes('<Deleted>'), false, body);
    assert.deepEqual(xmlValues(body, 'Key'), ['q/3']);
    assert.equal(xmlValues(body, 'Code').length, 1);
    assert.equal((await get('batch', 'q/1')).status, 404);
    assert.equal((await get('batch', 'q/2')).status, 404);
  });

  it('keeps whitespace and entities in keys', async () => {
    await put('batch', ' spaced ', 'sp');
    await put('batch', 'amp&lt', 'amp');
    const xml = `<Delete><Object><Key> spaced </Key></Object><Object><Key>amp&amp;lt</Key></Object></Delete>`;
    const res = await batchDelete('batch', xml);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal((await get('batch', ' spaced ')).status, 404);
    assert.equal((await get('batch', 'amp&lt')).status, 404);
  });

  it('requires Content-MD5 or a checksum header, and verifies it', async () => {
    await put('batch', 'md5/1', 'x');
    const xml = deleteXml(['md5/1']);
    const missing = await batchDelete('batch', xml, {});
    assert.equal(missing.status, 400);
    assert.equal(errorCode(missing.body), 'InvalidRequest');
    assert.match(missing.body.toString(), /Missing required header for this request: Content-MD5/);
    const wrong = await batchDelete('batch', xml, { 'content-md5': md5b64('something else') });
    assert.equal(wrong.status, 400);
    assert.equal(errorCode(wrong.body), 'BadDigest');
    assert.equal((await get('batch', 'md5/1')).status, 200, 'a refused batch deletes nothing');
    const wrongSum = await batchDelete('batch', xml, { 'x-amz-checksum-sha256': createHash('sha256').update('other').digest('base64') });
    assert.equal(wrongSum.status, 400);
    assert.equal(errorCode(wrongSum.body), 'BadDigest');
    const withSum = await batchDelete('batch', xml, { 'x-amz-checksum-sha256': createHash('sha256').update(xml).digest('base64') });
    assert.equal(withSum.status, 200, withSum.body.toString());
    assert.equal((await get('batch', 'md5/1')).status, 404);
  });

  it('refuses more than 1,000 keys, an empty list and malformed XML with MalformedXML', async () => {
    const many = deleteXml(Array.from({ length: 1001 }, (_, i) => `k${i}`));
    const res = await batchDelete('batch', many);
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'MalformedXML');
    const thousand = await batchDelete('batch', deleteXml(Array.from({ length: 1000 }, (_, i) => `k${i}`), true));
    assert.equal(thousand.status, 200, thousand.body.toString());
    for (const xml of ['<Delete></Delete>', '<Delete><Object></Object></Delete>', '<NotDelete/>', '<Delete><Object><Key>a</Key>']) {
      const r = await batchDelete('batch', xml);
      assert.equal(r.status, 400, xml);
      assert.equal(errorCode(r.body), 'MalformedXML', xml);
    }
  });

  it('answers NoSuchBucket for a missing bucket', async () => {
    const res = await batchDelete('no-such-batch', deleteXml(['a']));
    assert.equal(res.status, 404);
    assert.equal(errorCode(res.body), 'NoSuchBucket');
  });

  it('deletes 1,000 keys (300 present, 700 absent) in one request', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (const k of keys) await put('batch', k, `many ${k}`);
    const res = await batchDelete('batch', deleteXml([...keys, ...Array.from({ length: 700 }, (_, i) => `absent/${i}`)], true));
    assert.equal(res.status, 200, res.body.toString());
    const list = await s3.send({ method: 'GET', path: '/batch', query: { 'list-type': '2', prefix: 'many/' } });
    assert.equal(xmlValues(list.body.toString(), 'KeyCount')[0], '0');
  });

  it('runs concurrently with puts, copies and other batches over the same keys without deadlock', async () => {
    const probe = `probe ${Date.now()}`;
    await put('batch', 'race/probe', probe);
    const probeSha = createHash('sha256').update(probe).digest('hex');
    const probeFile = (await filesUnder(path.join(server.dataDir, 'blobs'))).find((f) => path.basename(f) === probeSha);
    assert.ok(probeFile);
    const bucketDir = path.resolve(probeFile, '../../..');
    const keys = Array.from({ length: 40 }, (_, i) => `race/${i}`);
    for (const k of keys) await put('batch', k, `race ${Number(k.slice(5)) % 5}`);
    const shuffled = () => [...keys].sort(() => Math.random() - 0.5).slice(0, 25);
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => batchDelete('batch', deleteXml(shuffled(), true))),
      ...keys.slice(0, 20).map((k, i) => put('batch', k, `race ${i % 3}`)),
      ...keys.slice(20).map((k, i) => copy('batch', k, `/batch/${encodeKey(keys[i])}`)),
    ]);
    for (const r of results) assert.ok([200, 404].includes(r.status), `${r.status} ${r.body}`);
    for (const r of results) if (r.status === 404) assert.equal(errorCode(r.body), 'NoSuchKey');
    // Clean up; nothing leaks: the bucket's blob directory empties.
    const left = await s3.send({ method: 'GET', path: '/batch', query: { 'list-type': '2' } });
    const listed = xmlValues(left.body.toString(), 'Key').map(unescape);
    assert.ok(listed.includes('race/probe'));
    assert.equal((await batchDelete('batch', deleteXml(listed, true))).status, 200);
    await eventuallyCount(async () => (await filesUnder(bucketDir)).length, 0, 'every blob of the emptied bucket is collected');
  });
});

