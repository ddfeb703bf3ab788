// `npm run bench:scan`: what virus scanning costs uploads. Two fresh
// aerostores (embedded Postgres, free ports): one without a scanner, one
// with AEROSTORE_CLAMD pointing at a real clamd (test/support/clamd.ts,
// started here). Both take the same S3 PUTs — 4 KiB from 16 clients, 1 MiB
// from 8 — in interleaved rounds (off, on, on, off, ...). Scans happen after
// the 200, so they cost a PUT only the CPU and disk they take from it while
// it runs: the "on" rounds include the scanning done meanwhile, and before
// every round the "on" server's scan queue is left to drain, so no round
// pays for an earlier one's backlog. Every body is unique (aerostore
// deduplicates; clamd caches clean verdicts by content).
//
// Flags: --quick (2 rounds instead of 4), --rounds N, --case 4k|1m (repeatable).
import { randomBytes, randomFillSync } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startTestClamd, type TestClamd } from '../../test/support/clamd.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  BenchFailure,
  describeFailure,
  EMPTY_SHA256,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  onInterrupt,
  percentile,
  reportServerFailure,
  runBenchmark,
  send,
  sha256Hex,
  table,
  UNSIGNED,
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    case: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:scan -- [--quick] [--rounds N] [--case 4k|1m ...]');
  process.exit(0);
}

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'bench';
/** Waiting for the scan queue to drain before a round gives up after this long. */
const DRAIN_TIMEOUT_MS = 180_000;

interface Case {
  id: string;
  label: string;
  size: number;
  concurrency: number;
  maxOps: number;
  seconds: number;
  keySpace: number;
  signedPayload: boolean;
}

const CASES: Case[] = [
  { id: '4k', label: '4 KiB', size: 4 * KiB, concurrency: 16, maxOps: 20_000, seconds: 2, keySpace: 50_000, signedPayload: true },
  { id: '1m', label: '1 MiB', size: MiB, concurrency: 8, maxOps: 4000, seconds: 2, keySpace: 384, signedPayload: false },
];
const ROUNDS = flags.rounds ? Number(flags.rounds) : flags.quick ? 2 : 4;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');
const selected = flags.case?.length ? CASES.filter((c) => flags.case!.includes(c.id)) : CASES;
if (selected.length === 0) throw new Error(`--case must be one of ${CASES.map((c) => c.id).join(', ')}`);

type Mode = 'off' | 'on';

interface Round {
  ops: number;
  elapsedMs: number;
  latencies: number[];
}

const runNonce = randomBytes(8);
let sequence = 0n;
/** A unique body every time: the first 16 bytes are this run's nonce and a counter. */
function stamp(body: Buffer): void {
  runNonce.copy(body, 0);
  body.writeBigUInt64BE(sequence++, 8);
}

async function putRound(target: Target, c: Case, maxOps: number, seconds: number, cursor: { next: number }): Promise<Round> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: c.concurrency });
  const bodies = Array.from({ length: c.concurrency }, () => randomFillSync(Buffer.allocUnsafe(c.size)));
  const latencies: number[] = [];
  let issued = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const client = async (w: number) => {
    while (issued < maxOps && performance.now() < deadline) {
      issued++;
      const path = `/${BUCKET}/${c.id}/${cursor.next++ % c.keySpace}`;
      stamp(bodies[w]);
      const t = performance.now();
      const r = await send(target, agent, 'PUT', path, { body: bodies[w], payloadHash: c.signedPayload ? sha256Hex(bodies[w]) : UNSIGNED });
      latencies.push(performance.now() - t);
      if (r.status !== 200) throw new BenchFailure(`${target.name}: ${describeFailure('PUT', path, r)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: c.concurrency }, (_, w) => client(w)));
  } finally {
    agent.destroy();
  }
  return { ops: latencies.length, elapsedMs: performance.now() - t0, latencies };
}

/** Jobs in the scan queue, from the admin API. */
async function queuedScans(target: Target, agent: http.Agent): Promise<number> {
  const r = await send(target, agent, 'GET', '/admin/v1/scan/status', { payloadHash: EMPTY_SHA256, keepBody: true });
  if (r.status !== 200) throw new BenchFailure(`${target.name}: ${describeFailure('GET', '/admin/v1/scan/status', r)}`);
  return (JSON.parse(r.body!.toString()) as { queue: { jobs: number } }).queue.jobs;
}

/** Waits for the queue to empty; returns how long that took. */
async function drain(target: Target, agent: http.Agent): Promise<number> {
  const t0 = performance.now();
  while ((await queuedScans(target, agent)) > 0) {
    if (performance.now() - t0 > DRAIN_TIMEOUT_MS) throw new BenchFailure(`the scan queue did not drain in ${DRAIN_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return performance.now() - t0;
}

function summary(rounds: Round[]) {
  const lat = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return { opsPerSec: median(rounds.map((r) => r.ops / (r.elapsedMs / 1000))), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

async function main(): Promise<void> {
  let clamd: TestClamd | undefined;
  const servers: Partial<Record<Mode, TestServer>> = {};
  let stopping: Promise<unknown> | undefined;
  const cleanup = () => (stopping ??= Promise.allSettled([servers.off?.stop(), servers.on?.stop()]).then(() => clamd?.stop()));
  onInterrupt(cleanup);
  try {
    console.log(`aerostore scan-overhead benchmark — ${machineSummary()}`);
    console.log(`${ROUNDS} interleaved round(s) per mode per case; ${loadSummary()} at start\n`);
    clamd = await startTestClamd();
    [servers.off, servers.on] = await Promise.all([startTestServer(), startTestServer({ env: { AEROSTORE_CLAMD: clamd.tcp } })]);
    const agent = new http.Agent({ keepAlive: true });
    const targets = {} as Record<Mode, Target>;
    for (const mode of ['off', 'on'] as const) {
      const s = servers[mode]!;
      targets[mode] = { name: `scanning ${mode}`, base: new URL(s.url), signer: new FastSigner(s) };
      const r = await send(targets[mode], agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
      if (r.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}`, r));
    }

    const rows: string[][] = [];
    const drains: string[] = [];
    for (const c of selected) {
      const cursors = { off: { next: 0 }, on: { next: 0 } };
      const rounds: Record<Mode, Round[]> = { off: [], on: [] };
      for (const mode of ['off', 'on'] as const) await putRound(targets[mode], c, Math.ceil(c.maxOps / 4), c.seconds / 4, cursors[mode]); // warm-up
      const drainMs: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        for (const mode of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          drainMs.push(await drain(targets.on, agent));
          rounds[mode].push(await putRound(targets[mode], c, c.maxOps, c.seconds, cursors[mode]));
        }
      }
      drains.push(`${c.label}: ${drainMs.map((ms) => fmt(ms / 1000, 1)).join(' ')} s`);
      const off = summary(rounds.off);
      const on = summary(rounds.on);
      rows.push([
        `PUT ${c.label}, ${c.concurrency} clients`,
        fmt(off.opsPerSec),
        fmtMs(off.p50),
        fmtMs(off.p99),
        fmt(on.opsPerSec),
        fmtMs(on.p50),
        fmtMs(on.p99),
        fmt(on.opsPerSec / off.opsPerSec, 2),
        rounds.off.map((r) => fmt(r.ops / (r.elapsedMs / 1000))).join(' ') + ' | ' + rounds.on.map((r) => fmt(r.ops / (r.elapsedMs / 1000))).join(' '),
      ]);
    }
    agent.destroy();
    console.log('Throughput: median over rounds (ops/s); latency percentiles over all requests (ms).\n');
    console.log(table(['case', 'off ops/s', 'p50', 'p99', 'on ops/s', 'p50', 'p99', 'on/off', 'rounds (off | on)'], rows));
    console.log(`\nWaits for the scan queue to drain before each round (the backlog the previous round left): ${drains.join('; ')}`);
    console.log(`clamd scanned ${(await clamd.scans()).length} streams in all; ${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(servers.on);
    throw err;
  } finally {
    await cleanup();
  }
}

runBenchmark(main);
