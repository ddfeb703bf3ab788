// `npm run soak`: a bounded soak of one aerostore on loopback.
//
// Starts a real aerostore (embedded Postgres, fresh data directory, free port
// on 127.0.0.1) and drives it with N concurrent clients (default 64), each a
// sequential loop over a weighted mix — PUT 35 %, GET 35 %, LIST 15 %
// (ListObjectsV2 with prefix and delimiter), DELETE 10 %, HEAD 5 % — of
// objects from 1 KiB to --max-size (log-uniform), for --duration (default 10
// minutes) after a short warm-up. Then it prints a summary and exits non-zero
// if any request failed or the server leaked (descriptors, files; below).
//
// Key spaces. Each client owns `c<NN>/d<D>/k<NNN>`: only it writes there, one
// request at a time, so every answer is checked exactly (a GET returns the
// last body it PUT, byte for byte by MD5, or 404 after its DELETE; a listing
// of its prefix names exactly its live keys, with their sizes and ETags).
// All clients also share `shared/d<D>/k<NNNN>`, where overwrites and deletes
// race with reads: there a 200 must carry one of the bodies ever written to
// that key (its MD5 is recorded before the PUT is sent) and a 404 is an
// expected outcome, not an error. Anything else — a 5xx, a connection error,
// a wrong status, length, ETag or body — is an error.
//
// Bounded disk: the key spaces are sized so that, every key full, the live
// data would average 1.5 GiB (the mean of a log-uniform size is (max − min) / ln(max / min)) and
// keys are overwritten in place; the data directory's size is printed every
// 10 s and at the end. Every PUT body is unique: a slice of a seeded random
// pool with the client number and a sequence number stamped at its start, so
// the per-bucket deduplication never shortcuts a write.
//
// Memory and descriptors. The server's RSS is sampled every 2 s during the
// measured phase; the summary gives it at the start (idle, after the
// warm-up), at the end (idle again), its peak, and the slope of a least-squares
// line through the samples, over the whole phase and over its second half
// ("no growth trend": the second-half slope is about 0). Open descriptors
// (/proc/<pid>/fd) are counted after the warm-up and after the measured
// phase, each time once the clients have closed their connections and the
// count has held still for a few seconds of idle; apart from the Postgres
// pools' connections (opened under load, closed after 60 s idle) the end
// count must equal the start count. At the end, files on disk:
// every live object must have exactly one blob file (the bodies all differ,
// so a surplus is garbage the collector left behind) and tmp/ must be empty;
// and the server must have logged no error.
//
// Flags: --duration 10m (the measured phase; 30s, 2m, 1h or seconds),
// --clients 64, --max-size 8MiB, --seed N (default random; printed).
import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import {
  BenchFailure,
  checkSignerAgainstSmithy,
  cpuOfTree,
  describeFailure,
  EMPTY_SHA256,
  encodeKey,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  memoryOf,
  onInterrupt,
  percentile,
  reportServerFailure,
  runBenchmark,
  send,
  sha256Hex,
  table,
  UNSIGNED,
  wasInterrupted,
  type Reply,
  type Target,
} from './bench/lib.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    clients: { type: 'string', default: '64' },
    'max-size': { type: 'string', default: '8MiB' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(
    [
      'usage: npm run soak -- [--duration 10m] [--clients 64] [--max-size 8MiB] [--seed N]',
      '  --duration  the measured phase (30s, 2m, 1h, or seconds); a warm-up of a tenth of it',
      '              (5 s to 30 s) and a few seconds of idle before and after come on top',
      '  --clients   concurrent clients, each one keep-alive connection',
      '  --max-size  largest object (sizes are log-uniform from 1 KiB): 512KiB, 8MiB, ...',
      '  --seed      seeds the operation mix, keys, sizes and bodies (default: random, printed)',
      'Exits 1 if any request failed, the server ends with other open descriptors (Postgres connections aside) than it started with,',
      'blob files do not match the objects one to one, tmp/ is not empty, or the server logged an error.',
    ].join('\n'),
  );
  process.exit(0);
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`--duration: cannot read ${JSON.stringify(s)} (try 30s, 2m, 10m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kib|m|mib|g|gib)?$/i.exec(s.trim());
  if (!m) throw new Error(`--max-size: cannot read ${JSON.stringify(s)} (try 512KiB, 8MiB)`);
  const unit = { b: 1, k: KiB, kib: KiB, m: MiB, mib: MiB, g: GiB, gib: GiB }[(m[2] ?? 'b').toLowerCase()]!;
  return Math.floor(Number(m[1]) * unit);
}

const DURATION_MS = parseDuration(flags.duration!);
const CLIENTS = Number(flags.clients);
const MIN_SIZE = KiB;
const MAX_SIZE = parseSize(flags['max-size']!);
const SEED = flags.seed !== undefined ? Number(flags.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
if (!(DURATION_MS >= 1000)) throw new Error('--duration must be at least 1 s');
if (!Number.isInteger(CLIENTS) || CLIENTS < 1 || CLIENTS > 1024) throw new Error('--clients must be an integer from 1 to 1024');
if (!(MAX_SIZE >= 16 * KiB) || MAX_SIZE > GiB) throw new Error('--max-size must be from 16 KiB to 1 GiB');
if (flags.seed !== undefined && !/^\d+$/.test(flags.seed)) throw new Error('--seed must be a non-negative integer');

const WARMUP_MS = Math.min(30_000, Math.max(5_000, DURATION_MS / 10));
const PROGRESS_MS = 10_000;
const RSS_SAMPLE_MS = 2_000;
/** Idle before counting descriptors: the count must hold still this many 1 s polls in a row. */
const SETTLE_STABLE_POLLS = 3;
const SETTLE_MAX_MS = 15_000;
/**
 * If the end count (Postgres connections aside) differs from the start, how
 * long to keep waiting for it to come back: sockets of clients that just
 * hung up may take a moment to close. The pools themselves close a connection
 * idle for 60 s (src/db/connect.ts), so they too shrink back within this.
 */
const SETTLE_GROWN_MAX_MS = 75_000;
/** Bodies up to this size carry their SHA-256 (as the SDKs send small ones); larger go UNSIGNED-PAYLOAD. */
const SIGNED_PAYLOAD_MAX = 64 * KiB;

const BUCKET = 'soak';

// ── Key spaces, sized for the disk budget ─────────────────────────────────

const LIVE_BUDGET = 1.5 * GiB;
const MEAN_SIZE = (MAX_SIZE - MIN_SIZE) / Math.log(MAX_SIZE / MIN_SIZE);
const SLOTS = Math.floor(LIVE_BUDGET / MEAN_SIZE);
/** A fifth of the key slots are shared by every client; the rest are split between them. */
const SHARED_KEYS = Math.max(16, Math.min(2000, Math.floor(SLOTS / 5)));
const OWN_KEYS = Math.max(4, Math.min(200, Math.floor((SLOTS - SHARED_KEYS) / CLIENTS)));
const OWN_DIRS = 4;
const SHARED_DIRS = 8;

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const ownPrefix = (client: number) => `c${pad(client, 2)}/`;
const ownDir = (slot: number) => slot % OWN_DIRS;
const ownKey = (client: number, slot: number) => `${ownPrefix(client)}d${ownDir(slot)}/k${pad(slot, 3)}`;
const sharedDir = (slot: number) => slot % SHARED_DIRS;
const sharedKey = (slot: number) => `shared/d${sharedDir(slot)}/k${pad(slot, 4)}`;
const SHARED_KEY = /^shared\/d(\d+)\/k(\d+)$/;
const OWN_KEY = /^c\d+\/d(\d+)\/k(\d+)$/;

// ── Seeded randomness and bodies ──────────────────────────────────────────

/** mulberry32: a small, fast, seedable 32-bit generator; plenty for picking operations and filling bodies. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Random bytes every PUT body is a slice of (at a random offset, then stamped). */
function makePool(seed: number, size: number): Buffer {
  const next = rng(seed);
  const pool = Buffer.allocUnsafe(size + 4 - (size % 4));
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE((next() * 2 ** 32) >>> 0, i);
  return pool.subarray(0, size);
}

const md5Hex = (b: Buffer) => createHash('md5').update(b).digest('hex');
const bareEtag = (etag: string | string[] | undefined) => String(etag ?? '').replace(/"/g, '');

// ── Measurements ──────────────────────────────────────────────────────────

type Op = 'PUT' | 'GET' | 'LIST' | 'DELETE' | 'HEAD';
const OPS: Op[] = ['PUT', 'GET', 'LIST', 'DELETE', 'HEAD'];
const MIX: Array<[Op, number]> = [
  ['PUT', 35],
  ['GET', 35],
  ['LIST', 15],
  ['DELETE', 10],
  ['HEAD', 5],
];
/** Share of operations aimed at the client's own keys (the rest go to the shared ones). */
const OWN_SHARE = 0.6;

interface OpStats {
  count: number;
  errors: number;
  /** 404s on keys that may legitimately be gone (shared keys, or own keys known to be absent). */
  expected404: number;
  bytes: number;
  latencies: number[];
}

class Phase {
  readonly ops = new Map<Op, OpStats>(OPS.map((op) => [op, { count: 0, errors: 0, expected404: 0, bytes: 0, latencies: [] }]));
  requests = 0;
  errors = 0;
  private window: number[] = [];
  private windowStartedAt = performance.now();
  startedAt = performance.now();
  endedAt = 0;
  constructor(readonly name: string) {}

  record(op: Op, ms: number, outcome: Outcome, bytes: number): void {
    const s = this.ops.get(op)!;
    s.count++;
    s.latencies.push(ms);
    s.bytes += bytes;
    this.requests++;
    this.window.push(ms);
    if (outcome === 'expected404') s.expected404++;
    else if (outcome !== 'ok') {
      s.errors++;
      this.errors++;
    }
  }

  /** The latencies (ascending) and length of the window since the last call, which starts a new one. */
  takeWindow(): { latencies: number[]; ms: number } {
    const now = performance.now();
    const taken = { latencies: this.window.sort((a, b) => a - b), ms: now - Math.max(this.windowStartedAt, this.startedAt) };
    this.window = [];
    this.windowStartedAt = now;
    return taken;
  }
}

type Outcome = 'ok' | 'expected404' | { error: string };

/** Set when the server process exits: the clients stop, the run fails. */
let serverGone: string | undefined;

const MAX_PRINTED_ERRORS = 25;
const errorLog: string[] = [];
let totalErrors = 0;
function noteError(phase: Phase, message: string): void {
  totalErrors++;
  const elapsed = (performance.now() - phase.startedAt) / 1000;
  const line = `${phase.name} +${elapsed.toFixed(1)} s: ${message}`;
  if (errorLog.length < MAX_PRINTED_ERRORS) {
    errorLog.push(line);
    console.log(`  ERROR ${line}`);
    if (errorLog.length === MAX_PRINTED_ERRORS) console.log('  (further errors are counted, not printed)');
  }
}

/** TCP sockets of the machine by inode: local and remote port, listening or not (from /proc/<pid>/net/tcp{,6}). */
function tcpSockets(pid: number): Map<string, { localPort: number; remotePort: number; listening: boolean }> {
  const byInode = new Map<string, { localPort: number; remotePort: number; listening: boolean }>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (addr: string) => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16);
      byInode.set(f[9], { localPort: port(f[1]), remotePort: port(f[2]), listening: f[3] === '0A' });
    }
  }
  return byInode;
}

/**
 * Open descriptors of a process, by kind. Sockets are told apart, because a
 * Postgres pool legitimately holds a varying number of connections (it opens
 * them under load and closes them after 60 s idle): `http` (accepted client
 * connections on `httpPort`), `listen`, `tcp out` (the Postgres pools; nothing
 * else connects out during a soak), `unix` (stdio pipes to the parent, IPC).
 */
function openFds(pid: number, httpPort: number): { total: number; kinds: Record<string, number> } {
  const kinds: Record<string, number> = {};
  let total = 0;
  let names: string[] = [];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return { total: 0, kinds };
  }
  const tcp = tcpSockets(pid);
  for (const name of names) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed between readdir and readlink
    }
    let kind = /^(socket|pipe|anon_inode):/.exec(target)?.[1] ?? (target.startsWith('/dev/') ? 'device' : 'file');
    if (kind === 'socket') {
      const t = tcp.get(/\[(\d+)\]/.exec(target)?.[1] ?? '');
      kind = !t ? 'unix' : t.listening ? 'listen' : t.localPort === httpPort ? 'http' : 'tcp out';
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    total++;
  }
  return { total, kinds };
}
/** Descriptors other than Postgres pool connections: these must end where they started. */
const fixedFds = (fds: { total: number; kinds: Record<string, number> }) => fds.total - (fds.kinds['tcp out'] ?? 0);
const fdKinds = (k: Record<string, number>) =>
  Object.entries(k)
    .sort()
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');

/** Processes below `pid` (for aerostore: the embedded Postgres and its backends). */
function descendantCount(pid: number): number {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  let n = 0;
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        n++;
        queue.push(child);
      }
    }
  }
  return n;
}

/** Bytes of the regular files under `dir`, per top-level entry (blobs, pg, ...). */
async function diskUsage(dir: string): Promise<{ total: number; parts: Record<string, number> }> {
  const walk = async (p: string): Promise<number> => {
    let st;
    try {
      st = await lstat(p);
    } catch {
      return 0; // removed meanwhile
    }
    if (st.isFile()) return st.size;
    if (!st.isDirectory()) return 0;
    let entries: string[] = [];
    try {
      entries = await readdir(p);
    } catch {
      return 0;
    }
    let sum = 0;
    for (const e of entries) sum += await walk(path.join(p, e));
    return sum;
  };
  const parts: Record<string, number> = {};
  let total = 0;
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    parts[e] = await walk(path.join(dir, e));
    total += parts[e];
  }
  // The embedded Postgres's write-ahead log, apart: it grows up to max_wal_size before checkpoints recycle it.
  const wal = await walk(path.join(dir, 'pg', 'pg_wal'));
  if (wal > 0) parts['of which pg/pg_wal'] = wal;
  return { total, parts };
}

/** Regular files under `dir`, at any depth. */
async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) n += await countFiles(path.join(dir, e.name));
    else if (e.isFile()) n++;
  }
  return n;
}

/** Every key in the bucket, page by page. */
async function countObjects(target: Target): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    let n = 0;
    let token: string | undefined;
    for (;;) {
      const query: Record<string, string> = { 'list-type': '2', 'max-keys': '1000', ...(token ? { 'continuation-token': token } : {}) };
      const r = await send(target, agent, 'GET', `/${BUCKET}`, { query, payloadHash: EMPTY_SHA256, keepBody: true });
      const page = r.status === 200 ? parseListing(r.body ?? Buffer.alloc(0)) : undefined;
      if (!page) throw new BenchFailure(`final listing: ${describeFailure('GET', `/${BUCKET}`, r)}`);
      n += page.contents.length;
      if (!page.truncated) return n;
      token = page.next;
    }
  } finally {
    agent.destroy();
  }
}

/** Lines of the server's JSON log at pino level warn (40) or above. */
function loggedProblems(log: string): { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const line of log.split('\n')) {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level >= 50) errors.push(line);
    else if (level >= 40) warnings.push(line);
  }
  return { warnings, errors };
}

const fmtBytes = (n: number) => (n >= GiB ? `${fmt(n / GiB, 2)} GiB` : n >= MiB ? `${fmt(n / MiB, 1)} MiB` : `${fmt(n / KiB, 1)} KiB`);
const fmtClock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${pad(s % 60, 2)}`;
};

/**
 * Least-squares slope of y over x and its standard error (which treats the
 * samples as independent; RSS samples 2 s apart are not quite, so read ±2 SE
 * as a rough band, not a test).
 */
function slope(points: ReadonlyArray<{ x: number; y: number }>): { slope: number; se: number } {
  const n = points.length;
  if (n < 3) return { slope: NaN, se: NaN };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  if (den === 0) return { slope: NaN, se: NaN };
  const b = num / den;
  const residual = points.reduce((s, p) => s + (p.y - my - b * (p.x - mx)) ** 2, 0);
  return { slope: b, se: Math.sqrt(residual / (n - 2) / den) };
}

// ── The clients ───────────────────────────────────────────────────────────

/** Every body ever written (or being written) to each shared slot: MD5 → size. */
const sharedVersions = new Map<number, Map<string, number>>();

const listParser = new XMLParser({
  isArray: (name) => name === 'Contents' || name === 'CommonPrefixes',
  parseTagValue: false,
});

interface Listing {
  contents: Array<{ key: string; size: number; etag: string }>;
  prefixes: string[];
  truncated: boolean;
  next?: string;
}

function parseListing(xml: Buffer): Listing | undefined {
  let doc: { ListBucketResult?: Record<string, unknown> };
  try {
    doc = listParser.parse(xml.toString('utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const r = doc.ListBucketResult;
  if (!r) return undefined;
  const contents = (r.Contents as Array<{ Key: string; Size: string; ETag: string }> | undefined) ?? [];
  const prefixes = (r.CommonPrefixes as Array<{ Prefix: string }> | undefined) ?? [];
  return {
    contents: contents.map((c) => ({ key: String(c.Key), size: Number(c.Size), etag: bareEtag(c.ETag) })),
    prefixes: prefixes.map((p) => String(p.Prefix)),
    truncated: String(r.IsTruncated) === 'true',
    next: r.NextContinuationToken === undefined ? undefined : String(r.NextContinuationToken),
  };
}

interface OwnObject {
  size: number;
  md5: string;
}

class Client {
  private readonly random: () => number;
  private agent = this.newAgent();
  /** What this client last wrote to each of its slots; undefined: absent. */
  private readonly own: Array<OwnObject | undefined> = new Array(OWN_KEYS).fill(undefined);
  /** Slots whose state is unknown after a failed PUT or DELETE: no exact checks until rewritten. */
  private readonly uncertain = new Set<number>();
  private sequence = 0;
  private body = Buffer.alloc(0);

  constructor(
    readonly id: number,
    private readonly target: Target,
    private readonly pool: Buffer,
  ) {
    this.random = rng((SEED ^ Math.imul(id + 1, 0x9e3779b9)) >>> 0);
  }

  private newAgent(): http.Agent {
    return new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Closes the connection (for the idle descriptor count); the next request opens a new one. */
  disconnect(): void {
    this.agent.destroy();
    this.agent = this.newAgent();
  }

  async run(phase: Phase, deadline: number): Promise<void> {
    while (performance.now() < deadline && !wasInterrupted() && serverGone === undefined) {
      const op = this.pickOp();
      // Failed writes leave own slots uncertain; with none certain left, only the shared keys remain.
      const shared = this.random() >= OWN_SHARE || this.uncertain.size === OWN_KEYS;
      const t = performance.now();
      let outcome: Outcome;
      let bytes = 0;
      try {
        ({ outcome, bytes } = await this.perform(op, shared));
      } catch (err) {
        outcome = { error: `${op}: ${(err as Error).message}` };
      }
      if (wasInterrupted()) return;
      phase.record(op, performance.now() - t, outcome, bytes);
      if (typeof outcome === 'object') noteError(phase, `client ${this.id} ${outcome.error}`);
    }
  }

  private pickOp(): Op {
    let r = this.random() * 100;
    for (const [op, weight] of MIX) {
      if (r < weight) return op;
      r -= weight;
    }
    return 'GET';
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private size(): number {
    return Math.floor(Math.exp(Math.log(MIN_SIZE) + this.random() * Math.log(MAX_SIZE / MIN_SIZE)));
  }

  /** A slot of this client's that holds an object (90 % of the time, when there is one), else any certain slot. */
  private pickOwn(preferLive: boolean): number {
    const live = this.own.flatMap((o, slot) => (o && !this.uncertain.has(slot) ? [slot] : []));
    if (preferLive && live.length > 0 && this.random() < 0.9) return live[this.int(live.length)];
    for (;;) {
      const slot = this.int(OWN_KEYS);
      if (!this.uncertain.has(slot)) return slot;
    }
  }

  private nextBody(size: number): Buffer {
    if (this.body.length < size) this.body = Buffer.allocUnsafe(Math.max(size, Math.min(MAX_SIZE, 2 * this.body.length)));
    const body = this.body.subarray(0, size);
    this.pool.copy(body, 0, this.int(this.pool.length - size + 1), undefined);
    // Unique per run: seed, client, sequence. Bodies are ≥ 1 KiB, so the stamp always fits.
    body.writeUInt32BE(SEED, 0);
    body.writeUInt32BE(this.id, 4);
    body.writeDoubleBE(this.sequence++, 8);
    return body;
  }

  private async perform(op: Op, shared: boolean): Promise<{ outcome: Outcome; bytes: number }> {
    switch (op) {
      case 'PUT':
        return this.put(shared);
      case 'GET':
      case 'HEAD':
        return this.read(op, shared);
      case 'DELETE':
        return this.delete(shared);
      case 'LIST':
        return this.list(shared);
    }
  }

  private path(key: string): string {
    return `/${BUCKET}/${encodeKey(key)}`;
  }

  private async put(shared: boolean): Promise<{ outcome: Outcome; bytes: number }> {
    const slot = shared ? this.int(SHARED_KEYS) : this.pickOwn(false);
    const key = shared ? sharedKey(slot) : ownKey(this.id, slot);
    const body = this.nextBody(this.size());
    const md5 = md5Hex(body);
    if (shared) {
      // Recorded before sending: another client may read it before our 200 arrives.
      let versions = sharedVersions.get(slot);
      if (!versions) sharedVersions.set(slot, (versions = new Map()));
      versions.set(md5, body.length);
    } else {
      this.uncertain.add(slot); // until the 200 says which body the key holds
    }
    const payloadHash = body.length <= SIGNED_PAYLOAD_MAX ? sha256Hex(body) : UNSIGNED;
    const r = await send(this.target, this.agent, 'PUT', this.path(key), { body, payloadHash });
    if (r.status !== 200) return { outcome: { error: describeFailure('PUT', key, r) }, bytes: 0 };
    if (bareEtag(r.headers.etag) !== md5) return { outcome: { error: `PUT ${key}: ETag ${r.headers.etag}, expected "${md5}"` }, bytes: 0 };
    if (!shared) {
      this.own[slot] = { size: body.length, md5 };
      this.uncertain.delete(slot);
    }
    return { outcome: 'ok', bytes: body.length };
  }

  private async read(op: 'GET' | 'HEAD', shared: boolean): Promise<{ outcome: Outcome; bytes: number }> {
    const slot = shared ? this.int(SHARED_KEYS) : this.pickOwn(true);
    const key = shared ? sharedKey(slot) : ownKey(this.id, slot);
    const r = await send(this.target, this.agent, op, this.path(key), { payloadHash: EMPTY_SHA256, keepBody: op === 'GET' });
    const fail = (why: string) => ({ outcome: { error: `${op} ${key}: ${why}` }, bytes: r.bytes });
    // Which bodies may this key hold? Own keys: exactly the last one written.
    const allowed: Map<string, number> = shared
      ? (sharedVersions.get(slot) ?? new Map())
      : new Map(this.own[slot] ? [[this.own[slot]!.md5, this.own[slot]!.size]] : []);

    if (r.status === 404) {
      if (!shared && this.own[slot]) return fail(`404, but it holds ${this.own[slot]!.size} bytes (MD5 ${this.own[slot]!.md5})`);
      if (op === 'GET' && !/<Code>NoSuchKey<\/Code>/.test(r.body?.toString('utf8') ?? '')) return fail(`404 without NoSuchKey: ${describeFailure(op, key, r)}`);
      return { outcome: 'expected404', bytes: 0 };
    }
    if (r.status !== 200) return { outcome: { error: describeFailure(op, key, r) }, bytes: r.bytes };
    if (allowed.size === 0) return fail(`200, but nothing was ever written there${shared ? '' : ' (or it was deleted)'}`);
    const etag = bareEtag(r.headers.etag);
    const length = Number(r.headers['content-length']);
    if (!allowed.has(etag)) return fail(`ETag ${r.headers.etag} is none of the ${allowed.size} bodies written to it`);
    if (length !== allowed.get(etag)) return fail(`Content-Length ${length}, the body with that ETag has ${allowed.get(etag)} bytes`);
    if (op === 'GET') {
      const body = r.body ?? Buffer.alloc(0);
      if (body.length !== length) return fail(`${body.length} body bytes, Content-Length ${length}`);
      const md5 = md5Hex(body);
      if (md5 !== etag) return fail(`body MD5 ${md5} does not match its ETag ${etag}`);
    }
    return { outcome: 'ok', bytes: r.bytes };
  }

  private async delete(shared: boolean): Promise<{ outcome: Outcome; bytes: number }> {
    const slot = shared ? this.int(SHARED_KEYS) : this.pickOwn(true);
    const key = shared ? sharedKey(slot) : ownKey(this.id, slot);
    if (!shared) this.uncertain.add(slot);
    const r = await send(this.target, this.agent, 'DELETE', this.path(key), { payloadHash: EMPTY_SHA256 });
    if (r.status !== 204) return { outcome: { error: describeFailure('DELETE', key, r) }, bytes: 0 };
    if (!shared) {
      this.own[slot] = undefined;
      this.uncertain.delete(slot);
    }
    return { outcome: 'ok', bytes: 0 };
  }

  private async list(shared: boolean): Promise<{ outcome: Outcome; bytes: number }> {
    // Own keys: the top level (common prefixes d0/ … d3/) or one directory; shared: one directory.
    const level = shared ? 'dir' : this.random() < 0.5 ? 'top' : 'dir';
    const dir = shared ? this.int(SHARED_DIRS) : this.int(OWN_DIRS);
    const prefix = shared ? `shared/d${dir}/` : level === 'top' ? ownPrefix(this.id) : `${ownPrefix(this.id)}d${dir}/`;
    const query = { 'list-type': '2', prefix, delimiter: '/' };
    const r: Reply = await send(this.target, this.agent, 'GET', `/${BUCKET}`, { query, payloadHash: EMPTY_SHA256, keepBody: true });
    const fail = (why: string) => ({ outcome: { error: `LIST ${prefix}: ${why}` }, bytes: r.bytes });
    if (r.status !== 200) return { outcome: { error: describeFailure('LIST', prefix, r) }, bytes: r.bytes };
    const listing = parseListing(r.body ?? Buffer.alloc(0));
    if (!listing) return fail(`not a ListBucketResult: ${r.body?.toString('utf8').slice(0, 300)}`);
    if (listing.truncated) return fail('IsTruncated, with fewer keys than a page');

    if (shared) {
      if (listing.prefixes.length) return fail(`unexpected common prefixes ${listing.prefixes.join(' ')}`);
      for (const c of listing.contents) {
        const m = SHARED_KEY.exec(c.key);
        const slot = m ? Number(m[2]) : -1;
        if (!m || Number(m[1]) !== dir || slot >= SHARED_KEYS || sharedDir(slot) !== dir) return fail(`key ${c.key} was never written`);
        const size = sharedVersions.get(slot)?.get(c.etag);
        if (size === undefined) return fail(`${c.key}: ETag ${c.etag} is none of the bodies written to it`);
        if (size !== c.size) return fail(`${c.key}: Size ${c.size}, the body with that ETag has ${size} bytes`);
      }
      return { outcome: 'ok', bytes: r.bytes };
    }

    const live = (slot: number) => this.own[slot] !== undefined && !this.uncertain.has(slot);
    if (level === 'top') {
      if (listing.contents.length) return fail(`unexpected keys ${listing.contents.map((c) => c.key).join(' ')}`);
      const expected = new Set<string>();
      const possible = new Set<string>();
      for (let slot = 0; slot < OWN_KEYS; slot++) {
        const p = `${prefix}d${ownDir(slot)}/`;
        if (live(slot)) expected.add(p);
        if (live(slot) || this.uncertain.has(slot)) possible.add(p);
      }
      const got = new Set(listing.prefixes);
      for (const p of expected) if (!got.has(p)) return fail(`common prefix ${p} missing (it holds keys)`);
      for (const p of got) if (!possible.has(p)) return fail(`common prefix ${p} listed, but it holds no keys`);
      return { outcome: 'ok', bytes: r.bytes };
    }

    if (listing.prefixes.length) return fail(`unexpected common prefixes ${listing.prefixes.join(' ')}`);
    const got = new Map(listing.contents.map((c) => [c.key, c]));
    for (let slot = dir; slot < OWN_KEYS; slot += OWN_DIRS) {
      const key = ownKey(this.id, slot);
      const c = got.get(key);
      got.delete(key);
      if (this.uncertain.has(slot)) continue;
      const o = this.own[slot];
      if (o && !c) return fail(`${key} missing (it holds ${o.size} bytes)`);
      if (!o && c) return fail(`${key} listed, but it was deleted`);
      if (o && c && (c.etag !== o.md5 || c.size !== o.size)) return fail(`${key}: Size ${c.size} ETag ${c.etag}, expected ${o.size} ${o.md5}`);
    }
    if (got.size) return fail(`keys never written: ${[...got.keys()].join(' ')}`);
    return { outcome: 'ok', bytes: r.bytes };
  }
}

// ── The server's heap ─────────────────────────────────────────────────────

/**
 * Preloaded into the server as a data: URL (nothing to install, nothing in
 * src/): a GC observer that, after every major (mark-compact) collection,
 * notes the time and the bytes still in use outside the young generation —
 * what survived. On SIGUSR2 it writes the notes gathered since the last
 * signal to stderr as one JSON line. That series is the leak signal that RSS,
 * with megabytes of request buffers coming and going, is too noisy to give.
 *
 * Why not force a collection (--expose-gc, gc()) at the start and at the
 * end: one forced full GC after the warm-up made the server spend about 3×
 * the GC time per request for the rest of the run (server CPU per request
 * 1.8 → 3.5 ms in A/B runs of 45 s on this machine); watching the
 * collections V8 does anyway changes nothing measurable.
 */
const GC_OBSERVER = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
const notes = [];
const survived = () => {
  let bytes = 0;
  for (const s of v8.getHeapSpaceStatistics()) {
    if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') bytes += s.space_used_size;
  }
  return bytes;
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) notes.push([Date.now(), survived()]);
  }
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  process.stderr.write(JSON.stringify({ soakMajorGcs: notes.splice(0) }) + '\\n');
});`;
const GC_OBSERVER_ARGS = ['--import', `data:text/javascript,${encodeURIComponent(GC_OBSERVER)}`];

/** The server's major collections since the last call: [epoch ms, bytes surviving outside the young generation]. */
async function majorGcs(server: TestServer): Promise<Array<[number, number]>> {
  const from = server.log().length;
  server.process.kill('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const line = server
      .log()
      .slice(from)
      .split('\n')
      .slice(0, -1) // only complete lines
      .find((l) => l.startsWith('{"soakMajorGcs":'));
    if (line) return (JSON.parse(line) as { soakMajorGcs: Array<[number, number]> }).soakMajorGcs;
  }
  throw new BenchFailure('the server did not answer the GC observer (SIGUSR2) within 10 s');
}

/**
 * Stops the server and removes its data directory. A server that died on its
 * own leaves its embedded Postgres running: that one is stopped here too
 * (fast shutdown), found by the postmaster.pid in the data directory.
 */
async function stopServer(server: TestServer | undefined): Promise<void> {
  if (!server) return;
  if (serverGone !== undefined) {
    const pgPid = Number(readFileSafe(path.join(server.dataDir, 'pg', 'postmaster.pid')).split('\n')[0]);
    if (pgPid > 0 && readFileSafe(`/proc/${pgPid}/cmdline`).includes(server.dataDir)) {
      process.kill(pgPid, 'SIGINT');
      for (let i = 0; i < 100 && readFileSafe(`/proc/${pgPid}/cmdline`); i++) await new Promise((r) => setTimeout(r, 100));
    }
  }
  await server.stop();
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// ── The run ───────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  let server: TestServer | undefined;
  let stopping: Promise<unknown> | undefined;
  const cleanup = () => (stopping ??= stopServer(server));
  onInterrupt(cleanup);

  try {
    const runStarted = performance.now();
    console.log(`aerostore soak — ${machineSummary()}`);
    console.log(
      `${CLIENTS} clients for ${fmtClock(DURATION_MS)} (after a ${fmt(WARMUP_MS / 1000)} s warm-up); mix ${MIX.map(([op, w]) => `${op} ${w} %`).join(', ')}; ` +
        `sizes log-uniform ${fmtBytes(MIN_SIZE)}–${fmtBytes(MAX_SIZE)} (mean ${fmtBytes(MEAN_SIZE)}); ` +
        `${OWN_KEYS} own keys per client + ${SHARED_KEYS} shared (live data ≤ ${fmtBytes((OWN_KEYS * CLIENTS + SHARED_KEYS) * MEAN_SIZE)} on average); seed ${SEED}`,
    );
    const loadAtStart = loadSummary();
    console.log(`${loadAtStart} at start\n`);

    server = await startTestServer({ nodeArgs: GC_OBSERVER_ARGS });
    const pid = server.process.pid!;
    const httpPort = Number(new URL(server.url).port);
    server.process.once('exit', (code, signal) => {
      serverGone = `exited (${signal ?? `code ${code}`})`;
      if (!wasInterrupted()) console.log(`\nthe server ${serverGone}: stopping the clients`);
    });
    const creds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
    await checkSignerAgainstSmithy(creds);
    const target: Target = { name: 'aerostore', base: new URL(server.url), signer: new FastSigner(creds) };
    {
      const agent = new http.Agent({ keepAlive: false });
      const r = await send(target, agent, 'PUT', `/${BUCKET}`, { payloadHash: EMPTY_SHA256 });
      if (r.status !== 200) throw new BenchFailure(describeFailure('PUT', `/${BUCKET}`, r));
    }
    const pool = makePool(SEED, MAX_SIZE + MiB);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i, target, pool));
    const dataDir = server.dataDir;

    const progress = async (phase: Phase) => {
      // Everything but the disk walk is read at once, before the requests of the next window arrive.
      const now = performance.now();
      const window = phase.takeWindow();
      const head =
        `[${fmtClock(now - runStarted).padStart(5)}] ${phase.name.padEnd(7)} ${fmtClock(now - phase.startedAt).padStart(5)}` +
        `  requests ${fmt(phase.requests).padStart(8)}  ${fmt(window.latencies.length / (window.ms / 1000), 1).padStart(6)} req/s` +
        `  errors ${fmt(phase.errors)}  p99 ${fmtMs(percentile(window.latencies, 0.99)).padStart(5)} ms` +
        `  rss ${fmt(memoryOf(pid).rssMiB).padStart(4)} MiB  fds ${String(openFds(pid, httpPort).total).padStart(3)}`;
      const disk = await diskUsage(dataDir);
      console.log(`${head}  data ${fmtBytes(disk.total)}`);
    };

    const runPhase = async (phase: Phase, ms: number, onStart?: () => void) => {
      phase.startedAt = performance.now();
      onStart?.();
      const deadline = phase.startedAt + ms;
      const ticker = setInterval(() => void progress(phase), PROGRESS_MS);
      await Promise.all(clients.map((c) => c.run(phase, deadline)));
      clearInterval(ticker);
      phase.endedAt = performance.now();
      for (const c of clients) c.disconnect();
      if (serverGone !== undefined && !wasInterrupted()) throw new BenchFailure(`the server ${serverGone} during the ${phase.name}`);
    };

    /** Waits for the descriptor count to hold still (1 s polls), then returns it. */
    const settle = async (maxMs: number, until?: (n: number) => boolean) => {
      const t0 = performance.now();
      const counts: number[] = [];
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const fds = openFds(pid, httpPort);
        counts.push(fds.total);
        const last = counts.slice(-SETTLE_STABLE_POLLS);
        const stable = last.length === SETTLE_STABLE_POLLS && last.every((c) => c === fds.total);
        if ((stable && (!until || until(fixedFds(fds)))) || performance.now() - t0 > maxMs) break;
      }
      const rssMiB = memoryOf(pid).rssMiB; // before the forced GC below
      return { fds: openFds(pid, httpPort), rssMiB, descendants: descendantCount(pid), idleMs: performance.now() - t0 };
    };

    // Warm-up: JIT, the Postgres pools, the MD5 workers, the page cache; counted for errors only.
    const warmup = new Phase('warm-up');
    await runPhase(warmup, WARMUP_MS);
    if (wasInterrupted()) return;
    const before = await settle(SETTLE_MAX_MS);
    console.log(
      `\nafter the warm-up, ${fmt(before.idleMs / 1000)} s idle: rss ${fmt(before.rssMiB, 1)} MiB, ` +
        `${before.fds.total} open descriptors (${fdKinds(before.fds.kinds)}), ${before.descendants} processes below the server;\n`,
    );

    // The measured phase, with the RSS sampled every 2 s.
    const soak = new Phase('soak');
    const samples: Array<{ x: number; y: number }> = [];
    let sampler: NodeJS.Timeout | undefined;
    await majorGcs(server); // drops the warm-up's
    const cpu0 = cpuOfTree(pid);
    const client0 = process.cpuUsage();
    let epoch0 = 0;
    await runPhase(soak, DURATION_MS, () => {
      epoch0 = Date.now();
      // The first sample comes one interval in: the idle figure before it is reported apart.
      const sample = () => samples.push({ x: (performance.now() - soak.startedAt) / 60_000, y: memoryOf(pid).rssMiB });
      sampler = setInterval(sample, RSS_SAMPLE_MS);
    });
    const epoch1 = Date.now();
    clearInterval(sampler);
    if (wasInterrupted()) return;
    const cpu1 = cpuOfTree(pid);
    const client1 = process.cpuUsage(client0);
    const loadAtEnd = loadSummary();
    const gcs = (await majorGcs(server))
      .filter(([t]) => t >= epoch0 && t <= epoch1)
      .map(([t, bytes]) => ({ x: (t - epoch0) / 60_000, y: bytes / MiB }));

    let after = await settle(SETTLE_MAX_MS);
    if (fixedFds(after.fds) !== fixedFds(before.fds)) {
      console.log(`\n${fixedFds(after.fds)} open descriptors besides Postgres connections after ${fmt(after.idleMs / 1000)} s idle (${fixedFds(before.fds)} at the start): waiting up to ${SETTLE_GROWN_MAX_MS / 1000} s for them to settle`);
      const more = await settle(SETTLE_GROWN_MAX_MS, (n) => n === fixedFds(before.fds));
      after = { ...more, idleMs: after.idleMs + more.idleMs };
    }
    const disk = await diskUsage(dataDir);
    // Leaks on disk: every object is one blob file (all bodies differ), and nothing stays in tmp/.
    const objects = await countObjects(target);
    const blobFiles = await countFiles(path.join(dataDir, 'blobs'));
    const tempFiles = await countFiles(path.join(dataDir, 'tmp'));
    const logged = loggedProblems(server.log());

    // ── Summary ──
    const elapsedS = (soak.endedAt - soak.startedAt) / 1000;
    console.log(`\nSoak: ${CLIENTS} clients, ${fmt(elapsedS)} s measured; latency in ms from request start to the last response byte.\n`);
    const rows = OPS.map((op) => {
      const s = soak.ops.get(op)!;
      const lat = s.latencies.sort((a, b) => a - b);
      return [op, fmt(s.count), fmt(s.errors), fmt(s.expected404), fmtBytes(s.bytes), fmtMs(percentile(lat, 0.5)), fmtMs(percentile(lat, 0.99)), fmtMs(lat[lat.length - 1] ?? NaN)];
    });
    const all = OPS.flatMap((op) => soak.ops.get(op)!.latencies).sort((a, b) => a - b);
    const totalBytes = OPS.reduce((s, op) => s + soak.ops.get(op)!.bytes, 0);
    rows.push(['all', fmt(soak.requests), fmt(soak.errors), fmt(OPS.reduce((s, op) => s + soak.ops.get(op)!.expected404, 0)), fmtBytes(totalBytes), fmtMs(percentile(all, 0.5)), fmtMs(percentile(all, 0.99)), fmtMs(all[all.length - 1] ?? NaN)]);
    console.log(table(['operation', 'requests', 'errors', '404 (expected)', 'bytes moved', 'p50', 'p99', 'max'], rows));

    const rssValues = samples.map((s) => s.y);
    const half = samples.filter((s) => s.x >= samples[samples.length - 1].x / 2);
    const slopeAll = slope(samples);
    const slopeHalf = slope(half);
    const fmtSlope = (s: { slope: number; se: number }) => `${fmt(s.slope, 2)} ± ${fmt(2 * s.se, 2)}`;
    const phaseMin = (epoch1 - epoch0) / 60_000;
    const edge = Math.min(1, phaseMin / 4);
    const firstMinute = gcs.filter((g) => g.x < edge).map((g) => g.y * MiB);
    const lastMinute = gcs.filter((g) => g.x >= phaseMin - edge).map((g) => g.y * MiB);
    const heapAll = slope(gcs);
    const heapHalf = slope(gcs.filter((g) => g.x >= phaseMin / 2));
    const facts: Array<[string, string]> = [
      ['requests / s', `${fmt(soak.requests / elapsedS, 1)} (${fmtBytes(totalBytes / elapsedS)}/s); warm-up: ${fmt(warmup.requests)} requests, ${fmt(warmup.errors)} errors`],
      ['errors', `${fmt(totalErrors)}`],
      [
        'CPU per request: server / its Postgres / this client',
        `${fmtMs((cpu1.root - cpu0.root) / soak.requests)} / ${fmtMs((cpu1.descendants - cpu0.descendants) / soak.requests)} / ${fmtMs((client1.user + client1.system) / 1000 / soak.requests)} ms ` +
          `(server ${fmt((cpu1.root - cpu0.root) / 1000 / elapsedS * 100)} % of a core)`,
      ],
      ['server RSS, idle after warm-up', `${fmt(before.rssMiB, 1)} MiB`],
      ['server RSS, idle at the end', `${fmt(after.rssMiB, 1)} MiB`],
      [
        `V8 heap surviving major GCs, first / last ${edge < 1 ? `${fmt(edge * 60)} s` : 'minute'}`,
        `${fmt(median(firstMinute) / MiB, 1)} / ${fmt(median(lastMinute) / MiB, 1)} MiB (medians; ${gcs.length} major GCs in the phase)`,
      ],
      ['its slope, whole phase / second half', `${fmtSlope(heapAll)} / ${fmtSlope(heapHalf)} MiB per minute (± 2 standard errors)`],
      ['server RSS under load, first / last sample', `${fmt(rssValues[0], 1)} / ${fmt(rssValues[rssValues.length - 1], 1)} MiB`],
      ['server RSS, peak', `${fmt(Math.max(...rssValues), 1)} MiB sampled every ${RSS_SAMPLE_MS / 1000} s (VmHWM, whole run: ${fmt(memoryOf(pid).peakMiB, 1)} MiB)`],
      ['RSS slope, whole phase / second half', `${fmtSlope(slopeAll)} / ${fmtSlope(slopeHalf)} MiB per minute (± 2 standard errors; ${samples.length} samples)`],
      ['open descriptors besides Postgres connections, start → end', `${fixedFds(before.fds)} → ${fixedFds(after.fds)}`],
      ['open descriptors, start → end', `${before.fds.total} → ${after.fds.total} (start: ${fdKinds(before.fds.kinds)}; end: ${fdKinds(after.fds.kinds)}; end counted after ${fmt(after.idleMs / 1000)} s idle)`],
      ['objects / blob files / temp files at the end', `${fmt(objects)} / ${fmt(blobFiles)} / ${fmt(tempFiles)}`],
      ['server log: warnings / errors', `${logged.warnings.length} / ${logged.errors.length}`],
      ['processes below the server, start → end', `${before.descendants} → ${after.descendants}`],
      ['data directory at the end', `${fmtBytes(disk.total)} (${Object.entries(disk.parts).filter(([, n]) => n >= 64 * KiB).map(([k, n]) => `${k} ${fmtBytes(n)}`).join(', ')})`],
      ['load average', `${loadAtStart.replace('load average ', '')} at start, ${loadAtEnd.replace('load average ', '')} at the end of the measured phase`],
      ['command', `npm run soak -- --duration ${flags.duration} --clients ${CLIENTS} --max-size ${flags['max-size']} --seed ${SEED}`],
    ];
    console.log('\n' + table(['measure', 'value'], facts.map(([k, v]) => [k, v]), 2));
    console.log(`\nTotal time ${fmt((performance.now() - runStarted) / 1000)} s.`);

    const problems: string[] = [];
    if (totalErrors > 0) problems.push(`${totalErrors} request(s) failed (the first are printed above)`);
    if (fixedFds(after.fds) !== fixedFds(before.fds)) problems.push(`open descriptors besides Postgres connections went from ${fixedFds(before.fds)} to ${fixedFds(after.fds)}`);
    if (blobFiles !== objects) problems.push(`${fmt(blobFiles)} blob files for ${fmt(objects)} objects (every body is unique: they should be equal)`);
    if (tempFiles > 0) problems.push(`${tempFiles} file(s) left in ${path.join(dataDir, 'tmp')}`);
    if (logged.errors.length > 0) problems.push(`the server logged ${logged.errors.length} error(s)`);
    for (const line of [...logged.errors, ...logged.warnings].slice(0, 5)) console.log(`  server log: ${line.slice(0, 400)}`);
    if (server.process.exitCode !== null || server.process.signalCode !== null) problems.push('the server exited during the run');
    if (problems.length) throw new BenchFailure(problems.join('; '));
    console.log('PASS: no failed requests, descriptors back where they started, no leftover files, no logged errors.');
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await cleanup();
  }
}

runBenchmark(main);
