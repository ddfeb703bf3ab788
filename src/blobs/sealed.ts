// The sealed blob format: how a blob is encrypted at rest (issue 20). The
// store seals with it when AEROSTORE_ENCRYPTION is on (src/blobs/store.ts);
// src/blobs/blob-keys.ts and bucket-key-ring.ts say where bucket keys come from.
//
// In the manner of MinIO's DARE and age's STREAM (Hoang, Reyhanitabar,
// Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
// Misuse-Resistance", §7), over Node's AES-256-GCM. Each blob is sealed
// under its own random data key, carried in the header wrapped under the
// bucket key, so a blob is sealed in one pass as its bytes arrive (a key
// derived from the content's SHA-256 needed the whole body first: a second
// pass, docs/benchmarks.md "Encryption format").
//
//   header   80 bytes
//     0  4  magic "AESB" (aerostore sealed blob)
//     4  1  format version, 1
//     5  1  log2 of the chunk size: 16 (64 KiB); nothing else is read in version 1
//     6  2  reserved, zero
//     8  4  key id, u32 big-endian: the generation of the bucket key that wraps the data key
//    12  8  nonce prefix of the chunks (random)
//    20 12  IV of the data key's wrapping (random)
//    32 32  the blob's data key, AES-256-GCM under the bucket key,
//           AAD = header bytes 0–19 ‖ bucket id (UTF-8)
//    64 16  the wrapping's tag
//   chunk 0 … chunk k−1, each:
//     AES-256-GCM ciphertext of 64 KiB of plaintext (the last: 0 to 64 KiB) ‖ 16-byte tag
//
// Chunk i is sealed under the data key with
//   nonce = nonce prefix ‖ u32 big-endian i
//   AAD   = u32 big-endian i ‖ final flag (1 on the last chunk, else 0)
//           ‖ the 80 header bytes
//           ‖ (the last chunk only) SHA-256 of the whole plaintext (32 bytes)
//           ‖ bucket id (UTF-8; last, so no length is needed)
// so each chunk authenticates its position, whether it ends the blob, the
// header (and so the data key it was sealed under) and the bucket, and the
// last one the content's SHA-256: known only once every byte has passed,
// it is bound where sealing ends. Every way of damaging a blob then fails a
// tag: a flipped bit anywhere (the header fields are the wrapping's AAD, and
// the whole header is in every chunk's), chunks swapped or moved (index),
// cut at a chunk boundary (the new last chunk was sealed as not final),
// extended (the old last chunk is then read as not final, or the extension
// is a partial chunk that does not authenticate), a blob moved to another
// bucket (its data key does not unwrap there), another content's name (the
// last chunk), another key. Only a full plaintext chunk is sealed as
// non-final, and only an empty plaintext has an empty chunk (its only, final
// one), so a length says exactly how many chunks there are and which is
// last: sealedSize() is a pure function of the plaintext size and
// plaintextSizeOf() its inverse.
//
// Equal content sealed twice gives different bytes (another data key):
// deduplication is by location — the store finds the blob at its plaintext
// SHA-256 and writes nothing — never by comparing ciphertext.
//
// Readers never hand out a chunk's bytes before its tag has been checked
// (GCM's update() gives plaintext before final() verifies; we hold it).
// A ranged read (openRange) opens only the chunks the range touches: the
// bytes it yields are authentic and in place, but it does not prove the
// rest of the blob intact, and unless the range reaches the last chunk it
// does not check the content's SHA-256 either (only the last chunk binds
// it) — reading the whole blob (openStream) does both, and fsck
// --verify-content will.
//
// Limits: 2^32 chunks of 64 KiB (256 TiB) per blob; a data key seals one
// blob only (it is random and never leaves its header); 2^32 blobs per
// bucket key generation, the bound for random 96-bit GCM IVs under one key
// (NIST SP 800-38D §8.3) that the data keys' wrapping uses.
import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import type { BucketKey } from './blob-keys.ts';
import type { ByteRange } from './byte-range.ts';

export const SEALED_MAGIC = Buffer.from('AESB', 'latin1');
export const SEALED_VERSION = 1;
const CHUNK_LOG2 = 16;
/** Plaintext bytes per chunk. */
export const CHUNK_SIZE = 1 << CHUNK_LOG2;
export const TAG_BYTES = 16;
/** The header fields before the wrapped data key: the wrapping's AAD, with the bucket id. */
const HEADER_FIELDS_BYTES = 20;
const NONCE_PREFIX_BYTES = 8;
const KEY_BYTES = 32;
const WRAP_IV_BYTES = 12; // GCM's native nonce size (NIST SP 800-38D §8.2)
const WRAPPED_KEY_BYTES = WRAP_IV_BYTES + KEY_BYTES + TAG_BYTES;
export const HEADER_BYTES = HEADER_FIELDS_BYTES + WRAPPED_KEY_BYTES;
/** A full chunk as stored: ciphertext and tag. */
const RECORD_BYTES = CHUNK_SIZE + TAG_BYTES;
const MAX_CHUNKS = 2 ** 32;
/** sealStream hands out its bytes in batches of about this size (4 chunks). */
const OUTPUT_BATCH_BYTES = 4 * CHUNK_SIZE;
/** How many chunks a ranged read asks the file for at once (1 MiB). */
const RANGE_READ_CHUNKS = 16;

export interface SealedHeader {
  version: number;
  chunkSize: number;
  /** The generation of the bucket key the data key is wrapped under. */
  keyId: number;
  noncePrefix: Buffer;
  /** IV ‖ wrapped data key ‖ tag (60 bytes). */
  wrappedKey: Buffer;
}

export type SealedBlobFault = 'header' | 'key-id' | 'key' | 'length' | 'chunk';

/**
 * The sealed bytes are not this blob of this bucket: altered, truncated,
 * extended, reordered, moved from another bucket, another content's, or
 * another key's ('key': the data key in the header does not unwrap). No
 * byte of a chunk that failed is ever handed out.
 */
export class SealedBlobCorrupt extends Error {
  constructor(
    readonly fault: SealedBlobFault,
    message: string,
    /** The chunk that failed, for 'chunk'. */
    readonly chunk?: number,
  ) {
    super(message);
    this.name = 'SealedBlobCorrupt';
  }
}

/** Bytes on disk for `plaintextSize` bytes of content. */
export function sealedSize(plaintextSize: number): number {
  return HEADER_BYTES + plaintextSize + chunkCount(plaintextSize) * TAG_BYTES;
}

function chunkCount(plaintextSize: number): number {
  if (!Number.isSafeInteger(plaintextSize) || plaintextSize < 0) throw new RangeError(`not a size: ${plaintextSize}`);
  return plaintextSize === 0 ? 1 : Math.ceil(plaintextSize / CHUNK_SIZE);
}

/** The plaintext size a sealed length stands for; SealedBlobCorrupt if no plaintext seals to that length. */
export function plaintextSizeOf(sealedLength: number): number {
  const body = sealedLength - HEADER_BYTES;
  const full = Math.floor(body / RECORD_BYTES);
  const rest = body % RECORD_BYTES;
  if (body >= TAG_BYTES && rest === 0) return full * CHUNK_SIZE;
  // A last chunk of just a tag is only ever the empty plaintext's.
  if (body >= TAG_BYTES && rest > TAG_BYTES) return full * CHUNK_SIZE + rest - TAG_BYTES;
  if (body === TAG_BYTES) return 0;
  throw new SealedBlobCorrupt('length', `${sealedLength} bytes is no sealed blob's length (truncated or extended)`);
}

/** Where a plaintext range lies in the sealed bytes. */
export interface ChunkSpan {
  firstChunk: number;
  lastChunk: number;
  /** Offset of the first chunk's record in the sealed bytes. */
  sealedStart: number;
  /** Exclusive end of the last chunk's record. */
  sealedEnd: number;
  /** Plaintext bytes of the first chunk before the range starts. */
  skip: number;
  /** Bytes in the range. */
  length: number;
}

/** The chunks `range` (inclusive end, as HTTP Range) of a `plaintextSize`-byte blob touches. */
export function chunkSpan(range: ByteRange, plaintextSize: number): ChunkSpan {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= plaintextSize) {
    throw new RangeError(`range ${start}-${end} is not within ${plaintextSize} bytes`);
  }
  const firstChunk = Math.floor(start / CHUNK_SIZE);
  const lastChunk = Math.floor(end / CHUNK_SIZE);
  return {
    firstChunk,
    lastChunk,
    sealedStart: HEADER_BYTES + firstChunk * RECORD_BYTES,
    sealedEnd: Math.min(HEADER_BYTES + (lastChunk + 1) * RECORD_BYTES, sealedSize(plaintextSize)),
    skip: start - firstChunk * CHUNK_SIZE,
    length: end - start + 1,
  };
}

function checkBucketKey(bucketKey: BucketKey): void {
  if (bucketKey.key.length !== KEY_BYTES) throw new Error('a bucket key is 32 bytes');
  const id = bucketKey.generation;
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`key id ${id} is not a u32`);
}

function wrapAad(header: Buffer, bucketId: string): Buffer {
  return Buffer.concat([header.subarray(0, HEADER_FIELDS_BYTES), Buffer.from(bucketId, 'utf8')]);
}

/** A new blob's header and the fresh random data key it carries, wrapped under the bucket key. */
function newHeader(bucketKey: BucketKey): { header: Buffer; dataKey: Buffer } {
  checkBucketKey(bucketKey);
  const random = randomBytes(KEY_BYTES + NONCE_PREFIX_BYTES + WRAP_IV_BYTES);
  const dataKey = random.subarray(0, KEY_BYTES);
  const header = Buffer.alloc(HEADER_BYTES);
  SEALED_MAGIC.copy(header, 0);
  header[4] = SEALED_VERSION;
  header[5] = CHUNK_LOG2;
  header.writeUInt32BE(bucketKey.generation, 8);
  random.copy(header, 12, KEY_BYTES); // nonce prefix, then the wrapping's IV
  const iv = header.subarray(HEADER_FIELDS_BYTES, HEADER_FIELDS_BYTES + WRAP_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', bucketKey.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrapAad(header, bucketKey.bucketId));
  cipher.update(dataKey).copy(header, HEADER_FIELDS_BYTES + WRAP_IV_BYTES);
  cipher.final(); // GCM: nothing is held back
  cipher.getAuthTag().copy(header, HEADER_BYTES - TAG_BYTES);
  return { header, dataKey };
}

/** Parses and checks a header (the first HEADER_BYTES bytes); its integrity is checked by the wrapping and the chunks. */
export function readSealedHeader(bytes: Buffer): SealedHeader {
  if (bytes.length < HEADER_BYTES) throw new SealedBlobCorrupt('length', 'shorter than a sealed blob header');
  if (!bytes.subarray(0, 4).equals(SEALED_MAGIC)) throw new SealedBlobCorrupt('header', 'not a sealed blob (no AESB magic)');
  if (bytes[4] !== SEALED_VERSION) throw new SealedBlobCorrupt('header', `sealed blob format version ${bytes[4]} is not one this server reads`);
  if (bytes[5] !== CHUNK_LOG2 || bytes[6] !== 0 || bytes[7] !== 0) throw new SealedBlobCorrupt('header', 'sealed blob header has an unknown chunk size or reserved bits set');
  return {
    version: bytes[4],
    chunkSize: 1 << bytes[5],
    keyId: bytes.readUInt32BE(8),
    noncePrefix: Buffer.from(bytes.subarray(12, HEADER_FIELDS_BYTES)),
    wrappedKey: Buffer.from(bytes.subarray(HEADER_FIELDS_BYTES, HEADER_BYTES)),
  };
}

/** The data key of a sealed blob's header, unwrapped under the bucket key; SealedBlobCorrupt if it is not this bucket's. */
function openHeader(bytes: Buffer, bucketKey: BucketKey): Buffer {
  checkBucketKey(bucketKey);
  const header = readSealedHeader(bytes);
  if (header.keyId !== bucketKey.generation) {
    throw new SealedBlobCorrupt('key-id', `sealed under bucket key generation ${header.keyId}, opened with generation ${bucketKey.generation}`);
  }
  const wrapped = header.wrappedKey;
  const decipher = createDecipheriv('aes-256-gcm', bucketKey.key, wrapped.subarray(0, WRAP_IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(wrapAad(bytes, bucketKey.bucketId));
  decipher.setAuthTag(wrapped.subarray(WRAP_IV_BYTES + KEY_BYTES));
  const dataKey = decipher.update(wrapped.subarray(WRAP_IV_BYTES, WRAP_IV_BYTES + KEY_BYTES));
  try {
    decipher.final();
  } catch {
    throw new SealedBlobCorrupt('key', `the blob's data key does not unwrap under bucket ${bucketKey.bucketId}'s key: the header was altered, or the blob is another bucket's`);
  }
  return dataKey;
}

function digestBytes(sha256: string | Buffer): Buffer {
  const digest = typeof sha256 === 'string' ? Buffer.from(sha256, 'hex') : sha256;
  if (digest.length !== 32) throw new Error('a blob is named by a 32-byte SHA-256');
  return digest;
}

/** Seals and opens the chunks of one blob: one header, one data key, one bucket. */
class ChunkCipher {
  private readonly nonce = Buffer.alloc(12);
  /** The AAD of a chunk that is not the last; the last one's adds the SHA-256 (position()). */
  private readonly aad: Buffer;
  /** A copy: what it is cut from may hold the first chunks too. */
  private readonly header: Buffer;
  private readonly bucketId: Buffer;

  constructor(
    private readonly key: Buffer,
    header: Buffer,
    bucketId: string,
  ) {
    this.header = Buffer.from(header.subarray(0, HEADER_BYTES));
    this.header.copy(this.nonce, 0, 12, HEADER_FIELDS_BYTES);
    this.bucketId = Buffer.from(bucketId, 'utf8');
    this.aad = Buffer.concat([Buffer.alloc(5), this.header, this.bucketId]);
  }

  /** The nonce and AAD of chunk `index`; the nonce is written in place (each cipher takes it in at creation). */
  private position(index: number, sha256: Buffer | undefined): Buffer {
    if (index >= MAX_CHUNKS) throw new RangeError('a sealed blob holds at most 2^32 chunks');
    this.nonce.writeUInt32BE(index, 8);
    if (sha256 === undefined) {
      this.aad.writeUInt32BE(index, 0);
      this.aad[4] = 0;
      return this.aad;
    }
    const final = Buffer.concat([Buffer.alloc(5), this.header, sha256, this.bucketId]);
    final.writeUInt32BE(index, 0);
    final[4] = 1;
    return final;
  }

  /** The chunk's record: ciphertext, then tag (two buffers; sealStream batches them). `sha256` only for the last chunk. */
  seal(index: number, sha256: Buffer | undefined, plaintext: Buffer): [Buffer, Buffer] {
    const aad = this.position(index, sha256);
    const cipher = createCipheriv('aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final(); // GCM: nothing is held back
    return [body, cipher.getAuthTag()];
  }

  /** The plaintext of a chunk's record (ciphertext ‖ tag); SealedBlobCorrupt if it does not authenticate. `sha256` only for the last chunk. */
  open(index: number, sha256: Buffer | undefined, record: Buffer): Buffer {
    if (record.length < TAG_BYTES) throw new SealedBlobCorrupt('length', `chunk ${index} is cut short`);
    const aad = this.position(index, sha256);
    const decipher = createDecipheriv('aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    const plaintext = decipher.update(record.subarray(0, record.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new SealedBlobCorrupt(
        'chunk',
        sha256
          ? `chunk ${index}, the last, does not authenticate: altered, truncated or extended, or the content is not the one named (SHA-256)`
          : `chunk ${index} does not authenticate: altered, truncated, extended or reordered, or another blob's`,
        index,
      );
    }
    return plaintext;
  }
}

function asBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/**
 * Cuts a stream's bytes into pieces of one size, holding the latest piece
 * back until more bytes arrive: only the end of the stream tells whether a
 * full piece is the last one, and the last one is sealed (and opened) as final.
 */
class PieceCutter {
  private readonly piece: Buffer;
  private filled = 0;

  constructor(private readonly size: number) {
    this.piece = Buffer.allocUnsafe(size);
  }

  /** Hands `notLast` each full piece that more bytes have shown is not the last; the buffer is reused after it returns. */
  add(bytes: Buffer, notLast: (piece: Buffer) => void): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.filled === this.size) {
        notLast(this.piece);
        this.filled = 0;
      }
      const n = bytes.copy(this.piece, this.filled, at, Math.min(bytes.length, at + this.size - this.filled));
      this.filled += n;
      at += n;
    }
  }

  /** What is held at the end: the last piece, full, short or empty. */
  get last(): Buffer {
    return this.piece.subarray(0, this.filled);
  }
}

export interface SealOptions {
  /**
   * The SHA-256 of the plaintext, shared with the caller, so that a body is
   * hashed once (the store hashes every upload on its way to disk). Without
   * `hashedUpstream`, sealStream updates it with every byte it seals; with
   * it, the caller's stage before sealStream has already done so (the
   * store's HashingMeter), and sealStream only reads it at the end. Either
   * way sealStream digests a copy: the caller can still call digest().
   * Without `sha256`, sealStream hashes on its own (SealStream.sha256).
   */
  sha256?: Hash;
  hashedUpstream?: boolean;
}

/** The sealing Transform; `sha256` is the digest bound into the last chunk, once it is sealed. */
export class SealStream extends Transform {
  private readonly chunks: ChunkCipher;
  private readonly pieces = new PieceCutter(CHUNK_SIZE);
  private readonly hash: Hash;
  private readonly hashHere: boolean;
  private index = 0;
  // Output goes in batches of OUTPUT_BATCH_BYTES, not as each chunk's
  // ciphertext and 16-byte tag: a file written in 64 KiB + 16 B writes took
  // twice as long as plain (npm run bench:seal, docs/benchmarks.md).
  private batch: Buffer[];
  private batchBytes: number;
  private digest: Buffer | undefined;

  constructor(bucketKey: BucketKey, opts: SealOptions = {}) {
    super();
    const { header, dataKey } = newHeader(bucketKey);
    this.chunks = new ChunkCipher(dataKey, header, bucketKey.bucketId);
    this.hash = opts.sha256 ?? createHash('sha256');
    this.hashHere = !(opts.sha256 && opts.hashedUpstream);
    this.batch = [header];
    this.batchBytes = header.length;
  }

  /** The plaintext's SHA-256 (32 bytes); only once the stream has ended. */
  get sha256(): Buffer {
    if (!this.digest) throw new Error('the SHA-256 of a sealed blob is known once its last chunk is sealed');
    return this.digest;
  }

  private output([body, tag]: [Buffer, Buffer], last: boolean): void {
    this.batch.push(body, tag);
    this.batchBytes += body.length + tag.length;
    if (this.batchBytes >= OUTPUT_BATCH_BYTES || last) {
      this.push(Buffer.concat(this.batch, this.batchBytes));
      this.batch = [];
      this.batchBytes = 0;
    }
  }

  override _transform(data: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      const bytes = asBuffer(data);
      if (this.hashHere) this.hash.update(bytes);
      this.pieces.add(bytes, (chunk) => this.output(this.chunks.seal(this.index++, undefined, chunk), false));
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.digest = this.hash.copy().digest();
      this.output(this.chunks.seal(this.index, this.digest, this.pieces.last), true);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

/**
 * Encrypts a plaintext stream into the sealed format in one pass, under a
 * fresh data key wrapped under `bucketKey`, holding at most one chunk of it
 * and one batch of output. The plaintext's SHA-256, bound into the last
 * chunk, is taken as the bytes pass (SealOptions).
 */
export function sealStream(bucketKey: BucketKey, opts: SealOptions = {}): SealStream {
  return new SealStream(bucketKey, opts);
}

export interface OpenOptions {
  /** The size the blob's row records: a sealed blob of another size is SealedBlobCorrupt('length'). */
  plaintextSize?: number;
}

/**
 * Decrypts a whole sealed blob of `bucketKey`'s bucket named `sha256` (hex,
 * as blobs are named, or 32 bytes), holding at most one chunk; errors with
 * SealedBlobCorrupt before handing out any byte of a chunk that does not
 * authenticate, and at the end if the blob was cut or extended or its
 * content is not `sha256`.
 */
export function openStream(bucketKey: BucketKey, sha256: string | Buffer, opts: OpenOptions = {}): Transform {
  const digest = digestBytes(sha256);
  const records = new PieceCutter(RECORD_BYTES);
  let headerBytes: Buffer[] = [];
  let headerLength = 0;
  let chunks: ChunkCipher | undefined;
  let index = 0;
  let out = 0;
  const emit = (stream: Transform, plaintext: Buffer) => {
    out += plaintext.length;
    if (opts.plaintextSize !== undefined && out > opts.plaintextSize) {
      throw new SealedBlobCorrupt('length', `the sealed blob holds more than the expected ${opts.plaintextSize} bytes`);
    }
    if (plaintext.length > 0) stream.push(plaintext);
  };
  return new Transform({
    transform(data: Buffer | string, _enc: BufferEncoding, done: TransformCallback) {
      try {
        let bytes = asBuffer(data);
        if (!chunks) {
          headerBytes.push(bytes);
          headerLength += bytes.length;
          if (headerLength < HEADER_BYTES) return done();
          bytes = Buffer.concat(headerBytes);
          headerBytes = [];
          chunks = new ChunkCipher(openHeader(bytes, bucketKey), bytes, bucketKey.bucketId);
          bytes = bytes.subarray(HEADER_BYTES);
        }
        const opener = chunks;
        records.add(bytes, (record) => emit(this, opener.open(index++, undefined, record)));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!chunks) throw new SealedBlobCorrupt('length', 'the sealed blob ends inside its header');
        if (records.last.length === 0) throw new SealedBlobCorrupt('length', 'the sealed blob has no chunks');
        emit(this, chunks.open(index, digest, records.last));
        if (opts.plaintextSize !== undefined && out !== opts.plaintextSize) {
          throw new SealedBlobCorrupt('length', `the sealed blob holds ${out} bytes, not the expected ${opts.plaintextSize}`);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

/** Random access to sealed bytes: a file, or anything else that can read at a position. */
export interface SealedSource {
  /** Length of the sealed bytes. */
  size: number;
  /** Exactly `length` bytes at `position` (fewer only at the end of the source). */
  read(position: number, length: number): Promise<Buffer>;
}

/** A SealedSource over an open file; the caller keeps and closes the handle. */
export async function fileSource(handle: FileHandle): Promise<SealedSource> {
  const { size } = await handle.stat();
  return {
    size,
    async read(position, length) {
      const buffer = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buffer.subarray(0, got);
    },
  };
}

/**
 * Exactly the plaintext bytes of `range` (inclusive end) of a sealed blob of
 * `bucketKey`'s bucket named `sha256`, reading and opening only the chunks
 * it touches, at most RANGE_READ_CHUNKS at a time. RangeError if the range
 * is not within the blob; SealedBlobCorrupt, before any byte of it, for a
 * chunk that does not authenticate. `sha256` is checked only if the range
 * reaches the last chunk, the one that binds it (the format comment).
 */
export async function* openRange(source: SealedSource, bucketKey: BucketKey, sha256: string | Buffer, range: ByteRange, opts: OpenOptions = {}): AsyncGenerator<Buffer> {
  const digest = digestBytes(sha256);
  const size = plaintextSizeOf(source.size);
  if (opts.plaintextSize !== undefined && size !== opts.plaintextSize) {
    throw new SealedBlobCorrupt('length', `the sealed blob holds ${size} bytes, not the expected ${opts.plaintextSize}`);
  }
  const span = chunkSpan(range, size);
  const finalChunk = chunkCount(size) - 1;
  /** Reads `length` sealed bytes at `position`, all of them or SealedBlobCorrupt. */
  const readExactly = async (position: number, length: number) => {
    const bytes = await source.read(position, length);
    if (bytes.length !== length) throw new SealedBlobCorrupt('length', 'the sealed blob was cut short while being read');
    return bytes;
  };
  // A range from the first chunk is read with the header, in one read (small blobs: one read in all).
  const firstBatch = span.firstChunk === 0 ? await readExactly(0, Math.min(span.sealedEnd, HEADER_BYTES + RANGE_READ_CHUNKS * RECORD_BYTES)) : undefined;
  const headerBytes = firstBatch?.subarray(0, HEADER_BYTES) ?? (await readExactly(0, HEADER_BYTES));
  const chunks = new ChunkCipher(openHeader(headerBytes, bucketKey), headerBytes, bucketKey.bucketId);
  let skip = span.skip;
  let left = span.length;
  for (let first = span.firstChunk; first <= span.lastChunk; first += RANGE_READ_CHUNKS) {
    const last = Math.min(span.lastChunk, first + RANGE_READ_CHUNKS - 1);
    const position = HEADER_BYTES + first * RECORD_BYTES;
    const length = Math.min(span.sealedEnd, HEADER_BYTES + (last + 1) * RECORD_BYTES) - position;
    const bytes = first === 0 && firstBatch ? firstBatch.subarray(HEADER_BYTES) : await readExactly(position, length);
    for (let i = first; i <= last; i++) {
      const offset = (i - first) * RECORD_BYTES;
      const plaintext = chunks.open(i, i === finalChunk ? digest : undefined, bytes.subarray(offset, Math.min(bytes.length, offset + RECORD_BYTES)));
      const piece = plaintext.subarray(skip, skip + Math.min(left, plaintext.length - skip));
      skip = 0;
      left -= piece.length;
      yield piece;
    }
  }
}
