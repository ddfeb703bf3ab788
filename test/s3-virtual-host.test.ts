// Virtual-hosted-style requests (AEROSTORE_DOMAIN) beside path-style ones.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;
before(async () => {
  server = await startTestServer({ env: { AEROSTORE_DOMAIN: 's3.aerostore.test' } });
  s3 = new S3RawClient(server.url, server);
});
after(() => server?.stop());

describe('virtual-hosted-style addressing', () => {
  it('serves <bucket>.<domain> requests and path-style ones alike', async () => {
    const host = (bucket: string) => `${bucket}.s3.aerostore.test:${new URL(server.url).port}`;
    // The Host header is signed, as a client addressing the bucket by name would sign it.
    assert.equal((await s3.send({ method: 'PUT', path: '/', headers: { host: host('vhost') } })).status, 200);
    const put = await s3.send({ method: 'PUT', path: '/dir/a%20b.txt', headers: { host: host('vhost') }, body: 'virtual' });
    assert.equal(put.status, 200, put.body.toString());
    const viaPath = await s3.send({ method: 'GET', path: '/vhost/dir/a%20b.txt' });
    assert.equal(viaPath.body.toString(), 'virtual');
    const list = await s3.send({ method: 'GET', path: '/', query: { 'list-type': '2' }, headers: { host: host('vhost') } });
    assert.match(list.body.toString(), /<Name>vhost<\/Name>.*<Key>dir\/a b.txt<\/Key>/s);
    const missing = await s3.send({ method: 'GET', path: '/x', headers: { host: host('nobucket') } });
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /<Code>NoSuchBucket<\/Code>/);
  });
});
