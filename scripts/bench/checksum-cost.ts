// What computing a checksum costs an upload, without the network, the
// database or other requests in the way: BlobStore.ingest (the path every
// PUT, UploadPart and Complete body takes: SHA-256, MD5 — on a worker
// thread from 4 MiB —, the requested checksums, the temp file, fdatasync)
// of 1 MiB and 64 MiB bodies, with no extra checksum and with each
// algorithm, in interleaved rounds. Reports the median wall time per ingest
// and the process's CPU time per ingest (user + system, all threads, from
// process.cpuUsage), and their ratio to the run without a checksum.
//
// Usage: npm run bench:checksum [-- --quick] [-- --algorithms CRC64NVME,CRC32C]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { LocalDiskBlobStore } from '../../src/blobs/store.ts';
import { terminateMd5Workers } from '../../src/blobs/md5-offload.ts';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../src/core/checksums.ts';

const { values: flags } = parseArgs({
  options: { quick: { type: 'boolean' }, algorithms: { type: 'string' }, rounds: { type: 'string' } },
});
const rounds = Number(flags.rounds ?? (flags.quick ? 3 : 7));
const algorithms = (flags.algorithms?.split(',') ?? CHECKSUM_ALGORITHMS) as ChecksumAlgorithm[];
const CASES = [
  { name: '1 MiB', size: 1024 * 1024, perRound: flags.quick ? 40 : 100 },
  { name: '64 MiB', size: 64 * 1024 * 1024, perRound: flags.quick ? 2 : 4 },
];
/** The chunk size bodies arrive in from a socket, roughly. */
const CHUNK = 64 * 1024;

const dir = await mkdtemp(path.join(tmpdir(), 'aerostore-checksum-cost-'));
const store = new LocalDiskBlobStore(dir);
await store.init();

async function ingestOnce(body: Buffer, checksums: ChecksumAlgorithm[]): Promise<void> {
  const chunks = [];
  for (let i = 0; i < body.length; i += CHUNK) chunks.push(body.subarray(i, i + CHUNK));
  const staged = await store.ingest(Readable.from(chunks), { expectedSize: body.length, maxSize: Infinity, checksums });
  await store.discard(staged);
}

interface Sample {
  wallMs: number[];
  cpuMs: number[];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${rounds} rounds`);
const configs: Array<{ label: string; checksums: ChecksumAlgorithm[] }> = [{ label: 'none', checksums: [] }, ...algorithms.map((a) => ({ label: a, checksums: [a] }))];
const rows: string[] = [];
for (const c of CASES) {
  const body = randomBytes(c.size);
  const samples = new Map<string, Sample>(configs.map((k) => [k.label, { wallMs: [], cpuMs: [] }]));
  for (const k of configs) await ingestOnce(body, k.checksums); // warm-up (JIT, WebAssembly tier-up, workers)
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so that drifts of the machine hit every configuration alike.
    for (const k of r % 2 === 0 ? configs : [...configs].reverse()) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      for (let i = 0; i < c.perRound; i++) await ingestOnce(body, k.checksums);
      const wall = performance.now() - t;
      const used = process.cpuUsage(cpu);
      const s = samples.get(k.label)!;
      s.wallMs.push(wall / c.perRound);
      s.cpuMs.push((used.user + used.system) / 1000 / c.perRound);
    }
  }
  const base = samples.get('none')!;
  const baseWall = median(base.wallMs);
  const baseCpu = median(base.cpuMs);
  for (const k of configs) {
    const s = samples.get(k.label)!;
    const wall = median(s.wallMs);
    const cpu = median(s.cpuMs);
    rows.push(
      `| ${c.name.padEnd(6)} | ${k.label.padEnd(9)} | ${wall.toFixed(2).padStart(8)} | ${(wall / baseWall).toFixed(2).padStart(5)} | ${cpu.toFixed(2).padStart(8)} | ${(cpu / baseCpu).toFixed(2).padStart(5)} | ${(k.label === 'none' || cpu <= baseCpu ? '–' : ((c.size / 1e6 / (cpu - baseCpu)) * 1000).toFixed(0)).padStart(9)} |`,
    );
  }
}
console.log('| body   | checksum  |  wall ms | ×none |   CPU ms | ×none | extra CPU, MB/s |');
console.log('|--------|-----------|---------:|------:|---------:|------:|----------:|');
for (const r of rows) console.log(r);
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await terminateMd5Workers();
await rm(dir, { recursive: true, force: true });
