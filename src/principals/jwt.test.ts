import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { JwtError, loadJwtVerifier } from './jwt.ts';

const SECRET = 'a-test-secret-that-is-at-least-32-characters-long';
const USER = '5f0c2a53-6d8e-4a43-9a8e-3c2b1d0e9f11';
const now = () => Math.floor(Date.now() / 1000);

const dir = await mkdtemp(path.join(tmpdir(), 'aerostore-jwt-'));
after(() => rm(dir, { recursive: true, force: true }));

function hs256(claims: JWTPayload, key: string | Uint8Array = SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** The exp of the tokens below; a verified principal carries it as expiresAt (ms). */
const EXP = now() + 600;
const valid = (extra: JWTPayload = {}): JWTPayload => ({ sub: USER, role: 'authenticated', exp: EXP, ...extra });

async function rejects(promise: Promise<unknown>, reason: 'expired' | 'invalid', message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof JwtError, `expected a JwtError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function writeJwks(name: string, keys: unknown[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify({ keys }));
  return file;
}

const secretOnly = (await loadJwtVerifier({ secret: SECRET }))!;

test('nothing configured: no verifier', async () => {
  assert.equal(await loadJwtVerifier({}), undefined);
});

test('HS256 user token → authenticated principal, sub lower-cased', async () => {
  const token = await hs256(valid({ sub: USER.toUpperCase() }));
  assert.deepEqual(await secretOnly.verify(token), { kind: 'user', via: 'jwt', role: 'authenticated', userId: USER, expiresAt: EXP * 1000, claims: valid({ sub: USER.toUpperCase() }) });
  // No role claim means authenticated.
  assert.deepEqual(await secretOnly.verify(await hs256({ sub: USER, exp: EXP })), {
    kind: 'user',
    via: 'jwt',
    role: 'authenticated',
    userId: USER,
    expiresAt: EXP * 1000,
    claims: { sub: USER, exp: EXP },
  });
});

test('a user token’s claims travel with the principal, for auth.jwt()', async () => {
  const claims = valid({ email: 'ada@example.org', app_metadata: { plan: 'pro' } });
  const principal = await secretOnly.verify(await hs256(claims));
  assert.deepEqual(principal.kind === 'user' ? principal.claims : undefined, claims);
});

test('service_role, with and without sub', async () => {
  assert.deepEqual(await secretOnly.verify(await hs256({ role: 'service_role', exp: EXP })), {
    kind: 'user',
    via: 'jwt',
    role: 'service',
    userId: null,
    expiresAt: EXP * 1000,
  });
  assert.deepEqual(await secretOnly.verify(await hs256({ role: 'service_role', sub: USER, exp: EXP })), {
    kind: 'user',
    via: 'jwt',
    role: 'service',
    userId: USER,
    expiresAt: EXP * 1000,
  });
});

test('anon → anonymous', async () => {
  assert.deepEqual(await secretOnly.verify(await hs256({ role: 'anon', exp: now() + 60 })), { kind: 'anonymous' });
});

test('expired token, beyond the clock tolerance', async () => {
  await rejects(secretOnly.verify(await hs256(valid({ exp: now() - 30 }))), 'expired', /expired/);
  // Within the 5 s tolerance it still passes.
  await secretOnly.verify(await hs256(valid({ exp: now() - 2 })));
});

test('nbf in the future', async () => {
  await rejects(secretOnly.verify(await hs256(valid({ nbf: now() + 120 }))), 'invalid', /nbf/);
});

test('missing exp', async () => {
  await rejects(secretOnly.verify(await hs256({ sub: USER, role: 'authenticated' })), 'invalid', /"exp"/);
});

test('wrong secret', async () => {
  await rejects(secretOnly.verify(await hs256(valid(), 'another-secret-that-is-at-least-32-chars')), 'invalid', /signature/);
});

test('tampered payload', async () => {
  const [header, , signature] = (await hs256(valid())).split('.');
  const forged = Buffer.from(JSON.stringify(valid({ role: 'service_role' }))).toString('base64url');
  await rejects(secretOnly.verify(`${header}.${forged}.${signature}`), 'invalid', /signature/);
});

test('a remembered token does not vouch for a tampered copy of itself', async () => {
  const token = await hs256(valid());
  assert.deepEqual(await secretOnly.verify(token), await secretOnly.verify(token));
  const [header, , signature] = token.split('.');
  const forged = Buffer.from(JSON.stringify(valid({ role: 'service_role' }))).toString('base64url');
  await rejects(secretOnly.verify(`${header}.${forged}.${signature}`), 'invalid', /signature/);
});

test('alg none is rejected', async () => {
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = `${part({ alg: 'none', typ: 'JWT' })}.${part(valid({ role: 'service_role' }))}.`;
  await rejects(secretOnly.verify(token), 'invalid', /"none" is not accepted/);
});

test('garbage is rejected as malformed', async () => {
  await rejects(secretOnly.verify('not-a-jwt'), 'invalid', /malformed/);
  await rejects(secretOnly.verify(''), 'invalid', /malformed/);
});

test('non-uuid sub is rejected', async () => {
  await rejects(secretOnly.verify(await hs256(valid({ sub: 'alice' }))), 'invalid', /uuid/);
  await rejects(secretOnly.verify(await hs256(valid({ sub: undefined }))), 'invalid', /"sub"/);
  await rejects(secretOnly.verify(await hs256({ role: 'service_role', sub: 'root', exp: now() + 60 })), 'invalid', /uuid/);
});

test('unknown role is rejected', async () => {
  await rejects(secretOnly.verify(await hs256(valid({ role: 'supabase_admin' }))), 'invalid', /role/);
  await rejects(secretOnly.verify(await hs256(valid({ role: 7 }))), 'invalid', /role/);
});

test('RS256 via a JWKS file; an RS256 token with only a secret configured is rejected', async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const file = await writeJwks('rsa.json', [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }]);
  const verifier = (await loadJwtVerifier({ jwks: file }))!;
  const token = await new SignJWT(valid()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
  assert.deepEqual(await verifier.verify(token), { kind: 'user', via: 'jwt', role: 'authenticated', userId: USER, expiresAt: EXP * 1000, claims: valid() });
  await rejects(secretOnly.verify(token), 'invalid', /"RS256" is not accepted/);
  // And the JWKS-only verifier refuses HS256 tokens outright.
  await rejects(verifier.verify(await hs256(valid())), 'invalid', /"HS256" is not accepted/);
});

test('a JWKS with several keys and no kid tries each', async () => {
  const a = await generateKeyPair('RS256', { extractable: true });
  const b = await generateKeyPair('RS256', { extractable: true });
  const file = await writeJwks('two.json', [await exportJWK(a.publicKey), await exportJWK(b.publicKey)]);
  const verifier = (await loadJwtVerifier({ jwks: file }))!;
  const token = await new SignJWT(valid()).setProtectedHeader({ alg: 'RS256' }).sign(b.privateKey);
  assert.equal((await verifier.verify(token)).kind, 'user');
  const stranger = await generateKeyPair('RS256');
  const forged = await new SignJWT(valid()).setProtectedHeader({ alg: 'RS256' }).sign(stranger.privateKey);
  await rejects(verifier.verify(forged), 'invalid', /signature/);
});

test('algorithm confusion: HS256 keyed with the JWKS public key is rejected', async () => {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'rsa', alg: 'RS256' };
  const file = await writeJwks('confusion.json', [jwk]);
  const pem = await exportSPKI(publicKey);
  for (const verifier of [(await loadJwtVerifier({ secret: SECRET, jwks: file }))!, (await loadJwtVerifier({ jwks: file }))!]) {
    for (const key of [pem, JSON.stringify(jwk), Buffer.from(jwk.n!, 'base64url')]) {
      const token = await new SignJWT(valid({ role: 'service_role' }))
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
        .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
      await rejects(verifier.verify(token), 'invalid');
    }
  }
});

test('ES256 via a JWKS served over http', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const body = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'ec1', alg: 'ES256' }] });
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const verifier = (await loadJwtVerifier({ secret: SECRET, jwks: `http://127.0.0.1:${port}/jwks.json` }))!;
    const token = await new SignJWT(valid()).setProtectedHeader({ alg: 'ES256', kid: 'ec1' }).sign(privateKey);
    assert.deepEqual(await verifier.verify(token), { kind: 'user', via: 'jwt', role: 'authenticated', userId: USER, expiresAt: EXP * 1000, claims: valid() });
    assert.deepEqual(await verifier.verify(token), { kind: 'user', via: 'jwt', role: 'authenticated', userId: USER, expiresAt: EXP * 1000, claims: valid() });
    assert.equal(fetches, 1, 'the key set is cached');
    // The secret still serves HS256 tokens alongside.
    assert.equal((await verifier.verify(await hs256(valid()))).kind, 'user');
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT(valid()).setProtectedHeader({ alg: 'ES256', kid: 'ec1' }).sign(other.privateKey);
    await rejects(verifier.verify(forged), 'invalid', /signature/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('an unreadable JWKS file fails at load', async () => {
  await assert.rejects(loadJwtVerifier({ jwks: path.join(dir, 'missing.json') }), /AEROSTORE_JWKS/);
  const bad = path.join(dir, 'bad.json');
  await writeFile(bad, '{"keys": 3}');
  await assert.rejects(loadJwtVerifier({ jwks: bad }), /not a valid JSON Web Key Set/);
});
