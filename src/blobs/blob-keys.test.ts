import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MasterKey } from '../principals/master-key.ts';
import { BucketKeyUnwrapError, blobEncryptionRoot, newBucketKey, rewrapBucketKey, unwrapBucketKey, wrapBucketKey } from './blob-keys.ts';
import { openStream, sealStream } from './sealed.ts';

const masterV1 = MasterKey.fromBase64(randomBytes(32).toString('base64'));
const masterV2 = MasterKey.fromBase64(randomBytes(32).toString('base64'));
const rootV1 = blobEncryptionRoot(masterV1);
const rootV2 = blobEncryptionRoot(masterV2);
const content = Buffer.from('some content');
const sha = createHash('sha256').update(content).digest('hex');

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

  it('re-wrapping under a new master-key version keeps the bucket key: blobs sealed before still open', async () => {
    const key = newBucketKey('bucket-a');
    const v1 = wrapBucketKey(rootV1, 1, key);
    const sealed = Buffer.concat(await Readable.from([content]).pipe(sealStream(unwrapBucketKey(rootV1, v1))).toArray());
    const v2 = rewrapBucketKey(rootV1, rootV2, 2, v1);
    assert.equal(v2.masterKeyVersion, 2);
    assert.notDeepEqual(v2.wrapped, v1.wrapped);
    assert.throws(() => unwrapBucketKey(rootV1, v2), BucketKeyUnwrapError);
    assert.deepEqual(unwrapBucketKey(rootV2, v2), key);
    assert.deepEqual(Buffer.concat(await Readable.from([sealed]).pipe(openStream(unwrapBucketKey(rootV2, v2), sha)).toArray()), content);
  });

  it('bucket keys are random and independent', () => {
    const a = newBucketKey('bucket-a');
    const b = newBucketKey('bucket-b');
    assert.equal(a.key.length, 32);
    assert.equal(a.generation, 1);
    assert.notDeepEqual(a.key, b.key);
    assert.notDeepEqual(newBucketKey('bucket-a').key, a.key);
  });
});
