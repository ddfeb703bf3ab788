// `npm run bench:list-versions`: ListObjectVersions latency in a versioned
// bucket of 1,000,000 versions (issue 18: a 1,000-version page at p99 < 10 ms).
//
// The root key creates a bucket and enables versioning through S3; the
// versions are then filled straight in Postgres — listing reads metadata
// only, and a million PUTs would take most of an hour here: 100,000 keys
// k/00000 … k/99999 under 100 "directories" (k/dNN/…), each with 10
// versions — the current one in storage.objects, nine past ones in
// storage.object_versions, every tenth key's newest past entry a delete
// marker. Then, one request at a time over keep-alive, it times
//   (a) a page of 1,000 versions from a key marker (a different place each time),
//   (b) the same, continuing inside a key (key-marker + version-id-marker),
//   (c) a prefix of one directory with delimiter '/' (its 1,000 keys' versions, truncated).
// Every page is checked (count, order, IsLatest once per key, markers).
//
// Flags: --quick (100 timed requests per case instead of 300), --keys N (fewer keys, to try it out),
// --cpu-prof DIR (a V8 CPU profile of the server per case). Only the requests are timed, not
// the client's checks of each page.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from '../../test/support/database.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  BenchFailure,
  cpuProfileEnv,
  describeFailure,
  EMPTY_SHA256,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  onInterrupt,
  percentile,
  reportServerFailure,
  runBenchmark,
  send,
  sha256Hex,
  startPhaseProfile,
  table,
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    keys: { type: 'string', default: '100000' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:list-versions -- [--quick] [--keys N] [--cpu-prof DIR]');
  process.exit(0);
}
const KEYS = Number(flags.keys);
if (!Number.isInteger(KEYS) || KEYS < 2000 || KEYS > 100_000) throw new Error('--keys must be an integer from 2,000 to 100,000');
const VERSIONS = 10;
const SAMPLES = flags.quick ? 100 : 300;
const WARMUP = 20;
const BUCKET = 'bench-versions';

const keyName = (i: number) => `k/d${String(Math.floor(i / 1000)).padStart(2, '0')}/${String(i).padStart(5, '0')}`;
const values = (xml: string, tag: string) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);

/** The page's entries (Version and DeleteMarker alike) in document order, with the checks every page must pass. */
function checkPage(xml: string, want: number): Array<{ key: string; version: string; latest: boolean }> {
  const entries = [...xml.matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId><IsLatest>(true|false)<\/IsLatest>/g)].map(
    (m) => ({ key: m[2], version: m[3], latest: m[4] === 'true' }),
  );
  if (entries.length !== want) throw new BenchFailure(`a page of ${entries.length} entries, not ${want}`);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].key < entries[i - 1].key) throw new BenchFailure(`keys out of order: ${entries[i - 1].key}, ${entries[i].key}`);
    if (entries[i].latest && entries[i].key === entries[i - 1].key) throw new BenchFailure(`two latest entries for ${entries[i].key}`);
  }
  if (values(xml, 'IsTruncated')[0] !== 'true') throw new BenchFailure('a full page that is not truncated');
  return entries;
}

async function main(): Promise<void> {
  let server: TestServer | undefined;
  onInterrupt(async () => server?.stop());
  try {
    console.log(`aerostore ListObjectVersions benchmark — ${machineSummary()}; ${loadSummary()} at start`);
    server = await startTestServer(flags['cpu-prof'] ? { env: cpuProfileEnv(flags['cpu-prof']) } : {});
    const target: Target = { name: 'aerostore', base: new URL(server.url), signer: new FastSigner({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }) };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const made = await send(target, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
    if (made.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}`, made));
    const config = Buffer.from('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
    const enabled = await send(target, agent, 'PUT', `/${BUCKET}`, { query: { versioning: '' }, body: config, payloadHash: sha256Hex(config) });
    if (enabled.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}?versioning`, enabled));

    const db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
    const t0 = performance.now();
    try {
      // version_seq: key i's version v (0 = oldest) is i * VERSIONS + v; the current one is the highest.
      const sha = '0'.repeat(64);
      await db`
        insert into storage.object_versions (bucket_uuid, bucket_id, key, size, etag, sha256, version, version_seq, delete_marker, scan_status)
        select b.id, b.name, 'k/d' || lpad((i / 1000)::text, 2, '0') || '/' || lpad(i::text, 5, '0'),
               case when v = ${VERSIONS - 2} and i % 10 = 0 then 0 else 100 + v end,
               case when v = ${VERSIONS - 2} and i % 10 = 0 then '' else '"0123456789abcdef0123456789abcdef"' end,
               case when v = ${VERSIONS - 2} and i % 10 = 0 then '' else ${sha} end,
               md5(i::text || '/' || v::text), i * ${VERSIONS} + v, v = ${VERSIONS - 2} and i % 10 = 0, 'clean'
        from storage.buckets b, generate_series(0, ${KEYS - 1}) i, generate_series(0, ${VERSIONS - 2}) v where b.name = ${BUCKET}`;
      await db`
        insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, version, version_seq, scan_status)
        select b.id, b.name, 'k/d' || lpad((i / 1000)::text, 2, '0') || '/' || lpad(i::text, 5, '0'),
               200, '"0123456789abcdef0123456789abcdef"', ${sha}, md5(i::text || '/current'), i * ${VERSIONS} + ${VERSIONS - 1}, 'clean'
        from storage.buckets b, generate_series(0, ${KEYS - 1}) i where b.name = ${BUCKET}`;
      await db`analyze storage.objects`;
      await db`analyze storage.object_versions`;
    } finally {
      await db.end({ timeout: 5 });
    }
    const total = KEYS * VERSIONS;
    console.log(`filled ${fmt(total)} versions (${fmt(KEYS)} keys) in ${fmt((performance.now() - t0) / 1000, 1)} s\n`);

    // The timed requests' milliseconds (the client's checks of each page are not timed).
    let timed = 0;
    const list = async (query: Record<string, string>) => {
      const t = performance.now();
      const r = await send(target, agent, 'GET', `/${BUCKET}`, { query: { versions: '', ...query }, keepBody: true });
      timed += performance.now() - t;
      if (r.status !== 200) throw new BenchFailure(describeFailure('GET', `/${BUCKET}?versions`, r));
      return (r.body as Buffer).toString();
    };
    // A place in the bucket for request i, spread over it.
    const spot = (i: number) => keyName((i * 7919) % (KEYS - 200));
    const midKey = async (i: number) => {
      // The marker of a page that stopped inside a key: its third version.
      const page = await list({ 'key-marker': spot(i), 'max-keys': '3' });
      return { key: values(page, 'Key')[2], version: values(page, 'VersionId')[2] };
    };
    const cases: Array<{ name: string; run: (i: number) => Promise<void> }> = [
      {
        name: 'a page of 1,000 from a key marker',
        run: async (i) => {
          const entries = checkPage(await list({ 'key-marker': spot(i), 'max-keys': '1000' }), 1000);
          if (!entries[0].latest) throw new BenchFailure('the first entry after a key marker is not the latest of its key');
        },
      },
      {
        name: 'a page of 1,000 continuing inside a key',
        run: async (i) => {
          const at = await midKey(i);
          const entries = checkPage(await list({ 'key-marker': at.key, 'version-id-marker': at.version, 'max-keys': '1000' }), 1000);
          if (entries[0].key !== at.key || entries[0].latest) throw new BenchFailure(`the page did not continue inside ${at.key}`);
        },
      },
      {
        name: "one directory's versions, delimiter '/'",
        run: async (i) => {
          const dir = `k/d${String(i % Math.floor(KEYS / 1000)).padStart(2, '0')}/`;
          const entries = checkPage(await list({ prefix: dir, delimiter: '/', 'max-keys': '1000' }), 1000);
          if (!entries.every((e) => e.key.startsWith(dir))) throw new BenchFailure(`an entry outside ${dir}`);
        },
      },
    ];
    const rows: string[][] = [];
    let firstP99 = NaN;
    for (const [n, c] of cases.entries()) {
      const latencies: number[] = [];
      let profile: { stop(name: string): Promise<string> } | undefined;
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        // --cpu-prof DIR: a V8 CPU profile of the server over the case's timed requests.
        if (i === WARMUP && flags['cpu-prof']) profile = await startPhaseProfile(server.process.pid as number, flags['cpu-prof']);
        timed = 0;
        await c.run(i);
        if (i >= WARMUP) latencies.push(timed);
      }
      if (profile) console.log(`CPU profile: ${await profile.stop(`list-versions-${'abc'[n]}`)}`);
      latencies.sort((x, y) => x - y);
      if (c === cases[0]) firstP99 = percentile(latencies, 0.99);
      rows.push([c.name, String(SAMPLES), fmtMs(percentile(latencies, 0.5)), fmtMs(percentile(latencies, 0.9)), fmtMs(percentile(latencies, 0.99)), fmtMs(latencies[latencies.length - 1])]);
    }
    console.log(`GET /${BUCKET}?versions as the root key, ${fmt(total)} versions, one request at a time (ms, client-side; case (b) includes the 3-entry request that finds its marker):\n`);
    console.log(table(['case', 'requests', 'p50', 'p90', 'p99', 'max'], rows));
    console.log(`\nFloor: a 1,000-version page at p99 < 10 ms → p99 ${fmtMs(firstP99)} ms: ${firstP99 < 10 ? 'MET' : 'NOT MET'}`);
    console.log(`${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await server?.stop();
  }
}

runBenchmark(main);
