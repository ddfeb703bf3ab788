// `npm run bench:metrics`: what a Prometheus scrape costs on a big store.
//
// Fills a fresh aerostore's database, as the superuser and without
// triggers, with N objects (default 1,000,000) on N/2 blobs (every content
// twice: deduplication), vacuums and analyses, then times, 5 times each:
//   (a) the exact count of objects, blobs and bytes (metrics/scrape.ts
//       countContent), which the metrics use up to EXACT_TOTALS_LIMIT rows;
//   (b) the estimate they use beyond (estimateContent), and how far off it is;
//   (c) the whole reading of the totals, uncached;
// and then GET /metrics with the totals cache cold (the first scrape),
// and 20 scrapes with it warm (within its 15 s). First, in this process,
// what counting costs a request: the request metrics' calls
// (metrics/registry.ts requestStarted + requestAnswered) and a statement's
// (the histogram and gauge updates of db/connect.ts timeQueries), per call.
// Flags: --objects N.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { connectPools } from '../../src/db/session.ts';
import { asPrincipal, SERVICE } from '../../src/db/session.ts';
import { database, requestAnswered, requestStarted } from '../../src/metrics/registry.ts';
import { countContent, estimateContent, StoredTotalsCache } from '../../src/metrics/scrape.ts';
import { embeddedDatabaseUrl } from '../../test/support/database.ts';
import { startTestServer } from '../../test/support/server.ts';
import { S3RawClient } from '../../test/support/signer.ts';
import { fmtMs, machineSummary, median } from './lib.ts';

const { values: flags } = parseArgs({ options: { objects: { type: 'string', default: '1000000' } } });
const N = Number(flags.objects);
const BUCKET = 'scrape-bench';

/** ns per call of `fn`, the median of 5 runs of `n` calls. */
function perCall(n: number, fn: (i: number) => void): number {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    runs.push(((performance.now() - t) * 1e6) / n);
  }
  return median(runs);
}
const OPS = ['PutObject', 'GetObject', 'HeadObject', 'ListObjectsV2', 'DeleteObject'];
const requestNs = perCall(200_000, (i) => {
  requestStarted();
  const error = i % 10 === 0;
  requestAnswered({ api: 's3', operation: OPS[i % OPS.length], status: error ? 404 : 200, code: error ? 'NoSuchKey' : undefined, bytesIn: 4500, bytesOut: 300, seconds: 0.004, aborted: false });
});
const statementNs = perCall(200_000, () => {
  const t = performance.now();
  database.inFlight.inc();
  database.inFlight.dec();
  database.queries.observe((performance.now() - t) / 1000);
});
console.log(`counting, per request: ${requestNs.toFixed(0)} ns; per statement: ${statementNs.toFixed(0)} ns`);

const srv = await startTestServer();
try {
  console.log(`metrics scrape benchmark — ${machineSummary()}; ${N.toLocaleString('en')} objects on ${(N / 2).toLocaleString('en')} blobs`);
  const root = new S3RawClient(srv.url, srv);
  if ((await root.send({ method: 'PUT', path: `/${BUCKET}` })).status !== 200) throw new Error('could not create the bucket');
  const url = await embeddedDatabaseUrl(srv.dataDir);
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  const filled = performance.now();
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    const [{ id }] = await tx<{ id: string }[]>`select id from storage.buckets where name = ${BUCKET}`;
    await tx`
      insert into storage.blobs (bucket_id, sha256, size, ref_count)
      select ${id}::uuid, encode(sha256(i::text::bytea), 'hex'), 4096 + i % 1000, 2 from generate_series(1, ${N / 2}) i`;
    await tx`
      insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256)
      select ${id}::uuid, ${BUCKET}, 'k/' || lpad(i::text, 8, '0'), 4096 + (i / 2 + 1) % 1000, '"x"', encode(sha256((i / 2 + 1)::text::bytea), 'hex')
      from generate_series(0, ${N - 1}) i`;
  });
  await sql`vacuum analyze storage.objects, storage.blobs`;
  await sql.end();
  console.log(`filled in ${((performance.now() - filled) / 1000).toFixed(1)} s`);

  // (a)–(c) On the server's own roles, uncached.
  const pools = connectPools(url, { max: 2 });
  const timed = async <T>(fn: () => Promise<T>): Promise<{ ms: number[]; last: T }> => {
    const ms: number[] = [];
    let last!: T;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      last = await fn();
      ms.push(performance.now() - t);
    }
    return { ms, last };
  };
  const rows = { objects: N, blobs: N / 2 };
  const counted = await timed(() => asPrincipal(pools.sql, SERVICE, (tx) => countContent(tx)));
  const estimated = await timed(() => asPrincipal(pools.sql, SERVICE, (tx) => estimateContent(tx, rows)));
  const cache = new StoredTotalsCache(pools.sql, pino({ level: 'silent' }), 0);
  const reading = await timed(() => cache.get());
  await pools.end();
  const off = (k: 'blobs' | 'bytes' | 'logicalBytes') => `${k} ${(((estimated.last[k] - counted.last[k]) / counted.last[k]) * 100).toFixed(2)} %`;
  console.log(`counted:   ${JSON.stringify(counted.last)}`);
  console.log(`estimated: ${JSON.stringify(estimated.last)} (off by ${off('blobs')}, ${off('bytes')}, ${off('logicalBytes')})`);
  console.log(`exact count, uncached: median ${fmtMs(median(counted.ms))} ms (runs: ${counted.ms.map(fmtMs).join(', ')})`);
  console.log(`estimate, uncached: median ${fmtMs(median(estimated.ms))} ms (runs: ${estimated.ms.map(fmtMs).join(', ')})`);
  console.log(`the whole reading (estimated: ${reading.last?.estimated}), uncached: median ${fmtMs(median(reading.ms))} ms`);

  // (b) Scrapes over HTTP: the first reads Postgres, the next ones the cache.
  const scrapeOnce = async () => {
    const t = performance.now();
    const res = await fetch(`${srv.url}/metrics`);
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    await res.text();
    return performance.now() - t;
  };
  const cold = await scrapeOnce();
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) warm.push(await scrapeOnce());

  console.log(`GET /metrics, totals cache cold: ${fmtMs(cold)} ms; warm: median ${fmtMs(median(warm))} ms, max ${fmtMs(Math.max(...warm))} ms`);
} finally {
  await srv.stop();
}
