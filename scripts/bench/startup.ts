// `npm run bench:startup`: how long the server takes from process start to
// ready, and how much memory it holds, run through tsx (the sources, as
// before issue 19) against the compiled dist/ (`npm start` now). One data
// directory, its embedded Postgres initialised by a first start that is not
// counted; then the two entries alternate, `--runs` starts each. A start is
// timed from spawn to the banner, which main.ts prints last, after the
// 'ready' log line. RSS (VmRSS of the Node process; Postgres runs in its own
// processes, the same for both) is read once ready, and again after a small
// workload: 200 PUTs and 200 GETs of 4 KiB, 8 at a time, and a listing.
//
// Flags: --runs N (default 7).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  BenchFailure,
  describeFailure,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  memoryOf,
  onInterrupt,
  ROOT,
  runBenchmark,
  send,
  table,
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '7' }, help: { type: 'boolean', short: 'h', default: false } } });
if (flags.help) {
  console.log('usage: npm run bench:startup -- [--runs N]   (build first: npm run build:server)');
  process.exit(0);
}
const RUNS = Number(flags.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs ≥ 1');
const ENTRIES = ['src', 'dist'] as const;
const LABEL = { src: 'tsx (node --import tsx src/main.ts)', dist: 'compiled (node dist/main.js)' };

interface Sample {
  readyMs: number;
  rssReadyMiB: number;
  rssAfterMiB: number;
  peakMiB: number;
}

async function workload(server: TestServer, run: number): Promise<void> {
  const target: Target = { name: 'aerostore', base: new URL(server.url), signer: new FastSigner(server) };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const bucket = `startup-${run}`;
  try {
    const made = await send(target, agent, 'PUT', `/${bucket}`);
    if (made.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${bucket}`, made));
    const body = randomBytes(4096);
    for (const method of ['PUT', 'GET'] as const) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 200) {
            const key = `/${bucket}/k${next++}`;
            const r = await send(target, agent, method, key, method === 'PUT' ? { body } : {});
            if (r.status !== 200 || (method === 'GET' && r.bytes !== body.length)) throw new BenchFailure(describeFailure(method, key, r));
          }
        }),
      );
    }
    const listed = await send(target, agent, 'GET', `/${bucket}`, { query: { 'list-type': '2' } });
    if (listed.status !== 200) throw new BenchFailure(describeFailure('GET', `/${bucket}?list-type=2`, listed));
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) throw new BenchFailure('dist/main.js is missing: npm run build:server first');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-startup-'));
  await chmod(dataDir, 0o755);
  let server: TestServer | undefined;
  onInterrupt(async () => {
    await server?.stop({ keepData: true });
    await rm(dataDir, { recursive: true, force: true });
  });
  console.log(`${machineSummary()}\n${loadSummary()} at the start`);
  try {
    // The first start initialises the cluster (initdb, migrations): not counted.
    server = await startTestServer({ dataDir, entry: 'dist' });
    await server.stop({ keepData: true });
    const samples: Record<(typeof ENTRIES)[number], Sample[]> = { src: [], dist: [] };
    for (let run = 0; run < RUNS; run++) {
      for (const entry of run % 2 ? [...ENTRIES].reverse() : ENTRIES) {
        const t0 = performance.now();
        server = await startTestServer({ dataDir, entry, env: { AEROSTORE_ACCESS_LOG_LEVEL: 'off' } });
        const readyMs = performance.now() - t0;
        const pid = server.process.pid!;
        const rssReadyMiB = memoryOf(pid).rssMiB;
        await workload(server, run * 2 + (entry === 'dist' ? 1 : 0));
        const { rssMiB: rssAfterMiB, peakMiB } = memoryOf(pid);
        samples[entry].push({ readyMs, rssReadyMiB, rssAfterMiB, peakMiB });
        await server.stop({ keepData: true });
        server = undefined;
      }
    }
    const med = (entry: (typeof ENTRIES)[number], f: (s: Sample) => number) => median(samples[entry].map(f));
    console.log(`\n${RUNS} starts each, alternating, medians (embedded Postgres already initialised):\n`);
    console.log(
      table(
        ['entry', 'start → ready (ms)', 'min–max (ms)', 'RSS ready (MiB)', 'RSS after workload (MiB)', 'peak RSS (MiB)'],
        ENTRIES.map((e) => [
          LABEL[e],
          fmtMs(med(e, (s) => s.readyMs)),
          `${fmtMs(Math.min(...samples[e].map((s) => s.readyMs)))}–${fmtMs(Math.max(...samples[e].map((s) => s.readyMs)))}`,
          fmt(med(e, (s) => s.rssReadyMiB), 1),
          fmt(med(e, (s) => s.rssAfterMiB), 1),
          fmt(med(e, (s) => s.peakMiB), 1),
        ]),
      ),
    );
    console.log(`\n${loadSummary()} at the end`);
  } finally {
    await server?.stop({ keepData: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

runBenchmark(main);
