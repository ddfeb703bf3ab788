// `aerostore jwt` (issue 19 §7): the token it prints is one the server takes —
// as a user on /storage/v1 and S3, as the service role on the admin API —
// and its mistakes are usage errors, not tokens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAerostore } from './support/aerostore-cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'cli-jwt-test-secret-0123456789abcdefghij';
const USER = '6f1c0b6e-8a43-4f1c-a5b4-0b1e2b0c1d2e';
let server: TestServer;

before(async () => {
  server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
});
after(() => server?.stop());

const mint = (args: string[], env: Record<string, string> = { AEROSTORE_JWT_SECRET: SECRET }) => runAerostore(server.dataDir, ['jwt', ...args], env);
const call = (path: string, token: string, init: RequestInit = {}) =>
  fetch(new URL(path, server.url), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

describe('aerostore jwt', () => {
  it('prints only a token the server takes: a user on /storage/v1 and S3', async () => {
    const minted = await mint(['--sub', USER, '--expires-in', '10m']);
    assert.equal(minted.code, 0, minted.stderr);
    const token = minted.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout is the token alone');
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(payload.sub, USER);
    assert.equal(payload.role, 'authenticated');
    assert.equal((payload.exp as number) - (payload.iat as number), 600);
    const created = await call('/storage/v1/bucket', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'minted' }) });
    assert.equal(created.status, 200, await created.text());
    const listed = await call('/minted', token);
    assert.equal(listed.status, 200, 'S3 ListObjects with the same bearer token');
  });

  it('mints the service role, and a user of its own when no --sub is given', async () => {
    const service = await mint(['--role', 'service_role']);
    assert.equal(service.code, 0, service.stderr);
    assert.equal((await call('/admin/v1/keys', service.stdout.trim())).status, 200, 'the admin API takes a service_role JWT');
    const user = await mint([]);
    assert.equal(user.code, 0);
    const sub = /sub: ([0-9a-f-]{36})/.exec(user.stderr)?.[1];
    assert.ok(sub, `the new user id is on stderr: ${user.stderr}`);
    assert.equal(JSON.parse(Buffer.from(user.stdout.trim().split('.')[1], 'base64url').toString()).sub, sub);
    assert.equal((await call('/admin/v1/keys', user.stdout.trim())).status, 403, 'a user is not the service role');
  });

  it('refuses what it cannot sign: no secret (exit 1), a bad sub, role or duration (exit 2)', async () => {
    const noSecret = await mint(['--sub', USER], {});
    assert.equal(noSecret.code, 1);
    assert.match(noSecret.stderr, /AEROSTORE_JWT_SECRET is not set/);
    assert.equal(noSecret.stdout, '');
    for (const args of [['--sub', 'alice'], ['--role', 'admin'], ['--expires-in', '1y'], ['--nope']]) {
      const r = await mint(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
    }
  });
});
