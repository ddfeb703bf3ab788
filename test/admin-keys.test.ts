// Access-key management (/admin/v1/keys and `aerostore keys`) against real
// server processes: two servers on one database, so that a revocation
// through one must reach the other's cache.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { errorCode } from './support/s3-xml.ts';
import { S3RawClient, sendRaw, type Credentials, type RawResponse } from './support/signer.ts';
import { runAerostore } from './support/aerostore-cli.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const KEY_FIELDS = ['access_key_id', 'created_at', 'id', 'name', 'role', 'secret_access_key', 'user_id'];
const LISTED_FIELDS = ['access_key_id', 'created_at', 'id', 'name', 'role', 'user_id'];

interface CreatedKey {
  id: string;
  access_key_id: string;
  secret_access_key: string;
  user_id: string;
  role: string;
  name: string;
  created_at: string;
}

let a: TestServer; // owns the embedded Postgres
let b: TestServer; // DATABASE_URL → a's Postgres
let dbUrl: string;
let db: postgres.Sql;
let rootA: S3RawClient;

before(async () => {
  a = await startTestServer({ env: { AEROSTORE_MASTER_KEY: MASTER_KEY } });
  dbUrl = await embeddedDatabaseUrl(a.dataDir);
  b = await startTestServer({ env: { AEROSTORE_MASTER_KEY: MASTER_KEY, DATABASE_URL: dbUrl } });
  db = postgres(dbUrl, { max: 1, onnotice: () => {} });
  rootA = new S3RawClient(a.url, a);
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(a?.log(), b?.log());
  await db?.end({ timeout: 1 });
  await b?.stop();
  await a?.stop();
});

const json = (res: RawResponse): unknown => JSON.parse(res.body.toString());

function createKey(client: S3RawClient, body: unknown): Promise<RawResponse> {
  return client.send({
    method: 'POST',
    path: '/admin/v1/keys',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function newKey(body: Record<string, unknown> = {}): Promise<CreatedKey> {
  const res = await createKey(rootA, { user_id: randomUUID(), ...body });
  assert.equal(res.status, 201, res.body.toString());
  return json(res) as CreatedKey;
}

const credentialsOf = (key: CreatedKey): Credentials => ({ accessKeyId: key.access_key_id, secretAccessKey: key.secret_access_key });
const listBuckets = (server: TestServer, creds: Credentials) => new S3RawClient(server.url, creds).send({ method: 'GET', path: '/' });

/** Asserts `res` is a JSON error of Supabase Storage's shape with this status. */
function assertJsonError(res: RawResponse, status: number | readonly number[]): void {
  const statuses = typeof status === 'number' ? [status] : status;
  assert.ok(statuses.includes(res.status), `status ${res.status}: ${res.body.toString()}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = json(res) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
  assert.equal(body.statusCode, String(res.status));
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
}

async function assertRefused(res: RawResponse): Promise<void> {
  assert.equal(res.status, 403, res.body.toString());
  assert.equal(errorCode(res.body), 'InvalidAccessKeyId');
}

/**
 * The response of `send` once it is a refusal, or the last one after
 * `withinMs`. A revocation reaches other servers as a notification after
 * its commit: a few milliseconds, not the cache's five minutes.
 */
async function onceRefused(send: () => Promise<RawResponse>, withinMs = 2000): Promise<RawResponse> {
  const deadline = Date.now() + withinMs;
  let res = await send();
  while (res.status !== 403 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    res = await send();
  }
  return res;
}

/** Runs `aerostore keys <args>` on server a's data directory (its Postgres, its master key). */
const cli = (args: readonly string[], env: Record<string, string> = {}) => runAerostore(a.dataDir, ['keys', ...args], { AEROSTORE_MASTER_KEY: MASTER_KEY, ...env });

describe('admin API: /admin/v1/keys', () => {
  it('creates a key (201, the secret shown once) that signs S3 requests at once', async () => {
    const userId = randomUUID();
    const res = await createKey(rootA, { user_id: userId, name: 'ci uploader' });
    assert.equal(res.status, 201, res.body.toString());
    const key = json(res) as CreatedKey;
    assert.deepEqual(Object.keys(key).sort(), KEY_FIELDS);
    assert.match(key.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(key.access_key_id, /^AK[A-Z2-7]{18}$/);
    assert.match(key.secret_access_key, /^[A-Za-z0-9_-]{40}$/);
    assert.equal(key.user_id, userId);
    assert.equal(key.role, 'authenticated');
    assert.equal(key.name, 'ci uploader');
    assert.equal(new Date(key.created_at).toISOString(), key.created_at);
    assert.ok(Math.abs(Date.parse(key.created_at) - Date.now()) < 60_000);

    const list = await listBuckets(a, credentialsOf(key));
    assert.equal(list.status, 200, list.body.toString());
    // A wrong secret for the same id still fails the signature.
    const forged = await listBuckets(a, { accessKeyId: key.access_key_id, secretAccessKey: 'x'.repeat(40) });
    assert.equal(forged.status, 403);
    assert.equal(errorCode(forged.body), 'SignatureDoesNotMatch');
  });

  it('creates service-role keys, which may use the admin API; role and name are optional', async () => {
    const plain = await newKey();
    assert.equal(plain.role, 'authenticated');
    assert.equal(plain.name, '');
    const service = await newKey({ role: 'service', name: 'ops' });
    assert.equal(service.role, 'service');
    const res = await new S3RawClient(a.url, credentialsOf(service)).send({ method: 'GET', path: '/admin/v1/keys' });
    assert.equal(res.status, 200, res.body.toString());
  });

  it('lists active keys without their secrets', async () => {
    const key = await newKey({ name: 'listed' });
    const res = await rootA.send({ method: 'GET', path: '/admin/v1/keys' });
    assert.equal(res.status, 200, res.body.toString());
    assert.ok(!res.body.toString().includes(key.secret_access_key));
    const keys = json(res) as Record<string, unknown>[];
    assert.ok(Array.isArray(keys));
    for (const k of keys) assert.deepEqual(Object.keys(k).sort(), LISTED_FIELDS);
    const { secret_access_key: _secret, ...listed } = key;
    assert.deepEqual(
      keys.find((k) => k.id === key.id),
      listed,
    );
  });

  it('stores the secret only sealed, bound to its access key id', async () => {
    const key = await newKey();
    const [row] = await db<{ secret_encrypted: string }[]>`
      select secret_encrypted from storage.access_keys where id = ${key.id}`;
    assert.match(row.secret_encrypted, /^v1\.[A-Za-z0-9_-]+$/);
    assert.ok(!row.secret_encrypted.includes(key.secret_access_key));
    assert.ok(!Buffer.from(row.secret_encrypted.slice(3), 'base64url').includes(Buffer.from(key.secret_access_key)));
    const everything = JSON.stringify(await db`select * from storage.access_keys`);
    assert.ok(!everything.includes(key.secret_access_key));

    // Another row's sealed secret, swapped onto this key, does not open: the key stops resolving.
    const other = await newKey();
    await db`update storage.access_keys set secret_encrypted = (select secret_encrypted from storage.access_keys where id = ${other.id})
             where id = ${key.id}`;
    const res = await listBuckets(b, credentialsOf(key)); // b has never cached this key
    assert.equal(res.status, 500, res.body.toString());
    // The log line reaches us through the child's stderr, maybe after the response.
    for (let i = 0; i < 100 && !/does not decrypt/.test(b.log()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(b.log(), /does not decrypt/);
  });

  it('revokes (204): the key is refused right after, a second DELETE is 404', async () => {
    const key = await newKey();
    assert.equal((await listBuckets(a, credentialsOf(key))).status, 200); // now cached by a
    const del = await rootA.send({ method: 'DELETE', path: `/admin/v1/keys/${key.id}` });
    assert.equal(del.status, 204, del.body.toString());
    assert.equal(del.body.length, 0);
    await assertRefused(await listBuckets(a, credentialsOf(key)));
    assertJsonError(await rootA.send({ method: 'DELETE', path: `/admin/v1/keys/${key.id}` }), 404);
    assertJsonError(await rootA.send({ method: 'DELETE', path: `/admin/v1/keys/${randomUUID()}` }), 404);
    assertJsonError(await rootA.send({ method: 'DELETE', path: '/admin/v1/keys/not-a-uuid' }), 404);
    const list = json(await rootA.send({ method: 'GET', path: '/admin/v1/keys' })) as CreatedKey[];
    assert.ok(!list.some((k) => k.id === key.id), 'revoked keys are not listed');
  });

  it('a second server that cached the key refuses it as soon as the first revokes it', async () => {
    const key = await newKey();
    assert.equal((await listBuckets(b, credentialsOf(key))).status, 200);
    assert.equal((await listBuckets(b, credentialsOf(key))).status, 200);
    const del = await rootA.send({ method: 'DELETE', path: `/admin/v1/keys/${key.id}` });
    assert.equal(del.status, 204);
    await assertRefused(await onceRefused(() => listBuckets(b, credentialsOf(key))));
  });

  it('caches keys: without the notification a server would go on accepting a revoked key', async () => {
    // Why the notification matters, shown by leaving it out: revoke in the
    // table directly, then announce it by hand.
    const key = await newKey();
    assert.equal((await listBuckets(b, credentialsOf(key))).status, 200);
    await db`update storage.access_keys set revoked_at = now() where id = ${key.id}`;
    assert.equal((await listBuckets(b, credentialsOf(key))).status, 200, 'served from b\'s cache');
    await assertRefused(await listBuckets(a, credentialsOf(key))); // a never cached it
    await db`select pg_notify('aerostore_keys', ${key.access_key_id})`;
    await assertRefused(await onceRefused(() => listBuckets(b, credentialsOf(key))));
  });

  it('matches access key ids exactly: other case or surrounding whitespace is refused', async () => {
    const key = await newKey();
    const id = key.access_key_id;
    const variants = [id.toLowerCase(), `AK${id.slice(2).toLowerCase()}`, `${id} `, `${id}\t`, ` ${id}`, `\t${id}`];
    for (const accessKeyId of variants) {
      const client = new S3RawClient(a.url, { accessKeyId, secretAccessKey: key.secret_access_key });
      // In the Authorization header, space after `Credential=` is the header's
      // own spacing (sigv4.ts trims it); the query string carries the id verbatim.
      const leading = /^\s/.test(accessKeyId);
      for (const presignExpiresIn of leading ? [60] : [undefined, 60]) {
        const res = await client.send({ method: 'GET', path: '/', presignExpiresIn });
        assert.ok(res.status === 403 || res.status === 400, `${JSON.stringify(accessKeyId)} presigned=${!!presignExpiresIn}: ${res.status}`);
        if (res.status === 403) assert.equal(errorCode(res.body), 'InvalidAccessKeyId', JSON.stringify(accessKeyId));
      }
    }
    assert.equal((await listBuckets(a, credentialsOf(key))).status, 200);
  });

  it('refuses callers without service-role credentials, with a JSON error', async () => {
    const base = new URL(a.url);
    // Anonymous: 401 or 403 (a request with no credentials at all).
    assertJsonError(await sendRaw(base, 'GET', '/admin/v1/keys', { host: base.host }), [401, 403]);
    assertJsonError(
      await sendRaw(base, 'POST', '/admin/v1/keys', { host: base.host, 'content-type': 'application/json' }, JSON.stringify({ user_id: randomUUID() })),
      [401, 403],
    );
    const member = new S3RawClient(a.url, credentialsOf(await newKey()));
    assertJsonError(await member.send({ method: 'GET', path: '/admin/v1/keys' }), 403);
    assertJsonError(await createKey(member, { user_id: randomUUID(), role: 'service' }), 403);
    const victim = await newKey();
    assertJsonError(await member.send({ method: 'DELETE', path: `/admin/v1/keys/${victim.id}` }), 403);
    assert.equal((await listBuckets(a, credentialsOf(victim))).status, 200, 'still active');
    // A wrong secret for the root key id.
    const forged = new S3RawClient(a.url, { accessKeyId: a.accessKeyId, secretAccessKey: 'not-the-secret-0123456789' });
    assertJsonError(await forged.send({ method: 'GET', path: '/admin/v1/keys' }), 403);
  });

  it('answers 400 with a JSON error for bodies that are not a valid new key', async () => {
    const user_id = randomUUID();
    const bad: unknown[] = [
      '{"user_id": ',
      '',
      'null',
      '[]',
      {},
      { user_id: 'not-a-uuid' },
      { user_id: 42 },
      { user_id, role: 'admin' },
      { user_id, role: 'anon' },
      { user_id, name: 'x'.repeat(201) },
      { user_id, name: 7 },
      { user_id, name: 'bell\u0007' },
      { user_id, userId: user_id },
    ];
    for (const body of bad) {
      const res = await createKey(rootA, body);
      assertJsonError(res, 400);
      assert.equal((json(res) as { error: string }).error, 'InvalidRequest', JSON.stringify(body));
    }
    const longest = await createKey(rootA, { user_id, name: 'ü'.repeat(200) });
    assert.equal(longest.status, 201, longest.body.toString());
  });
});

describe('CLI: aerostore keys', () => {
  it('create --json prints exactly the new key, which works at once; revoke revokes it', async () => {
    const userId = randomUUID();
    const created = await cli(['create', '--user', userId, '--name', 'from the cli', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as CreatedKey;
    assert.deepEqual(Object.keys(key).sort(), KEY_FIELDS);
    assert.equal(created.stdout.trim(), JSON.stringify(key));
    assert.equal(key.user_id, userId);
    assert.equal(key.role, 'authenticated');
    assert.equal(key.name, 'from the cli');
    assert.equal((await listBuckets(a, credentialsOf(key))).status, 200);
    assert.equal((await listBuckets(b, credentialsOf(key))).status, 200);

    const revoked = await cli(['revoke', key.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(key.id));
    await assertRefused(await onceRefused(() => listBuckets(a, credentialsOf(key))));
    await assertRefused(await onceRefused(() => listBuckets(b, credentialsOf(key))));
  });

  it('create without --json says the secret is shown once; --role service works', async () => {
    const created = await cli(['create', `--user=${randomUUID()}`, '--role', 'service']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /only (this )?once/i);
    const accessKeyId = /AK[A-Z2-7]{18}/.exec(created.stdout)?.[0];
    const secret = /secret access key:\s+(\S{40})/.exec(created.stdout)?.[1];
    assert.ok(accessKeyId && secret, created.stdout);
    const res = await new S3RawClient(a.url, { accessKeyId, secretAccessKey: secret }).send({ method: 'GET', path: '/admin/v1/keys' });
    assert.equal(res.status, 200, res.body.toString());
  });

  it('list shows active keys, as a table or --json, never a secret', async () => {
    const key = await newKey({ name: 'for the listing' });
    const asJson = await cli(['list', '--json']);
    assert.equal(asJson.code, 0, asJson.stderr);
    assert.ok(!asJson.stdout.includes(key.secret_access_key));
    const keys = JSON.parse(asJson.stdout) as Record<string, unknown>[];
    for (const k of keys) assert.deepEqual(Object.keys(k).sort(), LISTED_FIELDS);
    assert.ok(keys.some((k) => k.id === key.id && k.access_key_id === key.access_key_id));

    const asTable = await cli(['list']);
    assert.equal(asTable.code, 0, asTable.stderr);
    assert.match(asTable.stdout, /ACCESS KEY ID/);
    assert.match(asTable.stdout, new RegExp(`${key.id}\\s+${key.access_key_id}`));
    assert.ok(!asTable.stdout.includes(key.secret_access_key));
  });

  it('exits 2 with the usage on wrong invocations, 1 for an unknown id', async () => {
    for (const args of [
      [],
      ['frobnicate'],
      ['create'],
      ['create', '--user', 'not-a-uuid'],
      ['create', '--user', randomUUID(), '--role', 'admin'],
      ['create', '--user'],
      ['list', 'extra'],
      ['revoke'],
      ['revoke', randomUUID(), randomUUID()],
      ['list', '--no-such-flag', 'x'],
    ]) {
      const res = await cli(args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, /usage:/, args.join(' '));
      assert.equal(res.stdout, '', args.join(' '));
    }
    const unknown = await cli(['revoke', randomUUID()]);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /no active access key/);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage:/);
  });

  it('refuses a data directory without a database, and DATABASE_URL without a master key', async () => {
    const empty = await cli(['list'], { AEROSTORE_DATA_DIR: path.join(a.dataDir, 'nothing-here') });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no aerostore database/);
    // Same database, but no master key to be found: creating would seal secrets no server can read.
    const noKey = await cli(['create', '--user', randomUUID(), '--database-url', dbUrl], {
      AEROSTORE_DATA_DIR: path.join(a.dataDir, 'nothing-here'),
      AEROSTORE_MASTER_KEY: '',
    });
    assert.equal(noKey.code, 1, noKey.stdout);
    assert.match(noKey.stderr, /no master key/);
    // Listing needs no master key.
    const list = await cli(['list', '--json', '--database-url', dbUrl], { AEROSTORE_MASTER_KEY: '' });
    assert.equal(list.code, 0, list.stderr);
  });

  it('with no server running, starts the embedded Postgres for the command and stops it after', async () => {
    const key = await newKey({ name: 'offline' });
    await b.stop();
    await a.stop({ keepData: true });
    const listed = await cli(['list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((k) => k.id === key.id));
    const revoked = await cli(['revoke', key.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const pid = await readFile(path.join(a.dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => undefined);
    assert.equal(pid, undefined, 'the Postgres started for the command was stopped');
  });
});
