// The audit trail end to end, on a real server: a scripted series of
// uploads, downloads and deletions by two users (over S3 and /storage/v1,
// with access keys, JWTs, a signed URL and no credentials at all), then the
// record of it through GET /admin/v1/audit and its filters and pages,
// `aerostore audit`, and SQL under each user's claims, which shows each
// user exactly the records RLS lets it see.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { runAuditCli } from '../src/cli/audit.ts';
import { connectAsApplication, embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf, setBucketSettings, type CreatedKey } from './support/principals.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'audit-test-secret-0123456789abcdefghijkl';
const A = randomUUID();
const B = randomUUID();
let srv: TestServer;
let root: S3RawClient;
let superuser: postgres.Sql;
let app: postgres.Sql;
const keys: Record<'A' | 'B', CreatedKey> = {} as never;
const s3: Record<'A' | 'B', S3RawClient> = {} as never;
const tokens: Record<'A' | 'B', string> = {} as never;
/** Between the uploads and the downloads, and between the downloads and the deletions. */
let afterUploads: Date;
let afterDownloads: Date;

type Entry = {
  at: string;
  action: string;
  bucket: string;
  key: string;
  actor: { kind: string; via?: string; user_id?: string | null; access_key_id?: string };
  address: string | null;
  size: number | null;
  detail: Record<string, unknown>;
};
type Page = { records: Entry[]; next_cursor: string | null };

const jwt = (sub: string) =>
  new SignJWT({ sub, role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

async function ok(p: Promise<{ status: number; body: Buffer }> | Promise<Response>): Promise<void> {
  const res = await p;
  const body = res instanceof Response ? await res.text() : res.body.toString();
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${body}`);
}

/** A /storage/v1 request as `user` (a JWT), or without credentials. */
function api(path: string, init: RequestInit & { as?: 'A' | 'B' } = {}): Promise<Response> {
  const { as, ...rest } = init;
  return fetch(`${srv.url}/storage/v1${path}`, { ...rest, headers: { ...(as ? { authorization: `Bearer ${tokens[as]}` } : {}), ...(rest.headers as Record<string, string>) } });
}

const pause = () => new Promise((r) => setTimeout(r, 20));

/** Each record as `action bucket/key by-whom`, oldest first: A, B, anonymous, each with how it signed in. */
function script(records: readonly Entry[]): string[] {
  const whoIs = (a: Entry['actor']) => (a.kind === 'anonymous' ? 'anonymous' : `${a.user_id === A ? 'A' : a.user_id === B ? 'B' : a.user_id} ${a.via}`);
  return [...records].reverse().map((r) => `${r.action} ${r.bucket}/${r.key} ${whoIs(r.actor)}`);
}

/** The whole series, as the script below performs it. */
const SERIES = [
  'upload audit-a/docs/report.txt A access-key',
  'upload audit-a/docs/notes.txt A jwt',
  'upload audit-b/diary.txt B jwt',
  'upload audit-a/inbox/from-b.txt B access-key',
  'upload audit-pub/logo.png A access-key',
  'download audit-a/docs/report.txt B access-key',
  'download audit-a/docs/notes.txt B jwt',
  'download audit-a/docs/report.txt A url-token',
  'download audit-pub/logo.png anonymous',
  'delete audit-a/docs/notes.txt A jwt',
  'delete audit-b/diary.txt B access-key',
  'delete audit-a/inbox/from-b.txt A access-key',
];

async function admin(query: Record<string, string> = {}): Promise<{ status: number; body: Page & { error?: string } }> {
  const res = await root.send({ method: 'GET', path: '/admin/v1/audit', query });
  return { status: res.status, body: JSON.parse(res.body.toString()) };
}

async function allPages(query: Record<string, string>): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | null = null;
  do {
    const { status, body } = await admin({ ...query, ...(cursor ? { cursor } : {}) });
    assert.equal(status, 200, JSON.stringify(body));
    out.push(...body.records);
    cursor = body.next_cursor;
  } while (cursor);
  return out;
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  root = new S3RawClient(srv.url, srv);
  for (const [name, id] of [['A', A], ['B', B]] as const) {
    keys[name] = await createAccessKey(root, id);
    s3[name] = new S3RawClient(srv.url, credentialsOf(keys[name]));
    tokens[name] = await jwt(id);
  }
  // A's buckets: one that signed-in users read and write into, one public; B's: private.
  await ok(s3.A.send({ method: 'PUT', path: '/audit-a' }));
  await setBucketSettings(root, 'audit-a', { policy: 'authenticated', member_writes: true });
  await ok(s3.A.send({ method: 'PUT', path: '/audit-pub' }));
  await setBucketSettings(root, 'audit-pub', { policy: 'public' });
  await ok(s3.B.send({ method: 'PUT', path: '/audit-b' }));

  // The series: uploads,
  await ok(s3.A.send({ method: 'PUT', path: '/audit-a/docs/report.txt', body: 'the report' }));
  await ok(api('/object/audit-a/docs/notes.txt', { as: 'A', method: 'POST', body: 'notes', headers: { 'content-type': 'text/plain' } }));
  await ok(api('/object/audit-b/diary.txt', { as: 'B', method: 'POST', body: 'dear diary', headers: { 'content-type': 'text/plain' } }));
  await ok(s3.B.send({ method: 'PUT', path: '/audit-a/inbox/from-b.txt', body: 'for A' }));
  await ok(s3.A.send({ method: 'PUT', path: '/audit-pub/logo.png', body: 'PNG' }));
  await pause();
  afterUploads = new Date();
  await pause();
  // downloads (B by S3 and by /storage/v1, anyone with A's signed URL, anyone at all from the public bucket),
  await ok(s3.B.send({ method: 'GET', path: '/audit-a/docs/report.txt' }));
  await ok(api('/object/authenticated/audit-a/docs/notes.txt', { as: 'B' }));
  const signing = await api('/object/sign/audit-a/docs/report.txt', { as: 'A', method: 'POST', body: JSON.stringify({ expiresIn: 60 }), headers: { 'content-type': 'application/json' } });
  assert.equal(signing.status, 200);
  const { signedURL } = (await signing.json()) as { signedURL: string };
  await ok(api(signedURL));
  await ok(api('/object/public/audit-pub/logo.png'));
  // and a read refused (B's private diary): not a download, not recorded.
  assert.equal((await s3.A.send({ method: 'GET', path: '/audit-b/diary.txt' })).status, 403);
  await pause();
  afterDownloads = new Date();
  await pause();
  // deletions (A deletes B's object in A's bucket: the bucket's owner may).
  await ok(api('/object/audit-a/docs/notes.txt', { as: 'A', method: 'DELETE' }));
  await ok(s3.B.send({ method: 'DELETE', path: '/audit-b/diary.txt' }));
  await ok(s3.A.send({ method: 'DELETE', path: '/audit-a/inbox/from-b.txt' }));

  // Downloads are written in batches, about a second after the first.
  const deadline = Date.now() + 10_000;
  while ((await admin({ action: 'download' })).body.records.length < 4) {
    assert.ok(Date.now() < deadline, 'the downloads were not recorded within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  superuser = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  app = await connectAsApplication(superuser, srv.dataDir, 'audit_reader');
});

after(async () => {
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await srv?.stop();
});

describe('GET /admin/v1/audit', () => {
  it('has the whole series, newest first: who, what, when and from where', async () => {
    const { status, body } = await admin();
    assert.equal(status, 200);
    assert.deepEqual(script(body.records), SERIES);
    assert.equal(body.next_cursor, null);
    for (const r of body.records) {
      assert.equal(r.address, '127.0.0.1', `${r.action} ${r.key}`);
      assert.match(r.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
    const upload = body.records.find((r) => r.action === 'upload' && r.key === 'docs/report.txt')!;
    assert.equal(upload.size, 'the report'.length);
    assert.equal(upload.actor.access_key_id, keys.A.access_key_id);
  });

  it('filters by actor: a user id, an access key id, anonymous', async () => {
    assert.deepEqual(script((await admin({ actor: A })).body.records), SERIES.filter((s) => / A \S+$/.test(s)));
    assert.deepEqual(script((await admin({ actor: keys.B.access_key_id })).body.records), SERIES.filter((s) => s.endsWith(' B access-key')));
    assert.deepEqual(script((await admin({ actor: 'anonymous' })).body.records), ['download audit-pub/logo.png anonymous']);
  });

  it('filters by bucket and key prefix, action and time range', async () => {
    assert.deepEqual(
      script((await admin({ bucket: 'audit-a', prefix: 'docs/' })).body.records),
      SERIES.filter((s) => s.includes(' audit-a/docs/')),
    );
    const downloads = SERIES.filter((s) => s.startsWith('download '));
    assert.deepEqual(script((await admin({ action: 'download' })).body.records), downloads);
    assert.deepEqual(script((await admin({ since: afterUploads.toISOString(), until: afterDownloads.toISOString() })).body.records), downloads);
    assert.deepEqual(script((await admin({ since: afterDownloads.toISOString() })).body.records), SERIES.filter((s) => s.startsWith('delete ')));
    assert.deepEqual(script((await admin({ since: '1h', action: 'delete', actor: B })).body.records), ['delete audit-b/diary.txt B access-key']);
  });

  it('pages with a cursor: every record once, in the same order', async () => {
    const first = await admin({ limit: '5' });
    assert.equal(first.body.records.length, 5);
    assert.ok(first.body.next_cursor);
    assert.deepEqual(script(await allPages({ limit: '5' })), SERIES);
  });

  it('refuses a malformed query (400) and anyone but the service role (403)', async () => {
    for (const query of [{ action: 'copy' }, { since: 'last week' }, { limit: '0' }, { cursor: 'x' }, { who: A }] as Record<string, string>[]) {
      const { status, body } = await admin(query);
      assert.equal(status, 400, JSON.stringify(query));
      assert.equal(body.error, 'InvalidRequest');
    }
    assert.equal((await s3.A.send({ method: 'GET', path: '/admin/v1/audit' })).status, 403);
  });
});

describe('aerostore audit', () => {
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAuditCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env: { AEROSTORE_DATA_DIR: srv.dataDir } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('--json answers as the admin API does', async () => {
    const res = await cli('--actor', B, '--json');
    assert.equal(res.code, 0, res.err);
    assert.deepEqual(JSON.parse(res.out), (await admin({ actor: B })).body);
  });

  it('prints one line per record, with the next page’s cursor on stderr', async () => {
    const res = await cli('--bucket', 'audit-pub');
    assert.equal(res.code, 0, res.err);
    const lines = res.out.split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^\S+Z {2}download {2}anonymous {2}127\.0\.0\.1 {2}audit-pub\/logo\.png 3 bytes$/);
    assert.match(lines[1], new RegExp(`upload {4}${A} \\(${keys.A.access_key_id}\\) {2}127\\.0\\.0\\.1 {2}audit-pub/logo\\.png`));
    const paged = await cli('--limit', '1');
    assert.equal(paged.out.split('\n').length, 1);
    assert.match(paged.err, /^more: --cursor \S+$/);
    assert.equal((await cli('--action', 'copy')).code, 2);
  });
});

describe('storage.audit_log from SQL under row-level security', () => {
  /** The records an application's login sees with `user`'s claims, as the script names them. */
  const seenAs = (user: string) =>
    app.begin(async (tx) => {
      await tx`set local role aerostore_authenticated`;
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user, role: 'authenticated' })}, true)`;
      const rows = await tx<Entry[]>`select action, bucket, key, actor from storage.audit_log order by at desc, id desc`;
      return script(rows);
    });

  it('A: what A did, and everything in its buckets (B’s upload into audit-a included) — not B’s own bucket', async () => {
    assert.deepEqual(
      await seenAs(A),
      SERIES.filter((s) => !s.includes(' audit-b/')),
    );
  });

  it('B: what B did, what was done in its bucket and to its object (A deleting it)', async () => {
    assert.deepEqual(await seenAs(B), [
      'upload audit-b/diary.txt B jwt',
      'upload audit-a/inbox/from-b.txt B access-key',
      'download audit-a/docs/report.txt B access-key',
      'download audit-a/docs/notes.txt B jwt',
      'delete audit-b/diary.txt B access-key',
      'delete audit-a/inbox/from-b.txt A access-key',
    ]);
  });

  it('nobody else: a stranger sees none, the anonymous role may not read it, no request role may write', async () => {
    assert.deepEqual(await seenAs(randomUUID()), []);
    await assert.rejects(
      app.begin(async (tx) => {
        await tx`set local role aerostore_anon`;
        await tx`select * from storage.audit_log`;
      }),
      /permission denied/,
    );
    await assert.rejects(
      app.begin(async (tx) => {
        await tx`set local role aerostore_authenticated`;
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: A, role: 'authenticated' })}, true)`;
        await tx`delete from storage.audit_log`;
      }),
      /permission denied/,
    );
  });
});
