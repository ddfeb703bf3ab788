// `npm run bench:list`: ListObjectsV2 latency on a bucket of 105,000 keys.
//
// Fills a bucket on a fresh aerostore with 100 "directories" d000/ … d099/,
// each holding 1,000 keys dNNN/f00000 … dNNN/f00999 plus 50 deeper keys
// dNNN/sub/gN/hNN (so a delimiter has something to roll up), then times, one
// request at a time over a keep-alive connection:
//   (a) prefix dNNN/ + delimiter /  → a page of 1,000 keys (IsTruncated: the
//       common prefix dNNN/sub/ follows on the next page);
//   (b) delimiter / at the root    → the 100 common prefixes d000/ … d099/;
//   (c) no delimiter               → 1,000-key pages, walking the whole bucket
//       by continuation token.
// Every page is checked (count, first/last key, truncation, tokens). The
// issue's floor: a page of 1,000 keys with prefix + delimiter at p99 < 10 ms.
//
// Flags: --quick (100 timed requests per case instead of 300), --dirs N
// (fewer directories, for trying the script out; the floor needs 100),
// --data-dir DIR (keep the data; a second run on it skips the fill),
// --cpu-prof DIR (a V8 CPU profile of the aerostore process per timed case),
// --as-user (list as an ordinary user in an `authenticated` bucket), --acl
// (as an ordinary user who reads every key through the object's own ACL:
// each object `authenticated-read`, in a private member-writes bucket, so
// every row passes row-level security by its list — the most the ACL term
// of the objects policy can cost).
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from '../../test/support/database.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  checkSignerAgainstSmithy,
  cpuProfileEnv,
  describeFailure,
  EMPTY_SHA256,
  encodeKey,
  createUserKey,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  memoryOf,
  onInterrupt,
  patchBucket,
  wasInterrupted,
  percentile,
  send,
  sha256Hex,
  startPhaseProfile,
  table,
  type Target,
  BenchFailure,
  reportServerFailure,
  runBenchmark,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    dirs: { type: 'string', default: '100' },
    'data-dir': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'as-user': { type: 'boolean', default: false },
    acl: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(
    [
      'usage: npm run bench:list -- [--quick] [--dirs N] [--data-dir DIR] [--cpu-prof DIR] [--as-user | --acl]',
      '  --as-user       list as an ordinary user (row-level security evaluated per row) in a bucket',
      '                  whose policy is made `authenticated`, instead of as the root key',
      '  --acl           list as an ordinary user who reads each key by its own ACL (authenticated-read,',
      '                  set on every object after the fill) in a private bucket open to member writes',
      '  --data-dir DIR  keep the server data in DIR; a later run on the same DIR (and --dirs)',
      '                  skips the fill, for quick iterations on the listing code',
    ].join('\n'),
  );
  process.exit(0);
}

const BUCKET = 'bench-list';
const DIRS = Number(flags.dirs);
if (!Number.isInteger(DIRS) || DIRS < 2 || DIRS > 1000) throw new Error('--dirs must be an integer from 2 to 1000');
const FILES_PER_DIR = 1000;
const DEEP_GROUPS = 5;
const DEEP_PER_GROUP = 10;
const TOTAL_KEYS = DIRS * (FILES_PER_DIR + DEEP_GROUPS * DEEP_PER_GROUP);
const SAMPLES = flags.quick ? 100 : 300;
const WARMUP = 20;
const FILL_CONCURRENCY = 32;
const PAGE_FLOOR_P99_MS = 10;

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const dirName = (d: number) => `d${pad(d, 3)}/`;

function allKeys(): string[] {
  const keys: string[] = [];
  for (let d = 0; d < DIRS; d++) {
    for (let f = 0; f < FILES_PER_DIR; f++) keys.push(`${dirName(d)}f${pad(f, 5)}`);
    for (let g = 0; g < DEEP_GROUPS; g++) {
      for (let h = 0; h < DEEP_PER_GROUP; h++) keys.push(`${dirName(d)}sub/g${g}/h${pad(h, 2)}`);
    }
  }
  return keys.sort(); // ASCII keys: JS order is UTF-8 byte order
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new BenchFailure(`wrong listing: ${what}`);
}

interface Page {
  keys: string[];
  prefixes: string[];
  keyCount: number;
  isTruncated: boolean;
  next?: string;
  bytes: number;
}

const parser = new XMLParser({
  isArray: (name) => name === 'Contents' || name === 'CommonPrefixes',
  parseTagValue: false,
});

function parsePage(xml: Buffer): Page {
  const doc = parser.parse(xml.toString('utf8')) as { ListBucketResult?: Record<string, unknown> };
  const r = doc.ListBucketResult;
  if (!r) throw new BenchFailure(`not a ListBucketResult: ${xml.toString('utf8').slice(0, 300)}`);
  const contents = (r.Contents as Array<{ Key: string }> | undefined) ?? [];
  const prefixes = (r.CommonPrefixes as Array<{ Prefix: string }> | undefined) ?? [];
  return {
    keys: contents.map((c) => String(c.Key)),
    prefixes: prefixes.map((p) => String(p.Prefix)),
    keyCount: Number(r.KeyCount),
    isTruncated: String(r.IsTruncated) === 'true',
    next: r.NextContinuationToken === undefined ? undefined : String(r.NextContinuationToken),
    bytes: xml.length,
  };
}

async function list(target: Target, agent: http.Agent, query: Record<string, string>): Promise<{ ms: number; page: Page }> {
  const t = performance.now();
  const r = await send(target, agent, 'GET', `/${BUCKET}`, { query: { 'list-type': '2', ...query }, payloadHash: EMPTY_SHA256, keepBody: true });
  const ms = performance.now() - t;
  if (r.status !== 200) throw new BenchFailure(describeFailure('GET', `/${BUCKET}?${new URLSearchParams(query)}`, r));
  return { ms, page: parsePage(r.body!) };
}

async function fill(target: Target, keys: string[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: FILL_CONCURRENCY });
  let next = 0;
  let done = 0;
  let lastReport = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const body = Buffer.from(`${key}\n`); // unique content: no deduplication shortcut
      const path = `/${BUCKET}/${encodeKey(key)}`;
      const r = await send(target, agent, 'PUT', path, { body, payloadHash: sha256Hex(body) });
      if (r.status !== 200) throw new BenchFailure(describeFailure('PUT', path, r));
      done++;
      if (done - lastReport >= keys.length / 10) {
        lastReport = done;
        const s = (performance.now() - t0) / 1000;
        process.stdout.write(`  ${fmt(done)} keys in ${fmt(s, 1)} s (${fmt(done / s)} PUT/s)\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
  agent.destroy();
  return (performance.now() - t0) / 1000;
}

interface CaseResult {
  name: string;
  latencies: number[];
  entriesPerPage: string;
  bytesPerPage: number;
}

async function main(): Promise<void> {
  let server: TestServer | undefined;
  // Once only: a second SIGTERM makes aerostore exit without stopping its Postgres.
  let stopping: Promise<unknown> | undefined;
  const stop = () => (stopping ??= server?.stop() ?? Promise.resolve());
  onInterrupt(stop);
  try {
    console.log(`aerostore ListObjectsV2 benchmark — ${machineSummary()}; ${loadSummary()} at start`);
    const dataDir = flags['data-dir'] ? path.resolve(flags['data-dir']) : undefined;
    if (dataDir) await mkdir(dataDir, { recursive: true });
    server = await startTestServer({ dataDir, env: flags['cpu-prof'] ? cpuProfileEnv(flags['cpu-prof']) : {} });
    const creds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
    await checkSignerAgainstSmithy(creds);
    const target: Target = { name: 'aerostore', base: new URL(server.url), signer: new FastSigner(creds) };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

    const keys = allKeys();
    const created = await send(target, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
    let fillSeconds = NaN;
    if (created.status === 409 && dataDir) {
      // A kept data directory: the bucket is there; the walk in (c) checks every key.
      const last = await send(target, agent, 'GET', `/${BUCKET}/${encodeKey(keys[keys.length - 1])}`, { payloadHash: EMPTY_SHA256 });
      if (last.status !== 200) throw new BenchFailure(`${dataDir} holds a partial ${BUCKET}: remove it, or run with the --dirs it was filled with`);
      console.log(`reusing the ${fmt(TOTAL_KEYS)} keys in ${dataDir}\n`);
    } else {
      if (created.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}`, created));
      console.log(`filling ${BUCKET} with ${fmt(TOTAL_KEYS)} keys (${FILL_CONCURRENCY} concurrent PUTs of tiny bodies)…`);
      fillSeconds = await fill(target, keys);
      console.log(`filled in ${fmt(fillSeconds, 1)} s: ${fmt(TOTAL_KEYS / fillSeconds)} PUT/s\n`);
    }

    let lister = target;
    if (flags.acl) {
      // The fill's PUTs carry no ACL (their signer signs no x-amz-acl): the lists are set in one statement.
      const sql = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
      await sql`update storage.objects set acl = '{FULL_CONTROL:aerostore,READ:AuthenticatedUsers}'
        where bucket_id = ${BUCKET}`;
      await sql`analyze storage.objects`;
      await sql.end();
      await patchBucket(target, agent, BUCKET, { policy: 'private', member_writes: true });
      lister = { name: 'aerostore (user, by ACL)', base: target.base, signer: new FastSigner(await createUserKey(target, agent, randomUUID())) };
      console.log('listing as an ordinary user who reads every key by its ACL (authenticated-read) in a private member-writes bucket\n');
    } else if (flags['as-user']) {
      await patchBucket(target, agent, BUCKET, { policy: 'authenticated' });
      lister = { name: 'aerostore (user)', base: target.base, signer: new FastSigner(await createUserKey(target, agent, randomUUID())) };
      console.log('listing as an ordinary user (authenticated role) in a bucket whose policy is authenticated\n');
    }

    const results: CaseResult[] = [];
    let positionNote = '';

    // (a) prefix + delimiter: one directory, a page of 1,000 keys.
    {
      const profile = flags['cpu-prof'] ? await startPhaseProfile(server.process.pid!, flags['cpu-prof']) : undefined;
      const name = 'prefix dNNN/ + delimiter /: page of 1,000 keys';
      const latencies: number[] = [];
      const byDir: Array<[number, number]> = [];
      let bytes = 0;
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const d = (i * 37) % DIRS;
        const prefix = dirName(d);
        const { ms, page } = await list(lister, agent, { prefix, delimiter: '/' });
        check(page.keys.length === FILES_PER_DIR && page.keyCount === FILES_PER_DIR, `${prefix}: ${page.keys.length} keys (KeyCount ${page.keyCount}), expected ${FILES_PER_DIR}`);
        check(page.prefixes.length === 0, `${prefix}: unexpected common prefixes ${page.prefixes.slice(0, 3)}`);
        check(page.keys[0] === `${prefix}f00000` && page.keys[FILES_PER_DIR - 1] === `${prefix}f${pad(FILES_PER_DIR - 1, 5)}`, `${prefix}: first/last key ${page.keys[0]} … ${page.keys.at(-1)}`);
        check(page.isTruncated && page.next !== undefined, `${prefix}: IsTruncated should be true with a NextContinuationToken (${prefix}sub/ follows)`);
        if (i === 0) {
          // The next page holds exactly the rolled-up deeper keys.
          const { page: rest } = await list(lister, agent, { prefix, delimiter: '/', 'continuation-token': page.next! });
          check(rest.keys.length === 0 && rest.prefixes.length === 1 && rest.prefixes[0] === `${prefix}sub/`, `${prefix} page 2: ${rest.keys.length} keys, prefixes ${rest.prefixes}`);
          check(!rest.isTruncated && rest.next === undefined, `${prefix} page 2: IsTruncated should be false`);
          // And one level down: the 5 groups.
          const { page: sub } = await list(lister, agent, { prefix: `${prefix}sub/`, delimiter: '/' });
          check(sub.keys.length === 0 && sub.prefixes.length === DEEP_GROUPS && sub.prefixes[0] === `${prefix}sub/g0/` && !sub.isTruncated, `${prefix}sub/: ${sub.keys.length} keys, prefixes ${sub.prefixes}`);
        }
        if (i >= WARMUP) {
          latencies.push(ms);
          byDir.push([d, ms]);
          bytes += page.bytes;
        }
      }
      if (profile) console.log(`CPU profile: ${await profile.stop('list-a-prefix-delimiter')}`);
      results.push({ name, latencies, entriesPerPage: '1,000 keys', bytesPerPage: bytes / latencies.length });
      // A page's cost should not depend on where its prefix sits in the bucket.
      const tenth = Math.max(1, Math.floor(DIRS / 10));
      const med = (sel: (d: number) => boolean) => median(byDir.filter(([d]) => sel(d)).map(([, ms]) => ms));
      positionNote =
        `(a) by position in the bucket: prefixes d000/–${dirName(tenth - 1)} p50 ${fmtMs(med((d) => d < tenth))} ms, ` +
        `${dirName(DIRS - tenth)}–${dirName(DIRS - 1)} p50 ${fmtMs(med((d) => d >= DIRS - tenth))} ms.`;
    }

    // (b) delimiter at the root: 100 common prefixes over all keys.
    {
      const profile = flags['cpu-prof'] ? await startPhaseProfile(server.process.pid!, flags['cpu-prof']) : undefined;
      const name = 'delimiter / at the root: all common prefixes';
      const latencies: number[] = [];
      let bytes = 0;
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const { ms, page } = await list(lister, agent, { delimiter: '/' });
        check(page.keys.length === 0, `root: ${page.keys.length} keys, expected none`);
        check(page.prefixes.length === DIRS && page.keyCount === DIRS, `root: ${page.prefixes.length} common prefixes (KeyCount ${page.keyCount}), expected ${DIRS}`);
        check(page.prefixes.every((p, j) => p === dirName(j)), `root: common prefixes out of order or wrong`);
        check(!page.isTruncated && page.next === undefined, 'root: IsTruncated should be false');
        if (i >= WARMUP) {
          latencies.push(ms);
          bytes += page.bytes;
        }
      }
      if (profile) console.log(`CPU profile: ${await profile.stop('list-b-root-delimiter')}`);
      results.push({ name, latencies, entriesPerPage: `${DIRS} prefixes`, bytesPerPage: bytes / latencies.length });
    }

    // (c) no delimiter: walk the bucket in 1,000-key pages by continuation token.
    {
      const profile = flags['cpu-prof'] ? await startPhaseProfile(server.process.pid!, flags['cpu-prof']) : undefined;
      const name = 'no delimiter: 1,000-key pages by continuation token';
      const latencies: number[] = [];
      let bytes = 0;
      let warm = 0;
      let walks = 0;
      while (latencies.length < SAMPLES) {
        let token: string | undefined;
        let seen = 0;
        for (;;) {
          const { ms, page } = await list(lister, agent, token ? { 'continuation-token': token } : {});
          const expected = Math.min(1000, TOTAL_KEYS - seen);
          check(page.keys.length === expected && page.prefixes.length === 0, `walk page at ${seen}: ${page.keys.length} keys, expected ${expected}`);
          for (let j = 0; j < page.keys.length; j++) {
            if (page.keys[j] !== keys[seen + j]) check(false, `walk: key ${seen + j} is ${page.keys[j]}, expected ${keys[seen + j]}`);
          }
          seen += page.keys.length;
          check(page.isTruncated === seen < TOTAL_KEYS, `walk page ending at ${seen}: IsTruncated ${page.isTruncated}`);
          if (warm < WARMUP) warm++;
          else if (latencies.length < SAMPLES) {
            latencies.push(ms);
            bytes += page.bytes;
          }
          if (!page.isTruncated) break;
          check(page.next !== undefined, 'walk: truncated page without NextContinuationToken');
          token = page.next;
        }
        check(seen === TOTAL_KEYS, `walk saw ${seen} keys, expected ${TOTAL_KEYS}`);
        walks++;
      }
      if (profile) console.log(`CPU profile: ${await profile.stop('list-c-walk')}`);
      results.push({ name: `${name} (${walks} walks)`, latencies, entriesPerPage: '1,000 keys', bytesPerPage: bytes / latencies.length });
    }
    agent.destroy();

    const mem = memoryOf(server.process.pid!);
    const rows = results.map((r) => {
      const s = [...r.latencies].sort((a, b) => a - b);
      return [
        r.name,
        String(s.length),
        r.entriesPerPage,
        fmt(r.bytesPerPage / 1024, 0),
        fmtMs(percentile(s, 0.5)),
        fmtMs(percentile(s, 0.9)),
        fmtMs(percentile(s, 0.99)),
        fmtMs(s[s.length - 1]),
      ];
    });
    console.log(`ListObjectsV2 on ${fmt(TOTAL_KEYS)} keys, one request at a time, after ${WARMUP} warm-up requests per case (ms, client-side, full response):\n`);
    console.log(table(['case', 'requests', 'page', 'KiB/page', 'p50', 'p90', 'p99', 'max'], rows, 1));
    console.log(`\n${positionNote}`);
    const a = [...results[0].latencies].sort((x, y) => x - y);
    const p99 = percentile(a, 0.99);
    console.log(
      `Floor: a page of 1,000 keys with prefix + delimiter at p99 < ${PAGE_FLOOR_P99_MS} ms → p99 ${fmtMs(p99)} ms: ${p99 < PAGE_FLOOR_P99_MS ? 'MET' : 'NOT MET'}` +
        (DIRS !== 100 ? ` (a scaled-down bucket of ${fmt(TOTAL_KEYS)} keys: run without --dirs for the real figure)` : ''),
    );
    if (Number.isFinite(fillSeconds)) {
      console.log(`Fill: ${fmt(TOTAL_KEYS)} PUTs of tiny bodies in ${fmt(fillSeconds, 1)} s (${fmt(TOTAL_KEYS / fillSeconds)} PUT/s, ${FILL_CONCURRENCY} clients).`);
    }
    console.log(`Peak RSS of the aerostore Node process (VmHWM): ${fmt(mem.peakMiB, 1)} MiB; ${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await stop();
  }
}

runBenchmark(main);
