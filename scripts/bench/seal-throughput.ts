// What the sealed blob format (src/blobs/sealed.ts, issue 20) costs, in
// process, against plain copies of the same bytes in the same run:
//
//   64 MiB, in memory   64 KiB pieces (as from a socket) through sealStream /
//                       openStream, against a PassThrough: the cipher's own
//                       cost (the SHA-256 sealStream binds is taken upstream,
//                       as the store's meter takes it, and not counted here).
//   64 MiB, PUT shape   SHA-256 + write to a temp file + fdatasync (what
//                       ingest does, less MD5, which runs on a worker),
//                       plain; and sealed, in the same one pass: SHA-256 (one
//                       hash, shared with sealStream) + seal + write + fdatasync.
//   64 MiB, GET shape   the file (page cache) streamed out, plain, and
//                       through openStream.
//   4 KiB × N           per blob: a new data key and its wrapping (seal) or
//                       unwrapping (open), stream set-up, seal / open (and a
//                       ranged open from a file), against a PassThrough copy.
//
// Rounds alternate their order so that drifts hit every variant alike; the
// figures are medians. CPU is the process's (user + system) per operation.
//
// Usage: npm run bench:seal [-- --rounds 5] [-- --small 2000]
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { newBucketKey } from '../../src/blobs/blob-keys.ts';
import { fileSource, openRange, openStream, sealStream } from '../../src/blobs/sealed.ts';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string' }, small: { type: 'string' } } });
const rounds = Number(flags.rounds ?? 5);
const smallCount = Number(flags.small ?? 2000);
const BIG = 64 * 1024 * 1024;
const SMALL = 4096;
const PIECE = 64 * 1024;
/** As the store reads blobs (READ_HIGH_WATER_MARK in src/blobs/store.ts). */
const READ_PIECE = 512 * 1024;

const dir = await mkdtemp(path.join(tmpdir(), 'aerostore-seal-bench-'));
const bucket = newBucketKey('bench-bucket');

function pieces(bytes: Buffer): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += PIECE) out.push(bytes.subarray(i, i + PIECE));
  return Readable.from(out, { objectMode: false });
}

function sink(): Writable {
  return new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
}

/** Hashes what passes, as ingest does. */
function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** Writes a stream to `file` and fdatasyncs it, as ingest does. */
async function writeDurably(file: string, ...stages: Array<Readable | Transform>): Promise<void> {
  const handle = await open(file, 'w');
  await pipeline(...(stages as [Readable]), createWriteStream('', { fd: handle, flush: true }));
}

/** A hash that has seen the bytes, never digested: sealStream reads a copy of it, as it would the store's meter's. */
const hashedUpstream = (bytes: Buffer) => ({ sha256: createHash('sha256').update(bytes), hashedUpstream: true });

const big = randomBytes(BIG);
const bigSha = createHash('sha256').update(big).digest();
const bigHash = hashedUpstream(big);
const sealedBig = Buffer.concat(await pieces(big).pipe(sealStream(bucket)).toArray());
const plainFile = path.join(dir, 'plain');
const sealedFile = path.join(dir, 'sealed');
await writeDurably(plainFile, pieces(big));
await writeDurably(sealedFile, pieces(sealedBig));

const smalls = Array.from({ length: smallCount }, () => randomBytes(SMALL));
const smallShas = smalls.map((b) => createHash('sha256').update(b).digest());
const smallHashes = smalls.map(hashedUpstream);
const sealedSmalls: Buffer[] = [];
for (let i = 0; i < smallCount; i++) sealedSmalls.push(Buffer.concat(await Readable.from([smalls[i]]).pipe(sealStream(bucket)).toArray()));
const smallSealedFile = path.join(dir, 'small-sealed');
await writeDurably(smallSealedFile, Readable.from([sealedSmalls[0]]));

interface Variant {
  group: string;
  name: string;
  /** Bytes of plaintext per operation, and operations per run. */
  bytes: number;
  ops: number;
  run(): Promise<void>;
}

const variants: Variant[] = [
  { group: '64 MiB in memory', name: 'copy (PassThrough)', bytes: BIG, ops: 1, run: () => pipeline(pieces(big), new PassThrough(), sink()) },
  { group: '64 MiB in memory', name: 'seal', bytes: BIG, ops: 1, run: () => pipeline(pieces(big), sealStream(bucket, bigHash), sink()) },
  { group: '64 MiB in memory', name: 'open', bytes: BIG, ops: 1, run: () => pipeline(pieces(sealedBig), openStream(bucket, bigSha), sink()) },
  {
    group: '64 MiB PUT shape',
    name: 'plain: SHA-256 + write + fdatasync',
    bytes: BIG,
    ops: 1,
    run: async () => {
      await writeDurably(path.join(dir, 'put'), pieces(big), hashing(createHash('sha256')));
      await unlink(path.join(dir, 'put'));
    },
  },
  {
    group: '64 MiB PUT shape',
    name: 'sealed, one pass: SHA-256 + seal + write + fdatasync',
    bytes: BIG,
    ops: 1,
    run: async () => {
      const hash = createHash('sha256');
      await writeDurably(path.join(dir, 'put'), pieces(big), hashing(hash), sealStream(bucket, { sha256: hash, hashedUpstream: true }));
      await unlink(path.join(dir, 'put'));
    },
  },
  { group: '64 MiB GET shape', name: 'plain: read file', bytes: BIG, ops: 1, run: () => pipeline(createReadStream(plainFile, { highWaterMark: READ_PIECE }), sink()) },
  {
    group: '64 MiB GET shape',
    name: 'sealed: read file + openStream',
    bytes: BIG,
    ops: 1,
    run: () => pipeline(createReadStream(sealedFile, { highWaterMark: READ_PIECE }), openStream(bucket, bigSha), sink()),
  },
  {
    group: '4 KiB × N in memory',
    name: 'copy (PassThrough)',
    bytes: SMALL,
    ops: smallCount,
    run: async () => {
      for (const b of smalls) await pipeline(Readable.from([b]), new PassThrough(), sink());
    },
  },
  {
    group: '4 KiB × N in memory',
    name: 'new data key + wrap + seal',
    bytes: SMALL,
    ops: smallCount,
    run: async () => {
      for (let i = 0; i < smallCount; i++) await pipeline(Readable.from([smalls[i]]), sealStream(bucket, smallHashes[i]), sink());
    },
  },
  {
    group: '4 KiB × N in memory',
    name: 'unwrap data key + open',
    bytes: SMALL,
    ops: smallCount,
    run: async () => {
      for (let i = 0; i < smallCount; i++) await pipeline(Readable.from([sealedSmalls[i]]), openStream(bucket, smallShas[i]), sink());
    },
  },
  {
    group: '4 KiB × N in memory',
    name: 'unwrap data key + openRange of a file (1 KiB)',
    bytes: 1024,
    ops: smallCount,
    run: async () => {
      const handle = await open(smallSealedFile, 'r');
      try {
        for (let i = 0; i < smallCount; i++) {
          const src = await fileSource(handle);
          for await (const piece of openRange(src, bucket, smallShas[0], { start: 1000, end: 2023 })) void piece;
        }
      } finally {
        await handle.close();
      }
    },
  },
];

const samples = new Map<Variant, { wall: number[]; cpu: number[] }>(variants.map((v) => [v, { wall: [], cpu: [] }]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const started = new Date();
const load0 = loadavg();
for (const v of variants) await v.run(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await v.run();
    const wall = performance.now() - t;
    const used = process.cpuUsage(cpu);
    samples.get(v)!.wall.push(wall / v.ops);
    samples.get(v)!.cpu.push((used.user + used.system) / 1000 / v.ops);
  }
}

console.log(`${started.toISOString()}; node ${process.version}; ${rounds} rounds, 4 KiB × ${smallCount}; load average ${load0.map((l) => l.toFixed(2)).join(' ')} → ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| case | variant | wall per op | MB/s | × first of its case (wall) | CPU per op |');
console.log('|---|---|---:|---:|---:|---:|');
let first: { wall: number } | undefined;
let group = '';
for (const v of variants) {
  const wall = median(samples.get(v)!.wall);
  const cpu = median(samples.get(v)!.cpu);
  if (v.group !== group) {
    group = v.group;
    first = { wall };
  }
  const fmt = (ms: number) => (ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`);
  console.log(`| ${v.group} | ${v.name} | ${fmt(wall)} | ${((v.bytes / 1e6 / wall) * 1000).toFixed(0)} | ${(first!.wall / wall).toFixed(2)} | ${fmt(cpu)} |`);
}
await rm(dir, { recursive: true, force: true });
