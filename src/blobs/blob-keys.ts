// The keys that encrypt blobs at rest (issue 20), in three levels:
//
//   master key ──HKDF "aerostore blob-encryption"──► key-encryption root (one per master-key version)
//   root ──AES-256-GCM wrap──► bucket key: 32 random bytes per bucket, stored only wrapped
//   bucket key ──HMAC-SHA256("aerostore data key" ‖ sha256 of the plaintext)──► data key of one blob
//
// The data key is convergent, scoped to the bucket: equal content in one
// bucket gets the same key and nonce prefix, so it seals to the same bytes,
// and a blob stays where it is today, at its plaintext SHA-256 (per-bucket
// deduplication keeps working, and nothing per blob has to be stored: the
// key is recomputed from the bucket key and the blob's name). Different
// buckets have independent random bucket keys, so the same content in two
// buckets shares nothing: not its key, not its ciphertext.
//
// The trade-off convergent encryption makes (write it into docs/security.md
// when this is wired in): whoever holds a bucket's key — the server, or
// anyone with the master key and the database — and can guess a candidate
// content can confirm whether that bucket holds it, by deriving its key and
// location; without the bucket key nobody can, and nothing lets anyone
// confirm content across buckets. Equal ciphertext in one bucket also shows
// a reader of the disk which blobs are equal — which the content-addressed
// layout (one file per content) shows already. SSE-C objects must not use
// this derivation: their key is the customer's.
//
// Re-wrapping (a new master-key version): unwrapBucketKey under the old root,
// wrapBucketKey under the new one. The bucket key itself is unchanged, so
// every data key is too, and no blob is rewritten. A sealed blob's header
// names the bucket key's generation (BucketKey.generation), not the
// master-key version, for that reason: replacing a bucket key itself (a new
// generation) would mean re-sealing its blobs, and is not needed for
// master-key rotation.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { MasterKey } from '../principals/master-key.ts';
import type { DataKey } from './sealed.ts';

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

/** Re-wraps under another master-key version; the bucket key, and so every data key, stays the same. */
export function rewrapBucketKey(oldRoot: Buffer, newRoot: Buffer, newVersion: number, wrapped: WrappedBucketKey): WrappedBucketKey {
  return wrapBucketKey(newRoot, newVersion, unwrapBucketKey(oldRoot, wrapped));
}

function hmac(key: Buffer, label: string, sha256: Buffer): Buffer {
  return createHmac('sha256', key).update(label, 'utf8').update(sha256).digest();
}

/**
 * The key a blob of this bucket with this content is sealed under.
 * `sha256`: the plaintext's SHA-256, hex (as the store names blobs) or 32 bytes.
 */
export function dataKeyFor(bucketKey: BucketKey, sha256: string | Buffer): DataKey {
  const digest = typeof sha256 === 'string' ? Buffer.from(sha256, 'hex') : sha256;
  if (digest.length !== 32) throw new Error('a blob is named by a 32-byte SHA-256');
  return {
    keyId: bucketKey.generation,
    key: hmac(bucketKey.key, 'aerostore data key', digest),
    // Derived as well, so that equal content seals to equal bytes. The key is
    // already unique per content; the prefix keeps nonces apart should a key
    // ever serve two blobs.
    noncePrefix: hmac(bucketKey.key, 'aerostore nonce prefix', digest).subarray(0, 8),
  };
}
