// Shared helpers for the conformance scenarios: temp files of random bytes,
// running a real client with a clean environment and a timeout, SHA-256
// comparison, client configuration files written into a temp directory
// (never ~/.aws, ~/.config/rclone or ~/.s3cfg), and the step machinery that
// run.ts uses to print progress and failures.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { crc32 } from 'node:zlib';

// ---------------------------------------------------------------- types

export interface ServerInfo {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The data directory, when this run started the server: `aerostore sql` reaches its database. */
  dataDir?: string;
}

export interface FileInfo {
  path: string;
  size: number;
  sha256: string;
  md5: string;
}

export interface ScenarioContext {
  server: ServerInfo;
  /** A bucket name unique to this scenario (not yet created). */
  bucket: string;
  /** A fresh directory for this scenario, removed after the run. */
  work: string;
  /** A few KiB of random bytes. */
  small: FileInfo;
  /** 50 MiB of random bytes, shared by all scenarios (read-only). */
  big: FileInfo;
  /** Runs one named step; a throw fails the step and ends the scenario. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** A line of detail printed under the current step. */
  note(msg: string): void;
}

export interface Scenario {
  name: string;
  /** Skip reason if the client is not installed, else undefined. */
  unavailable?(): Promise<string | undefined>;
  run(ctx: ScenarioContext): Promise<void>;
}

/** What a failing step prints: the last thing it did on the wire or in a shell. */
export interface Transcript {
  command: string;
  code?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  detail?: string;
}

// Steps run strictly one after another, so one slot is enough.
let lastTranscript: Transcript | undefined;
export function recordTranscript(t: Transcript): void {
  lastTranscript = t;
}
export function takeTranscript(): Transcript | undefined {
  const t = lastTranscript;
  lastTranscript = undefined;
  return t;
}

// ---------------------------------------------------------------- files

/** Writes `size` random bytes to `file` (1 MiB at a time) and returns its digests. */
export async function randomFile(file: string, size: number): Promise<FileInfo> {
  await mkdir(path.dirname(file), { recursive: true });
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(1 << 20, size - done);
      const buf = randomBytes(n);
      sha.update(buf);
      md5.update(buf);
      await fh.write(buf);
      done += n;
    }
  } finally {
    await fh.close();
  }
  return { path: file, size, sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** Writes a small text or byte file, creating parent directories. */
export async function writeFileDeep(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** S3's x-amz-checksum-crc32: the big-endian CRC32, base64. */
export function crc32b64(data: Uint8Array): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data) >>> 0);
  return b.toString('base64');
}

export async function crc32File(file: string): Promise<string> {
  let c = 0;
  for await (const chunk of createReadStream(file)) c = crc32(chunk as Buffer, c);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(c >>> 0);
  return b.toString('base64');
}

/**
 * Writes `count` small files of random bytes (0 to 2 KiB) under `dir`, spread
 * over 10 subdirectories; returns their relative paths ('/'-separated) and SHA-256.
 */
export async function smallTree(dir: string, count: number): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const rel = `d${i % 10}/f${String(i).padStart(4, '0')}.bin`;
    const data = randomBytes((i * 37) % 2049);
    await writeFileDeep(path.join(dir, rel), data);
    files.set(rel, sha256(data));
  }
  return files;
}

/** Asserts that `dir` holds every file of `expected` (from smallTree) with the same bytes. */
export async function assertSameTree(dir: string, expected: Map<string, string>): Promise<void> {
  const wrong: string[] = [];
  for (const [rel, sum] of expected) {
    const got = await readFile(path.join(dir, rel)).then(sha256, () => 'missing');
    if (got !== sum) wrong.push(`${rel}: ${got === 'missing' ? 'missing' : 'bytes differ'}`);
  }
  if (wrong.length) throw new CheckFailed(`${wrong.length} of ${expected.size} files wrong under ${dir}:\n  ${wrong.slice(0, 20).join('\n  ')}`);
}

/** The ETag S3 gives `file` uploaded in parts of `partSize` bytes: MD5 of the part MD5s, then `-N`. */
export async function multipartEtag(file: string, partSize: number): Promise<string> {
  const sums: Buffer[] = [];
  let h = createHash('md5');
  let filled = 0;
  for await (const chunk of createReadStream(file)) {
    let buf = chunk as Buffer;
    while (buf.length > 0) {
      const n = Math.min(partSize - filled, buf.length);
      h.update(buf.subarray(0, n));
      filled += n;
      buf = buf.subarray(n);
      if (filled === partSize) {
        sums.push(h.digest());
        h = createHash('md5');
        filled = 0;
      }
    }
  }
  if (filled > 0) sums.push(h.digest());
  return `"${createHash('md5').update(Buffer.concat(sums)).digest('hex')}-${sums.length}"`;
}

/** Asserts that `file` holds exactly the bytes of `expected`. */
export async function assertSameFile(file: string, expected: FileInfo): Promise<void> {
  const got = await sha256File(file);
  if (got !== expected.sha256) {
    throw new CheckFailed(`${file}: SHA-256 ${got} differs from the uploaded ${path.basename(expected.path)} (${expected.sha256})`);
  }
}

// ---------------------------------------------------------------- assertions

/** A failed check (as opposed to a crash): the runner prints its message without a stack. */
export class CheckFailed extends Error {}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new CheckFailed(msg);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new CheckFailed(`${what}:\n  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`);
  }
}

/** A TagSet in key order (S3 does not promise an order), for comparisons. */
export function sortTags<T extends { Key?: string }>(set: readonly T[] = []): T[] {
  return [...set].sort((a, b) => (a.Key! < b.Key! ? -1 : a.Key! > b.Key! ? 1 : 0));
}

/** S3 lists keys in UTF-8 byte order; JS sorts by UTF-16 code units, which differ above the BMP. */
export function byteOrder(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

// ---------------------------------------------------------------- processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

/** The environment every client runs with: no inherited AWS_* settings, a UTF-8 locale, HOME in the temp tree. */
export function clientEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^AWS_/.test(k) || /^(S3CMD|RCLONE)_/.test(k) || /^(https?|no|all)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  env.HOME = home; // whatever a client writes under ~ stays in the temp tree
  env.LANG = 'C.UTF-8';
  env.LC_ALL = 'C.UTF-8';
  env.PYTHONIOENCODING = 'utf-8';
  env.AWS_PAGER = '';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs a command; never throws for a non-zero exit (see runOk). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env as NodeJS.ProcessEnv | undefined, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL'); // only this child, by its handle
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (timedOut ? `\n[killed after ${timeoutMs} ms timeout]` : ''),
        ms: Date.now() - started,
      };
      recordTranscript({ command: shellQuote([cmd, ...args]), code, signal, stdout: r.stdout, stderr: r.stderr });
      resolve(r);
    });
    child.stdin.end(opts.input ?? '');
  });
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`command failed (exit ${result.code ?? result.signal}): ${command}`);
  }
}

/** Runs a command and throws CommandError unless it exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(shellQuote([cmd, ...args]), r);
  return r;
}

/** Runs a command that must fail (exit non-zero); returns its result. */
export async function runFails(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code === 0) throw new CommandError(shellQuote([cmd, ...args]) + '   (expected to fail, but it exited 0)', r);
  return r;
}

// ---------------------------------------------------------------- client configuration files

/** The port-less host:port of the server URL, for s3cmd. */
export function hostPort(url: string): string {
  return new URL(url).host;
}

/**
 * aws-cli: a config and a credentials file, used through AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE. Multipart settings are aws-cli's defaults
 * (8 MiB threshold and parts): the 50 MiB file goes up as a multipart upload.
 */
export async function writeAwsConfig(dir: string, s: ServerInfo): Promise<Record<string, string>> {
  const config = path.join(dir, 'aws-config');
  const credentials = path.join(dir, 'aws-credentials');
  await writeFileDeep(
    config,
    [
      '[default]',
      `region = ${s.region}`,
      'output = json',
      // Test strictness only: a retried 5xx would hide a server bug.
      'retry_mode = standard',
      'max_attempts = 1',
      // As in docs/clients.md:
      's3 =',
      '  addressing_style = path',
      '',
    ].join('\n'),
  );
  await writeFileDeep(
    credentials,
    ['[default]', `aws_access_key_id = ${s.accessKeyId}`, `aws_secret_access_key = ${s.secretAccessKey}`, ''].join('\n'),
  );
  return { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials };
}

/**
 * rclone: one remote named `aero`, rclone's defaults otherwise (files above
 * upload_cutoff = 200M go up in multipart uploads).
 */
export async function writeRcloneConfig(dir: string, s: ServerInfo): Promise<string> {
  const file = path.join(dir, 'rclone.conf');
  await writeFileDeep(
    file,
    [
      '[aero]',
      'type = s3',
      'provider = Other',
      `access_key_id = ${s.accessKeyId}`,
      `secret_access_key = ${s.secretAccessKey}`,
      `region = ${s.region}`,
      `endpoint = ${s.url}`,
      'force_path_style = true',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * s3cmd: path-style because host_bucket has no %(bucket)s; SigV4; plain
 * http. Multipart as s3cmd's default: files above 15 MiB go up in 15 MiB parts.
 */
export async function writeS3cmdConfig(dir: string, s: ServerInfo): Promise<string> {
  const file = path.join(dir, 's3cfg');
  const host = hostPort(s.url);
  await writeFileDeep(
    file,
    [
      '[default]',
      `access_key = ${s.accessKeyId}`,
      `secret_key = ${s.secretAccessKey}`,
      `host_base = ${host}`,
      '# No %(bucket)s here: that makes s3cmd use path-style URLs.',
      `host_bucket = ${host}`,
      `bucket_location = ${s.region}`,
      'use_https = False',
      'signature_v2 = False',
      // Test strictness only: a retried 5xx would hide a server bug.
      'max_retries = 1',
      '',
    ].join('\n'),
  );
  return file;
}

// ---------------------------------------------------------------- misc

export function truncate(s: string, max = 6000): string {
  if (s.length <= max) return s;
  return s.slice(0, max / 2) + `\n… [${s.length - max} characters cut] …\n` + s.slice(-max / 2);
}

/** The keys every scenario puts for the listing checks (besides blobs/small.bin and blobs/big.bin). */
/** Space, '+', non-ASCII and a character outside the BMP (4 bytes in UTF-8, a surrogate pair in JS). */
export const WEIRD_KEY = 'sp ace+plus ünï€ 😀.txt';
/** Every character that URL and SigV4 encoders treat differently, and a literal "%2F". */
export const ODD_KEY = "odd !'()*~=&$@,;:#?[]%2F%.txt";
export const LIST_KEYS = ['dir/a.txt', 'dir/sub/b.txt', ODD_KEY, 'other.txt', WEIRD_KEY] as const;
/** What a root listing with delimiter '/' must show. */
export const ROOT_LISTING = {
  keys: [ODD_KEY, 'other.txt', WEIRD_KEY],
  prefixes: ['blobs/', 'dir/'],
};
/** What prefix 'dir/' with delimiter '/' must show. */
export const DIR_LISTING = {
  keys: ['dir/a.txt'],
  prefixes: ['dir/sub/'],
};
/** Every key a scenario uploads before its listing checks, in S3 (UTF-8 byte) order. */
export const ALL_KEYS = byteOrder(['blobs/small.bin', 'blobs/big.bin', ...LIST_KEYS]);

/** Content of a listing key: short text, distinct per key. */
export function listKeyBody(key: string): string {
  return `content of ${key}\n`;
}
