// `npm run bench:multipart`: a 256 MiB object written with the AWS SDK's
// Upload helper (@aws-sdk/lib-storage, DEFAULT settings: 5 MiB parts, 4 parts
// in flight, the SDK's default CRC32 checksums) to aerostore, against the
// baseline file server writing the same bytes.
//
// The baseline has no multipart upload. By default it gets the same 256 MiB
// as ONE streamed PUT: the end state is the same (one durable 256 MiB file)
// and it is the least work any server can do to get there, so the ratio is
// the whole cost of the multipart path (52 part requests and files, the
// Complete step that re-reads and re-writes the bytes into one blob, the
// checksums). `--baseline parallel` sends 4 parallel 64 MiB PUTs instead
// (four files, not one object): the same request concurrency as the SDK's
// 4 parts in flight, for a look at what parallelism alone buys the baseline.
//
// Same style as s3-throughput.ts: a fresh aerostore (embedded Postgres, free
// port) and the baseline in child processes, one warm-up upload each (not
// counted), then interleaved rounds (baseline, aerostore, aerostore,
// baseline, ...), one 256 MiB upload per round. Every body is stamped unique
// (aerostore deduplicates), every upload is checked (multipart ETag with 52
// parts, Content-Length), and after the rounds each server's last object is
// read back and compared by SHA-256. An upload that takes longer than 120 s
// fails the run; the run exits non-zero on any failure.
//
// Flags: --rounds N (default 5), --quick (2 rounds), --baseline single|parallel,
// --json FILE (raw per-round results).
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  BenchFailure,
  cpuOfTree,
  describeFailure,
  EMPTY_SHA256,
  FastSigner,
  fmt,
  loadSummary,
  machineSummary,
  median,
  memoryOf,
  onInterrupt,
  reportServerFailure,
  runBenchmark,
  send,
  startBaselineServer,
  table,
  type ChildServer,
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    baseline: { type: 'string', default: 'single' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:multipart -- [--quick] [--rounds N] [--baseline single|parallel] [--json FILE]');
  process.exit(0);
}
const ROUNDS = flags.rounds ? Number(flags.rounds) : flags.quick ? 2 : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');
if (flags.baseline !== 'single' && flags.baseline !== 'parallel') throw new Error('--baseline must be single or parallel');
const PARALLEL_BASELINE = flags.baseline === 'parallel';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** lib-storage's defaults, stated here only to check the answers against them. */
const SDK_PART_SIZE = 5 * MiB;
const SDK_QUEUE_SIZE = 4;
const PARTS = Math.ceil(SIZE / SDK_PART_SIZE);
const UPLOAD_TIMEOUT_MS = 120_000;
const BUCKET = 'bench-mp';

interface Round {
  elapsedMs: number;
  serverCpuMs: number;
  childCpuMs: number;
  clientCpuMs: number;
}

const body = randomFillSync(Buffer.allocUnsafe(SIZE));
const runNonce = randomBytes(8);
let sequence = 0n;
/** A unique first 16 bytes before every upload: no two bodies alike. */
function stamp(seq = sequence++): bigint {
  runNonce.copy(body, 0);
  body.writeBigUInt64BE(seq, 8);
  return seq;
}

function withTimeout<T>(what: string, p: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new BenchFailure(`${what}: not done after ${UPLOAD_TIMEOUT_MS / 1000} s`));
      }, UPLOAD_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function measure(pid: number, run: () => Promise<void>): Promise<Round> {
  const cpu0 = cpuOfTree(pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const elapsedMs = performance.now() - t0;
  const client = process.cpuUsage(client0);
  const cpu1 = cpuOfTree(pid);
  return {
    elapsedMs,
    serverCpuMs: cpu1.root - cpu0.root,
    childCpuMs: cpu1.descendants - cpu0.descendants,
    clientCpuMs: (client.user + client.system) / 1000,
  };
}

async function main(): Promise<void> {
  let aerostore: TestServer | undefined;
  let baseline: ChildServer | undefined;
  let stopping: Promise<unknown> | undefined;
  const cleanup = () => (stopping ??= Promise.allSettled([aerostore?.stop(), baseline?.stop()]));
  onInterrupt(cleanup);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let client: S3Client | undefined;

  try {
    const started = performance.now();
    console.log(`aerostore multipart benchmark — ${machineSummary()}`);
    console.log(
      `one ${SIZE / MiB} MiB object per round, ${ROUNDS} interleaved round(s) per server; aerostore: lib-storage Upload, defaults ` +
        `(${SDK_PART_SIZE / MiB} MiB parts → ${PARTS} parts, ${SDK_QUEUE_SIZE} in flight, CRC32); baseline: ` +
        `${PARALLEL_BASELINE ? '4 parallel 64 MiB PUTs' : 'one streamed 256 MiB PUT'}; ${loadSummary()} at start\n`,
    );
    aerostore = await startTestServer();
    baseline = await startBaselineServer();
    const aeroPid = aerostore.process.pid!;
    const basePid = baseline.process.pid!;
    client = new S3Client({
      endpoint: aerostore.url,
      region: 'us-east-1',
      credentials: { accessKeyId: aerostore.accessKeyId, secretAccessKey: aerostore.secretAccessKey },
      forcePathStyle: true,
    });
    const signer = new FastSigner({ accessKeyId: aerostore.accessKeyId, secretAccessKey: aerostore.secretAccessKey });
    const baseTarget: Target = { name: 'baseline', base: new URL(baseline.url), signer };
    const aeroTarget: Target = { name: 'aerostore', base: new URL(aerostore.url), signer };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    {
      const r = await send(aeroTarget, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
      if (r.status !== 200) throw new BenchFailure(`aerostore: ${describeFailure('PUT', `/${BUCKET}`, r)}`);
    }

    let aeroSeq = 0;
    let lastAero: { key: string; seq: bigint } | undefined;
    const uploadAerostore = async () => {
      const seq = stamp();
      const key = `mp/${aeroSeq++ % 2}`;
      const upload = new Upload({ client: client!, params: { Bucket: BUCKET, Key: key, Body: body } });
      const r = await withTimeout(`aerostore: Upload ${key}`, upload.done(), () => void upload.abort().catch(() => {}));
      if (!new RegExp(`^"[0-9a-f]{32}-${PARTS}"$`).test(r.ETag ?? '')) {
        throw new BenchFailure(`aerostore: Upload ${key} answered ETag ${r.ETag}, expected a multipart ETag of ${PARTS} parts`);
      }
      lastAero = { key, seq };
    };
    let baseSeq = 0;
    let lastBase: { key: string } | undefined;
    const uploadBaseline = async () => {
      stamp();
      const key = `mp/${baseSeq++ % 2}`;
      const pieces = PARALLEL_BASELINE ? [0, 1, 2, 3].map((i) => body.subarray((i * SIZE) / 4, ((i + 1) * SIZE) / 4)) : [body];
      await withTimeout(
        `baseline: PUT ${key}`,
        Promise.all(
          pieces.map(async (piece, i) => {
            const path = `/${BUCKET}/${key}${PARALLEL_BASELINE ? `.${i}` : ''}`;
            const r = await send(baseTarget, agent, 'PUT', path, { body: piece });
            if (r.status !== 200) throw new BenchFailure(`baseline: ${describeFailure('PUT', path, r)}`);
          }),
        ),
        () => agent.destroy(),
      );
      lastBase = { key };
    };

    // Warm-up, not counted.
    await uploadBaseline();
    await uploadAerostore();
    const rounds = { aerostore: [] as Round[], baseline: [] as Round[] };
    for (let i = 0; i < ROUNDS; i++) {
      const order: Array<'baseline' | 'aerostore'> = i % 2 === 0 ? ['baseline', 'aerostore'] : ['aerostore', 'baseline'];
      for (const name of order) {
        const r =
          name === 'aerostore' ? await measure(aeroPid, uploadAerostore) : await measure(basePid, uploadBaseline);
        rounds[name].push(r);
        console.log(`  round ${i + 1} ${name.padEnd(9)} ${fmt(SIZE / 1e6 / (r.elapsedMs / 1000), 1)} MB/s (${fmt(r.elapsedMs)} ms)`);
      }
    }

    // aerostore's last object: the body as it was stamped for that upload.
    {
      const key = lastAero!.key;
      stamp(lastAero!.seq);
      const expected = createHash('sha256').update(body).digest('hex');
      const h = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      if (h.ContentLength !== SIZE) throw new BenchFailure(`aerostore: HEAD ${key}: Content-Length ${h.ContentLength}, expected ${SIZE}`);
      const r = await send(aeroTarget, agent, 'GET', `/${BUCKET}/${key}`, { payloadHash: EMPTY_SHA256, keepBody: true });
      if (r.status !== 200 || r.bytes !== SIZE) throw new BenchFailure(`aerostore: ${describeFailure('GET', key, r)} (${r.bytes} bytes)`);
      if (createHash('sha256').update(r.body!).digest('hex') !== expected) {
        throw new BenchFailure(`aerostore: GET ${key}: the bytes differ from the ones uploaded`);
      }
      const path = `/${BUCKET}/${lastBase!.key}${PARALLEL_BASELINE ? '.1' : ''}`;
      const b = await send(baseTarget, agent, 'GET', path, { payloadHash: EMPTY_SHA256 });
      if (b.status !== 200 || b.bytes !== (PARALLEL_BASELINE ? SIZE / 4 : SIZE)) throw new BenchFailure(`baseline: GET ${path}: ${b.status}, ${b.bytes} bytes`);
      console.log(`\nverified: aerostore ${key} read back, ${SIZE} bytes, SHA-256 equal to the uploaded bytes; baseline object length`);
    }

    const mbps = (r: Round) => SIZE / 1e6 / (r.elapsedMs / 1000);
    const a = rounds.aerostore;
    const b = rounds.baseline;
    const perUpload = (rs: Round[], f: (r: Round) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    console.log('\nThroughput: median over rounds (MB = 10^6 bytes); time per 256 MiB upload, median.\n');
    console.log(
      table(
        ['case', 'aerostore MB/s', 's/upload', 'baseline MB/s', 's/upload', 'aerostore/baseline'],
        [
          [
            `256 MiB: lib-storage (${PARTS} × 5 MiB, 4 in flight) vs ${PARALLEL_BASELINE ? '4 × 64 MiB PUT in parallel' : 'one PUT'}`,
            fmt(median(a.map(mbps)), 1),
            fmt(median(a.map((r) => r.elapsedMs)) / 1000, 2),
            fmt(median(b.map(mbps)), 1),
            fmt(median(b.map((r) => r.elapsedMs)) / 1000, 2),
            fmt(median(a.map(mbps)) / median(b.map(mbps)), 2),
          ],
        ],
      ),
    );
    console.log('\nMB/s round by round, in the order they ran:\n');
    console.log(table(['server', 'rounds'], [['aerostore', a.map((r) => fmt(mbps(r), 1)).join(' ')], ['baseline', b.map((r) => fmt(mbps(r), 1)).join(' ')]]));
    console.log('\nCPU time per 256 MiB upload (ms, from /proc):\n');
    console.log(
      table(
        ['', 'server node', 'its postgres', 'client'],
        [
          ['aerostore', fmt(perUpload(a, (r) => r.serverCpuMs)), fmt(perUpload(a, (r) => r.childCpuMs)), fmt(perUpload(a, (r) => r.clientCpuMs))],
          ['baseline', fmt(perUpload(b, (r) => r.serverCpuMs)), fmt(perUpload(b, (r) => r.childCpuMs)), fmt(perUpload(b, (r) => r.clientCpuMs))],
        ],
      ),
    );
    console.log(
      `\nPeak RSS (VmHWM): aerostore ${fmt(memoryOf(aeroPid).peakMiB, 1)} MiB, baseline ${fmt(memoryOf(basePid).peakMiB, 1)} MiB, ` +
        `this client ${fmt(process.memoryUsage().rss / MiB)} MiB (holds the 256 MiB body).`,
    );
    console.log(`Total time ${fmt((performance.now() - started) / 1000, 0)} s; ${loadSummary()} at the end.`);
    agent.destroy();
    if (flags.json) {
      await writeFile(flags.json, JSON.stringify({ machine: machineSummary(), date: new Date().toISOString(), baseline: flags.baseline, rounds }, null, 2));
    }
  } catch (err) {
    reportServerFailure(aerostore);
    throw err;
  } finally {
    client?.destroy();
    await cleanup();
  }
}

runBenchmark(main);
