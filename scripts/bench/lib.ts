// Shared pieces of the benchmarks: a tight SigV4 signer (checked against
// @smithy/signature-v4 at start), a keep-alive HTTP client over node:http,
// the baseline server process, /proc sampling (CPU, RSS) and statistics.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '../..');

export const UNSIGNED = 'UNSIGNED-PAYLOAD';

/** Set by onInterrupt(): the signal that is stopping the benchmark. */
let interruptedBy: string | undefined;
export const wasInterrupted = () => interruptedBy !== undefined;
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: BinaryLike): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding, as SigV4 canonicalisation wants it. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Encodes each segment of an object key for a path-style URL. */
export function encodeKey(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

export function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  return Object.keys(query)
    .map((k) => [uriEncode(k), uriEncode(query[k])] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * SigV4 header signing for path-style S3 requests, signing exactly host,
 * x-amz-content-sha256 and x-amz-date. About 10 µs a request; the signing
 * key is derived once per day.
 */
export class FastSigner {
  private keyDate = '';
  private key: Buffer = Buffer.alloc(0);

  constructor(
    private readonly creds: Credentials,
    private readonly region = 'us-east-1',
  ) {}

  sign(method: string, host: string, path: string, query: Record<string, string> | undefined, payloadHash: string, now = new Date()): Record<string, string> {
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const date = amzDate.slice(0, 8);
    if (date !== this.keyDate) {
      const kDate = createHmac('sha256', 'AWS4' + this.creds.secretAccessKey).update(date).digest();
      const kRegion = createHmac('sha256', kDate).update(this.region).digest();
      const kService = createHmac('sha256', kRegion).update('s3').digest();
      this.key = createHmac('sha256', kService).update('aws4_request').digest();
      this.keyDate = date;
    }
    const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
    const canonical = [
      method,
      path,
      queryString(query),
      `host:${host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${amzDate}\n`,
      signedHeaders,
      payloadHash,
    ].join('\n');
    const scope = `${date}/${this.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = createHmac('sha256', this.key).update(toSign).digest('hex');
    return {
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
      authorization: `AWS4-HMAC-SHA256 Credential=${this.creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
  }
}

class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key =
      secret === undefined || typeof secret === 'string'
        ? secret
        : ArrayBuffer.isView(secret)
          ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
          : Buffer.from(secret);
    this.hash = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

/** Throws unless FastSigner and @smithy/signature-v4 produce the same Authorization. */
export async function checkSignerAgainstSmithy(creds: Credentials): Promise<void> {
  const smithy = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: NodeSha256, uriEscapePath: false });
  const fast = new FastSigner(creds);
  const when = new Date('2026-03-04T05:06:07.890Z');
  const samples: Array<{ method: string; path: string; query?: Record<string, string>; hash: string }> = [
    { method: 'PUT', path: '/bench/' + encodeKey('4k/obj 1+(x)'), hash: sha256Hex('hello') },
    { method: 'GET', path: '/bench/64m/0', hash: EMPTY_SHA256 },
    { method: 'PUT', path: '/bench/big', hash: UNSIGNED },
    {
      method: 'GET',
      path: '/bench',
      query: { 'list-type': '2', prefix: 'd007/', delimiter: '/', 'continuation-token': 'djE6ZDAwMC9mMDA5OTk=' },
      hash: EMPTY_SHA256,
    },
  ];
  for (const s of samples) {
    const host = '127.0.0.1:9000';
    const mine = fast.sign(s.method, host, s.path, s.query, s.hash, when);
    const theirs = await smithy.sign(
      {
        method: s.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: s.path,
        query: s.query ?? {},
        headers: { host, 'x-amz-content-sha256': s.hash },
      },
      { signingDate: when },
    );
    if (theirs.headers.authorization !== mine.authorization) {
      throw new Error(`bench signer disagrees with @smithy/signature-v4 on ${s.method} ${s.path}:\n  ${mine.authorization}\n  ${theirs.headers.authorization}`);
    }
  }
}

export interface Target {
  name: string;
  base: URL;
  /** null: requests go unsigned (anonymous, or authenticated by a header such as a JWT bearer). */
  signer: FastSigner | null;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Bytes of the response body received. */
  bytes: number;
  /** The body, when kept (keepBody, or any status ≥ 300, first 64 KiB). */
  body?: Buffer;
}

/** A request with no bytes moving either way for this long fails (a hung server must not hang the bench). */
export const IDLE_TIMEOUT_MS = 30_000;

/**
 * One request over `agent`. PUT bodies are a Buffer written in one go; GET
 * bodies are counted and dropped unless keepBody.
 */
export function send(
  target: Target,
  agent: http.Agent,
  method: string,
  path: string,
  opts: { query?: Record<string, string>; body?: Buffer; payloadHash?: string; keepBody?: boolean; headers?: Record<string, string> } = {},
): Promise<Reply> {
  // After Ctrl-C no new requests: the servers drain what is in flight and stop.
  if (interruptedBy) return Promise.reject(new Error(`interrupted by ${interruptedBy}`));
  const qs = queryString(opts.query);
  const payloadHash = opts.payloadHash ?? (opts.body ? UNSIGNED : EMPTY_SHA256);
  const headers: Record<string, string | number> = {
    ...(target.signer ? target.signer.sign(method, target.base.host, path, opts.query, payloadHash) : {}),
    ...opts.headers,
  };
  if (opts.body) headers['content-length'] = opts.body.length;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.base.hostname, port: target.base.port, method, path: qs ? `${path}?${qs}` : path, headers, agent },
      (res) => {
        const status = res.statusCode ?? 0;
        const keep = opts.keepBody || status >= 300;
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (keep && (opts.keepBody || bytes <= 65536)) chunks.push(c);
        });
        res.on('end', () => resolve({ status, headers: res.headers, bytes, body: keep ? Buffer.concat(chunks) : undefined }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`${method} ${path}: response aborted`)));
      },
    );
    req.on('error', reject);
    req.setTimeout(IDLE_TIMEOUT_MS, () =>
      req.destroy(new Error(`${method} ${path}: no progress for ${IDLE_TIMEOUT_MS / 1000} s (server hung?)`)),
    );
    req.end(opts.body);
  });
}

/** A new access key of an ordinary user (role authenticated), made through the admin API as `root`. */
export async function createUserKey(root: Target, agent: http.Agent, userId: string): Promise<Credentials> {
  const body = Buffer.from(JSON.stringify({ user_id: userId, role: 'authenticated', name: 'bench' }));
  const r = await send(root, agent, 'POST', '/admin/v1/keys', {
    body,
    payloadHash: sha256Hex(body),
    headers: { 'content-type': 'application/json' },
    keepBody: true,
  });
  if (r.status !== 201) throw new BenchFailure(`creating a user key: ${describeFailure('POST', '/admin/v1/keys', r)}`);
  const key = JSON.parse(r.body?.toString() ?? '') as { access_key_id: string; secret_access_key: string };
  return { accessKeyId: key.access_key_id, secretAccessKey: key.secret_access_key };
}

/** Changes a bucket's policy and options through the admin API as `root`. */
export async function patchBucket(root: Target, agent: http.Agent, bucket: string, settings: Record<string, unknown>): Promise<void> {
  const body = Buffer.from(JSON.stringify(settings));
  const path = `/admin/v1/buckets/${bucket}`;
  const r = await send(root, agent, 'PATCH', path, { body, payloadHash: sha256Hex(body), headers: { 'content-type': 'application/json' } });
  if (r.status !== 200) throw new BenchFailure(`bucket settings: ${describeFailure('PATCH', path, r)}`);
}

export function describeFailure(method: string, path: string, r: Reply): string {
  const text = r.body?.toString('utf8').slice(0, 600) ?? '';
  return `${method} ${path} → ${r.status} ${text}`;
}

// ── The baseline: a minimal file server in a child process ────────────────

export interface ChildServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startBaselineServer(): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'baseline-server.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let dir = '';
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('baseline server did not start in 30 s')), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+) in (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        dir = m[2];
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baseline server exited with ${code}: ${out}`));
    });
  });
  child.stdout!.resume();
  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      // The server removes its directory itself; this covers a crash.
      if (dir.startsWith(os.tmpdir())) await rm(dir, { recursive: true, force: true });
    },
  };
}

// ── /proc: CPU time and memory of a process tree ──────────────────────────

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

interface ProcStat {
  ppid: number;
  /** utime + stime, ms. */
  self: number;
  /** cutime + cstime (reaped children), ms. */
  children: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ms = (i: number) => (Number(f[i]) * 1000) / CLK_TCK;
    return { ppid: Number(f[1]), self: ms(11) + ms(12), children: ms(13) + ms(14) };
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  /** CPU ms of the root process itself (all its threads). */
  root: number;
  /** CPU ms of all its descendants (for aerostore: the embedded Postgres), reaped ones included. */
  descendants: number;
}

/** CPU consumed so far by `pid` and by every process below it. */
export function cpuOfTree(pid: number): CpuSample {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const root = stats.get(pid);
  if (!root) return { root: 0, descendants: 0 };
  let descendants = root.children; // children already reaped by the root
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [child, s] of stats) {
      if (s.ppid !== parent) continue;
      descendants += s.self + s.children;
      queue.push(child);
    }
  }
  return { root: root.self, descendants };
}

/** VmHWM (peak resident set) and VmRSS of a process, in MiB. */
export function memoryOf(pid: number): { peakMiB: number; rssMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return { peakMiB: 0, rssMiB: 0 };
  }
}

/** Samples VmRSS every `ms` and keeps the maximum (VmHWM is the kernel's exact figure; this is a cross-check). */
export function rssSampler(pid: number, ms = 200): { stop(): number } {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, memoryOf(pid).rssMiB)), ms);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, memoryOf(pid).rssMiB);
    },
  };
}

// ── Statistics and tables ─────────────────────────────────────────────────

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** A Markdown table, columns padded so it also reads well in a terminal. */
export function table(header: string[], rows: string[][], rightAlignFrom = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i >= rightAlignFrom ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Environment for startTestServer that lets startPhaseProfile() take V8 CPU
 * profiles of the server (node's --cpu-prof is refused in NODE_OPTIONS, so a
 * preloaded module drives node:inspector on SIGUSR2).
 */
export function cpuProfileEnv(dir: string): Record<string, string> {
  const preload = path.join(BENCH_DIR, 'cpu-profiler.mjs');
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim(),
    AEROSTORE_BENCH_CPU_PROF_DIR: path.resolve(dir),
  };
}

/** Starts a CPU profile in a server started with cpuProfileEnv(dir); stop(name) writes DIR/<name>.cpuprofile. */
export async function startPhaseProfile(pid: number, dir: string): Promise<{ stop(name: string): Promise<string> }> {
  const abs = path.resolve(dir);
  const before = new Set(existsSync(abs) ? readdirSync(abs) : []);
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 50));
  return {
    async stop(name) {
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const fresh = (existsSync(abs) ? readdirSync(abs) : []).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
        if (fresh) {
          const target = path.join(abs, `${name}.cpuprofile`);
          renameSync(path.join(abs, fresh), target);
          return target;
        }
      }
      throw new Error(`no CPU profile appeared in ${abs} (was the server started with cpuProfileEnv?)`);
    },
  };
}

/** Runs `cleanup` and exits on SIGINT, SIGTERM or SIGHUP, so no server is left behind. */
export function onInterrupt(cleanup: () => Promise<unknown>): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interruptedBy = signal;
      console.error(`\n${signal}: stopping the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** The 1-minute load average: anything else running on the machine skews the figures. */
export function loadSummary(): string {
  return `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

export function machineSummary(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** A benchmark's own verdict (a wrong answer, a stalled request): reported without a stack. */
export class BenchFailure extends Error {}

/** After a failed run: the tail of the server's log and whether it died. */
export function reportServerFailure(server: { log?: () => string; process: ChildProcess } | undefined): void {
  const log = server?.log?.() ?? '';
  if (log && !wasInterrupted()) console.error(`\nlast lines of the aerostore log:\n${log.trimEnd().split('\n').slice(-15).join('\n')}`);
  const code = server?.process.exitCode ?? server?.process.signalCode;
  if (code !== null && code !== undefined) console.error(`the aerostore process has exited (${code})`);
}

/** Runs a benchmark's main and exits: 0 when it finished, 1 with the reason when it failed. */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`\nbenchmark failed: ${err instanceof BenchFailure ? err.message : ((err as Error)?.stack ?? err)}`);
      process.exit(1);
    },
  );
}
