// Hostile input against one live server (issue 7): bodies that disagree with
// their framing, connections cut mid-body and mid-chunk, malformed aws-chunked
// framing and chunk signatures, headers, URLs and keys at and past every
// limit, XML with DOCTYPEs, entities, depth and bulk, JSON bombs, every field
// of a signature tampered with, expired presigned URLs, and slow clients.
//
// Each refusal must be a clear protocol error (S3 XML, /storage/v1 JSON, or
// the HTTP parser's own 4xx for what never became a request), never a 5xx.
// After each group: the server is alive, a background "canary" client kept
// doing PUT + GET throughout, <data>/tmp is empty and no object exists under
// a refused key. At the end the server's log holds no error-level entry.
//
// Timeouts: the server reaps slow headers (AEROSTORE_HEADERS_TIMEOUT_MS),
// silent sockets (AEROSTORE_IDLE_TIMEOUT_MS) and trickled bodies
// (AEROSTORE_MIN_BODY_RATE over AEROSTORE_MIN_BODY_RATE_WINDOW_MS); this suite
// runs its server with them shortened, so the reaping is asserted in seconds
// (docs/hostile-input.md).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { chunkedBody, chunkSigningOf, serialize, split, type ChunkedBody } from './support/aws-chunked.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { signPostPolicy } from './support/post-policy.ts';
import { presign } from './support/principals.ts';
import { RawConnection, rawRequest, requestHead, type RawOutcome } from './support/raw-http.ts';
import { errorCode, xmlValues } from './support/s3-xml.ts';
import { encodeKey, S3RawClient, sendRaw, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = randomBytes(32).toString('base64url');
const BUCKET = 'hostile';
const CANARY_BUCKET = 'hostile-canary';
/** Every key a test expects to be refused lives under this prefix: none may ever exist. */
const REFUSED = 'refused/';
/** The server's connection limits, shortened (src/http/app.ts ServerLimits; the defaults are 30 s, 120 s, 1 KiB/s over 60 s). */
const HEADERS_TIMEOUT_MS = 4_000;
const CHECK_INTERVAL_MS = 1_000;
const IDLE_TIMEOUT_MS = 15_000;
const MIN_BODY_RATE = 200;
const MIN_BODY_RATE_WINDOW_MS = 4_000;

let srv: TestServer;
let base: URL;
let root: S3RawClient;
let sql: postgres.Sql;
let canary: Canary;
let serviceJwt: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- the canary

/** Another client, on its own connections, doing small PUT + GET round trips for as long as the suite runs. */
class Canary {
  rounds = 0;
  readonly failures: string[] = [];
  maxLatencyMs = 0;
  private running = true;
  private readonly loop: Promise<void>;
  private readonly client: S3RawClient;

  constructor(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
    this.client = new S3RawClient(endpoint, credentials);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let i = 0;
    while (this.running) {
      const started = Date.now();
      const key = `c-${i++ % 16}`;
      const body = randomBytes(256);
      try {
        const put = await withTimeout(this.client.send({ method: 'PUT', path: `/${CANARY_BUCKET}/${key}`, body }), 10_000);
        if (put.status !== 200) throw new Error(`PUT ${put.status} ${put.body}`);
        const get = await withTimeout(this.client.send({ method: 'GET', path: `/${CANARY_BUCKET}/${key}` }), 10_000);
        if (get.status !== 200 || !get.body.equals(body)) throw new Error(`GET ${get.status}`);
        this.rounds++;
      } catch (err) {
        this.failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - started);
      await sleep(25);
    }
  }

  /** Resolves once a round trip that started after this call has completed. */
  async nextRound(timeoutMs = 15_000): Promise<void> {
    const target = this.rounds + 2;
    const deadline = Date.now() + timeoutMs;
    while (this.rounds < target) {
      if (Date.now() > deadline) throw new Error(`the canary made no progress in ${timeoutMs} ms (failures: ${this.failures.join('; ')})`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

// ---------------------------------------------------------------- helpers

const text = (res: { body: Buffer }) => res.body.toString();

/** A refusal with one of `codes` (S3 XML) and a 4xx status. */
function assertS3Error(res: { status: number; body: Buffer } | undefined, status: number, codes: string | string[], what = ''): void {
  assert.ok(res, `${what}: no response`);
  const expected = Array.isArray(codes) ? codes : [codes];
  assert.equal(res.status, status, `${what}: ${res.status} ${text(res)}`);
  const code = errorCode(res.body);
  assert.ok(code !== undefined && expected.includes(code), `${what}: code ${code}, expected ${expected.join(' | ')}: ${text(res)}`);
}

/** A /storage/v1 JSON error with this status and code. */
function assertJsonError(res: RawResponse, status: number, code: string, what = ''): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${text(res)}`);
  const body = JSON.parse(text(res)) as { statusCode: string; error: string; message: string };
  assert.equal(body.error, code, `${what}: ${text(res)}`);
  assert.equal(body.statusCode, String(status), what);
}

/** What a raw exchange must not be: a success, or a server failure. */
function assertNotAccepted(o: RawOutcome, what: string): void {
  if (o.response) {
    assert.ok(o.response.status >= 400 && o.response.status < 500, `${what}: ${o.response.status} ${o.response.body}`);
  } else {
    assert.ok(o.closed, `${what}: neither answered nor closed`);
  }
}

/** The signed request head for a raw socket: `headers` are signed (x-amz-content-sha256 as given, else the body's hash). */
async function signedHead(
  method: string,
  wirePath: string,
  opts: {
    headers?: Record<string, string>;
    body?: Buffer;
    query?: Record<string, string>;
    signPath?: string;
    unsignedHeaders?: Record<string, string | number>;
  } = {},
): Promise<{ head: string; headers: Record<string, string> }> {
  const signed = await root.sign({ method, path: opts.signPath ?? wirePath, query: opts.query, headers: opts.headers, body: opts.body });
  const query = signed.path.includes('?') ? signed.path.slice(signed.path.indexOf('?')) : '';
  const headers = { ...signed.headers, ...(opts.unsignedHeaders as Record<string, string>) };
  return { head: requestHead(method, wirePath + query, headers), headers: signed.headers };
}

async function objectExists(bucket: string, key: string): Promise<boolean> {
  const rows = await sql`select 1 from storage.objects o join storage.buckets b on b.id = o.bucket_uuid where b.name = ${bucket} and o.key = ${key}`;
  return rows.length > 0;
}

async function tmpFiles(): Promise<string[]> {
  return readdir(path.join(srv.dataDir, 'tmp'));
}

/** <data>/tmp drains: a refused body's temp file is removed as the request ends (give it a moment). */
async function assertTmpEmpty(): Promise<void> {
  let files: string[] = [];
  for (let i = 0; i < 50; i++) {
    files = await tmpFiles();
    if (files.length === 0) return;
    await sleep(100);
  }
  const sizes = await Promise.all(files.map(async (f) => `${f} (${(await stat(path.join(srv.dataDir, 'tmp', f))).size} bytes)`));
  assert.deepEqual(sizes, [], 'temp files left in <data>/tmp');
}

/** The checks that close every group. */
async function assertUnharmed(): Promise<void> {
  assert.equal(srv.process.exitCode, null, 'the server exited');
  assert.equal(srv.process.signalCode, null, 'the server was killed');
  const live = await fetch(new URL('/health/live', srv.url));
  assert.equal(live.status, 200);
  await canary.nextRound();
  assert.deepEqual(canary.failures, [], 'the canary failed');
  await assertTmpEmpty();
  const refused = await sql<{ name: string; key: string }[]>`select b.name, o.key from storage.objects o
    join storage.buckets b on b.id = o.bucket_uuid where o.key like ${REFUSED + '%'}`;
  assert.deepEqual(refused.map((r) => `${r.name}/${r.key}`), [], 'objects were stored under refused keys');
}

async function put(key: string, body: string | Buffer = 'x', headers: Record<string, string> = {}): Promise<RawResponse> {
  return root.send({ method: 'PUT', path: `/${BUCKET}/${encodeKey(key)}`, body: typeof body === 'string' ? Buffer.from(body) : body, headers });
}

function storageApi(method: string, p: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  const length: Record<string, string> = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return sendRaw(base, method, `/storage/v1${p}`, { host: base.host, authorization: `Bearer ${serviceJwt}`, 'content-type': 'application/json', ...length, ...headers }, body);
}

// ---------------------------------------------------------------- lifecycle

before(async () => {
  srv = await startTestServer({
    env: {
      AEROSTORE_JWT_SECRET: JWT_SECRET,
      AEROSTORE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      AEROSTORE_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      AEROSTORE_MIN_BODY_RATE: String(MIN_BODY_RATE),
      AEROSTORE_MIN_BODY_RATE_WINDOW_MS: String(MIN_BODY_RATE_WINDOW_MS),
    },
  });
  base = new URL(srv.url);
  root = new S3RawClient(srv.url, srv);
  sql = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 2, onnotice: () => {} });
  for (const b of [BUCKET, CANARY_BUCKET]) assert.equal((await root.send({ method: 'PUT', path: `/${b}` })).status, 200);
  serviceJwt = await new SignJWT({ role: 'service_role', sub: '00000000-0000-4000-8000-000000000007' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
  canary = new Canary(srv.url, srv);
  await canary.nextRound();
});

after(async () => {
  await canary?.stop();
  await sql?.end({ timeout: 5 });
  await srv?.stop();
});

// ---------------------------------------------------------------- Content-Length

describe('bodies that disagree with Content-Length', () => {
  it('shorter, then the client half-closes: not stored, no temp file left', async () => {
    const key = `${REFUSED}short-fin`;
    const { head } = await signedHead('PUT', `/${BUCKET}/${key}`, {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '1000' },
    });
    const o = await rawRequest(base, Buffer.concat([Buffer.from(head), Buffer.alloc(10, 'a')]), { halfClose: true });
    assertNotAccepted(o, 'short body + FIN');
    assert.equal(await objectExists(BUCKET, key), false);
  });

  it('shorter, then the connection is cut: not stored', async () => {
    const key = `${REFUSED}short-cut`;
    const { head } = await signedHead('PUT', `/${BUCKET}/${key}`, {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(1 << 20) },
    });
    const conn = new RawConnection(base);
    await conn.connected;
    await conn.write(head);
    await conn.write(randomBytes(300_000));
    await sleep(200);
    conn.destroy();
    await sleep(200);
    assert.equal(await objectExists(BUCKET, key), false);
  });

  it('longer, unsigned payload: the object is exactly the first Content-Length bytes', async () => {
    const key = 'accepted/long-unsigned';
    const { head } = await signedHead('PUT', `/${BUCKET}/${key}`, {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '5' },
    });
    // The excess is the start of a next request that never completes.
    const o = await rawRequest(base, head + 'hello' + 'GET /and-more');
    assert.equal(o.response?.status, 200, String(o.response?.body));
    assert.equal(text(await root.send({ method: 'GET', path: `/${BUCKET}/${key}` })), 'hello');
  });

  it('longer, with the hash of every byte signed: 400 XAmzContentSHA256Mismatch, not stored', async () => {
    const key = `${REFUSED}long-signed`;
    const all = Buffer.from('helloGET /and-more');
    const { head } = await signedHead('PUT', `/${BUCKET}/${key}`, { headers: { 'x-amz-content-sha256': sha256hex(all), 'content-length': '5' } });
    const o = await rawRequest(base, Buffer.concat([Buffer.from(head), all]));
    assertS3Error(o.response, 400, 'XAmzContentSHA256Mismatch', 'longer signed body');
  });

  it('longer, the excess a malformed next request: 400 from the HTTP parser, closed; the object is absent or exactly the declared bytes', async () => {
    const key = 'accepted/long-garbage';
    const { head } = await signedHead('PUT', `/${BUCKET}/${key}`, {
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '5' },
    });
    const conn = new RawConnection(base);
    await conn.connected;
    await conn.write(head + 'hello' + 'GARBAGE THAT IS NOT A REQUEST\r\n\r\n');
    const o = await conn.closed(5_000);
    assert.ok(o.closed, 'the connection stays open after a malformed request');
    // Node answers the malformed request at once and drops the connection,
    // so the PUT's own answer may be lost (see the report of issue 7).
    assert.match(conn.bytes.toString('latin1'), /HTTP\/1\.1 400 Bad Request/);
    await sleep(200);
    const get = await root.send({ method: 'GET', path: `/${BUCKET}/${key}` });
    if (get.status === 200) assert.equal(text(get), 'hello');
    else assertS3Error(get, 404, 'NoSuchKey');
  });

  it('Content-Length with Transfer-Encoding, or a malformed or doubled Content-Length: the HTTP parser refuses (400) and closes', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['CL + TE (smuggling)', { 'content-length': '5', 'transfer-encoding': 'chunked' }],
      ['non-numeric CL', { 'content-length': 'five' }],
      ['negative CL', { 'content-length': '-5' }],
    ];
    for (const [what, extra] of cases) {
      const head = requestHead('PUT', `/${BUCKET}/${REFUSED}framing`, { host: base.host, ...extra });
      const o = await rawRequest(base, head + 'hello');
      assert.equal(o.response?.status, 400, `${what}: ${o.response?.status}`);
      assert.ok(o.closed, `${what}: connection left open`);
    }
    const doubled = `PUT /${BUCKET}/${REFUSED}framing HTTP/1.1\r\nhost: ${base.host}\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!`;
    const o = await rawRequest(base, doubled);
    assert.equal(o.response?.status, 400, 'two different Content-Lengths');
  });

  it('Expect: 100-continue on a refused upload: the error comes first, no 100, and the connection closes', async () => {
    const head = requestHead('PUT', `/${BUCKET}/${REFUSED}expect`, {
      host: base.host,
      'content-length': String(1 << 30),
      expect: '100-continue',
    });
    const o = await rawRequest(base, head);
    assertS3Error(o.response, 403, 'AccessDenied', 'anonymous PUT with Expect');
    assert.doesNotMatch(o.response!.body.toString(), /100 Continue/);
    assert.ok(!/^HTTP\/1\.1 100/.test(o.rest.toString()), 'a 100 Continue was sent');
  });

  it('a client that sends its whole body before reading still gets the refusal (lingering close), then the connection closes', async () => {
    // Without Expect, a refused upload is answered before its body is read.
    // Closing then, with the body still arriving, resets the connection, and
    // a client that reads only after writing (as many simple ones do) got
    // EPIPE and no answer at all. The server now half-closes and discards the
    // rest of the body first.
    const BODY = 16 * 1024 * 1024;
    const naive = async (method: string, target: string, headers: Record<string, string>) => {
      const conn = new RawConnection(base);
      await conn.connected;
      conn.socket.pause();
      await conn.write(requestHead(method, target, { host: base.host, 'content-length': BODY, ...headers }));
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      for (let sent = 0; sent < BODY && !conn.socket.destroyed; sent += chunk.length) await conn.write(chunk);
      conn.socket.resume();
      const o = await conn.outcome(10_000);
      const closed = await conn.closed(5_000);
      conn.destroy();
      return { response: o.response, closed: closed.closed };
    };
    const anonymous = await naive('PUT', `/${BUCKET}/${REFUSED}naive`, {});
    assertS3Error(anonymous.response, 403, 'AccessDenied', 'anonymous PUT, body sent whole');
    assert.ok(anonymous.closed, 'connection closed after the refusal');
    const missing = await naive('PUT', `/no-such-bucket-here/${REFUSED}naive`, {});
    assertS3Error(missing.response, 404, 'NoSuchBucket', 'PUT into a missing bucket, body sent whole');
    const native = await naive('POST', `/storage/v1/object/${BUCKET}/${REFUSED}naive`, { 'content-type': 'text/plain' });
    assert.ok(native.response, '/storage/v1 anonymous upload: no answer');
    assert.equal(native.response.headers['content-type']?.split(';')[0], 'application/json');
    assert.ok(native.response.status >= 400 && native.response.status < 500, `/storage/v1: ${native.response.status}`);
    assert.ok(native.closed, '/storage/v1: connection closed after the refusal');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- aws-chunked

const CHUNK_DATA = randomBytes(8192 * 2 + 100);

/**
 * An aws-chunked PUT over a raw socket: headers signed (signed chunks or
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER), then the body built, broken by
 * `mutate`, and sent with its real Content-Length.
 */
async function chunkedPut(
  key: string,
  opts: {
    signed: boolean;
    trailer?: boolean;
    mutate?: (body: ChunkedBody) => void;
    headers?: Record<string, string>;
    /** Send only this many bytes, then cut the connection. */
    cutAt?: number;
    chunks?: Buffer[];
  },
): Promise<RawOutcome> {
  const chunks = opts.chunks ?? split(CHUNK_DATA, 8192);
  const data = Buffer.concat(chunks);
  const trailer = opts.trailer ?? !opts.signed;
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': opts.signed
      ? trailer
        ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
        : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
      : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'x-amz-decoded-content-length': String(data.length),
    ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
    ...opts.headers,
  };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const signed = await root.sign({ method: 'PUT', path: `/${BUCKET}/${key}`, headers });
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data));
  const body = chunkedBody(chunks, {
    signing: opts.signed ? chunkSigningOf(signed.headers, srv.secretAccessKey) : undefined,
    trailers: trailer ? [['x-amz-checksum-crc32', crc.toString('base64')]] : [],
  });
  opts.mutate?.(body);
  const bytes = serialize(body);
  const head = requestHead('PUT', signed.path, { ...signed.headers, 'content-length': bytes.length });
  if (opts.cutAt === undefined) return rawRequest(base, Buffer.concat([Buffer.from(head), bytes]));
  const conn = new RawConnection(base);
  await conn.connected;
  await conn.write(Buffer.concat([Buffer.from(head), bytes.subarray(0, opts.cutAt)]));
  await sleep(150);
  conn.destroy();
  return conn.closed(1000);
}

/**
 * An x-amz-date `ms` away from now, on today's UTC date (earlier when later
 * would cross midnight): a date that differs from the credential scope's is
 * AuthorizationHeaderMalformed (400) before any skew is looked at, and the
 * test failed between 23:40 and 00:00 UTC.
 */
function skewedSameDay(ms: number): string {
  const now = Date.now();
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const at = day(now + ms) === day(now) ? now + ms : now - ms;
  return new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Replaces one hex digit of a signature (keeps its length). */
const flipHex = (sig: string, at = 10) => sig.slice(0, at) + (sig[at] === '0' ? '1' : '0') + sig.slice(at + 1);

describe('aws-chunked framing and chunk signatures', () => {
  it('well-formed bodies are stored (controls): signed chunks, signed chunks + trailer, unsigned trailer', async () => {
    for (const [i, opts] of [{ signed: true, trailer: false }, { signed: true, trailer: true }, { signed: false }].entries()) {
      const o = await chunkedPut(`accepted/chunked-${i}`, opts);
      assert.equal(o.response?.status, 200, `${JSON.stringify(opts)}: ${o.response?.body}`);
      const get = await root.send({ method: 'GET', path: `/${BUCKET}/accepted/chunked-${i}` });
      assert.ok(get.body.equals(CHUNK_DATA), 'stored bytes differ');
    }
  });

  const framing: Array<[string, { signed: boolean; trailer?: boolean }, (b: ChunkedBody) => void, number, string]> = [
    ['a size that is not hex', { signed: false }, (b) => (b.frames[0].size = 'zz'), 400, 'IncompleteBody'],
    ['a size of 2^64 - 1', { signed: false }, (b) => (b.frames[0].size = 'ffffffffffffffff'), 400, 'IncompleteBody'],
    ['a size line of 5,000 characters', { signed: false }, (b) => (b.frames[0].size = '0'.repeat(4999) + '1'), 400, 'IncompleteBody'],
    ['no CRLF after a chunk', { signed: false }, (b) => (b.frames[0].terminator = ''), 400, 'IncompleteBody'],
    ['a size larger than the data sent', { signed: false }, (b) => (b.frames[2].size = 'fff'), 400, 'IncompleteBody'],
    ['no final chunk (body ends after the data)', { signed: false }, (b) => ((b.frames = b.frames.slice(0, -1)), (b.trailerLines = []), (b.closing = '')), 400, 'IncompleteBody'],
    ['a short chunk before the last', { signed: false }, (b) => b.frames.splice(1, 0, { size: '10', extension: '', data: Buffer.alloc(16), terminator: '\r\n' }), 403, 'InvalidChunkSizeError'],
    ['an undeclared trailer', { signed: false }, (b) => b.trailerLines.unshift('x-amz-meta-evil:1'), 400, 'MalformedTrailerError'],
    ['the declared trailer missing', { signed: false }, (b) => (b.trailerLines = []), 400, 'MalformedTrailerError'],
    ['a trailer line without a colon', { signed: false }, (b) => (b.trailerLines[0] = 'x-amz-checksum-crc32'), 400, 'MalformedTrailerError'],
    ['a wrong CRC32 in the trailer', { signed: false }, (b) => (b.trailerLines[0] = 'x-amz-checksum-crc32:AAAAAA=='), 400, 'BadDigest'],
    ['a trailer section over 16 KiB', { signed: false }, (b) => b.trailerLines.push(...Array.from({ length: 8 }, () => `x-amz-checksum-crc32:${'A'.repeat(4000)}`)), 400, 'MalformedTrailerError'],
    ['a chunk signature with one digit changed', { signed: true }, (b) => (b.frames[0].extension = `;chunk-signature=${flipHex(b.frames[0].extension.slice(17))}`), 403, 'SignatureDoesNotMatch'],
    ['the final chunk signature changed', { signed: true }, (b) => (b.frames[b.frames.length - 1].extension = `;chunk-signature=${flipHex(b.frames[b.frames.length - 1].extension.slice(17))}`), 403, 'SignatureDoesNotMatch'],
    ['a chunk without its signature', { signed: true }, (b) => (b.frames[1].extension = ''), 400, 'IncompleteBody'],
    ['an empty chunk signature', { signed: true }, (b) => (b.frames[1].extension = ';chunk-signature='), 400, 'IncompleteBody'],
    ['another extension in its place', { signed: true }, (b) => (b.frames[1].extension = `;chunk-sig=${'0'.repeat(64)}`), 403, 'SignatureDoesNotMatch'],
    ['a second extension after it', { signed: true }, (b) => (b.frames[1].extension += ';x=y'), 400, 'IncompleteBody'],
    ['two chunks swapped (each keeping its signature)', { signed: true }, (b) => ([b.frames[0], b.frames[1]] = [b.frames[1], b.frames[0]]), 403, 'SignatureDoesNotMatch'],
    ['one data byte changed', { signed: true }, (b) => ((b.frames[1].data = Buffer.from(b.frames[1].data)), (b.frames[1].data[5] ^= 1)), 403, 'SignatureDoesNotMatch'],
    ['the first chunk signature replayed on the second', { signed: true }, (b) => (b.frames[1].extension = b.frames[0].extension), 403, 'SignatureDoesNotMatch'],
    ['a changed trailer signature', { signed: true, trailer: true }, (b) => (b.trailerLines[1] = `x-amz-trailer-signature:${flipHex(b.trailerLines[1].split(':')[1])}`), 403, 'SignatureDoesNotMatch'],
    ['a signed trailer without its signature', { signed: true, trailer: true }, (b) => b.trailerLines.pop(), 400, 'IncompleteBody'],
    ['a trailer value changed under its signature', { signed: true, trailer: true }, (b) => (b.trailerLines[0] = 'x-amz-checksum-crc32:AAAAAA=='), 403, 'SignatureDoesNotMatch'],
  ];
  for (const [what, opts, mutate, status, code] of framing) {
    it(`${what}: ${status} ${code}`, async () => {
      const key = `${REFUSED}chunked-${what.replace(/\W+/g, '-')}`;
      const o = await chunkedPut(key, { ...opts, mutate });
      assertS3Error(o.response, status, code, what);
      assert.equal(await objectExists(BUCKET, key), false);
    });
  }

  it('x-amz-decoded-content-length missing, not a number, or not what the chunks add up to: refused', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['missing', '', 411, 'MissingContentLength'],
      ['not a number', '12x', 400, 'InvalidArgument'],
      ['smaller than the data', '100', 400, 'IncompleteBody'],
      ['larger than the data', String(CHUNK_DATA.length + 1), 400, 'IncompleteBody'],
    ];
    for (const [what, value, status, code] of cases) {
      const o = await chunkedPut(`${REFUSED}decoded-length`, { signed: false, headers: { 'x-amz-decoded-content-length': value } });
      assertS3Error(o.response, status, code, `decoded length ${what}`);
    }
  });

  it('connections cut mid-chunk, mid-size-line and mid-trailer: nothing stored, no temp file', async () => {
    const bodyLength = serialize(chunkedBody(split(CHUNK_DATA, 8192), { trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] })).length;
    for (const cutAt of [3, 4000, 8200, bodyLength - 20]) {
      for (const signed of [true, false]) {
        const key = `${REFUSED}cut-${cutAt}-${signed}`;
        const o = await chunkedPut(key, { signed, cutAt });
        assertNotAccepted(o, `cut at ${cutAt}`);
        assert.equal(await objectExists(BUCKET, key), false);
      }
    }
  });

  it('connections cut while the server is still checking the request (before it reads the body): no crash, no temp file', async () => {
    // Before the fix the aws-chunked decoder's 'error' had no listener at
    // that moment and the whole process exited on it; a request gone before
    // its handler listened left an upload waiting forever on its temp file.
    const chunkedHeaders = {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': '20000',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'content-length': '30000',
    };
    const plainHeaders = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '30000' };
    for (let i = 0; i < 60; i++) {
      const chunked = i % 2 === 0;
      const expect: Record<string, string> = i % 4 < 2 ? { expect: '100-continue' } : {};
      const target = i % 3 === 0 ? { path: `/${BUCKET}`, query: { delete: '' } } : { path: `/${BUCKET}/${REFUSED}race-${i}` };
      const signed = await root.sign({
        method: i % 3 === 0 ? 'POST' : 'PUT',
        ...target,
        // If-None-Match makes the server read Postgres between reading the
        // headers and the body: the window in which the client goes away.
        headers: { ...(chunked ? chunkedHeaders : plainHeaders), ...expect, ...(i % 3 === 0 ? { 'content-md5': md5b64('') } : { 'if-none-match': '*' }) },
      });
      const conn = new RawConnection(base);
      await conn.connected;
      conn.socket.write(requestHead(i % 3 === 0 ? 'POST' : 'PUT', signed.path, signed.headers) + (expect.expect ? '' : chunked ? '4e20\r\naaaa' : 'aaaa'));
      if (i % 5) await sleep(i % 5);
      conn.destroy();
    }
    await sleep(300);
    assert.equal(srv.process.exitCode, null, 'the server exited');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- limits

describe('headers and URLs at and over the size limits', () => {
  it('a 15 KiB header section is served; 17 KiB, or one 64 KiB header, is 431 and closed', async () => {
    assert.equal((await put('accepted/limits', 'ok')).status, 200);
    const ok = await rawRequest(base, requestHead('GET', `/${BUCKET}/accepted/limits`, { host: base.host, 'x-pad': 'p'.repeat(15 * 1024) }));
    // Anonymous, so refused by policy: the point is that the request was read and answered as S3.
    assertS3Error(ok.response, 403, 'AccessDenied', '15 KiB of headers');
    for (const [what, headers] of [
      ['17 KiB in one header', { 'x-pad': 'p'.repeat(17 * 1024) }],
      ['64 KiB in one header', { 'x-pad': 'p'.repeat(64 * 1024) }],
      ['17 KiB over 2,000 headers', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`x-p${i}`, 'ppp']))],
    ] as const) {
      const o = await rawRequest(base, requestHead('GET', `/${BUCKET}/accepted/limits`, { host: base.host, ...headers }));
      assert.equal(o.response?.status, 431, `${what}: ${o.response?.status}`);
      assert.ok(o.closed, `${what}: connection left open`);
    }
  });

  it('a request target of 20 KiB is 431; one of 10 KiB is read and answered as S3', async () => {
    const long = await rawRequest(base, requestHead('GET', `/${BUCKET}/${'k'.repeat(20 * 1024)}`, { host: base.host }));
    assert.equal(long.response?.status, 431);
    assertS3Error(await put(`${REFUSED}${'k'.repeat(10 * 1024)}`), 400, 'KeyTooLongError', 'PUT of a 10 KiB key');
    // A read of a key that cannot exist: not found (no lookup can match it either).
    const res = await root.send({ method: 'GET', path: `/${BUCKET}/${'k'.repeat(10 * 1024)}` });
    assertS3Error(res, 404, 'NoSuchKey', 'GET of a 10 KiB key');
  });

  it('keys of 1,024 bytes are stored; 1,025 bytes is 400 KeyTooLongError (ASCII and multi-byte)', async () => {
    assert.equal((await put(`accepted/${'a'.repeat(1024 - 9)}`)).status, 200);
    assert.equal((await put(`accepted/${'é'.repeat((1024 - 9) >> 1)}`)).status, 200);
    assertS3Error(await put(`${REFUSED}${'a'.repeat(1025 - REFUSED.length)}`), 400, 'KeyTooLongError', '1,025 ASCII bytes');
    assertS3Error(await put(`${REFUSED}${'€'.repeat(339)}`), 400, 'KeyTooLongError', '1,026 bytes of 3-byte characters');
  });

  it('user metadata: 2 KiB is stored, one byte more is 400 MetadataTooLarge', async () => {
    const name = 'x-amz-meta-m';
    assert.equal((await put('accepted/meta', 'x', { [name]: 'v'.repeat(2048 - 1) })).status, 200);
    assertS3Error(await put(`${REFUSED}meta`, 'x', { [name]: 'v'.repeat(2048) }), 400, 'MetadataTooLarge');
  });

  it('bucket names of 64 characters, or with NUL: 400 InvalidBucketName / 404 NoSuchBucket', async () => {
    assertS3Error(await root.send({ method: 'PUT', path: `/${'b'.repeat(64)}` }), 400, 'InvalidBucketName');
    assertS3Error(await root.send({ method: 'GET', path: '/bad%00bucket/key' }), 404, 'NoSuchBucket');
    assertS3Error(await root.send({ method: 'PUT', path: '/bad%00bucket' }), 400, 'InvalidBucketName');
  });

  it('/storage/v1 paths past the key limit: 400 INVALID_KEY (JSON)', async () => {
    const res = await storageApi('POST', `/object/${BUCKET}/${REFUSED}${'a'.repeat(1100)}`, 'x', { 'content-type': 'text/plain' });
    assertJsonError(res, 400, 'INVALID_KEY');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- keys

describe('hostile keys', () => {
  // S3 keys are any UTF-8 (aerostore refuses NUL): dot segments and control
  // characters are names, never paths. Blobs live under content hashes, so
  // no key can reach the file system; each must round-trip exactly.
  const stored = ['..', '.', '../x', './x', 'a/../../b', 'a/./b', '../../../../etc/passwd', '..\\..\\windows', '\x01\x1f\x7f', 'tab\tnew\nline\rcr', ' lead and trail ', '%2e%2e', '\u202e\ufeff'];
  for (const key of stored) {
    it(`${JSON.stringify(key)} is stored as that exact key and read back`, async () => {
      const full = `accepted/keys/${key}`;
      const body = `body of ${JSON.stringify(key)}`;
      assert.equal((await put(full, body)).status, 200);
      const get = await root.send({ method: 'GET', path: `/${BUCKET}/${encodeKey(full)}` });
      assert.equal(get.status, 200);
      assert.equal(text(get), body);
      assert.equal(await objectExists(BUCKET, full), true);
    });
  }

  it('percent-encoded dots on the wire (%2e%2e/) name the key "../", signed over the decoded form', async () => {
    const key = 'accepted/enc/../x';
    const { head } = await signedHead('PUT', `/${BUCKET}/accepted/enc/%2e%2e/x`, { signPath: `/${BUCKET}/${encodeKey(key)}`, body: Buffer.from('dots') });
    const o = await rawRequest(base, Buffer.concat([Buffer.from(head.replace(/\r\n\r\n$/, `\r\ncontent-length: 4\r\n\r\n`)), Buffer.from('dots')]));
    assert.equal(o.response?.status, 200, String(o.response?.body));
    assert.equal(await objectExists(BUCKET, key), true);
  });

  it('no file outside <data>/blobs was made for any key (blob files are named by their SHA-256)', async () => {
    const blobs = path.join(srv.dataDir, 'blobs');
    const walk = async (dir: string): Promise<string[]> =>
      (
        await Promise.all(
          (await readdir(dir, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])),
        )
      ).flat();
    for (const file of await walk(blobs)) assert.match(path.basename(file), /^[0-9a-f]{64}$/, file);
    const top = (await readdir(srv.dataDir)).filter((n) => !['pg', 'blobs', 'tmp', 'parts'].includes(n));
    for (const name of top) assert.doesNotMatch(name, /passwd|windows|\.\./, `unexpected ${name} in <data>`);
  });

  it('NUL in a key, anywhere: 400 InvalidArgument on every endpoint, never a lookup', async () => {
    const k = `/${BUCKET}/${REFUSED}nul%00key`;
    for (const [method, query, headers] of [
      ['PUT', {}, {}],
      ['GET', {}, {}],
      ['HEAD', {}, {}],
      ['DELETE', {}, {}],
      ['GET', { tagging: '' }, {}],
      ['GET', { acl: '' }, {}],
      ['POST', { uploads: '' }, {}],
      ['GET', { uploadId: 'x' }, {}],
    ] as const) {
      const res = await root.send({ method, path: k, query, headers, body: method === 'PUT' ? 'x' : undefined });
      assert.equal(res.status, 400, `${method} ${JSON.stringify(query)}: ${res.status} ${text(res)}`);
      if (method !== 'HEAD') assert.equal(errorCode(res.body), 'InvalidArgument');
    }
    assertS3Error(await put('accepted/copy-target', 'x', { 'x-amz-copy-source': `/${BUCKET}/a%00b` }), 400, 'InvalidArgument', 'copy source with NUL');
    for (const q of ['prefix', 'delimiter', 'start-after', 'marker', 'continuation-token']) {
      const res = await root.send({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', [q]: 'a\0' } });
      assertS3Error(res, 400, 'InvalidArgument', `list ${q} with NUL`);
    }
  });

  it('invalid UTF-8 in the path (lone byte, overlong, surrogate, truncated): 400 InvalidURI', async () => {
    for (const bad of ['%FF', '%C0%AE%C0%AE', '%ED%A0%80', '%E2%82', '%80']) {
      const res = await root.send({ method: 'PUT', path: `/${BUCKET}/${REFUSED}${bad}`, body: 'x' });
      assertS3Error(res, 400, 'InvalidURI', bad);
    }
  });

  it('raw control bytes, spaces and non-ASCII bytes in the request line: 400 from the HTTP parser', async () => {
    for (const target of [`/${BUCKET}/a\x00b`, `/${BUCKET}/a\x01b`, `/${BUCKET}/a b`, `/${BUCKET}/a\x7fb`]) {
      const o = await rawRequest(base, Buffer.from(`GET ${target} HTTP/1.1\r\nhost: ${base.host}\r\n\r\n`, 'latin1'));
      assert.equal(o.response?.status, 400, JSON.stringify(target));
    }
    // Bytes ≥ 0x80 are legal for llhttp but never valid UTF-8 here.
    const o = await rawRequest(base, Buffer.from(`GET /${BUCKET}/a\xffb HTTP/1.1\r\nhost: ${base.host}\r\n\r\n`, 'latin1'));
    assert.ok(o.response && o.response.status >= 400 && o.response.status < 500, String(o.response?.status));
  });

  it('/storage/v1: dot segments are names, NUL and invalid UTF-8 are 400 JSON errors', async () => {
    const ok = await storageApi('POST', `/object/${BUCKET}/accepted/sapi/../x`, 'dots', { 'content-type': 'text/plain' });
    assert.equal(ok.status, 200, text(ok));
    assert.equal(await objectExists(BUCKET, 'accepted/sapi/../x'), true);
    assertJsonError(await storageApi('POST', `/object/${BUCKET}/${REFUSED}a%00b`, 'x', { 'content-type': 'text/plain' }), 400, 'INVALID_REQUEST', 'NUL');
    assertJsonError(await storageApi('POST', `/object/${BUCKET}/${REFUSED}%FF`, 'x', { 'content-type': 'text/plain' }), 400, 'INVALID_KEY', 'invalid UTF-8');
    assertJsonError(await storageApi('GET', `/object/info/${BUCKET}/a%00b`), 400, 'INVALID_REQUEST', 'info with NUL');
    assertJsonError(await storageApi('GET', '/bucket/a%00b'), 404, 'BUCKET_NOT_FOUND', 'bucket with NUL');
    assertJsonError(await storageApi('POST', `/object/list/${BUCKET}`, JSON.stringify({ prefix: 'a\u0000' })), 400, 'INVALID_REQUEST', 'list prefix with NUL');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- XML

/** A request document sent as root, signed, with Content-MD5 (DeleteObjects needs it). */
function xmlRequest(method: string, p: string, query: Record<string, string>, body: string | Buffer): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return root.send({ method, path: p, query, body: bytes, headers: { 'content-md5': md5b64(bytes), 'content-type': 'application/xml' } });
}

describe('XML request bodies', () => {
  let uploadId: string;
  let listener: net.Server;
  let fetched = 0;

  before(async () => {
    assert.equal((await put('xml/victim', 'still here')).status, 200);
    const created = await root.send({ method: 'POST', path: `/${BUCKET}/${REFUSED}mpu`, query: { uploads: '' } });
    uploadId = xmlValues(text(created), 'UploadId')[0];
    assert.ok(uploadId);
    // Where an external entity would point: it must never be contacted.
    listener = net.createServer((s) => {
      fetched++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await root.send({ method: 'DELETE', path: `/${BUCKET}/${REFUSED}mpu`, query: { uploadId } });
    await new Promise((r) => listener.close(r));
  });

  /** Every endpoint that reads an XML document, with the body `doc` wrapped as it expects. */
  const endpoints = (): Array<[string, (doc: string | Buffer) => Promise<RawResponse>]> => [
    ['DeleteObjects', (doc) => xmlRequest('POST', `/${BUCKET}`, { delete: '' }, doc)],
    ['CompleteMultipartUpload', (doc) => xmlRequest('POST', `/${BUCKET}/${REFUSED}mpu`, { uploadId }, doc)],
    ['PutObjectTagging', (doc) => xmlRequest('PUT', `/${BUCKET}/xml/victim`, { tagging: '' }, doc)],
    ['PutBucketCors', (doc) => xmlRequest('PUT', `/${BUCKET}`, { cors: '' }, doc)],
    ['PutBucketLifecycleConfiguration', (doc) => xmlRequest('PUT', `/${BUCKET}`, { lifecycle: '' }, doc)],
    ['PutBucketAcl', (doc) => xmlRequest('PUT', `/${BUCKET}`, { acl: '' }, doc)],
    ['CreateBucket', (doc) => xmlRequest('PUT', '/hostile-xml-bucket', {}, doc)],
  ];

  const port = () => (listener.address() as net.AddressInfo).port;
  const attacks = (): Array<[string, string]> => [
    [
      'billion laughs (internal entities)',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]><Delete><Object><Key>&lol9;</Key></Object></Delete>`,
    ],
    ['external entity (http)', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:${port()}/">]><Delete><Object><Key>&xxe;</Key></Object></Delete>`],
    ['external entity (file)', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>k</Key><Value>&xxe;</Value></Tag></TagSet></Tagging>'],
    ['parameter entity', `<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:${port()}/p.dtd"> %p;]><Delete/>`],
    ['external DTD', `<!DOCTYPE Delete SYSTEM "http://127.0.0.1:${port()}/d.dtd"><Delete><Object><Key>k</Key></Object></Delete>`],
    ['lower-case doctype', '<!doctype x [<!entity a "b">]><Delete/>'],
  ];

  it('DOCTYPE, internal and external entities: 400 MalformedXML on every endpoint, nothing fetched or expanded', async () => {
    for (const [name, send] of endpoints()) {
      for (const [what, doc] of attacks()) {
        const res = await send(doc);
        assertS3Error(res, 400, 'MalformedXML', `${name}, ${what}`);
        assert.doesNotMatch(text(res), /root:|lollol/, `${name}, ${what}: content leaked`);
      }
    }
    assert.equal(fetched, 0, 'an external entity was fetched');
    const get = await root.send({ method: 'GET', path: `/${BUCKET}/xml/victim` });
    assert.equal(text(get), 'still here');
  });

  it('XInclude and xsi:schemaLocation are not processed either', async () => {
    const doc = `<Tagging xmlns:xi="http://www.w3.org/2001/XInclude" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x http://127.0.0.1:${port()}/s.xsd"><TagSet><Tag><Key>k</Key><Value><xi:include href="http://127.0.0.1:${port()}/"/></Value></Tag></TagSet></Tagging>`;
    const res = await xmlRequest('PUT', `/${BUCKET}/xml/victim`, { tagging: '' }, doc);
    assert.ok(res.status === 400, `${res.status} ${text(res)}`);
    assert.equal(fetched, 0);
  });

  it('deep nesting (100,000 levels) and unclosed nesting: 400 MalformedXML, promptly', async () => {
    for (const [name, send] of endpoints()) {
      const started = Date.now();
      // PutObjectTagging's limit is 64 KiB: it refuses these for their size first.
      const codes = ['MalformedXML', 'MaxMessageLengthExceeded'];
      assertS3Error(await send('<a>'.repeat(100_000) + '</a>'.repeat(100_000)), 400, codes, `${name} deep`);
      assertS3Error(await send('<Delete>' + '<Object>'.repeat(200_000)), 400, codes, `${name} unclosed`);
      assertS3Error(await send('<a>'.repeat(1000) + '</a>'.repeat(1000)), 400, 'MalformedXML', `${name} 1,000 levels`);
      assert.ok(Date.now() - started < 10_000, `${name}: ${Date.now() - started} ms`);
    }
  });

  it('a document over the size limit: 400 MaxMessageLengthExceeded, refused from Content-Length before the body is read', async () => {
    const huge = Buffer.alloc(3 * 1024 * 1024, ' ');
    for (const [name, send] of endpoints()) {
      assertS3Error(await send(huge), 400, 'MaxMessageLengthExceeded', name);
    }
    // Declared only: the answer must come without the body ever being sent.
    const { head } = await signedHead('POST', `/${BUCKET}`, {
      query: { delete: '' },
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5b64('') },
      unsignedHeaders: { 'content-length': 1 << 30 },
    });
    const o = await rawRequest(base, head, { timeoutMs: 5_000 });
    assertS3Error(o.response, 400, 'MaxMessageLengthExceeded', 'declared 1 GiB');
    assert.equal(o.response!.headers.connection, 'close');
  });

  it('a document that grows past the limit inside aws-chunked framing: refused while streaming', async () => {
    const doc = Buffer.alloc(3 * 1024 * 1024, ' ');
    const chunks = split(doc, 64 * 1024);
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': '100',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const signed = await root.sign({ method: 'POST', path: `/${BUCKET}`, query: { delete: '' }, headers });
    const bytes = serialize(chunkedBody(chunks, { trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] }));
    const o = await rawRequest(base, Buffer.concat([Buffer.from(requestHead('POST', signed.path, { ...signed.headers, 'content-length': bytes.length })), bytes]));
    assertS3Error(o.response, 400, ['IncompleteBody', 'MaxMessageLengthExceeded'], 'chunked XML over the limit');
  });

  it('malformed documents: 400 MalformedXML (or the endpoint\'s own 4xx), never a 5xx', async () => {
    const docs = [
      '',
      'not xml at all',
      '<Delete>',
      '<Delete><Object><Key>k</Key></Object>',
      '</Delete>',
      '<Delete><Object><Key>k</Key></Object></Delete><Delete/>',
      '<Delete><Object>text</Object></Delete>',
      '<Delete><Object><Key><Key>k</Key></Key></Object></Delete>',
      '<Delete><Object><Key>&#xD800;</Key></Object></Delete>',
      '<Delete><Object><Key>&#99999999999;</Key></Object></Delete>',
      '<Delete><Object><Key>&undefined;</Key></Object></Delete>',
      '<Delete><__proto__><Key>k</Key></__proto__></Delete>',
      '<Delete><Object><Key>k</Key><constructor>x</constructor></Object></Delete>',
      `<Delete>${'<Object><Key>k</Key></Object>'.repeat(1001)}</Delete>`,
      '<CompleteMultipartUpload><Part>x</Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>99999999999</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      `<CompleteMultipartUpload>${'<Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>'.repeat(20_000)}</CompleteMultipartUpload>`,
      '<Tagging><TagSet><Tag>text</Tag></TagSet></Tagging>',
      '<Tagging><TagSet>text</TagSet></Tagging>',
      '<CORSConfiguration><CORSRule>text</CORSRule></CORSConfiguration>',
      '<CORSConfiguration><CORSRule><AllowedOrigin><x/></AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>',
      '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>1e400</MaxAgeSeconds></CORSRule></CORSConfiguration>',
      '<AccessControlPolicy><AccessControlList>text</AccessControlList></AccessControlPolicy>',
      '<AccessControlPolicy><AccessControlList><Grant>text</Grant></AccessControlList></AccessControlPolicy>',
      '<AccessControlPolicy><AccessControlList><Grant><Grantee>x</Grantee><Permission><a/></Permission></Grant></AccessControlList></AccessControlPolicy>',
      '<CreateBucketConfiguration><LocationConstraint><x/></LocationConstraint></CreateBucketConfiguration>',
    ];
    const notUtf8 = Buffer.from('<Delete><Object><Key>\xff\xfe</Key></Object></Delete>', 'latin1');
    for (const [name, send] of endpoints()) {
      for (const doc of [...docs, notUtf8]) {
        if (doc === '' && name === 'CreateBucket') continue; // its document is optional
        const res = await send(doc);
        assert.ok(res.status >= 400 && res.status < 500, `${name} ${JSON.stringify(doc.toString().slice(0, 80))}: ${res.status} ${text(res).slice(0, 300)}`);
        assert.ok(errorCode(res.body), `${name}: no S3 error code`);
      }
    }
    const get = await root.send({ method: 'GET', path: `/${BUCKET}/xml/victim` });
    assert.equal(text(get), 'still here');
    assert.equal((await root.send({ method: 'HEAD', path: '/hostile-xml-bucket' })).status, 404);
  });

  it('a document that is not UTF-8: 400 MalformedXML, and no key is deleted by its replacement characters', async () => {
    assert.equal((await put('xml/\ufffd', 'replacement char')).status, 200);
    const doc = Buffer.concat([Buffer.from('<Delete><Object><Key>xml/'), Buffer.from([0xff]), Buffer.from('</Key></Object></Delete>')]);
    assertS3Error(await xmlRequest('POST', `/${BUCKET}`, { delete: '' }, doc), 400, 'MalformedXML', 'DeleteObjects');
    assert.equal(await objectExists(BUCKET, 'xml/\ufffd'), true);
    const tagging = Buffer.concat([Buffer.from('<Tagging><TagSet><Tag><Key>k</Key><Value>'), Buffer.from([0xc3]), Buffer.from('</Value></Tag></TagSet></Tagging>')]);
    assertS3Error(await xmlRequest('PUT', `/${BUCKET}/xml/victim`, { tagging: '' }, tagging), 400, 'MalformedXML', 'PutObjectTagging');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- JSON

describe('/storage/v1 JSON bodies', () => {
  it('deep nesting, in the body and in a field: 400 INVALID_REQUEST', async () => {
    assertJsonError(await storageApi('POST', '/bucket', '['.repeat(1_000_000)), 400, 'INVALID_REQUEST', 'unclosed arrays');
    assertJsonError(await storageApi('POST', '/bucket', '['.repeat(100_000) + ']'.repeat(100_000)), 400, 'INVALID_REQUEST', 'nested arrays');
    const deepField = `{"name":"hostile-json-deep","allowed_mime_types":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    assertJsonError(await storageApi('POST', '/bucket', deepField), 400, 'INVALID_REQUEST', 'nested field');
  });

  it('not JSON, not an object, not UTF-8, NaN, trailing commas or trailing bytes: 400 INVALID_REQUEST', async () => {
    for (const body of ['{', 'null', '[]', '"x"', '1', '{"name": NaN}', '{"name":"a",}', '{"name":"a"}}', Buffer.from([0x7b, 0xff, 0x7d])]) {
      const res = await storageApi('POST', '/bucket', body);
      assertJsonError(res, 400, 'INVALID_REQUEST', JSON.stringify(body.toString()));
    }
  });

  it('wide objects, long strings and many paths are refused by the schema (4xx), not by the process', async () => {
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])));
    assertJsonError(await storageApi('POST', '/bucket', wide), 400, 'INVALID_REQUEST', '100,000 keys, no name');
    assertJsonError(await storageApi('POST', '/bucket', JSON.stringify({ name: 'n'.repeat(1_000_000) })), 400, 'INVALID_BUCKET_NAME', '1 MB name');
    const many = await storageApi('DELETE', `/object/${BUCKET}`, JSON.stringify({ prefixes: Array.from({ length: 100_000 }, (_, i) => `p${i}`) }));
    assertJsonError(many, 400, 'INVALID_REQUEST', '100,000 prefixes');
    const list = await storageApi('POST', `/object/list/${BUCKET}`, JSON.stringify({ prefix: '', limit: 1e308, offset: -1, sortBy: { column: 'x; drop table', order: 'sideways' } }));
    assertJsonError(list, 400, 'INVALID_REQUEST', 'list with bad bounds');
  });

  // Each took minutes of CPU before the regexes reading them were made linear
  // (src/regex-safety.test.ts now checks every regex); the time limit fails it.
  it('strings built to make a regex backtrack (1 MB of spaces, of slashes): answered, not minutes of CPU', { timeout: 30_000 }, async () => {
    const size = JSON.stringify({ name: 'hostile-json-size', file_size_limit: `1${' '.repeat(1_000_000)}x` });
    assertJsonError(await storageApi('POST', '/bucket', size), 400, 'INVALID_REQUEST', 'size with 1 MB of spaces');
    const list = await storageApi('POST', `/object/list/${BUCKET}`, JSON.stringify({ prefix: `${'/'.repeat(1_000_000)}x` }));
    assert.equal(list.status, 200, text(list));
    assert.deepEqual(JSON.parse(text(list)), []);
  });

  it('__proto__ and constructor keys set nothing: the bucket is created private', async () => {
    const res = await storageApi('POST', '/bucket', '{"name":"hostile-proto","__proto__":{"public":true,"policy":"public"},"constructor":{"prototype":{"public":true}}}');
    assert.equal(res.status, 200, text(res));
    const got = JSON.parse(text(await storageApi('GET', '/bucket/hostile-proto'))) as { public: boolean };
    assert.equal(got.public, false);
    assert.equal((await storageApi('DELETE', '/bucket/hostile-proto')).status, 200);
  });

  it('metadata that cannot be a header (newlines, emoji, names with spaces) still downloads over S3', async () => {
    const metadata = Buffer.from(JSON.stringify({ a: 'line\nbreak', b: '\u{1F600}', 'not a token': 'x', c: 'plain' })).toString('base64');
    const up = await storageApi('POST', `/object/${BUCKET}/json/meta`, 'x', { 'content-type': 'text/plain', 'x-metadata': metadata });
    assert.equal(up.status, 200, text(up));
    for (const method of ['GET', 'HEAD']) {
      const res = await root.send({ method, path: `/${BUCKET}/json/meta` });
      assert.equal(res.status, 200, `${method}: ${res.status} ${text(res)}`);
      assert.equal(res.headers['x-amz-meta-c'], 'plain');
      assert.equal(res.headers['x-amz-meta-a'], `=?UTF-8?B?${Buffer.from('line\nbreak').toString('base64')}?=`);
      assert.equal(res.headers['x-amz-missing-meta'], '1');
    }
  });

  it('GetObject response-* overrides with CR/LF or non-latin1 characters: 400 InvalidArgument, no header injected', async () => {
    assert.equal((await put('json/override', 'x')).status, 200);
    for (const [param, value] of [
      ['response-content-type', 'text/plain\r\nx-injected: 1'],
      ['response-content-disposition', 'attachment; filename=\u{1F600}'],
      ['response-expires', '\u2028'],
      ['response-cache-control', 'a\0b'],
    ]) {
      const res = await root.send({ method: 'GET', path: `/${BUCKET}/json/override`, query: { [param]: value } });
      assert.equal(res.status, 400, `${param}: ${res.status} ${text(res)}`);
      assert.equal(res.headers['x-injected'], undefined);
    }
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- signatures

/** Sets the named field of a SigV4 Authorization header. */
function withAuthField(auth: string, field: 'Credential' | 'SignedHeaders' | 'Signature', value: string): string {
  return auth.replace(new RegExp(`${field}=[^,]*`), `${field}=${value}`);
}

describe('signatures with every field tampered', () => {
  const key = `${REFUSED}signed`;
  const body = Buffer.from('signed body');
  let signed: Record<string, string>;

  before(async () => {
    signed = (await root.sign({ method: 'PUT', path: `/${BUCKET}/${key}`, body, headers: { 'content-type': 'text/plain' } })).headers;
  });

  async function send(headers: Record<string, string>, opts: { method?: string; target?: string; payload?: Buffer } = {}): Promise<RawResponse> {
    const payload = opts.payload ?? body;
    const h: Record<string, string> = { ...headers, 'content-length': String(payload.length) };
    for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
    const o = await rawRequest(base, Buffer.concat([Buffer.from(requestHead(opts.method ?? 'PUT', opts.target ?? `/${BUCKET}/${key}`, h)), payload]));
    assert.ok(o.response, 'no response');
    return o.response;
  }

  it('unchanged, the request is valid (control: then deleted again)', async () => {
    const res = await send(signed);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal((await root.send({ method: 'DELETE', path: `/${BUCKET}/${key}` })).status, 204);
  });

  const auth = () => signed.authorization;
  const cred = () => /Credential=([^,]+)/.exec(auth())![1].split('/');
  const cases: Array<[string, () => Record<string, string>, number, string | string[], { method?: string; target?: string; payload?: Buffer }?]> = [
    ['another algorithm', () => ({ ...signed, authorization: auth().replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512') }), 400, 'InvalidArgument'],
    ['the algorithm glued to the fields', () => ({ ...signed, authorization: auth().replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256') }), 400, 'AuthorizationHeaderMalformed'],
    // SigV2 is verified (AEROSTORE_SIGV2, on by default): a made-up signature does not match.
    ['Signature Version 2', () => ({ ...signed, authorization: `AWS ${srv.accessKeyId}:c2lnbmF0dXJl` }), 403, 'SignatureDoesNotMatch'],
    ['an unknown access key', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', ['AKIDUNKNOWN', ...cred().slice(1)].join('/')) }), 403, 'InvalidAccessKeyId'],
    ['the credential date', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', [cred()[0], '20200101', ...cred().slice(2)].join('/')) }), 400, 'AuthorizationHeaderMalformed'],
    ['the region', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', [...cred().slice(0, 2), 'eu-west-1', ...cred().slice(3)].join('/')) }), 400, 'AuthorizationHeaderMalformed'],
    ['the service', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', [...cred().slice(0, 3), 'iam', cred()[4]].join('/')) }), 400, 'AuthorizationHeaderMalformed'],
    ['the terminator', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', [...cred().slice(0, 4), 'aws5_request'].join('/')) }), 400, 'AuthorizationHeaderMalformed'],
    ['a credential of two parts', () => ({ ...signed, authorization: withAuthField(auth(), 'Credential', `${cred()[0]}/x`) }), 400, 'AuthorizationHeaderMalformed'],
    ['SignedHeaders without host', () => ({ ...signed, authorization: withAuthField(auth(), 'SignedHeaders', /SignedHeaders=([^,]+)/.exec(auth())![1].replace(/(^|;)host(?=;|$)/, '').replace(/^;/, '')) }), 403, 'AccessDenied'],
    ['SignedHeaders naming a header not sent', () => ({ ...signed, authorization: withAuthField(auth(), 'SignedHeaders', /SignedHeaders=([^,]+)/.exec(auth())![1] + ';x-not-sent') }), 403, 'SignatureDoesNotMatch'],
    ['SignedHeaders reordered', () => ({ ...signed, authorization: withAuthField(auth(), 'SignedHeaders', /SignedHeaders=([^,]+)/.exec(auth())![1].split(';').reverse().join(';')) }), 403, 'SignatureDoesNotMatch'],
    ['SignedHeaders empty', () => ({ ...signed, authorization: withAuthField(auth(), 'SignedHeaders', '') }), 400, 'AuthorizationHeaderMalformed'],
    ['an unsigned x-amz-* header added', () => ({ ...signed, 'x-amz-meta-added': '1' }), 403, 'AccessDenied'],
    ['a signed header changed', () => ({ ...signed, 'content-type': 'text/html' }), 403, 'SignatureDoesNotMatch'],
    ['one signature digit changed', () => ({ ...signed, authorization: withAuthField(auth(), 'Signature', flipHex(/Signature=([0-9a-f]+)/.exec(auth())![1])) }), 403, 'SignatureDoesNotMatch'],
    ['the signature truncated', () => ({ ...signed, authorization: withAuthField(auth(), 'Signature', /Signature=([0-9a-f]+)/.exec(auth())![1].slice(0, 63)) }), 403, 'SignatureDoesNotMatch'],
    ['the signature in upper case', () => ({ ...signed, authorization: withAuthField(auth(), 'Signature', /Signature=([0-9a-f]+)/.exec(auth())![1].toUpperCase()) }), 403, 'SignatureDoesNotMatch'],
    ['an 8 KiB signature', () => ({ ...signed, authorization: withAuthField(auth(), 'Signature', 'a'.repeat(8192)) }), 403, 'SignatureDoesNotMatch'],
    ['the signature empty', () => ({ ...signed, authorization: withAuthField(auth(), 'Signature', '') }), 400, 'AuthorizationHeaderMalformed'],
    ['x-amz-date one second later', () => ({ ...signed, 'x-amz-date': signed['x-amz-date'].replace(/(\d)Z$/, (_, d) => `${(Number(d) + 1) % 10}Z`) }), 403, 'SignatureDoesNotMatch'],
    ['x-amz-date 20 minutes off (signature recomputed is not needed: skew is checked first)', () => ({ ...signed, 'x-amz-date': skewedSameDay(20 * 60_000) }), 403, 'RequestTimeTooSkewed'],
    ['x-amz-date garbage', () => ({ ...signed, 'x-amz-date': 'yesterday' }), 403, 'AccessDenied'],
    ['x-amz-content-sha256 of another body', () => ({ ...signed, 'x-amz-content-sha256': sha256hex('other') }), 403, 'SignatureDoesNotMatch'],
    ['x-amz-content-sha256 swapped for UNSIGNED-PAYLOAD', () => ({ ...signed, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), 403, 'SignatureDoesNotMatch'],
    ['x-amz-content-sha256 garbage', () => ({ ...signed, 'x-amz-content-sha256': 'garbage' }), 400, 'InvalidArgument'],
    ['x-amz-content-sha256 removed', () => Object.fromEntries(Object.entries(signed).filter(([k]) => k !== 'x-amz-content-sha256')), 400, 'InvalidRequest'],
    ['the body changed under its signed hash', () => signed, 400, 'XAmzContentSHA256Mismatch', { payload: Buffer.from('signed bodx') }],
    ['another method', () => signed, 403, 'SignatureDoesNotMatch', { method: 'DELETE' }],
    ['another key', () => signed, 403, 'SignatureDoesNotMatch', { target: `/${BUCKET}/${key}-2` }],
    ['a query parameter added', () => signed, 403, 'SignatureDoesNotMatch', { target: `/${BUCKET}/${key}?x-id=PutObject` }],
    ['another Host', () => ({ ...signed, host: `localhost:${base.port}` }), 403, 'SignatureDoesNotMatch'],
    ['a presigned query besides the header', () => signed, 400, 'InvalidArgument', { target: `/${BUCKET}/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00` }],
  ];
  for (const [what, headers, status, code, opts] of cases) {
    it(`${what}: ${status} ${Array.isArray(code) ? code.join(' | ') : code}`, async () => {
      const res = await send(headers(), opts);
      assertS3Error(res, status, code, what);
      assert.equal(await objectExists(BUCKET, key), false);
    });
  }

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- presigned

describe('presigned URLs past expiry, and replays', () => {
  const key = 'presigned/object';
  before(async () => {
    assert.equal((await put(key, 'original')).status, 200);
  });

  it('a GET URL that expired an hour ago: 403 AccessDenied (Request has expired)', async () => {
    const p = await presign(srv.url, srv, { method: 'GET', path: `/${BUCKET}/${key}` }, { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
    const res = await sendRaw(base, 'GET', p.path, p.headers);
    assertS3Error(res, 403, 'AccessDenied');
    assert.match(text(res), /expired/);
  });

  it('a PUT URL used in time, then replayed after it expired: the replay is refused and the object keeps its first body', async () => {
    const p = await presign(srv.url, srv, { method: 'PUT', path: `/${BUCKET}/presigned/replayed` }, { expiresIn: 1 });
    assert.equal((await sendRaw(base, 'PUT', p.path, { ...p.headers, 'content-length': '5' }, 'first')).status, 200);
    await sleep(2_100);
    assertS3Error(await sendRaw(base, 'PUT', p.path, { ...p.headers, 'content-length': '6' }, 'second'), 403, 'AccessDenied', 'replay');
    assert.equal(text(await root.send({ method: 'GET', path: `/${BUCKET}/presigned/replayed` })), 'first');
  });

  it('signed in the future, or X-Amz-Expires of 0, -1, 604,801 or not a number: refused', async () => {
    const future = await presign(srv.url, srv, { method: 'GET', path: `/${BUCKET}/${key}` }, { expiresIn: 60, signingDate: new Date(Date.now() + 3600_000) });
    assertS3Error(await sendRaw(base, 'GET', future.path, future.headers), 403, 'AccessDenied', 'future');
    const good = await presign(srv.url, srv, { method: 'GET', path: `/${BUCKET}/${key}` }, { expiresIn: 60 });
    for (const expires of ['0', '-1', '604801', 'soon', '1e3']) {
      const tampered = good.path.replace(/X-Amz-Expires=\d+/, `X-Amz-Expires=${expires}`);
      assertS3Error(await sendRaw(base, 'GET', tampered, good.headers), 400, 'AuthorizationQueryParametersError', `X-Amz-Expires=${expires}`);
    }
    // A longer lifetime within the limit is a different request: the signature no longer matches.
    assertS3Error(await sendRaw(base, 'GET', good.path.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800'), good.headers), 403, 'SignatureDoesNotMatch');
  });

  it('/storage/v1 signed download URLs past their time: 400 TOKEN_EXPIRED', async () => {
    const signed = await storageApi('POST', `/object/sign/${BUCKET}/${key}`, JSON.stringify({ expiresIn: 1 }));
    assert.equal(signed.status, 200, text(signed));
    const url = (JSON.parse(text(signed)) as { signedURL: string }).signedURL;
    await sleep(2_100);
    const res = await sendRaw(base, 'GET', `/storage/v1${url}`, { host: base.host });
    assertJsonError(res, 400, 'TOKEN_EXPIRED');
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- slow clients

describe('slow clients (slowloris)', () => {
  const ATTACKERS = 30;

  it(`${ATTACKERS} connections sending their headers a byte at a time do not slow other clients`, async () => {
    const conns: RawConnection[] = [];
    const head = requestHead('GET', `/${BUCKET}/accepted/limits`, { host: base.host, 'x-slow': 's'.repeat(200) });
    for (let i = 0; i < ATTACKERS; i++) {
      const c = new RawConnection(base);
      await c.connected;
      conns.push(c);
    }
    const roundsBefore = canary.rounds;
    const started = Date.now();
    for (let i = 0; Date.now() - started < 4_000; i++) {
      await Promise.all(conns.map((c) => c.write(head[i % head.length])));
      await sleep(250);
    }
    assert.ok(canary.rounds - roundsBefore >= 5, `the canary managed ${canary.rounds - roundsBefore} rounds in 4 s`);
    assert.deepEqual(canary.failures, []);
    for (const c of conns) c.destroy();
  });

  it(`${ATTACKERS} uploads trickling their bodies do not slow other clients, and store nothing once cut`, async () => {
    const conns: RawConnection[] = [];
    for (let i = 0; i < ATTACKERS; i++) {
      const { head } = await signedHead('PUT', `/${BUCKET}/${REFUSED}trickle-${i}`, {
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(1 << 20) },
      });
      const c = new RawConnection(base);
      await c.connected;
      await c.write(head);
      conns.push(c);
    }
    const roundsBefore = canary.rounds;
    const started = Date.now();
    while (Date.now() - started < 4_000) {
      await Promise.all(conns.map((c) => c.write('x')));
      await sleep(250);
    }
    assert.ok(canary.rounds - roundsBefore >= 5, `the canary managed ${canary.rounds - roundsBefore} rounds in 4 s`);
    for (const c of conns) c.destroy();
    await sleep(300);
  });

  it('slow headers are cut by the server (headersTimeout + its check interval)', async () => {
    const c = new RawConnection(base);
    await c.connected;
    const head = requestHead('GET', '/', { host: base.host, 'x-slow': 's'.repeat(1000) });
    const bound = HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + 10_000;
    for (let i = 0; !c.isClosed && i < bound / 1000; i++) {
      await c.write(head[i % head.length]);
      await sleep(1000);
    }
    const o = await c.closed(1000);
    assert.ok(o.closed, `still open after ${o.elapsedMs} ms`);
    assert.ok(o.elapsedMs >= HEADERS_TIMEOUT_MS - 1000, `closed after ${o.elapsedMs} ms, before the timeout`);
    if (o.response) assert.equal(o.response.status, 408);
    c.destroy();
  });

  it('a silent connection (headers sent, body never) is cut after the idle timeout', async () => {
    const { head } = await signedHead('PUT', `/${BUCKET}/${REFUSED}silent`, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '100' } });
    const c = new RawConnection(base);
    await c.connected;
    await c.write(head);
    const o = await c.closed(IDLE_TIMEOUT_MS + 10_000);
    assert.ok(o.closed, `still open after ${o.elapsedMs} ms`);
    c.destroy();
  });

  it('a body trickled a byte a second is cut by the minimum body rate', async () => {
    const { head } = await signedHead('PUT', `/${BUCKET}/${REFUSED}trickle-forever`, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(1 << 20) } });
    const c = new RawConnection(base);
    await c.connected;
    await c.write(head);
    const bound = MIN_BODY_RATE_WINDOW_MS * 2 + 2_000;
    const started = Date.now();
    while (!c.isClosed && Date.now() - started < bound) {
      await c.write('x');
      await sleep(1000);
    }
    const closed = c.isClosed;
    c.destroy();
    assert.ok(closed, `a 1 byte/s body was still being accepted after ${bound} ms`);
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- forms

// Found after the suite was written, by a probe of malformed forms: a form cut
// off inside a part failed busboy's stream for that part, nobody listened,
// and the process died. On S3 POST Object that needed no credentials.
describe('multipart forms cut off', () => {
  const B = 'cutboundary';
  const part = (name: string, value: string, filename?: string) =>
    `--${B}\r\nContent-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}\r\n` +
    `${filename === undefined ? '' : 'Content-Type: text/plain\r\n'}\r\n${value}\r\n`;
  const post = (target: string, form: string, headers: Record<string, string> = {}) => {
    const body = Buffer.from(form, 'latin1');
    const head = requestHead('POST', target, { host: base.host, 'content-type': `multipart/form-data; boundary=${B}`, 'content-length': body.length, ...headers });
    return rawRequest(base, Buffer.concat([Buffer.from(head), body]));
  };
  const CUTS: Array<[string, (file: string) => string]> = [
    ['no closing boundary', (file) => file],
    ['cut inside the file', (file) => file.slice(0, -4)],
    ['cut inside a part header', () => `--${B}\r\nContent-Disposition: form-da`],
  ];

  it('/storage/v1 upload: 400 INVALID_REQUEST, nothing stored', async () => {
    for (const [what, cut] of CUTS) {
      const o = await post(`/storage/v1/object/${BUCKET}/${REFUSED}form-cut`, cut(part('', 'hello', 'f.txt')), { authorization: `Bearer ${serviceJwt}` });
      assert.ok(o.response, `${what}: no answer`);
      assertJsonError(o.response, 400, 'INVALID_REQUEST', what);
    }
  });

  it('S3 POST Object, anonymous, cut in a part it skips or in a header: 400 MalformedPOSTRequest', async () => {
    const key = part('key', `${REFUSED}post-cut`);
    for (const [what, cut] of CUTS) {
      const o = await post(`/${BUCKET}`, key + cut(part('other', 'zz', 'o.txt')));
      assertS3Error(o.response, 400, 'MalformedPOSTRequest', what);
    }
  });

  it('a part without a name (Content-Disposition: form-data;): S3 POST Object answers 400, /storage/v1 a 400 or a stored file', async () => {
    // Found by a live fuzzing probe: busboy reports such a part with an
    // undefined name, and reading it as a string threw inside the listener.
    const nameless = (filename?: string) =>
      `--${B}\r\nContent-Disposition: form-data${filename === undefined ? '' : `; filename="${filename}"`}\r\n\r\nvalue\r\n`;
    const field = await post(`/${BUCKET}`, part('key', `${REFUSED}nameless`) + nameless() + part('file', 'x', 'f.txt') + `--${B}--\r\n`);
    assertS3Error(field.response, 400, 'MalformedPOSTRequest', 'a nameless field');
    // A nameless file is not the part named "file": the form has none.
    const file = await post(`/${BUCKET}`, part('key', `${REFUSED}nameless`) + nameless('f.txt') + `--${B}--\r\n`);
    assertS3Error(file.response, 400, 'InvalidArgument', 'a nameless file');
    const o = await post(`/storage/v1/object/${BUCKET}/open/nameless`, nameless() + part('', 'hello', 'f.txt') + `--${B}--\r\n`, { authorization: `Bearer ${serviceJwt}` });
    assert.ok(o.response && (o.response.status === 200 || o.response.status === 400), `/storage/v1: ${o.response?.status}`);
  });

  it('S3 POST Object, signed, cut inside the file: 400 MalformedPOSTRequest, nothing stored', async () => {
    const signed = signPostPolicy({
      accessKeyId: srv.accessKeyId,
      secretAccessKey: srv.secretAccessKey,
      conditions: [{ bucket: BUCKET }, ['starts-with', '$key', REFUSED]],
    });
    const fields = part('key', `${REFUSED}post-cut-signed`) + Object.entries(signed).map(([k, v]) => part(k, v)).join('');
    for (const [what, cut] of CUTS.slice(0, 2)) {
      const o = await post(`/${BUCKET}`, fields + cut(part('file', 'x'.repeat(4096), 'f.txt')));
      assertS3Error(o.response, 400, 'MalformedPOSTRequest', what);
    }
  });

  it('the connection cut inside the file (Content-Length not reached): no temp file left, no upload left waiting', async () => {
    // Found by fuzz:live: the form parser is fed by req.pipe(), which does not
    // end its destination when the request is aborted, so the file part
    // neither ended nor failed, and the upload held its temp file open for good.
    const signed = signPostPolicy({
      accessKeyId: srv.accessKeyId,
      secretAccessKey: srv.secretAccessKey,
      conditions: [{ bucket: BUCKET }, ['starts-with', '$key', REFUSED]],
    });
    const s3Fields = part('key', `${REFUSED}post-aborted`) + Object.entries(signed).map(([k, v]) => part(k, v)).join('');
    for (const [target, fields, headers] of [
      [`/storage/v1/object/${BUCKET}/${REFUSED}form-aborted`, '', { authorization: `Bearer ${serviceJwt}` }],
      [`/${BUCKET}`, s3Fields, {}],
    ] as const) {
      const sent = Buffer.from(fields + `--${B}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n\r\n`, 'latin1');
      // The earlier cases' temp files gone first: one of theirs, removed a moment later, is not this upload's.
      await assertTmpEmpty();
      const conn = new RawConnection(base);
      await conn.connected;
      await conn.write(requestHead('POST', target, { host: base.host, 'content-type': `multipart/form-data; boundary=${B}`, 'content-length': sent.length + (1 << 20), ...headers }));
      await conn.write(sent);
      await conn.write(randomBytes(200_000));
      // The upload has its temp file before the cut (up to 5 s: this file loads both cores, and CI failed once at 1 s).
      let files: string[] = [];
      for (let i = 0; i < 250 && (files = await tmpFiles()).length === 0; i++) await sleep(20);
      assert.notDeepEqual(files, [], `${target}: the upload never started`);
      conn.destroy();
      await assertTmpEmpty();
    }
  });

  it('the server is unharmed', assertUnharmed);
});

// ---------------------------------------------------------------- the log

describe('the server log', () => {
  it('holds no error-level entry and no stack trace of an unhandled failure', async () => {
    const entries = srv
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg?: string; err?: { stack?: string } });
    const errors = entries.filter((e) => e.level >= 50);
    assert.deepEqual(
      errors.map((e) => `${e.msg}: ${e.err?.stack?.split('\n').slice(0, 3).join(' | ')}`),
      [],
    );
    assert.doesNotMatch(srv.log(), /Unhandled|uncaughtException|unhandledRejection/i);
  });
});

// ---------------------------------------------------------------- open

// Found by this suite in /storage/v1, then fixed.
describe('/storage/v1 request bodies', () => {
  it('a JSON body over a sane limit is refused before it is buffered (413)', async () => {
    // Over a raw socket, sending only what the refusal needs: a client that
    // keeps writing after the server answered and closed may lose the answer
    // to the connection reset.
    const LIMIT = 2 * 1024 * 1024;
    const ask = async (headers: Record<string, string | number>, payload: Buffer) => {
      const conn = new RawConnection(base);
      await conn.connected;
      await conn.write(requestHead('POST', '/storage/v1/bucket', { host: base.host, 'content-type': 'application/json', ...headers }));
      if (payload.length > 0) await conn.write(payload);
      const o = await conn.outcome(10_000);
      conn.destroy();
      return o.response;
    };
    // Declared: refused on the headers alone, no body sent.
    const declared = await ask({ 'content-length': 8 * 1024 * 1024 }, Buffer.alloc(0));
    assert.equal(declared?.status, 413, declared?.body.toString() ?? 'no response');
    // Chunked: counted as it arrives; one byte past the limit is enough.
    const over = Buffer.alloc(LIMIT + 1, 0x20);
    const chunked = await ask({ 'transfer-encoding': 'chunked' }, Buffer.concat([Buffer.from(`${over.length.toString(16)}\r\n`), over]));
    assert.equal(chunked?.status, 413, chunked?.body.toString() ?? 'no response');
  });

  it('a listing search with NUL is a 400, not a failed query', async () => {
    assertJsonError(await storageApi('POST', `/object/list/${BUCKET}`, JSON.stringify({ prefix: '', search: 'a\u0000' })), 400, 'INVALID_REQUEST');
  });

  it('metadata holding NUL is a 400, not a failed insert', async () => {
    const metadata = Buffer.from(JSON.stringify({ a: 'x\u0000y' })).toString('base64');
    const res = await storageApi('POST', `/object/${BUCKET}/open/meta-nul`, 'x', { 'content-type': 'text/plain', 'x-metadata': metadata });
    assertJsonError(res, 400, 'INVALID_REQUEST');
  });

  it('a cacheControl form field with CR LF is refused (or the object still downloads)', async () => {
    const boundary = 'hostileboundary';
    const form = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="cacheControl"\r\n\r\nmax-age=1\r\nx-injected: 1\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name=""; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
    );
    const up = await storageApi('POST', `/object/${BUCKET}/open/cache-control`, form, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    if (up.status === 200) {
      const res = await storageApi('GET', `/object/${BUCKET}/open/cache-control`);
      assert.equal(res.status, 200, text(res));
      assert.equal(res.headers['x-injected'], undefined);
    } else {
      assertJsonError(up, 400, 'INVALID_REQUEST');
    }
  });
});
