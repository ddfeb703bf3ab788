// POST /storage/v1/object/list-v2 through storage-js's listV2(): flat and
// folder listings, names relative to the prefix's folder with the full key
// beside them, cursor paging that resumes after a folder and holds while the
// bucket changes, the time orders, refusals, and row-level security.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'storage-list-v2-test-secret-0123456789';
let srv: TestServer;
let asA: StorageClient;
let asB: StorageClient;
let tokenA: string;

const jwt = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const clientFor = (token: string) => new StorageClient(`${srv.url}/storage/v1`, { apikey: token, Authorization: `Bearer ${token}` });

/** Upload order matters for the time sorts: one at a time. */
const KEYS = ['b.txt', 'a/2.txt', 'a.txt', 'a/b/3.txt', 'c/4.txt', 'a/1.txt', 'ab.txt', 'é.txt'];
/** UTF-8 byte order, S3's. */
const byKey = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

type Options = Parameters<StorageClient['from']>[0] extends string ? Parameters<ReturnType<StorageClient['from']>['listV2']>[0] : never;

async function listV2(client: StorageClient, options: Options = {}) {
  const { data, error } = await client.from('tree').listV2(options);
  assert.equal(error, null, String(error));
  return data!;
}

/** Every page, following nextCursor. */
async function allPages(options: NonNullable<Options>) {
  const pages = [];
  let cursor = options.cursor;
  do {
    const page = await listV2(asA, { ...options, cursor });
    pages.push(page);
    assert.equal(page.hasNext, page.nextCursor !== undefined);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 50);
  return pages;
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  tokenA = await jwt({ sub: randomUUID(), role: 'authenticated' });
  asA = clientFor(tokenA);
  asB = clientFor(await jwt({ sub: randomUUID(), role: 'authenticated' }));
  assert.equal((await asA.createBucket('tree')).error, null);
  for (const key of KEYS) {
    const up = await asA.from('tree').upload(key, Buffer.from(key), { contentType: 'text/plain' });
    assert.equal(up.error, null, String(up.error));
  }
});
after(() => srv?.stop());

describe('/storage/v1/object/list-v2 with storage-js listV2()', () => {
  it('lists every key flat by default, in byte order, each with its key, id, times and metadata', async () => {
    const page = await listV2(asA);
    assert.equal(page.hasNext, false);
    assert.equal(page.nextCursor, undefined);
    assert.deepEqual(page.folders, []);
    assert.deepEqual(page.objects.map((o) => o.key), [...KEYS].sort(byKey));
    assert.deepEqual(page.objects.map((o) => o.name), [...KEYS].sort(byKey));
    const a1 = page.objects.find((o) => o.key === 'a/1.txt')!;
    assert.match(a1.id, /^[0-9a-f-]{36}$/);
    assert.match(a1.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(a1.metadata?.size, 7);
    assert.equal(a1.metadata?.mimetype, 'text/plain');
  });

  it('rolls folders up with with_delimiter: names relative to the prefix folder, keys in full', async () => {
    const root = await listV2(asA, { with_delimiter: true });
    assert.deepEqual(root.folders, [
      { name: 'a', key: 'a/' },
      { name: 'c', key: 'c/' },
    ]);
    assert.deepEqual(root.objects.map((o) => o.name), ['a.txt', 'ab.txt', 'b.txt', 'é.txt']);

    const a = await listV2(asA, { prefix: 'a/', with_delimiter: true });
    assert.deepEqual(a.folders, [{ name: 'b', key: 'a/b/' }]);
    assert.deepEqual(a.objects.map((o) => [o.name, o.key]), [
      ['1.txt', 'a/1.txt'],
      ['2.txt', 'a/2.txt'],
    ]);
    // A prefix is a prefix, not a folder: "a" matches a.txt, ab.txt and the folder a/.
    const partial = await listV2(asA, { prefix: 'a', with_delimiter: true });
    assert.deepEqual(partial.folders, [{ name: 'a', key: 'a/' }]);
    assert.deepEqual(partial.objects.map((o) => o.key), ['a.txt', 'ab.txt']);
    // Flat under a/: names keep the deeper folders.
    assert.deepEqual((await listV2(asA, { prefix: 'a/' })).objects.map((o) => o.name), ['1.txt', '2.txt', 'b/3.txt']);
  });

  it('pages with the cursor: every entry once, and a page ending at a folder resumes past everything in it', async () => {
    for (const limit of [1, 2, 3]) {
      const pages = await allPages({ with_delimiter: true, limit });
      assert.deepEqual(pages.flatMap((p) => p.folders.map((f) => f.key)), ['a/', 'c/'], `limit ${limit}`);
      assert.deepEqual(pages.flatMap((p) => p.objects.map((o) => o.key)), ['a.txt', 'ab.txt', 'b.txt', 'é.txt'], `limit ${limit}`);
      assert.ok(pages.every((p) => p.folders.length + p.objects.length <= limit));
      assert.equal(pages[pages.length - 1].hasNext, false);
    }
    const flat = await allPages({ limit: 3 });
    assert.deepEqual(flat.flatMap((p) => p.objects.map((o) => o.key)), [...KEYS].sort(byKey));
  });

  it('resumes after the cursor however the bucket changed in between', async () => {
    const first = await listV2(asA, { limit: 3 });
    assert.deepEqual(first.objects.map((o) => o.key), ['a.txt', 'a/1.txt', 'a/2.txt']);
    // Before the cursor: a new key and a deleted one; after it: a new key.
    await asA.from('tree').upload('a/0.txt', Buffer.from('new'), { contentType: 'text/plain' });
    await asA.from('tree').remove(['a/1.txt']);
    await asA.from('tree').upload('b2.txt', Buffer.from('new'), { contentType: 'text/plain' });
    try {
      const rest = await allPages({ limit: 3, cursor: first.nextCursor });
      assert.deepEqual(rest.flatMap((p) => p.objects.map((o) => o.key)), ['a/b/3.txt', 'ab.txt', 'b.txt', 'b2.txt', 'c/4.txt', 'é.txt']);
    } finally {
      await asA.from('tree').remove(['a/0.txt', 'b2.txt']);
      await asA.from('tree').upload('a/1.txt', Buffer.from('a/1.txt'), { contentType: 'text/plain' });
    }
  });

  it('sorts by name descending and by created_at either way, paging by the same cursor', async () => {
    const desc = await allPages({ limit: 3, sortBy: { column: 'name', order: 'desc' } });
    assert.deepEqual(desc.flatMap((p) => p.objects.map((o) => o.key)), [...KEYS].sort(byKey).reverse());
    const all = (await listV2(asA)).objects;
    const byCreated = [...all].sort((x, y) => String(x.created_at).localeCompare(String(y.created_at)) || byKey(x.key!, y.key!)).map((o) => o.key);
    const asc = await allPages({ limit: 2, sortBy: { column: 'created_at', order: 'asc' } });
    assert.deepEqual(asc.flatMap((p) => p.objects.map((o) => o.key)), byCreated);
    const newest = await allPages({ limit: 2, sortBy: { column: 'updated_at', order: 'desc' } });
    assert.equal(newest.flatMap((p) => p.objects).length, KEYS.length);
    assert.equal(newest[0].objects[0].key, 'a/1.txt', 'the last one written comes first');
    assert.ok(desc.every((p) => p.folders.length === 0));
  });

  it('refuses what it cannot answer with a 400: folders in time order, a foreign or forged cursor, a bad limit', async () => {
    const refusals: Array<[Options, RegExp]> = [
      [{ with_delimiter: true, sortBy: { column: 'created_at', order: 'asc' } }, /name order/],
      [{ cursor: 'not-a-cursor' }, /cursor/],
      [{ cursor: Buffer.from('{"o":"name.asc","k":1}').toString('base64url') }, /cursor/],
      [{ cursor: Buffer.from('{"o":"created_at.asc","k":"a","t":"2026-02-31 25:61:00+00"}').toString('base64url'), sortBy: { column: 'created_at', order: 'asc' } }, /cursor/],
      [{ cursor: (await listV2(asA, { limit: 1 })).nextCursor!, sortBy: { column: 'created_at', order: 'asc' } }, /another sortBy/],
      [{ limit: 0 }, /limit/],
      [{ limit: 1001 }, /limit/],
    ];
    for (const [options, message] of refusals) {
      const { data, error } = await asA.from('tree').listV2(options);
      assert.equal(data, null, JSON.stringify(options));
      assert.equal((error as { status?: number }).status, 400, JSON.stringify(options));
      assert.match(error!.message, message);
    }
  });

  it('answers another user exactly as the first listing does: RLS decides, nothing leaks', async () => {
    const v1 = await asB.from('tree').list();
    const v2 = await asB.from('tree').listV2();
    assert.equal((v2.error as { status?: number } | null)?.status, (v1.error as { status?: number } | null)?.status);
    if (v2.data) assert.deepEqual([...v2.data.objects, ...v2.data.folders], []);
    const raw = await fetch(`${srv.url}/storage/v1/object/list-v2/no-such-bucket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(raw.status, 404);
  });
});
