// The bytes side of the store. Content-addressed: a blob lives at
// <root>/<bucket-id>/<sha[0:2]>/<sha[2:4]>/<sha256>, so identical content in
// one bucket is stored once. The interface is what a second backend (an
// upstream S3-compatible cluster) would implement; LocalDiskBlobStore is the
// default.
//
// Write protocol (DESIGN.md "Blobs"): ingest() streams the body into a temp
// file on the same filesystem, hashing on the way, and fsyncs it; the caller
// then takes the blob row lock in Postgres and calls place(), which links the
// file into its final name unless that content is already there; only then
// does the transaction commit and the client get its 200. A crash at any
// point leaves at most a file without a row, never a row without a file.
//
// Maintenance (src/maintenance/: the sweeper, fsck, the start-up check) uses
// this interface too, and nothing else of a backend: it lists what the store
// holds, to find what no row names, and removes it under the locks uploads
// take. So a second backend is one new class.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createChecksummer, type ChecksumAlgorithm, type Checksummer } from '../core/checksums.ts';
import { DomainError } from '../core/errors.ts';
import type { BucketKey } from './blob-keys.ts';
import type { ByteRange } from './byte-range.ts';
import { OffloadedMd5, OFFLOAD_THRESHOLD } from './md5-offload.ts';
import { fileSource, HEADER_BYTES, openRange, openStream, readSealedHeader, SEALED_MAGIC, SealedBlobCorrupt, sealedSize, sealStream } from './sealed.ts';

/** A body that has been written to a temp file and fsynced, not yet placed. */
export interface StagedBlob {
  tempPath: string;
  size: number;
  sha256: string;
  /** Empty when ingest() was told md5: false. */
  md5: Buffer;
  /** Base64 digests of the extra checksums asked for in ingest(). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** The file holds the body sealed (src/blobs/sealed.ts) under IngestOptions.seal; absent: plaintext. */
  sealed?: boolean;
  /**
   * The body's first HEAD_BYTES bytes (fewer if it is shorter), kept as they
   * passed: magic-byte sniffing (core/upload-rules.ts) reads them here, not
   * from the temp file, which may be sealed.
   */
  head: Buffer;
}

/** How much of a body's start ingest() keeps for content sniffing: file-type's own sample size, enough for every signature it knows. */
export const HEAD_BYTES = 4100;

/**
 * The bucket keys a store opens sealed blobs with: the key of `generation`
 * (the one a blob's header names), undefined when the bucket has none.
 */
export interface BucketKeySource {
  keyOf(bucketId: string, generation: number): Promise<BucketKey | undefined>;
}

/** What a reader knows of the bytes it opens: the plaintext size its row records, and for a part its SHA-256. */
export interface ReadExpectation {
  size: number;
}

export interface IngestOptions {
  /** Bytes the client promised (Content-Length or x-amz-decoded-content-length). */
  expectedSize?: number;
  /** Refuse bodies beyond this many bytes. */
  maxSize: number;
  checksums?: readonly ChecksumAlgorithm[];
  /** false: skip the MD5 (StagedBlob.md5 is then empty), when no one needs it. */
  md5?: boolean;
  /**
   * Seal the body as it is written, under this bucket key (encryption at
   * rest, AEROSTORE_ENCRYPTION): the temp file never holds plaintext, and
   * only a blob of that key's bucket may be placed from it.
   */
  seal?: BucketKey;
}

export type { ByteRange } from './byte-range.ts';

/** A stored item as maintenance judges it. */
export interface StoredItemStat {
  size: number;
  /** Milliseconds since its bytes last changed, when looked at: orphans go only once idle beyond a grace. */
  idleMs: number;
}

/**
 * Where the store keeps something, for people reading a report (fsck): a
 * path on the local disk. Never parsed; items are named by bucket id and
 * sha256, part ref or temp file name.
 */
export type StoreLocation = string;

/** Of a bucket's blobs: one content, or something not named like anything the store writes (listed, never touched). */
export type BlobEntry = { sha256: string; location: StoreLocation } | { stray: StoreLocation };

/** A part file as listed: `ref` is what its part row's `path` holds (keepPart's answer). */
export interface PartFile {
  ref: string;
  location: StoreLocation;
}

/** Of a bucket's multipart uploads: one upload's part files (maybe none), or a stray. */
export type UploadEntry = { uploadId: string; parts: PartFile[] } | { stray: StoreLocation };

/** A body being ingested, or one a crash left behind: no row ever names it. */
export interface TempFile {
  name: string;
  location: StoreLocation;
  idleMs: number;
}

/** What a store holds per bucket: content (`blobs`) and multipart part files (`parts`). */
export type StoreArea = 'blobs' | 'parts';

export interface StoredBuckets {
  buckets: Array<{ id: string; location: StoreLocation }>;
  strays: StoreLocation[];
}

export interface BlobStore {
  ingest(body: Readable, opts: IngestOptions): Promise<StagedBlob>;
  /**
   * Must be called while holding the blob's row lock. `since`: when the
   * write's transaction began (performance.now()), for placeKnown().
   * True when the staged file became the blob; false when the blob's file
   * was there already and was kept (the staged one dropped).
   */
  place(bucketId: string, staged: StagedBlob, since?: number): Promise<boolean>;
  /**
   * For a write whose content the bucket already holds (a deduplicated
   * write), in place of place(): drops the staged file and returns no
   * sooner than a write of new content would have, counted from `since`, so
   * the acknowledgement's timing does not tell a client whether someone else
   * stored these bytes (docs/security.md "Scanning and deduplication").
   */
  placeKnown(staged: StagedBlob, since: number): Promise<void>;
  discard(staged: StagedBlob): Promise<void>;
  /**
   * Opens the blob before streaming so a concurrent delete cannot pull it
   * away mid-read. Plaintext bytes whether the file is sealed or not; a
   * sealed blob that does not authenticate fails the stream (SealedBlobCorrupt)
   * before any byte of the failing chunk. `expect`: the row's size, which
   * tells a sealed file from a plaintext one by its length alone.
   */
  openRead(bucketId: string, sha256: string, range?: ByteRange, expect?: ReadExpectation): Promise<Readable>;
  exists(bucketId: string, sha256: string): Promise<boolean>;
  /** Must be called while holding the blob's row lock with ref_count = 0. */
  remove(bucketId: string, sha256: string): Promise<void>;
  /** Also removes the bucket's multipart part files. */
  removeBucket(bucketId: string): Promise<void>;
  /**
   * Multipart: moves a staged part under its upload (durably: fsynced file
   * and directory) and returns a reference to store in the part's row. Each
   * call gets a new name, so a re-upload never touches the part it replaces.
   */
  keepPart(bucketId: string, uploadId: string, partNumber: number, staged: StagedBlob): Promise<string>;
  /** The part's plaintext; a sealed part is opened with its bucket's key and checked against `sha256`. */
  openPart(ref: string, expect?: ReadExpectation & { sha256: string }): Promise<Readable>;
  removePart(ref: string): Promise<void>;
  /** Removes every part file of an upload. */
  removeUpload(bucketId: string, uploadId: string): Promise<void>;
  /** Health: throws unless a small file can be written, synced and removed where uploads are staged. */
  probeWritable(): Promise<void>;

  // Maintenance: what the store holds, looked at without the database, so
  // that what no row names can be found (src/maintenance/orphans.ts decides
  // what goes, under the row locks). Listings are taken before the rows are
  // read, and a lone item is only a candidate until looked at again.

  /**
   * The buckets that hold something in `area`, and what is there not named
   * like a bucket. Callers read the bucket rows after this: a bucket listed
   * here whose row is gone was deleted, and its leftovers go (removeBucket).
   */
  listBuckets(area: StoreArea): Promise<StoredBuckets>;
  /**
   * One bucket's blobs in sha256 order — the order of the blobs table's
   * key — so that they merge with the rows as both stream, whatever the
   * bucket's size.
   */
  listBlobs(bucketId: string): AsyncIterable<BlobEntry>;
  /** Undefined when the blob is not there. */
  statBlob(bucketId: string, sha256: string): Promise<StoredItemStat | undefined>;
  /**
   * SHA-256 (hex) of the blob's content (a sealed blob's plaintext, every
   * chunk authenticated on the way; a text saying why when it does not
   * authenticate), streamed: fsck --deep, and fsck
   * before it recreates a lost row. `onBytes` sees each chunk's length
   * (progress). Undefined when the blob is not there.
   */
  hashBlob(bucketId: string, sha256: string, onBytes?: (n: number) => void): Promise<string | undefined>;
  /** Where the blob is, or would be: a missing one is reported too. */
  blobLocation(bucketId: string, sha256: string): StoreLocation;
  /**
   * The multipart uploads the store keeps anything for in one bucket, each
   * with its part files — maybe none: what is left of a finished upload goes
   * too (removeUpload).
   */
  listUploads(bucketId: string): AsyncIterable<UploadEntry>;
  /** Undefined when the part file is not there. */
  statPart(ref: string): Promise<StoredItemStat | undefined>;
  /** Where a part row's file is, or would be. */
  partLocation(ref: string): StoreLocation;
  /** Everything where bodies are staged: uploads in flight, and what crashes left. */
  listTempFiles(): AsyncIterable<TempFile>;
  /**
   * Removes a temp file if it has still been idle for `graceMs`: it has no
   * row to lock, so idleness is all that tells a crash's leftover from an
   * upload in flight, and the listing is a moment old. Returns whether it went.
   */
  removeIdleTempFile(name: string, graceMs: number): Promise<boolean>;
}

/** Hashes and counts the bytes on their way to disk; refuses oversize bodies early. */
class HashingMeter extends Transform {
  readonly sha256 = createHash('sha256');
  private readonly md5: Hash | OffloadedMd5 | undefined;
  size = 0;
  private readonly headParts: Buffer[] = [];
  private headBytes = 0;

  constructor(
    private readonly maxSize: number,
    private readonly extra: Checksummer[],
    md5: 'inline' | 'offload' | 'none',
  ) {
    super();
    this.md5 = md5 === 'offload' ? new OffloadedMd5() : md5 === 'inline' ? createHash('md5') : undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.size += chunk.length;
    if (this.size > this.maxSize) {
      done(new DomainError('EntityTooLarge', undefined, { MaxSizeAllowed: String(this.maxSize) }));
      return;
    }
    this.sha256.update(chunk);
    if (this.headBytes < HEAD_BYTES) {
      const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.headBytes));
      this.headParts.push(part);
      this.headBytes += part.length;
    }
    for (const c of this.extra) c.update(chunk);
    const wait = this.md5?.update(chunk);
    // An offloaded MD5 that fell behind holds the stream back: backpressure, not a growing queue.
    if (wait instanceof Promise) wait.then(() => done(null, chunk), done);
    else done(null, chunk);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void) {
    // Transforms destroy themselves after a clean end too (autoDestroy): only
    // a failed or cut-off stream abandons its MD5 session.
    if (this.md5 instanceof OffloadedMd5 && (err || !this.writableFinished)) this.md5.abort();
    done(err);
  }

  get head(): Buffer {
    return Buffer.concat(this.headParts, this.headBytes);
  }

  async md5Digest(): Promise<Buffer> {
    return this.md5 ? this.md5.digest() : Buffer.alloc(0);
  }
}

const WRITE_HIGH_WATER_MARK = 1024 * 1024;
const READ_HIGH_WATER_MARK = 512 * 1024;

/** Where the local disk store keeps what. */
export interface DiskLayout {
  /** <blobs>/<bucket-id>/<sha[0:2]>/<sha[2:4]>/<sha256> */
  blobsDir: string;
  /** Bodies being ingested: <tmp>/<uuid>.part */
  tempDir: string;
  /** Multipart parts: <parts>/<bucket-id>/<upload-id>/<part-number>-<uuid>; a part row's `path` is relative to it. */
  partsDir: string;
}

/** Whether a blob file of `fileSize` bytes can hold `plaintextSize` bytes of content: as they are, or sealed. */
export function storedSizeFits(fileSize: number, plaintextSize: number): boolean {
  return fileSize === plaintextSize || fileSize === sealedSize(plaintextSize);
}

/** The disk (or the user's quota) is full: the request failed for want of space, not by a bug. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function diskLayout(dataDir: string): DiskLayout {
  return {
    blobsDir: path.join(dataDir, 'blobs'),
    tempDir: path.join(dataDir, 'tmp'),
    partsDir: path.resolve(dataDir, 'parts'),
  };
}

/** How many recent place() durations a deduplicated write's wait is drawn from. */
const PLACE_SAMPLES = 64;
/** How much of placeKnown()'s wait is left to the event loop rather than a timer (ms). */
const TIMER_SLACK_MS = 1.5;

/**
 * The blob store of a data directory, as the servers there use it: for tools
 * that work beside them (aerostore fsck). Creates nothing.
 */
export function openBlobStore(dataDir: string, keys?: BucketKeySource): BlobStore {
  return new LocalDiskBlobStore(dataDir, keys);
}

export class LocalDiskBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly tempDir: string;
  private readonly partsDir: string;
  /** The last PLACE_SAMPLES durations of place() (ms), ring-buffered: what placeKnown() draws its wait from. */
  private readonly placeTimes: number[] = [];
  private placeCursor = 0;

  /** `keys`: where sealed blobs' bucket keys come from; without it a sealed blob does not open. */
  constructor(
    readonly dataDir: string,
    private readonly keys?: BucketKeySource,
  ) {
    ({ blobsDir: this.blobsDir, tempDir: this.tempDir, partsDir: this.partsDir } = diskLayout(dataDir));
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.tempDir, { recursive: true });
  }

  blobPath(bucketId: string, sha256: string): string {
    return path.join(this.blobsDir, bucketId, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async ingest(body: Readable, opts: IngestOptions): Promise<StagedBlob> {
    if (opts.expectedSize !== undefined && opts.expectedSize > opts.maxSize) {
      throw new DomainError('EntityTooLarge', undefined, { MaxSizeAllowed: String(opts.maxSize) });
    }
    const md5Mode = opts.md5 === false ? 'none' : (opts.expectedSize ?? 0) >= OFFLOAD_THRESHOLD ? 'offload' : 'inline';
    // x-amz-checksum-md5 is the MD5 computed for the ETag anyway.
    const algorithms = (opts.checksums ?? []).filter((a) => a !== 'MD5' || md5Mode === 'none');
    const extra = await Promise.all(algorithms.map((a) => createChecksummer(a)));
    const meter = new HashingMeter(opts.maxSize, extra, md5Mode);
    const tempPath = path.join(this.tempDir, `${randomUUID()}.part`);
    // flush: fsync before close, so the bytes are durable before any row names them.
    const file = createWriteStream(tempPath, { flags: 'wx', mode: 0o644, flush: true, highWaterMark: WRITE_HIGH_WATER_MARK });
    let md5: Buffer;
    try {
      // Sealing is one more stage of the same pass: the meter's SHA-256 is the
      // one bound into the last chunk (hashedUpstream), not computed twice.
      if (opts.seal) await pipeline(readWithoutDestroying(body), meter, sealStream(opts.seal, { sha256: meter.sha256, hashedUpstream: true }), file);
      else await pipeline(readWithoutDestroying(body), meter, file);
      if (opts.expectedSize !== undefined && meter.size !== opts.expectedSize) {
        throw new DomainError('IncompleteBody');
      }
      md5 = await meter.md5Digest();
    } catch (err) {
      // The file is opened asynchronously: a body that fails at once (the
      // client already gone) fails the pipeline before the open, which
      // would then create the file after the unlink. Wait for it to close.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      await unlink(tempPath).catch(() => {});
      throw err;
    }
    const checksums: StagedBlob['checksums'] = {};
    algorithms.forEach((a, i) => (checksums[a] = extra[i].digest()));
    if (md5Mode !== 'none' && opts.checksums?.includes('MD5')) checksums.MD5 = md5.toString('base64');
    return { tempPath, size: meter.size, sha256: meter.sha256.digest('hex'), md5, checksums, sealed: opts.seal !== undefined, head: meter.head };
  }

  async place(bucketId: string, staged: StagedBlob, since?: number): Promise<boolean> {
    const finalPath = this.blobPath(bucketId, staged.sha256);
    let linked = true;
    try {
      // link() never replaces: if the content is already there, keep it.
      await intoDirectory(finalPath, () => link(staged.tempPath, finalPath));
      await fsyncDir(path.dirname(finalPath));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      linked = false;
    }
    if (since !== undefined) {
      // (A deduplicated write unlinks its temp file too: not part of the difference.)
      this.placeTimes[this.placeCursor] = performance.now() - since;
      this.placeCursor = (this.placeCursor + 1) % PLACE_SAMPLES;
    }
    await unlink(staged.tempPath).catch(() => {});
    return linked;
  }

  /**
   * A deduplicated write skips the link, the directory creation and their
   * fsyncs, and was measurably faster to acknowledge (npm run
   * bench:dedup-timing, 64 KiB: 2.4 to 3.6 ms at the median), which told a
   * member of a shared bucket that someone had stored the bytes it guessed.
   * It now waits until a duration drawn from this process's recent writes of
   * new content — from their transaction's start to their placement — has
   * passed since its own transaction began, so both kinds reach their commit
   * after delays of one distribution, whatever else differs on the way; and
   * it drops its staged file within that wait.
   */
  async placeKnown(staged: StagedBlob, since: number): Promise<void> {
    // Inside the wait: this unlink frees the file's blocks, dearer than
    // place()'s, which only drops a second name.
    await this.discard(staged);
    if (this.placeTimes.length === 0) return;
    const target = since + this.placeTimes[Math.floor(Math.random() * this.placeTimes.length)];
    // A timer fires up to a millisecond or so late, and never sooner than
    // 1 ms: it covers all but the last stretch, which passes in turns of the
    // event loop (other requests go on meanwhile).
    const remaining = target - performance.now();
    if (remaining > TIMER_SLACK_MS) await sleep(remaining - TIMER_SLACK_MS);
    while (performance.now() < target) await new Promise((resolve) => setImmediate(resolve));
  }

  async discard(staged: StagedBlob): Promise<void> {
    await unlink(staged.tempPath).catch(() => {});
  }

  async openRead(bucketId: string, sha256: string, range?: ByteRange, expect?: ReadExpectation): Promise<Readable> {
    const handle = await open(this.blobPath(bucketId, sha256), 'r');
    return this.readFile(handle, bucketId, sha256, range, expect);
  }

  /**
   * The plaintext of an open blob or part file, sealed or not. With the
   * row's size known, the length decides: a sealed file is always
   * sealedSize(size) > size bytes, a plaintext one exactly size, so no
   * content a client stored can pass for a header (a plaintext body that
   * begins with "AESB" is still plaintext). Without it (the scanner), the
   * magic decides. Any other length is a damaged file: the read fails.
   */
  private async readFile(handle: FileHandle, bucketId: string, sha256: string, range: ByteRange | undefined, expect: ReadExpectation | undefined): Promise<Readable> {
    let sealed: boolean;
    try {
      const { size } = await handle.stat();
      if (expect === undefined) sealed = await startsSealed(handle, size);
      else if (size === expect.size) sealed = false;
      else if (size === sealedSize(expect.size)) sealed = true;
      else throw new SealedBlobCorrupt('length', `blob ${bucketId}/${sha256} is ${size} bytes on disk: neither its ${expect.size} bytes nor their sealed length`);
    } catch (err) {
      await handle.close();
      throw err;
    }
    if (!sealed) {
      return createReadStream('', { fd: handle, start: range?.start, end: range?.end, highWaterMark: READ_HIGH_WATER_MARK });
    }
    let key: BucketKey;
    try {
      key = await this.sealedKey(handle, bucketId);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const opts = expect ? { plaintextSize: expect.size } : {};
    if (range) {
      const source = await fileSource(handle);
      return Readable.from(closingAfter(handle, openRange(source, key, sha256, range, opts)), { objectMode: false, highWaterMark: READ_HIGH_WATER_MARK });
    }
    const file = createReadStream('', { fd: handle, highWaterMark: READ_HIGH_WATER_MARK });
    const plain = openStream(key, sha256, opts);
    // Either side failing ends both: a chunk that does not authenticate
    // errors the reader's stream, a reader gone closes the file.
    file.on('error', (err) => plain.destroy(err));
    plain.on('close', () => file.destroy());
    file.pipe(plain);
    return plain;
  }

  /** The bucket key a sealed file's header names. */
  private async sealedKey(handle: FileHandle, bucketId: string): Promise<BucketKey> {
    const bytes = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, HEADER_BYTES, 0);
    const header = readSealedHeader(bytes.subarray(0, bytesRead));
    const key = await this.keys?.keyOf(bucketId, header.keyId);
    if (!key) throw new SealedBlobCorrupt('key-id', `no key of generation ${header.keyId} for bucket ${bucketId}: the blob cannot be opened`);
    return key;
  }

  async exists(bucketId: string, sha256: string): Promise<boolean> {
    return stat(this.blobPath(bucketId, sha256)).then(
      () => true,
      () => false,
    );
  }

  async remove(bucketId: string, sha256: string): Promise<void> {
    await unlink(this.blobPath(bucketId, sha256)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async removeBucket(bucketId: string): Promise<void> {
    await rm(path.join(this.blobsDir, bucketId), { recursive: true, force: true });
    await rm(path.join(this.partsDir, bucketId), { recursive: true, force: true });
  }

  async keepPart(bucketId: string, uploadId: string, partNumber: number, staged: StagedBlob): Promise<string> {
    const ref = path.join(bucketId, uploadId, `${partNumber}-${randomUUID()}`);
    const finalPath = this.partPath(ref);
    // Same filesystem as tmp/: a rename, and the file was fsynced by ingest().
    await intoDirectory(finalPath, () => rename(staged.tempPath, finalPath));
    await fsyncDir(path.dirname(finalPath));
    return ref;
  }

  async openPart(ref: string, expect?: ReadExpectation & { sha256: string }): Promise<Readable> {
    const handle = await open(this.partPath(ref), 'r');
    // A part ref is <bucket-id>/<upload-id>/<file>: its bucket's key seals it.
    const bucketId = ref.split(path.sep)[0];
    if (!expect) {
      // Only a plaintext part can be read without knowing its content's hash.
      return this.readFile(handle, bucketId, '0'.repeat(64), undefined, undefined);
    }
    return this.readFile(handle, bucketId, expect.sha256, undefined, { size: expect.size });
  }

  async removePart(ref: string): Promise<void> {
    await unlink(this.partPath(ref)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async removeUpload(bucketId: string, uploadId: string): Promise<void> {
    await rm(path.join(this.partsDir, bucketId, uploadId), { recursive: true, force: true });
  }

  async probeWritable(): Promise<void> {
    // Named like nothing ingest() writes; the sweeper removes one left behind by a crash.
    const probe = path.join(this.tempDir, `health-${randomUUID()}.probe`);
    const handle = await open(probe, 'wx', 0o644);
    try {
      await handle.writeFile('ok');
      await handle.sync();
    } finally {
      await handle.close();
      await unlink(probe).catch(() => {});
    }
  }

  async listBuckets(area: StoreArea): Promise<StoredBuckets> {
    const root = area === 'blobs' ? this.blobsDir : this.partsDir;
    const listing: StoredBuckets = { buckets: [], strays: [] };
    for (const e of await listDir(root)) {
      const location = path.join(root, e.name);
      if (e.isDirectory() && BUCKET_ID.test(e.name)) listing.buckets.push({ id: e.name, location });
      else listing.strays.push(location);
    }
    return listing;
  }

  /** Walks <bucket>/<sha[0:2]>/<sha[2:4]>/ in name order, one shard directory in memory at a time. */
  async *listBlobs(bucketId: string): AsyncGenerator<BlobEntry> {
    const bucketDir = path.join(this.blobsDir, bucketId);
    for (const a of await listDir(bucketDir)) {
      const aPath = path.join(bucketDir, a.name);
      if (!a.isDirectory() || !SHARD.test(a.name)) {
        yield { stray: aPath };
        continue;
      }
      for (const b of await listDir(aPath)) {
        const bPath = path.join(aPath, b.name);
        if (!b.isDirectory() || !SHARD.test(b.name)) {
          yield { stray: bPath };
          continue;
        }
        for (const f of await listDir(bPath)) {
          const fPath = path.join(bPath, f.name);
          if (f.isFile() && SHA256.test(f.name) && f.name.startsWith(a.name + b.name)) yield { sha256: f.name, location: fPath };
          else yield { stray: fPath };
        }
      }
    }
  }

  statBlob(bucketId: string, sha256: string): Promise<StoredItemStat | undefined> {
    return statItem(this.blobPath(bucketId, sha256));
  }

  async hashBlob(bucketId: string, sha256: string, onBytes?: (n: number) => void): Promise<string | undefined> {
    const file = this.blobPath(bucketId, sha256);
    // A sealed blob is hashed as its plaintext, which also checks every
    // chunk's tag. One that does not open is hashed as it is: a plaintext
    // blob whose content merely begins like a sealed header still hashes to
    // its name; anything else is reported by why it did not open.
    let sealed: boolean;
    try {
      const handle = await open(file, 'r');
      try {
        sealed = await startsSealed(handle, (await handle.stat()).size);
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (sealed) {
      try {
        return await hashStream(await this.readFile(await open(file, 'r'), bucketId, sha256, undefined, undefined), onBytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        if (!(err instanceof SealedBlobCorrupt)) throw err;
        const raw = await this.hashRaw(file);
        // Not a hash, so never equal to the blob's name: fsck reports it as content that is not the blob's.
        if (raw !== sha256) return `sealed blob does not authenticate (${err.fault}): ${err.message}`;
        return raw;
      }
    }
    return this.hashRaw(file, onBytes);
  }

  private async hashRaw(file: string, onBytes?: (n: number) => void): Promise<string | undefined> {
    try {
      return await hashStream(createReadStream(file, { highWaterMark: HASH_HIGH_WATER_MARK }), onBytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  blobLocation(bucketId: string, sha256: string): StoreLocation {
    return this.blobPath(bucketId, sha256);
  }

  /** <parts>/<bucket>/<upload>/<file>: upload directories in name order, with their files. */
  async *listUploads(bucketId: string): AsyncGenerator<UploadEntry> {
    const bucketDir = path.join(this.partsDir, bucketId);
    for (const u of await listDir(bucketDir)) {
      const uploadDir = path.join(bucketDir, u.name);
      if (!u.isDirectory()) {
        yield { stray: uploadDir };
        continue;
      }
      const parts: PartFile[] = [];
      const strays: StoreLocation[] = [];
      for (const f of await listDir(uploadDir)) {
        if (f.isFile()) parts.push({ ref: path.join(bucketId, u.name, f.name), location: path.join(uploadDir, f.name) });
        else strays.push(path.join(uploadDir, f.name));
      }
      for (const stray of strays) yield { stray };
      yield { uploadId: u.name, parts };
    }
  }

  statPart(ref: string): Promise<StoredItemStat | undefined> {
    return statItem(this.partPath(ref));
  }

  partLocation(ref: string): StoreLocation {
    return this.partPath(ref);
  }

  async *listTempFiles(): AsyncGenerator<TempFile> {
    for (const e of await listDir(this.tempDir)) {
      if (!e.isFile()) continue;
      const location = path.join(this.tempDir, e.name);
      const st = await statItem(location);
      if (st) yield { name: e.name, location, idleMs: st.idleMs };
    }
  }

  async removeIdleTempFile(name: string, graceMs: number): Promise<boolean> {
    if (name !== path.basename(name)) throw new Error(`not a temp file name: ${name}`);
    const file = path.join(this.tempDir, name);
    const st = await statItem(file);
    if (st === undefined || st.idleMs < graceMs) return false;
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    return true;
  }

  private partPath(ref: string): string {
    const full = path.resolve(this.partsDir, ref);
    if (!full.startsWith(this.partsDir + path.sep)) throw new Error(`part reference outside the parts directory: ${ref}`);
    return full;
  }
}

const HASH_HIGH_WATER_MARK = 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;
const SHARD = /^[0-9a-f]{2}$/;
const BUCKET_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** JavaScript's default string order is UTF-16 code units; for these ASCII names it is Postgres's COLLATE "C" order. */
const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A directory's entries by name; none when it does not exist (or went away meanwhile). */
async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort(byName);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Size and idle time of the entry itself (lstat: a link is not followed); undefined when it is gone. */
async function statItem(file: string): Promise<StoredItemStat | undefined> {
  try {
    const st = await lstat(file);
    return { size: st.size, idleMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The body as a stream that pipeline() may destroy on failure without
 * destroying `body` itself. When `body` is an HTTP request, destroying it
 * destroys the socket, and the client would never hear why its upload was
 * refused (EntityTooLarge, a bad chunk signature): the handler must still
 * be able to answer on that socket.
 */
export function readWithoutDestroying(body: Readable): Readable {
  const view = new PassThrough();
  const cut = () => Object.assign(new Error('request aborted'), { code: 'ECONNRESET' });
  // Already over before we got to read it: the client went away while the
  // request was being checked. Its bytes are gone, and no event will come.
  if (body.destroyed) {
    if (body.readableEnded) view.end();
    else view.destroy(body.errored ?? cut());
    return view;
  }
  body.on('error', (err) => view.destroy(err));
  body.on('aborted', () => view.destroy(cut()));
  // Destroyed without an error before its end was read (Node drops a
  // connection whose next request is malformed even when this body arrived
  // whole): without this the upload would wait forever on its temp file.
  body.on('close', () => {
    if (!body.readableEnded) view.destroy(body.errored ?? cut());
  });
  view.on('close', () => {
    if (!body.readableEnded) body.unpipe(view);
  });
  body.pipe(view);
  return view;
}

/**
 * Runs `op`, a link or rename to `target`, and if it fails for want of
 * target's directory, creates it and runs `op` once more. A write costs no
 * mkdir, and no set of known directories grows with the store (that cache
 * held up to 65,536 paths per bucket, for the life of the process).
 */
async function intoDirectory(target: string, op: () => Promise<void>): Promise<void> {
  try {
    return await op();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdirDurably(path.dirname(target));
  await op();
}

/**
 * mkdir -p, then fsync the parent of each directory it created, so their
 * entries survive a crash too. The last level's parent is synced even when
 * a concurrent writer created it: its entry must be durable before either
 * acknowledges a write in it.
 */
async function mkdirDurably(dir: string): Promise<void> {
  const first = path.resolve((await mkdir(dir, { recursive: true })) ?? dir);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await fsyncDir(path.dirname(d));
    if (d === first || d === path.dirname(d)) break;
  }
}

async function hashStream(stream: Readable, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return h.digest('hex');
}

/** Whether a file of `size` bytes begins with a sealed blob's magic: for readers that do not know the row's size. */
async function startsSealed(handle: FileHandle, size: number): Promise<boolean> {
  if (size < HEADER_BYTES) return false;
  const magic = Buffer.alloc(SEALED_MAGIC.length);
  await handle.read(magic, 0, magic.length, 0);
  return magic.equals(SEALED_MAGIC);
}

/** Yields what `chunks` yields, and closes `handle` when it ends, fails or is abandoned. */
async function* closingAfter(handle: FileHandle, chunks: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* chunks;
  } finally {
    await handle.close().catch(() => {});
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
