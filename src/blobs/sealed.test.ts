import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { newBucketKey, type BucketKey } from './blob-keys.ts';
import {
  CHUNK_SIZE,
  HEADER_BYTES,
  TAG_BYTES,
  SealedBlobCorrupt,
  chunkSpan,
  fileSource,
  openRange,
  openStream,
  plaintextSizeOf,
  readSealedHeader,
  sealStream,
  sealedSize,
  type SealedSource,
} from './sealed.ts';

const RECORD = CHUNK_SIZE + TAG_BYTES;
const bucket = newBucketKey('b-1');
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Feeds `bytes` in pieces of `piece` bytes (odd sizes cross chunk boundaries anywhere). */
function source(bytes: Buffer, piece = 10_007): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += piece) pieces.push(bytes.subarray(i, i + piece));
  return Readable.from(pieces, { objectMode: false });
}

async function collect(readable: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of readable) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

async function seal(plaintext: Buffer, key: BucketKey = bucket): Promise<Buffer> {
  return collect(source(plaintext).pipe(sealStream(key)));
}

async function open_(sealed: Buffer, digest: string, key: BucketKey = bucket, piece?: number): Promise<Buffer> {
  return collect(source(sealed, piece).pipe(openStream(key, digest)));
}

function memorySource(sealed: Buffer): SealedSource {
  return { size: sealed.length, read: async (position, length) => sealed.subarray(position, position + length) };
}

async function readRange(sealed: Buffer, digest: string, start: number, end: number, key: BucketKey = bucket): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of openRange(memorySource(sealed), key, digest, { start, end })) out.push(piece);
  return Buffer.concat(out);
}

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 12_345, 200_000 + Math.floor(Math.random() * 300_000)];

describe('sealed blob format', () => {
  for (const size of SIZES) {
    it(`round-trips ${size} bytes, at sealedSize(${size}) bytes, with no plaintext on the way`, async () => {
      const plaintext = randomBytes(size);
      const digest = sha(plaintext);
      const sealed = await seal(plaintext);
      assert.equal(sealed.length, sealedSize(size));
      assert.equal(plaintextSizeOf(sealed.length), size);
      if (size >= 64) assert.equal(sealed.indexOf(plaintext.subarray(0, 32)), -1);
      assert.deepEqual(await open_(sealed, digest), plaintext);
      assert.deepEqual(await open_(sealed, digest, bucket, 1), plaintext, 'fed a byte at a time');
      assert.deepEqual(await open_(sealed, digest, bucket, RECORD), plaintext, 'fed a record at a time');
    });
  }

  it('round-trips any size cut into any pieces (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 * CHUNK_SIZE + 50 }), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), async (size, inPiece, outPiece) => {
        const plaintext = randomBytes(size);
        const sealer = sealStream(bucket);
        const sealed = await collect(source(plaintext, inPiece).pipe(sealer));
        assert.equal(sealed.length, sealedSize(size));
        assert.deepEqual(sealer.sha256, createHash('sha256').update(plaintext).digest());
        assert.deepEqual(await open_(sealed, sha(plaintext), bucket, outPiece), plaintext);
      }),
      { numRuns: 40 },
    );
  });

  it('any flipped bit anywhere fails the whole read (property)', async () => {
    const plaintext = randomBytes(2 * CHUNK_SIZE + 300);
    const digest = sha(plaintext);
    const sealed = await seal(plaintext);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 0, max: 7 }), async (at, bit) => {
        const bad = Buffer.from(sealed);
        bad[at] ^= 1 << bit;
        await assert.rejects(open_(bad, digest), SealedBlobCorrupt);
      }),
      { numRuns: 200 },
    );
  });

  it('sizes: one tag per chunk, an empty plaintext is one empty final chunk, and impossible lengths are refused', () => {
    assert.equal(sealedSize(0), HEADER_BYTES + TAG_BYTES);
    assert.equal(sealedSize(CHUNK_SIZE), HEADER_BYTES + RECORD);
    assert.equal(sealedSize(CHUNK_SIZE + 1), HEADER_BYTES + RECORD + 1 + TAG_BYTES);
    for (const bad of [0, HEADER_BYTES, HEADER_BYTES + TAG_BYTES - 1, HEADER_BYTES + RECORD + TAG_BYTES, HEADER_BYTES + RECORD + 3]) {
      assert.throws(() => plaintextSizeOf(bad), SealedBlobCorrupt, String(bad));
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => plaintextSizeOf(sealedSize(n)) === n));
  });

  it('chunkSpan: arithmetic from plaintext offsets to the sealed records', () => {
    const n = 3 * CHUNK_SIZE + 100;
    assert.deepEqual(chunkSpan({ start: 0, end: 0 }, n), { firstChunk: 0, lastChunk: 0, sealedStart: HEADER_BYTES, sealedEnd: HEADER_BYTES + RECORD, skip: 0, length: 1 });
    assert.deepEqual(chunkSpan({ start: CHUNK_SIZE - 1, end: CHUNK_SIZE }, n), {
      firstChunk: 0,
      lastChunk: 1,
      sealedStart: HEADER_BYTES,
      sealedEnd: HEADER_BYTES + 2 * RECORD,
      skip: CHUNK_SIZE - 1,
      length: 2,
    });
    assert.equal(chunkSpan({ start: n - 1, end: n - 1 }, n).sealedEnd, sealedSize(n));
    assert.throws(() => chunkSpan({ start: 0, end: n }, n), RangeError);
    assert.throws(() => chunkSpan({ start: 5, end: 4 }, n), RangeError);
    assert.throws(() => chunkSpan({ start: 0, end: 0 }, 0), RangeError);
  });

  describe('ranged reads', () => {
    const plaintext = randomBytes(5 * CHUNK_SIZE + 777);
    const digest = sha(plaintext);
    let sealed: Buffer;
    before(async () => {
      sealed = await seal(plaintext);
    });

    it('are byte-exact for every range, across chunk boundaries (property)', async () => {
      const offset = fc.oneof(
        fc.integer({ min: 0, max: plaintext.length - 1 }),
        // Near a chunk boundary, where the arithmetic can slip.
        fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -2, max: 2 })).map(([c, d]) => Math.min(plaintext.length - 1, Math.max(0, c * CHUNK_SIZE + d))),
      );
      await fc.assert(
        fc.asyncProperty(offset, offset, async (a, b) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          const got = await readRange(sealed, digest, start, end);
          assert.deepEqual(got, plaintext.subarray(start, end + 1));
        }),
        { numRuns: 300 },
      );
    });

    it('read only the records the range touches', async () => {
      const reads: Array<[number, number]> = [];
      const src = memorySource(sealed);
      const spying: SealedSource = { size: src.size, read: (p, l) => (reads.push([p, l]), src.read(p, l)) };
      const out: Buffer[] = [];
      for await (const piece of openRange(spying, bucket, digest, { start: 2 * CHUNK_SIZE + 5, end: 3 * CHUNK_SIZE + 5 })) out.push(piece);
      assert.deepEqual(Buffer.concat(out), plaintext.subarray(2 * CHUNK_SIZE + 5, 3 * CHUNK_SIZE + 6));
      assert.deepEqual(reads, [
        [0, HEADER_BYTES],
        [HEADER_BYTES + 2 * RECORD, 2 * RECORD],
      ]);
      reads.length = 0;
      for await (const piece of openRange(spying, bucket, digest, { start: 5, end: 10 })) void piece;
      assert.deepEqual(reads, [[0, HEADER_BYTES + RECORD]], 'from the first chunk: one read with the header');
    });

    it('work over a file handle', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'aerostore-sealed-'));
      try {
        await writeFile(path.join(dir, 'blob'), sealed);
        const handle = await open(path.join(dir, 'blob'), 'r');
        try {
          const out: Buffer[] = [];
          const src = await fileSource(handle);
          for await (const piece of openRange(src, bucket, digest, { start: 0, end: plaintext.length - 1 }, { plaintextSize: plaintext.length })) out.push(piece);
          assert.deepEqual(Buffer.concat(out), plaintext);
        } finally {
          await handle.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('refuse a blob of another size than the row says', async () => {
      await assert.rejects(async () => {
        for await (const _ of openRange(memorySource(sealed), bucket, digest, { start: 0, end: 0 }, { plaintextSize: plaintext.length + 1 })) void _;
      }, SealedBlobCorrupt);
    });
  });

  describe('tampering is detected, and no byte of a bad chunk comes out', () => {
    const plaintext = randomBytes(3 * CHUNK_SIZE + 1000);
    const digest = sha(plaintext);
    let sealed: Buffer;
    before(async () => {
      sealed = await seal(plaintext);
    });

    const flipped = (at: number) => {
      const copy = Buffer.from(sealed);
      copy[at] ^= 0x10;
      return copy;
    };
    const record = (i: number) => sealed.subarray(HEADER_BYTES + i * RECORD, HEADER_BYTES + (i + 1) * RECORD);

    /** Opens `bad` as a stream, and returns what came out before the error. */
    async function mustFail(bad: Buffer, opts: { digest?: string; key?: BucketKey; fault?: string } = {}): Promise<Buffer> {
      const got: Buffer[] = [];
      await assert.rejects(
        pipeline(
          source(bad),
          openStream(opts.key ?? bucket, opts.digest ?? digest),
          new Writable({
            write(chunk: Buffer, _e, done) {
              got.push(chunk);
              done();
            },
          }),
        ),
        (err: unknown) => err instanceof SealedBlobCorrupt && (opts.fault === undefined || err.fault === opts.fault),
      );
      const out = Buffer.concat(got);
      assert.deepEqual(out, plaintext.subarray(0, out.length), 'only authentic bytes, in place');
      assert.equal(out.length % CHUNK_SIZE, 0, 'only whole chunks that authenticated');
      return out;
    }

    const cases: Array<[string, () => Buffer, number, string?]> = [
      ['a bit flipped in the header magic', () => flipped(1), 0, 'header'],
      ['a bit flipped in the header nonce prefix', () => flipped(15), 0, 'key'],
      ['a bit flipped in the header key id', () => flipped(11), 0, 'key-id'],
      ['a bit flipped in the header reserved bytes', () => flipped(6), 0, 'header'],
      ['a bit flipped in the wrapped data key', () => flipped(40), 0, 'key'],
      ['a bit flipped in the data key wrapping IV', () => flipped(22), 0, 'key'],
      ['a bit flipped in the data key wrapping tag', () => flipped(HEADER_BYTES - 1), 0, 'key'],
      ['a bit flipped in a chunk body', () => flipped(HEADER_BYTES + RECORD + 100), CHUNK_SIZE, 'chunk'],
      ['a bit flipped in a tag', () => flipped(HEADER_BYTES + 2 * RECORD - 3), CHUNK_SIZE, 'chunk'],
      ['two chunks swapped', () => Buffer.concat([sealed.subarray(0, HEADER_BYTES), record(1), record(0), sealed.subarray(HEADER_BYTES + 2 * RECORD)]), 0, 'chunk'],
      ['a chunk repeated', () => Buffer.concat([sealed.subarray(0, HEADER_BYTES + RECORD), record(0), sealed.subarray(HEADER_BYTES + RECORD)]), CHUNK_SIZE, 'chunk'],
      ['truncated at a chunk boundary', () => sealed.subarray(0, HEADER_BYTES + 3 * RECORD), 2 * CHUNK_SIZE, 'chunk'],
      ['truncated inside a chunk', () => sealed.subarray(0, sealed.length - 10), 3 * CHUNK_SIZE, 'chunk'],
      ['truncated inside a tag of the last chunk, leaving less than a tag', () => sealed.subarray(0, HEADER_BYTES + 3 * RECORD + 5), 3 * CHUNK_SIZE, 'length'],
      ['truncated to the header', () => sealed.subarray(0, HEADER_BYTES), 0, 'length'],
      ['truncated inside the header', () => sealed.subarray(0, 7), 0, 'length'],
      ['bytes appended', () => Buffer.concat([sealed, Buffer.from('x')]), 3 * CHUNK_SIZE, 'chunk'],
      ['a whole chunk appended', () => Buffer.concat([sealed, record(0)]), 3 * CHUNK_SIZE, 'chunk'],
    ];
    for (const [what, make, expectOut, fault] of cases) {
      it(`${what}: stream`, async () => {
        const out = await mustFail(make(), { fault });
        assert.equal(out.length, expectOut);
      });
    }

    it('ranged reads of tampered chunks fail; of intact chunks they still serve', async () => {
      const bad = flipped(HEADER_BYTES + RECORD + 100);
      await assert.rejects(readRange(bad, digest, CHUNK_SIZE + 10, CHUNK_SIZE + 20), SealedBlobCorrupt);
      await assert.rejects(readRange(bad, digest, 0, 2 * CHUNK_SIZE), SealedBlobCorrupt);
      assert.deepEqual(await readRange(bad, digest, 0, 10), plaintext.subarray(0, 11));
      // Truncated at a chunk boundary: the new last chunk was not sealed as final.
      await assert.rejects(readRange(sealed.subarray(0, HEADER_BYTES + 3 * RECORD), digest, 3 * CHUNK_SIZE - 1, 3 * CHUNK_SIZE - 1), SealedBlobCorrupt);
      await assert.rejects(readRange(Buffer.concat([sealed, Buffer.from('x')]), digest, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE), SealedBlobCorrupt);
      await assert.rejects(readRange(flipped(2), digest, 0, 0), SealedBlobCorrupt);
    });

    it('a wrapped data key from another blob of the bucket does not open these chunks', async () => {
      const other = await seal(plaintext);
      const swapped = Buffer.concat([other.subarray(0, HEADER_BYTES), sealed.subarray(HEADER_BYTES)]);
      // The header unwraps (it is this bucket's), but the chunks were sealed under another key and header.
      await mustFail(swapped, { fault: 'chunk' });
    });

    it('a blob moved to another bucket does not open there', async () => {
      const otherBucket = newBucketKey('b-2');
      await mustFail(sealed, { key: otherBucket, fault: 'key' });
      await assert.rejects(readRange(sealed, digest, 0, 0, otherBucket), SealedBlobCorrupt);
      // Even were the two buckets' keys equal, the bucket id is bound into the wrapping and every chunk.
      const sameKeyOtherId = { ...bucket, bucketId: 'b-2' };
      await mustFail(sealed, { key: sameKeyOtherId, fault: 'key' });
      await assert.rejects(readRange(sealed, digest, 0, 0, sameKeyOtherId), SealedBlobCorrupt);
    });

    it('another bucket key, or another generation of it, does not open', async () => {
      await mustFail(sealed, { key: newBucketKey('b-1'), fault: 'key' });
      await mustFail(sealed, { key: { ...bucket, generation: 2 }, fault: 'key-id' });
    });

    it('a final chunk bound to another SHA-256 fails at the last chunk, after the authentic chunks before it', async () => {
      // Opened under another name: the last chunk binds the real one.
      const out = await mustFail(sealed, { digest: sha(Buffer.from('other')), fault: 'chunk' });
      assert.equal(out.length, 3 * CHUNK_SIZE);
      // Sealed with a wrong SHA-256 (a hash fed other bytes upstream), opened under the real name.
      const wrong = createHash('sha256').update('not the body');
      const misnamed = await collect(source(plaintext).pipe(sealStream(bucket, { sha256: wrong, hashedUpstream: true })));
      assert.equal((await mustFail(misnamed, { fault: 'chunk' })).length, 3 * CHUNK_SIZE);
      // A ranged read that reaches the last chunk checks it; one that does not, cannot (the format comment).
      await assert.rejects(readRange(misnamed, digest, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE), SealedBlobCorrupt);
      await assert.rejects(readRange(sealed, sha(Buffer.from('other')), plaintext.length - 1, plaintext.length - 1), SealedBlobCorrupt);
      assert.deepEqual(await readRange(misnamed, digest, 0, 10), plaintext.subarray(0, 11));
    });

    it('a length the row does not record is refused', async () => {
      await assert.rejects(collect(source(sealed).pipe(openStream(bucket, digest, { plaintextSize: plaintext.length - 1 }))), SealedBlobCorrupt);
      await assert.rejects(collect(source(sealed).pipe(openStream(bucket, digest, { plaintextSize: plaintext.length + 1 }))), SealedBlobCorrupt);
    });
  });

  it('the header says what it is', async () => {
    const sealed = await seal(Buffer.from('hello'));
    const header = readSealedHeader(sealed);
    assert.equal(HEADER_BYTES, 80);
    assert.equal(sealed.subarray(0, 4).toString('latin1'), 'AESB');
    assert.deepEqual(
      { ...header, noncePrefix: header.noncePrefix.length, wrappedKey: header.wrappedKey.length },
      { version: 1, chunkSize: CHUNK_SIZE, keyId: 1, noncePrefix: 8, wrappedKey: 60 },
    );
  });

  it('the SHA-256 is taken in the same pass: by sealStream, or shared with the caller\'s hash', async () => {
    const plaintext = randomBytes(2 * CHUNK_SIZE + 5);
    const digest = createHash('sha256').update(plaintext).digest();
    // sealStream hashes on its own.
    const own = sealStream(bucket);
    assert.throws(() => own.sha256, 'not before the end');
    const a = await collect(source(plaintext).pipe(own));
    assert.deepEqual(own.sha256, digest);
    // sealStream feeds the caller's hash; the caller can still digest it.
    const shared = createHash('sha256');
    const b = await collect(source(plaintext).pipe(sealStream(bucket, { sha256: shared })));
    assert.deepEqual(shared.digest(), digest);
    // The caller's stage before sealStream feeds it (as the store's HashingMeter would); sealStream only reads it.
    const upstream = createHash('sha256');
    const meter = new Transform({
      transform(chunk: Buffer, _e, done) {
        upstream.update(chunk);
        done(null, chunk);
      },
    });
    const c = await collect(source(plaintext).pipe(meter).pipe(sealStream(bucket, { sha256: upstream, hashedUpstream: true })));
    assert.deepEqual(upstream.digest(), digest);
    for (const sealed of [a, b, c]) assert.deepEqual(await open_(sealed, digest.toString('hex')), plaintext);
  });

  it('a fresh data key per blob: the same content sealed twice shares no ciphertext, in one bucket or two', async () => {
    const plaintext = randomBytes(CHUNK_SIZE + 99);
    const digest = sha(plaintext);
    const a1 = await seal(plaintext);
    const a2 = await seal(plaintext);
    const other = newBucketKey('b-2');
    const b = await seal(plaintext, other);
    for (const x of [a2, b]) {
      assert.equal(x.length, a1.length);
      assert.notDeepEqual(x.subarray(12, HEADER_BYTES), a1.subarray(12, HEADER_BYTES), 'another nonce prefix and wrapped key');
      // Not one 16-byte window of ciphertext in common.
      const windows = new Set<string>();
      for (let i = HEADER_BYTES; i + 16 <= a1.length; i += 16) windows.add(a1.subarray(i, i + 16).toString('hex'));
      for (let i = HEADER_BYTES; i + 16 <= x.length; i += 16) assert.ok(!windows.has(x.subarray(i, i + 16).toString('hex')));
    }
    assert.deepEqual(await open_(a2, digest), plaintext);
    assert.deepEqual(await open_(b, digest, other), plaintext);
  });

  it('holds at most a chunk or so while sealing and opening a 64 MiB stream', async () => {
    const size = 64 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 7); // the same bytes again and again: nothing to hold on to
    const digest = createHash('sha256');
    for (let i = 0; i < size; i += piece.length) digest.update(piece);
    const name = digest.digest();
    let fed = 0;
    function* body() {
      for (; fed < size; fed += piece.length) yield piece;
    }
    // A real collection now and then, so that what is measured is what is held, not garbage.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage();
    // The resident set: freed buffers' memory goes back lazily, so arrayBuffers
    // swings by a few MiB between collections while the process stays put.
    const held = () => process.memoryUsage().rss - base.rss;
    const sealer = sealStream(bucket);
    const opener = openStream(bucket, name, { plaintextSize: size });
    let peakHeld = 0;
    let peakQueued = 0;
    let opened = 0;
    let fedAtFirstByte = -1;
    await pipeline(
      Readable.from(body(), { objectMode: false }),
      sealer,
      opener,
      new Writable({
        write(chunk: Buffer, _e, done) {
          if (fedAtFirstByte < 0) fedAtFirstByte = fed;
          opened += chunk.length;
          peakQueued = Math.max(peakQueued, sealer.writableLength + sealer.readableLength + opener.writableLength + opener.readableLength);
          if ((opened / CHUNK_SIZE) % 64 === 0) {
            gc();
            peakHeld = Math.max(peakHeld, held());
          }
          done();
        },
      }),
    );
    assert.equal(opened, size);
    assert.ok(fedAtFirstByte <= 2 * piece.length, `the first plaintext came out after ${fedAtFirstByte} bytes went in`);
    // An input piece, a batch of sealed output (4 chunks), a few chunks in flight.
    assert.ok(peakQueued <= piece.length + 8 * RECORD, `at most ${peakQueued} bytes queued in the streams`);
    assert.ok(peakHeld < 16 * 1024 * 1024, `the process grew by ${(peakHeld / 1048576).toFixed(1)} MiB; holding the object would be 64 MiB`);
  });
});
