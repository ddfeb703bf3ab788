// Every checksum algorithm S3 accepts (x-amz-checksum-{crc32, crc32c,
// crc64nvme, sha1, sha256, sha512, md5, xxhash64, xxhash3, xxhash128}) on
// PutObject (header and aws-chunked trailer), UploadPart, Complete, GET/HEAD
// in checksum mode, GetObjectAttributes (ObjectParts included) and copies;
// and the CRC64NVME that S3 stores for an object uploaded without one.
// The digests themselves are held to the AWS SDK's in src/core/checksums.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, checksumOf, COMPOSITE_ALGORITHMS, type ChecksumAlgorithm } from '../src/core/checksums.ts';
import { postForm, signPostPolicy } from './support/post-policy.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;
const BUCKET = 'algos';

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
});
after(() => server?.stop());

const put = (key: string, body: Buffer | string, headers: Record<string, string> = {}) => s3.send({ method: 'PUT', path: `/${BUCKET}/${key}`, body, headers });
const headChecksum = (key: string) => s3.send({ method: 'HEAD', path: `/${BUCKET}/${key}`, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
const attributes = (key: string, wanted: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, query: { attributes: '' }, headers: { 'x-amz-object-attributes': wanted, ...headers } });

/** An aws-chunked body with an unsigned trailer, as the SDKs stream one. */
function withTrailer(data: Buffer, trailer: string, value: string) {
  const body = Buffer.concat([
    Buffer.from(`${data.length.toString(16)}\r\n`),
    data,
    Buffer.from(`\r\n0\r\n${trailer}:${value}\r\n\r\n`),
  ]);
  const headers = {
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'x-amz-decoded-content-length': String(data.length),
    'x-amz-trailer': trailer,
  };
  return { body, headers };
}

const NEW_ALGORITHMS: ChecksumAlgorithm[] = ['SHA512', 'MD5', 'XXHASH64', 'XXHASH3', 'XXHASH128'];

describe('PutObject with every algorithm', () => {
  const body = randomBytes(70_000);

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`${algorithm}: verified, stored, echoed, served in checksum mode and by GetObjectAttributes`, async () => {
      const header = checksumHeaderName(algorithm);
      const value = await checksumOf(algorithm, body);
      const key = `put-${algorithm}`;
      const res = await put(key, body, { [header]: value, 'x-amz-sdk-checksum-algorithm': algorithm });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers[header], value);
      assert.equal(res.headers['x-amz-checksum-type'], 'FULL_OBJECT');

      const head = await headChecksum(key);
      assert.equal(head.headers[header], value);
      assert.equal(head.headers['x-amz-checksum-type'], 'FULL_OBJECT');
      // The object has that checksum and no other (not also the default CRC64NVME).
      assert.deepEqual(
        Object.keys(head.headers).filter((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-type'),
        [header],
      );
      const get = await s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
      assert.equal(get.headers[header], value);
      assert.ok(get.body.equals(body));

      const attrs = await attributes(key, 'Checksum,ObjectParts');
      assert.equal(xmlValue(attrs.body.toString(), `Checksum${algorithm}`), value);
      assert.equal(xmlValue(attrs.body.toString(), 'ChecksumType'), 'FULL_OBJECT');
      assert.equal(xmlValue(attrs.body.toString(), 'ObjectParts'), undefined, 'a single PUT has no parts');

      const wrong = await put(`${key}-wrong`, body, { [header]: await checksumOf(algorithm, Buffer.from('something else')) });
      assert.equal(wrong.status, 400);
      assert.equal(errorCode(wrong.body), 'BadDigest');
      assert.equal(xmlValue(wrong.body.toString(), 'Message'), `The ${algorithm} you specified did not match the calculated checksum.`);
      assert.equal((await headChecksum(`${key}-wrong`)).status, 404, 'nothing stored');
    });
  }

  for (const algorithm of NEW_ALGORITHMS) {
    it(`${algorithm} in an aws-chunked trailer: verified, a wrong one is BadDigest`, async () => {
      const header = checksumHeaderName(algorithm);
      const good = withTrailer(body, header, await checksumOf(algorithm, body));
      const res = await put(`trailer-${algorithm}`, good.body, good.headers);
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers[header], await checksumOf(algorithm, body));
      const bad = withTrailer(body, header, await checksumOf(algorithm, Buffer.from('x')));
      const refused = await put(`trailer-${algorithm}-bad`, bad.body, bad.headers);
      assert.equal(refused.status, 400);
      assert.equal(errorCode(refused.body), 'BadDigest');
    });
  }

  it('malformed values and unknown algorithms are InvalidRequest, as S3 answers them', async () => {
    const short = await put('bad-sha512', body, { 'x-amz-checksum-sha512': 'AAAAAA==' });
    assert.equal(errorCode(short.body), 'InvalidRequest');
    assert.equal(xmlValue(short.body.toString(), 'Message'), 'Value for x-amz-checksum-sha512 header is invalid.');
    const unknown = await put('bad-xxhash32', body, { 'x-amz-checksum-xxhash32': 'AAAAAA==' });
    assert.equal(errorCode(unknown.body), 'InvalidRequest');
  });
});

describe('POST Object with x-amz-checksum-* fields', () => {
  async function post(fields: Record<string, string>, data: Buffer) {
    const signed = signPostPolicy({
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      conditions: [{ bucket: BUCKET }, ...Object.entries(fields).map(([k, v]) => ({ [k]: v }))],
    });
    return fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: postForm(fields, signed, { data }) });
  }

  for (const algorithm of NEW_ALGORITHMS) {
    it(`${algorithm}: verified and stored; a wrong one is BadDigest`, async () => {
      const data = randomBytes(3000);
      const field = checksumHeaderName(algorithm);
      const value = await checksumOf(algorithm, data);
      const res = await post({ key: `form-${algorithm}`, [field]: value }, data);
      assert.equal(res.status, 204, await res.text());
      assert.equal(res.headers.get(field), value);
      assert.equal((await headChecksum(`form-${algorithm}`)).headers[field], value);
      const wrong = await post({ key: `form-${algorithm}-bad`, [field]: await checksumOf(algorithm, Buffer.from('x')) }, data);
      assert.equal(wrong.status, 400);
      assert.equal(errorCode(await wrong.text()), 'BadDigest');
    });
  }

  it('a form without a checksum field gets the default CRC64NVME', async () => {
    const data = randomBytes(2000);
    const res = await post({ key: 'form-plain' }, data);
    assert.equal(res.status, 204, await res.text());
    assert.equal(res.headers.get('x-amz-checksum-crc64nvme'), await checksumOf('CRC64NVME', data));
  });
});

describe('the default checksum: CRC64NVME', () => {
  it('an object uploaded without a checksum gets its CRC64NVME, FULL_OBJECT', async () => {
    const body = randomBytes(12_345);
    const expected = await checksumOf('CRC64NVME', body);
    const res = await put('plain', body);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-amz-checksum-crc64nvme'], expected);
    assert.equal(res.headers['x-amz-checksum-type'], 'FULL_OBJECT');
    const head = await headChecksum('plain');
    assert.equal(head.headers['x-amz-checksum-crc64nvme'], expected);
    assert.equal(head.headers['x-amz-checksum-type'], 'FULL_OBJECT');
    const plainHead = await s3.send({ method: 'HEAD', path: `/${BUCKET}/plain` });
    assert.equal(plainHead.headers['x-amz-checksum-crc64nvme'], undefined, 'only in checksum mode');
    // With Content-MD5 only, too.
    const md5 = await put('md5-only', body, { 'content-md5': Buffer.from(await checksumOf('MD5', body), 'base64').toString('base64') });
    assert.equal(md5.headers['x-amz-checksum-crc64nvme'], expected);
  });

  it('a multipart upload without an algorithm completes with the full-object CRC64NVME', async () => {
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(777)];
    const done = await multipart('mp-plain', {}, parts);
    assert.equal(done.status, 200, done.body.toString());
    const expected = await checksumOf('CRC64NVME', ...parts);
    assert.equal(xmlValue(done.body.toString(), 'ChecksumCRC64NVME'), expected);
    assert.equal(xmlValue(done.body.toString(), 'ChecksumType'), 'FULL_OBJECT');
    assert.equal((await headChecksum('mp-plain')).headers['x-amz-checksum-crc64nvme'], expected);
    // No additional checksum on the parts: ObjectParts has the count only.
    const attrs = (await attributes('mp-plain', 'ObjectParts')).body.toString();
    assert.equal(xmlValue(attrs, 'PartsCount'), '2');
    assert.deepEqual(xmlValues(attrs, 'Part'), []);
  });
});

async function createUpload(key: string, headers: Record<string, string>) {
  const created = await s3.send({ method: 'POST', path: `/${BUCKET}/${key}`, query: { uploads: '' }, headers });
  assert.equal(created.status, 200, created.body.toString());
  return xmlValue(created.body.toString(), 'UploadId')!;
}

const uploadPart = (key: string, uploadId: string, n: number, body: Buffer, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/${BUCKET}/${key}`, query: { partNumber: String(n), uploadId }, body, headers });

const complete = (key: string, uploadId: string, etags: string[], headers: Record<string, string> = {}) =>
  s3.send({
    method: 'POST',
    path: `/${BUCKET}/${key}`,
    query: { uploadId },
    body: `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
    headers,
  });

/** Create, upload each part with its checksum in the upload's algorithm (if any), complete. */
async function multipart(key: string, createHeaders: Record<string, string>, parts: Buffer[], algorithm?: ChecksumAlgorithm) {
  const uploadId = await createUpload(key, createHeaders);
  const etags: string[] = [];
  for (const [i, body] of parts.entries()) {
    const headers = algorithm ? { [checksumHeaderName(algorithm)]: await checksumOf(algorithm, body) } : {};
    const res = await uploadPart(key, uploadId, i + 1, body, headers);
    assert.equal(res.status, 200, res.body.toString());
    if (algorithm) assert.equal(res.headers[checksumHeaderName(algorithm)], headers[checksumHeaderName(algorithm)]);
    etags.push(res.headers.etag as string);
  }
  return complete(key, uploadId, etags);
}

describe('multipart uploads with every algorithm', () => {
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5000)];

  for (const algorithm of COMPOSITE_ALGORITHMS) {
    it(`${algorithm}: COMPOSITE, the checksum of the part checksums, -2`, async () => {
      const key = `mp-${algorithm}`;
      const done = await multipart(key, { 'x-amz-checksum-algorithm': algorithm, 'x-amz-checksum-type': 'COMPOSITE' }, parts, algorithm);
      assert.equal(done.status, 200, done.body.toString());
      const partSums = await Promise.all(parts.map((p) => checksumOf(algorithm, p)));
      const composite = `${await checksumOf(algorithm, ...partSums.map((v) => Buffer.from(v, 'base64')))}-2`;
      assert.equal(xmlValue(done.body.toString(), `Checksum${algorithm}`), composite);
      assert.equal(xmlValue(done.body.toString(), 'ChecksumType'), 'COMPOSITE');
      const head = await headChecksum(key);
      assert.equal(head.headers[checksumHeaderName(algorithm)], composite);
      assert.equal(head.headers['x-amz-checksum-type'], 'COMPOSITE');
      const attrs = (await attributes(key, 'Checksum,ObjectParts')).body.toString();
      assert.deepEqual(xmlValues(attrs, `Checksum${algorithm}`), [composite.replace(/-2$/, ''), ...partSums]);
    });
  }

  for (const algorithm of ['SHA1', 'SHA256', 'SHA512', 'MD5', 'XXHASH64', 'XXHASH3', 'XXHASH128']) {
    it(`${algorithm}: FULL_OBJECT is refused`, async () => {
      const res = await s3.send({
        method: 'POST',
        path: `/${BUCKET}/x`,
        query: { uploads: '' },
        headers: { 'x-amz-checksum-algorithm': algorithm, 'x-amz-checksum-type': 'FULL_OBJECT' },
      });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'InvalidRequest');
      assert.equal(
        xmlValue(res.body.toString(), 'Message'),
        `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`,
      );
    });
  }

  it('CRC32C FULL_OBJECT: the CRC32C of all the bytes, verified against the one sent on Complete', async () => {
    const uploadId = await createUpload('mp-full', { 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'FULL_OBJECT' });
    const etags = [];
    for (const [i, p] of parts.entries()) etags.push((await uploadPart('mp-full', uploadId, i + 1, p)).headers.etag as string);
    const wrong = await complete('mp-full', uploadId, etags, { 'x-amz-checksum-crc32c': await checksumOf('CRC32C', Buffer.from('no')) });
    assert.equal(errorCode(wrong.body), 'BadDigest');
    const whole = await checksumOf('CRC32C', ...parts);
    const done = await complete('mp-full', uploadId, etags, { 'x-amz-checksum-crc32c': whole });
    assert.equal(done.status, 200, done.body.toString());
    assert.equal(xmlValue(done.body.toString(), 'ChecksumCRC32C'), whole);
    assert.equal(xmlValue(done.body.toString(), 'ChecksumType'), 'FULL_OBJECT');
  });

  it('Complete with another x-amz-checksum-type than the upload’s: InvalidRequest', async () => {
    const uploadId = await createUpload('mp-type', { 'x-amz-checksum-algorithm': 'SHA512' });
    const res = await uploadPart('mp-type', uploadId, 1, parts[1]);
    const refused = await complete('mp-type', uploadId, [res.headers.etag as string], { 'x-amz-checksum-type': 'FULL_OBJECT' });
    assert.equal(refused.status, 400);
    assert.equal(errorCode(refused.body), 'InvalidRequest');
    assert.equal(
      xmlValue(refused.body.toString(), 'Message'),
      'The upload was created using the COMPOSITE checksum mode. The complete request must use the same checksum mode.',
    );
    const done = await complete('mp-type', uploadId, [res.headers.etag as string], { 'x-amz-checksum-type': 'COMPOSITE' });
    assert.equal(done.status, 200, done.body.toString());
  });

  it('UploadPart: a part without a checksum gets the upload’s; another algorithm’s is refused; a wrong one is BadDigest', async () => {
    const key = 'mp-parts';
    const uploadId = await createUpload(key, { 'x-amz-checksum-algorithm': 'XXHASH3' });
    const computed = await uploadPart(key, uploadId, 1, parts[0]);
    assert.equal(computed.status, 200);
    assert.equal(computed.headers['x-amz-checksum-xxhash3'], await checksumOf('XXHASH3', parts[0]));

    const other = await uploadPart(key, uploadId, 2, parts[1], { 'x-amz-checksum-sha512': await checksumOf('SHA512', parts[1]) });
    assert.equal(other.status, 400);
    assert.equal(errorCode(other.body), 'InvalidRequest');
    assert.equal(
      xmlValue(other.body.toString(), 'Message'),
      'Checksum Type mismatch occurred, expected checksum Type: xxhash3, actual checksum Type: sha512',
    );

    // Part 2 sent, then sent again with other bytes: the second replaces the first, checksum and all.
    const first = await uploadPart(key, uploadId, 2, parts[1], { 'x-amz-checksum-xxhash3': await checksumOf('XXHASH3', parts[1]) });
    assert.equal(first.status, 200);
    const replacement = randomBytes(3000);
    const bad = await uploadPart(key, uploadId, 2, replacement, { 'x-amz-checksum-xxhash3': await checksumOf('XXHASH3', parts[1]) });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'BadDigest');
    const listed = (await s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, query: { uploadId } })).body.toString();
    assert.equal(xmlValue(listed, 'ChecksumAlgorithm'), 'XXHASH3');
    assert.equal(xmlValue(listed, 'ChecksumType'), 'COMPOSITE');
    assert.deepEqual(xmlValues(listed, 'ChecksumXXHASH3'), [await checksumOf('XXHASH3', parts[0]), await checksumOf('XXHASH3', parts[1])], 'a refused re-upload leaves the part as it was');
    const second = await uploadPart(key, uploadId, 2, replacement, { 'x-amz-checksum-xxhash3': await checksumOf('XXHASH3', replacement) });
    assert.equal(second.status, 200);
    const relisted = (await s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, query: { uploadId } })).body.toString();
    assert.deepEqual(xmlValues(relisted, 'ChecksumXXHASH3'), [await checksumOf('XXHASH3', parts[0]), await checksumOf('XXHASH3', replacement)]);
    assert.deepEqual(xmlValues(relisted, 'Size'), [String(parts[0].length), String(replacement.length)]);

    const done = await complete(key, uploadId, [computed.headers.etag as string, second.headers.etag as string]);
    assert.equal(done.status, 200, done.body.toString());
    const sums = [await checksumOf('XXHASH3', parts[0]), await checksumOf('XXHASH3', replacement)];
    assert.equal(xmlValue(done.body.toString(), 'ChecksumXXHASH3'), `${await checksumOf('XXHASH3', ...sums.map((s) => Buffer.from(s, 'base64')))}-2`);
  });
});

describe('GetObjectAttributes ObjectParts', () => {
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(4321)];

  before(async () => {
    const done = await multipart('three', { 'x-amz-checksum-algorithm': 'CRC32C' }, parts, 'CRC32C');
    assert.equal(done.status, 200, done.body.toString());
  });

  it('a 3-part CRC32C upload: PartsCount, each part’s number, size and checksum', async () => {
    const res = await attributes('three', 'ObjectParts,ObjectSize');
    assert.equal(res.status, 200, res.body.toString());
    const xml = res.body.toString();
    assert.equal(xmlValue(xml, 'PartsCount'), '3');
    assert.equal(xmlValue(xml, 'PartNumberMarker'), '0');
    assert.equal(xmlValue(xml, 'NextPartNumberMarker'), '3');
    assert.equal(xmlValue(xml, 'MaxParts'), '1000');
    assert.equal(xmlValue(xml, 'IsTruncated'), 'false');
    assert.deepEqual(xmlValues(xml, 'PartNumber'), ['1', '2', '3']);
    assert.deepEqual(xmlValues(xml, 'Size'), parts.map((p) => String(p.length)));
    assert.deepEqual(xmlValues(xml, 'ChecksumCRC32C'), await Promise.all(parts.map((p) => checksumOf('CRC32C', p))));
    assert.equal(xmlValue(xml, 'ObjectSize'), String(parts.reduce((n, p) => n + p.length, 0)));
  });

  it('paginated by x-amz-max-parts and x-amz-part-number-marker', async () => {
    const first = (await attributes('three', 'ObjectParts', { 'x-amz-max-parts': '2' })).body.toString();
    assert.deepEqual(xmlValues(first, 'PartNumber'), ['1', '2']);
    assert.equal(xmlValue(first, 'IsTruncated'), 'true');
    assert.equal(xmlValue(first, 'NextPartNumberMarker'), '2');
    assert.equal(xmlValue(first, 'MaxParts'), '2');
    assert.equal(xmlValue(first, 'PartsCount'), '3');
    const second = (await attributes('three', 'ObjectParts', { 'x-amz-max-parts': '2', 'x-amz-part-number-marker': '2' })).body.toString();
    assert.deepEqual(xmlValues(second, 'PartNumber'), ['3']);
    assert.equal(xmlValue(second, 'IsTruncated'), 'false');
    assert.equal(xmlValue(second, 'PartNumberMarker'), '2');
    assert.equal(xmlValue(second, 'NextPartNumberMarker'), '3');
    const past = (await attributes('three', 'ObjectParts', { 'x-amz-part-number-marker': '3' })).body.toString();
    assert.deepEqual(xmlValues(past, 'PartNumber'), []);
    assert.equal(xmlValue(past, 'IsTruncated'), 'false');
    const bad = await attributes('three', 'ObjectParts', { 'x-amz-max-parts': 'many' });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
  });

  it('GET and HEAD ?partNumber=N in checksum mode: that part’s checksum, which its bytes match', async () => {
    const get = await s3.send({ method: 'GET', path: `/${BUCKET}/three`, query: { partNumber: '2' }, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    assert.equal(get.status, 206);
    assert.ok(get.body.equals(parts[1]));
    assert.equal(get.headers['x-amz-checksum-crc32c'], await checksumOf('CRC32C', parts[1]));
    const head = await s3.send({ method: 'HEAD', path: `/${BUCKET}/three`, query: { partNumber: '3' }, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    assert.equal(head.headers['x-amz-checksum-crc32c'], await checksumOf('CRC32C', parts[2]));
    const plain = await s3.send({ method: 'HEAD', path: `/${BUCKET}/three`, query: { partNumber: '3' } });
    assert.equal(plain.headers['x-amz-checksum-crc32c'], undefined, 'only in checksum mode');
    const ranged = await s3.send({ method: 'GET', path: `/${BUCKET}/three`, headers: { range: 'bytes=0-9', 'x-amz-checksum-mode': 'ENABLED' } });
    assert.equal(ranged.headers['x-amz-checksum-crc32c'], undefined, 'never with a Range');
  });

  it('Checksum of a composite object: without its -N, ChecksumType COMPOSITE', async () => {
    const xml = (await attributes('three', 'Checksum')).body.toString();
    const sums = await Promise.all(parts.map((p) => checksumOf('CRC32C', p)));
    assert.equal(xmlValue(xml, 'ChecksumCRC32C'), await checksumOf('CRC32C', ...sums.map((s) => Buffer.from(s, 'base64'))));
    assert.equal(xmlValue(xml, 'ChecksumType'), 'COMPOSITE');
  });

  it('a copy within the bucket keeps the parts; a copy to another algorithm is one part', async () => {
    const same = await s3.send({ method: 'PUT', path: `/${BUCKET}/three-copy`, headers: { 'x-amz-copy-source': `/${BUCKET}/three` } });
    assert.equal(same.status, 200, same.body.toString());
    assert.equal(xmlValue((await attributes('three-copy', 'ObjectParts')).body.toString(), 'PartsCount'), '3');
  });
});

describe('CopyObject with x-amz-checksum-algorithm', () => {
  it('the copy gets the algorithm asked for, in place of the source’s', async () => {
    const body = randomBytes(40_000);
    assert.equal((await put('copy-src', body)).status, 200);
    for (const algorithm of NEW_ALGORITHMS) {
      const res = await s3.send({
        method: 'PUT',
        path: `/${BUCKET}/copy-${algorithm}`,
        headers: { 'x-amz-copy-source': `/${BUCKET}/copy-src`, 'x-amz-checksum-algorithm': algorithm.toLowerCase() },
      });
      assert.equal(res.status, 200, res.body.toString());
      const xml = res.body.toString();
      assert.equal(xmlValue(xml, `Checksum${algorithm}`), await checksumOf(algorithm, body));
      assert.equal(xmlValue(xml, 'ChecksumCRC64NVME'), undefined, 'the source’s default checksum is replaced');
      assert.equal(xmlValue(xml, 'ChecksumType'), 'FULL_OBJECT');
      const head = await headChecksum(`copy-${algorithm}`);
      assert.equal(head.headers[checksumHeaderName(algorithm)], await checksumOf(algorithm, body));
      assert.equal(head.headers['x-amz-checksum-crc64nvme'], undefined);
    }
    // Without the header, the copy keeps the source's checksum.
    const kept = await s3.send({ method: 'PUT', path: `/${BUCKET}/copy-kept`, headers: { 'x-amz-copy-source': `/${BUCKET}/copy-SHA512` } });
    assert.equal(xmlValue(kept.body.toString(), 'ChecksumSHA512'), await checksumOf('SHA512', body));
  });
});
