import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { pino } from 'pino';
import { loadJwtVerifier } from '../principals/jwt.ts';
import { StsCredentials } from '../principals/sts.ts';
import { handleSts, isStsRequest, type StsDeps } from './handler.ts';

const SECRET = 'a-test-secret-that-is-at-least-32-characters-long';
const USER = '5f0c2a53-6d8e-4a43-9a8e-3c2b1d0e9f11';
const now = () => Math.floor(Date.now() / 1000);

const sts = new StsCredentials(randomBytes(32));
const deps: StsDeps = { jwt: await loadJwtVerifier({ secret: SECRET }), sts, log: pino({ level: 'silent' }) };
const server = createServer((req, res) => void handleSts(req, res, deps));
let base = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function token(claims: JWTPayload = {}, secret = SECRET): Promise<string> {
  // Four hours: longer than the durations asked for below, which a shorter-lived token would clamp.
  return new SignJWT({ sub: USER, role: 'authenticated', aud: 'authenticated', exp: now() + 4 * 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

async function call(params: Record<string, string>): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(base + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({ Version: '2011-06-15', ...params }).toString(),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

async function assume(extra: Record<string, string>) {
  return call({ Action: 'AssumeRoleWithWebIdentity', RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 's1', ...extra });
}

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

async function assertStsError(reply: { status: number; body: string }, status: number, code: string): Promise<void> {
  assert.equal(reply.status, status, reply.body);
  assert.match(reply.body, /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type>/);
  assert.equal(element(reply.body, 'Code'), code);
  assert.match(element(reply.body, 'RequestId') ?? '', /^[0-9a-f-]{36}$/);
}

test('a valid token gets credentials that the resolver accepts', async () => {
  const reply = await assume({ WebIdentityToken: await token(), DurationSeconds: '900' });
  assert.equal(reply.status, 200, reply.body);
  assert.equal(reply.type, 'text/xml');
  assert.match(
    reply.body,
    /<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>/,
  );
  const akid = element(reply.body, 'AccessKeyId')!;
  assert.match(akid, /^ASIA[A-Z2-7]{16}$/);
  assert.equal(element(reply.body, 'SubjectFromWebIdentityToken'), USER);
  assert.equal(element(reply.body, 'Audience'), 'authenticated');
  assert.equal(element(reply.body, 'Arn'), 'arn:aws:sts::000000000000:assumed-role/aerostore/s1');
  assert.equal(element(reply.body, 'AssumedRoleId'), `${akid}:s1`);
  assert.equal(element(reply.body, 'Provider'), 'aerostore');
  const expiration = element(reply.body, 'Expiration')!;
  assert.match(expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(expiration) / 1000 - (now() + 900)) <= 2);
  const resolved = await sts.resolve(akid, element(reply.body, 'SessionToken'));
  assert.deepEqual(resolved, {
    secretAccessKey: element(reply.body, 'SecretAccessKey'),
    principal: { kind: 'user', via: 'sts', userId: USER, role: 'authenticated', accessKeyId: akid, expiresAt: Date.parse(expiration) },
  });
});

test('GET with the parameters in the query string works too, default duration one hour', async () => {
  const query = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', WebIdentityToken: await token() });
  const res = await fetch(`${base}/?${query}`);
  const body = await res.text();
  assert.equal(res.status, 200, body);
  assert.ok(Math.abs(Date.parse(element(body, 'Expiration')!) / 1000 - (now() + 3600)) <= 2);
  // No RoleSessionName: the session is named after the user.
  assert.equal(element(body, 'AssumedRoleId'), `${element(body, 'AccessKeyId')}:${USER}`);
});

test('expired token → ExpiredTokenException', async () => {
  await assertStsError(await assume({ WebIdentityToken: await token({ exp: now() - 60 }) }), 400, 'ExpiredTokenException');
});

test('credentials end when the web identity token does: DurationSeconds is clamped to its exp, not refused', async () => {
  for (const duration of ['900', '3600', '43200']) {
    const exp = now() + 30;
    const reply = await assume({ WebIdentityToken: await token({ exp }), DurationSeconds: duration });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(Date.parse(element(reply.body, 'Expiration')!) / 1000, exp, `DurationSeconds ${duration}`);
    const resolved = await sts.resolve(element(reply.body, 'AccessKeyId')!, element(reply.body, 'SessionToken'));
    assert.equal(resolved?.principal.kind === 'user' && resolved.principal.expiresAt, exp * 1000);
  }
});

test('a token past its exp but within the clock tolerance → ExpiredTokenException (no time left to give)', async () => {
  await assertStsError(await assume({ WebIdentityToken: await token({ exp: now() - 2 }) }), 400, 'ExpiredTokenException');
});

test('bad signature → InvalidIdentityToken', async () => {
  const reply = await assume({ WebIdentityToken: await token({}, 'some-other-secret-of-at-least-32-chars!!') });
  await assertStsError(reply, 400, 'InvalidIdentityToken');
  assert.match(element(reply.body, 'Message')!, /signature/);
});

test('anon token → AccessDenied', async () => {
  await assertStsError(await assume({ WebIdentityToken: await token({ role: 'anon', sub: undefined }) }), 403, 'AccessDenied');
});

test('no verifier configured → InvalidIdentityToken naming the settings', async () => {
  const bare = createServer((req, res) => void handleSts(req, res, { ...deps, jwt: undefined }));
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', WebIdentityToken: await token() }).toString(),
    });
    const body = await res.text();
    await assertStsError({ status: res.status, body }, 400, 'InvalidIdentityToken');
    assert.match(body, /AEROSTORE_JWT_SECRET \/ AEROSTORE_JWKS/);
  } finally {
    bare.closeAllConnections();
    await new Promise((resolve) => bare.close(resolve));
  }
});

test('missing WebIdentityToken → MissingParameter', async () => {
  await assertStsError(await assume({}), 400, 'MissingParameter');
});

test('DurationSeconds out of range or not a number → ValidationError', async () => {
  const t = await token();
  for (const d of ['10', '899', '43201', 'abc', '-900', '1e4']) {
    await assertStsError(await assume({ WebIdentityToken: t, DurationSeconds: d }), 400, 'ValidationError');
  }
  assert.equal((await assume({ WebIdentityToken: t, DurationSeconds: '43200' })).status, 200);
});

test('a RoleSessionName outside AWS constraints → ValidationError (it is echoed into the ARN)', async () => {
  await assertStsError(await assume({ WebIdentityToken: await token(), RoleSessionName: 'a/b<c>' }), 400, 'ValidationError');
});

test('unknown or missing Action', async () => {
  await assertStsError(await call({ Action: 'AssumeRole' }), 400, 'InvalidAction');
  await assertStsError(await call({}), 400, 'MissingAction');
});

test('body over 64 KiB → 413 and the connection is closed', async () => {
  const big = `Action=AssumeRoleWithWebIdentity&WebIdentityToken=${'a'.repeat(100 * 1024)}`;
  const res = await fetch(base + '/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big });
  await assertStsError({ status: res.status, body: await res.text() }, 413, 'RequestEntityTooLarge');
  assert.equal(res.headers.get('connection'), 'close');

  // Without a Content-Length (chunked), the limit holds while reading.
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(base + '/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.write('Action=AssumeRoleWithWebIdentity&WebIdentityToken=');
    req.write('a'.repeat(70 * 1024));
    req.end();
  });
  await assertStsError(reply, 413, 'RequestEntityTooLarge');
});

test('a client that hangs up mid-body is let go, and the server keeps answering', async () => {
  await new Promise<void>((resolve) => {
    const req = request(base + '/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '1000' } });
    req.on('error', () => resolve());
    req.write('Action=AssumeRoleWithWebIdentity&', () => setTimeout(() => req.destroy(), 50));
  });
  await assertStsError(await call({ Action: 'Nope' }), 400, 'InvalidAction');
});

test('isStsRequest', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  assert.equal(isStsRequest('POST', '/', form), true);
  assert.equal(isStsRequest('GET', '/?Action=AssumeRoleWithWebIdentity&WebIdentityToken=x', {}), true);
  assert.equal(isStsRequest('POST', '/?Action=AssumeRoleWithWebIdentity', {}), true);
  assert.equal(isStsRequest('GET', '/', {}), false, 'ListBuckets');
  assert.equal(isStsRequest('POST', '/', { 'content-type': 'multipart/form-data; boundary=x' }), false, 'browser POST upload');
  assert.equal(isStsRequest('POST', '/?delete', form), false, 'DeleteObjects from a form-posting client');
  assert.equal(isStsRequest('POST', '/bucket', form), false);
  assert.equal(isStsRequest('GET', '/bucket?Action=x', {}), false);
  assert.equal(isStsRequest('PUT', '/?Action=x', {}), false);
});

const python = '/usr/bin/python3';
const hasBoto3 = spawnSync(python, ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;

test('boto3 assume_role_with_web_identity', { skip: !hasBoto3 && 'boto3 is not installed' }, async () => {
  const script = `
import json, sys, boto3
client = boto3.client('sts', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
out = {}
r = client.assume_role_with_web_identity(RoleArn='arn:aws:iam::000000000000:role/x', RoleSessionName='s1', WebIdentityToken=sys.argv[2])
c = r['Credentials']
out['ok'] = {'akid': c['AccessKeyId'], 'secret': c['SecretAccessKey'], 'token': c['SessionToken'], 'exp': c['Expiration'].isoformat(), 'arn': r['AssumedRoleUser']['Arn'], 'sub': r['SubjectFromWebIdentityToken']}
for name, tok in (('expired', sys.argv[3]), ('bad', sys.argv[4])):
    try:
        client.assume_role_with_web_identity(RoleArn='arn:aws:iam::000000000000:role/x', RoleSessionName='s1', WebIdentityToken=tok)
        out[name] = None
    except client.exceptions.ExpiredTokenException as e:
        out[name] = ['ExpiredTokenException', e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
    except client.exceptions.InvalidIdentityTokenException as e:
        out[name] = ['InvalidIdentityTokenException', e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps(out))
`;
  const args = [script, base, await token(), await token({ exp: now() - 60 }), 'not.a.token'];
  const env = {
    ...process.env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(python, ['-c', ...args], { env, timeout: 60_000 }, (err, out, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(out))),
  );
  const out = JSON.parse(stdout) as {
    ok: { akid: string; secret: string; token: string; exp: string; arn: string; sub: string };
    expired: unknown;
    bad: unknown;
  };
  assert.equal(out.ok.sub, USER);
  assert.equal(out.ok.arn, 'arn:aws:sts::000000000000:assumed-role/aerostore/s1');
  assert.match(out.ok.exp, /\+00:00$/);
  const resolved = await sts.resolve(out.ok.akid, out.ok.token);
  assert.equal(resolved?.secretAccessKey, out.ok.secret);
  assert.deepEqual(out.expired, ['ExpiredTokenException', 'ExpiredTokenException', 400]);
  assert.deepEqual(out.bad, ['InvalidIdentityTokenException', 'InvalidIdentityToken', 400]);
});
