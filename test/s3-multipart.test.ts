// Multipart upload against a real server process on a real (embedded) Postgres.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeKey, S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { PassThrough } from 'node:stream';
import { errorCode, xmlValues } from './support/s3-xml.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';

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

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const xmlValue = (xml: string, tag: string) => xmlValues(xml, tag)[0];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}

async function eventually(check: () => Promise<boolean>, message: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(message);
}

async function createBucket(name: string) {
  const res = await s3.send({ method: 'PUT', path: `/${name}` });
  assert.equal(res.status, 200, res.body.toString());
}

const objectPath = (bucket: string, key: string) => `/${bucket}/${encodeKey(key)}`;

async function initiate(bucket: string, key: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await s3.send({ method: 'POST', path: objectPath(bucket, key), query: { uploads: '' }, headers });
  assert.equal(res.status, 200, res.body.toString());
  const xml = res.body.toString();
  assert.match(xml, /<InitiateMultipartUploadResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
  assert.equal(xmlValue(xml, 'Bucket'), bucket);
  assert.equal(xmlValue(xml, 'Key'), key);
  const id = xmlValue(xml, 'UploadId');
  assert.match(id, /^[A-Za-z0-9_-]{20,}$/);
  return id;
}

const uploadPart = (bucket: string, key: string, uploadId: string, partNumber: number | string, body: Buffer, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: objectPath(bucket, key), query: { partNumber: String(partNumber), uploadId }, body, headers });

async function putPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
  const res = await uploadPart(bucket, key, uploadId, partNumber, body);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers.etag, `"${md5(body).toString('hex')}"`);
  return String(res.headers.etag);
}

const completeXml = (parts: Array<[number, string]>) =>
  '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
  parts.map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`).join('') +
  '</CompleteMultipartUpload>';

const complete = (bucket: string, key: string, uploadId: string, body: string) =>
  s3.send({ method: 'POST', path: objectPath(bucket, key), query: { uploadId }, body });

const expectedEtag = (parts: Buffer[]) =>
  `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

describe('multipart upload', () => {
  before(() => createBucket('mpu'));

  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
  const whole = Buffer.concat(parts);

  it('uploads three parts, completes, and reads the object back', async () => {
    const id = await initiate('mpu', 'big/object.bin', { 'content-type': 'application/x-mpu', 'x-amz-meta-color': 'green' });
    // Parts may arrive in any order.
    const etags = [];
    etags[2] = await putPart('mpu', 'big/object.bin', id, 3, parts[2]);
    etags[0] = await putPart('mpu', 'big/object.bin', id, 1, parts[0]);
    etags[1] = await putPart('mpu', 'big/object.bin', id, 2, parts[1]);
    // Not visible before completion.
    assert.equal((await s3.send({ method: 'GET', path: '/mpu/big/object.bin' })).status, 404);

    const done = await complete('mpu', 'big/object.bin', id, completeXml([[1, etags[0]], [2, etags[1].replace(/"/g, '')], [3, etags[2]]]));
    assert.equal(done.status, 200, done.body.toString());
    const xml = done.body.toString();
    assert.match(xml, /<CompleteMultipartUploadResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    assert.equal(xmlValue(xml, 'Bucket'), 'mpu');
    assert.equal(xmlValue(xml, 'Key'), 'big/object.bin');
    assert.match(xmlValue(xml, 'Location'), /\/mpu\/big\/object\.bin$/);
    const etag = xmlValue(xml, 'ETag').replace(/&quot;/g, '"');
    assert.match(etag, /^"[0-9a-f]{32}-3"$/);
    assert.equal(etag, expectedEtag(parts));

    const got = await s3.send({ method: 'GET', path: '/mpu/big/object.bin' });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(whole), 'bytes read back whole');
    assert.equal(got.headers.etag, etag);
    assert.equal(got.headers['content-type'], 'application/x-mpu');
    assert.equal(got.headers['x-amz-meta-color'], 'green');
    assert.equal(got.headers['x-amz-mp-parts-count'], undefined, 'parts count only with ?partNumber');

    const list = await s3.send({ method: 'GET', path: '/mpu', query: { 'list-type': '2', prefix: 'big/' } });
    assert.equal(xmlValue(list.body.toString(), 'Size'), String(whole.length));

    // The upload is gone: its part files and its listing entry.
    assert.deepEqual(await filesUnder(path.join(server.dataDir, 'parts')), []);
    const again = await s3.send({ method: 'GET', path: '/mpu/big/object.bin', query: { uploadId: id } });
    assert.equal(errorCode(again.body), 'NoSuchUpload');
  });

  it('serves one part per ?partNumber, with x-amz-mp-parts-count', async () => {
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      const res = await s3.send({ method: 'GET', path: '/mpu/big/object.bin', query: { partNumber: String(i + 1) } });
      assert.equal(res.status, 206);
      assert.ok(res.body.equals(part), `part ${i + 1}`);
      assert.equal(res.headers['x-amz-mp-parts-count'], '3');
      assert.equal(res.headers['content-range'], `bytes ${offset}-${offset + part.length - 1}/${whole.length}`);
      offset += part.length;
    }
    const head = await s3.send({ method: 'HEAD', path: '/mpu/big/object.bin', query: { partNumber: '2' } });
    assert.equal(head.status, 206);
    assert.equal(head.headers['content-length'], String(5 * MiB));
    const beyond = await s3.send({ method: 'GET', path: '/mpu/big/object.bin', query: { partNumber: '4' } });
    assert.equal(beyond.status, 416);
    assert.equal(errorCode(beyond.body), 'InvalidPartNumber');
    const withRange = await s3.send({ method: 'GET', path: '/mpu/big/object.bin', query: { partNumber: '1' }, headers: { range: 'bytes=0-1' } });
    assert.equal(withRange.status, 400);

    // A single-PUT object is one part: partNumber=1 is all of it.
    assert.equal((await s3.send({ method: 'PUT', path: '/mpu/single', body: 'just one part' })).status, 200);
    const one = await s3.send({ method: 'GET', path: '/mpu/single', query: { partNumber: '1' } });
    assert.equal(one.status, 206);
    assert.equal(one.body.toString(), 'just one part');
    assert.equal(one.headers['x-amz-mp-parts-count'], undefined);
    const two = await s3.send({ method: 'GET', path: '/mpu/single', query: { partNumber: '2' } });
    assert.equal(two.status, 416);
    assert.equal(errorCode(two.body), 'InvalidPartNumber');
    assert.deepEqual(['PartNumberRequested', 'ActualPartCount'].map((t) => xmlValue(two.body.toString(), t)), ['2', '1']);
    const headTwo = await s3.send({ method: 'HEAD', path: '/mpu/single', query: { partNumber: '2' } });
    assert.equal(headTwo.status, 416);
    assert.equal(headTwo.body.length, 0);
    const headOne = await s3.send({ method: 'HEAD', path: '/mpu/single', query: { partNumber: '1' } });
    assert.equal(headOne.status, 206);
    assert.equal(headOne.headers['content-length'], String('just one part'.length));

    // Part numbers S3 refuses outright (issue 16.5): 400 InvalidArgument, on GET and HEAD, whatever the object.
    for (const partNumber of ['0', '10001', 'x', '', '-1', '1.5']) {
      for (const key of ['single', 'big/object.bin']) {
        const res = await s3.send({ method: 'GET', path: `/mpu/${key}`, query: { partNumber } });
        assert.equal(res.status, 400, `${key} ?partNumber=${partNumber}: ${res.body}`);
        assert.equal(errorCode(res.body), 'InvalidArgument');
        assert.equal(xmlValue(res.body.toString(), 'Message'), 'Part number must be an integer between 1 and 10000, inclusive');
        assert.equal(xmlValue(res.body.toString(), 'ArgumentName'), 'partNumber');
        assert.equal((await s3.send({ method: 'HEAD', path: `/mpu/${key}`, query: { partNumber } })).status, 400);
      }
    }
  });

  it('stores the assembled object once when the same bytes are PUT whole', async () => {
    const blobs = path.join(server.dataDir, 'blobs');
    const count = async () => (await filesUnder(blobs)).length;
    const before = await count();
    const put = await s3.send({ method: 'PUT', path: '/mpu/copy-of-big', body: whole });
    assert.equal(put.status, 200);
    assert.equal(await count(), before, 'identical content: no new blob file');
    // And the other way round: a multipart upload of bytes already stored.
    const id = await initiate('mpu', 'big/again');
    const e1 = await putPart('mpu', 'big/again', id, 1, parts[0]);
    const e2 = await putPart('mpu', 'big/again', id, 2, Buffer.concat([parts[1], parts[2]]));
    const done = await complete('mpu', 'big/again', id, completeXml([[1, e1], [2, e2]]));
    assert.equal(done.status, 200, done.body.toString());
    assert.equal(await count(), before);
    assert.ok((await s3.send({ method: 'GET', path: '/mpu/big/again' })).body.equals(whole));
  });

  it('replaces a part that is uploaded again', async () => {
    const id = await initiate('mpu', 'redo');
    const first = randomBytes(1000);
    const second = randomBytes(2000);
    await putPart('mpu', 'redo', id, 1, first);
    const e = await putPart('mpu', 'redo', id, 1, second);
    const partFiles = await filesUnder(path.join(server.dataDir, 'parts'));
    assert.equal(partFiles.length, 1, 'the replaced part file is removed');
    const list = await s3.send({ method: 'GET', path: '/mpu/redo', query: { uploadId: id } });
    assert.deepEqual(xmlValues(list.body.toString(), 'Size'), ['2000']);
    const stale = await complete('mpu', 'redo', id, completeXml([[1, `"${md5(first).toString('hex')}"`]]));
    assert.equal(errorCode(stale.body), 'InvalidPart');
    // Go's encoding/xml (rclone) writes the quotes of an ETag as &#34;.
    const done = await complete('mpu', 'redo', id, completeXml([[1, e.replace(/"/g, '&#34;')]]));
    assert.equal(done.status, 200, done.body.toString());
    assert.ok((await s3.send({ method: 'GET', path: '/mpu/redo' })).body.equals(second));
  });

  it('verifies Content-MD5 and x-amz-checksum-* on parts', async () => {
    const id = await initiate('mpu', 'checked', { 'x-amz-checksum-algorithm': 'CRC32' });
    const body = randomBytes(3000);
    const bad = await uploadPart('mpu', 'checked', id, 1, body, { 'content-md5': md5(Buffer.from('other')).toString('base64') });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'BadDigest');
    const crc = Buffer.alloc(4);
    const { crc32 } = await import('node:zlib');
    crc.writeUInt32BE(crc32(body) >>> 0);
    const ok = await uploadPart('mpu', 'checked', id, 1, body, { 'x-amz-checksum-crc32': crc.toString('base64') });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers['x-amz-checksum-crc32'], crc.toString('base64'));
    const wrong = await uploadPart('mpu', 'checked', id, 2, body, { 'x-amz-checksum-crc32': 'AAAAAA==' });
    assert.equal(wrong.status, 400);
    const list = await s3.send({ method: 'GET', path: '/mpu/checked', query: { uploadId: id } });
    assert.equal(xmlValue(list.body.toString(), 'ChecksumCRC32'), crc.toString('base64'));
    assert.equal(xmlValue(list.body.toString(), 'ChecksumAlgorithm'), 'CRC32');
    assert.equal((await s3.send({ method: 'DELETE', path: '/mpu/checked', query: { uploadId: id } })).status, 204);
  });

  it('answers every failure with the S3 error code', async () => {
    const id = await initiate('mpu', 'errors');
    const small1 = randomBytes(100);
    const small2 = randomBytes(100);
    const e1 = await putPart('mpu', 'errors', id, 1, small1);
    const e2 = await putPart('mpu', 'errors', id, 2, small2);
    const cases: Array<[string, () => Promise<{ status: number; body: Buffer }>, number, string]> = [
      ['parts out of order', () => complete('mpu', 'errors', id, completeXml([[2, e2], [1, e1]])), 400, 'InvalidPartOrder'],
      ['a part listed twice, then out of order', () => complete('mpu', 'errors', id, completeXml([[2, e2], [2, e2], [1, e1]])), 400, 'InvalidPartOrder'],
      // A part listed twice is the part its last entry names (a part sent twice); here another upload of it.
      ['a part listed twice, last with a stale ETag', () => complete('mpu', 'errors', id, completeXml([[1, e1], [1, e2]])), 400, 'InvalidPart'],
      ['a part never uploaded', () => complete('mpu', 'errors', id, completeXml([[1, e1], [3, e2]])), 400, 'InvalidPart'],
      ['a wrong ETag', () => complete('mpu', 'errors', id, completeXml([[1, e2]])), 400, 'InvalidPart'],
      ['a small part before the last', () => complete('mpu', 'errors', id, completeXml([[1, e1], [2, e2]])), 400, 'EntityTooSmall'],
      ['no parts', () => complete('mpu', 'errors', id, completeXml([])), 400, 'MalformedXML'],
      ['not XML', () => complete('mpu', 'errors', id, 'this is not xml <'), 400, 'MalformedXML'],
      ['the wrong root element', () => complete('mpu', 'errors', id, '<Delete><Object><Key>a</Key></Object></Delete>'), 400, 'MalformedXML'],
      ['complete of an unknown upload', () => complete('mpu', 'errors', 'no-such-upload', completeXml([[1, e1]])), 404, 'NoSuchUpload'],
      ['complete under another key', () => complete('mpu', 'other-key', id, completeXml([[1, e1]])), 404, 'NoSuchUpload'],
      ['a part for an unknown upload', () => uploadPart('mpu', 'errors', 'no-such-upload', 1, small1), 404, 'NoSuchUpload'],
      ['part number 0', () => uploadPart('mpu', 'errors', id, 0, small1), 400, 'InvalidArgument'],
      ['part number 10001', () => uploadPart('mpu', 'errors', id, 10001, small1), 400, 'InvalidArgument'],
      ['part number not a number', () => uploadPart('mpu', 'errors', id, 'x', small1), 400, 'InvalidArgument'],
      ['abort of an unknown upload', () => s3.send({ method: 'DELETE', path: '/mpu/errors', query: { uploadId: 'nope' } }), 404, 'NoSuchUpload'],
      ['list parts of an unknown upload', () => s3.send({ method: 'GET', path: '/mpu/errors', query: { uploadId: 'nope' } }), 404, 'NoSuchUpload'],
      ['initiate in a missing bucket', () => s3.send({ method: 'POST', path: '/no-such-bucket/k', query: { uploads: '' } }), 404, 'NoSuchBucket'],
    ];
    for (const [name, req, status, code] of cases) {
      const res = await req();
      assert.equal(res.status, status, `${name}: ${res.body}`);
      assert.equal(errorCode(res.body), code, name);
    }
    // Still intact after all that: a one-part completion works.
    const done = await complete('mpu', 'errors', id, completeXml([[2, e2]]));
    assert.equal(done.status, 200, done.body.toString());
    assert.ok((await s3.send({ method: 'GET', path: '/mpu/errors' })).body.equals(small2));
  });

  it('aborts an upload and removes its part files', async () => {
    const partsDir = path.join(server.dataDir, 'parts');
    const id = await initiate('mpu', 'aborted');
    await putPart('mpu', 'aborted', id, 1, randomBytes(5000));
    await putPart('mpu', 'aborted', id, 2, randomBytes(5000));
    assert.equal((await filesUnder(partsDir)).length, 2);
    const res = await s3.send({ method: 'DELETE', path: '/mpu/aborted', query: { uploadId: id } });
    assert.equal(res.status, 204);
    assert.deepEqual(await filesUnder(partsDir), []);
    const list = await s3.send({ method: 'GET', path: '/mpu/aborted', query: { uploadId: id } });
    assert.equal(errorCode(list.body), 'NoSuchUpload');
    const late = await uploadPart('mpu', 'aborted', id, 3, randomBytes(10));
    assert.equal(errorCode(late.body), 'NoSuchUpload');
    assert.deepEqual(await filesUnder(partsDir), []);
  });

  it('lists parts a page at a time', async () => {
    const id = await initiate('mpu', 'paged');
    for (let n = 1; n <= 5; n++) await putPart('mpu', 'paged', id, n, randomBytes(10 * n));
    const seen: string[] = [];
    let marker = '0';
    for (let page = 0; page < 5; page++) {
      const res = await s3.send({ method: 'GET', path: '/mpu/paged', query: { uploadId: id, 'max-parts': '2', 'part-number-marker': marker } });
      assert.equal(res.status, 200, res.body.toString());
      const xml = res.body.toString();
      assert.equal(xmlValue(xml, 'UploadId'), id);
      assert.equal(xmlValue(xml, 'MaxParts'), '2');
      assert.equal(xmlValue(xml, 'StorageClass'), 'STANDARD');
      seen.push(...xmlValues(xml, 'PartNumber'));
      if (xmlValue(xml, 'IsTruncated') === 'false') break;
      marker = xmlValue(xml, 'NextPartNumberMarker');
    }
    assert.deepEqual(seen, ['1', '2', '3', '4', '5']);
    const sizes = xmlValues((await s3.send({ method: 'GET', path: '/mpu/paged', query: { uploadId: id } })).body.toString(), 'Size');
    assert.deepEqual(sizes, ['10', '20', '30', '40', '50']);
    await s3.send({ method: 'DELETE', path: '/mpu/paged', query: { uploadId: id } });
  });

  it('lists uploads with prefix, delimiter and markers', async () => {
    await createBucket('mpu-list');
    const keys = ['a/1', 'a/2', 'b', 'c/x/1', 'd'];
    const ids = new Map<string, string[]>();
    for (const key of keys) ids.set(key, [await initiate('mpu-list', key)]);
    ids.get('b')!.push(await initiate('mpu-list', 'b'));
    const list = (query: Record<string, string>) => s3.send({ method: 'GET', path: '/mpu-list', query: { uploads: '', ...query } });

    const all = (await list({})).body.toString();
    assert.match(all, /<ListMultipartUploadsResult xmlns=/);
    assert.deepEqual(xmlValues(all, 'Key'), ['a/1', 'a/2', 'b', 'b', 'c/x/1', 'd']);
    assert.deepEqual(xmlValues(all, 'UploadId').slice(2, 4), ids.get('b'), 'uploads of one key in initiation order');
    assert.equal(xmlValue(all, 'IsTruncated'), 'false');

    const rolled = (await list({ delimiter: '/' })).body.toString();
    assert.deepEqual(xmlValues(rolled, 'Key'), ['b', 'b', 'd']);
    assert.deepEqual(xmlValues(rolled, 'Prefix').filter((p) => p !== ''), ['a/', 'c/']);

    const under = (await list({ prefix: 'c/', delimiter: '/' })).body.toString();
    assert.deepEqual(xmlValues(under, 'Key'), []);
    assert.deepEqual(xmlValues(under, 'Prefix'), ['c/', 'c/x/']);

    // Pages of two, following NextKeyMarker / NextUploadIdMarker.
    const seen: string[] = [];
    let markers: Record<string, string> = {};
    for (let page = 0; page < 10; page++) {
      const xml = (await list({ 'max-uploads': '2', ...markers })).body.toString();
      seen.push(...xmlValues(xml, 'UploadId'));
      if (xmlValue(xml, 'IsTruncated') === 'false') break;
      markers = { 'key-marker': xmlValue(xml, 'NextKeyMarker'), 'upload-id-marker': xmlValue(xml, 'NextUploadIdMarker') };
    }
    assert.deepEqual(seen, xmlValues(all, 'UploadId'), 'every upload once, in order');

    // Pages of one, with a delimiter: prefixes count as entries.
    const entries: string[] = [];
    markers = {};
    for (let page = 0; page < 10; page++) {
      const xml = (await list({ 'max-uploads': '1', delimiter: '/', ...markers })).body.toString();
      entries.push(...xmlValues(xml, 'Key'), ...xmlValues(xml, 'Prefix').filter((p) => p !== ''));
      if (xmlValue(xml, 'IsTruncated') === 'false') break;
      markers = { 'key-marker': xmlValue(xml, 'NextKeyMarker'), 'upload-id-marker': xmlValue(xml, 'NextUploadIdMarker') ?? '' };
    }
    assert.deepEqual(entries, ['a/', 'b', 'b', 'c/', 'd']);
  });
});

describe('CompleteMultipartUpload retried (issue 16.5)', () => {
  before(() => createBucket('mpu-retry'));

  /** An upload of a 5 MiB part and a small one, with its Complete document. */
  async function readyUpload(key: string, headers: Record<string, string> = {}) {
    const id = await initiate('mpu-retry', key, headers);
    const body = [randomBytes(5 * MiB), randomBytes(777)];
    const etags = [await putPart('mpu-retry', key, id, 1, body[0]), await putPart('mpu-retry', key, id, 2, body[1])];
    return { id, body, etags, xml: completeXml([[1, etags[0]], [2, etags[1]]]) };
  }

  it('after it succeeded, with the same part list, answers 200 and the same result', async () => {
    const u = await readyUpload('again', { 'x-amz-checksum-algorithm': 'CRC32' });
    const first = await complete('mpu-retry', 'again', u.id, u.xml);
    assert.equal(first.status, 200, first.body.toString());
    // The retry lists the same parts: ETags quoted or not, as &quot; or &#34;.
    const retried = [
      u.xml,
      completeXml([[1, u.etags[0].replace(/"/g, '')], [2, u.etags[1].replace(/"/g, '&quot;')]]),
      completeXml([[1, u.etags[0].replace(/"/g, '&#34;')], [2, u.etags[1]]]),
    ];
    for (const body of retried) {
      const again = await complete('mpu-retry', 'again', u.id, body);
      assert.equal(again.status, 200, again.body.toString());
      assert.equal(again.body.toString(), first.body.toString(), 'the same CompleteMultipartUploadResult');
    }
    const xml = first.body.toString();
    assert.equal(xmlValue(xml, 'ETag').replace(/&quot;/g, '"'), expectedEtag(u.body));
    assert.match(xmlValue(xml, 'ChecksumCRC32'), /^[A-Za-z0-9+/]{6}==-2$/);
    assert.equal(xmlValue(xml, 'ChecksumType'), 'COMPOSITE');
    assert.ok((await s3.send({ method: 'GET', path: '/mpu-retry/again' })).body.equals(Buffer.concat(u.body)));

    // Anything else about a completed upload: NoSuchUpload, as S3 answers.
    const refusals: Array<[string, () => Promise<{ status: number; body: Buffer }>]> = [
      ['a Complete with another part list', () => complete('mpu-retry', 'again', u.id, completeXml([[1, u.etags[0]]]))],
      ['a Complete with another ETag', () => complete('mpu-retry', 'again', u.id, completeXml([[1, u.etags[0]], [2, u.etags[0]]]))],
      ['a Complete under another key', () => complete('mpu-retry', 'other', u.id, u.xml)],
      ['ListParts', () => s3.send({ method: 'GET', path: '/mpu-retry/again', query: { uploadId: u.id } })],
      ['UploadPart', () => uploadPart('mpu-retry', 'again', u.id, 3, randomBytes(10))],
      ['AbortMultipartUpload', () => s3.send({ method: 'DELETE', path: '/mpu-retry/again', query: { uploadId: u.id } })],
    ];
    for (const [what, req] of refusals) {
      const res = await req();
      assert.equal(res.status, 404, `${what}: ${res.body}`);
      assert.equal(errorCode(res.body), 'NoSuchUpload', what);
    }
    // The upload is not listed, and its part files are gone.
    const uploads = await s3.send({ method: 'GET', path: '/mpu-retry', query: { uploads: '' } });
    assert.ok(!xmlValues(uploads.body.toString(), 'UploadId').includes(u.id));
    // Still answered after the refusals.
    assert.equal((await complete('mpu-retry', 'again', u.id, u.xml)).status, 200);
  });

  it('two Completes at once: both answer 200 with the one result, and the object is assembled once', async () => {
    const u = await readyUpload('racing');
    const [a, b] = await Promise.all([complete('mpu-retry', 'racing', u.id, u.xml), complete('mpu-retry', 'racing', u.id, u.xml)]);
    assert.equal(a.status, 200, a.body.toString());
    assert.equal(b.status, 200, b.body.toString());
    assert.equal(a.body.toString(), b.body.toString());
    assert.ok((await s3.send({ method: 'GET', path: '/mpu-retry/racing' })).body.equals(Buffer.concat(u.body)));
  });

  it('a retry after the object was overwritten still gets the upload’s answer; a bucket deleted takes the record with it', async () => {
    const u = await readyUpload('overwritten');
    const first = await complete('mpu-retry', 'overwritten', u.id, u.xml);
    assert.equal(first.status, 200);
    assert.equal((await s3.send({ method: 'PUT', path: '/mpu-retry/overwritten', body: 'newer' })).status, 200);
    assert.equal((await complete('mpu-retry', 'overwritten', u.id, u.xml)).body.toString(), first.body.toString());

    await createBucket('mpu-retry-gone');
    const id = await initiate('mpu-retry-gone', 'k');
    const e = await putPart('mpu-retry-gone', 'k', id, 1, randomBytes(10));
    assert.equal((await complete('mpu-retry-gone', 'k', id, completeXml([[1, e]]))).status, 200);
    assert.equal((await s3.send({ method: 'DELETE', path: '/mpu-retry-gone/k' })).status, 204);
    assert.equal((await s3.send({ method: 'DELETE', path: '/mpu-retry-gone' })).status, 204);
    await createBucket('mpu-retry-gone');
    const late = await complete('mpu-retry-gone', 'k', id, completeXml([[1, e]]));
    assert.equal(errorCode(late.body), 'NoSuchUpload');
  });
});

describe('a part sent twice (issue 16.5)', () => {
  before(() => createBucket('mpu-twice'));

  /** Starts an UploadPart whose body arrives in two halves: the second when `finish` is called. */
  async function slowPart(key: string, uploadId: string, partNumber: number, body: Buffer) {
    const stream = new PassThrough();
    const res = s3.send({
      method: 'PUT',
      path: objectPath('mpu-twice', key),
      query: { partNumber: String(partNumber), uploadId },
      headers: { 'content-length': String(body.length) },
      body: stream,
    });
    stream.write(body.subarray(0, body.length / 2));
    return {
      finish: async () => {
        stream.end(body.subarray(body.length / 2));
        return res;
      },
    };
  }

  it('the transfer that finishes last is the part; Complete with both answers in order of arrival succeeds', async () => {
    const id = await initiate('mpu-twice', 'k');
    const a = randomBytes(64 * 1024);
    const b = randomBytes(64 * 1024);
    // A starts first and is held half-way; B is sent whole meanwhile; then A finishes.
    const first = await slowPart('k', id, 1, a);
    await new Promise((r) => setTimeout(r, 100));
    const eB = await putPart('mpu-twice', 'k', id, 1, b);
    const resA = await first.finish();
    assert.equal(resA.status, 200, resA.body.toString());
    const eA = String(resA.headers.etag);
    assert.equal(eA, `"${md5(a).toString('hex')}"`);

    const list = await s3.send({ method: 'GET', path: '/mpu-twice/k', query: { uploadId: id } });
    assert.deepEqual(xmlValues(list.body.toString(), 'ETag').map((e) => e.replace(/&quot;/g, '"')), [eA], 'the part that finished last');
    // Only the file of the part on record remains.
    assert.equal((await filesUnder(path.join(server.dataDir, 'parts'))).filter((f) => f.includes(id)).length, 1);

    // The client lists what it was answered, in the order the answers came: the last entry decides.
    const stale = await complete('mpu-twice', 'k', id, completeXml([[1, eA], [1, eB]]));
    assert.equal(stale.status, 400);
    assert.equal(errorCode(stale.body), 'InvalidPart');
    const done = await complete('mpu-twice', 'k', id, completeXml([[1, eB], [1, eA]]));
    assert.equal(done.status, 200, done.body.toString());
    assert.ok((await s3.send({ method: 'GET', path: '/mpu-twice/k' })).body.equals(a));
    assert.equal((await s3.send({ method: 'GET', path: '/mpu-twice/k' })).headers.etag, expectedEtag([a]));
  });
});

describe('Owner and Initiator of uploads (issue 16.5)', () => {
  it('name the principal that initiated the upload, in ListMultipartUploads and ListParts, for it and the bucket’s owner', async () => {
    const ownerId = randomUUID();
    const memberId = randomUUID();
    const owner = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, ownerId)));
    const member = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, memberId)));
    assert.equal((await owner.send({ method: 'PUT', path: '/mpu-owners' })).status, 200);
    await setBucketSettings(s3, 'mpu-owners', { member_writes: true });
    const initiated = async (client: S3RawClient, key: string) =>
      xmlValue((await client.send({ method: 'POST', path: `/mpu-owners/${key}`, query: { uploads: '' } })).body.toString(), 'UploadId');
    const ownUpload = await initiated(owner, 'by-owner');
    const memberUpload = await initiated(member, 'by-member');

    const people = (xml: string, element: 'Initiator' | 'Owner') =>
      [...xml.matchAll(new RegExp(`<${element}><ID>([^<]*)</ID><DisplayName>([^<]*)</DisplayName></${element}>`, 'g'))].map((m) => [m[1], m[2]]);
    const byOwner = (await owner.send({ method: 'GET', path: '/mpu-owners', query: { uploads: '' } })).body.toString();
    assert.deepEqual(xmlValues(byOwner, 'UploadId'), [memberUpload, ownUpload]);
    assert.deepEqual(people(byOwner, 'Initiator'), [[memberId, memberId], [ownerId, ownerId]]);
    assert.deepEqual(people(byOwner, 'Owner'), [[memberId, memberId], [ownerId, ownerId]]);
    // A member sees its own uploads only (RLS), named the same way.
    const byMember = (await member.send({ method: 'GET', path: '/mpu-owners', query: { uploads: '' } })).body.toString();
    assert.deepEqual(xmlValues(byMember, 'UploadId'), [memberUpload]);
    assert.deepEqual(people(byMember, 'Initiator'), [[memberId, memberId]]);

    for (const client of [owner, member]) {
      const parts = (await client.send({ method: 'GET', path: '/mpu-owners/by-member', query: { uploadId: memberUpload } })).body.toString();
      assert.deepEqual(people(parts, 'Initiator'), [[memberId, memberId]]);
      assert.deepEqual(people(parts, 'Owner'), [[memberId, memberId]]);
    }
    // The member cannot see the owner's upload at all.
    const hidden = await member.send({ method: 'GET', path: '/mpu-owners/by-owner', query: { uploadId: ownUpload } });
    assert.equal(errorCode(hidden.body), 'NoSuchUpload');
  });
});

describe('buckets with uploads in progress', () => {
  it('delete like S3 does: the uploads and their part files go with the bucket', async () => {
    await createBucket('mpu-doomed');
    const id = await initiate('mpu-doomed', 'k');
    await putPart('mpu-doomed', 'k', id, 1, randomBytes(100));
    const before = (await filesUnder(path.join(server.dataDir, 'parts'))).length;
    assert.equal((await s3.send({ method: 'DELETE', path: '/mpu-doomed' })).status, 204);
    assert.equal((await filesUnder(path.join(server.dataDir, 'parts'))).length, before - 1);
    await createBucket('mpu-doomed');
    const list = await s3.send({ method: 'GET', path: '/mpu-doomed', query: { uploads: '' } });
    assert.deepEqual(xmlValues(list.body.toString(), 'UploadId'), []);
  });
});

describe('abandoned uploads', () => {
  it('expire after AEROSTORE_MULTIPART_EXPIRY_DAYS, part files and all', async () => {
    // 0.00003 days is about 2.6 s; the expiry runs four times per period.
    const short = await startTestServer({ env: { AEROSTORE_MULTIPART_EXPIRY_DAYS: '0.00003' } });
    try {
      const client = new S3RawClient(short.url, short);
      assert.equal((await client.send({ method: 'PUT', path: '/expiring' })).status, 200);
      const init = await client.send({ method: 'POST', path: '/expiring/k', query: { uploads: '' } });
      const id = xmlValue(init.body.toString(), 'UploadId');
      const part = await client.send({ method: 'PUT', path: '/expiring/k', query: { partNumber: '1', uploadId: id }, body: 'x' });
      assert.equal(part.status, 200);
      const partsDir = path.join(short.dataDir, 'parts');
      assert.equal((await filesUnder(partsDir)).length, 1);
      await eventually(async () => (await filesUnder(partsDir)).length === 0, 'part files removed by expiry');
      const list = await client.send({ method: 'GET', path: '/expiring/k', query: { uploadId: id } });
      assert.equal(errorCode(list.body), 'NoSuchUpload');

      // A completed upload is remembered for a retried Complete, for as long.
      const doneInit = await client.send({ method: 'POST', path: '/expiring/done', query: { uploads: '' } });
      const doneId = xmlValue(doneInit.body.toString(), 'UploadId');
      const donePart = await client.send({ method: 'PUT', path: '/expiring/done', query: { partNumber: '1', uploadId: doneId }, body: 'y' });
      const doc = completeXml([[1, String(donePart.headers.etag)]]);
      const completeDone = () => client.send({ method: 'POST', path: '/expiring/done', query: { uploadId: doneId }, body: doc });
      assert.equal((await completeDone()).status, 200);
      assert.equal((await completeDone()).status, 200, 'retried at once: the same answer');
      await eventually(async () => errorCode((await completeDone()).body) === 'NoSuchUpload', 'the completion record expires');
    } finally {
      await short.stop();
    }
  });
});
