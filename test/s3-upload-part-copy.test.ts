// UploadPartCopy against a real server process on a real (embedded) Postgres.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeKey, S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';

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
const objectPath = (bucket: string, key: string) => `/${bucket}/${encodeKey(key)}`;

async function ok(res: Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>) {
  const r = await res;
  assert.equal(r.status, 200, r.body.toString());
  return r;
}

const createBucket = (name: string) => ok(s3.send({ method: 'PUT', path: `/${name}` }));
const put = (bucket: string, key: string, body: Buffer) => ok(s3.send({ method: 'PUT', path: objectPath(bucket, key), body }));

async function initiate(bucket: string, key: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await ok(s3.send({ method: 'POST', path: objectPath(bucket, key), query: { uploads: '' }, headers }));
  return xmlValue(res.body.toString(), 'UploadId') as string;
}

const copyPart = (bucket: string, key: string, uploadId: string, partNumber: number, source: string, headers: Record<string, string> = {}) =>
  s3.send({
    method: 'PUT',
    path: objectPath(bucket, key),
    query: { partNumber: String(partNumber), uploadId },
    headers: { 'x-amz-copy-source': source, ...headers },
  });

const completeXml = (parts: Array<[number, string]>) =>
  '<CompleteMultipartUpload>' +
  parts.map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`).join('') +
  '</CompleteMultipartUpload>';

describe('UploadPartCopy', () => {
  const source = randomBytes(6 * MiB);

  before(async () => {
    await createBucket('upc-src');
    await createBucket('upc-dst');
    await put('upc-src', 'dir/six mib', source);
    await put('upc-src', 'empty', Buffer.alloc(0));
  });

  it('assembles an object from two ranged copies and a plain part', async () => {
    const uploadId = await initiate('upc-dst', 'assembled');
    const first = source.subarray(0, 5 * MiB);
    const second = source.subarray(5 * MiB - 1000); // overlaps the first range, runs to the end: the last part
    const plain = randomBytes(5 * MiB + 17);

    const r1 = await ok(copyPart('upc-dst', 'assembled', uploadId, 1, '/upc-src/dir/six%20mib', { 'x-amz-copy-source-range': `bytes=0-${5 * MiB - 1}` }));
    const xml1 = r1.body.toString();
    assert.match(xml1, /^<\?xml[^>]*\?>\s*<CopyPartResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    const etag1 = xmlValue(xml1, 'ETag')?.replace(/&quot;/g, '"');
    assert.equal(etag1, `"${md5(first).toString('hex')}"`);
    const lastModified = xmlValue(xml1, 'LastModified') as string;
    assert.match(lastModified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(lastModified) - Date.now()) < 60_000);

    const r2 = await ok(copyPart('upc-dst', 'assembled', uploadId, 3, 'upc-src/dir/six%20mib', { 'x-amz-copy-source-range': `bytes=${5 * MiB - 1000}-${6 * MiB - 1}` }));
    const etag2 = xmlValue(r2.body.toString(), 'ETag')?.replace(/&quot;/g, '"');
    assert.equal(etag2, `"${md5(second).toString('hex')}"`);

    const r3 = await ok(s3.send({ method: 'PUT', path: objectPath('upc-dst', 'assembled'), query: { partNumber: '2', uploadId }, body: plain }));
    const etag3 = String(r3.headers.etag);

    // The copied parts are ordinary parts: listed with their sizes.
    const list = (await ok(s3.send({ method: 'GET', path: objectPath('upc-dst', 'assembled'), query: { uploadId } }))).body.toString();
    assert.deepEqual([...list.matchAll(/<Size>(\d+)<\/Size>/g)].map((m) => Number(m[1])), [first.length, plain.length, second.length]);

    const done = await ok(
      s3.send({
        method: 'POST',
        path: objectPath('upc-dst', 'assembled'),
        query: { uploadId },
        body: completeXml([
          [1, etag1 as string],
          [2, etag3],
          [3, etag2 as string],
        ]),
      }),
    );
    const expected = Buffer.concat([first, plain, second]);
    const etag = `"${createHash('md5').update(Buffer.concat([first, plain, second].map(md5))).digest('hex')}-3"`;
    assert.equal(xmlValue(done.body.toString(), 'ETag')?.replace(/&quot;/g, '"'), etag);

    const got = await ok(s3.send({ method: 'GET', path: objectPath('upc-dst', 'assembled') }));
    assert.equal(got.body.length, expected.length);
    assert.ok(got.body.equals(expected), 'assembled bytes differ');
    assert.equal(got.headers.etag, etag);
  });

  it('copies the whole source without a range, and follows the copy-source conditions', async () => {
    const uploadId = await initiate('upc-dst', 'whole', { 'x-amz-checksum-algorithm': 'CRC32' });
    const head = await ok(s3.send({ method: 'HEAD', path: objectPath('upc-src', 'dir/six mib') }));
    const sourceEtag = String(head.headers.etag);

    const res = await ok(copyPart('upc-dst', 'whole', uploadId, 1, '/upc-src/dir/six%20mib', { 'x-amz-copy-source-if-match': sourceEtag }));
    assert.equal(xmlValue(res.body.toString(), 'ETag')?.replace(/&quot;/g, '"'), `"${md5(source).toString('hex')}"`);
    assert.match(xmlValue(res.body.toString(), 'ChecksumCRC32') ?? '', /^[A-Za-z0-9+/]{6}==$/);

    for (const headers of <Array<Record<string, string>>>[
      { 'x-amz-copy-source-if-match': '"0123456789abcdef0123456789abcdef"' },
      { 'x-amz-copy-source-if-none-match': sourceEtag },
      { 'x-amz-copy-source-if-modified-since': new Date(Date.now() + 3_600_000).toUTCString() },
      { 'x-amz-copy-source-if-unmodified-since': new Date(Date.now() - 3_600_000).toUTCString() },
    ]) {
      const refused = await copyPart('upc-dst', 'whole', uploadId, 2, '/upc-src/dir/six%20mib', headers);
      assert.equal(refused.status, 412, JSON.stringify(headers));
      assert.equal(errorCode(refused.body), 'PreconditionFailed');
    }
    // Conditions that hold.
    await ok(copyPart('upc-dst', 'whole', uploadId, 2, '/upc-src/dir/six%20mib', {
      'x-amz-copy-source-if-none-match': '"0123456789abcdef0123456789abcdef"',
      'x-amz-copy-source-if-unmodified-since': new Date(Date.now() + 3_600_000).toUTCString(),
    }));

    // An empty source copies as an empty part.
    const empty = await ok(copyPart('upc-dst', 'whole', uploadId, 3, '/upc-src/empty'));
    assert.equal(xmlValue(empty.body.toString(), 'ETag')?.replace(/&quot;/g, '"'), `"${md5(Buffer.alloc(0)).toString('hex')}"`);

    await ok(s3.send({ method: 'DELETE', path: objectPath('upc-dst', 'whole'), query: { uploadId } }).then((r) => ({ ...r, status: r.status === 204 ? 200 : r.status })));
  });

  it('refuses malformed ranges and ranges outside the source', async () => {
    const uploadId = await initiate('upc-dst', 'ranges');
    for (const range of ['bytes=0-', 'bytes=-100', 'bytes=5-3', 'bytes 0-3', 'bytes=0-1,4-5', 'items=0-3']) {
      const res = await copyPart('upc-dst', 'ranges', uploadId, 1, '/upc-src/dir/six%20mib', { 'x-amz-copy-source-range': range });
      assert.equal(res.status, 400, range);
      assert.equal(errorCode(res.body), 'InvalidArgument', range);
    }
    for (const range of [`bytes=0-${6 * MiB}`, `bytes=${6 * MiB}-${6 * MiB + 10}`]) {
      const res = await copyPart('upc-dst', 'ranges', uploadId, 1, '/upc-src/dir/six%20mib', { 'x-amz-copy-source-range': range });
      assert.equal(res.status, 400, range);
      assert.equal(errorCode(res.body), 'InvalidArgument');
      assert.match(res.body.toString(), new RegExp(`Range specified is not valid for source object of size: ${6 * MiB}`));
    }
    const empty = await copyPart('upc-dst', 'ranges', uploadId, 1, '/upc-src/empty', { 'x-amz-copy-source-range': 'bytes=0-0' });
    assert.equal(errorCode(empty.body), 'InvalidArgument');
    // Nothing was stored by the refusals.
    const list = (await ok(s3.send({ method: 'GET', path: objectPath('upc-dst', 'ranges'), query: { uploadId } }))).body.toString();
    assert.doesNotMatch(list, /<Part>/);
  });

  it('answers NoSuchUpload, NoSuchKey, NoSuchBucket and a bad copy source like S3', async () => {
    const uploadId = await initiate('upc-dst', 'errors');
    const cases: Array<[string, string, string, number, string]> = [
      ['errors', 'not-an-upload', '/upc-src/dir/six%20mib', 404, 'NoSuchUpload'],
      ['errors', uploadId, '/upc-src/missing', 404, 'NoSuchKey'],
      ['errors', uploadId, '/no-such-source-bucket/k', 404, 'NoSuchBucket'],
      ['errors', uploadId, 'upc-src', 400, 'InvalidArgument'],
      ['errors', uploadId, '/upc-src/dir/six%20mib?versionId=abc', 400, 'InvalidArgument'],
      ['other-key', uploadId, '/upc-src/dir/six%20mib', 404, 'NoSuchUpload'],
    ];
    for (const [key, id, src, status, code] of cases) {
      const res = await copyPart('upc-dst', key, id, 1, src);
      assert.equal(res.status, status, `${key} ${src}: ${res.body}`);
      assert.equal(errorCode(res.body), code, `${key} ${src}`);
    }
    const badPart = await copyPart('upc-dst', 'errors', uploadId, 0, '/upc-src/dir/six%20mib');
    assert.equal(errorCode(badPart.body), 'InvalidArgument');
    const noBucket = await copyPart('upc-nope', 'errors', uploadId, 1, '/upc-src/dir/six%20mib');
    assert.equal(errorCode(noBucket.body), 'NoSuchBucket');
    // versionId=null names the object.
    await ok(copyPart('upc-dst', 'errors', uploadId, 1, '/upc-src/empty?versionId=null'));
  });
});
