// A bucket created under a name that is now reserved (docs/security.md
// "Routing on the path as sent") keeps working for its other keys, and the
// server says at start-up that it exists.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from '../support/database.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer | undefined;
after(() => srv?.stop());

describe('buckets with names reserved later', () => {
  it('are reported at start-up and still serve their other keys path-style', async () => {
    const first = await startTestServer();
    const root = new S3RawClient(first.url, first);
    assert.equal((await root.send({ method: 'PUT', path: '/old-metrics' })).status, 200);
    assert.equal((await root.send({ method: 'PUT', path: '/old-metrics/report.txt', body: 'kept' })).status, 200);
    // As if it had been created before the name was reserved.
    const db = postgres(await embeddedDatabaseUrl(first.dataDir), { max: 1, onnotice: () => {} });
    await db`update storage.buckets set name = 'metrics' where name = 'old-metrics'`;
    await db.end();
    await first.stop({ keepData: true });

    srv = await startTestServer({ dataDir: first.dataDir });
    const again = new S3RawClient(srv.url, srv);
    assert.equal((await again.send({ method: 'GET', path: '/metrics/report.txt' })).body.toString(), 'kept');
    const deadline = Date.now() + 10_000;
    while (!srv.log().includes('a bucket has a reserved name') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const warning = srv.log().split('\n').find((line) => line.includes('a bucket has a reserved name'));
    assert.ok(warning, srv.log());
    assert.equal(JSON.parse(warning).bucket, 'metrics');
  });
});
