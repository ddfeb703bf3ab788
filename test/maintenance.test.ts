// The orphan sweeper, fsck and the health endpoints against a real server
// and its data directory: orphans and inconsistencies are made by hand (old
// mtimes through utimes), then swept, checked and repaired — and a sweeper
// running flat out beside uploads of the same content never takes a file an
// acknowledged object needs. The test process sweeps as a second server
// process would: same database, same data directory.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import postgres from 'postgres';
import { LocalDiskBlobStore } from '../src/blobs/store.ts';
import { BucketKeyRing } from '../src/blobs/bucket-key-ring.ts';
import { MasterKey } from '../src/principals/master-key.ts';
import { createServices, type Services } from '../src/core/services.ts';
import { connectPools, type Pools } from '../src/db/session.ts';
import { fsck, type FsckReport } from '../src/maintenance/fsck.ts';
import { startupCheck } from '../src/maintenance/startup-check.ts';
import { sweep } from '../src/maintenance/sweeper.ts';
import { runAerostore } from './support/aerostore-cli.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { xmlValue } from './support/s3-xml.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { S3RawClient } from './support/signer.ts';

const HOUR = 3_600_000;
const GRACE = 30 * 60_000;

let server: TestServer;
let s3: S3RawClient;
let db: postgres.Sql;
let pools: Pools;
let storage: Services;
/** The local disk store: the tests plant, age and break its files by hand (blobPath). */
let store: LocalDiskBlobStore;

before(async () => {
  // The server's own sweeper is off (interval 0): the test sweeps, as another process would.
  server = await startTestServer({ env: { AEROSTORE_SWEEP_INTERVAL_MINUTES: '0' } });
  s3 = new S3RawClient(server.url, server);
  const url = await embeddedDatabaseUrl(server.dataDir);
  db = postgres(url, { max: 2, onnotice: () => {} });
  pools = connectPools(url, { max: 8 });
  // With the server's bucket keys, so that it opens sealed blobs when AEROSTORE_ENCRYPTION=on is exported.
  store = new LocalDiskBlobStore(server.dataDir, new BucketKeyRing(pools.sql, await MasterKey.load(server.dataDir)));
  storage = createServices({
    sql: pools.sql,
    blobs: store,
    log: pino({ level: 'silent' }),
    region: 'us-east-1',
    maxObjectSize: 5 * 1024 ** 3,
    bucketCreators: 'authenticated',
    signedUrlMaxExpiry: 7 * 24 * 3600, scanning: false, blockUntilScanned: false,
  });
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await pools?.end({ timeout: 1 });
  await db?.end({ timeout: 1 });
  await server?.stop();
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function ok(res: Promise<{ status: number; body: Buffer }>, status = 200) {
  const r = await res;
  assert.equal(r.status, status, r.body.toString());
  return r;
}

async function makeBucket(name: string): Promise<string> {
  await ok(s3.send({ method: 'PUT', path: `/${name}` }));
  const [{ id }] = await db<{ id: string }[]>`select id from storage.buckets where name = ${name}`;
  return id;
}

const put = (bucket: string, key: string, body: Buffer | string) => ok(s3.send({ method: 'PUT', path: `/${bucket}/${key}`, body }));

async function assertObject(bucket: string, key: string, body: Buffer | string): Promise<void> {
  const res = await s3.send({ method: 'GET', path: `/${bucket}/${key}` });
  assert.equal(res.status, 200, `${bucket}/${key}: ${res.body.toString()}`);
  assert.ok(res.body.equals(Buffer.from(body)), `${bucket}/${key}: the stored bytes`);
}

/** Sets a file's mtime `ms` into the past: it has been idle that long. */
async function idle(file: string, ms: number): Promise<void> {
  const t = new Date(Date.now() - ms);
  await utimes(file, t, t);
}

async function writeAt(file: string, body: Buffer | string, idleFor = 0): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, body);
  if (idleFor) await idle(file, idleFor);
  return file;
}

const tempFile = () => path.join(server.dataDir, 'tmp', `${randomUUID()}.part`);

async function startUpload(bucket: string, key: string): Promise<string> {
  const init = await ok(s3.send({ method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' } }));
  return xmlValue(init.body.toString(), 'UploadId')!;
}

async function uploadPart(bucket: string, key: string, uploadId: string, n: number, body: string): Promise<string> {
  await ok(s3.send({ method: 'PUT', path: `/${bucket}/${key}`, query: { partNumber: String(n), uploadId }, body }));
  const [{ path: ref }] = await db<{ path: string }[]>`
    select path from storage.multipart_parts where upload_id = ${uploadId} and part_number = ${n}`;
  return path.join(server.dataDir, 'parts', ref);
}

describe('the orphan sweeper', () => {
  it('removes exactly the orphans older than the grace, and nothing referenced', async () => {
    const bucket = 'sweep';
    const id = await makeBucket(bucket);
    // Referenced content whose files look ancient: age is no reason to remove what a row names.
    await put(bucket, 'a', 'alpha');
    await put(bucket, 'b', 'beta');
    await put(bucket, 'a-again', 'alpha');
    for (const c of ['alpha', 'beta']) await idle(store.blobPath(id, sha(c)), 2 * HOUR);

    const oldTemp = await writeAt(tempFile(), 'half an upload', 2 * HOUR);
    const youngTemp = await writeAt(tempFile(), 'an upload in flight');
    const oldOrphan = await writeAt(store.blobPath(id, sha('orphan')), 'orphan', 2 * HOUR);
    const youngOrphan = await writeAt(store.blobPath(id, sha('young orphan')), 'young orphan');
    // A zero-reference row: collected whatever its age (under its row lock).
    await db`insert into storage.blobs (bucket_id, sha256, size, ref_count) values (${id}, ${sha('unreferenced')}, 12, 0)`;
    const unreferenced = await writeAt(store.blobPath(id, sha('unreferenced')), 'unreferenced');

    // A live upload: its part stays (however old); a stray file beside it goes when old.
    const live = await startUpload(bucket, 'big');
    const livePart = await uploadPart(bucket, 'big', live, 1, 'part one');
    await idle(livePart, 2 * HOUR);
    const stalePart = await writeAt(path.join(path.dirname(livePart), `2-${randomUUID()}`), 'stale', 2 * HOUR);
    const youngPart = await writeAt(path.join(path.dirname(livePart), `3-${randomUUID()}`), 'young');
    // The directory of an upload that no longer exists.
    const finishedPart = await writeAt(path.join(server.dataDir, 'parts', id, 'finished-upload-id', `1-${randomUUID()}`), 'done', 2 * HOUR);
    // An upload past its expiry: row and part files go.
    const expired = await startUpload(bucket, 'abandoned');
    const expiredPart = await uploadPart(bucket, 'abandoned', expired, 1, 'forgotten');
    await db`update storage.multipart_uploads set initiated_at = now() - interval '30 days' where id = ${expired}`;
    // Files of a bucket that no longer exists.
    const goneBucket = randomUUID();
    await writeAt(store.blobPath(goneBucket, sha('gone')), 'gone', 2 * HOUR);

    const report = await sweep(storage, { graceMs: GRACE, expiryDays: 7 });
    assert.deepEqual(
      { ...report, durationMs: 0 },
      {
        tempFiles: 1,
        orphanBlobFiles: 1,
        zeroReferenceBlobs: 1,
        expiredUploads: 1,
        orphanPartFiles: 2,
        deletedBucketDirs: 1,
        // The young temp file is no candidate (filtered before), the young orphan and young part are.
        skipped: 2,
        durationMs: 0,
      },
    );
    for (const gone of [oldTemp, oldOrphan, unreferenced, stalePart, finishedPart, expiredPart]) assert.ok(!existsSync(gone), `${gone} removed`);
    assert.ok(!existsSync(path.join(server.dataDir, 'blobs', goneBucket)));
    for (const kept of [youngTemp, youngOrphan, youngPart, livePart]) assert.ok(existsSync(kept), `${kept} kept`);
    assert.equal((await db`select 1 from storage.blobs where bucket_id = ${id} and sha256 = ${sha('unreferenced')}`).length, 0);
    assert.equal((await db`select 1 from storage.multipart_uploads where id = ${expired}`).length, 0);

    await assertObject(bucket, 'a', 'alpha');
    await assertObject(bucket, 'a-again', 'alpha');
    await assertObject(bucket, 'b', 'beta');
    // The live upload still completes with its part.
    const done = await s3.send({
      method: 'POST',
      path: `/${bucket}/big`,
      query: { uploadId: live },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"${createHash('md5').update('part one').digest('hex')}"</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(done.status, 200, done.body.toString());
    await assertObject(bucket, 'big', 'part one');

    // With the grace passed, the young ones go too.
    for (const f of [youngTemp, youngOrphan]) await idle(f, GRACE + 60_000);
    const later = await sweep(storage, { graceMs: GRACE });
    assert.equal(later.tempFiles, 1);
    assert.equal(later.orphanBlobFiles, 1);
    assert.ok(!existsSync(youngTemp) && !existsSync(youngOrphan));
  });

  it('never removes content a concurrent upload has claimed, even with no grace at all', async (t) => {
    // Uploads and deletes of a few contents over and over, so that the first
    // placement of a content (link before commit, file without a visible
    // row) happens again and again, while sweeps with grace 0 run back to
    // back. Without the placeholder-row lock in removeOrphanBlob the sweeper
    // removes a just-linked file whose row commits a moment later.
    const bucket = 'race';
    await makeBucket(bucket);
    const contents = Array.from({ length: 3 }, (_, i) => Buffer.from(`content ${i} `.repeat(200)));
    const WORKERS = 8;
    const ROUNDS = 40;
    /** key → the bodies it may hold now (one after an acknowledged write; more after a failed one). */
    const expected = new Map<string, Set<Buffer | null>>();
    let puts = 0;
    let acknowledged = 0;
    let failed = 0;
    const failures = new Map<string, number>();
    const logFrom = server.log().length;
    let sweeping = true;
    let sweeps = 0;
    const sweeper = (async () => {
      while (sweeping) {
        await sweep(storage, { graceMs: 0 });
        sweeps++;
      }
    })();
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        for (let r = 0; r < ROUNDS; r++) {
          const key = `w${w}/k${r % 3}`;
          const before = expected.get(key) ?? new Set([null]);
          if (r % 4 === 3) {
            const res = await s3.send({ method: 'DELETE', path: `/${bucket}/${key}` });
            expected.set(key, res.status === 204 ? new Set([null]) : new Set([...before, null]));
            continue;
          }
          const body = contents[(w + r) % contents.length];
          const res = await s3.send({ method: 'PUT', path: `/${bucket}/${key}`, body });
          puts++;
          if (res.status === 200) {
            acknowledged++;
            expected.set(key, new Set([body]));
          } else {
            // A sweep took the upload's temp file (grace 0): the upload fails, nothing changes.
            failed++;
            const code = `${res.status} ${xmlValue(res.body.toString(), 'Code')}`;
            failures.set(code, (failures.get(code) ?? 0) + 1);
            expected.set(key, new Set([...before, body]));
          }
        }
      }),
    );
    sweeping = false;
    await sweeper;
    t.diagnostic(`${acknowledged} of ${puts} uploads acknowledged, ${sweeps} sweeps alongside; failed: ${JSON.stringify(Object.fromEntries(failures))}`);
    assert.ok(sweeps >= 5, `sweeps ran alongside (${sweeps})`);
    // How many uploads lose their temp file to a grace-0 sweep depends on the
    // machine's timing (7% to 50% seen); the race needs enough successes to
    // be exercised, and the check below is what must hold for all of them.
    // Every failure is that, and nothing else: the staged file gone at link().
    const loggedErrors = () =>
      server
        .log()
        .slice(logFrom)
        .split('\n')
        .filter((l) => l.startsWith('{') && JSON.parse(l).level >= 50)
        .map((l) => JSON.parse(l).err as { code: string; syscall: string; path: string });
    // The log reaches us through a pipe, possibly a moment after the response.
    for (let i = 0; i < 50 && loggedErrors().length < failed; i++) await new Promise((r) => setTimeout(r, 20));
    const errors = loggedErrors();
    assert.equal(errors.length, failed, 'one logged error per failed upload');
    for (const e of errors) assert.deepEqual([e.code, e.syscall, path.dirname(e.path)], ['ENOENT', 'link', path.join(server.dataDir, 'tmp')]);
    assert.ok(acknowledged >= puts / 6, `enough uploads succeed to exercise the race (${acknowledged} of ${puts})`);
    for (const [key, allowed] of expected) {
      const res = await s3.send({ method: 'GET', path: `/${bucket}/${key}` });
      if (allowed.size === 1 && [...allowed][0] !== null) {
        assert.equal(res.status, 200, `${key}: acknowledged, so readable (${res.body.toString()})`);
        assert.ok(res.body.equals([...allowed][0] as Buffer), `${key}: the acknowledged bytes`);
      } else if (res.status === 200) {
        assert.ok([...allowed].some((b) => b !== null && b.equals(res.body)), `${key}: bytes of one of its writes`);
      } else {
        assert.equal(res.status, 404, `${key}: ${res.body.toString()}`);
        assert.ok(allowed.has(null));
      }
    }
    const check = await fsck(pools.sql, store, { bucket, graceMs: 0 });
    assert.deepEqual(check.remaining, {}, JSON.stringify(check.problems));
  });
});

/** The problem counts of a report, in one comparable object. */
const counts = (r: FsckReport) => ({ found: r.found, repaired: r.repaired, remaining: r.remaining });

describe('fsck', () => {
  const bucket = 'checked';
  let id: string;
  const made: Record<string, string> = {};

  before(async () => {
    id = await makeBucket(bucket);
    await put(bucket, 'fine', 'fine content');
    // Two objects, a count of five.
    await put(bucket, 'twice-1', 'shared');
    await put(bucket, 'twice-2', 'shared');
    await db`update storage.blobs set ref_count = 5 where bucket_id = ${id} and sha256 = ${sha('shared')}`;
    // An object whose file is gone: listed, never deleted.
    await put(bucket, 'lost', 'lost content');
    await unlink(store.blobPath(id, sha('lost content')));
    // An object whose blob row is gone while its file is intact: the row can be rebuilt.
    await put(bucket, 'rowless', 'rowless content');
    await db`delete from storage.blobs where bucket_id = ${id} and sha256 = ${sha('rowless content')}`;
    // An object whose file was overwritten with other bytes of the same size: only --deep sees it.
    await put(bucket, 'corrupt', 'corrupt content');
    await writeFile(store.blobPath(id, sha('corrupt content')), 'CORRUPT CONTENT');
    // Unreferenced row and its file; orphan blob file; idle temp file; stale part file; a deleted bucket's files.
    await db`insert into storage.blobs (bucket_id, sha256, size, ref_count) values (${id}, ${sha('zero')}, 4, 0)`;
    made.zero = await writeAt(store.blobPath(id, sha('zero')), 'zero');
    made.orphan = await writeAt(store.blobPath(id, sha('orphan blob')), 'orphan blob', HOUR);
    made.temp = await writeAt(tempFile(), 'crashed upload', HOUR);
    const upload = await startUpload(bucket, 'multi');
    const part = await uploadPart(bucket, 'multi', upload, 1, 'a part');
    made.part = await writeAt(path.join(path.dirname(part), `7-${randomUUID()}`), 'stale part', HOUR);
    made.deletedBucket = path.join(server.dataDir, 'blobs', randomUUID());
    await writeAt(path.join(made.deletedBucket, 'ab', 'cd', 'abcd' + '0'.repeat(60)), 'x', HOUR);
    // Young orphans: in flight, not problems.
    made.youngTemp = await writeAt(tempFile(), 'in flight');
  });

  it('reports each kind of problem, and changes nothing without --repair', async () => {
    const progress: string[] = [];
    const r = await fsck(pools.sql, store, { onProgress: (p) => progress.push(p.phase) });
    const expected = {
      'object-without-blob-row': 1,
      'ref-count-mismatch': 1,
      'zero-reference-blob': 1,
      'blob-file-missing': 1,
      'orphan-blob-file': 1,
      'orphan-part-file': 1,
      'orphan-temp-file': 1,
      'deleted-bucket-files': 1,
    };
    assert.deepEqual(counts(r), { found: expected, repaired: {}, remaining: expected });
    assert.equal(r.clean, false);
    assert.ok(r.inFlight >= 1, 'the young temp file is in flight');
    assert.deepEqual([...new Set(progress)], ['objects', 'blobs', 'parts', 'temp']);
    const missing = r.problems.find((p) => p.kind === 'blob-file-missing')!;
    assert.equal(missing.bucket, bucket);
    assert.equal(missing.sha256, sha('lost content'));
    assert.match(missing.detail!, /"lost"/);
    assert.equal(r.problems.find((p) => p.kind === 'ref-count-mismatch')!.detail, 'recorded 5, 2 object(s) name it');
    for (const f of [made.zero, made.orphan, made.temp, made.part, made.deletedBucket, made.youngTemp]) assert.ok(existsSync(f), `${f} untouched`);

    // --deep also hashes: the overwritten file.
    const deep = await fsck(pools.sql, store, { bucket, deep: true });
    assert.equal(deep.remaining['blob-file-wrong-hash'], 1);
    assert.equal(deep.problems.find((p) => p.kind === 'blob-file-wrong-hash')!.sha256, sha('corrupt content'));
    assert.ok(deep.checked.bytesHashed > 0);
    // --bucket leaves out the store-wide checks.
    assert.equal(deep.remaining['orphan-temp-file'], undefined);
    // The start-up check's sample (everything, in a store this small) sees the lost file too.
    const quick = await startupCheck(storage, GRACE, { fullCheckBlobs: 0 });
    assert.equal(quick.mode, 'sample');
    assert.equal(quick.problems['blob-file-missing'], 1);
    assert.equal(quick.problems['ref-count-mismatch'], 1);
  });

  it('repairs what it can without guessing, and lists the row whose file is missing', async () => {
    const r = await fsck(pools.sql, store, { repair: true });
    assert.deepEqual(counts(r), {
      found: {
        'object-without-blob-row': 1,
        'ref-count-mismatch': 1,
        'zero-reference-blob': 1,
        'blob-file-missing': 1,
        'orphan-blob-file': 1,
        'orphan-part-file': 1,
        'orphan-temp-file': 1,
        'deleted-bucket-files': 1,
      },
      repaired: {
        'object-without-blob-row': 1,
        'ref-count-mismatch': 1,
        'zero-reference-blob': 1,
        'orphan-blob-file': 1,
        'orphan-part-file': 1,
        'orphan-temp-file': 1,
        'deleted-bucket-files': 1,
      },
      remaining: { 'blob-file-missing': 1 },
    });
    assert.ok(r.problems.some((p) => p.kind === 'blob-file-missing' && !p.repaired && /"lost"/.test(p.detail!)));
    for (const f of [made.zero, made.orphan, made.temp, made.part, made.deletedBucket]) assert.ok(!existsSync(f), `${f} removed`);
    assert.ok(existsSync(made.youngTemp), 'in flight: left alone');
    const [shared] = await db<{ ref_count: number }[]>`select ref_count from storage.blobs where bucket_id = ${id} and sha256 = ${sha('shared')}`;
    assert.equal(shared.ref_count, 2);
    const [rowless] = await db<{ ref_count: number; size: number }[]>`
      select ref_count, size::int as size from storage.blobs where bucket_id = ${id} and sha256 = ${sha('rowless content')}`;
    assert.deepEqual({ ...rowless }, { ref_count: 1, size: 'rowless content'.length });
    // The lost object's row is still there (its GET fails; it is for the operator to restore or delete).
    assert.equal((await db`select 1 from storage.objects where bucket_uuid = ${id} and key = 'lost'`).length, 1);
    await assertObject(bucket, 'rowless', 'rowless content');
    await assertObject(bucket, 'twice-1', 'shared');

    // After the repair only the listed row remains.
    const again = await fsck(pools.sql, store, {});
    assert.deepEqual(counts(again), { found: { 'blob-file-missing': 1 }, repaired: {}, remaining: { 'blob-file-missing': 1 } });
    // The recount holds up: dropping both references collects the shared blob.
    await ok(s3.send({ method: 'DELETE', path: `/${bucket}/twice-1` }), 204);
    await ok(s3.send({ method: 'DELETE', path: `/${bucket}/twice-2` }), 204);
    for (let i = 0; i < 50 && existsSync(store.blobPath(id, sha('shared'))); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(store.blobPath(id, sha('shared'))));
  });

  it('lists a part row whose file is missing', async () => {
    const upload = await startUpload(bucket, 'broken-multi');
    const part = await uploadPart(bucket, 'broken-multi', upload, 1, 'vanishing part');
    await unlink(part);
    const r = await fsck(pools.sql, store, { bucket, repair: true });
    assert.equal(r.remaining['part-file-missing'], 1);
    assert.match(r.problems.find((p) => p.kind === 'part-file-missing')!.detail!, new RegExp(upload));
    await ok(s3.send({ method: 'DELETE', path: `/${bucket}/broken-multi`, query: { uploadId: upload } }), 204);
  });

  it('runs as `aerostore fsck`: a summary, exit 1 while problems remain, 0 when clean, 2 for a wrong invocation', async () => {
    let run = await cli([]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /blob-file-missing\s+1 found, 1 remaining/);
    assert.match(run.stdout, new RegExp(`bucket ${bucket}, key "lost", sha256 ${sha('lost content')}`));
    assert.match(run.stdout, /result: 1 problem\(s\) remain \(run with --repair/);
    // Not a terminal: plain progress lines, no bar.
    assert.doesNotMatch(run.stderr, /\r/);

    run = await cli(['--json', '--bucket', bucket, '--deep']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as FsckReport;
    assert.deepEqual(report.remaining, { 'blob-file-missing': 1, 'blob-file-wrong-hash': 1 });

    // The operator deletes the lost and the corrupt objects: clean.
    await ok(s3.send({ method: 'DELETE', path: `/${bucket}/lost` }), 204);
    await ok(s3.send({ method: 'DELETE', path: `/${bucket}/corrupt` }), 204);
    run = await cli(['--deep']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /result: clean/);

    assert.equal((await cli(['--bucket', 'no-such-bucket'])).code, 1);
    const wrong = await cli(['--frobnicate']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /usage:/);
  });
});

/** Runs `aerostore fsck <args>` on the server's data directory (through its running Postgres). */
const cli = (args: readonly string[]) => runAerostore(server.dataDir, ['fsck', ...args]);

describe('a server sweeping on its own, and its health', () => {
  let own: TestServer;
  before(async () => {
    // A sweep every 0.3 s, files idle for 0.06 s are orphans.
    own = await startTestServer({ env: { AEROSTORE_SWEEP_GRACE_MINUTES: '0.001', AEROSTORE_SWEEP_INTERVAL_MINUTES: '0.005' } });
  });
  after(async () => {
    await own?.stop();
  });

  const eventually = async (what: string, test: () => boolean | Promise<boolean>, withinMs = 5_000) => {
    const deadline = Date.now() + withinMs;
    while (!(await test())) {
      if (Date.now() > deadline) assert.fail(`not within ${withinMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('checks the store at start-up and sweeps one process at a time', async () => {
    await eventually('the start-up check is logged', () => /start-up check: blob store and database agree/.test(own.log()));
    const ownDb = postgres(await embeddedDatabaseUrl(own.dataDir), { max: 1, onnotice: () => {} });
    const holder = await ownDb.reserve();
    try {
      // Another process holds the sweep lock: this server skips its rounds.
      await holder`select pg_advisory_lock(${0x5e9_0003})`;
      await new Promise((r) => setTimeout(r, 500)); // a sweep in progress ends
      const orphan = await writeAt(path.join(own.dataDir, 'tmp', `${randomUUID()}.part`), 'left by a crash', HOUR);
      await new Promise((r) => setTimeout(r, 1_200));
      assert.ok(existsSync(orphan), 'no sweep while another process holds the lock');
      await holder`select pg_advisory_unlock(${0x5e9_0003})`;
      await eventually('the orphan is swept', () => !existsSync(orphan));
      await eventually('the sweep is logged', () => /orphan sweep removed garbage/.test(own.log()));
    } finally {
      holder.release();
      await ownDb.end({ timeout: 1 });
    }
  });

  it('/health/ready reports the data directory, and is 503 when it cannot be written', async () => {
    const ready = async () => {
      const res = await fetch(`${own.url}/health/ready`);
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    assert.deepEqual(await ready(), { status: 200, body: { status: 'ok', database: 'ok', data_dir: 'ok', scanner: 'off' } });
    // Nothing left behind by the probe.
    assert.deepEqual((await readdir(path.join(own.dataDir, 'tmp'))).filter((n) => n.endsWith('.probe')), []);
    // The temp directory replaced by a file (root ignores permission bits, so chmod would not do).
    const tmp = path.join(own.dataDir, 'tmp');
    await rename(tmp, tmp + '.away');
    await writeFile(tmp, 'not a directory');
    try {
      assert.deepEqual(await ready(), { status: 503, body: { status: 'unavailable', database: 'ok', data_dir: 'not writable', scanner: 'off' } });
    } finally {
      await rm(tmp);
      await rename(tmp + '.away', tmp);
    }
    assert.equal((await ready()).status, 200);
    assert.deepEqual(await (await fetch(`${own.url}/health/live`)).json(), { status: 'ok' });
  });
});
