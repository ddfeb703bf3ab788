// GET /admin/v1/buckets/stats (core/bucket-stats.ts), which the console's
// bucket list shows: objects and bytes, noncurrent versions, the bytes kept
// on disk and what deduplication saved, per bucket; the service role only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import type { BucketStats } from '../src/core/bucket-stats.ts';

const JWT_SECRET = 'bucket-stats-test-secret-0123456789abcdef';

let srv: TestServer;
let root: S3RawClient;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  root = new S3RawClient(srv.url, srv);
});

after(async () => {
  await srv?.stop();
});


async function stats(): Promise<Map<string, BucketStats>> {
  const res = await root.send({ method: 'GET', path: '/admin/v1/buckets/stats' });
  assert.equal(res.status, 200);
  return new Map((JSON.parse(res.body.toString()) as BucketStats[]).map((s) => [s.name, s]));
}

const put = async (path: string, body: string) => assert.equal((await root.send({ method: 'PUT', path, body })).status, 200);

describe('GET /admin/v1/buckets/stats', () => {
  it('counts objects and bytes, and the bytes deduplication saved', async () => {
    await put('/stats-plain', '');
    await put('/stats-empty', '');
    const content = 'x'.repeat(1000);
    await put('/stats-plain/a.txt', content);
    await put('/stats-plain/b.txt', content); // the same bytes: stored once
    await put('/stats-plain/c.txt', 'y'.repeat(500));
    const s = await stats();
    assert.deepEqual(s.get('stats-plain'), { name: 'stats-plain', objects: 3, bytes: 2500, noncurrent_versions: 0, noncurrent_bytes: 0, stored_bytes: 1500, dedup_savings: 1000 });
    assert.deepEqual(s.get('stats-empty'), { name: 'stats-empty', objects: 0, bytes: 0, noncurrent_versions: 0, noncurrent_bytes: 0, stored_bytes: 0, dedup_savings: 0 });
  });

  it('counts noncurrent versions, which share their blobs too', async () => {
    await put('/stats-versioned', '');
    const versioning = '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>';
    assert.equal((await root.send({ method: 'PUT', path: '/stats-versioned', query: { versioning: '' }, body: versioning })).status, 200);
    await put('/stats-versioned/doc', 'one'.repeat(100)); // 300 bytes
    await put('/stats-versioned/doc', 'two'.repeat(100)); // the first becomes noncurrent
    await put('/stats-versioned/doc', 'one'.repeat(100)); // the first content again: no new blob
    assert.equal((await root.send({ method: 'DELETE', path: '/stats-versioned/gone' })).status, 204); // a delete marker: no bytes
    const s = (await stats()).get('stats-versioned');
    assert.deepEqual(s, { name: 'stats-versioned', objects: 1, bytes: 300, noncurrent_versions: 2, noncurrent_bytes: 600, stored_bytes: 600, dedup_savings: 300 });
  });

  it('is for the service role only', async () => {
    const token = await new SignJWT({ sub: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const res = await fetch(`${srv.url}/admin/v1/buckets/stats`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.equal((await fetch(`${srv.url}/admin/v1/buckets/stats`)).status, 401);
  });
});
