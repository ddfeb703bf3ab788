// `npm run bench`: PUT and GET throughput of the S3 core against a baseline.
//
// Starts a real aerostore (embedded Postgres, fresh data directory, free
// port) and the minimal file server in baseline-server.ts, then drives both
// with the same client — node:http, keep-alive, one socket per concurrent
// client, SigV4-signed — in interleaved rounds (baseline, aerostore,
// aerostore, baseline, ...), each round bounded by a request count and a time
// limit. Every PUT body is unique (aerostore deduplicates identical content),
// keys are overwritten within a bounded key space so the disk use stays
// bounded, and every GET reads an object written in the PUT phase and is
// checked for its full length. Everything stays on 127.0.0.1.
//
// Flags: --quick (2 rounds instead of 5), --rounds N, --case 4k|1m|64m
// (repeatable), --op put (PUT phases only), --json FILE (write the raw results), --aa (a second baseline
// stands in for aerostore: shows the noise between two identical servers),
// --cpu-prof DIR (a V8 CPU profile of the aerostore process per measured phase),
// --versioned (aerostore's bucket has versioning Enabled).
import { randomBytes, randomFillSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  checkSignerAgainstSmithy,
  cpuProfileEnv,
  cpuOfTree,
  describeFailure,
  EMPTY_SHA256,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  memoryOf,
  onInterrupt,
  wasInterrupted,
  percentile,
  rssSampler,
  send,
  sha256Hex,
  startBaselineServer,
  startPhaseProfile,
  table,
  UNSIGNED,
  type ChildServer,
  type Target,
  BenchFailure,
  reportServerFailure,
  runBenchmark,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    case: { type: 'string', multiple: true },
    op: { type: 'string' },
    json: { type: 'string' },
    aa: { type: 'boolean', default: false },
    versioned: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(
    [
      'usage: npm run bench -- [--quick] [--rounds N] [--case 4k|1m|64m ...] [--op put] [--json FILE] [--aa] [--versioned] [--cpu-prof DIR]',
      '  --versioned  aerostore\'s bucket has versioning Enabled (every overwrite keeps a past version)',
      '  --aa  A/A run: a second baseline server stands in for aerostore, to show how much',
      '        two identical servers differ on this machine (the noise floor of the ratios)',
    ].join('\n'),
  );
  process.exit(0);
}

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'bench';

interface Case {
  id: string;
  label: string;
  size: number;
  concurrency: number;
  /** Per round: stop issuing requests after this many, or after `seconds`, whichever comes first. */
  maxOps: number;
  seconds: number;
  /** Keys are reused modulo this, so the disk use stays bounded. */
  keySpace: number;
  /** Small bodies carry their SHA-256 (as aws-cli and the SDKs send them); big ones UNSIGNED-PAYLOAD. */
  signedPayload: boolean;
}

const CASES: Case[] = [
  { id: '4k', label: '4 KiB', size: 4 * KiB, concurrency: 16, maxOps: 20_000, seconds: 2, keySpace: 50_000, signedPayload: true },
  { id: '1m', label: '1 MiB', size: MiB, concurrency: 8, maxOps: 4000, seconds: 2, keySpace: 384, signedPayload: false },
  { id: '64m', label: '64 MiB', size: 64 * MiB, concurrency: 2, maxOps: 64, seconds: 3, keySpace: 8, signedPayload: false },
];

/** What the left-hand columns measure. */
const SUBJECT = flags.aa ? 'twin' : 'aerostore';

const ROUNDS = flags.rounds ? Number(flags.rounds) : flags.quick ? 2 : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');
const selected = flags.case?.length ? CASES.filter((c) => flags.case!.includes(c.id)) : CASES;
if (selected.length === 0) throw new Error(`--case must be one of ${CASES.map((c) => c.id).join(', ')}`);

type Op = 'PUT' | 'GET';
// GET phases read what the PUT phases wrote, so only the PUTs can run alone.
if (flags.op !== undefined && flags.op !== 'put') throw new Error('--op accepts only put');
const OPS: Op[] = flags.op === 'put' ? ['PUT'] : ['PUT', 'GET'];

interface Server {
  name: 'aerostore' | 'baseline';
  target: Target;
  pid: number;
  /** Per case: the key slots that hold an object (written by a successful PUT). */
  written: Map<string, Set<number>>;
  /** Per case: the next key slot to PUT. */
  cursor: Map<string, number>;
}

interface Round {
  ops: number;
  bytes: number;
  elapsedMs: number;
  latencies: number[];
  /** CPU ms of the server process, of its child processes (Postgres), of this client. */
  serverCpuMs: number;
  childCpuMs: number;
  clientCpuMs: number;
}


/** Stamps a unique sequence number into the first 16 bytes so no two bodies are alike. */
const runNonce = randomBytes(8);
let sequence = 0n;
function stamp(body: Buffer): void {
  runNonce.copy(body, 0);
  body.writeBigUInt64BE(sequence++, 8);
}

/** One random body per concurrent client, reused across rounds (stamped anew before every PUT). */
const bodyCache = new Map<string, Buffer[]>();
function bodiesFor(c: Case): Buffer[] {
  let bodies = bodyCache.get(c.id);
  if (!bodies) {
    bodyCache.clear(); // at most one case's buffers at a time (2 × 64 MiB)
    bodies = Array.from({ length: c.concurrency }, () => randomFillSync(Buffer.allocUnsafe(c.size)));
    bodyCache.set(c.id, bodies);
  }
  return bodies;
}

async function runRound(server: Server, c: Case, op: Op, maxOps: number, seconds: number): Promise<Round> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: c.concurrency });
  const written = server.written.get(c.id) ?? new Set<number>();
  server.written.set(c.id, written);
  const readable = [...written];
  if (op === 'GET' && readable.length === 0) throw new BenchFailure(`${server.name}: no objects to GET for ${c.label}`);
  const bodies = op === 'PUT' ? bodiesFor(c) : [];
  const latencies: number[] = [];
  let issued = 0;
  let bytes = 0;
  let failure: Error | undefined;
  // PUTs walk the key space round-robin, continuing where the last round stopped.
  const putBase = server.cursor.get(c.id) ?? 0;

  const cpu0 = cpuOfTree(server.pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;

  const worker = async (w: number) => {
    while (!failure && issued < maxOps && performance.now() < deadline) {
      const n = issued++;
      if (op === 'PUT') {
        const slot = (putBase + n) % c.keySpace;
        const path = `/${BUCKET}/${c.id}/${slot}`;
        const body = bodies[w];
        stamp(body);
        const payloadHash = c.signedPayload ? sha256Hex(body) : UNSIGNED;
        const t = performance.now();
        const r = await send(server.target, agent, 'PUT', path, { body, payloadHash });
        latencies.push(performance.now() - t);
        if (r.status !== 200) throw new BenchFailure(`${server.name}: ${describeFailure('PUT', path, r)}`);
        written.add(slot);
        bytes += c.size;
      } else {
        const path = `/${BUCKET}/${c.id}/${readable[n % readable.length]}`;
        const t = performance.now();
        const r = await send(server.target, agent, 'GET', path, { payloadHash: EMPTY_SHA256 });
        latencies.push(performance.now() - t);
        if (r.status !== 200) throw new BenchFailure(`${server.name}: ${describeFailure('GET', path, r)}`);
        if (r.bytes !== c.size || Number(r.headers['content-length']) !== c.size) {
          throw new BenchFailure(`${server.name}: GET ${path} returned ${r.bytes} bytes (content-length ${r.headers['content-length']}), expected ${c.size}`);
        }
        bytes += r.bytes;
      }
    }
  };
  await Promise.allSettled(
    Array.from({ length: c.concurrency }, (_, w) =>
      worker(w).catch((err) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
        throw err;
      }),
    ),
  );
  const elapsedMs = performance.now() - t0;
  if (op === 'PUT') server.cursor.set(c.id, (putBase + issued) % c.keySpace);
  const client = process.cpuUsage(client0);
  const cpu1 = cpuOfTree(server.pid);
  agent.destroy();
  if (failure) throw failure instanceof BenchFailure ? failure : new BenchFailure(`${server.name}: ${op} ${c.label}: ${failure.message}`);
  return {
    ops: latencies.length,
    bytes,
    elapsedMs,
    latencies,
    serverCpuMs: cpu1.root - cpu0.root,
    childCpuMs: cpu1.descendants - cpu0.descendants,
    clientCpuMs: (client.user + client.system) / 1000,
  };
}

interface Summary {
  rounds: number;
  ops: number;
  mbPerSec: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  serverCpuPerOp: number;
  childCpuPerOp: number;
  clientCpuPerOp: number;
}

function summarise(rounds: Round[]): Summary {
  const lat = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ops = rounds.reduce((s, r) => s + r.ops, 0);
  const sum = (f: (r: Round) => number) => rounds.reduce((s, r) => s + f(r), 0);
  return {
    rounds: rounds.length,
    ops,
    mbPerSec: median(rounds.map((r) => r.bytes / 1e6 / (r.elapsedMs / 1000))),
    opsPerSec: median(rounds.map((r) => r.ops / (r.elapsedMs / 1000))),
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
    serverCpuPerOp: sum((r) => r.serverCpuMs) / ops,
    childCpuPerOp: sum((r) => r.childCpuMs) / ops,
    clientCpuPerOp: sum((r) => r.clientCpuMs) / ops,
  };
}

async function main(): Promise<void> {
  let aerostore: Pick<TestServer, 'url' | 'accessKeyId' | 'secretAccessKey' | 'process' | 'stop'> | undefined;
  let baseline: ChildServer | undefined;
  // Once only: a second SIGTERM makes aerostore exit without stopping its Postgres.
  let stopping: Promise<unknown> | undefined;
  const cleanup = () => (stopping ??= Promise.allSettled([aerostore?.stop(), baseline?.stop()]));
  onInterrupt(cleanup);

  try {
    const started = performance.now();
    console.log(`aerostore S3 throughput benchmark — ${machineSummary()}`);
    console.log(`${ROUNDS} interleaved round(s) per server per case; cases: ${selected.map((c) => c.label).join(', ')}; ${loadSummary()} at start\n`);

    if (flags.aa) {
      console.log("A/A mode: the 'twin' columns are a second, identical baseline server standing in for aerostore.\n");
      const twin = await startBaselineServer();
      aerostore = { ...twin, accessKeyId: 'AKIDBENCHAA', secretAccessKey: 'bench-aa-secret' };
    } else {
      aerostore = await startTestServer(flags['cpu-prof'] ? { env: cpuProfileEnv(flags['cpu-prof']) } : {});
    }
    baseline = await startBaselineServer();
    const creds = { accessKeyId: aerostore.accessKeyId, secretAccessKey: aerostore.secretAccessKey };
    await checkSignerAgainstSmithy(creds);
    const signer = new FastSigner(creds);
    const servers: Record<'aerostore' | 'baseline', Server> = {
      aerostore: { name: 'aerostore', target: { name: 'aerostore', base: new URL(aerostore.url), signer }, pid: aerostore.process.pid!, written: new Map(), cursor: new Map() },
      baseline: { name: 'baseline', target: { name: 'baseline', base: new URL(baseline.url), signer }, pid: baseline.process.pid!, written: new Map(), cursor: new Map() },
    };
    const rss = rssSampler(servers.aerostore.pid);

    {
      const agent = new http.Agent({ keepAlive: false });
      const r = await send(servers.aerostore.target, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
      if (r.status !== 200) throw new BenchFailure(`aerostore: ${describeFailure('PUT', `/${BUCKET}`, r)}`);
      if (flags.versioned) {
        // Every overwrite of the bounded key space then keeps a past version (issue 18: within 10 % of unversioned).
        const config = Buffer.from('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
        const v = await send(servers.aerostore.target, agent, 'PUT', `/${BUCKET}`, { query: { versioning: '' }, body: config, payloadHash: sha256Hex(config) });
        if (v.status !== 200) throw new BenchFailure(`aerostore: ${describeFailure('PUT', `/${BUCKET}?versioning`, v)}`);
      }
    }

    const results: Array<{ c: Case; op: Op; aerostore: Round[]; baseline: Round[]; rssAfterMiB: number }> = [];
    for (const c of selected) {
      for (const op of OPS) {
        const rounds = { aerostore: [] as Round[], baseline: [] as Round[] };
        // Warm-up (not counted): JIT, connection pools, page cache.
        for (const s of [servers.baseline, servers.aerostore]) {
          await runRound(s, c, op, Math.ceil(c.maxOps / 4), c.seconds / 4);
        }
        const profile = flags['cpu-prof'] ? await startPhaseProfile(servers.aerostore.pid, flags['cpu-prof']) : undefined;
        for (let i = 0; i < ROUNDS; i++) {
          const order = i % 2 === 0 ? [servers.baseline, servers.aerostore] : [servers.aerostore, servers.baseline];
          for (const s of order) rounds[s.name].push(await runRound(s, c, op, c.maxOps, c.seconds));
        }
        if (profile) console.log(`  CPU profile of the aerostore rounds: ${await profile.stop(`${op}-${c.id}`)}`);
        const a = summarise(rounds.aerostore);
        const b = summarise(rounds.baseline);
        console.log(
          `${op} ${c.label.padEnd(6)} ×${String(c.concurrency).padStart(2)}: ${SUBJECT} ${fmt(a.mbPerSec, 1)} MB/s ${fmt(a.opsPerSec)} ops/s p99 ${fmtMs(a.p99)} ms` +
            ` | baseline ${fmt(b.mbPerSec, 1)} MB/s ${fmt(b.opsPerSec)} ops/s p99 ${fmtMs(b.p99)} ms | ratio ${fmt(a.mbPerSec / b.mbPerSec, 2)}`,
        );
        results.push({ c, op, ...rounds, rssAfterMiB: memoryOf(servers.aerostore.pid).peakMiB });
      }
    }

    const sampledPeak = rss.stop();
    const aeroMem = memoryOf(servers.aerostore.pid);
    const baseMem = memoryOf(servers.baseline.pid);

    const rows = results.map(({ c, op, aerostore: ar, baseline: br }) => {
      const a = summarise(ar);
      const b = summarise(br);
      return [
        `${op} ${c.label}, ${c.concurrency} clients`,
        fmt(a.mbPerSec, 1),
        fmt(a.opsPerSec),
        fmtMs(a.p50),
        fmtMs(a.p99),
        fmt(b.mbPerSec, 1),
        fmt(b.opsPerSec),
        fmtMs(b.p50),
        fmtMs(b.p99),
        fmt(a.mbPerSec / b.mbPerSec, 2),
      ];
    });
    console.log('\nThroughput: medians over rounds; latency percentiles over all requests of all rounds (ms); MB = 10^6 bytes.\n');
    console.log(
      table(
        ['case', `${SUBJECT} MB/s`, 'ops/s', 'p50', 'p99', 'baseline MB/s', 'ops/s', 'p50', 'p99', `${SUBJECT}/baseline`],
        rows,
      ),
    );

    console.log('\nRequests per second, round by round, in the order they ran (the spread is the noise):\n');
    const perRound = (rs: Round[]) => rs.map((r) => fmt(r.ops / (r.elapsedMs / 1000))).join(' ');
    console.log(
      table(
        ['case', `${SUBJECT} rounds`, 'baseline rounds'],
        results.map(({ c, op, aerostore: ar, baseline: br }) => [`${op} ${c.label}`, perRound(ar), perRound(br)]),
      ),
    );

    const cpuRows = results.map(({ c, op, aerostore: ar, baseline: br }) => {
      const a = summarise(ar);
      const b = summarise(br);
      return [
        `${op} ${c.label}`,
        String(a.ops),
        fmtMs(a.serverCpuPerOp),
        fmtMs(a.childCpuPerOp),
        String(b.ops),
        fmtMs(b.serverCpuPerOp),
        fmtMs(a.clientCpuPerOp),
        fmtMs(b.clientCpuPerOp),
      ];
    });
    console.log('\nCPU time per request (ms; from /proc, 10 ms tick granularity summed over all measured rounds):\n');
    console.log(
      table(
        ['case', `${SUBJECT} reqs`, `${SUBJECT} node`, 'its postgres', 'baseline reqs', 'baseline node', `client (${SUBJECT})`, 'client (baseline)'],
        cpuRows,
      ),
    );
    console.log(
      `\nPeak RSS of the ${SUBJECT} Node process (VmHWM): ${fmt(aeroMem.peakMiB, 1)} MiB (sampled VmRSS max ${fmt(sampledPeak, 1)} MiB; ` +
        `after each phase: ${results.map((r) => `${r.op} ${r.c.label} ${fmt(r.rssAfterMiB)}`).join(', ')} MiB). ` +
        `Baseline server peak: ${fmt(baseMem.peakMiB, 1)} MiB. The embedded Postgres processes are not included.`,
    );
    console.log(`Total time ${fmt((performance.now() - started) / 1000, 0)} s; ${loadSummary()} at the end.`);

    if (flags.json) {
      await writeFile(
        flags.json,
        JSON.stringify(
          {
            machine: machineSummary(),
            rounds: ROUNDS,
            date: new Date().toISOString(),
            peakRssMiB: { aerostore: aeroMem.peakMiB, baseline: baseMem.peakMiB },
            results: results.map(({ c, op, aerostore: ar, baseline: br }) => ({
              case: c,
              op,
              aerostore: { summary: summarise(ar), rounds: ar.map(({ latencies, ...r }) => r) },
              baseline: { summary: summarise(br), rounds: br.map(({ latencies, ...r }) => r) },
            })),
          },
          null,
          2,
        ),
      );
    }
  } catch (err) {
    reportServerFailure(aerostore as Partial<TestServer> & Pick<TestServer, 'process'> | undefined);
    throw err;
  } finally {
    await cleanup();
  }
}

runBenchmark(main);
