import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DomainError } from '../core/errors.ts';
import { LocalDiskBlobStore } from './store.ts';
import { OFFLOAD_THRESHOLD, terminateMd5Workers } from './md5-offload.ts';

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
