// `npm run bench:storage-list`: /storage/v1 `POST /object/list` latency, as an
// ordinary user under row-level security, in a bucket of 1,000,000 objects.
//
// The user creates a private bucket through the API; its metadata is then
// filled straight in Postgres (1,000 folders f000/ … f999/ of 1,000 objects
// each, owned by the user): listing reads metadata only, and a million API
// uploads would take most of an hour on this machine. Then, one request at a
// time over keep-alive with the user's JWT, it times (a) a folder of 1,000
// files (limit 1000) and (b) the root: the 1,000 folder names. Every answer
// is checked. The floor: (a) at p99 < 10 ms.
//
// Flags: --quick (100 timed requests per case instead of 300), --folders N.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from '../../test/support/database.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { BenchFailure, fmt, fmtMs, loadSummary, machineSummary, onInterrupt, percentile, reportServerFailure, runBenchmark, table } from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    folders: { type: 'string', default: '1000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:storage-list -- [--quick] [--folders N]');
  process.exit(0);
}
const FOLDERS = Number(flags.folders);
if (!Number.isInteger(FOLDERS) || FOLDERS < 2 || FOLDERS > 1000) throw new Error('--folders must be an integer from 2 to 1000');
const PER_FOLDER = 1000;
const SAMPLES = flags.quick ? 100 : 300;
const WARMUP = 20;
const SECRET = 'bench-storage-list-secret-0123456789abcdef';
const BUCKET = 'bench-storage-list';

function post(url: URL, agent: http.Agent, token: string, body: unknown): Promise<{ status: number; text: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  let server: TestServer | undefined;
  onInterrupt(async () => server?.stop());
  try {
    console.log(`aerostore /storage/v1 list benchmark — ${machineSummary()}; ${loadSummary()} at start`);
    server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
    const userId = randomUUID();
    const token = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(SECRET));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const created = await post(new URL('/storage/v1/bucket', server.url), agent, token, { name: BUCKET });
    if (created.status !== 200) throw new BenchFailure(`creating the bucket: ${created.status} ${created.text}`);

    const total = FOLDERS * PER_FOLDER;
    const db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
    const t0 = performance.now();
    try {
      await db`
        insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, owner, content_type)
        select b.id, b.name, 'f' || lpad((i / ${PER_FOLDER})::text, 3, '0') || '/file-' || lpad((i % ${PER_FOLDER})::text, 4, '0') || '.txt',
               100 + i % 1000, '"0123456789abcdef0123456789abcdef"', repeat('0', 64), ${userId}, 'text/plain'
        from storage.buckets b, generate_series(0, ${total - 1}) i where b.name = ${BUCKET}`;
      await db`analyze storage.objects`;
    } finally {
      await db.end({ timeout: 5 });
    }
    console.log(`filled ${fmt(total)} object rows in ${fmt((performance.now() - t0) / 1000, 1)} s\n`);

    const listUrl = new URL(`/storage/v1/object/list/${BUCKET}`, server.url);
    const rows: string[][] = [];
    let folderP99 = NaN;
    const cases: Array<{ name: string; body: (i: number) => unknown; check: (entries: Array<{ name: string; id: string | null }>, i: number) => void }> = [
      {
        name: 'a folder of 1,000 files (limit 1000)',
        body: (i) => ({ prefix: `f${String((i * 37) % FOLDERS).padStart(3, '0')}`, limit: 1000, offset: 0 }),
        check: (entries) => {
          if (entries.length !== PER_FOLDER || entries[0].name !== 'file-0000.txt' || entries.some((e) => e.id === null)) {
            throw new BenchFailure(`folder listing: ${entries.length} entries, first ${entries[0]?.name}`);
          }
        },
      },
      {
        name: `the root: ${fmt(FOLDERS)} folder names`,
        body: () => ({ prefix: '', limit: 1000, offset: 0 }),
        check: (entries) => {
          if (entries.length !== Math.min(1000, FOLDERS) || entries[0].name !== 'f000' || entries[0].id !== null) {
            throw new BenchFailure(`root listing: ${entries.length} entries, first ${entries[0]?.name}`);
          }
        },
      },
    ];
    for (const c of cases) {
      const latencies: number[] = [];
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const t = performance.now();
        const res = await post(listUrl, agent, token, c.body(i));
        const ms = performance.now() - t;
        if (res.status !== 200) throw new BenchFailure(`${c.name}: ${res.status} ${res.text.slice(0, 300)}`);
        c.check(JSON.parse(res.text), i);
        if (i >= WARMUP) latencies.push(ms);
      }
      latencies.sort((x, y) => x - y);
      if (c === cases[0]) folderP99 = percentile(latencies, 0.99);
      rows.push([c.name, String(SAMPLES), fmtMs(percentile(latencies, 0.5)), fmtMs(percentile(latencies, 0.9)), fmtMs(percentile(latencies, 0.99)), fmtMs(latencies[latencies.length - 1])]);
    }
    console.log(`POST /storage/v1/object/list as a user (RLS) in a bucket of ${fmt(total)} objects, one request at a time (ms, client-side):\n`);
    console.log(table(['case', 'requests', 'p50', 'p90', 'p99', 'max'], rows));
    console.log(`\nFloor: a folder of 1,000 at p99 < 10 ms → p99 ${fmtMs(folderP99)} ms: ${folderP99 < 10 ? 'MET' : 'NOT MET'}`);
    console.log(`${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await server?.stop();
  }
}

runBenchmark(main);
