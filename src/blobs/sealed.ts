// The sealed blob format: how a blob is encrypted at rest (issue 20). Not
// yet used by the store; src/blobs/blob-keys.ts says where keys come from.
//
// In the manner of MinIO's DARE and age's STREAM (Hoang, Reyhanitabar,
// Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
// Misuse-Resistance", §7), over Node's AES-256-GCM:
//
//   header   20 bytes
//     0  4  magic "AESB" (aerostore sealed blob)
//     4  1  format version, 1
//     5  1  log2 of the chunk size: 16 (64 KiB); nothing else is read in version 1
//     6  2  reserved, zero
//     8  4  key id, u32 big-endian: the generation of the bucket key the data key comes from
//    12  8  nonce prefix (from DataKey.noncePrefix: derived, for convergent keys)
//   chunk 0 … chunk k−1, each:
//     AES-256-GCM ciphertext of 64 KiB of plaintext (the last: 0 to 64 KiB) ‖ 16-byte tag
//
// Chunk i is sealed under the blob's data key with
//   nonce = nonce prefix ‖ u32 big-endian i
//   AAD   = u32 big-endian i ‖ final flag (1 on the last chunk, else 0)
//           ‖ the 20 header bytes ‖ SHA-256 of the whole plaintext (32 bytes)
//           ‖ bucket id (UTF-8; last, so no length is needed)
// so each chunk authenticates its position, whether it ends the blob, the
// header, and which blob it belongs to. Every way of damaging a blob then
// fails some chunk's tag: a flipped bit anywhere (the header is in every
// AAD), chunks swapped or moved (index), cut at a chunk boundary (the new
// last chunk was sealed as not final), extended (the old last chunk is then
// read as not final, or the extension is a partial chunk that does not
// authenticate), another bucket's or another content's blob, another key.
// Only a full plaintext chunk is sealed as non-final, and only an empty
// plaintext has an empty chunk (its only, final one), so a length says
// exactly how many chunks there are and which is last: sealedSize() is a
// pure function of the plaintext size and plaintextSizeOf() its inverse.
//
// Readers never hand out a chunk's bytes before its tag has been checked
// (GCM's update() gives plaintext before final() verifies; we hold it).
// A ranged read (openRange) opens only the chunks the range touches: the
// bytes it yields are authentic and in place, but it does not prove the
// rest of the blob intact — reading the whole blob (openStream) does, and
// fsck --verify-content will.
//
// Limits: 2^32 chunks of 64 KiB (256 TiB) per blob; a data key must seal
// one plaintext only (convergent keys do: the key is derived from it).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import type { ByteRange } from './store.ts';

export const SEALED_MAGIC = Buffer.from('AESB', 'latin1');
export const SEALED_VERSION = 1;
const CHUNK_LOG2 = 16;
/** Plaintext bytes per chunk. */
export const CHUNK_SIZE = 1 << CHUNK_LOG2;
export const TAG_BYTES = 16;
export const HEADER_BYTES = 20;
/** A full chunk as stored: ciphertext and tag. */
const RECORD_BYTES = CHUNK_SIZE + TAG_BYTES;
const NONCE_PREFIX_BYTES = 8;
const MAX_CHUNKS = 2 ** 32;
/** sealStream hands out its bytes in batches of about this size (4 chunks). */
const OUTPUT_BATCH_BYTES = 4 * CHUNK_SIZE;
/** How many chunks a ranged read asks the file for at once (1 MiB). */
const RANGE_READ_CHUNKS = 16;

/** The key one blob is sealed under (blob-keys.ts: dataKeyFor). */
export interface DataKey {
  /** Written into the header, checked on opening: which bucket key generation the key comes from. */
  keyId: number;
  /** 32 bytes. */
  key: Buffer;
  /** 8 bytes, written into the header. */
  noncePrefix: Buffer;
}

/** Which blob the bytes are: bound into every chunk. */
export interface BlobIdentity {
  bucketId: string;
  /** SHA-256 of the plaintext, hex (as blobs are named) or 32 bytes. */
  sha256: string | Buffer;
}

export interface SealedHeader {
  version: number;
  chunkSize: number;
  keyId: number;
  noncePrefix: Buffer;
}

export type SealedBlobFault = 'header' | 'key-id' | 'length' | 'chunk';

/**
 * The sealed bytes are not this blob under this key: altered, truncated,
 * extended, reordered, another blob's, or another key. No byte of a chunk
 * that failed is ever handed out.
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

function encodeHeader(key: DataKey): Buffer {
  if (key.key.length !== 32) throw new Error('a data key is 32 bytes');
  if (key.noncePrefix.length !== NONCE_PREFIX_BYTES) throw new Error('a nonce prefix is 8 bytes');
  if (!Number.isInteger(key.keyId) || key.keyId < 0 || key.keyId > 0xffffffff) throw new Error(`key id ${key.keyId} is not a u32`);
  const header = Buffer.alloc(HEADER_BYTES);
  SEALED_MAGIC.copy(header, 0);
  header[4] = SEALED_VERSION;
  header[5] = CHUNK_LOG2;
  header.writeUInt32BE(key.keyId, 8);
  key.noncePrefix.copy(header, 12);
  return header;
}

/** Parses and checks a header (the first HEADER_BYTES bytes); its integrity is checked by the chunks. */
export function readSealedHeader(bytes: Buffer): SealedHeader {
  if (bytes.length < HEADER_BYTES) throw new SealedBlobCorrupt('length', 'shorter than a sealed blob header');
  if (!bytes.subarray(0, 4).equals(SEALED_MAGIC)) throw new SealedBlobCorrupt('header', 'not a sealed blob (no AESB magic)');
  if (bytes[4] !== SEALED_VERSION) throw new SealedBlobCorrupt('header', `sealed blob format version ${bytes[4]} is not one this server reads`);
  if (bytes[5] !== CHUNK_LOG2 || bytes[6] !== 0 || bytes[7] !== 0) throw new SealedBlobCorrupt('header', 'sealed blob header has an unknown chunk size or reserved bits set');
  return {
    version: bytes[4],
    chunkSize: 1 << bytes[5],
    keyId: bytes.readUInt32BE(8),
    noncePrefix: Buffer.from(bytes.subarray(12, HEADER_BYTES)),
  };
}

function identityDigest(identity: BlobIdentity): Buffer {
  const digest = typeof identity.sha256 === 'string' ? Buffer.from(identity.sha256, 'hex') : identity.sha256;
  if (digest.length !== 32) throw new Error('a blob identity needs a 32-byte SHA-256');
  return digest;
}

/** Seals and opens the chunks of one blob: one header, one key, one identity. */
class ChunkCipher {
  private readonly nonce = Buffer.alloc(12);
  private readonly aad: Buffer;

  constructor(
    private readonly key: Buffer,
    header: Buffer,
    identity: BlobIdentity,
  ) {
    header.copy(this.nonce, 0, 12, HEADER_BYTES);
    this.aad = Buffer.concat([Buffer.alloc(5), header.subarray(0, HEADER_BYTES), identityDigest(identity), Buffer.from(identity.bucketId, 'utf8')]);
  }

  /** The nonce and AAD of chunk `index`, written in place: each cipher takes them in at creation. */
  private position(index: number, final: boolean): void {
    if (index >= MAX_CHUNKS) throw new RangeError('a sealed blob holds at most 2^32 chunks');
    this.nonce.writeUInt32BE(index, 8);
    this.aad.writeUInt32BE(index, 0);
    this.aad[4] = final ? 1 : 0;
  }

  /** The chunk's record: ciphertext, then tag (two buffers; sealStream batches them). */
  seal(index: number, final: boolean, plaintext: Buffer): [Buffer, Buffer] {
    this.position(index, final);
    const cipher = createCipheriv('aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aad);
    const body = cipher.update(plaintext);
    cipher.final(); // GCM: nothing is held back
    return [body, cipher.getAuthTag()];
  }

  /** The plaintext of a chunk's record (ciphertext ‖ tag); SealedBlobCorrupt if it does not authenticate. */
  open(index: number, final: boolean, record: Buffer): Buffer {
    if (record.length < TAG_BYTES) throw new SealedBlobCorrupt('length', `chunk ${index} is cut short`);
    this.position(index, final);
    const decipher = createDecipheriv('aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.aad);
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    const plaintext = decipher.update(record.subarray(0, record.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new SealedBlobCorrupt(
        'chunk',
        `chunk ${index}${final ? ' (the last)' : ''} does not authenticate: altered, truncated, extended or reordered, or another blob's or another key's`,
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

/**
 * Encrypts a plaintext stream into the sealed format, holding at most one
 * chunk of it and one batch of output. `identity.sha256` must be the
 * SHA-256 of exactly the bytes that will pass: it is bound into every
 * chunk, so a blob sealed under the wrong name never opens.
 */
export function sealStream(key: DataKey, identity: BlobIdentity): Transform {
  const header = encodeHeader(key);
  const chunks = new ChunkCipher(key.key, header, identity);
  const pieces = new PieceCutter(CHUNK_SIZE);
  let index = 0;
  // Output goes in batches of OUTPUT_BATCH_BYTES, not as each chunk's
  // ciphertext and 16-byte tag: a file written in 64 KiB + 16 B writes took
  // twice as long as plain (npm run bench:seal, docs/benchmarks.md).
  let batch: Buffer[] = [header];
  let batchBytes = header.length;
  const emit = (stream: Transform, [body, tag]: [Buffer, Buffer], last: boolean) => {
    batch.push(body, tag);
    batchBytes += body.length + tag.length;
    if (batchBytes >= OUTPUT_BATCH_BYTES || last) {
      stream.push(Buffer.concat(batch, batchBytes));
      batch = [];
      batchBytes = 0;
    }
  };
  return new Transform({
    transform(data: Buffer | string, _enc: BufferEncoding, done: TransformCallback) {
      try {
        pieces.add(asBuffer(data), (chunk) => emit(this, chunks.seal(index++, false, chunk), false));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        emit(this, chunks.seal(index, true, pieces.last), true);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

export interface OpenOptions {
  /** The size the blob's row records: a sealed blob of another size is SealedBlobCorrupt('length'). */
  plaintextSize?: number;
}

function checkKeyId(header: SealedHeader, key: DataKey): void {
  if (header.keyId !== key.keyId) {
    throw new SealedBlobCorrupt('key-id', `sealed under bucket key generation ${header.keyId}, opened with generation ${key.keyId}`);
  }
}

/**
 * Decrypts a whole sealed blob, holding at most one chunk; errors with
 * SealedBlobCorrupt before handing out any byte of a chunk that does not
 * authenticate, and at the end if the blob was cut or extended.
 */
export function openStream(key: DataKey, identity: BlobIdentity, opts: OpenOptions = {}): Transform {
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
          const header = readSealedHeader(bytes);
          checkKeyId(header, key);
          chunks = new ChunkCipher(key.key, bytes, identity);
          bytes = bytes.subarray(HEADER_BYTES);
        }
        const opener = chunks;
        records.add(bytes, (record) => emit(this, opener.open(index++, false, record)));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!chunks) throw new SealedBlobCorrupt('length', 'the sealed blob ends inside its header');
        if (records.last.length === 0) throw new SealedBlobCorrupt('length', 'the sealed blob has no chunks');
        emit(this, chunks.open(index, true, records.last));
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
 * Exactly the plaintext bytes of `range` (inclusive end), reading and
 * opening only the chunks it touches, at most RANGE_READ_CHUNKS at a time.
 * RangeError if the range is not within the blob; SealedBlobCorrupt, before
 * any byte of it, for a chunk that does not authenticate.
 */
export async function* openRange(source: SealedSource, key: DataKey, identity: BlobIdentity, range: ByteRange, opts: OpenOptions = {}): AsyncGenerator<Buffer> {
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
  checkKeyId(readSealedHeader(headerBytes), key);
  const chunks = new ChunkCipher(key.key, headerBytes, identity);
  let skip = span.skip;
  let left = span.length;
  for (let first = span.firstChunk; first <= span.lastChunk; first += RANGE_READ_CHUNKS) {
    const last = Math.min(span.lastChunk, first + RANGE_READ_CHUNKS - 1);
    const position = HEADER_BYTES + first * RECORD_BYTES;
    const length = Math.min(span.sealedEnd, HEADER_BYTES + (last + 1) * RECORD_BYTES) - position;
    const bytes = first === 0 && firstBatch ? firstBatch.subarray(HEADER_BYTES) : await readExactly(position, length);
    for (let i = first; i <= last; i++) {
      const offset = (i - first) * RECORD_BYTES;
      const plaintext = chunks.open(i, i === finalChunk, bytes.subarray(offset, Math.min(bytes.length, offset + RECORD_BYTES)));
      const piece = plaintext.subarray(skip, skip + Math.min(left, plaintext.length - skip));
      skip = 0;
      left -= piece.length;
      yield piece;
    }
  }
}
