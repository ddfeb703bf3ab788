// `npm run bench:dedup-timing`: can a client tell from how fast its PUT is
// acknowledged that the bytes were already in the bucket (docs/security.md
// "Scanning and deduplication")? One fresh aerostore (embedded Postgres,
// with a real clamd, as a deployment that scans would run) takes PUTs from
// one client, one at a time, strictly alternating: a body the bucket
// already holds (a dedup hit), then a body it has never seen (fresh
// content), same size, same key pattern. The baseline of each pair is the
// other: the same run, the same moment. Reported: the median and the
// spread of each, and the median of the per-pair differences (hit − fresh)
// with a bootstrap interval. A difference whose interval holds 0 is not
// measurable from the client.
//
// Flags: --pairs N (default 400), --size BYTES (default 65536).
import { randomBytes } from 'node:crypto';
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
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    pairs: { type: 'string', default: '400' },
    size: { type: 'string', default: String(64 * 1024) },
    'no-scanner': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:dedup-timing -- [--pairs N] [--size BYTES] [--no-scanner]');
  process.exit(0);
}
const PAIRS = Number(flags.pairs);
const SIZE = Number(flags.size);
if (!Number.isInteger(PAIRS) || PAIRS < 10 || !Number.isInteger(SIZE) || SIZE < 1) throw new Error('--pairs ≥ 10 and --size ≥ 1');
const BUCKET = 'timing';
/** Waiting for the scan queue to drain before measuring gives up after this long. */
const DRAIN_TIMEOUT_MS = 120_000;

async function main(): Promise<void> {
  let clamd: TestClamd | undefined;
  let server: TestServer | undefined;
  let stopping: Promise<unknown> | undefined;
  const cleanup = () => (stopping ??= Promise.allSettled([server?.stop()]).then(() => clamd?.stop()));
  onInterrupt(cleanup);
  try {
    console.log(`aerostore dedup-timing benchmark — ${machineSummary()}`);
    console.log(`${PAIRS} alternating pairs of ${SIZE}-byte PUTs; ${loadSummary()} at start\n`);
    if (!flags['no-scanner']) clamd = await startTestClamd();
    server = await startTestServer({ env: clamd ? { AEROSTORE_CLAMD: clamd.tcp } : {} });
    const target: Target = { name: 'aerostore', base: new URL(server.url), signer: new FastSigner(server) };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const put = async (path: string, body: Buffer): Promise<number> => {
      const t = performance.now();
      const r = await send(target, agent, 'PUT', path, { body, payloadHash: sha256Hex(body) });
      const ms = performance.now() - t;
      if (r.status !== 200) throw new BenchFailure(describeFailure('PUT', path, r));
      return ms;
    };
    const created = await send(target, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
    if (created.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}`, created));
    // Another user's files, one per guess: every guess is a first guess at
    // its content (a repeated one would also meet the scan queue settling
    // its previous copy, on the same blob row).
    const known = Array.from({ length: PAIRS + 20 }, () => randomBytes(SIZE));
    for (const [i, body] of known.entries()) await put(`/${BUCKET}/owner/${i}`, body);
    // Warm-up, both kinds; then the scanner catches up, so no pair pays for the set-up.
    for (let i = 0; i < 20; i++) {
      await put(`/${BUCKET}/warm/hit-${i}`, known[PAIRS + i]);
      await put(`/${BUCKET}/warm/fresh-${i}`, randomBytes(SIZE));
    }
    if (clamd) await drain(target, agent);

    const hits: number[] = [];
    const fresh: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      // Alternate which goes first, so neither always follows the other.
      const hit = () => put(`/${BUCKET}/guess/hit-${i}`, known[i]);
      const miss = () => put(`/${BUCKET}/guess/fresh-${i}`, randomBytes(SIZE));
      if (i % 2 === 0) {
        hits.push(await hit());
        fresh.push(await miss());
      } else {
        fresh.push(await miss());
        hits.push(await hit());
      }
    }
    agent.destroy();

    const diffs = hits.map((h, i) => h - fresh[i]);
    const boot = bootstrapMedian(diffs, 2000);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    console.log(
      table(
        ['PUT', 'p10', 'p50', 'p90', 'p99'],
        [
          ['dedup hit', ...[0.1, 0.5, 0.9, 0.99].map((q) => fmtMs(percentile(sorted(hits), q)))],
          ['fresh content', ...[0.1, 0.5, 0.9, 0.99].map((q) => fmtMs(percentile(sorted(fresh), q)))],
        ],
      ),
    );
    const verdict = boot.low <= 0 && boot.high >= 0 ? 'not measurable (the interval holds 0)' : boot.high < 0 ? 'hits are FASTER' : 'hits are slower';
    console.log(
      `\nmedian of per-pair differences (hit − fresh): ${fmtMs(median(diffs))} ms, 95% bootstrap interval [${fmtMs(boot.low)}, ${fmtMs(boot.high)}] ms: ${verdict}`,
    );
    console.log(`fresh/hit median ratio: ${(median(fresh) / median(hits)).toFixed(3)}; ${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await cleanup();
  }
}

/** Waits until the scan queue is empty (admin API). */
async function drain(target: Target, agent: http.Agent): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const r = await send(target, agent, 'GET', '/admin/v1/scan/status', { payloadHash: EMPTY_SHA256, keepBody: true });
    if (r.status !== 200) throw new BenchFailure(describeFailure('GET', '/admin/v1/scan/status', r));
    if ((JSON.parse(r.body!.toString()) as { queue: { jobs: number } }).queue.jobs === 0) return;
    if (performance.now() - t0 > DRAIN_TIMEOUT_MS) throw new BenchFailure('the scan queue did not drain');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A 95% interval for the median of `xs`, by resampling. */
function bootstrapMedian(xs: number[], rounds: number): { low: number; high: number } {
  const medians: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const sample = Array.from({ length: xs.length }, () => xs[Math.floor(Math.random() * xs.length)]);
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  return { low: percentile(medians, 0.025), high: percentile(medians, 0.975) };
}

runBenchmark(main);
