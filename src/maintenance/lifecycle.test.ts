// The lifecycle pass against a real Postgres and blob directory, without a
// server: bounded batches (one transaction each), a locked version skipped
// without stopping its batch's others, Date rules, and one pass at a time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { body, openTestStorage, user, type TestStorage } from '../../test/support/core-storage.ts';
import type { BucketRow } from '../core/bucket.ts';
import { setBucketLifecycle, type LifecycleRuleInput } from '../core/lifecycle.ts';
import { putObject } from '../core/objects.ts';
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
