// Rate limits (issue 15, README "Rate limits") against a real server: a
// signed URL — S3 presigned (AWS SDK presigner) or /storage/v1 (storage-js) —
// hammered past its limit is refused (S3: 503 SlowDown; /storage/v1: 429
// TOO_MANY_REQUESTS; both with Retry-After), recovers once Retry-After has
// passed, and other URLs, even for the same object, are unaffected; a
// principal's limit holds across both APIs and never touches the service
// role; an address's limit holds for every API but health probes, and not
// for another address.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'rate-limits-test-secret-0123456789abcdef';
/** Small limits, so that a test drains them in a few requests: 1 a second, 5 at once. */
const LIMIT = '1:5';
const BURST = 5;

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}

/** Sends `send` until it is refused with `refusedStatus`; returns the successes before that and the refusal. */
async function hammer(send: () => Promise<Response>, refusedStatus: number, max = BURST + 5): Promise<{ ok: number; refusal: Response }> {
  let ok = 0;
  for (let i = 0; i < max; i++) {
    const res = await send();
    if (res.status === refusedStatus) return { ok, refusal: res };
    const body = await res.text();
    assert.ok(res.status < 300, `request ${i + 1}: ${res.status} ${body}`);
    ok++;
  }
  assert.fail(`not refused in ${max} requests`);
}

/** Retry-After: whole seconds, at least 1. */
function retryAfter(res: Response): number {
  const value = res.headers.get('retry-after');
  assert.match(value ?? '', /^[1-9]\d*$/, `Retry-After ${value}`);
  return Number(value);
}

async function assertSlowDown(res: Response): Promise<number> {
  assert.equal(res.status, 503);
  const body = await res.text();
  assert.match(body, /<Code>SlowDown<\/Code>/);
  assert.match(body, /<Message>Please reduce your request rate\.<\/Message>/);
  assert.ok(res.headers.get('x-amz-request-id'), 'an S3 answer: it has a request id');
  return retryAfter(res);
}

async function assertTooManyRequests(res: Response, code = 'TOO_MANY_REQUESTS'): Promise<number> {
  assert.equal(res.status, 429);
  const body = (await res.json()) as { statusCode: string; error: string; message: string };
  assert.equal(body.statusCode, '429');
  assert.equal(body.error, code);
  assert.match(body.message, /reduce your request rate/);
  return retryAfter(res);
}

describe('signed-URL and principal limits', () => {
  let srv: TestServer;
  let s3: S3Client;
  let api: string;
  let asService: StorageClient;

  before(async () => {
    srv = await startTestServer({
      env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_RATE_LIMIT_SIGNED_URL: LIMIT, AEROSTORE_RATE_LIMIT_PRINCIPAL: LIMIT },
    });
    api = `${srv.url}/storage/v1`;
    s3 = new S3Client({
      endpoint: srv.url,
      region: 'us-east-1',
      credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey },
      forcePathStyle: true,
    });
    // The root key and a service-role JWT sign: the service role is exempt from the principal limit, so only the URLs' limits count below.
    await s3.send(new CreateBucketCommand({ Bucket: 'shared' }));
    await s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'report.txt', Body: 'the report' }));
    const service = await jwt({ role: 'service_role' });
    asService = new StorageClient(api, { apikey: service, Authorization: `Bearer ${service}` });
  });
  after(async () => {
    s3?.destroy();
    await srv?.stop();
  });

  it('S3: a presigned GET hammered past its limit gets SlowDown with Retry-After, recovers, and other URLs are unaffected', async () => {
    const presign = (expiresIn: number) => getSignedUrl(s3, new GetObjectCommand({ Bucket: 'shared', Key: 'report.txt' }), { expiresIn });
    const hammered = await presign(300);
    const other = await presign(301); // the same object, another signature
    const { ok, refusal } = await hammer(() => fetch(hammered), 503);
    assert.equal(ok, BURST, 'the burst is served');
    const wait = await assertSlowDown(refusal);
    assert.equal(wait, 1, 'one token a second: back within a second');

    const res = await fetch(other);
    assert.equal(res.status, 200, 'another URL is unaffected');
    assert.equal(await res.text(), 'the report');
    // Header-signed requests of the same (exempt) key are not a URL: unaffected too.
    for (let i = 0; i < 2 * BURST; i++) await s3.send(new ListBucketsCommand({}));

    await sleep(wait * 1000);
    const again = await fetch(hammered);
    assert.equal(again.status, 200, 'recovered after Retry-After');
    assert.equal(await again.text(), 'the report');
  });

  it('/storage/v1: a signed download URL hammered past its limit gets 429 with Retry-After, recovers, and other URLs are unaffected', async () => {
    const signed = await asService.from('shared').createSignedUrl('report.txt', 300);
    const other = await asService.from('shared').createSignedUrl('report.txt', 301);
    assert.equal(signed.error, null, String(signed.error));
    assert.notEqual(signed.data!.signedUrl, other.data!.signedUrl);
    const hammered = signed.data!.signedUrl;
    const { ok, refusal } = await hammer(() => fetch(hammered), 429);
    assert.equal(ok, BURST);
    const wait = await assertTooManyRequests(refusal);

    const res = await fetch(other.data!.signedUrl);
    assert.equal(res.status, 200, 'another URL is unaffected');
    assert.equal(await res.text(), 'the report');

    await sleep(wait * 1000);
    const again = await fetch(hammered);
    assert.equal(again.status, 200, 'recovered after Retry-After');
    assert.equal(await again.text(), 'the report');
  });

  it('/storage/v1: a signed upload URL is limited before its one use is looked up', async () => {
    const signed = await asService.from('shared').createSignedUploadUrl('uploads/once.txt');
    assert.equal(signed.error, null, String(signed.error));
    const { path, token, signedUrl } = signed.data!;
    const up = await asService.from('shared').uploadToSignedUrl(path, token, Buffer.from('once'), { contentType: 'text/plain' });
    assert.equal(up.error, null, String(up.error));
    // Spent: each further PUT is 409 TOKEN_ALREADY_USED while the URL has tokens, then 429.
    const put = () => fetch(signedUrl, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'again' });
    for (let i = 1; i < BURST; i++) {
      const res = await put();
      assert.equal(res.status, 409, `PUT ${i + 1}`);
      await res.arrayBuffer();
    }
    await assertTooManyRequests(await put());
  });

  it('a principal’s limit holds across S3 and /storage/v1; other principals and the service role are unaffected', async () => {
    const [alice, bob] = await Promise.all([jwt({ sub: randomUUID(), role: 'authenticated' }), jwt({ sub: randomUUID(), role: 'authenticated' })]);
    const listBuckets = (token: string) => fetch(`${api}/bucket`, { headers: { authorization: `Bearer ${token}` } });
    const { ok, refusal } = await hammer(() => listBuckets(alice), 429);
    assert.equal(ok, BURST);
    const wait = await assertTooManyRequests(refusal);
    // The same principal over S3 (a bearer token there too): the same bucket, drained.
    await assertSlowDown(await fetch(`${srv.url}/`, { headers: { authorization: `Bearer ${alice}` } }));

    assert.equal((await listBuckets(bob)).status, 200, 'another principal is unaffected');
    for (let i = 0; i < 2 * BURST; i++) {
      assert.equal((await asService.listBuckets()).error, null, 'the service role is exempt');
    }
    // Anonymous requests are no principal (the address limit is theirs, off here).
    for (let i = 0; i < 2 * BURST; i++) await (await fetch(`${srv.url}/shared/report.txt`)).arrayBuffer();

    await sleep(wait * 1000);
    assert.equal((await listBuckets(alice)).status, 200, 'recovered after Retry-After');
  });

  it('logs every refused request, without the URL’s credentials', () => {
    const refusals = srv
      .log()
      .split('\n')
      .filter((line) => line.includes('"rate limited"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(refusals.some((r) => r.limit === 'signed-url' && r.path === '/shared/report.txt'), 'the presigned URL’s refusals');
    assert.ok(refusals.some((r) => r.limit === 'signed-url' && r.path === '/storage/v1/object/sign/shared/report.txt'), 'the signed URL’s refusals');
    assert.ok(refusals.some((r) => r.limit === 'principal'), 'the principal’s refusals');
    for (const r of refusals) assert.doesNotMatch(JSON.stringify(r), /X-Amz-Signature|token=/);
  });
});

/** A request from a chosen local address (the loopback network is 127.0.0.0/8). */
function requestFrom(localAddress: string, url: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve(new Response(res.statusCode === 304 ? null : Buffer.concat(chunks), { status: res.statusCode, headers }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('address limit', () => {
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer({ env: { AEROSTORE_RATE_LIMIT_ADDRESS: LIMIT } });
  });
  after(async () => {
    await srv?.stop();
  });

  it('holds for every API but health probes, and not for another address', async () => {
    const from = (address: string, path: string) => requestFrom(address, `${srv.url}${path}`);
    // Whatever the answer (here 404 NoSuchBucket), each request counts.
    for (let i = 0; i < BURST; i++) assert.equal((await from('127.0.0.1', '/no-such-bucket/key')).status, 404, `request ${i + 1}`);
    const wait = await assertSlowDown(await from('127.0.0.1', '/no-such-bucket/key'));
    await assertTooManyRequests(await from('127.0.0.1', '/storage/v1/bucket'));
    await assertTooManyRequests(await from('127.0.0.1', '/admin/v1/keys'), 'SlowDown');
    assert.equal((await from('127.0.0.1', '/health/live')).status, 200, 'health probes are exempt');
    assert.equal((await from('127.0.0.2', '/no-such-bucket/key')).status, 404, 'another address is unaffected');

    await sleep(wait * 1000);
    assert.equal((await from('127.0.0.1', '/no-such-bucket/key')).status, 404, 'recovered after Retry-After');
    assert.ok(srv.log().includes('"limit":"address"'), 'the refusals are logged');
  });
});
