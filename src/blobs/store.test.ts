import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DomainError } from '../core/errors.ts';
import { LocalDiskBlobStore, openBlobStore, type BlobEntry, type BlobStore, type UploadEntry } from './store.ts';
import { OFFLOAD_THRESHOLD, terminateMd5Workers } from './md5-offload.ts';
import { newBucketKey } from './blob-keys.ts';
import { sealedSize } from './sealed.ts';

let dir: string;
let store: LocalDiskBlobStore;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-blobs-'));
  store = new LocalDiskBlobStore(dir);
  await store.init();
});
after(() => rm(dir, { recursive: true, force: true }));

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

/** A body delivered in uneven chunks, as a socket would. */
function chunked(body: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = 1 + ((i * 7919) % 200_000);
    parts.push(body.subarray(i, i + n));
    i += n;
  }
  return Readable.from(parts);
}

describe('LocalDiskBlobStore.ingest', () => {
  for (const size of [0, 1000, OFFLOAD_THRESHOLD + 12_345]) {
    it(`stages ${size} bytes with the right SHA-256 and MD5 (MD5 ${size >= OFFLOAD_THRESHOLD ? 'on a worker' : 'inline'})`, async () => {
      const body = randomBytes(size);
      const staged = await store.ingest(chunked(body), { expectedSize: size, maxSize: 1e9, checksums: ['CRC32'] });
      assert.equal(staged.size, size);
      assert.equal(staged.sha256, hex('sha256', body));
      assert.equal(staged.md5.toString('hex'), hex('md5', body));
      assert.ok((await readFile(staged.tempPath)).equals(body));
      await store.place('bucket-a', staged);
      assert.ok(await store.exists('bucket-a', staged.sha256));
      assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    });
  }

  it('refuses a body past maxSize while streaming and leaves no temp file', async () => {
    await assert.rejects(
      store.ingest(chunked(randomBytes(OFFLOAD_THRESHOLD * 2)), { maxSize: OFFLOAD_THRESHOLD, expectedSize: undefined }),
      (e: unknown) => e instanceof DomainError && e.code === 'EntityTooLarge',
    );
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });

  it('refuses a body shorter than promised and a body that fails mid-way, leaving nothing', async () => {
    await assert.rejects(
      store.ingest(chunked(randomBytes(100)), { maxSize: 1e9, expectedSize: 101 }),
      (e: unknown) => e instanceof DomainError && e.code === 'IncompleteBody',
    );
    const failing = new Readable({
      read() {
        this.push(randomBytes(OFFLOAD_THRESHOLD));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.ingest(failing, { maxSize: 1e9, expectedSize: OFFLOAD_THRESHOLD * 3 }), /connection reset/);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });

  it('an MD5 worker that dies fails the uploads it was hashing, not the process; the next upload gets a new worker', async () => {
    const size = OFFLOAD_THRESHOLD * 4;
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 1 << 20;
        this.push(randomBytes(1 << 20));
        // Half-way through, the worker goes (as it would out of memory).
        if (sent === size / 2) void terminateMd5Workers();
        if (sent === size) this.push(null);
      },
    });
    await assert.rejects(store.ingest(body, { maxSize: 1e9, expectedSize: size }), /MD5 worker exited/);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    const again = randomBytes(OFFLOAD_THRESHOLD + 1);
    const staged = await store.ingest(chunked(again), { maxSize: 1e9, expectedSize: again.length });
    assert.equal(staged.md5.toString('hex'), hex('md5', again));
    await store.discard(staged);
  });

  it('places identical content once', async () => {
    const body = randomBytes(5000);
    const a = await store.ingest(chunked(body), { maxSize: 1e9 });
    const b = await store.ingest(chunked(body), { maxSize: 1e9 });
    await store.place('bucket-b', a);
    await store.place('bucket-b', b);
    const files = await readdir(path.join(dir, 'blobs', 'bucket-b'), { recursive: true, withFileTypes: true });
    assert.equal(files.filter((f) => f.isFile()).length, 1);
  });
});

describe('LocalDiskBlobStore.place and keepPart', () => {
  it('creates missing directories, also when the bucket directory was removed in between', async () => {
    const first = await store.ingest(chunked(randomBytes(100)), { maxSize: 1e9 });
    await store.place('bucket-c', first);
    await store.removeBucket('bucket-c');
    const body = randomBytes(100);
    const second = await store.ingest(chunked(body), { maxSize: 1e9 });
    await store.place('bucket-c', second);
    assert.deepEqual(await readFile(store.blobPath('bucket-c', second.sha256)), body);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });

  it('places many contents at once into new directories', async () => {
    // 64 bodies: most land in fresh <sha[0:2]>/<sha[2:4]> directories, several racing on the bucket's.
    const bodies = Array.from({ length: 64 }, () => randomBytes(64));
    const staged = await Promise.all(bodies.map((b) => store.ingest(chunked(b), { maxSize: 1e9 })));
    await Promise.all(staged.map((s) => store.place('bucket-d', s)));
    for (const [i, s] of staged.entries()) assert.deepEqual(await readFile(store.blobPath('bucket-d', s.sha256)), bodies[i]);
  });

  it('keeps a part under a new upload directory and reads it back', async () => {
    const body = randomBytes(300);
    const ref = await store.keepPart('bucket-e', 'upload-1', 1, await store.ingest(chunked(body), { maxSize: 1e9 }));
    const read: Buffer[] = [];
    for await (const chunk of await store.openPart(ref)) read.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(read), body);
  });

  it('still fails when the staged file itself is missing', async () => {
    const staged = await store.ingest(chunked(randomBytes(10)), { maxSize: 1e9 });
    await store.discard(staged);
    await assert.rejects(store.place('bucket-f', staged), { code: 'ENOENT' });
  });
});

describe('BlobStore maintenance listings (LocalDiskBlobStore)', () => {
  // A store of its own: the tests above use bucket ids that are not UUIDs.
  let root: string;
  let disk: LocalDiskBlobStore;
  let blobs: BlobStore;
  const bucket = '0b5e1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d';
  const other = 'f0e1d2c3-b4a5-4968-8776-655443322110';
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'aerostore-listings-'));
    disk = new LocalDiskBlobStore(root);
    await disk.init();
    blobs = disk;
  });
  after(() => rm(root, { recursive: true, force: true }));

  const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  };
  const stage = (body: Buffer) => blobs.ingest(Readable.from([body]), { maxSize: 1e9 });
  const age = async (file: string, ms: number) => {
    const t = new Date(Date.now() - ms);
    await utimes(file, t, t);
  };

  it('openBlobStore opens the data directory\'s store without creating anything', async () => {
    const elsewhere = path.join(root, 'not-yet');
    const store = openBlobStore(elsewhere);
    assert.deepEqual(await store.listBuckets('blobs'), { buckets: [], strays: [] });
    assert.deepEqual(await collect(store.listTempFiles()), []);
    await assert.rejects(readdir(elsewhere), { code: 'ENOENT' });
  });

  it('lists a bucket\'s blobs in sha256 order, strays apart, and finds, sizes and hashes each', async () => {
    const bodies = Array.from({ length: 20 }, () => randomBytes(100 + Math.floor(Math.random() * 1000)));
    for (const b of bodies) await blobs.place(bucket, await stage(b));
    const entries = await collect(blobs.listBlobs(bucket));
    const shas = bodies.map((b) => hex('sha256', b)).sort();
    assert.deepEqual(
      entries.map((e) => ('sha256' in e ? e.sha256 : e)),
      shas,
    );
    for (const e of entries as Array<Extract<BlobEntry, { sha256: string }>>) {
      assert.equal(e.location, blobs.blobLocation(bucket, e.sha256));
      const body = bodies.find((b) => hex('sha256', b) === e.sha256)!;
      const st = (await blobs.statBlob(bucket, e.sha256))!;
      assert.equal(st.size, body.length);
      assert.ok(st.idleMs >= 0 && st.idleMs < 60_000);
      let seen = 0;
      assert.equal(await blobs.hashBlob(bucket, e.sha256, (n) => (seen += n)), e.sha256);
      assert.equal(seen, body.length);
    }
    // Idle time is the bytes' age.
    await age(blobs.blobLocation(bucket, shas[0]), 3_600_000);
    assert.ok((await blobs.statBlob(bucket, shas[0]))!.idleMs >= 3_600_000);

    // Names the store never writes are strays: listed in their place, never taken for blobs.
    const shard = path.dirname(blobs.blobLocation(bucket, shas[0]));
    const misplaced = path.join(shard, 'ff'.repeat(32));
    const unnamed = path.join(shard, 'notes.txt');
    const oddDir = path.join(root, 'blobs', bucket, 'zz');
    await writeFile(misplaced, 'x');
    await writeFile(unnamed, 'x');
    await mkdir(oddDir);
    const again = await collect(blobs.listBlobs(bucket));
    assert.deepEqual(
      again.filter((e) => 'stray' in e).map((e) => (e as { stray: string }).stray).sort(),
      [misplaced, unnamed, oddDir].sort(),
    );
    assert.deepEqual(again.filter((e) => 'sha256' in e).map((e) => (e as { sha256: string }).sha256), shas);

    const missing = 'ab'.repeat(32);
    assert.equal(await blobs.statBlob(bucket, missing), undefined);
    assert.equal(await blobs.hashBlob(bucket, missing), undefined);
    assert.deepEqual(await collect(blobs.listBlobs(other)), []);
  });

  it('lists the buckets of each area, and what is not a bucket', async () => {
    await blobs.keepPart(other, 'upload-x', 1, await stage(randomBytes(10)));
    await writeFile(path.join(root, 'blobs', 'README'), 'x');
    await mkdir(path.join(root, 'blobs', 'not-a-bucket'));
    const inBlobs = await blobs.listBuckets('blobs');
    assert.deepEqual(inBlobs.buckets.map((b) => b.id), [bucket]);
    assert.deepEqual(inBlobs.strays, [path.join(root, 'blobs', 'README'), path.join(root, 'blobs', 'not-a-bucket')]);
    const inParts = await blobs.listBuckets('parts');
    assert.deepEqual(inParts, { buckets: [{ id: other, location: path.join(root, 'parts', other) }], strays: [] });
    await blobs.removeBucket(other);
    assert.deepEqual((await blobs.listBuckets('parts')).buckets, []);
  });

  it('lists uploads with their part files by the refs their rows hold, an empty upload too', async () => {
    const one = await blobs.keepPart(bucket, 'upload-1', 1, await stage(randomBytes(300)));
    const two = await blobs.keepPart(bucket, 'upload-1', 2, await stage(randomBytes(200)));
    await mkdir(path.join(root, 'parts', bucket, 'upload-2'));
    await writeFile(path.join(root, 'parts', bucket, 'stray-file'), 'x');
    const entries = await collect(blobs.listUploads(bucket));
    const uploads = entries.filter((e): e is Extract<UploadEntry, { uploadId: string }> => 'uploadId' in e);
    assert.deepEqual(
      uploads.map((u) => ({ id: u.uploadId, refs: u.parts.map((p) => p.ref).sort() })),
      [
        { id: 'upload-1', refs: [one, two].sort() },
        { id: 'upload-2', refs: [] },
      ],
    );
    assert.deepEqual(entries.filter((e) => 'stray' in e), [{ stray: path.join(root, 'parts', bucket, 'stray-file') }]);
    for (const p of uploads[0].parts) {
      assert.equal(p.location, blobs.partLocation(p.ref));
      assert.equal((await blobs.statPart(p.ref))?.size, p.ref === one ? 300 : 200);
    }
    await blobs.removePart(one);
    assert.equal(await blobs.statPart(one), undefined);
    await blobs.removeUpload(bucket, 'upload-1');
    await blobs.removeUpload(bucket, 'upload-2');
  });

  it('lists temp files and removes one only once it has been idle for the grace', async () => {
    const staged = await stage(randomBytes(50));
    const [temp] = await collect(blobs.listTempFiles());
    assert.equal(temp.location, staged.tempPath);
    assert.ok(temp.idleMs < 60_000);
    assert.equal(await blobs.removeIdleTempFile(temp.name, 3_600_000), false, 'an upload in flight stays');
    await age(staged.tempPath, 2 * 3_600_000);
    assert.equal(await blobs.removeIdleTempFile(temp.name, 3_600_000), true);
    assert.equal(await blobs.removeIdleTempFile(temp.name, 0), false, 'already gone');
    assert.deepEqual(await collect(blobs.listTempFiles()), []);
    await assert.rejects(blobs.removeIdleTempFile('../blobs/README', 0), /not a temp file name/);
  });
});

describe('LocalDiskBlobStore with sealing (encryption at rest)', () => {
  const bucket = '3f1c2a9e-0000-4000-8000-00000000000a';
  const key = newBucketKey(bucket);
  const keys = { keyOf: async (id: string, generation: number) => (id === bucket && generation === key.generation ? key : undefined) };
  let sealing: LocalDiskBlobStore;
  before(async () => {
    sealing = new LocalDiskBlobStore(dir, keys);
    await sealing.init();
  });

  for (const size of [0, 1000, 3 * 65536 + 17]) {
    it(`seals ${size} bytes in the ingest pass and reads them back whole, by range and hashed`, async () => {
      const body = Buffer.from('AESB'.repeat(Math.ceil(size / 4)).slice(0, size), 'latin1');
      body.fill(7, Math.min(size, 100));
      const staged = await sealing.ingest(chunked(body), { expectedSize: size, maxSize: 1e9, seal: key });
      assert.equal(staged.sealed, true);
      assert.equal(staged.sha256, hex('sha256', body));
      assert.ok(staged.head!.equals(body.subarray(0, 4100)), 'the head is the plaintext as it passed');
      const onDisk = await readFile(staged.tempPath);
      assert.equal(onDisk.length, sealedSize(size));
      if (size >= 1000) assert.ok(!onDisk.includes(body.subarray(100, 132)), 'no plaintext in the temp file');
      assert.equal(await sealing.place(bucket, staged), true);
      const whole = Buffer.concat(await (await sealing.openRead(bucket, staged.sha256, undefined, { size })).toArray());
      assert.ok(whole.equals(body));
      if (size > 70_000) {
        const range = Buffer.concat(await (await sealing.openRead(bucket, staged.sha256, { start: 65530, end: 131080 }, { size })).toArray());
        assert.ok(range.equals(body.subarray(65530, 131081)));
      }
      assert.equal(await sealing.hashBlob(bucket, staged.sha256), staged.sha256);
    });
  }

  it('tells a plaintext blob that begins like a sealed header by its size, and seals part files', async () => {
    const lookalike = Buffer.concat([Buffer.from('AESB\x01\x10\0\0', 'latin1'), randomBytes(200)]);
    const plain = await sealing.ingest(Readable.from([lookalike]), { maxSize: 1e9 });
    await sealing.place(bucket, plain);
    const back = Buffer.concat(await (await sealing.openRead(bucket, plain.sha256, undefined, { size: lookalike.length })).toArray());
    assert.ok(back.equals(lookalike));
    assert.equal(await sealing.hashBlob(bucket, plain.sha256), plain.sha256);

    const partBody = randomBytes(100_000);
    const part = await sealing.ingest(Readable.from([partBody]), { maxSize: 1e9, seal: key });
    const ref = await sealing.keepPart(bucket, 'upload-1', 1, part);
    assert.equal((await readFile(path.join(dir, 'parts', ref))).length, sealedSize(partBody.length));
    const read = Buffer.concat(await (await sealing.openPart(ref, { sha256: part.sha256, size: partBody.length })).toArray());
    assert.ok(read.equals(partBody));
    await sealing.removeUpload(bucket, 'upload-1');
  });
});
