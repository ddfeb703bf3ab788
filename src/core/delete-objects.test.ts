// The one delete transaction (deleteObjects, and deleteObject on top of it)
// against a real Postgres and blob directory, without a server: which rows
// go, which events are recorded, how reference counts fall and when a blob
// and its file are dropped, and what row-level security refuses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { body, domainError, openTestStorage, sha256, user, type TestStorage } from '../../test/support/core-storage.ts';
import type { Principal } from '../principals/principal.ts';
import type { BucketRow } from './bucket.ts';
import type { BucketSettings } from './buckets.ts';
import { deleteObject, deleteObjects } from './delete-objects.ts';
import { putObject } from './objects.ts';

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

const newBucket = (settings: Omit<BucketSettings, 'policy'> = {}) => t.newBucket(owner, 'private', settings);

/** Writes each key → content, in order. */
async function fill(bucket: BucketRow, objects: Record<string, string>, principal: Principal = owner): Promise<void> {
  for (const [key, content] of Object.entries(objects)) {
    await putObject(t.storage, { bucket: bucket.name, key, body: body(content), headers: { userMetadata: {} }, principal });
  }
}

async function keys(bucket: BucketRow): Promise<string[]> {
  return (await t.admin<{ key: string }[]>`select key from storage.objects where bucket_uuid = ${bucket.id} order by key`).map((r) => r.key);
}

const blobCounts = (bucket: BucketRow) => t.blobCounts(bucket);

interface EventRow {
  key: string;
  object_id: string;
  payload: Record<string, unknown>;
  actor: Record<string, unknown>;
}

async function deletions(bucket: BucketRow): Promise<EventRow[]> {
  return [...(await t.admin<EventRow[]>`select key, object_id, payload, actor from storage.events
    where bucket_id = ${bucket.id} and type = 'storage.object.deleted' order by key, id`)];
}

describe('core/delete-objects: deleting objects', () => {
  it('deletes one key: the row, a deleted event, and the unreferenced blob with its file', async () => {
    const b = await newBucket();
    await fill(b, { gone: 'to be deleted', kept: 'to be kept' });
    const [{ id }] = await t.admin`select id from storage.objects where bucket_uuid = ${b.id} and key = 'gone'`;
    assert.deepEqual(await deleteObject(t.storage, b.name, 'gone', owner), { existed: true, marker: undefined });
    assert.deepEqual(await keys(b), ['kept']);

    const evs = await deletions(b);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].key, 'gone');
    assert.equal(evs[0].object_id, id);
    assert.deepEqual(evs[0].payload, { size: 13, sha256: sha256('to be deleted'), content_type: null });
    assert.equal(evs[0].actor.user_id, owner.userId);

    // The count reached zero in the delete; collection follows it (Services.background).
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('to be kept')]: 1 });
    assert.equal(await t.storage.blobs.exists(b.id, sha256('to be deleted')), false);
    assert.equal(await t.storage.blobs.exists(b.id, sha256('to be kept')), true);
  });

  it('deleting a missing key is no error and records nothing', async () => {
    const b = await newBucket();
    await fill(b, { here: 'x' });
    assert.deepEqual(await deleteObject(t.storage, b.name, 'never-was', owner), { existed: false, marker: undefined });
    assert.deepEqual(await deleteObjects(t.storage, b.name, [], owner), { deleted: new Set(), refused: new Set(), markers: new Map() });
    assert.deepEqual(await keys(b), ['here']);
    assert.deepEqual(await deletions(b), []);
    assert.deepEqual(await blobCounts(b), { [sha256('x')]: 1 });
    await assert.rejects(deleteObject(t.storage, 'no-such-bucket', 'k', owner), domainError('NoSuchBucket'));
  });

  it('deletes a batch: present keys deleted once each (duplicates too), missing ones reported as not there', async () => {
    const b = await newBucket();
    await fill(b, { a: 'content a', b: 'content b', c: 'content c' });
    const result = await deleteObjects(t.storage, b.name, ['a', 'b', 'missing', 'a'], owner);
    assert.deepEqual(result, { deleted: new Set(['a', 'b']), refused: new Set(), markers: new Map() });
    assert.deepEqual(await keys(b), ['c']);
    assert.deepEqual((await deletions(b)).map((e) => e.key), ['a', 'b']);
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('content c')]: 1 });
    for (const gone of ['content a', 'content b']) assert.equal(await t.storage.blobs.exists(b.id, sha256(gone)), false);
  });

  it('lowers shared content by the number of its keys deleted, and drops it only at zero', async () => {
    const b = await newBucket();
    await fill(b, { k1: 'shared', k2: 'shared', k3: 'shared', k4: 'alone' });
    assert.deepEqual(await blobCounts(b), { [sha256('shared')]: 3, [sha256('alone')]: 1 });

    await deleteObjects(t.storage, b.name, ['k1', 'k2'], owner);
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('shared')]: 1, [sha256('alone')]: 1 });
    assert.equal(await t.storage.blobs.exists(b.id, sha256('shared')), true);

    await deleteObjects(t.storage, b.name, ['k3', 'k4'], owner);
    await t.settle();
    assert.deepEqual(await blobCounts(b), {});
    assert.equal(await t.storage.blobs.exists(b.id, sha256('shared')), false);
    assert.equal(await t.storage.blobs.exists(b.id, sha256('alone')), false);
    assert.equal((await deletions(b)).length, 4);
  });

  it('two batches over the same keys, concurrently: each row is deleted once, each blob counted down once', async () => {
    const b = await newBucket();
    const names = Array.from({ length: 20 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
    await fill(b, Object.fromEntries(names.map((k, i) => [k, `content ${i % 4}`])));
    const [one, two] = await Promise.all([
      deleteObjects(t.storage, b.name, names, owner),
      deleteObjects(t.storage, b.name, [...names].reverse(), owner),
    ]);
    assert.equal(one.deleted.size + two.deleted.size, names.length);
    assert.deepEqual(new Set([...one.deleted, ...two.deleted]), new Set(names));
    assert.equal((await deletions(b)).length, names.length);
    await t.settle();
    assert.deepEqual(await blobCounts(b), {});
  });

  it("leaves what RLS does not let a member delete, and says so; a stranger is refused outright", async () => {
    // Member writes: a member deletes what it owns, not the bucket owner's objects.
    const b = await newBucket({ memberWrites: true });
    await fill(b, { 'owners-object': 'the owner wrote this' });
    await fill(b, { 'members-object': 'the member wrote this' }, member);

    const result = await deleteObjects(t.storage, b.name, ['owners-object', 'members-object', 'never-was'], member);
    assert.deepEqual(result.deleted, new Set(['members-object']));
    // A member does not see the whole bucket, so it cannot be told that a key is missing either.
    assert.deepEqual(result.refused, new Set(['owners-object', 'never-was']));
    await assert.rejects(deleteObject(t.storage, b.name, 'owners-object', member), domainError('AccessDenied'));
    await assert.rejects(deleteObject(t.storage, b.name, 'never-was', member), domainError('AccessDenied'));

    assert.deepEqual(await keys(b), ['owners-object']);
    assert.deepEqual((await deletions(b)).map((e) => [e.key, e.actor.user_id]), [['members-object', member.userId]]);
    await t.settle();
    assert.deepEqual(await blobCounts(b), { [sha256('the owner wrote this')]: 1 });

    // Someone who may not write into the bucket at all is refused before any statement.
    const p = await newBucket();
    await fill(p, { k: 'private' });
    await assert.rejects(deleteObjects(t.storage, p.name, ['k'], stranger), domainError('AccessDenied'));
    await assert.rejects(deleteObject(t.storage, p.name, 'k', { kind: 'anonymous' }), domainError('AccessDenied'));
    assert.deepEqual(await keys(p), ['k']);
  });
});
