// The access matrix over /storage/v1, through @supabase/storage-js against a
// real server: five principals × the six bucket setups of rls-matrix.test.ts
// (policy × member writes) × sixteen operations, as storage-js performs them.
// The permission model is the S3 matrix's — one core (src/core/access.ts)
// and one set of RLS policies (migration 0009) under both protocols — only
// the wire differs: JSON errors with this API's codes (storage-api/errors.ts).
// Every cell's answer is stated twice, as a rule (expectedAnswer) and as a
// literal table (EXPECTED_TABLE), which must agree; each cell's effect on the
// stored objects is checked as the service role; and a principal refused an
// object it may not read must get the same answer for a key that does not
// exist, so that it cannot probe which keys do. The last part compares, cell
// by cell, the same principal's answers over S3 (a bearer JWT works there too).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { setBucketSettings } from './support/principals.ts';
import { errorCode as s3ErrorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 'storage-rls-matrix-jwt-secret-0123456789';
const A = randomUUID();
const B = randomUUID();

// ---------------------------------------------------------------------------
// The axes.

type Policy = 'private' | 'authenticated' | 'public';

interface Setup {
  name: string; // 'private/off'
  policy: Policy;
  memberWrites: boolean;
  bucket: string;
  /** A twin bucket (same owner and settings) for emptyBucket, which would take the other cells' objects with it. */
  emptied: string;
}

const SETUPS: readonly Setup[] = (['private', 'authenticated', 'public'] as const).flatMap((policy) =>
  [false, true].map((memberWrites) => {
    const mw = memberWrites ? 'on' : 'off';
    return { name: `${policy}/${mw}`, policy, memberWrites, bucket: `srls-${policy}-${mw}`, emptied: `srls-${policy}-${mw}-e` };
  }),
);

/** Each user's own private bucket: where copy-out and move-out write. */
const SCRATCH = { A: 'srls-scratch-a', B: 'srls-scratch-b' } as const;
const PUBLIC_LIST_BUCKET = 'srls-public-list';
/** In every setup bucket, so that it is never empty and lists have something to show. */
const SEED = { A: 'seed-a-owned', B: 'seed-b-owned' } as const;

/**
 * Every operation acts on "the other user's object" where it needs one: A's
 * for anonymous principals and B, B's for A and the service role (A owns
 * every setup bucket, so B's objects there are the ones A does not own).
 *
 * list           from(b).list()
 * list-v2        from(b).listV2()
 * download       from(b).download(key)
 * info, exists   from(b).info(key), from(b).exists(key)
 * public         GET the URL of from(b).getPublicUrl(key), with the principal's headers
 * authenticated  GET /object/authenticated/b/key (raw: storage-js has no method for it)
 * upload-new     from(b).upload(a fresh key)
 * upsert-other   from(b).upload(key, …, { upsert: true })
 * remove-other   from(b).remove([key])
 * copy-out       from(b).copy(key, …, { destinationBucket: the principal's own bucket })
 * copy-within    from(b).copy(key, another key of b)
 * move-out       from(b).move(key, …, { destinationBucket: the principal's own bucket })
 * sign-url       from(b).createSignedUrl(key), then GET the URL without credentials
 * sign-upload    from(b).createSignedUploadUrl(a fresh key), then uploadToSignedUrl without credentials
 * empty          emptyBucket(b's twin)
 * delete-bucket  deleteBucket(b)
 */
const OPS = [
  'list',
  'list-v2',
  'download',
  'info',
  'exists',
  'public',
  'authenticated',
  'upload-new',
  'upsert-other',
  'remove-other',
  'copy-out',
  'copy-within',
  'move-out',
  'sign-url',
  'sign-upload',
  'empty',
  'delete-bucket',
] as const;
type Op = (typeof OPS)[number];

/** Operations on the other user's object: the cell seeds a fresh one. */
const ON_VICTIM: ReadonlySet<Op> = new Set([
  'download',
  'info',
  'exists',
  'public',
  'authenticated',
  'upsert-other',
  'remove-other',
  'copy-out',
  'copy-within',
  'move-out',
  'sign-url',
]);
/** Those whose answer, to a principal that may not read the object, must not depend on whether it exists. */
const PROBED: ReadonlySet<Op> = new Set([...ON_VICTIM].filter((op) => op !== 'upsert-other'));

const PRINCIPALS = ['anonymous', 'anon-jwt', 'A-jwt', 'B-jwt', 'service-jwt'] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

// ---------------------------------------------------------------------------
// The promise.

/**
 * ok: the operation's 200; AD: 403 ACCESS_DENIED; NE: 409 BUCKET_NOT_EMPTY
 * (deleteBucket of a non-empty bucket one may delete); none: 200 [] — remove()
 * is a batch delete that answers with the objects it removed, and refuses
 * only when the principal may not write into the bucket at all.
 */
type Answer = 'ok' | 'AD' | 'NE' | 'none';

/** The rule. */
function expectedAnswer(p: PrincipalName, s: Setup, op: Op): Answer {
  // /object/public/ reads as anonymous whoever asks: credentials never widen it.
  if (op === 'public') return s.policy === 'public' ? 'ok' : 'AD';
  // A owns every setup bucket; the service role may do everything.
  if (p === 'A-jwt' || p === 'service-jwt') return op === 'delete-bucket' ? 'NE' : 'ok';
  // The rest act on A's objects: anonymous (with no token or the anon role) and B.
  const signedIn = p === 'B-jwt';
  // Reading A's objects is the bucket policy's to grant.
  const reads = s.policy === 'public' || (signedIn && s.policy === 'authenticated');
  // Member writes let B create objects and change its own, never A's.
  const writes = signedIn && s.memberWrites;
  const allowed: Record<Op, boolean> = {
    // Anonymous listing needs public_list, off in every setup.
    list: signedIn && (reads || s.memberWrites),
    'list-v2': signedIn && (reads || s.memberWrites),
    download: reads,
    info: reads,
    exists: reads,
    public: reads,
    // The authenticated route refuses anonymous principals outright.
    authenticated: signedIn && reads,
    'upload-new': writes,
    'upsert-other': false,
    'remove-other': false,
    // Into B's own bucket; anonymous principals have none to write into.
    'copy-out': signedIn && reads,
    'copy-within': reads && writes,
    // The source is A's: B may not delete it, so the copy is undone.
    'move-out': false,
    // Signing needs what the URL grants: read for a download, write for an upload.
    'sign-url': reads,
    'sign-upload': writes,
    empty: false,
    'delete-bucket': false,
  };
  if (op === 'remove-other' && writes) return 'none';
  return allowed[op] ? 'ok' : 'AD';
}

/**
 * The same promise, cell by cell (columns in OPS order).
 *
 * In A's private bucket with member writes on, B sees only its own objects:
 * every read of A's objects is ACCESS_DENIED whether or not the key exists,
 * and remove() of one answers 200 [] either way.
 */
const EXPECTED_TABLE = `
principal    setup              list list-v2 download info exists public authenticated upload-new upsert-other remove-other copy-out copy-within move-out sign-url sign-upload empty delete-bucket
anonymous    private/off        AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anonymous    private/on         AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anonymous    authenticated/off  AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anonymous    authenticated/on   AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anonymous    public/off         AD   AD      ok       ok   ok     ok     AD            AD         AD           AD           AD       AD          AD       ok       AD          AD    AD
anonymous    public/on          AD   AD      ok       ok   ok     ok     AD            AD         AD           AD           AD       AD          AD       ok       AD          AD    AD
anon-jwt     private/off        AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anon-jwt     private/on         AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anon-jwt     authenticated/off  AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anon-jwt     authenticated/on   AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
anon-jwt     public/off         AD   AD      ok       ok   ok     ok     AD            AD         AD           AD           AD       AD          AD       ok       AD          AD    AD
anon-jwt     public/on          AD   AD      ok       ok   ok     ok     AD            AD         AD           AD           AD       AD          AD       ok       AD          AD    AD
A-jwt        private/off        ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
A-jwt        private/on         ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
A-jwt        authenticated/off  ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
A-jwt        authenticated/on   ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
A-jwt        public/off         ok   ok      ok       ok   ok     ok     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
A-jwt        public/on          ok   ok      ok       ok   ok     ok     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
B-jwt        private/off        AD   AD      AD       AD   AD     AD     AD            AD         AD           AD           AD       AD          AD       AD       AD          AD    AD
B-jwt        private/on         ok   ok      AD       AD   AD     AD     AD            ok         AD           none         AD       AD          AD       AD       ok          AD    AD
B-jwt        authenticated/off  ok   ok      ok       ok   ok     AD     ok            AD         AD           AD           ok       AD          AD       ok       AD          AD    AD
B-jwt        authenticated/on   ok   ok      ok       ok   ok     AD     ok            ok         AD           none         ok       ok          AD       ok       ok          AD    AD
B-jwt        public/off         ok   ok      ok       ok   ok     ok     ok            AD         AD           AD           ok       AD          AD       ok       AD          AD    AD
B-jwt        public/on          ok   ok      ok       ok   ok     ok     ok            ok         AD           none         ok       ok          AD       ok       ok          AD    AD
service-jwt  private/off        ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
service-jwt  private/on         ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
service-jwt  authenticated/off  ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
service-jwt  authenticated/on   ok   ok      ok       ok   ok     AD     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
service-jwt  public/off         ok   ok      ok       ok   ok     ok     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
service-jwt  public/on          ok   ok      ok       ok   ok     ok     ok            ok         ok           ok           ok       ok          ok       ok       ok          ok    NE
`;

const TABLE_LINES = EXPECTED_TABLE.trim().split('\n');

function tableAnswer(p: PrincipalName, s: Setup, op: Op): Answer | undefined {
  const row = TABLE_LINES.map((l) => l.trim().split(/\s+/)).find(([name, setup]) => name === p && setup === s.name);
  return row?.[2 + OPS.indexOf(op)] as Answer | undefined;
}

/** The table's header and the principal's six rows, as written above. */
function tableRowsOf(p: PrincipalName): string {
  return [TABLE_LINES[0], ...TABLE_LINES.filter((l) => l.split(/\s+/)[0] === p)].join('\n');
}

/** An answer as it appears on the wire: status and the JSON body's `error` code. */
function wireOf(answer: Answer): string {
  switch (answer) {
    case 'ok':
      return '200';
    case 'AD':
      return '403 ACCESS_DENIED';
    case 'NE':
      return '409 BUCKET_NOT_EMPTY';
    case 'none':
      return '200 []';
  }
}

/** Whether the principal may read the other user's object by this operation's route. */
function readsVictim(p: PrincipalName, s: Setup, op: Op): boolean {
  return expectedAnswer(p, s, op === 'public' ? 'public' : 'download') === 'ok';
}

// ---------------------------------------------------------------------------
// The server, the users and their tokens.

let srv: TestServer;
let api: string;
let root: S3RawClient;
/** Service-role tokens bound to A and B: they pass RLS and record A or B as the owner. */
let seeder: Record<'A' | 'B', StorageClient>;
/** The service role without a user (Supabase's service key): the checker of every cell's effects. */
let serviceToken: string;
const actors = new Map<PrincipalName, Actor>();

interface Actor {
  name: PrincipalName;
  /** What storage-js is constructed with: the token as apikey and bearer, as supabase-js sends it. */
  headers: Record<string, string>;
  /** The owner_id its writes record. */
  owner: string | null;
  /** Whose object is "the other user's" for this principal. */
  other: 'A' | 'B';
  /** Its own bucket, for copy-out and move-out. */
  scratch: string;
}

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

const bearer = (token: string) => ({ apikey: token, Authorization: `Bearer ${token}` });
const ownerName = (id: string | null | undefined) => (id === A ? 'A' : id === B ? 'B' : id === null ? 'no user' : id);

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  api = `${srv.url}/storage/v1`;
  root = new S3RawClient(srv.url, srv);
  const [anonToken, aToken, bToken, service, seedA, seedB] = await Promise.all([
    jwt({ role: 'anon' }),
    jwt({ sub: A, role: 'authenticated' }),
    jwt({ sub: B, role: 'authenticated' }),
    jwt({ role: 'service_role' }),
    jwt({ sub: A, role: 'service_role' }),
    jwt({ sub: B, role: 'service_role' }),
  ]);
  serviceToken = service;
  seeder = { A: new StorageClient(api, bearer(seedA)), B: new StorageClient(api, bearer(seedB)) };

  const all: Actor[] = [
    { name: 'anonymous', headers: {}, owner: null, other: 'A', scratch: SCRATCH.A },
    { name: 'anon-jwt', headers: bearer(anonToken), owner: null, other: 'A', scratch: SCRATCH.A },
    { name: 'A-jwt', headers: bearer(aToken), owner: A, other: 'B', scratch: SCRATCH.A },
    { name: 'B-jwt', headers: bearer(bToken), owner: B, other: 'A', scratch: SCRATCH.B },
    { name: 'service-jwt', headers: bearer(service), owner: null, other: 'B', scratch: SCRATCH.A },
  ];
  for (const actor of all) actors.set(actor.name, actor);

  // A owns every setup bucket, its twin and its scratch bucket; B owns its scratch bucket.
  const asA = new StorageClient(api, bearer(aToken));
  const asB = new StorageClient(api, bearer(bToken));
  const created = await Promise.all([
    ...[...SETUPS.flatMap((s) => [s.bucket, s.emptied]), SCRATCH.A, PUBLIC_LIST_BUCKET].map((b) => asA.createBucket(b)),
    asB.createBucket(SCRATCH.B),
  ]);
  for (const c of created) assert.equal(c.error, null, String(c.error));
  // Bucket options are the service role's to set (README, "Users, keys and permissions").
  await Promise.all(
    SETUPS.flatMap((s) => [s.bucket, s.emptied].map((b) => setBucketSettings(root, b, { policy: s.policy, member_writes: s.memberWrites }))),
  );
  await setBucketSettings(root, PUBLIC_LIST_BUCKET, { policy: 'public' });
  await Promise.all(SETUPS.flatMap((s) => (['A', 'B'] as const).map((u) => seed(u, s.bucket, SEED[u], `seed of ${u} in ${s.name}`))));
  await seed('A', PUBLIC_LIST_BUCKET, 'listed', 'listed');
});

after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(srv?.log());
  await srv?.stop();
});

async function seed(owner: 'A' | 'B', bucket: string, key: string, body: string): Promise<void> {
  const up = await seeder[owner].from(bucket).upload(key, Buffer.from(body), { contentType: 'text/plain', upsert: true });
  assert.equal(up.error, null, `seed ${bucket}/${key}: ${String(up.error)}`);
}

// ---------------------------------------------------------------------------
// What the service role sees: the state each cell leaves behind.

interface Stored {
  body: string;
  owner: string | null;
}

/** The object as the service role reads it over /storage/v1: bytes and owner, or undefined when it is gone. */
async function stored(bucket: string, key: string): Promise<Stored | undefined> {
  const headers = { authorization: `Bearer ${serviceToken}` };
  const [info, got] = await Promise.all([fetch(`${api}/object/info/${bucket}/${key}`, { headers }), fetch(`${api}/object/${bucket}/${key}`, { headers })]);
  const [infoText, body] = await Promise.all([info.text(), got.text()]);
  if (info.status === 404 && got.status === 404) return undefined;
  assert.equal(info.status, 200, `service info ${bucket}/${key}: ${infoText}`);
  assert.equal(got.status, 200, `service download ${bucket}/${key}: ${body}`);
  return { body, owner: (JSON.parse(infoText) as { owner_id: string | null }).owner_id };
}

const describeStored = (o: Stored | undefined) => (o ? JSON.stringify({ body: o.body, owner: ownerName(o.owner) }) : 'nothing');

/** Key → owner id of every object in the bucket, from an S3 listing as the root key (the root's own writes show as "aerostore"). */
async function ownersIn(bucket: string): Promise<Map<string, string | undefined>> {
  const res = await root.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', 'fetch-owner': 'true' } });
  assert.equal(res.status, 200, res.body.toString());
  const xml = res.body.toString();
  return new Map([...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => [xmlValue(m[1], 'Key') ?? '', xmlValue(m[1], 'ID')]));
}

async function bucketExists(bucket: string): Promise<boolean> {
  const res = await fetch(`${api}/bucket/${bucket}`, { headers: { authorization: `Bearer ${serviceToken}` } });
  await res.arrayBuffer();
  return res.status === 200;
}

// ---------------------------------------------------------------------------
// Doing one operation as one principal, and what came back on the wire.

interface Wire {
  status: number;
  /** The JSON error body's `error`: storage-js keeps only the message, so the client's fetch reads it. */
  code?: string;
}

/** Responses a body must not have (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** A storage-js client whose fetch records each response's status and error code. */
function recordingClient(headers: Record<string, string>) {
  const seen: Wire[] = [];
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (res.ok || NULL_BODY.has(res.status)) {
      seen.push({ status: res.status });
      return res;
    }
    const text = await res.text();
    let code: string | undefined;
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      if (typeof parsed.error === 'string') code = parsed.error;
    } catch {
      // Not our JSON error: the status alone.
    }
    seen.push({ status: res.status, code });
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const last = () => {
    const w = seen.at(-1);
    if (!w) return 'no response';
    return w.code ? `${w.status} ${w.code}` : String(w.status);
  };
  return { storage: new StorageClient(api, headers, recording), fetch: recording, last };
}

interface Attempt {
  /** What was asked, for the failure message. */
  request: string;
  /** The last response's status and code ("200", "403 ACCESS_DENIED"; "200 []" for a remove that removed nothing). */
  actual: string;
  /** What came back: bytes read, the info, exists' answer, the names listed or removed. */
  data?: unknown;
}

/**
 * Performs `op` as `actor` on `key` of the setup's bucket; `dest` names what
 * it creates (a new key, a copy), `body` what it writes. A step that fails
 * ends the attempt: its answer is the attempt's.
 */
async function perform(actor: Actor, s: Setup, op: Op, key: string, dest: string, body: string): Promise<Attempt> {
  const c = recordingClient(actor.headers);
  const files = c.storage.from(s.bucket);
  const at = `${s.bucket}/${key}`;
  const done = (request: string, data?: unknown): Attempt => ({ request, actual: c.last(), data });
  const text = async (res: Response) => (res.ok ? await res.text() : (await res.arrayBuffer(), undefined));
  switch (op) {
    case 'list': {
      const r = await files.list('', { limit: 1000 });
      return done(`list() of ${s.bucket}`, r.data?.map((e) => e.name));
    }
    case 'list-v2': {
      const r = await files.listV2({ limit: 1000 });
      return done(`listV2() of ${s.bucket}`, r.data?.objects.map((e) => e.name));
    }
    case 'download': {
      const r = await files.download(key);
      return done(`download(${at})`, r.data ? await r.data.text() : undefined);
    }
    case 'info': {
      const r = await files.info(key);
      return done(`info(${at})`, r.data);
    }
    case 'exists': {
      // exists() answers false only for a 404; any other refusal it throws.
      let data: boolean | undefined;
      try {
        data = (await files.exists(key)).data;
      } catch {
        data = undefined;
      }
      return done(`exists(${at})`, data);
    }
    case 'public': {
      const url = files.getPublicUrl(key).data.publicUrl;
      return done(`GET ${url.slice(api.length)}`, await text(await c.fetch(url, { headers: actor.headers })));
    }
    case 'authenticated': {
      const path = `/object/authenticated/${at}`;
      return done(`GET ${path}`, await text(await c.fetch(`${api}${path}`, { headers: actor.headers })));
    }
    case 'upload-new':
      await files.upload(dest, Buffer.from(body), { contentType: 'text/plain' });
      return done(`upload(${s.bucket}/${dest})`);
    case 'upsert-other':
      await files.upload(key, Buffer.from(body), { contentType: 'text/plain', upsert: true });
      return done(`upload(${at}, { upsert: true })`);
    case 'remove-other': {
      const r = await files.remove([key]);
      const request = `remove([${key}]) in ${s.bucket}`;
      if (!r.data) return done(request);
      const names = r.data.map((o) => o.name);
      const actual = names.length === 0 ? '200 []' : names.length === 1 && names[0] === key ? '200' : `200 ${JSON.stringify(names)}`;
      return { request, actual, data: names };
    }
    case 'copy-out':
      await files.copy(key, dest, { destinationBucket: actor.scratch });
      return done(`copy(${at} → ${actor.scratch}/${dest})`);
    case 'copy-within':
      await files.copy(key, dest);
      return done(`copy(${at} → ${s.bucket}/${dest})`);
    case 'move-out':
      await files.move(key, dest, { destinationBucket: actor.scratch });
      return done(`move(${at} → ${actor.scratch}/${dest})`);
    case 'sign-url': {
      const r = await files.createSignedUrl(key, 60);
      if (!r.data) return done(`createSignedUrl(${at})`);
      // Redeemed as a browser handed the URL would: no credentials.
      return done(`createSignedUrl(${at}), then GET it without credentials`, await text(await c.fetch(r.data.signedUrl)));
    }
    case 'sign-upload': {
      const r = await files.createSignedUploadUrl(dest);
      const request = `createSignedUploadUrl(${s.bucket}/${dest})`;
      if (!r.data) return done(request);
      const nobody = new StorageClient(api, {}, c.fetch);
      await nobody.from(s.bucket).uploadToSignedUrl(dest, r.data.token, Buffer.from(body), { contentType: 'text/plain' });
      return done(`${request}, then uploadToSignedUrl without credentials`);
    }
    case 'empty':
      await c.storage.emptyBucket(s.emptied);
      return done(`emptyBucket(${s.emptied})`);
    case 'delete-bucket':
      await c.storage.deleteBucket(s.bucket);
      return done(`deleteBucket(${s.bucket})`);
  }
}

// ---------------------------------------------------------------------------
// One cell: its answer, and the state it leaves.

interface Observed {
  request: string;
  actual: string;
  /** Effects that do not match the answer given (or the promise). */
  notes: string[];
}

async function runCell(actor: Actor, s: Setup, op: Op): Promise<Observed> {
  const slug = `${actor.name}.${s.name.replace('/', '-')}.${op}`;
  const bucket = s.bucket;
  const victim = `${slug}.victim`;
  const victimBody = `victim of ${slug}`;
  const otherId = actor.other === 'A' ? A : B;
  const dest = `${slug}.made`;
  const body = `written by ${slug}`;
  const notes: string[] = [];
  if (ON_VICTIM.has(op)) await seed(actor.other, bucket, victim, victimBody);
  if (op === 'empty') await Promise.all((['A', 'B'] as const).map((u) => seed(u, s.emptied, SEED[u], `seed of ${u}`)));

  const r = await perform(actor, s, op, victim, dest, body);
  const succeeded = r.actual === '200';

  const unchanged = async (what: string) => {
    const now = await stored(bucket, victim);
    if (!now) notes.push(`${what}, yet the other user's object is gone`);
    else if (now.body !== victimBody || now.owner !== otherId) notes.push(`${what}, yet the other user's object changed: ${describeStored(now)}`);
  };
  const madeByActor = async (where: string, key: string, bytes: string, what: string) => {
    const now = await stored(where, key);
    if (!now || now.body !== bytes || now.owner !== actor.owner) notes.push(`${what}, but ${where}/${key} holds ${describeStored(now)}`);
  };
  const absent = async (where: string, key: string, what: string) => {
    if (await stored(where, key)) notes.push(`${what}, yet ${where}/${key} exists`);
  };

  switch (op) {
    case 'list':
    case 'list-v2': {
      if (!succeeded) break;
      const names = r.data as string[];
      if (!names.includes(SEED.B)) notes.push(`the listing lacks ${SEED.B}`);
      // B reads A's objects only through the bucket policy; member writes
      // alone let it list, and RLS then shows it its own objects.
      if (actor.name === 'B-jwt' && s.policy === 'private') {
        if (names.includes(SEED.A)) notes.push(`the listing shows A's ${SEED.A}`);
        const owners = await ownersIn(bucket);
        const foreign = names.filter((n) => owners.has(n) && owners.get(n) !== B);
        if (foreign.length) notes.push(`the listing shows objects B does not own: ${foreign.map((n) => `${n} (${ownerName(owners.get(n))})`).join(', ')}`);
      } else if (!names.includes(SEED.A)) {
        notes.push(`the listing lacks ${SEED.A}`);
      }
      break;
    }
    case 'download':
    case 'public':
    case 'authenticated':
    case 'sign-url':
      if (succeeded && r.data !== victimBody) notes.push(`answered other bytes: ${JSON.stringify(r.data)}`);
      break;
    case 'info':
      if (succeeded && (r.data as { size?: number } | null)?.size !== Buffer.byteLength(victimBody)) notes.push(`info answered ${JSON.stringify(r.data)}`);
      break;
    case 'exists':
      if (succeeded && r.data !== true) notes.push(`exists() answered ${String(r.data)}`);
      break;
    case 'upload-new':
    case 'sign-upload':
      if (succeeded) await madeByActor(bucket, dest, body, 'answered 200');
      else await absent(bucket, dest, 'refused');
      break;
    case 'upsert-other':
      if (succeeded) await madeByActor(bucket, victim, body, 'answered 200');
      else await unchanged('refused');
      break;
    case 'remove-other':
      if (succeeded) await absent(bucket, victim, 'removed');
      else await unchanged(r.actual === '200 []' ? 'removed nothing' : 'refused');
      break;
    case 'copy-out':
    case 'copy-within': {
      const where = op === 'copy-out' ? actor.scratch : bucket;
      if (succeeded) await madeByActor(where, dest, victimBody, 'copied');
      else await absent(where, dest, 'refused');
      await unchanged(succeeded ? 'copied' : 'refused');
      break;
    }
    case 'move-out':
      if (succeeded) {
        await madeByActor(actor.scratch, dest, victimBody, 'moved');
        await absent(bucket, victim, 'moved');
      } else {
        // A move refused after its copy (the source may be read, not deleted) is undone.
        await absent(actor.scratch, dest, 'refused');
        await unchanged('refused');
      }
      break;
    case 'empty': {
      if (!(await bucketExists(s.emptied))) notes.push(`${s.emptied} is gone`);
      if (succeeded) {
        const left = [...(await ownersIn(s.emptied)).keys()];
        if (left.length) notes.push(`emptied, yet ${s.emptied} holds ${left.join(', ')}`);
      } else {
        for (const u of ['A', 'B'] as const) {
          const now = await stored(s.emptied, SEED[u]);
          if (now?.body !== `seed of ${u}`) notes.push(`refused, yet ${s.emptied}/${SEED[u]} holds ${describeStored(now)}`);
        }
      }
      break;
    }
    case 'delete-bucket':
      if (!(await bucketExists(bucket))) notes.push(`${bucket} is gone`);
      break;
  }

  // A principal that may not read the object cannot be told whether it exists.
  if (PROBED.has(op) && !readsVictim(actor.name, s, op)) {
    const probe = await perform(actor, s, op, `${slug}.missing`, `${slug}.probe`, body);
    if (probe.actual !== r.actual) {
      notes.push(`answers ${r.actual} for an existing key it may not read, but ${probe.actual} for a missing one (${probe.request})`);
    }
  }
  return { request: r.request, actual: r.actual, notes };
}

/** Runs `tasks` `width` at a time. */
async function inGroups<T>(tasks: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += width) results.push(...(await Promise.all(tasks.slice(i, i + width).map((t) => t()))));
  return results;
}

interface Mismatch {
  cell: string;
  request: string;
  expected: string;
  actual: string;
  notes?: string[];
}

/** The principal's observed answers in the table's layout: [the wire answer] where it breaks the promise. */
function observedTable(p: PrincipalName, cells: Array<{ s: Setup; op: Op; expected: Answer; actual: string }>): string {
  const grid = SETUPS.map((s) => [
    p,
    s.name,
    ...OPS.map((op) => {
      const c = cells.find((x) => x.s === s && x.op === op)!;
      return c.actual === wireOf(c.expected) ? c.expected : `[${c.actual}]`;
    }),
  ]);
  const header = TABLE_LINES[0].trim().split(/\s+/);
  const widths = header.map((h, i) => Math.max(h.length, ...grid.map((r) => r[i].length)));
  return [header, ...grid].map((r) => r.map((v, i) => v.padEnd(widths[i])).join(' ').trimEnd()).join('\n');
}

describe('RLS matrix: principals × bucket setups × operations (/storage/v1, storage-js)', () => {
  it('states every cell: the literal table is the rule', () => {
    const disagreements: string[] = [];
    assert.equal(TABLE_LINES.length, 1 + PRINCIPALS.length * SETUPS.length);
    assert.deepEqual(TABLE_LINES[0].trim().split(/\s+/), ['principal', 'setup', ...OPS]);
    for (const p of PRINCIPALS) {
      for (const s of SETUPS) {
        for (const op of OPS) {
          if (tableAnswer(p, s, op) !== expectedAnswer(p, s, op)) {
            disagreements.push(`${p} ${s.name} ${op}: table ${tableAnswer(p, s, op)}, rule ${expectedAnswer(p, s, op)}`);
          }
        }
      }
    }
    assert.deepEqual(disagreements, []);
  });

  for (const p of PRINCIPALS) {
    it(`${p}: all ${SETUPS.length * OPS.length} cells`, async () => {
      const actor = actors.get(p)!;
      const cells = SETUPS.flatMap((s) => OPS.map((op) => ({ s, op, expected: tableAnswer(p, s, op) as Answer })));
      const observed = await inGroups(
        cells.map((c) => () => runCell(actor, c.s, c.op)),
        8,
      );
      const results = cells.map((c, i) => ({ ...c, ...observed[i] }));
      const mismatches: Mismatch[] = results
        .filter((c) => c.actual !== wireOf(c.expected) || c.notes.length > 0)
        .map((c) => ({
          cell: `${p} × ${c.s.name} × ${c.op}`,
          request: c.request,
          expected: wireOf(c.expected),
          actual: c.actual,
          ...(c.notes.length ? { notes: c.notes } : {}),
        }));
      assert.deepEqual(
        mismatches,
        [],
        `${p}: ${mismatches.length} of ${cells.length} cells differ from the promise.\n` +
          `Promised (EXPECTED_TABLE):\n${tableRowsOf(p)}\n` +
          `Observed ([status code] where it differs):\n${observedTable(p, results)}`,
      );
    });
  }
});

// ---------------------------------------------------------------------------
// One object, both APIs: the same principal, the same object, over S3.

/** The actor's bearer token for S3, which takes no apikey header. */
const s3AuthOf = (actor: Actor): Record<string, string> => (actor.headers.Authorization ? { authorization: actor.headers.Authorization } : {});

/** An S3 request with the actor's bearer token (or none), as "status Code". */
async function overS3(actor: Actor, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<string> {
  const res = await fetch(`${srv.url}${path}`, { method, headers: { ...s3AuthOf(actor), ...headers }, body });
  const text = await res.text();
  const code = method === 'HEAD' ? undefined : s3ErrorCode(text);
  return code ? `${res.status} ${code}` : String(res.status);
}

/** Both protocols' answers on one scale: ok, AD, NE, or the wire answer itself. */
function verdictOf(wire: string): string {
  if (/^20\d$/.test(wire)) return 'ok';
  if (['403', '403 AccessDenied', '403 ACCESS_DENIED'].includes(wire)) return 'AD';
  if (['409 BucketNotEmpty', '409 BUCKET_NOT_EMPTY'].includes(wire)) return 'NE';
  return wire;
}

describe('one object, both APIs', () => {
  for (const p of PRINCIPALS) {
    it(`${p}: /storage/v1 and S3 agree on the other user's object in every setup`, async () => {
      const actor = actors.get(p)!;
      const disagreements: string[] = [];
      await inGroups(
        SETUPS.map((s) => async () => {
          const slug = `${p}.${s.name.replace('/', '-')}.both`;
          const [one, two] = [`${slug}.one`, `${slug}.two`];
          await Promise.all([seed(actor.other, s.bucket, one, 'one'), seed(actor.other, s.bucket, two, 'two')]);
          const at = `/${s.bucket}/${one}`;
          const pairs: Array<[string, Promise<Attempt>, Promise<string>]> = [
            ['download / GetObject', perform(actor, s, 'download', one, '', ''), overS3(actor, 'GET', at)],
            ['info / HeadObject', perform(actor, s, 'info', one, '', ''), overS3(actor, 'HEAD', at)],
            ['list / ListObjectsV2', perform(actor, s, 'list', '', '', ''), overS3(actor, 'GET', `/${s.bucket}?list-type=2`)],
            ['upload / PutObject', perform(actor, s, 'upload-new', '', `${slug}.new-v1`, 'new'), overS3(actor, 'PUT', `/${s.bucket}/${slug}.new-s3`, {}, 'new')],
            [
              'copy / CopyObject',
              perform(actor, s, 'copy-out', one, `${slug}.copy-v1`, ''),
              overS3(actor, 'PUT', `/${actor.scratch}/${slug}.copy-s3`, { 'x-amz-copy-source': at }),
            ],
          ];
          const answers = await Promise.all(pairs.map(async ([what, v1, s3]) => [what, (await v1).actual, await s3] as const));
          // Deletes last, once the reads are answered: one object each. storage-js's
          // remove() is a batch (200 [] when nothing may go); the single-object
          // DELETE /object/{bucket}/{key} is what answers like S3's DeleteObject.
          const c = recordingClient(actor.headers);
          const deleteOne = async (key: string) => {
            await (await c.fetch(`${api}/object/${s.bucket}/${key}`, { method: 'DELETE', headers: actor.headers })).arrayBuffer();
            return c.last();
          };
          const removed = await deleteOne(one);
          answers.push(['DELETE /object / DeleteObject', removed, await overS3(actor, 'DELETE', `/${s.bucket}/${two}`)]);
          if (!readsVictim(p, s, 'download')) {
            const missing = await deleteOne(`${slug}.missing`);
            if (missing !== removed) disagreements.push(`${s.name} DELETE /object: ${removed} for an object it may not read, ${missing} for a missing one`);
          }
          answers.push(['deleteBucket / DeleteBucket', (await perform(actor, s, 'delete-bucket', '', '', '')).actual, await overS3(actor, 'DELETE', `/${s.bucket}`)]);
          for (const [what, v1, s3] of answers) {
            if (verdictOf(v1) !== verdictOf(s3)) disagreements.push(`${s.name} ${what}: /storage/v1 ${v1}, S3 ${s3}`);
          }
          // Each protocol's upload read back through the other, as the same principal.
          if (verdictOf(answers[3][1]) === 'ok' && verdictOf(answers[3][2]) === 'ok') {
            const viaS3 = await fetch(`${srv.url}/${s.bucket}/${slug}.new-v1`, { headers: s3AuthOf(actor) });
            const viaV1 = await recordingClient(actor.headers).storage.from(s.bucket).download(`${slug}.new-s3`);
            if (viaS3.status !== 200 || (await viaS3.text()) !== 'new') disagreements.push(`${s.name}: the /storage/v1 upload over S3: ${viaS3.status}`);
            if (!viaV1.data || (await viaV1.data.text()) !== 'new') disagreements.push(`${s.name}: the S3 upload over /storage/v1: ${String(viaV1.error)}`);
          }
        }),
        3,
      );
      assert.deepEqual(disagreements, []);
    });
  }

  it('listBuckets: the buckets S3 ListBuckets shows, for every signed-in principal; anonymous differs', async () => {
    const every = [...SETUPS.flatMap((s) => [s.bucket, s.emptied]), SCRATCH.A, SCRATCH.B, PUBLIC_LIST_BUCKET].sort();
    // Everything but A's private buckets without member writes and A's scratch bucket.
    const forB = [
      ...SETUPS.filter((s) => s.policy !== 'private' || s.memberWrites).flatMap((s) => [s.bucket, s.emptied]),
      SCRATCH.B,
      PUBLIC_LIST_BUCKET,
    ].sort();
    const expected: Partial<Record<PrincipalName, string[]>> = { 'A-jwt': every.filter((b) => b !== SCRATCH.B), 'B-jwt': forB, 'service-jwt': every };
    for (const [p, names] of Object.entries(expected) as Array<[PrincipalName, string[]]>) {
      const actor = actors.get(p)!;
      const v1 = await recordingClient(actor.headers).storage.listBuckets();
      assert.equal(v1.error, null, `${p}: ${String(v1.error)}`);
      assert.deepEqual(v1.data!.map((b) => b.name).sort(), names, p);
      const s3 = await fetch(`${srv.url}/`, { headers: s3AuthOf(actor) });
      assert.deepEqual(xmlValues(await s3.text(), 'Name').sort(), names, `${p} over S3`);
    }
    // The one place the protocols part: S3 refuses ListBuckets to anonymous
    // principals (as core/buckets.ts listBuckets and the README expect of
    // every edge), while /storage/v1 lists the public buckets, by RLS
    // anon_read — as storage-buckets.test.ts states it.
    for (const p of ['anonymous', 'anon-jwt'] as const) {
      const actor = actors.get(p)!;
      const c = recordingClient(actor.headers);
      const v1 = await c.storage.listBuckets();
      const publicBuckets = [...SETUPS.filter((s) => s.policy === 'public').flatMap((s) => [s.bucket, s.emptied]), PUBLIC_LIST_BUCKET].sort();
      assert.deepEqual({ v1: c.last(), names: v1.data?.map((b) => b.name).sort() }, { v1: '200', names: publicBuckets }, p);
      assert.equal(await overS3(actor, 'GET', '/'), '403 AccessDenied', `${p} over S3`);
    }
  });
});

// ---------------------------------------------------------------------------
// Around the matrix.

describe('around the matrix', () => {
  it('B reads, replaces, signs, moves and removes its own objects in every member-writes bucket', async () => {
    const b = actors.get('B-jwt')!;
    const problems: string[] = [];
    await Promise.all(
      SETUPS.filter((s) => s.memberWrites).map(async (s) => {
        const files = recordingClient(b.headers).storage.from(s.bucket);
        const key = `B-jwt.own.${s.name.replace('/', '-')}`;
        const moved = `${key}.moved`;
        await seed('B', s.bucket, key, 'mine');
        const problem = (what: string, error: unknown) => problems.push(`${s.name} ${what}: ${String(error)}`);

        const down = await files.download(key);
        if (!down.data || (await down.data.text()) !== 'mine') problem('download', down.error);
        if ((await files.exists(key)).data !== true) problem('exists', 'false');
        const signed = await files.createSignedUrl(key, 60);
        if (!signed.data || (await (await fetch(signed.data.signedUrl)).text()) !== 'mine') problem('createSignedUrl', signed.error);
        const up = await files.upload(key, Buffer.from('mine, again'), { contentType: 'text/plain', upsert: true });
        if (up.error) problem('upsert', up.error);
        const now = await stored(s.bucket, key);
        if (now?.body !== 'mine, again' || now.owner !== B) problem('after the upsert', describeStored(now));
        const move = await files.move(key, moved);
        if (move.error) problem('move', move.error);
        if (await stored(s.bucket, key)) problem('move', 'the source is still there');
        const removed = await files.remove([moved]);
        if (JSON.stringify(removed.data?.map((o) => o.name)) !== JSON.stringify([moved])) problem('remove', removed.error ?? JSON.stringify(removed.data));
        if (await stored(s.bucket, moved)) problem('remove', 'still there');
      }),
    );
    assert.deepEqual(problems, []);
  });

  it('createSignedUrls in a private member-writes bucket: B’s own object signed, A’s and a missing one refused alike', async () => {
    const s = SETUPS.find((x) => x.policy === 'private' && x.memberWrites)!;
    const files = recordingClient(actors.get('B-jwt')!.headers).storage.from(s.bucket);
    const batch = await files.createSignedUrls([SEED.B, SEED.A, 'no-such-key'], 60);
    assert.equal(batch.error, null, String(batch.error));
    const [own, theirs, missing] = batch.data!;
    assert.equal(await (await fetch(own.signedUrl!)).text(), `seed of B in ${s.name}`);
    assert.equal(theirs.signedUrl, null);
    assert.deepEqual({ ...theirs, path: '' }, { ...missing, path: '' }, 'an object B may not read looks like one that is not there');
  });

  it('a member’s signed upload URL with upsert cannot replace A’s object: refused when redeemed, and nothing changes', async () => {
    for (const s of SETUPS.filter((x) => x.memberWrites)) {
      const key = `B-jwt.signed-upsert.${s.name.replace('/', '-')}`;
      await seed('A', s.bucket, key, 'A’s');
      const c = recordingClient(actors.get('B-jwt')!.headers);
      // Signing needs write permission on the bucket, which member writes grant.
      const signed = await c.storage.from(s.bucket).createSignedUploadUrl(key, { upsert: true });
      assert.equal(signed.error, null, `${s.name}: ${String(signed.error)}`);
      await new StorageClient(api, {}, c.fetch).from(s.bucket).uploadToSignedUrl(key, signed.data!.token, Buffer.from('B’s'), { contentType: 'text/plain' });
      assert.equal(c.last(), '403 ACCESS_DENIED', s.name);
      assert.deepEqual(await stored(s.bucket, key), { body: 'A’s', owner: A }, s.name);
    }
  });

  // A member that may create keys learns that a name is taken when it tries
  // to write it: that much no answer can hide. What holds is that the answer
  // is ACCESS_DENIED on both APIs (A, who may see the object, gets 409
  // DUPLICATE) and that A's object is untouched.
  it('a member’s write onto a key of A’s it cannot see is refused alike on both APIs, and changes nothing', async () => {
    const s = SETUPS.find((x) => x.policy === 'private' && x.memberWrites)!;
    const b = actors.get('B-jwt')!;
    const key = 'B-jwt.onto-hidden';
    await Promise.all([seed('A', s.bucket, key, 'A’s'), seed('B', s.bucket, `${key}.source`, 'B’s')]);
    const c = recordingClient(b.headers);
    const files = c.storage.from(s.bucket);
    const answers: Record<string, string> = {};
    await files.upload(key, Buffer.from('B’s'), { contentType: 'text/plain' });
    answers.upload = c.last();
    await files.copy(`${key}.source`, key);
    answers.copy = c.last();
    await files.move(`${key}.source`, key);
    answers.move = c.last();
    answers.s3 = await overS3(b, 'PUT', `/${s.bucket}/${key}`, {}, 'B’s');
    answers['s3 If-None-Match'] = await overS3(b, 'PUT', `/${s.bucket}/${key}`, { 'if-none-match': '*' }, 'B’s');
    assert.deepEqual(answers, {
      upload: '403 ACCESS_DENIED',
      copy: '403 ACCESS_DENIED',
      move: '403 ACCESS_DENIED',
      s3: '403 AccessDenied',
      's3 If-None-Match': '403 AccessDenied',
    });
    assert.deepEqual(await stored(s.bucket, key), { body: 'A’s', owner: A });
    assert.deepEqual(await stored(s.bucket, `${key}.source`), { body: 'B’s', owner: B }, 'the refused move left its source');
  });

  it('anonymous list() of a public bucket needs public_list, on both APIs', async () => {
    for (const p of ['anonymous', 'anon-jwt'] as const) {
      const actor = actors.get(p)!;
      const list = async () => {
        const c = recordingClient(actor.headers);
        const r = await c.storage.from(PUBLIC_LIST_BUCKET).list();
        return { v1: c.last(), names: r.data?.map((e) => e.name), s3: await overS3(actor, 'GET', `/${PUBLIC_LIST_BUCKET}?list-type=2`) };
      };
      assert.deepEqual(await list(), { v1: '403 ACCESS_DENIED', names: undefined, s3: '403 AccessDenied' }, p);
      await setBucketSettings(root, PUBLIC_LIST_BUCKET, { public_list: true });
      assert.deepEqual(await list(), { v1: '200', names: ['listed'], s3: '200' }, p);
      await setBucketSettings(root, PUBLIC_LIST_BUCKET, { public_list: false });
    }
  });
});

// ---------------------------------------------------------------------------
// Object ACLs (migration 0021) under /storage/v1: its reads go through the
// same row-level security as S3's, so an object's own list grants there too;
// only the public URL keeps Supabase's meaning (a public bucket's objects).

describe('object ACLs, both APIs', () => {
  const KINDS = ['public-read', 'authenticated-read', 'read-to-B'] as const;
  type Kind = (typeof KINDS)[number];

  before(async () => {
    const a = actors.get('A-jwt')!;
    await Promise.all(
      SETUPS.flatMap((s) =>
        KINDS.map(async (kind) => {
          const acl: Record<string, string> = kind === 'read-to-B' ? { 'x-amz-grant-read': `id="${B}"` } : { 'x-amz-acl': kind };
          assert.equal(await overS3(a, 'PUT', `/${s.bucket}/acl.${kind}`, acl, kind), '200', `seed ${s.bucket}/acl.${kind}`);
        }),
      ),
    );
  });

  /** Whether `p` reads A's object with that list: the bucket's policy, or the list. */
  function reads(p: PrincipalName, s: Setup, kind: Kind): boolean {
    if (p === 'A-jwt' || p === 'service-jwt') return true;
    const signedIn = p === 'B-jwt';
    return s.policy === 'public' || (s.policy === 'authenticated' && signedIn) || kind === 'public-read' || signedIn;
  }

  for (const p of PRINCIPALS) {
    it(`${p}: download, info and S3 GetObject agree with the rule in every setup, for every list`, async () => {
      const actor = actors.get(p)!;
      const problems: string[] = [];
      await inGroups(
        SETUPS.flatMap((s) =>
          KINDS.map((kind) => async () => {
            const key = `acl.${kind}`;
            const want = reads(p, s, kind) ? 'ok' : 'AD';
            const [download, info, s3] = await Promise.all([
              perform(actor, s, 'download', key, '', ''),
              perform(actor, s, 'info', key, '', ''),
              overS3(actor, 'GET', `/${s.bucket}/${key}`),
            ]);
            for (const [what, wire] of [['download', download.actual], ['info', info.actual], ['S3 GetObject', s3]] as const) {
              if (verdictOf(wire) !== want) problems.push(`${s.name} ${kind} ${what}: expected ${want}, got ${wire}`);
            }
            if (want === 'ok' && download.data !== kind) problems.push(`${s.name} ${kind}: downloaded ${String(download.data)}`);
            // The public URL: a public bucket's objects, whoever asks; an ACL does not make a bucket public.
            const pub = await fetch(`${api}/object/public/${s.bucket}/${key}`, { headers: actor.headers });
            await pub.arrayBuffer();
            if ((pub.status === 200) !== (s.policy === 'public')) problems.push(`${s.name} ${kind} /object/public: ${pub.status}`);
          }),
        ),
        6,
      );
      assert.deepEqual(problems, []);
    });
  }
});
