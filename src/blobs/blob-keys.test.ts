import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MasterKey } from '../principals/master-key.ts';
import { BucketKeyUnwrapError, blobEncryptionRoot, dataKeyFor, newBucketKey, rewrapBucketKey, unwrapBucketKey, wrapBucketKey } from './blob-keys.ts';

const masterV1 = MasterKey.fromBase64(randomBytes(32).toString('base64'));
const masterV2 = MasterKey.fromBase64(randomBytes(32).toString('base64'));
const rootV1 = blobEncryptionRoot(masterV1);
const rootV2 = blobEncryptionRoot(masterV2);
const sha = createHash('sha256').update('some content').digest('hex');

describe('blob keys', () => {
  it('the root is its own HKDF purpose of the master key', () => {
    assert.equal(rootV1.length, 32);
    assert.deepEqual(rootV1, masterV1.derive('blob-encryption'));
    for (const other of ['access-key-secrets', 'sts-session-tokens', 'url-signing'] as const) assert.notDeepEqual(rootV1, masterV1.derive(other));
  });

  it('a bucket key wraps and unwraps, and is 60 bytes stored', () => {
    const key = newBucketKey('bucket-a');
    const wrapped = wrapBucketKey(rootV1, 1, key);
    assert.equal(wrapped.wrapped.length, 60);
    assert.equal(wrapped.wrapped.indexOf(key.key), -1);
    assert.deepEqual(unwrapBucketKey(rootV1, wrapped), key);
  });

  it('does not unwrap under another root, on another bucket, relabelled or altered', () => {
    const key = newBucketKey('bucket-a');
    const wrapped = wrapBucketKey(rootV1, 1, key);
    assert.throws(() => unwrapBucketKey(rootV2, wrapped), BucketKeyUnwrapError);
    assert.throws(() => unwrapBucketKey(rootV1, { ...wrapped, bucketId: 'bucket-b' }), BucketKeyUnwrapError);
    assert.throws(() => unwrapBucketKey(rootV1, { ...wrapped, generation: 2 }), BucketKeyUnwrapError);
    assert.throws(() => unwrapBucketKey(rootV1, { ...wrapped, masterKeyVersion: 2 }), BucketKeyUnwrapError);
    for (const at of [0, 20, 59]) {
      const altered = Buffer.from(wrapped.wrapped);
      altered[at] ^= 1;
      assert.throws(() => unwrapBucketKey(rootV1, { ...wrapped, wrapped: altered }), BucketKeyUnwrapError);
    }
    assert.throws(() => unwrapBucketKey(rootV1, { ...wrapped, wrapped: wrapped.wrapped.subarray(1) }), BucketKeyUnwrapError);
  });

  it('re-wrapping under a new master-key version keeps every data key', () => {
    const key = newBucketKey('bucket-a');
    const v1 = wrapBucketKey(rootV1, 1, key);
    const v2 = rewrapBucketKey(rootV1, rootV2, 2, v1);
    assert.equal(v2.masterKeyVersion, 2);
    assert.notDeepEqual(v2.wrapped, v1.wrapped);
    assert.throws(() => unwrapBucketKey(rootV1, v2), BucketKeyUnwrapError);
    assert.deepEqual(dataKeyFor(unwrapBucketKey(rootV2, v2), sha), dataKeyFor(unwrapBucketKey(rootV1, v1), sha));
  });

  it('data keys: one per content in a bucket, independent across buckets', () => {
    const a = newBucketKey('bucket-a');
    const b = newBucketKey('bucket-b');
    const k = dataKeyFor(a, sha);
    assert.deepEqual(dataKeyFor(a, Buffer.from(sha, 'hex')), k, 'hex or bytes');
    assert.equal(k.key.length, 32);
    assert.equal(k.noncePrefix.length, 8);
    assert.equal(k.keyId, 1);
    assert.notDeepEqual(dataKeyFor(a, createHash('sha256').update('other').digest()).key, k.key);
    const kb = dataKeyFor(b, sha);
    assert.notDeepEqual(kb.key, k.key);
    assert.notDeepEqual(kb.noncePrefix, k.noncePrefix);
    assert.throws(() => dataKeyFor(a, 'abcd'));
  });
});
