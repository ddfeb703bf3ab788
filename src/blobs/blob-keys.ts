// The keys that encrypt blobs at rest (issue 20), in three levels:
//
//   master key ──HKDF "aerostore blob-encryption"──► key-encryption root (one per master-key version)
//   root ──AES-256-GCM wrap──► bucket key: 32 random bytes per bucket, stored only wrapped
//   bucket key ──AES-256-GCM wrap──► data key: 32 random bytes per blob, stored
//                                    wrapped in the blob's own header (src/blobs/sealed.ts)
//
// A data key is random, not derived from the content, so a blob is sealed
// in one pass as it arrives (its SHA-256 is only known at the end), and
// equal content sealed twice gives unrelated ciphertext: the ciphertext lets
// nobody confirm a guessed content, not even the holder of the bucket key
// short of opening the blobs. Deduplication does not need equal ciphertext:
// it is by location (the plaintext SHA-256 names the blob, and the store
// writes nothing when that blob exists). Different buckets have independent
// random bucket keys, so nothing is shared across buckets, and a blob moved
// into another bucket does not open there (its data key's wrapping is bound
// to the bucket id).
//
// Re-wrapping (a new master-key version): unwrapBucketKey under the old root,
// wrapBucketKey under the new one. The bucket key itself is unchanged, so
// every blob's wrapped data key still unwraps, and no blob is rewritten. A
// sealed blob's header names the bucket key's generation
// (BucketKey.generation), not the master-key version, for that reason:
// replacing a bucket key itself (a new generation) would mean re-wrapping
// the data key in every blob header of the bucket, and is not needed for
// master-key rotation.
//
// Not settled by this module, for the wiring: the store names blob files by
// the plaintext SHA-256, which lets someone holding the disk confirm that a
// guessed content exists in a bucket from the file names alone
// (docs/security.md, "Encryption at rest").
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MasterKey } from '../principals/master-key.ts';

const KEY_BYTES = 32;
const WRAP_IV_BYTES = 12; // GCM's native nonce size (NIST SP 800-38D §8.2)
const WRAP_TAG_BYTES = 16;

/** A bucket's key in the clear: held in memory only. */
export interface BucketKey {
  bucketId: string;
  /** Which key of the bucket this is: 1 for the first; named in each sealed blob's header. */
  generation: number;
  key: Buffer;
}

/**
 * A bucket key as stored (a later migration puts these fields on the bucket
 * row): AES-256-GCM under the root of master-key version `masterKeyVersion`,
 * bound to the bucket id, the generation and the version, so a wrapped key
 * copied onto another bucket's row, or relabelled, does not unwrap.
 */
export interface WrappedBucketKey {
  bucketId: string;
  generation: number;
  masterKeyVersion: number;
  /** iv (12) ‖ ciphertext (32) ‖ tag (16). */
  wrapped: Buffer;
}

/** A wrapped bucket key that does not unwrap: another master-key version, another bucket, or altered. */
export class BucketKeyUnwrapError extends Error {}

/** The key-encryption root for one master-key version: wraps bucket keys, encrypts nothing else. */
export function blobEncryptionRoot(master: MasterKey): Buffer {
  return master.derive('blob-encryption');
}

export function newBucketKey(bucketId: string, generation = 1): BucketKey {
  return { bucketId, generation, key: randomBytes(KEY_BYTES) };
}

function wrapAad(bucketId: string, generation: number, masterKeyVersion: number): Buffer {
  const numbers = Buffer.alloc(8);
  numbers.writeUInt32BE(generation, 0);
  numbers.writeUInt32BE(masterKeyVersion, 4);
  return Buffer.concat([Buffer.from('aerostore bucket key v1\0', 'utf8'), numbers, Buffer.from(bucketId, 'utf8')]);
}

function checkRoot(root: Buffer): void {
  if (root.length !== KEY_BYTES) throw new Error('a key-encryption root is 32 bytes');
}

export function wrapBucketKey(root: Buffer, masterKeyVersion: number, key: BucketKey): WrappedBucketKey {
  checkRoot(root);
  if (key.key.length !== KEY_BYTES) throw new Error('a bucket key is 32 bytes');
  const iv = randomBytes(WRAP_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', root, iv, { authTagLength: WRAP_TAG_BYTES });
  cipher.setAAD(wrapAad(key.bucketId, key.generation, masterKeyVersion));
  const body = Buffer.concat([cipher.update(key.key), cipher.final()]);
  return {
    bucketId: key.bucketId,
    generation: key.generation,
    masterKeyVersion,
    wrapped: Buffer.concat([iv, body, cipher.getAuthTag()]),
  };
}

/** `root` must be the root of `wrapped.masterKeyVersion`; throws BucketKeyUnwrapError otherwise. */
export function unwrapBucketKey(root: Buffer, wrapped: WrappedBucketKey): BucketKey {
  checkRoot(root);
  const raw = wrapped.wrapped;
  if (raw.length !== WRAP_IV_BYTES + KEY_BYTES + WRAP_TAG_BYTES) throw new BucketKeyUnwrapError('a wrapped bucket key is 60 bytes');
  const decipher = createDecipheriv('aes-256-gcm', root, raw.subarray(0, WRAP_IV_BYTES), { authTagLength: WRAP_TAG_BYTES });
  decipher.setAAD(wrapAad(wrapped.bucketId, wrapped.generation, wrapped.masterKeyVersion));
  decipher.setAuthTag(raw.subarray(WRAP_IV_BYTES + KEY_BYTES));
  try {
    const key = Buffer.concat([decipher.update(raw.subarray(WRAP_IV_BYTES, WRAP_IV_BYTES + KEY_BYTES)), decipher.final()]);
    return { bucketId: wrapped.bucketId, generation: wrapped.generation, key };
  } catch {
    throw new BucketKeyUnwrapError(
      `the key of bucket ${wrapped.bucketId} (generation ${wrapped.generation}) does not unwrap under master-key version ${wrapped.masterKeyVersion}'s root: another master key, or the wrapped key was altered or moved`,
    );
  }
}

/** Re-wraps under another master-key version; the bucket key stays the same, so every blob's data key still unwraps. */
export function rewrapBucketKey(oldRoot: Buffer, newRoot: Buffer, newVersion: number, wrapped: WrappedBucketKey): WrappedBucketKey {
  return wrapBucketKey(newRoot, newVersion, unwrapBucketKey(oldRoot, wrapped));
}
