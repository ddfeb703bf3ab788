// The event log over Server-Sent Events (GET /storage/v1/events): payloads,
// filters, row-level security, two server processes on one database,
// commit-ordered contiguous numbers under concurrent writes, batched download
// events, resuming with Last-Event-ID across a restart, pruning, and streams
// ending when their credentials expire.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { connectPools } from '../src/db/session.ts';
import { pruneEvents } from '../src/events/retention.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { openEventStream, type SseEvent, type SseStream } from './support/sse.ts';

const SECRET = 'events-test-secret-0123456789abcdefghij';
const MASTER_KEY = randomBytes(32).toString('base64');
const A = randomUUID();
const B = randomUUID();
let a: TestServer; // owns the embedded Postgres
let b: TestServer; // a second process on the same database
let db: postgres.Sql;
let tokenA: string;
let tokenB: string;
let asA: StorageClient;
const streams: SseStream[] = [];

const jwt = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const clientFor = (srv: TestServer, token: string) => new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });

async function subscribe(srv: TestServer, token: string, query = '', headers: Record<string, string> = {}): Promise<SseStream> {
  const s = await openEventStream(`${srv.url}/storage/v1/events${query}`, { authorization: `Bearer ${token}`, ...headers });
  assert.equal(s.status, 200);
  streams.push(s);
  return s;
}
const payload = (e: SseEvent) => JSON.parse(e.data) as Record<string, unknown> & { actor: Record<string, unknown> };

before(async () => {
  a = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_MASTER_KEY: MASTER_KEY } });
  const dbUrl = await embeddedDatabaseUrl(a.dataDir);
  b = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET, DATABASE_URL: dbUrl, AEROSTORE_MASTER_KEY: MASTER_KEY } });
  db = postgres(dbUrl, { max: 1, onnotice: () => {} });
  tokenA = await jwt({ sub: A, role: 'authenticated' });
  tokenB = await jwt({ sub: B, role: 'authenticated' });
  asA = clientFor(a, tokenA);
  assert.equal((await asA.createBucket('a-private')).error, null);
  const pub = await fetch(`${a.url}/storage/v1/bucket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'a-public', public: true, download_events: true }),
  });
  assert.equal(pub.status, 200);
});
after(async () => {
  for (const s of streams) s.close();
  await db?.end({ timeout: 1 });
  await b?.stop();
  await a?.stop();
  if (a) await rm(a.dataDir, { recursive: true, force: true });
});

describe('GET /storage/v1/events', () => {
  it('streams created and deleted events with their payload and actor', async () => {
    const s = await subscribe(a, tokenA, '?bucket=a-private');
    const body = Buffer.from('hello events');
    assert.equal((await asA.from('a-private').upload('docs/one.txt', body, { contentType: 'text/plain' })).error, null);
    const root = new S3RawClient(a.url, a);
    assert.equal((await root.send({ method: 'DELETE', path: '/a-private/docs/one.txt' })).status, 204);

    const created = await s.next();
    assert.equal(created.event, 'storage.object.created');
    const c = payload(created);
    assert.equal(String(c.id), created.id);
    assert.equal(c.type, 'storage.object.created');
    assert.equal(c.bucket, 'a-private');
    assert.equal(c.path, 'docs/one.txt');
    assert.match(String(c.object_id), /^[0-9a-f-]{36}$/);
    assert.equal(c.owner_id, A);
    assert.equal(c.size, body.length);
    assert.equal(c.content_type, 'text/plain');
    assert.equal(c.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(c.actor.user_id, A);
    assert.equal(c.actor.via, 'jwt');
    assert.match(String(c.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const deleted = await s.next();
    assert.equal(deleted.event, 'storage.object.deleted');
    assert.equal(Number(deleted.id), Number(created.id) + 1);
    const d = payload(deleted);
    assert.equal(d.object_id, c.object_id);
    assert.equal(d.owner_id, A, 'the object’s owner, though the root key deleted it');
    assert.equal(d.actor.role, 'service');
    assert.equal(d.actor.access_key_id, a.accessKeyId);
  });

  it('filters by type and path prefix, and refuses an unknown type', async () => {
    const s = await subscribe(a, tokenA, '?type=storage.object.deleted&prefix=logs/');
    await asA.from('a-private').upload('logs/x.txt', Buffer.from('x'), { contentType: 'text/plain' });
    await asA.from('a-private').upload('other/y.txt', Buffer.from('y'), { contentType: 'text/plain' });
    await asA.from('a-private').remove(['other/y.txt', 'logs/x.txt']);
    const only = await s.next();
    assert.equal(only.event, 'storage.object.deleted');
    assert.equal(payload(only).path, 'logs/x.txt');
    assert.deepEqual(await s.drain(300), []);
    const bad = await fetch(`${a.url}/storage/v1/events?type=storage.object.exploded`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'INVALID_REQUEST');
  });

  it('delivers only events about objects the subscriber may read', async () => {
    const asB = await subscribe(a, tokenB);
    const anonymous = await subscribe(a, await jwt({ role: 'anon' }));
    await asA.from('a-private').upload('secret.txt', Buffer.from('secret'), { contentType: 'text/plain' });
    await asA.from('a-public').upload('open.txt', Buffer.from('open'), { contentType: 'text/plain' });
    for (const s of [asB, anonymous]) {
      const first = await s.next();
      assert.equal(payload(first).path, 'open.txt');
      assert.deepEqual((await s.drain(200)).map((e) => payload(e).path), []);
    }
  });

  it('ends a stream when its JWT expires; one opened with a longer token stays open', async () => {
    const shortLived = await new SignJWT({ sub: A, role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
      .sign(new TextEncoder().encode(SECRET));
    const short = await subscribe(a, shortLived, '?bucket=a-private');
    const long = await subscribe(a, tokenA, '?bucket=a-private');
    await asA.from('a-private').upload('before-expiry.txt', Buffer.from('x'), { contentType: 'text/plain' });
    for (const s of [short, long]) assert.equal(payload(await s.next()).path, 'before-expiry.txt');
    const started = Date.now();
    await assert.rejects(short.next(8000), /event stream ended/);
    assert.ok(Date.now() - started < 6000, 'the stream ended at the expiry, not at a timeout');
    await asA.from('a-private').upload('after-expiry.txt', Buffer.from('y'), { contentType: 'text/plain' });
    assert.equal(payload(await long.next()).path, 'after-expiry.txt');
  });

  it('streams on one server process what was written through another', async () => {
    const onB = await subscribe(b, tokenA, '?bucket=a-private');
    await asA.from('a-private').upload('via-a.txt', Buffer.from('a'), { contentType: 'text/plain' });
    assert.equal(payload(await onB.next()).path, 'via-a.txt');
  });

  it('numbers concurrent writes from two processes contiguously, each once, in order', async () => {
    const s = await subscribe(a, tokenA, '?bucket=a-private&prefix=burst/');
    const viaB = clientFor(b, tokenA);
    const keys = Array.from({ length: 40 }, (_, i) => `burst/${String(i).padStart(2, '0')}.txt`);
    await Promise.all(keys.map((k, i) => (i % 2 ? viaB : asA).from('a-private').upload(k, Buffer.from(k), { contentType: 'text/plain' })));
    const got: SseEvent[] = [];
    for (let i = 0; i < keys.length; i++) got.push(await s.next());
    const ids = got.map((e) => Number(e.id));
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1, `ids ${ids.join(',')}`);
    assert.deepEqual(got.map((e) => payload(e).path).sort(), keys);
  });

  it('records downloads, batched, only in buckets that ask for them', async () => {
    const s = await subscribe(a, tokenA, '?type=storage.object.downloaded');
    await asA.from('a-private').upload('quiet.txt', Buffer.from('quiet'), { contentType: 'text/plain' });
    assert.equal((await (await asA.from('a-private').download('quiet.txt')).data?.text()), 'quiet');
    const res = await fetch(`${a.url}/storage/v1/object/public/a-public/open.txt`, { headers: { range: 'bytes=0-1' } });
    assert.equal(await res.text(), 'op');
    const e = await s.next(5000);
    assert.equal(payload(e).path, 'open.txt');
    assert.equal(payload(e).range, '0-1');
    assert.equal(payload(e).actor.kind, 'anonymous');
    assert.deepEqual(await s.drain(1500), [], 'no event for the bucket without download events');
  });

  it('prunes events older than the retention', async () => {
    const [{ id }] = await db<{ id: string }[]>`select id from storage.events where seq is not null order by id limit 1`;
    await db`update storage.events set created_at = now() - interval '8 days' where id = ${id}`;
    const pools = connectPools(await embeddedDatabaseUrl(a.dataDir), { max: 2 });
    try {
      assert.equal(await pruneEvents(pools.sql, 7), 1);
      assert.equal(await pruneEvents(pools.sql, 7), 0);
    } finally {
      await pools.end();
    }
    assert.equal((await db`select 1 from storage.events where id = ${id}`).length, 0);
  });

  it('resumes after Last-Event-ID across a server restart with no gap and no duplicate', async () => {
    const s = await subscribe(a, tokenA, '?bucket=a-private&prefix=resume/');
    for (const n of [1, 2, 3]) await asA.from('a-private').upload(`resume/${n}.txt`, Buffer.from(String(n)), { contentType: 'text/plain' });
    const seen = [await s.next(), await s.next()]; // the client has read two of three
    s.close();
    await b.stop();
    await a.stop({ keepData: true });
    a = await startTestServer({ dataDir: a.dataDir, env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_MASTER_KEY: MASTER_KEY } });
    asA = clientFor(a, tokenA);
    for (const n of [4, 5]) await asA.from('a-private').upload(`resume/${n}.txt`, Buffer.from(String(n)), { contentType: 'text/plain' });
    const resumed = await subscribe(a, tokenA, '?bucket=a-private&prefix=resume/', { 'last-event-id': seen[1].id as string });
    const rest = [await resumed.next(), await resumed.next(), await resumed.next()];
    assert.deepEqual([...seen, ...rest].map((e) => payload(e).path), ['resume/1.txt', 'resume/2.txt', 'resume/3.txt', 'resume/4.txt', 'resume/5.txt']);
    const ids = [...seen, ...rest].map((e) => Number(e.id));
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]));
    assert.deepEqual(await resumed.drain(300), []);
  });
});
