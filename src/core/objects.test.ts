// The one write transaction (putObject → commitObject → writeObject) against
// a real Postgres and a real blob directory, without a server: what a write
// leaves behind — the object row, the blob rows and their reference counts,
// the blob files, the event, the staged file — when it succeeds, when it
// overwrites or repeats content, and when it is refused (a write condition
// lost under concurrency, the size limit, row-level security).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { body, domainError, openTestStorage, sha256, untouchedBody, user, type TestStorage } from '../../test/support/core-storage.ts';
import type { Principal } from '../principals/principal.ts';
import type { BucketRow } from './bucket.ts';
import type { BucketSettings } from './buckets.ts';
import { findObject, putObject, writeObject, type ObjectRow, type WriteCondition } from './objects.ts';

let t: TestStorage;
const owner = user();
const member = user();
const stranger = user();

before(async () => {
  t = await openTestStorage();
});
after(async () => {
  await t?.close();
});

/** A new bucket of `owner`'s for each test: nothing carries over. */
const newBucket = (settings: Omit<BucketSettings, 'policy'> = {}) => t.newBucket(owner, 'private', settings);

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function put(bucket: BucketRow, key: string, content: string, principal: Principal = owner, condition?: WriteCondition) {
  return putObject(t.storage, {
    bucket: bucket.name,
    key,
    body: body(content),
    headers: { contentType: 'text/plain', userMetadata: { origin: 'unit' } },
    principal,
    condition,
  });
}

const blobCounts = (bucket: BucketRow) => t.blobCounts(bucket);

async function objectRows(bucket: BucketRow): Promise<ObjectRow[]> {
  return [...(await t.admin<ObjectRow[]>`select * from storage.objects where bucket_uuid = ${bucket.id} order by key`)];
}

interface EventRow {
  type: string;
  key: string;
  owner_id: string | null;
  payload: Record<string, unknown>;
  actor: Record<string, unknown>;
}

async function events(bucket: BucketRow): Promise<EventRow[]> {
  return [...(await t.admin<EventRow[]>`select type, key, owner_id, payload, actor from storage.events
    where bucket_id = ${bucket.id} and type like 'storage.object.%' order by id`)];
}

async function read(bucket: BucketRow, sha: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await t.storage.blobs.openRead(bucket.id, sha)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** A create-only write (If-None-Match: *) finding the key taken. */
const KEY_TAKEN = 'KeyExists';

/** Nothing of a refused write is left: no staged file, and the rows and files are as they were. */
async function assertNothingStaged(): Promise<void> {
  await t.settle();
  assert.deepEqual(await t.stagedFiles(), []);
}

describe('the default checksum', () => {
  it('an object written without one gets the CRC64NVME of its bytes; AEROSTORE_DEFAULT_CHECKSUM=false stores none', async () => {
    const bucket = await newBucket();
    const { object } = await put(bucket, 'plain.txt', '123456789');
    // The catalogue check value of CRC-64/NVME over "123456789".
    assert.deepEqual(object.checksums, { CRC64NVME: Buffer.from('ae8b14860a799888', 'hex').toString('base64') });
    t.storage.defaultChecksum = false;
    try {
      const { object: none } = await put(bucket, 'none.txt', '123456789');
      assert.deepEqual(none.checksums, {});
    } finally {
      t.storage.defaultChecksum = undefined;
    }
  });
});

describe('core/objects: writing an object', () => {
  it('stores a new key: the row, its content at one reference, the file, one created event', async () => {
    const b = await newBucket();
    const { object, replaced } = await put(b, 'docs/a.txt', 'hello');
    assert.equal(replaced, false);
    assert.equal(object.key, 'docs/a.txt');
    assert.equal(object.size, 5);
    assert.equal(object.etag, `"${md5('hello')}"`);
    assert.equal(object.sha256, sha256('hello'));
    assert.equal(object.owner_id, owner.userId);
    assert.equal(object.content_type, 'text/plain');
    assert.deepEqual(object.user_metadata, { origin: 'unit' });
    assert.equal(object.parts, null);
    // The object trigger starts every new content's scan lifecycle.
    assert.equal(object.scan_status, 'pending');

    assert.deepEqual(await blobCounts(b), { [sha256('hello')]: 1 });
    assert.equal(await read(b, sha256('hello')), 'hello');
    const evs = await events(b);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].type, 'storage.object.created');
    assert.equal(evs[0].key, 'docs/a.txt');
    assert.equal(evs[0].owner_id, owner.userId);
    assert.equal(evs[0].payload.replaced, false);
    assert.equal(evs[0].payload.sha256, sha256('hello'));
    assert.equal(evs[0].actor.user_id, owner.userId);
    await assertNothingStaged();

    // Read back through core, as the owner; another user may not see it.
    assert.equal((await findObject(t.storage, b.name, 'docs/a.txt', owner)).object.id, object.id);
    await assert.rejects(findObject(t.storage, b.name, 'docs/a.txt', stranger), domainError('AccessDenied'));
  });

  it('overwrites a key in place; the old content, now unreferenced, is collected with its file', async () => {
    const b = await newBucket();
    const first = await put(b, 'k', 'old content');
    const second = await put(b, 'k', 'new content');
    assert.equal(second.replaced, true);
    assert.equal(second.object.id, first.object.id, 'the row is updated, not replaced by another');
    assert.equal(second.object.sha256, sha256('new content'));

    // The old blob reached zero in the write; collection runs after it (Services.background).
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('new content')]: 1 });
    assert.equal(await t.storage.blobs.exists(b.id, sha256('old content')), false);
    assert.equal(await read(b, sha256('new content')), 'new content');
    assert.deepEqual(
      (await events(b)).map((e) => [e.type, e.payload.replaced]),
      [['storage.object.created', false], ['storage.object.created', true]],
    );
    assert.equal((await objectRows(b)).length, 1);
    await assertNothingStaged();
  });

  it('overwrites a key with the content it already has without touching the reference count', async () => {
    const b = await newBucket();
    await put(b, 'k', 'same');
    const again = await put(b, 'k', 'same');
    assert.equal(again.replaced, true);
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('same')]: 1 });
    assert.equal(await t.storage.blobs.exists(b.id, sha256('same')), true);
    await assertNothingStaged();
  });

  it('stores identical content in one bucket once: one blob, one reference per key, kept while any remains', async () => {
    const b = await newBucket();
    const other = await newBucket();
    await put(b, 'one', 'shared bytes');
    await put(b, 'two', 'shared bytes');
    await put(other, 'three', 'shared bytes');
    assert.deepEqual(await blobCounts(b), { [sha256('shared bytes')]: 2 });
    // Deduplication is per bucket: the other bucket has a blob of its own.
    assert.deepEqual(await blobCounts(other), { [sha256('shared bytes')]: 1 });
    assert.equal((await objectRows(b)).every((o) => o.sha256 === sha256('shared bytes')), true);

    // One key moves to other content: the shared blob loses one reference and stays.
    await put(b, 'one', 'something else');
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('shared bytes')]: 1, [sha256('something else')]: 1 });
    assert.equal(await read(b, sha256('shared bytes')), 'shared bytes');
    await assertNothingStaged();
  });

  it('of N concurrent If-None-Match: * creators of one key exactly one wins; the others leave nothing', async () => {
    const b = await newBucket();
    const N = 8;
    const contents = Array.from({ length: N }, (_, i) => `creator ${i}`);
    const outcomes = await Promise.allSettled(contents.map((c) => put(b, 'contested', c, owner, { ifNoneMatch: '*' })));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, 'exactly one creator wins');
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(domainError(KEY_TAKEN)(o.reason));

    const [row] = await objectRows(b);
    assert.equal(row.sha256, sha256(contents[won[0]]));
    assert.deepEqual(await blobCounts(b), { [sha256(contents[won[0]])]: 1 }, "no loser's content has a row");
    for (const [i, c] of contents.entries()) assert.equal(await t.storage.blobs.exists(b.id, sha256(c)), i === won[0]);
    assert.equal((await events(b)).length, 1);
    await assertNothingStaged();

    // Once the key exists the condition refuses before any body is read.
    await assert.rejects(put(b, 'contested', 'late', owner, { ifNoneMatch: '*' }), domainError(KEY_TAKEN));
  });

  it('If-Match: the current ETag writes, another is refused, a missing key is NoSuchKey; of N concurrent matchers one wins', async () => {
    const b = await newBucket();
    const { object } = await put(b, 'k', 'v1');
    await assert.rejects(put(b, 'k', 'v2', owner, { ifMatch: '"0123456789abcdef0123456789abcdef"' }), domainError('PreconditionFailed'));
    await assert.rejects(put(b, 'missing', 'v2', owner, { ifMatch: object.etag }), domainError('NoSuchKey'));
    assert.deepEqual(await blobCounts(b), { [sha256('v1')]: 1 });

    // Quoted or bare, the current ETag matches.
    const v2 = await put(b, 'k', 'v2', owner, { ifMatch: object.etag.replace(/"/g, '') });
    assert.equal(v2.replaced, true);

    // All N read v2's ETag; the first to take the key's lock changes it, so the rest fail.
    const N = 6;
    const contents = Array.from({ length: N }, (_, i) => `v3 from writer ${i}`);
    const outcomes = await Promise.allSettled(contents.map((c) => put(b, 'k', c, owner, { ifMatch: v2.object.etag })));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, 'exactly one writer wins');
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(domainError('PreconditionFailed')(o.reason));
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256(contents[won[0]])]: 1 }, 'v1 and v2 collected, no loser stored');
    assert.equal(await t.storage.blobs.exists(b.id, sha256('v2')), false);
    await assertNothingStaged();
  });

  it("refuses a body over the bucket's size limit, declared or not, and leaves nothing", async () => {
    const b = await newBucket({ fileSizeLimit: 16 });
    // A declared size over the limit is refused before the body is read.
    const untouched = untouchedBody();
    await assert.rejects(
      putObject(t.storage, { bucket: b.name, key: 'declared', body: untouched.body, expectedSize: 17, headers: { userMetadata: {} }, principal: owner }),
      domainError('EntityTooLarge'),
    );
    assert.equal(untouched.read(), false, 'the body was not read');
    // An undeclared one is cut off as it streams.
    await assert.rejects(put(b, 'streamed', 'x'.repeat(17)), domainError('EntityTooLarge'));
    assert.deepEqual(await objectRows(b), []);
    assert.deepEqual(await blobCounts(b), {});
    assert.equal(await t.storage.blobs.exists(b.id, sha256('x'.repeat(17))), false);
    assert.deepEqual(await events(b), []);
    await assertNothingStaged();
    // The limit itself is allowed.
    assert.equal((await put(b, 'exact', 'x'.repeat(16))).object.size, 16);
  });

  it("lets RLS refuse an overwrite of another member's object that the early check lets through; nothing of it stays", async () => {
    // Member writes: `stranger` may write into the bucket (core/access.ts
    // says yes before the body), but only over objects it owns (the
    // objects update policy says no at commit).
    const b = await newBucket({ memberWrites: true });
    await put(b, 'theirs', 'the member wrote this', member);
    await assert.rejects(put(b, 'theirs', 'the stranger tried this', stranger), domainError('AccessDenied'));

    const [row] = await objectRows(b);
    assert.equal(row.owner_id, member.userId);
    assert.equal(row.sha256, sha256('the member wrote this'));
    // The blob reference the refused transaction took rolled back with it, and its file never stayed.
    assert.deepEqual(await blobCounts(b), { [sha256('the member wrote this')]: 1 });
    assert.equal(await t.storage.blobs.exists(b.id, sha256('the stranger tried this')), false);
    assert.equal((await events(b)).length, 1);
    await assertNothingStaged();

    // A key of its own it may write.
    assert.equal((await put(b, 'mine', 'the stranger wrote this', stranger)).object.owner_id, stranger.userId);
  });

  it('lets RLS decide a write that skipped the early check: writeObject as a principal with no write access rolls back', async () => {
    const b = await newBucket();
    const { object } = await put(b, 'source', 'owned content');
    // A reference write (as a copy within the bucket makes) onto content the bucket holds.
    const version = { size: object.size, etag: object.etag, sha256: object.sha256, checksums: {}, parts: null };
    for (const principal of [stranger, { kind: 'anonymous' } as const]) {
      await assert.rejects(
        writeObject(t.storage, b, { bucket: b.name, key: 'intruder', headers: { userMetadata: {} }, principal }, version, { kind: 'existing' }),
        domainError('AccessDenied'),
      );
    }
    assert.deepEqual((await objectRows(b)).map((o) => o.key), ['source']);
    assert.deepEqual(await blobCounts(b), { [sha256('owned content')]: 1 });
    assert.equal((await events(b)).length, 1);
    // The owner's own reference write is what a copy is: the blob gains a reference.
    await writeObject(t.storage, b, { bucket: b.name, key: 'copy', headers: { userMetadata: {} }, principal: owner }, version, { kind: 'existing' });
    assert.deepEqual(await blobCounts(b), { [sha256('owned content')]: 2 });
  });
});
