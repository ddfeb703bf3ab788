// Credentials that are wrong on purpose, against a real server: JWT bearer
// tokens (forged, expired, not yet valid, alg none, another algorithm,
// tampered claims, the service and anon roles), STS session tokens
// (tampered, swapped, expired), presigned URLs with each part changed, and
// anonymous requests on public and private buckets. Every refusal must be a
// 4xx with an expected S3 code: never a 2xx, never a 5xx.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { MasterKey } from '../src/principals/master-key.ts';
import { StsCredentials } from '../src/principals/sts.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { S3RawClient, sendRaw, type Credentials, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = randomBytes(32).toString('base64url');
// Known to the test so that it can mint an STS session token the server accepts, already expired.
const MASTER_KEY = randomBytes(32).toString('base64');
const BODY = 'the private object of A\n';
const PUBLIC_BODY = 'a public object\n';

interface User extends Credentials {
  userId: string;
}

let server: TestServer;
let base: URL;
let root: S3RawClient;
let a: User;
let b: User;
let asA: S3RawClient;
let asB: S3RawClient;

const text = (res: RawResponse) => res.body.toString();

async function newUser(): Promise<User> {
  const userId = randomUUID();
  return { userId, ...credentialsOf(await createAccessKey(root, userId)) };
}

const bucketSettings = (name: string, settings: Record<string, unknown>) => setBucketSettings(root, name, settings);

async function ok(client: S3RawClient, method: string, path: string, body?: string): Promise<void> {
  const res = await client.send({ method, path, body });
  assert.ok(res.status === 200 || res.status === 204, `${method} ${path}: ${res.status} ${text(res)}`);
}

/** A request with no credentials at all. */
function anonymous(method: string, path: string, body?: string): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host }, body);
}

function bearer(token: string, path = '/sec-a/obj.txt', method = 'GET'): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host, authorization: `Bearer ${token}` });
}

/** A refusal: this status, this S3 error code. */
function assertRefused(res: RawResponse, status: number, code: string, what = ''): void {
  assert.equal(res.status, status, `${what} ${text(res)}`);
  assert.equal(errorCode(res.body), code, `${what} ${text(res)}`);
}

/** A refusal with any of these codes (4xx, never 2xx or 5xx). */
function assertRefusedWith(res: RawResponse, codes: readonly string[], what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status} ${text(res)}`);
  const code = errorCode(res.body);
  assert.ok(code !== undefined && codes.includes(code), `${what}: code ${code} (status ${res.status}), expected one of ${codes.join(', ')}`);
}

// ---------------------------------------------------------------- tokens

const now = () => Math.floor(Date.now() / 1000);
const secretBytes = (s = JWT_SECRET) => new TextEncoder().encode(s);

function jwt(claims: Record<string, unknown>, opts: { secret?: string; exp?: number | null; nbf?: number; alg?: string } = {}) {
  const t = new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt();
  if (opts.exp !== null) t.setExpirationTime(opts.exp ?? now() + 3600);
  if (opts.nbf !== undefined) t.setNotBefore(opts.nbf);
  return t.sign(secretBytes(opts.secret));
}

const userToken = (u: User, opts?: Parameters<typeof jwt>[1]) => jwt({ sub: u.userId, role: 'authenticated' }, opts);

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

/** Replaces the payload of a signed token, keeping its header and signature. */
function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64url(payload)}.${signature}`;
}

/** Changes one base64url character of `s` at `index` to another base64url character. */
function flipChar(s: string, index: number): string {
  const c = s[index];
  const to = c === 'A' ? 'B' : 'A';
  return s.slice(0, index) + to + s.slice(index + 1);
}

before(async () => {
  server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET, AEROSTORE_MASTER_KEY: MASTER_KEY } });
  base = new URL(server.url);
  root = new S3RawClient(server.url, server);
  a = await newUser();
  b = await newUser();
  asA = new S3RawClient(server.url, a);
  asB = new S3RawClient(server.url, b);
  await ok(asA, 'PUT', '/sec-a');
  await ok(asA, 'PUT', '/sec-a/obj.txt', BODY);
  await ok(asB, 'PUT', '/sec-b');
  await ok(asB, 'PUT', '/sec-b/b.txt', "B's\n");
  await ok(asA, 'PUT', '/sec-pub');
  await ok(asA, 'PUT', '/sec-pub/pub.txt', PUBLIC_BODY);
  await bucketSettings('sec-pub', { policy: 'public' });
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await server?.stop();
});

describe('JWT bearer tokens on S3', () => {
  it("a valid token of A reads A's private object; B's token does not", async () => {
    const res = await bearer(await userToken(a));
    assert.equal(res.status, 200, text(res));
    assert.equal(text(res), BODY);
    assertRefused(await bearer(await userToken(b)), 403, 'AccessDenied', "B's token");
  });

  it('a token signed with another secret: 403 AccessDenied', async () => {
    assertRefused(await bearer(await userToken(a, { secret: randomBytes(32).toString('base64url') })), 403, 'AccessDenied');
  });

  it('an expired token: 400 ExpiredToken (as S3 answers for an expired session token)', async () => {
    // Beyond the verifier's 5 s clock tolerance.
    assertRefused(await bearer(await userToken(a, { exp: now() - 60 })), 400, 'ExpiredToken');
    // Expiry is only reported for a token whose signature holds: a forged expired token is just invalid.
    assertRefused(await bearer(await userToken(a, { exp: now() - 60, secret: 'x'.repeat(40) })), 403, 'AccessDenied');
  });

  it('a token not valid yet (nbf in the future): 403 AccessDenied', async () => {
    assertRefused(await bearer(await userToken(a, { nbf: now() + 600 })), 403, 'AccessDenied');
  });

  it('alg none, and a token without a signature: 403 AccessDenied', async () => {
    const payload = { sub: a.userId, role: 'authenticated', exp: now() + 3600 };
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
    assertRefused(await bearer(none), 403, 'AccessDenied', 'alg none');
    const valid = await userToken(a);
    assertRefused(await bearer(valid.slice(0, valid.lastIndexOf('.') + 1)), 403, 'AccessDenied', 'signature removed');
    const noneUpper = `${b64url({ alg: 'NONE', typ: 'JWT' })}.${b64url(payload)}.`;
    assertRefused(await bearer(noneUpper), 403, 'AccessDenied', 'alg NONE');
  });

  it('other algorithms: RS256 (no JWKS configured) and HS512 with the right secret: 403 AccessDenied', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT({ sub: a.userId, role: 'authenticated' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(privateKey);
    assertRefused(await bearer(rs), 403, 'AccessDenied', 'RS256');
    assertRefused(await bearer(await userToken(a, { alg: 'HS512' })), 403, 'AccessDenied', 'HS512');
    // HS256 in the header over an RS256 signature.
    const [, p, s] = rs.split('.');
    assertRefused(await bearer(`${b64url({ alg: 'HS256', typ: 'JWT' })}.${p}.${s}`), 403, 'AccessDenied', 'header swapped to HS256');
  });

  it("a tampered payload keeping A's signature: 403 AccessDenied", async () => {
    const token = await userToken(a);
    const claims = payloadOf(token);
    assertRefused(await bearer(withPayload(token, { ...claims, sub: b.userId }), '/sec-b/b.txt'), 403, 'AccessDenied', 'sub → B');
    assertRefused(await bearer(withPayload(token, { ...claims, role: 'service_role' }), '/sec-b/b.txt'), 403, 'AccessDenied', 'role → service_role');
    assertRefused(await bearer(withPayload(token, { ...claims, exp: now() + 86_400 * 365 })), 403, 'AccessDenied', 'exp extended');
    assertRefused(await bearer(flipChar(token, token.length - 3)), 403, 'AccessDenied', 'signature byte changed');
  });

  it('malformed tokens and claims: 403 AccessDenied', async () => {
    assertRefused(await bearer('not-a-jwt'), 403, 'AccessDenied', 'garbage');
    assertRefused(await bearer(await userToken(a, { exp: null })), 403, 'AccessDenied', 'no exp');
    assertRefused(await bearer(await jwt({ role: 'authenticated' })), 403, 'AccessDenied', 'no sub');
    assertRefused(await bearer(await jwt({ sub: 'alice', role: 'authenticated' })), 403, 'AccessDenied', 'sub not a uuid');
    assertRefused(await bearer(await jwt({ sub: a.userId, role: 'supabase_admin' })), 403, 'AccessDenied', 'unknown role');
  });

  it('role service_role acts as the service: reads every bucket, lists them all, may use the admin API', async () => {
    const token = await jwt({ role: 'service_role' });
    const mine = await bearer(token);
    assert.equal(mine.status, 200, text(mine));
    assert.equal(text(mine), BODY);
    assert.equal((await bearer(token, '/sec-b/b.txt')).status, 200);
    const list = await bearer(token, '/');
    assert.equal(list.status, 200, text(list));
    for (const name of ['sec-a', 'sec-b', 'sec-pub']) assert.match(text(list), new RegExp(`<Name>${name}</Name>`));
    assert.equal((await bearer(token, '/admin/v1/keys')).status, 200);
    // An authenticated user's token may not use the admin API.
    assert.equal((await bearer(await userToken(a), '/admin/v1/keys')).status, 403);
  });

  it('role anon acts as an anonymous request: private objects refused, public ones readable', async () => {
    const token = await jwt({ role: 'anon' });
    assertRefused(await bearer(token), 403, 'AccessDenied');
    const pub = await bearer(token, '/sec-pub/pub.txt');
    assert.equal(pub.status, 200, text(pub));
    assert.equal(text(pub), PUBLIC_BODY);
    assertRefused(await bearer(token, '/'), 403, 'AccessDenied', 'ListBuckets');
  });

  it('a PUT with a token reads x-amz-content-sha256 as a signed one would: aws-chunked is decoded, a hex hash checked', async () => {
    // Unsigned, the header was ignored: an aws-chunked body was stored with its framing.
    const token = await userToken(a);
    const put = (key: string, headers: Record<string, string>, body: string) =>
      sendRaw(base, 'PUT', `/sec-a/${key}`, { host: base.host, authorization: `Bearer ${token}`, 'content-length': String(body.length), ...headers }, body);
    const chunked = { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '5' };
    for (const [key, headers, body] of [
      ['chunked', chunked, '5\r\nhello\r\n0\r\n\r\n'],
      ['chunked-crc', { ...chunked, 'x-amz-trailer': 'x-amz-checksum-crc32' }, '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n'],
      ['hashed', { 'x-amz-content-sha256': createHash('sha256').update('hello').digest('hex') }, 'hello'],
    ] as const) {
      const res = await put(key, headers, body);
      assert.equal(res.status, 200, `${key}: ${text(res)}`);
      const got = await bearer(token, `/sec-a/${key}`);
      assert.equal(text(got), 'hello', key);
      assert.equal(got.headers['content-encoding'], undefined, key);
    }
    assertRefused(await put('bad-crc', { ...chunked, 'x-amz-trailer': 'x-amz-checksum-crc32' }, '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'), 400, 'BadDigest');
    assertRefused(await put('bad-hash', { 'x-amz-content-sha256': '0'.repeat(64) }, 'hello'), 400, 'XAmzContentSHA256Mismatch');
    // Signed chunks cannot be checked without a signature.
    assertRefused(await put('signed-chunks', { ...chunked, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, '5;chunk-signature=00\r\nhello\r\n0;chunk-signature=00\r\n\r\n'), 400, 'InvalidRequest');
    assert.equal((await bearer(token, '/sec-a/bad-crc')).status, 404);
    assert.equal((await bearer(token, '/sec-a/bad-hash')).status, 404);
  });
});

// ---------------------------------------------------------------- STS

interface StsCreds extends Credentials {
  sessionToken: string;
}

function sts(params: Record<string, string>): Promise<RawResponse> {
  return sendRaw(base, 'POST', '/', { host: base.host, 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams(params).toString());
}

async function assume(token: string): Promise<StsCreds> {
  const res = await sts({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: 'arn:aws:iam::000000000000:role/web',
    RoleSessionName: 'auth-security',
    WebIdentityToken: token,
    DurationSeconds: '900',
  });
  assert.equal(res.status, 200, text(res));
  const xml = text(res);
  return { accessKeyId: xmlValue(xml, 'AccessKeyId')!, secretAccessKey: xmlValue(xml, 'SecretAccessKey')!, sessionToken: xmlValue(xml, 'SessionToken')! };
}

/** A GET signed with `keys` and carrying `sessionToken` (signed, as SDKs do). */
function withToken(keys: Credentials, sessionToken: string | undefined, path = '/sec-a/obj.txt'): Promise<RawResponse> {
  const headers = sessionToken === undefined ? undefined : { 'x-amz-security-token': sessionToken };
  // Only the key pair: given a sessionToken, the signer would set the header itself.
  const { accessKeyId, secretAccessKey } = keys;
  return new S3RawClient(server.url, { accessKeyId, secretAccessKey }).send({ method: 'GET', path, headers });
}

describe('STS temporary credentials', () => {
  let creds: StsCreds;
  let other: StsCreds;

  before(async () => {
    creds = await assume(await userToken(a));
    other = await assume(await userToken(a));
    assert.match(creds.accessKeyId, /^ASIA/);
  });

  it("work as A, and only as A", async () => {
    const res = await withToken(creds, creds.sessionToken);
    assert.equal(res.status, 200, text(res));
    assert.equal(text(res), BODY);
    assertRefused(await withToken(creds, creds.sessionToken, '/sec-b/b.txt'), 403, 'AccessDenied');
  });

  it('a session token with one character changed (payload or MAC): 400 InvalidToken', async () => {
    const [payload, mac] = creds.sessionToken.split('.');
    for (const [what, token] of [
      ['payload, first character', `${flipChar(payload, 0)}.${mac}`],
      ['payload, middle', `${flipChar(payload, payload.length >> 1)}.${mac}`],
      ['MAC, last character', `${payload}.${flipChar(mac, mac.length - 1)}`],
      ['MAC removed', `${payload}.`],
      ['MAC missing', payload],
      ['extra part', `${creds.sessionToken}.x`],
      ['empty', ''],
    ] as const) {
      assertRefused(await withToken(creds, token), 400, 'InvalidToken', what);
    }
    // A payload rewritten for another user and role, with the old MAC.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.sub, a.userId);
    const forged = `${b64url({ ...claims, sub: b.userId, role: 'service' })}.${mac}`;
    assertRefused(await withToken(creds, forged, '/sec-b/b.txt'), 400, 'InvalidToken', 'claims rewritten');
  });

  it("another credential's session token, or another access key id: refused", async () => {
    // Signed with the right id and secret, sent with the other session's token.
    assertRefused(await withToken(creds, other.sessionToken), 400, 'InvalidToken', 'swapped session token');
    // The other session's id (and secret) with this session's token.
    assertRefused(await withToken(other, creds.sessionToken), 400, 'InvalidToken', 'swapped id and secret');
    // This id with the other's secret.
    const res = await withToken({ accessKeyId: creds.accessKeyId, secretAccessKey: other.secretAccessKey }, creds.sessionToken);
    assertRefused(res, 403, 'SignatureDoesNotMatch', 'wrong secret');
    // The temporary id without its token is unknown; a permanent key with a session token is refused.
    assertRefused(await withToken(creds, undefined), 403, 'InvalidAccessKeyId', 'ASIA id without a token');
    assertRefusedWith(await withToken(a, creds.sessionToken), ['InvalidAccessKeyId', 'InvalidToken'], "A's permanent key with a session token");
  });

  it('an expired session token (MACed with the server key): 400 ExpiredToken', async () => {
    const key = MasterKey.fromBase64(MASTER_KEY).derive('sts-session-tokens');
    const minter = new StsCredentials(key);
    const principal = { kind: 'user', via: 'sts', userId: a.userId, role: 'authenticated' } as const;
    // The same key as the server's: a fresh one works, so the expired one is refused for its expiry alone.
    const fresh = minter.issue(principal, 900);
    assert.equal((await withToken(fresh, fresh.sessionToken)).status, 200);
    const expired = minter.issue(principal, 900, new Date(Date.now() - 3600_000));
    assertRefused(await withToken(expired, expired.sessionToken), 400, 'ExpiredToken');
  });

  it('in a presigned URL: works as issued, refused with the token changed', async () => {
    // With the session token among the credentials, the signer puts X-Amz-Security-Token in the query, as the SDKs do.
    const client = new S3RawClient(server.url, creds);
    const { path } = await client.sign({ method: 'GET', path: '/sec-a/obj.txt', presignExpiresIn: 300 });
    assert.match(path, /X-Amz-Security-Token=/);
    const res = await sendRaw(base, 'GET', path, { host: base.host });
    assert.equal(res.status, 200, text(res));
    const url = new URL(path, base);
    url.searchParams.set('X-Amz-Security-Token', `${flipChar(creds.sessionToken, 3)}`);
    assertRefused(await sendRaw(base, 'GET', url.pathname + url.search, { host: base.host }), 400, 'InvalidToken');
  });

  it('AssumeRoleWithWebIdentity refuses expired, forged and anon tokens', async () => {
    const call = async (token: string) => {
      const res = await sts({ Action: 'AssumeRoleWithWebIdentity', RoleArn: 'arn:aws:iam::000000000000:role/web', RoleSessionName: 's1', WebIdentityToken: token });
      return { status: res.status, code: errorCode(res.body) };
    };
    assert.deepEqual(await call(await userToken(a, { exp: now() - 60 })), { status: 400, code: 'ExpiredTokenException' });
    assert.deepEqual(await call(await userToken(a, { secret: 'y'.repeat(40) })), { status: 400, code: 'InvalidIdentityToken' });
    assert.deepEqual(await call(await jwt({ role: 'anon' })), { status: 403, code: 'AccessDenied' });
    const none = `${b64url({ alg: 'none' })}.${b64url({ sub: a.userId, role: 'authenticated', exp: now() + 60 })}.`;
    assert.deepEqual(await call(none), { status: 400, code: 'InvalidIdentityToken' });
  });
});

// ---------------------------------------------------------------- presigned URLs

const AQPE = 'AuthorizationQueryParametersError';
const SDNM = 'SignatureDoesNotMatch';

describe('tampered presigned URLs', () => {
  let signed: URL;

  before(async () => {
    const { path } = await asA.sign({ method: 'GET', path: '/sec-a/obj.txt', presignExpiresIn: 300 });
    signed = new URL(path, base);
  });

  const get = (url: URL, method = 'GET', headers: Record<string, string> = {}) =>
    sendRaw(base, method, url.pathname + url.search, { host: base.host, ...headers });
  const variant = (change: (q: URLSearchParams) => void, pathname?: string): URL => {
    const u = new URL(signed);
    change(u.searchParams);
    if (pathname) u.pathname = pathname;
    return u;
  };
  const credentialPart = (index: number, value: string) => (q: URLSearchParams) => {
    const parts = q.get('X-Amz-Credential')!.split('/');
    parts[index] = value;
    q.set('X-Amz-Credential', parts.join('/'));
  };
  const shiftDate = (seconds: number) => (q: URLSearchParams) => {
    const d = q.get('X-Amz-Date')!;
    const t = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
    q.set('X-Amz-Date', new Date(t + seconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''));
  };

  it('works unchanged (and re-serialised)', async () => {
    const res = await get(signed);
    assert.equal(res.status, 200, text(res));
    assert.equal(text(res), BODY);
    const reserialised = await get(variant(() => {}));
    assert.equal(reserialised.status, 200, text(reserialised));
  });

  it('every changed parameter is refused with a 4xx and an expected code', async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const cases: [string, URL, readonly string[]][] = [
      ['X-Amz-Algorithm HMAC-SHA1', variant((q) => q.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA1')), [AQPE]],
      ['X-Amz-Algorithm empty', variant((q) => q.set('X-Amz-Algorithm', '')), [AQPE]],
      ["credential key id → B's", variant(credentialPart(0, b.accessKeyId)), [SDNM]],
      ['credential key id → root', variant(credentialPart(0, server.accessKeyId)), [SDNM]],
      ['credential key id → unknown', variant(credentialPart(0, 'AKAAAAAAAAAAAAAAAAAA')), ['InvalidAccessKeyId']],
      ['credential key id lower-cased', variant(credentialPart(0, a.accessKeyId.toLowerCase())), ['InvalidAccessKeyId']],
      ['credential date → yesterday', variant(credentialPart(1, yesterday)), [AQPE]],
      ['credential region → eu-west-1', variant(credentialPart(2, 'eu-west-1')), [AQPE]],
      ['credential service → sts', variant(credentialPart(3, 'sts')), [AQPE]],
      ['credential terminator → aws4_reques', variant(credentialPart(4, 'aws4_reques')), [AQPE]],
      ['X-Amz-Date one second earlier', variant(shiftDate(-1)), [SDNM, AQPE]],
      ['X-Amz-Date a day earlier (credential date too)', variant((q) => { shiftDate(-86_400)(q); credentialPart(1, yesterday)(q); }), ['AccessDenied', SDNM]],
      ['X-Amz-Date an hour ahead', variant(shiftDate(3600)), ['AccessDenied', SDNM, AQPE]],
      ['X-Amz-Date malformed', variant((q) => q.set('X-Amz-Date', 'yesterday')), [AQPE]],
      ['X-Amz-Expires 3600', variant((q) => q.set('X-Amz-Expires', '3600')), [SDNM]],
      ['X-Amz-Expires 604801', variant((q) => q.set('X-Amz-Expires', '604801')), [AQPE]],
      ['X-Amz-Expires 0', variant((q) => q.set('X-Amz-Expires', '0')), [AQPE]],
      ['X-Amz-Expires -1', variant((q) => q.set('X-Amz-Expires', '-1')), [AQPE]],
      ['X-Amz-Expires abc', variant((q) => q.set('X-Amz-Expires', 'abc')), [AQPE]],
      ['X-Amz-SignedHeaders host;range', variant((q) => q.set('X-Amz-SignedHeaders', 'host;range')), [SDNM]],
      ['X-Amz-SignedHeaders empty', variant((q) => q.set('X-Amz-SignedHeaders', '')), [AQPE]],
      ['X-Amz-SignedHeaders without host', variant((q) => q.set('X-Amz-SignedHeaders', 'x-amz-date')), ['AccessDenied', SDNM]],
      ['X-Amz-Signature last digit', variant((q) => q.set('X-Amz-Signature', flipHex(q.get('X-Amz-Signature')!))), [SDNM]],
      ['X-Amz-Signature upper-case', variant((q) => q.set('X-Amz-Signature', q.get('X-Amz-Signature')!.toUpperCase())), [SDNM]],
      ['X-Amz-Signature truncated', variant((q) => q.set('X-Amz-Signature', q.get('X-Amz-Signature')!.slice(0, 63))), [SDNM]],
      ['X-Amz-Signature empty', variant((q) => q.set('X-Amz-Signature', '')), [AQPE]],
      ['path: another key', variant(() => {}, '/sec-a/obj.tx'), [SDNM]],
      ['path: key upper-cased', variant(() => {}, '/sec-a/OBJ.txt'), [SDNM]],
      ['path: trailing slash', variant(() => {}, '/sec-a/obj.txt/'), [SDNM]],
      ['path: double slash', variant(() => {}, '/sec-a//obj.txt'), [SDNM]],
      ["path: B's object", variant(() => {}, '/sec-b/b.txt'), [SDNM]],
      ['path: the bucket (a listing)', variant(() => {}, '/sec-a'), [SDNM]],
      ['extra response-content-type', variant((q) => q.set('response-content-type', 'text/html')), [SDNM]],
      ['extra versionId', variant((q) => q.set('versionId', 'null')), [SDNM]],
      ['extra list-type (turns it into a listing)', variant((q) => q.set('list-type', '2'), '/sec-a'), [SDNM]],
      ['extra X-Amz-Security-Token', variant((q) => q.set('X-Amz-Security-Token', 'abc')), ['InvalidAccessKeyId', 'InvalidToken']],
      ['X-Amz-Expires given twice', variant((q) => q.append('X-Amz-Expires', '604800')), [SDNM, AQPE]],
      ['X-Amz-Signature given twice, the wrong one first', variant((q) => {
        const sig = q.get('X-Amz-Signature')!;
        q.delete('X-Amz-Signature');
        q.append('X-Amz-Signature', flipHex(sig));
        q.append('X-Amz-Signature', sig);
      }), [SDNM, AQPE]],
    ];
    for (const name of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
      cases.push([`${name} removed`, variant((q) => q.delete(name)), [AQPE]]);
    }
    for (const [what, url, codes] of cases) {
      assertRefusedWith(await get(url), codes, what);
    }
  });

  it('refused with another method, an extra unsigned x-amz-* header, or an Authorization header besides', async () => {
    for (const method of ['PUT', 'DELETE']) assertRefusedWith(await get(signed, method), [SDNM], method);
    // POST on an object key is no S3 operation: the router answers before authentication.
    assertRefusedWith(await get(signed, 'POST'), [SDNM, 'MethodNotAllowed'], 'POST');
    const head = await get(signed, 'HEAD');
    assert.equal(head.status, 403, 'HEAD with a GET URL');
    assertRefusedWith(await get(signed, 'GET', { 'x-amz-meta-extra': '1' }), ['AccessDenied'], 'unsigned x-amz-meta-extra');
  });

  it('a presigned URL with a forged signature is not rescued by a bearer token besides', async () => {
    // Two auth mechanisms in one request: S3 answers 400 InvalidArgument ("Only one auth
    // mechanism allowed"), as aerostore does for an Authorization header with a presigned query.
    const forged = variant((q) => q.set('X-Amz-Signature', flipHex(q.get('X-Amz-Signature')!)));
    const res = await get(forged, 'GET', { authorization: `Bearer ${await userToken(a)}` });
    assertRefusedWith(res, ['InvalidArgument', 'AccessDenied', SDNM], 'forged presigned URL + valid bearer token');
  });

  it('expires: X-Amz-Expires=1, two seconds later 403 AccessDenied', async () => {
    const { path } = await asA.sign({ method: 'GET', path: '/sec-a/obj.txt', presignExpiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    assertRefused(await sendRaw(base, 'GET', path, { host: base.host }), 403, 'AccessDenied');
  });

  it('a presigned PUT cannot be replayed as a DELETE, nor on another key', async () => {
    const { path } = await asA.sign({ method: 'PUT', path: '/sec-a/put.txt', presignExpiresIn: 300 });
    const put = await sendRaw(base, 'PUT', path, { host: base.host }, 'uploaded through a presigned PUT\n');
    assert.equal(put.status, 200, text(put));
    assertRefusedWith(await sendRaw(base, 'DELETE', path, { host: base.host }), [SDNM], 'DELETE with the PUT URL');
    const other = new URL(path, base);
    other.pathname = '/sec-a/obj.txt';
    assertRefusedWith(await sendRaw(base, 'PUT', other.pathname + other.search, { host: base.host }, 'overwritten'), [SDNM], 'PUT URL on another key');
    const still = await asA.send({ method: 'GET', path: '/sec-a/put.txt' });
    assert.equal(still.status, 200);
    assert.equal(text(still), 'uploaded through a presigned PUT\n');
    assert.equal(text(await asA.send({ method: 'GET', path: '/sec-a/obj.txt' })), BODY);
  });
});

function flipHex(sig: string): string {
  const last = sig[sig.length - 1];
  return sig.slice(0, -1) + (last === '0' ? '1' : '0');
}

// ---------------------------------------------------------------- anonymous

describe('anonymous S3 requests', () => {
  it('GET and HEAD of an object in a public bucket: 200 with its bytes', async () => {
    const res = await anonymous('GET', '/sec-pub/pub.txt');
    assert.equal(res.status, 200, text(res));
    assert.equal(text(res), PUBLIC_BODY);
    assert.equal((await anonymous('HEAD', '/sec-pub/pub.txt')).status, 200);
  });

  it('PUT into or DELETE from a public bucket: 403 AccessDenied, nothing changed', async () => {
    assertRefused(await anonymous('PUT', '/sec-pub/new.txt', 'x'), 403, 'AccessDenied', 'PUT');
    assertRefused(await anonymous('PUT', '/sec-pub/pub.txt', 'overwritten'), 403, 'AccessDenied', 'PUT over');
    assertRefused(await anonymous('DELETE', '/sec-pub/pub.txt'), 403, 'AccessDenied', 'DELETE');
    assertRefused(await anonymous('PUT', '/sec-anon-bucket'), 403, 'AccessDenied', 'CreateBucket');
    const res = await asA.send({ method: 'GET', path: '/sec-pub/pub.txt' });
    assert.equal(text(res), PUBLIC_BODY);
    assert.equal((await asA.send({ method: 'HEAD', path: '/sec-pub/new.txt' })).status, 404);
  });

  it('ListBuckets: 403 AccessDenied', async () => {
    assertRefused(await anonymous('GET', '/'), 403, 'AccessDenied');
  });

  it('GET in a private bucket: 403 AccessDenied, not 404, whether the key exists or not', async () => {
    assertRefused(await anonymous('GET', '/sec-a/obj.txt'), 403, 'AccessDenied', 'existing key');
    assertRefused(await anonymous('GET', '/sec-a/no-such-key'), 403, 'AccessDenied', 'missing key');
    assert.equal((await anonymous('HEAD', '/sec-a/obj.txt')).status, 403);
    assertRefused(await anonymous('GET', '/sec-a'), 403, 'AccessDenied', 'listing');
  });

  it('a missing key in a public bucket: 403 AccessDenied without public_list, 404 NoSuchKey with it', async () => {
    assertRefused(await anonymous('GET', '/sec-pub/missing.txt'), 403, 'AccessDenied', 'public_list off');
    assertRefused(await anonymous('GET', '/sec-pub?list-type=2'), 403, 'AccessDenied', 'listing, public_list off');
    await bucketSettings('sec-pub', { public_list: true });
    try {
      assertRefused(await anonymous('GET', '/sec-pub/missing.txt'), 404, 'NoSuchKey', 'public_list on');
      const list = await anonymous('GET', '/sec-pub?list-type=2');
      assert.equal(list.status, 200, text(list));
      assert.match(text(list), /<Key>pub\.txt<\/Key>/);
      // Listing does not open writes.
      assertRefused(await anonymous('PUT', '/sec-pub/new.txt', 'x'), 403, 'AccessDenied', 'PUT, public_list on');
    } finally {
      await bucketSettings('sec-pub', { public_list: false });
    }
  });
});
