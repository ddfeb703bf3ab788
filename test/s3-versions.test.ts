// ListObjectVersions and versionId=null on an unversioned bucket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;
const values = (xml: string, tag: string) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: '/ver' })).status, 200);
  for (const key of ['a', 'b/1', 'b/2', 'c']) assert.equal((await s3.send({ method: 'PUT', path: `/ver/${key}`, body: key })).status, 200);
});
after(() => server?.stop());

describe('an unversioned bucket', () => {
  it('lists every object once as its latest "null" version, with prefixes and markers', async () => {
    const all = (await s3.send({ method: 'GET', path: '/ver', query: { versions: '' } })).body.toString();
    assert.match(all, /^<\?xml[^>]*>\s*<ListVersionsResult/);
    assert.deepEqual(values(all, 'Key'), ['a', 'b/1', 'b/2', 'c']);
    assert.deepEqual(values(all, 'VersionId'), ['null', 'null', 'null', 'null']);
    assert.deepEqual(values(all, 'IsLatest'), ['true', 'true', 'true', 'true']);

    const page = (await s3.send({ method: 'GET', path: '/ver', query: { versions: '', delimiter: '/', 'max-keys': '2' } })).body.toString();
    assert.deepEqual(values(page, 'Key'), ['a']);
    assert.deepEqual(values(page, 'Prefix').filter(Boolean), ['b/']);
    assert.equal(values(page, 'IsTruncated')[0], 'true');
    assert.equal(values(page, 'NextKeyMarker')[0], 'b/');
    const rest = (await s3.send({ method: 'GET', path: '/ver', query: { versions: '', delimiter: '/', 'key-marker': 'b/' } })).body.toString();
    assert.deepEqual(values(rest, 'Key'), ['c']);
  });

  it('accepts versionId=null on GET, HEAD and DELETE, and refuses other version ids', async () => {
    const got = await s3.send({ method: 'GET', path: '/ver/a', query: { versionId: 'null' } });
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'a');
    assert.equal((await s3.send({ method: 'HEAD', path: '/ver/a', query: { versionId: 'null' } })).status, 200);
    const bad = await s3.send({ method: 'GET', path: '/ver/a', query: { versionId: 'abc' } });
    assert.equal(bad.status, 400);
    assert.equal((await s3.send({ method: 'DELETE', path: '/ver/a', query: { versionId: 'null' } })).status, 204);
    assert.equal((await s3.send({ method: 'GET', path: '/ver/a' })).status, 404);
  });
});

describe('GetObjectAttributes', () => {
  it('answers the attributes asked for, with the stored checksum', async () => {
    const put = await s3.send({ method: 'PUT', path: '/ver/attrs', body: 'hello', headers: { 'x-amz-checksum-crc32': 'NhCmhg==' } });
    assert.equal(put.status, 200, put.body.toString());
    const res = await s3.send({
      method: 'GET',
      path: '/ver/attrs',
      query: { attributes: '' },
      headers: { 'x-amz-object-attributes': 'ETag,Checksum,ObjectSize,StorageClass' },
    });
    assert.equal(res.status, 200, res.body.toString());
    const xml = res.body.toString();
    assert.equal(values(xml, 'ETag')[0], '5d41402abc4b2a76b9719d911017c592');
    assert.equal(values(xml, 'ChecksumCRC32')[0], 'NhCmhg==');
    assert.equal(values(xml, 'ObjectSize')[0], '5');
    assert.equal(values(xml, 'StorageClass')[0], 'STANDARD');
    const bad = await s3.send({ method: 'GET', path: '/ver/attrs', query: { attributes: '' }, headers: { 'x-amz-object-attributes': 'Color' } });
    assert.equal(bad.status, 400);
    const missing = await s3.send({ method: 'GET', path: '/ver/nope', query: { attributes: '' }, headers: { 'x-amz-object-attributes': 'ETag' } });
    assert.equal(missing.status, 404);
  });
});
