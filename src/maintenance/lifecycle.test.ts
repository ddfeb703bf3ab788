// The lifecycle pass against a real Postgres and blob directory, without a
// server: bounded batches (one transaction each), a locked version skipped
// without stopping its batch's others, Date rules, and one pass at a time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { body, openTestStorage, user, type TestStorage } from '../../test/support/core-storage.ts';
import type { BucketRow } from '../core/bucket.ts';
import { setBucketLifecycle, type LifecycleRuleInput } from '../core/lifecycle.ts';
import { putObject } from '../core/objects.ts';
import type { VersionRef } from '../core/versions.ts';
import { LIFECYCLE_LOCK, runLifecycle, runLifecycleAlone } from './lifecycle.ts';

const DAY = 86_400_000;
let t: TestStorage;
const owner = user();

before(async () => {
  t = await openTestStorage();
});
after(async () => {
  await t?.close();
});

async function bucketWith(keys: string[], rules: LifecycleRuleInput[]): Promise<BucketRow> {
  const bucket = await t.newBucket(owner);
  for (const key of keys) await putObject(t.storage, { bucket: bucket.name, key, body: body(key), headers: { userMetadata: {} }, principal: owner });
  await setBucketLifecycle(t.storage, bucket.name, owner, rules);
  return bucket;
}

const remaining = async (bucket: BucketRow) =>
  (await t.admin<{ key: string }[]>`select key from storage.objects where bucket_uuid = ${bucket.id} order by key`).map((r) => r.key);

describe('the lifecycle pass', () => {
  it('works through a bucket in batches, one transaction each, and skips a locked key without losing the rest of its batch', async () => {
    const tmp = Array.from({ length: 23 }, (_, i) => `tmp/${String(i).padStart(2, '0')}`);
    const bucket = await bucketWith([...tmp, 'keep/a', 'keep/b'], [{ id: 'tmp', status: 'Enabled', filter: { prefix: 'tmp/' }, expiration: { days: 1 } }]);
    await t.admin`update storage.objects set legal_hold = true where bucket_uuid = ${bucket.id} and key = 'tmp/07'`;
    const report = await runLifecycle(t.storage, { now: new Date(Date.now() + 2 * DAY), bucket: bucket.name, batchSize: 5 });
    await t.settle();
    assert.equal(report.expired, 22);
    assert.equal(report.locked, 1);
    assert.deepEqual(report.lockedVersions, [{ bucket: bucket.name, key: 'tmp/07' }]);
    assert.deepEqual(await remaining(bucket), ['keep/a', 'keep/b', 'tmp/07']);
    // 5 + 4 (the batch with the locked key, again without it) + 5 + 5 + 3: five transactions.
    const [{ transactions }] = await t.admin<{ transactions: number }[]>`
      select count(distinct created_at)::int as transactions from storage.events
      where bucket_id = ${bucket.id} and type = 'storage.object.deleted' and payload->>'cause' = 'lifecycle'`;
    assert.equal(transactions, 5);
    // Every blob that lost its last reference is gone.
    assert.equal(Object.keys(await t.blobCounts(bucket)).length, 3);
  });

  it('expires by Date from that day on, not before; a Disabled rule never', async () => {
    const bucket = await bucketWith(
      ['a/1', 'b/1'],
      [
        { id: 'dated', status: 'Enabled', filter: { prefix: 'a/' }, expiration: { date: new Date('2031-06-01T00:00:00Z') } },
        { id: 'off', status: 'Disabled', filter: { prefix: 'b/' }, expiration: { date: new Date('2031-06-01T00:00:00Z') } },
      ],
    );
    assert.equal((await runLifecycle(t.storage, { now: new Date('2031-05-31T23:59:59Z'), bucket: bucket.name })).expired, 0);
    assert.equal((await runLifecycle(t.storage, { now: new Date('2031-06-01T00:00:00Z'), bucket: bucket.name })).expired, 1);
    assert.deepEqual(await remaining(bucket), ['b/1']);
  });

  it('runs in one process at a time: a pass elsewhere holds the lock, this one stands aside', async () => {
    const bucket = await bucketWith(['x'], [{ id: 'all', status: 'Enabled', filter: {}, expiration: { days: 1 } }]);
    const other = await t.admin.reserve();
    try {
      await other`select pg_advisory_lock(${LIFECYCLE_LOCK})`;
      assert.equal(await runLifecycleAlone(t.storage, { now: new Date(Date.now() + 2 * DAY), bucket: bucket.name }), undefined);
      await other`select pg_advisory_unlock(${LIFECYCLE_LOCK})`;
    } finally {
      other.release();
    }
    assert.equal((await runLifecycleAlone(t.storage, { now: new Date(Date.now() + 2 * DAY), bucket: bucket.name }))?.expired, 1);
  });
});

describe('the pass over versions (its choices; the deletions are deleteVersions\' own)', () => {
  /**
   * A key's history as versioning writes it (migration 0025): the newest
   * version in objects unless it is a delete marker, the rest in
   * object_versions; `ages` in days before now, oldest first.
   */
  async function history(bucket: BucketRow, key: string, versions: Array<{ id: string; daysAgo: number; marker?: boolean }>): Promise<void> {
    const newest = versions[versions.length - 1];
    for (const [i, v] of versions.entries()) {
      const at = new Date(Date.now() - v.daysAgo * DAY);
      if (v === newest && !v.marker) {
        await putObject(t.storage, { bucket: bucket.name, key, body: body(v.id), headers: { userMetadata: {} }, principal: owner });
        await t.admin`update storage.objects set version = ${v.id}, version_seq = ${1000 + i}, updated_at = ${at}
          where bucket_uuid = ${bucket.id} and key = ${key}`;
      } else {
        await t.admin`insert into storage.object_versions (bucket_uuid, bucket_id, key, size, etag, sha256, version, version_seq, updated_at, delete_marker)
          values (${bucket.id}, ${bucket.name}, ${key}, ${v.marker ? 0 : v.id.length}, '"e"', ${v.marker ? '' : 'f'.repeat(64)}, ${v.id}, ${1000 + i}, ${at}, ${v.marker ?? false})`;
      }
    }
  }

  /** Stands in for deleteVersions: notes what is asked, removes the rows. */
  function recorder() {
    const asked: VersionRef[] = [];
    const fake = async (_s: unknown, _b: string, refs: readonly VersionRef[]) => {
      asked.push(...refs);
      for (const r of refs) await t.admin`delete from storage.object_versions where key = ${r.key} and version = ${r.versionId}`;
      return { deleted: refs.map((r) => ({ ...r, deleteMarker: false })), errors: [] };
    };
    return { asked, fake };
  }

  it('expires noncurrent versions by when they became noncurrent, keeping NewerNoncurrentVersions, then lone delete markers', async () => {
    const bucket = await bucketWith([], [
      { id: 'history', status: 'Enabled', filter: { prefix: 'a' }, noncurrentVersionExpiration: { noncurrentDays: 3, newerNoncurrentVersions: 1 } },
      { id: 'plain', status: 'Enabled', filter: { prefix: 'b' }, noncurrentVersionExpiration: { noncurrentDays: 3 } },
      { id: 'none', status: 'Enabled', filter: { prefix: 'c' }, noncurrentVersionExpiration: { noncurrentDays: 3 } },
      { id: 'markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } },
    ]);
    // a: a1 noncurrent for 8 days, a2 for 6, a3 for 5 but the newest noncurrent one (kept): a2 and a1 go.
    await history(bucket, 'a', [{ id: 'a1', daysAgo: 10 }, { id: 'a2', daysAgo: 8 }, { id: 'a3', daysAgo: 6 }, { id: 'a4', daysAgo: 5 }]);
    // b: deleted 10 days ago: b1 goes, and then its marker, alone (in the same pass).
    await history(bucket, 'b', [{ id: 'b1', daysAgo: 20 }, { id: 'bm', daysAgo: 10, marker: true }]);
    // c: deleted yesterday: c1 noncurrent for a day only, and its marker not alone.
    await history(bucket, 'c', [{ id: 'c1', daysAgo: 9 }, { id: 'cm', daysAgo: 1, marker: true }]);
    // d: a marker alone from the start.
    await history(bucket, 'd', [{ id: 'dm', daysAgo: 0, marker: true }]);
    const { asked, fake } = recorder();
    const report = await runLifecycle(t.storage, { bucket: bucket.name, deleteVersions: fake });
    assert.deepEqual(asked.map((r) => `${r.key}:${r.versionId}`), ['a:a2', 'a:a1', 'b:b1', 'b:bm', 'd:dm']);
    assert.equal(report.noncurrentExpired, 3);
    assert.equal(report.deleteMarkersRemoved, 2);
    assert.equal(report.expired, 0);
  });

  it('with Days, removes a lone delete marker once it is as old as the rule says', async () => {
    const bucket = await bucketWith([], [{ id: 'days', status: 'Enabled', filter: {}, expiration: { days: 5 } }]);
    await history(bucket, 'old', [{ id: 'om', daysAgo: 7, marker: true }]);
    await history(bucket, 'new', [{ id: 'nm', daysAgo: 2, marker: true }]);
    const { asked, fake } = recorder();
    await runLifecycle(t.storage, { bucket: bucket.name, deleteVersions: fake });
    assert.deepEqual(asked, [{ key: 'old', versionId: 'om' }]);
  });

  it('a bucket that fails is reported, and the other buckets still get their pass', async () => {
    const failing = await bucketWith([], [{ id: 'markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } }]);
    await history(failing, 'k', [{ id: 'km', daysAgo: 1, marker: true }]);
    const fine = await bucketWith(['old'], [{ id: 'days', status: 'Enabled', filter: {}, expiration: { days: 1 } }]);
    const report = await runLifecycle(t.storage, {
      now: new Date(Date.now() + 2 * DAY),
      deleteVersions: async () => {
        throw new Error('the database went away');
      },
    });
    await t.settle();
    assert.deepEqual(report.failedBuckets.filter((f) => f.bucket === failing.name), [{ bucket: failing.name, message: 'the database went away' }]);
    assert.deepEqual(await remaining(fine), []);
  });

  it('counts a version deleteVersions refuses for object lock as locked, any other refusal as an error', async () => {
    const bucket = await bucketWith([], [{ id: 'history', status: 'Enabled', filter: {}, noncurrentVersionExpiration: { noncurrentDays: 1 } }]);
    await history(bucket, 'k', [{ id: 'held', daysAgo: 9 }, { id: 'odd', daysAgo: 8 }, { id: 'cur', daysAgo: 7 }]);
    await t.admin`update storage.object_versions set legal_hold = true where bucket_uuid = ${bucket.id} and version = 'held'`;
    const report = await runLifecycle(t.storage, {
      bucket: bucket.name,
      deleteVersions: async (_s, _b, refs) => ({
        deleted: [],
        errors: refs.map((r) => ({ ...r, code: 'AccessDenied', message: r.versionId === 'held' ? 'locked' : 'no' })),
      }),
    });
    assert.deepEqual(report.lockedVersions, [{ bucket: bucket.name, key: 'k', versionId: 'held' }]);
    assert.deepEqual(report.errors, [{ bucket: bucket.name, key: 'k', versionId: 'odd', code: 'AccessDenied', message: 'no' }]);
  });
});
