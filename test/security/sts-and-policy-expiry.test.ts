// Issue 13, finding 5: credentials and policies that outlive what they stand for.
//  - STS credentials from AssumeRoleWithWebIdentity expire no later than the
//    web-identity token's exp: a longer DurationSeconds is clamped (not an
//    error) and the XML's Expiration says when they really end.
//  - A POST policy's expiration is capped as presigned URLs are (7 days):
//    one further than that from its x-amz-date, or from now, is refused
//    (403 AccessDenied, "Invalid according to Policy: Policy expiration …").
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { postForm, signPostPolicy } from '../support/post-policy.ts';
import { requestWebIdentityRole } from '../support/principals.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SECRET = 'security-sts-policy-expiry-test-secret-0123';
const BUCKET = 'expiry-forms';
const DAY = 86_400_000;
let srv: TestServer;
let root: S3RawClient;

const element = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

/** A user JWT that expires `seconds` from now; its exp in Unix seconds. */
async function jwtExpiringIn(seconds: number): Promise<{ token: string; exp: number }> {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  const token = await new SignJWT({ sub: randomUUID(), role: 'authenticated', exp })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET));
  return { token, exp };
}

const assume = (token: string, durationSeconds: number) => requestWebIdentityRole(srv.url, token, durationSeconds);

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  root = new S3RawClient(srv.url, { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey });
  assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
});
after(async () => {
  await srv?.stop();
});

describe('STS credentials end no later than the web identity', () => {
  it('a token that expires in 30 s gets credentials that expire with it, though an hour was asked', async () => {
    const { token, exp } = await jwtExpiringIn(30);
    const reply = await assume(token, 3600);
    assert.equal(reply.status, 200, reply.body);
    const expiration = Date.parse(element(reply.body, 'Expiration') ?? '') / 1000;
    assert.equal(expiration, exp, 'Expiration is the token’s exp');
  });

  it('DurationSeconds at the maximum (12 h) is clamped, not refused', async () => {
    const { token, exp } = await jwtExpiringIn(3600);
    const reply = await assume(token, 43_200);
    assert.equal(reply.status, 200, reply.body);
    assert.equal(Date.parse(element(reply.body, 'Expiration') ?? '') / 1000, exp);
  });

  it('a token that outlives the duration asked for: the duration decides, as before', async () => {
    const { token } = await jwtExpiringIn(7200);
    const before = Math.floor(Date.now() / 1000);
    const reply = await assume(token, 900);
    assert.equal(reply.status, 200, reply.body);
    const expiration = Date.parse(element(reply.body, 'Expiration') ?? '') / 1000;
    assert.ok(expiration >= before + 900 && expiration <= before + 902, `expires at ${expiration}, asked ${before} + 900`);
  });

  it('the credentials are refused once the token has expired', async () => {
    const { token, exp } = await jwtExpiringIn(3);
    const reply = await assume(token, 900);
    assert.equal(reply.status, 200, reply.body);
    const creds = {
      accessKeyId: element(reply.body, 'AccessKeyId') as string,
      secretAccessKey: element(reply.body, 'SecretAccessKey') as string,
      sessionToken: element(reply.body, 'SessionToken') as string,
    };
    const client = new S3RawClient(srv.url, creds);
    assert.equal((await client.send({ method: 'GET', path: '/' })).status, 200, 'good while the token is');
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 1000);
    const late = await client.send({ method: 'GET', path: '/' });
    assert.equal(late.status, 400, String(late.body));
    assert.equal(element(String(late.body), 'Code'), 'ExpiredToken');
  });
});

describe('a POST policy’s expiration is capped at 7 days', () => {
  async function post(key: string, sign: { expiration: Date | string; now?: Date }): Promise<{ status: number; body: string }> {
    const signed = signPostPolicy({
      accessKeyId: srv.accessKeyId,
      secretAccessKey: srv.secretAccessKey,
      conditions: [{ bucket: BUCKET }, { key }],
      ...sign,
    });
    const res = await fetch(`${srv.url}/${BUCKET}`, { method: 'POST', body: postForm({ key }, signed, { data: 'form bytes' }) });
    return { status: res.status, body: await res.text() };
  }
  const assertRefused = async (reply: { status: number; body: string }, key: string) => {
    assert.equal(reply.status, 403, reply.body);
    assert.equal(element(reply.body, 'Code'), 'AccessDenied', reply.body);
    assert.match(element(reply.body, 'Message') ?? '', /^Invalid according to Policy: Policy expiration/);
    assert.equal((await root.send({ method: 'GET', path: `/${BUCKET}/${key}` })).status, 404, `${key} not stored`);
  };

  it('refuses a policy that expires in the year 9999', async () => {
    await assertRefused(await post('forever.txt', { expiration: '9999-12-31T23:59:59.000Z' }), 'forever.txt');
  });

  it('refuses one that expires 7 days and an hour after it was signed', async () => {
    await assertRefused(await post('week-and-hour.txt', { expiration: new Date(Date.now() + 7 * DAY + 3_600_000) }), 'week-and-hour.txt');
  });

  it('refuses one signed 10 days ago that expires tomorrow (measured from its x-amz-date)', async () => {
    const now = new Date(Date.now() - 10 * DAY);
    await assertRefused(await post('old-signed.txt', { now, expiration: new Date(Date.now() + DAY) }), 'old-signed.txt');
  });

  it('refuses one dated in the future, however close its expiration is to that date (measured from now)', async () => {
    const now = new Date(Date.now() + 30 * DAY);
    await assertRefused(await post('future-dated.txt', { now, expiration: new Date(now.getTime() + 3_600_000) }), 'future-dated.txt');
  });

  it('accepts one that expires within 7 days of signing', async () => {
    const reply = await post('six-days.txt', { expiration: new Date(Date.now() + 6 * DAY) });
    assert.equal(reply.status, 204, reply.body);
    const got = await root.send({ method: 'GET', path: `/${BUCKET}/six-days.txt` });
    assert.equal(String(got.body), 'form bytes');
  });
});
