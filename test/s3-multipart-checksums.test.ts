// Multipart object checksums: COMPOSITE (checksum of the part checksums, "-N")
// and FULL_OBJECT (over all the bytes), as S3 defines them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;
const crc32b64 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: '/mpc' })).status, 200);
});
after(() => server?.stop());

const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];

async function upload(key: string, type: string | undefined, completeHeaders: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'x-amz-checksum-algorithm': 'CRC32', ...(type ? { 'x-amz-checksum-type': type } : {}) };
  const created = await s3.send({ method: 'POST', path: `/mpc/${key}`, query: { uploads: '' }, headers });
  assert.equal(created.status, 200, created.body.toString());
  const uploadId = xmlValue(created.body.toString(), 'UploadId')!;
  const listed: string[] = [];
  for (const [i, body] of parts.entries()) {
    const res = await s3.send({
      method: 'PUT',
      path: `/mpc/${key}`,
      query: { partNumber: String(i + 1), uploadId },
      body,
      headers: { 'x-amz-checksum-crc32': crc32b64(body) },
    });
    assert.equal(res.status, 200, res.body.toString());
    listed.push(`<Part><PartNumber>${i + 1}</PartNumber><ETag>${res.headers.etag}</ETag><ChecksumCRC32>${crc32b64(body)}</ChecksumCRC32></Part>`);
  }
  return s3.send({
    method: 'POST',
    path: `/mpc/${key}`,
    query: { uploadId },
    body: `<CompleteMultipartUpload>${listed.join('')}</CompleteMultipartUpload>`,
    headers: completeHeaders,
  });
}

async function head(key: string) {
  return s3.send({ method: 'HEAD', path: `/mpc/${key}`, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
}

describe('multipart object checksums', () => {
  it('COMPOSITE (the default for CRC32): checksum of the part checksums, suffixed -N', async () => {
    const done = await upload('composite', undefined);
    assert.equal(done.status, 200, done.body.toString());
    const expected = crc32b64(Buffer.concat(parts.map((p) => Buffer.from(crc32b64(p), 'base64')))) + '-2';
    assert.equal(xmlValue(done.body.toString(), 'ChecksumCRC32'), expected);
    assert.equal(xmlValue(done.body.toString(), 'ChecksumType'), 'COMPOSITE');
    const h = await head('composite');
    assert.equal(h.headers['x-amz-checksum-crc32'], expected);
    assert.equal(h.headers['x-amz-checksum-type'], 'COMPOSITE');
  });

  it('FULL_OBJECT: the CRC32 of all the bytes, checked against one sent on Complete', async () => {
    const whole = crc32b64(Buffer.concat(parts));
    const done = await upload('full', 'FULL_OBJECT', { 'x-amz-checksum-crc32': whole });
    assert.equal(done.status, 200, done.body.toString());
    assert.equal(xmlValue(done.body.toString(), 'ChecksumCRC32'), whole);
    assert.equal(xmlValue(done.body.toString(), 'ChecksumType'), 'FULL_OBJECT');
    const h = await head('full');
    assert.equal(h.headers['x-amz-checksum-crc32'], whole);
    assert.equal(h.headers['x-amz-checksum-type'], 'FULL_OBJECT');

    const wrong = await upload('full-wrong', 'FULL_OBJECT', { 'x-amz-checksum-crc32': crc32b64(Buffer.from('other')) });
    assert.equal(wrong.status, 400);
    assert.equal(errorCode(wrong.body), 'BadDigest');
    assert.equal((await head('full-wrong')).status, 404, 'nothing stored');
  });

  it('refuses combinations S3 refuses', async () => {
    const sha = await s3.send({ method: 'POST', path: '/mpc/x', query: { uploads: '' }, headers: { 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' } });
    assert.equal(errorCode(sha.body), 'InvalidRequest');
    const nvme = await s3.send({ method: 'POST', path: '/mpc/x', query: { uploads: '' }, headers: { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' } });
    assert.equal(errorCode(nvme.body), 'InvalidRequest');
    const typeOnly = await s3.send({ method: 'POST', path: '/mpc/x', query: { uploads: '' }, headers: { 'x-amz-checksum-type': 'COMPOSITE' } });
    assert.equal(errorCode(typeOnly.body), 'InvalidRequest');
  });
});
