// `npm run fuzz:live`: mutated and truncated requests against a live server
// over raw sockets. The parser targets (fuzz/*.fuzz.ts) test one function at
// a time; this drives whole requests through routing, authentication, form
// and XML parsing, the core and Postgres. Templates are valid requests
// (a service-role JWT, or SigV4 headers over an unsigned body, so mutated
// bodies stay authenticated); each is sent
// with 1-3 mutations of its target, a header or the body, and one in four is
// cut off mid-request; one mutation in five blows a few characters up into
// tens of thousands, to catch parsing that is quadratic in its input.
// Invariants: the server stays up, answers nothing 5xx but 501
// (NotImplemented), logs no error, leaves no temp file (nor any data file
// open), and its event loop
// never stalls: a canary asks /health/live throughout, and no answer may
// take over LIVE_LIMIT_MS.
// FUZZ_SEED replays a run's requests; FUZZ_REQUESTS sets its length (default
// 3000), FUZZ_CONCURRENCY how many clients send them (default 4).
// Found on its first runs: two ways for one anonymous request to end the
// process (multipart forms), and a form upload whose client went away
// holding its temp file open for good (see docs/hostile-input.md).
// One request in three is a path-shape request (issue 13): an S3, admin,
// /storage/v1 or health request whose path gets dot segments (raw and
// %2e-encoded), doubled and trailing slashes, backslashes, percent-encoded
// letters, or a service prefix glued after `..`. Invariant: it is answered
// by the application its literal prefix names: S3 (its x-amz-request-id,
// never JSON, never the access-key list) for everything else, JSON without
// an S3 request id under /admin/v1, /storage/v1 and /health/.
import net from 'node:net';
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startTestServer } from '../test/support/server.ts';
import { S3RawClient } from '../test/support/signer.ts';
const SECRET = 'x'.repeat(40);
const DOMAIN = 's3.fuzz.test';
const srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_DOMAIN: DOMAIN } });
const jwt = await new SignJWT({ role: 'service_role', sub: '00000000-0000-4000-8000-000000000007' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const base = new URL(srv.url);
const H = (extra: Record<string, string>) => ({ host: base.host, authorization: `Bearer ${jwt}`, ...extra });
await fetch(`${srv.url}/storage/v1/bucket`, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fzb', public: true }) });
await fetch(`${srv.url}/fzb/src.txt`, { method: 'PUT', headers: { authorization: `Bearer ${jwt}` }, body: 'source object' });
// An access key, so that the admin API's key list is never empty: no answer to a path-shape request may contain it.
const listedKey = (await (await fetch(`${srv.url}/admin/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: JSON.stringify({ user_id: '00000000-0000-4000-8000-000000000008', name: 'listed' }) })).json()) as { access_key_id: string };
const B = 'bnd';
const form = (parts: Array<[string, string, string?]>) => parts.map(([n, v, f]) => `--${B}\r\nContent-Disposition: form-data; name="${n}"${f ? `; filename="${f}"` : ''}\r\n${f ? 'Content-Type: text/plain\r\n' : ''}\r\n${v}\r\n`).join('') + `--${B}--\r\n`;
/** bodyOnly: the headers are SigV4-signed (the body is not), so only the body is mutated. */
type T = { method: string; path: string; headers: Record<string, string>; body?: string; bodyOnly?: boolean };
const up = await (await fetch(`${srv.url}/fzb/mp.bin?uploads`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } })).text();
const uploadId = /<UploadId>([^<]+)</.exec(up)![1];
// aws-chunked bodies come only with SigV4: the root key signs the headers
// over STREAMING-UNSIGNED-PAYLOAD-TRAILER (or UNSIGNED-PAYLOAD), and the
// mutated bodies reach the chunk decoder and ingest as that principal.
// Signed once, at the start: in a run over 15 minutes they age into 403s.
const s3 = new S3RawClient(srv.url, srv);
const chunkedHeaders = (decoded: number, trailer = 'x-amz-checksum-crc32') => ({
  'content-encoding': 'aws-chunked',
  'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'x-amz-decoded-content-length': String(decoded),
  'x-amz-trailer': trailer,
});
const signedTemplate = async (method: string, path: string, headers: Record<string, string>, body: string): Promise<T> => {
  const [bare, query] = path.split('?');
  const q = Object.fromEntries(new URLSearchParams(query ?? ''));
  return { method, path, headers: (await s3.sign({ method, path: bare, query: q, headers })).headers, body, bodyOnly: true };
};
const templates: T[] = [
  // Every chunk but the last holds at least 8 KiB.
  await signedTemplate('PUT', '/fzb/ch.txt', chunkedHeaders(8195), `2000\r\n${'a'.repeat(8192)}\r\n3\r\nend\r\n0\r\nx-amz-checksum-crc32:ZRR0jw==\r\n\r\n`),
  await signedTemplate('PUT', '/fzb/ch2.txt', chunkedHeaders(5, 'x-amz-checksum-sha256'), '5\r\nhello\r\n0\r\nx-amz-checksum-sha256:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\r\n\r\n'),
  await signedTemplate('PUT', `/fzb/mp.bin?partNumber=3&uploadId=${uploadId}`, chunkedHeaders(9), '9\r\npart data\r\n0\r\nx-amz-checksum-crc32:rNn68A==\r\n\r\n'),
  // With a token the headers are not signed, so they are mutated too.
  { method: 'PUT', path: '/fzb/bearer-ch.txt', headers: H({ ...chunkedHeaders(5), 'x-amz-meta-a': 'b' }), body: '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n' },
  await signedTemplate('PUT', '/fzb/unsigned.txt', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'text/plain' }, 'unsigned payload'),
  { method: 'PUT', path: '/fzb/a.txt', headers: H({ 'content-type': 'text/plain', 'x-amz-meta-a': 'b', 'x-amz-tagging': 'a=b', 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==' }), body: 'hello' },
  { method: 'PUT', path: '/fzb/b.txt', headers: H({ 'x-amz-checksum-crc32': 'NhCmhg==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }), body: 'hello' },
  { method: 'PUT', path: '/fzb/c.txt', headers: H({ 'x-amz-copy-source': '/fzb/src.txt', 'x-amz-metadata-directive': 'REPLACE', 'x-amz-meta-z': '1' }) },
  { method: 'GET', path: '/fzb/src.txt', headers: H({ range: 'bytes=0-3', 'if-none-match': '"x"', 'if-modified-since': 'Tue, 24 Nov 2026 00:00:00 GMT' }) },
  { method: 'GET', path: '/fzb?list-type=2&prefix=a&delimiter=/&max-keys=5&start-after=a&encoding-type=url', headers: H({}) },
  { method: 'GET', path: '/fzb?versions&prefix=a&key-marker=a', headers: H({}) },
  { method: 'POST', path: '/fzb?delete', headers: H({ 'content-type': 'application/xml' }), body: '<Delete><Quiet>true</Quiet><Object><Key>a.txt</Key></Object><Object><Key>zz</Key></Object></Delete>' },
  { method: 'PUT', path: '/fzb/src.txt?tagging', headers: H({}), body: '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>' },
  { method: 'PUT', path: '/fzb?cors', headers: H({}), body: '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>' },
  { method: 'PUT', path: `/fzb/mp.bin?partNumber=1&uploadId=${uploadId}`, headers: H({}), body: 'part one data' },
  { method: 'PUT', path: `/fzb/mp.bin?partNumber=2&uploadId=${uploadId}`, headers: H({ 'x-amz-copy-source': '/fzb/src.txt', 'x-amz-copy-source-range': 'bytes=0-3' }) },
  { method: 'POST', path: `/fzb/mp.bin?uploadId=${uploadId}`, headers: H({}), body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>' },
  { method: 'GET', path: `/fzb?uploads&prefix=m`, headers: H({}) },
  { method: 'GET', path: `/fzb/mp.bin?uploadId=${uploadId}&max-parts=2&part-number-marker=0`, headers: H({}) },
  { method: 'POST', path: '/fzb', headers: { host: base.host, 'content-type': `multipart/form-data; boundary=${B}` }, body: form([['key', 'p.txt'], ['acl', 'public-read'], ['x-amz-meta-a', 'b'], ['file', 'data', 'f.txt']]) },
  { method: 'POST', path: '/storage/v1/object/fzb/s.txt', headers: H({ 'content-type': `multipart/form-data; boundary=${B}`, 'x-upsert': 'true' }), body: form([['cacheControl', '3600'], ['metadata', '{"a":1}'], ['', 'data', 's.txt']]) },
  { method: 'PUT', path: '/storage/v1/object/fzb/r.txt', headers: H({ 'content-type': 'text/plain', 'x-upsert': 'true', 'x-metadata': Buffer.from('{"a":"b"}').toString('base64') }), body: 'raw body' },
  { method: 'POST', path: '/storage/v1/object/list/fzb', headers: H({ 'content-type': 'application/json' }), body: '{"prefix":"","limit":10,"offset":0,"sortBy":{"column":"name","order":"asc"},"search":"s"}' },
  { method: 'POST', path: '/storage/v1/object/list-v2/fzb', headers: H({ 'content-type': 'application/json' }), body: '{"prefix":"","limit":10,"with_delimiter":true}' },
  { method: 'POST', path: '/storage/v1/object/sign/fzb/src.txt', headers: H({ 'content-type': 'application/json' }), body: '{"expiresIn":60}' },
  { method: 'POST', path: '/storage/v1/object/sign/fzb', headers: H({ 'content-type': 'application/json' }), body: '{"expiresIn":60,"paths":["src.txt","x"]}' },
  { method: 'POST', path: '/storage/v1/object/copy', headers: H({ 'content-type': 'application/json' }), body: '{"bucketId":"fzb","sourceKey":"src.txt","destinationKey":"cp.txt"}' },
  { method: 'POST', path: '/storage/v1/object/move', headers: H({ 'content-type': 'application/json' }), body: '{"bucketId":"fzb","sourceKey":"cp.txt","destinationKey":"mv.txt"}' },
  { method: 'DELETE', path: '/storage/v1/object/fzb', headers: H({ 'content-type': 'application/json' }), body: '{"prefixes":["mv.txt","s.txt"]}' },
  { method: 'POST', path: '/storage/v1/bucket', headers: H({ 'content-type': 'application/json' }), body: '{"name":"fzb2","public":false,"file_size_limit":"10MB","allowed_mime_types":["text/*"]}' },
  { method: 'PUT', path: '/storage/v1/bucket/fzb2', headers: H({ 'content-type': 'application/json' }), body: '{"public":true}' },
  { method: 'POST', path: '/storage/v1/object/upload/sign/fzb/u.txt', headers: H({}) },
  { method: 'GET', path: '/storage/v1/object/info/fzb/src.txt', headers: H({}) },
  { method: 'POST', path: '/', headers: { host: base.host, 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=${jwt}&RoleArn=arn:aws:iam::000000000000:role/x&RoleSessionName=s&DurationSeconds=900` },
  { method: 'POST', path: '/admin/v1/keys', headers: H({ 'content-type': 'application/json' }), body: '{"name":"k","policy":"readwrite"}' },
];
let seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
console.log(`fuzz live: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * n) | 0;
};
const JUNK = ['\0', '\r\n', '%', '%00', '&', '=', '"', '<', '>', '{', '}', '[', ']', '\\', '..', '/', '\xff', ' ', ',', ';', '-1', '99999999999999999999', 'NaN'];
function mutate(s: string): string {
  if (!s) return s;
  const k = rnd(5);
  const at = rnd(s.length + 1);
  if (k === 4) return s.slice(0, at) + (rnd(2) ? JUNK[rnd(JUNK.length)] : s.slice(at, at + 1 + rnd(4))).repeat(2_000 + rnd(200_000)) + s.slice(at);
  if (k === 0) return s.slice(0, at) + JUNK[rnd(JUNK.length)] + s.slice(at);
  if (k === 1) return s.slice(0, at) + s.slice(at + 1 + rnd(8));
  if (k === 2) return s.slice(0, at) + String.fromCharCode(rnd(256)) + s.slice(at + 1);
  return s.slice(0, at) + s.slice(at, at + 1 + rnd(16)).repeat(1 + rnd(50)) + s.slice(at);
}
// Path shapes (issue 13). A shape template keeps `path.slice(0, keep)` as
// sent (the bucket, or the service prefix) and reshapes the rest; every
// insertion starts right after a `/` (or at the end), so the literal prefix,
// and with it the application that must answer, never changes.
type Shape = { t: T; keep: number; expect: 's3' | 'admin' | 'storage' | 'health' };
const vhost = `fzb.${DOMAIN}:${base.port}`;
const presigned = async (method: string, path: string): Promise<T> => {
  const { path: target, headers } = await s3.sign({ method, path, presignExpiresIn: 3600 });
  return { method, path: target, headers: { host: headers.host } };
};
const close = { connection: 'close' };
const shapes: Shape[] = [
  { t: { method: 'GET', path: '/fzb/src.txt', headers: H(close) }, keep: 4, expect: 's3' },
  { t: { method: 'GET', path: '/fzb/uploads/x', headers: H(close) }, keep: 4, expect: 's3' },
  { t: { method: 'DELETE', path: '/fzb/uploads/x', headers: H(close) }, keep: 4, expect: 's3' },
  { t: { method: 'PUT', path: '/fzb/shape/y', headers: H(close), body: 'shape' }, keep: 4, expect: 's3' },
  { t: { method: 'HEAD', path: '/fzb/src.txt', headers: H(close) }, keep: 4, expect: 's3' },
  { t: { method: 'GET', path: '/fzb?list-type=2', headers: H(close) }, keep: 4, expect: 's3' },
  { t: { method: 'GET', path: '/x/../admin/v1/keys', headers: H(close) }, keep: 0, expect: 's3' },
  { t: { method: 'GET', path: '/%61dmin/v1/keys', headers: H(close) }, keep: 0, expect: 's3' },
  { t: { ...(await presigned('GET', '/fzb/uploads/../../admin/v1/keys')), headers: { host: base.host, ...close } }, keep: 4, expect: 's3' },
  { t: { ...(await presigned('DELETE', '/fzb/x/../../admin/v1/keys/00000000-0000-4000-8000-000000000009')), headers: { host: base.host, ...close } }, keep: 4, expect: 's3' },
  // Virtual-hosted: the Host names the bucket, the whole path is a key.
  { t: { method: 'GET', path: '/admin/v1/keys', headers: { ...H(close), host: vhost } }, keep: 0, expect: 's3' },
  { t: { method: 'GET', path: '/health/live', headers: { ...H(close), host: vhost } }, keep: 0, expect: 's3' },
  { t: { method: 'GET', path: '/admin/v1/keys', headers: H(close) }, keep: 9, expect: 'admin' },
  { t: { method: 'DELETE', path: '/admin/v1/keys/00000000-0000-4000-8000-000000000009', headers: H(close) }, keep: 9, expect: 'admin' },
  { t: { method: 'GET', path: '/storage/v1/bucket', headers: H(close) }, keep: 11, expect: 'storage' },
  { t: { method: 'GET', path: '/storage/v1/object/info/fzb/src.txt', headers: H(close) }, keep: 11, expect: 'storage' },
  { t: { method: 'GET', path: '/health/live', headers: { host: base.host, ...close } }, keep: 7, expect: 'health' },
];
const DOTS = ['..', '.', '%2e%2e', '%2E%2e', '%2e%2E', '.%2e', '%2e.', '%2e', '%2E'];
const GLUED = ['admin/v1/keys', 'admin/v1/quarantine/fzb/src.txt', 'admin/v1/keys/00000000-0000-4000-8000-000000000009', 'storage/v1/bucket',
  'storage/v1/object/info/fzb/src.txt', 'health/live', '%61dmin/v1/keys', 'admin%2fv1/keys', 'admin/v1', 'fzb/src.txt', ''];
const pick = <X>(xs: readonly X[]): X => xs[rnd(xs.length)];
/** A segment (or several) to insert right after a `/`; each ends with `/`. */
function pathPiece(): string {
  switch (rnd(7)) {
    case 0: return `${pick(DOTS)}/`;
    case 1: return `x/${Array.from({ length: 1 + rnd(4) }, () => pick(DOTS.filter((d) => d.length > 2))).join('/')}/${pick(GLUED)}/`;
    case 2: return '/';
    case 3: return `x\\${pick(DOTS)}\\`;
    case 4: return `${pick(['%5c', '%5C', '%2f', '%2F'])}${pick(DOTS)}/`;
    case 5: return `${pick(DOTS)}/${pick(DOTS)}/${pick(GLUED)}/`;
    default: return `${'../'.repeat(1 + rnd(4))}`;
  }
}
function reshape(path: string, keep: number): string {
  const q = path.indexOf('?');
  const query = q === -1 ? '' : path.slice(q);
  const head = path.slice(0, keep);
  let tail = (q === -1 ? path : path.slice(0, q)).slice(keep);
  const edits = 1 + rnd(3);
  for (let e = 0; e < edits; e++) {
    const k = rnd(6);
    if (k === 0) {
      // A trailing slash, dot segment or backslash.
      tail += pick(['/', `/${pick(DOTS)}`, '\\', `/${pick(DOTS)}/${pick(GLUED)}`]);
    } else if (k === 1) {
      // A percent-encoded letter, in either case.
      const letters = [...tail.matchAll(/[a-zA-Z]/g)].map((m) => m.index);
      if (letters.length) {
        const at = pick(letters);
        const hex = tail.charCodeAt(at).toString(16);
        tail = tail.slice(0, at) + '%' + (rnd(2) ? hex.toUpperCase() : hex) + tail.slice(at + 1);
      }
    } else {
      const slashes = [...tail.matchAll(/\//g)].map((m) => m.index + 1);
      if (slashes.length) {
        const at = pick(slashes);
        tail = tail.slice(0, at) + pathPiece() + tail.slice(at);
      } else tail += '/' + pathPiece();
    }
  }
  return head + tail + query;
}
/** Why the answer to a path-shape request came from the wrong application, or undefined. */
function wrongApplication(expect: Shape['expect'], head: string, body: string): string | undefined {
  const s3Id = /\r\nx-amz-request-id:/i.test(head);
  const json = /\r\ncontent-type: application\/json/i.test(head);
  if (body.includes(listedKey.access_key_id) && expect !== 'admin') return 'the access-key list';
  if (expect === 's3') return s3Id && !json ? undefined : 'not an S3 answer';
  return json && !s3Id ? undefined : `not the ${expect} API's JSON`;
}
function build(t: T): { bytes: Buffer; cutAt?: number } {
  let pathq = t.path;
  const headers = { ...t.headers };
  let body = t.body;
  const edits = 1 + rnd(3);
  for (let e = 0; e < edits; e++) {
    const where = t.bodyOnly ? 1 : rnd(6);
    if (where === 0) pathq = mutate(pathq).replace(/[\s]/g, '%20');
    else if (where <= 2 && body !== undefined) body = mutate(body);
    else {
      const names = Object.keys(headers).filter((n) => n !== 'host' && n !== 'authorization');
      if (names.length) { const n = names[rnd(names.length)]; headers[n] = mutate(headers[n]).replace(/[\r\n\0]/g, ''); }
    }
  }
  const b = Buffer.from(body ?? '', 'latin1');
  const head = `${t.method} ${pathq} HTTP/1.1\r\n${Object.entries({ ...headers, ...(body !== undefined ? { 'content-length': String(b.length) } : {}) }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), b]);
  const cutAt = rnd(4) === 0 ? rnd(bytes.length) : undefined;
  return { bytes, cutAt };
}
function buildShape({ t, keep }: Shape): Buffer {
  const b = Buffer.from(t.body ?? '', 'latin1');
  const headers = { ...t.headers, ...(t.body !== undefined ? { 'content-length': String(b.length) } : {}) };
  const head = `${t.method} ${reshape(t.path, keep)} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}
/** The status; with `whole`, also everything up to the server's close (path-shape requests ask for Connection: close). */
function send(bytes: Buffer, cutAt?: number, whole = false): Promise<{ status: string; got: string }> {
  return new Promise((resolve) => {
    const s = net.connect(Number(base.port), base.hostname);
    let got = '';
    const t = setTimeout(() => { s.destroy(); resolve({ status: got.slice(0, 12) || 'timeout', got }); }, 3000);
    s.on('data', (d) => { got += d.toString('latin1'); if (!whole && /\r\n\r\n/.test(got)) { clearTimeout(t); s.destroy(); resolve({ status: got.slice(9, 12), got }); } });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ status: got.slice(9, 12) || 'closed', got }); });
    if (cutAt !== undefined) { s.write(bytes.subarray(0, cutAt), () => setTimeout(() => s.destroy(), 20)); }
    else s.write(bytes);
  });
}
/** Files under the data directory the server process holds open (a stuck upload holds its temp file). */
const openDataFiles = () =>
  readdirSync(`/proc/${srv.process.pid}/fd`)
    .map((fd) => { try { return readlinkSync(`/proc/${srv.process.pid}/fd/${fd}`); } catch { return ''; } })
    .filter((target) => target.startsWith(srv.dataDir));
const openAtStart = new Set(openDataFiles());
const N = Number(process.env.FUZZ_REQUESTS ?? 3000);
// A stalled event loop (super-linear work on one request) delays every other
// client; the canary measures it from outside, whatever the request was.
const LIVE_LIMIT_MS = 1000;
let slowest = { ms: 0, after: '' };
let lastSent = '';
let fuzzing = true;
const canary = (async () => {
  while (fuzzing) {
    const t0 = performance.now();
    await fetch(`${srv.url}/health/live`).then((r) => r.arrayBuffer(), () => undefined);
    const ms = performance.now() - t0;
    if (ms > slowest.ms) slowest = { ms, after: lastSent };
    await new Promise((r) => setTimeout(r, 50));
  }
})();
const failures: string[] = [];
const statuses = new Map<string, number>();
const started = Date.now();
// Clients in parallel (FUZZ_CONCURRENCY, default 4) race on the same few
// keys and uploads. Each request is built as its index is taken, so a seed
// still names the same requests; only their interleaving varies.
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4);
let next = 0;
async function client(): Promise<void> {
  while (next < N) {
    const i = next++;
    if (rnd(3) === 0) {
      const shape = shapes[rnd(shapes.length)];
      const bytes = buildShape(shape);
      lastSent = JSON.stringify(bytes.toString('latin1').slice(0, 400));
      const { status, got } = await send(bytes, undefined, true);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const end = got.indexOf('\r\n\r\n');
      const wrong = end === -1 ? `no answer (${status})` : wrongApplication(shape.expect, got.slice(0, end), got.slice(end + 4));
      if (wrong) failures.push(`path shape, expected ${shape.expect}: ${wrong}: ${JSON.stringify(bytes.toString('latin1').slice(0, 300))} → ${JSON.stringify(got.slice(0, 400))}`);
      if (status.startsWith('5') && status !== '501') failures.push(`${status} for ${JSON.stringify(bytes.toString('latin1').slice(0, 400))}`);
      if (i % 200 === 0) await assertUp(i, bytes, undefined);
      continue;
    }
    const t = templates[rnd(templates.length)];
    const { bytes, cutAt } = build(t);
    lastSent = JSON.stringify(bytes.toString('latin1').slice(0, 400));
    const { status: st } = await send(bytes, cutAt);
    statuses.set(st, (statuses.get(st) ?? 0) + 1);
    if (st.startsWith('5') && st !== '501') failures.push(`${st} for ${JSON.stringify(bytes.toString('latin1').slice(0, 400))}`);
    if (i % 200 === 0) await assertUp(i, bytes, cutAt);
  }
}
async function assertUp(i: number, bytes: Buffer, cutAt: number | undefined): Promise<void> {
  const live = await fetch(`${srv.url}/health/live`).then((r) => r.status, () => 0);
  if (live !== 200) {
    console.error(`✖ the server is down after request ${i}; among the last 200, this one: ${JSON.stringify(bytes.toString('latin1').slice(0, 600))} (cut at ${cutAt})`);
    console.error(srv.log().split('\n').slice(-25).join('\n'));
    process.exit(1);
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, client));
fuzzing = false;
await canary;
console.log(`${N} requests in ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; slowest /health/live ${slowest.ms.toFixed(0)} ms`);
if (slowest.ms > LIVE_LIMIT_MS) failures.push(`/health/live took ${slowest.ms.toFixed(0)} ms (limit ${LIVE_LIMIT_MS}); the request in flight: ${slowest.after}`);
for (const e of srv.log().split('\n').filter((l) => l.includes('"level":50'))) failures.push(`logged: ${e.slice(0, 700)}`);
await new Promise((r) => setTimeout(r, 500));
const temp = readdirSync(path.join(srv.dataDir, 'tmp')).length;
const stillOpen = openDataFiles().filter((f) => !openAtStart.has(f));
if (stillOpen.length > 0) failures.push(`${stillOpen.length} data files still open: ${stillOpen.slice(0, 5).join(', ')}`);
if (temp > 0) {
  await new Promise((r) => setTimeout(r, 5000));
  failures.push(`${temp} temp files left; 5 s later ${readdirSync(path.join(srv.dataDir, 'tmp')).join(', ')}`);
}
await srv.stop();
for (const f of failures.slice(0, 10)) console.error(`✖ ${f}`);
console.log(failures.length ? `✖ live: ${failures.length} failures` : '✔ live: up throughout, no 5xx but 501, no error logged, no temp file left or held open, no stall');
process.exit(failures.length ? 1 : 0);
