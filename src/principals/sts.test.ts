import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { DomainError } from '../core/errors.ts';
import type { Principal } from './principal.ts';
import { StsCredentials } from './sts.ts';

const USER: Principal & { kind: 'user' } = { kind: 'user', via: 'jwt', role: 'authenticated', userId: '5f0c2a53-6d8e-4a43-9a8e-3c2b1d0e9f11' };
const key = randomBytes(32);
const sts = new StsCredentials(key);

function rejectsWith(promise: Promise<unknown>, code: 'InvalidToken' | 'ExpiredToken'): Promise<void> {
  return assert.rejects(promise, (err: unknown) => err instanceof DomainError && err.code === code);
}

/** The token with one field of its JSON payload replaced, MAC kept. */
function tamper(token: string, field: string, value: unknown): string {
  const [payload, mac] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return `${Buffer.from(JSON.stringify({ ...claims, [field]: value })).toString('base64url')}.${mac}`;
}

test('issued credentials have the expected shape and resolve to the principal', async () => {
  const now = new Date('2030-01-01T00:00:00.500Z');
  const clock = new StsCredentials(key, () => new Date('2030-01-01T00:30:00Z'));
  const creds = clock.issue(USER, 3600, now);
  assert.match(creds.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.match(creds.sessionToken, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  assert.ok(creds.secretAccessKey.length >= 40);
  assert.equal(creds.expiration.toISOString(), '2030-01-01T01:00:00.000Z');
  assert.deepEqual(await clock.resolve(creds.accessKeyId, creds.sessionToken), {
    secretAccessKey: creds.secretAccessKey,
    principal: { kind: 'user', via: 'sts', userId: USER.userId, role: 'authenticated', accessKeyId: creds.accessKeyId, expiresAt: creds.expiration.getTime() },
  });
});

test('a service principal without a user id round-trips with userId null', async () => {
  const creds = sts.issue({ kind: 'user', via: 'jwt', role: 'service', userId: null }, 900);
  const resolved = await sts.resolve(creds.accessKeyId, creds.sessionToken);
  assert.deepEqual(resolved?.principal, { kind: 'user', via: 'sts', userId: null, role: 'service', accessKeyId: creds.accessKeyId, expiresAt: creds.expiration.getTime() });
});

test('each issue gives fresh ids and secrets', () => {
  const a = sts.issue(USER, 900);
  const b = sts.issue(USER, 900);
  assert.notEqual(a.accessKeyId, b.accessKeyId);
  assert.notEqual(a.secretAccessKey, b.secretAccessKey);
});

test('not ours: no session token, or an id that is not ASIA', async () => {
  const creds = sts.issue(USER, 900);
  assert.equal(await sts.resolve(creds.accessKeyId), undefined);
  assert.equal(await sts.resolve('AKIAIOSFODNN7EXAMPLE', creds.sessionToken), undefined);
});

test('a token from another key is invalid', async () => {
  const other = new StsCredentials(randomBytes(32)).issue(USER, 900);
  await rejectsWith(sts.resolve(other.accessKeyId, other.sessionToken), 'InvalidToken');
});

test('a token for another access key id is invalid', async () => {
  const a = sts.issue(USER, 900);
  const b = sts.issue(USER, 900);
  await rejectsWith(sts.resolve(a.accessKeyId, b.sessionToken), 'InvalidToken');
});

test('every tampered field is invalid', async () => {
  const creds = sts.issue(USER, 900);
  const cases: [string, unknown][] = [
    ['v', 2],
    ['akid', 'ASIAAAAAAAAAAAAAAAAA'],
    ['sub', '00000000-0000-0000-0000-000000000000'],
    ['role', 'service'],
    ['exp', 4102444800],
    ['extra', true],
  ];
  for (const [field, value] of cases) {
    await rejectsWith(sts.resolve(creds.accessKeyId, tamper(creds.sessionToken, field, value)), 'InvalidToken');
  }
  const [payload, mac] = creds.sessionToken.split('.');
  const flipped = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  for (const bad of [`${payload}.${flipped(mac)}`, `${flipped(payload)}.${mac}`, `${payload}.${mac}.x`, payload, '', '.', `${payload}.${mac}=`]) {
    await rejectsWith(sts.resolve(creds.accessKeyId, bad), 'InvalidToken');
  }
});

test('a well-MACed but malformed payload is invalid', async () => {
  // Forge with the real key to check the shape validation behind the MAC.
  const payload = Buffer.from(JSON.stringify({ v: 1, akid: 'ASIAAAAAAAAAAAAAAAAA', role: 'admin', exp: 4102444800 })).toString('base64url');
  const token = `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
  await rejectsWith(sts.resolve('ASIAAAAAAAAAAAAAAAAA', token), 'InvalidToken');
});

test('expiry follows the injected clock', async () => {
  const issuedAt = new Date('2030-01-01T00:00:00Z');
  let now = new Date('2030-01-01T00:14:59Z');
  const clocked = new StsCredentials(key, () => now);
  const creds = clocked.issue(USER, 900, issuedAt);
  assert.ok(await clocked.resolve(creds.accessKeyId, creds.sessionToken));
  now = new Date('2030-01-01T00:15:00Z');
  await rejectsWith(clocked.resolve(creds.accessKeyId, creds.sessionToken), 'ExpiredToken');
  // A token issued long ago is expired on the real clock too.
  const old = sts.issue(USER, 900, new Date(Date.now() - 3600_000));
  await rejectsWith(sts.resolve(old.accessKeyId, old.sessionToken), 'ExpiredToken');
});

test('credentials never outlive the principal: the duration is clamped to its expiresAt', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const expiring = { ...USER, expiresAt: Date.parse('2030-01-01T00:00:30Z') };
  assert.equal(sts.issue(expiring, 43_200, now).expiration.toISOString(), '2030-01-01T00:00:30.000Z');
  // A principal that outlives the duration: the duration decides.
  assert.equal(sts.issue(expiring, 10, now).expiration.toISOString(), '2030-01-01T00:00:10.000Z');
  // Whole seconds, never past expiresAt.
  assert.equal(sts.issue({ ...USER, expiresAt: Date.parse('2030-01-01T00:00:30.900Z') }, 3600, now).expiration.toISOString(), '2030-01-01T00:00:30.000Z');
  // Already expired, or less than a second left: nothing to issue.
  assert.throws(() => sts.issue({ ...USER, expiresAt: now.getTime() }, 900, now), RangeError);
  assert.throws(() => sts.issue({ ...USER, expiresAt: now.getTime() + 999 }, 900, now), RangeError);
});

test('rejects a key that is not 32 bytes and a bad duration', () => {
  assert.throws(() => new StsCredentials(randomBytes(16)), /32 bytes/);
  assert.throws(() => sts.issue(USER, 0), RangeError);
  assert.throws(() => sts.issue(USER, 1.5), RangeError);
});
