// The access matrix, over the S3 protocol against a real server: ten
// principals × six bucket setups (policy × member writes) × nine operations.
// Every cell's answer is stated twice — as a rule (expectedAnswer) and as a
// literal table (EXPECTED_TABLE), which must agree — and each cell's effect
// on the stored objects is checked as the service role. Enforcement lives in
// src/core/access.ts and the RLS policies of migration 0009; this file is the
// promise they keep.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { assumeRoleWithWebIdentity, createAccessKey, credentialsOf, presign, setBucketSettings, userJwt } from './support/principals.ts';
import { S3RawClient, sendRaw, type Credentials, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 'rls-matrix-jwt-secret-0123456789abcdef';
const A = randomUUID();
const B = randomUUID();
/** How ListObjectsV2 names the owner of an object written by the root key (no user id): s3/ops/bucket.ts ownerXml. */
const NO_USER = 'aerostore';

// ---------------------------------------------------------------------------
// The axes.

type Policy = 'private' | 'authenticated' | 'public';

interface Setup {
  name: string; // 'private/off'
  policy: Policy;
  memberWrites: boolean;
  bucket: string;
}

const SETUPS: readonly Setup[] = (['private', 'authenticated', 'public'] as const).flatMap((policy) =>
  [false, true].map((memberWrites) => {
    const mw = memberWrites ? 'on' : 'off';
    return { name: `${policy}/${mw}`, policy, memberWrites, bucket: `rls-${policy}-${mw}` };
  }),
);

const SCRATCH = { A: 'rls-scratch-a', B: 'rls-scratch-b' } as const;
const PUBLIC_LIST_BUCKET = 'rls-public-list';
/** In every setup bucket, so that it is never empty and lists have something to show. */
const SEED = { A: 'seed-a-owned', B: 'seed-b-owned' } as const;

const OPS = ['list', 'get', 'head', 'put-new', 'overwrite-other', 'delete-other', 'copy-from', 'multipart', 'delete-bucket'] as const;
type Op = (typeof OPS)[number];

const PRINCIPALS = [
  'anonymous',
  'A-key',
  'B-key',
  'A-jwt',
  'B-jwt',
  'A-sts',
  'service',
  'A-presigned',
  'expired-presigned',
  'revoked-key',
] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

// ---------------------------------------------------------------------------
// The promise.

/**
 * ok: the operation's 2xx; AD: 403 AccessDenied; IK: 403 InvalidAccessKeyId;
 * NE: 409 BucketNotEmpty (DeleteBucket of a non-empty bucket one may delete).
 */
type Answer = 'ok' | 'AD' | 'IK' | 'NE';

/** Principals acting as user A, who owns every setup bucket. */
const A_ISH: ReadonlySet<PrincipalName> = new Set(['A-key', 'A-jwt', 'A-sts', 'A-presigned', 'expired-presigned', 'revoked-key']);
const B_ISH: ReadonlySet<PrincipalName> = new Set(['B-key', 'B-jwt']);

/** The rule. */
function expectedAnswer(p: PrincipalName, s: Setup, op: Op): Answer {
  if (p === 'expired-presigned') return 'AD';
  if (p === 'revoked-key') return 'IK';
  if (p === 'service' || A_ISH.has(p)) return op === 'delete-bucket' ? 'NE' : 'ok';
  const readsAll = s.policy !== 'private';
  if (p === 'anonymous') return (op === 'get' || op === 'head') && s.policy === 'public' ? 'ok' : 'AD';
  // B: a member of A's buckets. Member writes let B create objects and change
  // its own, never A's; reading A's objects is the bucket policy's to grant.
  const allowed: Record<Op, boolean> = {
    list: readsAll || s.memberWrites,
    get: readsAll,
    head: readsAll,
    'put-new': s.memberWrites,
    'overwrite-other': false,
    'delete-other': false,
    'copy-from': readsAll,
    multipart: s.memberWrites,
    'delete-bucket': false,
  };
  return allowed[op] ? 'ok' : 'AD';
}

/**
 * The same promise, cell by cell (columns in OPS order).
 *
 * In A's private bucket with member writes on, B sees only its own objects:
 * a key B may not read is AccessDenied whether or not it exists (get, head,
 * copy-from, delete-other), so that B cannot probe which of A's keys exist.
 */
const EXPECTED_TABLE = `
principal          setup              list get head put-new overwrite-other delete-other copy-from multipart delete-bucket
anonymous          private/off        AD   AD  AD   AD      AD              AD           AD        AD        AD
anonymous          private/on         AD   AD  AD   AD      AD              AD           AD        AD        AD
anonymous          authenticated/off  AD   AD  AD   AD      AD              AD           AD        AD        AD
anonymous          authenticated/on   AD   AD  AD   AD      AD              AD           AD        AD        AD
anonymous          public/off         AD   ok  ok   AD      AD              AD           AD        AD        AD
anonymous          public/on          AD   ok  ok   AD      AD              AD           AD        AD        AD
A-key              private/off        ok   ok  ok   ok      ok              ok           ok        ok        NE
A-key              private/on         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-key              authenticated/off  ok   ok  ok   ok      ok              ok           ok        ok        NE
A-key              authenticated/on   ok   ok  ok   ok      ok              ok           ok        ok        NE
A-key              public/off         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-key              public/on          ok   ok  ok   ok      ok              ok           ok        ok        NE
B-key              private/off        AD   AD  AD   AD      AD              AD           AD        AD        AD
B-key              private/on         ok   AD  AD   ok      AD              AD           AD        ok        AD
B-key              authenticated/off  ok   ok  ok   AD      AD              AD           ok        AD        AD
B-key              authenticated/on   ok   ok  ok   ok      AD              AD           ok        ok        AD
B-key              public/off         ok   ok  ok   AD      AD              AD           ok        AD        AD
B-key              public/on          ok   ok  ok   ok      AD              AD           ok        ok        AD
A-jwt              private/off        ok   ok  ok   ok      ok              ok           ok        ok        NE
A-jwt              private/on         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-jwt              authenticated/off  ok   ok  ok   ok      ok              ok           ok        ok        NE
A-jwt              authenticated/on   ok   ok  ok   ok      ok              ok           ok        ok        NE
A-jwt              public/off         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-jwt              public/on          ok   ok  ok   ok      ok              ok           ok        ok        NE
B-jwt              private/off        AD   AD  AD   AD      AD              AD           AD        AD        AD
B-jwt              private/on         ok   AD  AD   ok      AD              AD           AD        ok        AD
B-jwt              authenticated/off  ok   ok  ok   AD      AD              AD           ok        AD        AD
B-jwt              authenticated/on   ok   ok  ok   ok      AD              AD           ok        ok        AD
B-jwt              public/off         ok   ok  ok   AD      AD              AD           ok        AD        AD
B-jwt              public/on          ok   ok  ok   ok      AD              AD           ok        ok        AD
A-sts              private/off        ok   ok  ok   ok      ok              ok           ok        ok        NE
A-sts              private/on         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-sts              authenticated/off  ok   ok  ok   ok      ok              ok           ok        ok        NE
A-sts              authenticated/on   ok   ok  ok   ok      ok              ok           ok        ok        NE
A-sts              public/off         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-sts              public/on          ok   ok  ok   ok      ok              ok           ok        ok        NE
service            private/off        ok   ok  ok   ok      ok              ok           ok        ok        NE
service            private/on         ok   ok  ok   ok      ok              ok           ok        ok        NE
service            authenticated/off  ok   ok  ok   ok      ok              ok           ok        ok        NE
service            authenticated/on   ok   ok  ok   ok      ok              ok           ok        ok        NE
service            public/off         ok   ok  ok   ok      ok              ok           ok        ok        NE
service            public/on          ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        private/off        ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        private/on         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        authenticated/off  ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        authenticated/on   ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        public/off         ok   ok  ok   ok      ok              ok           ok        ok        NE
A-presigned        public/on          ok   ok  ok   ok      ok              ok           ok        ok        NE
expired-presigned  private/off        AD   AD  AD   AD      AD              AD           AD        AD        AD
expired-presigned  private/on         AD   AD  AD   AD      AD              AD           AD        AD        AD
expired-presigned  authenticated/off  AD   AD  AD   AD      AD              AD           AD        AD        AD
expired-presigned  authenticated/on   AD   AD  AD   AD      AD              AD           AD        AD        AD
expired-presigned  public/off         AD   AD  AD   AD      AD              AD           AD        AD        AD
expired-presigned  public/on          AD   AD  AD   AD      AD              AD           AD        AD        AD
revoked-key        private/off        IK   IK  IK   IK      IK              IK           IK        IK        IK
revoked-key        private/on         IK   IK  IK   IK      IK              IK           IK        IK        IK
revoked-key        authenticated/off  IK   IK  IK   IK      IK              IK           IK        IK        IK
revoked-key        authenticated/on   IK   IK  IK   IK      IK              IK           IK        IK        IK
revoked-key        public/off         IK   IK  IK   IK      IK              IK           IK        IK        IK
revoked-key        public/on          IK   IK  IK   IK      IK              IK           IK        IK        IK
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

const SUCCESS: Record<Op, string> = {
  list: '200',
  get: '200',
  head: '200',
  'put-new': '200',
  'overwrite-other': '200',
  'delete-other': '204',
  'copy-from': '200',
  multipart: '200',
  'delete-bucket': '409 BucketNotEmpty',
};

/** An answer as it appears on the wire: status and S3 error code (HEAD answers have no body). */
function wireOf(answer: Answer, op: Op): string {
  switch (answer) {
    case 'ok':
      return SUCCESS[op];
    case 'NE':
      return '409 BucketNotEmpty';
    case 'AD':
      return op === 'head' ? '403' : '403 AccessDenied';
    case 'IK':
      return op === 'head' ? '403' : '403 InvalidAccessKeyId';
  }
}

function describeResponse(res: RawResponse, method: string): string {
  const code = method === 'HEAD' ? undefined : errorCode(res.body);
  return code ? `${res.status} ${code}` : String(res.status);
}

// ---------------------------------------------------------------------------
// The server, the users and their credentials.

let srv: TestServer;
let base: URL;
let root: S3RawClient;
/** Service-role keys bound to A and B: they pass RLS and record A or B as the owner. */
let seeder: Record<'A' | 'B', S3RawClient>;
const actors = new Map<PrincipalName, Actor>();

interface Request {
  method: string;
  /** Percent-encoded path, without the query. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

interface Actor {
  name: PrincipalName;
  /** The owner a write by this principal records, as ListObjectsV2 shows it. */
  owner: string;
  /** Whose object is "the other user's" for this principal. */
  other: 'A' | 'B';
  /** The bucket CopyObject writes into. */
  scratch: string;
  send(req: Request): Promise<RawResponse>;
}

function withQuery(path: string, query: Record<string, string> = {}): string {
  const q = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

function bodyHeaders(req: Request): Record<string, string> {
  return req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) };
}

/** Plain HTTP, no SigV4: anonymous, or with a bearer token. */
function unsigned(extra: Record<string, string> = {}) {
  return (req: Request) =>
    sendRaw(base, req.method, withQuery(req.path, req.query), { host: base.host, ...extra, ...req.headers, ...bodyHeaders(req) }, req.body);
}

/** SigV4 in the Authorization header; `extra` headers (x-amz-security-token) are signed too. */
function signed(creds: Credentials, extra: Record<string, string> = {}) {
  const client = new S3RawClient(srv.url, creds);
  return (req: Request) => client.send({ ...req, headers: { ...extra, ...req.headers, ...bodyHeaders(req) } });
}

/** A presigned URL per request; x-amz-* headers are signed and stay headers. */
function presigned(creds: Credentials, opts: { expiresIn: number; signingDate?: Date }) {
  return async (req: Request) => {
    const amz = Object.fromEntries(Object.entries(req.headers ?? {}).filter(([h]) => h.startsWith('x-amz-')));
    const other = Object.fromEntries(Object.entries(req.headers ?? {}).filter(([h]) => !h.startsWith('x-amz-')));
    const url = await presign(srv.url, creds, { method: req.method, path: req.path, query: req.query, headers: amz }, opts);
    return sendRaw(base, req.method, url.path, { ...url.headers, ...other, ...bodyHeaders(req) }, req.body);
  };
}

const createKey = (userId: string, role: 'authenticated' | 'service', name: string) => createAccessKey(root, userId, role, name);

async function expectStatus(res: Promise<RawResponse>, status: number, what: string): Promise<RawResponse> {
  const r = await res;
  assert.equal(r.status, status, `${what}: ${r.status} ${r.body.toString()}`);
  return r;
}

const patchBucket = (name: string, settings: Record<string, unknown>) => setBucketSettings(root, name, settings);

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  base = new URL(srv.url);
  root = new S3RawClient(srv.url, srv);

  const [aKey, bKey, aService, bService, revoked] = await Promise.all([
    createKey(A, 'authenticated', 'A'),
    createKey(B, 'authenticated', 'B'),
    createKey(A, 'service', 'A seeder'),
    createKey(B, 'service', 'B seeder'),
    createKey(A, 'authenticated', 'A, revoked'),
  ]);
  seeder = { A: new S3RawClient(srv.url, credentialsOf(aService)), B: new S3RawClient(srv.url, credentialsOf(bService)) };
  const [aJwt, bJwt] = await Promise.all([userJwt(JWT_SECRET, A), userJwt(JWT_SECRET, B)]);
  const aSts = await assumeRoleWithWebIdentity(srv.url, aJwt);

  // The revoked key worked (and is cached) before it was revoked.
  await expectStatus(signed(credentialsOf(revoked))({ method: 'GET', path: '/' }), 200, 'ListBuckets with the key to revoke');
  await expectStatus(root.send({ method: 'DELETE', path: `/admin/v1/keys/${revoked.id}` }), 204, 'revoke');

  const asA = { owner: A, other: 'B', scratch: SCRATCH.A } as const;
  const asB = { owner: B, other: 'A', scratch: SCRATCH.B } as const;
  const all: Actor[] = [
    { name: 'anonymous', owner: '-', other: 'A', scratch: SCRATCH.A, send: unsigned() },
    { name: 'A-key', ...asA, send: signed(credentialsOf(aKey)) },
    { name: 'B-key', ...asB, send: signed(credentialsOf(bKey)) },
    { name: 'A-jwt', ...asA, send: unsigned({ authorization: `Bearer ${aJwt}` }) },
    { name: 'B-jwt', ...asB, send: unsigned({ authorization: `Bearer ${bJwt}` }) },
    { name: 'A-sts', ...asA, send: signed(aSts, { 'x-amz-security-token': aSts.sessionToken }) },
    { name: 'service', owner: NO_USER, other: 'B', scratch: SCRATCH.A, send: signed(srv) },
    { name: 'A-presigned', ...asA, send: presigned(credentialsOf(aKey), { expiresIn: 300 }) },
    {
      name: 'expired-presigned',
      ...asA,
      send: presigned(credentialsOf(aKey), { expiresIn: 1, signingDate: new Date(Date.now() - 3600_000) }),
    },
    { name: 'revoked-key', ...asA, send: signed(credentialsOf(revoked)) },
  ];
  for (const actor of all) actors.set(actor.name, actor);

  // A owns every setup bucket (and its scratch bucket); B owns its scratch bucket.
  const aClient = signed(credentialsOf(aKey));
  const bClient = signed(credentialsOf(bKey));
  await Promise.all([
    ...[...SETUPS.map((s) => s.bucket), SCRATCH.A, PUBLIC_LIST_BUCKET].map((b) => expectStatus(aClient({ method: 'PUT', path: `/${b}` }), 200, `create ${b}`)),
    expectStatus(bClient({ method: 'PUT', path: `/${SCRATCH.B}` }), 200, `create ${SCRATCH.B}`),
  ]);
  await Promise.all(SETUPS.map((s) => patchBucket(s.bucket, { policy: s.policy, member_writes: s.memberWrites })));
  await patchBucket(PUBLIC_LIST_BUCKET, { policy: 'public' });
  await Promise.all(
    SETUPS.flatMap((s) => (['A', 'B'] as const).map((u) => seed(u, s.bucket, SEED[u], `seed of ${u} in ${s.name}`))),
  );
  await seed('A', PUBLIC_LIST_BUCKET, 'listed', 'listed');
});

after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(srv?.log());
  await srv?.stop();
});

async function seed(owner: 'A' | 'B', bucket: string, key: string, body: string): Promise<void> {
  await expectStatus(seeder[owner].send({ method: 'PUT', path: `/${bucket}/${key}`, body }), 200, `seed ${bucket}/${key}`);
}

// ---------------------------------------------------------------------------
// What the service role sees: the state each cell leaves behind.

interface Listed {
  key: string;
  owner: string | undefined;
}

function listedObjects(xml: string): Listed[] {
  return [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => ({ key: xmlValue(m[1], 'Key') ?? '', owner: xmlValue(m[1], 'ID') }));
}

/** The object as the service role reads it: bytes and owner, or undefined when it is gone. */
async function stored(bucket: string, key: string): Promise<{ body: string; owner: string | undefined } | undefined> {
  const [got, list] = await Promise.all([
    root.send({ method: 'GET', path: `/${bucket}/${key}` }),
    root.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: key, 'fetch-owner': 'true' } }),
  ]);
  if (got.status === 404) return undefined;
  assert.equal(got.status, 200, `service GET ${bucket}/${key}: ${got.body.toString()}`);
  assert.equal(list.status, 200, list.body.toString());
  return { body: got.body.toString(), owner: listedObjects(list.body.toString()).find((o) => o.key === key)?.owner };
}

const ownerName = (id: string | undefined) => (id === A ? 'A' : id === B ? 'B' : id);

// ---------------------------------------------------------------------------
// One cell: its request, its answer, and the state it leaves.

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
  const notes: string[] = [];
  const send = async (req: Request) => {
    const res = await actor.send(req);
    // Refused for having expired, not for some other flaw in the URL.
    if (actor.name === 'expired-presigned' && req.method !== 'HEAD' && !/<Message>Request has expired<\/Message>/.test(res.body.toString())) {
      notes.push(`not refused as expired: ${res.body.toString().slice(0, 200)}`);
    }
    return { res, request: `${req.method} ${withQuery(req.path, req.query)}`, actual: describeResponse(res, req.method) };
  };
  const needsVictim: readonly Op[] = ['get', 'head', 'overwrite-other', 'delete-other', 'copy-from'];
  if (needsVictim.includes(op)) await seed(actor.other, bucket, victim, victimBody);
  const unchanged = async (what: string) => {
    const now = await stored(bucket, victim);
    if (!now) notes.push(`${what}, yet the other user's object is gone`);
    else if (now.body !== victimBody || now.owner !== otherId) {
      notes.push(`${what}, yet the object changed: ${JSON.stringify(now.body)} owned by ${ownerName(now.owner)}`);
    }
  };

  switch (op) {
    case 'list': {
      const r = await send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', 'fetch-owner': 'true' } });
      if (r.res.status === 200) {
        const listed = listedObjects(r.res.body.toString());
        const keys = new Set(listed.map((o) => o.key));
        // B reads A's objects only through the bucket policy; member writes
        // alone let it list, and RLS then shows it its own objects.
        const onlyOwn = B_ISH.has(actor.name) && s.policy === 'private';
        if (!keys.has(SEED.B)) notes.push(`the listing lacks ${SEED.B}`);
        if (onlyOwn) {
          if (keys.has(SEED.A)) notes.push(`the listing shows A's ${SEED.A}`);
          const foreign = listed.filter((o) => o.owner !== actor.owner);
          if (foreign.length) notes.push(`the listing shows objects B does not own: ${foreign.map((o) => `${o.key} (${ownerName(o.owner)})`).join(', ')}`);
        } else if (!keys.has(SEED.A)) {
          notes.push(`the listing lacks ${SEED.A}`);
        }
      }
      return { request: r.request, actual: r.actual, notes };
    }
    case 'get': {
      const r = await send({ method: 'GET', path: `/${bucket}/${victim}` });
      if (r.res.status === 200 && r.res.body.toString() !== victimBody) notes.push(`GET answered other bytes: ${JSON.stringify(r.res.body.toString())}`);
      return { request: r.request, actual: r.actual, notes };
    }
    case 'head': {
      const r = await send({ method: 'HEAD', path: `/${bucket}/${victim}` });
      return { request: r.request, actual: r.actual, notes };
    }
    case 'put-new': {
      const key = `${slug}.new`;
      const body = `new by ${slug}`;
      const r = await send({ method: 'PUT', path: `/${bucket}/${key}`, body });
      const now = await stored(bucket, key);
      if (r.res.status === 200) {
        if (!now || now.body !== body || now.owner !== actor.owner) notes.push(`PUT answered 200, but stored: ${JSON.stringify(now && { ...now, owner: ownerName(now.owner) })}`);
      } else if (now) {
        notes.push(`PUT refused, yet ${key} exists`);
      }
      return { request: r.request, actual: r.actual, notes };
    }
    case 'overwrite-other': {
      const body = `overwritten by ${slug}`;
      const r = await send({ method: 'PUT', path: `/${bucket}/${victim}`, body });
      if (r.res.status === 200) {
        const now = await stored(bucket, victim);
        if (!now || now.body !== body || now.owner !== actor.owner) {
          notes.push(`PUT answered 200, but stored: ${JSON.stringify(now && { ...now, owner: ownerName(now.owner) })}`);
        }
      } else {
        await unchanged('PUT refused');
      }
      return { request: r.request, actual: r.actual, notes };
    }
    case 'delete-other': {
      const r = await send({ method: 'DELETE', path: `/${bucket}/${victim}` });
      if (r.res.status === 204) {
        if (await stored(bucket, victim)) notes.push('DELETE answered 204, but the object is still there');
      } else {
        await unchanged('DELETE refused');
      }
      return { request: r.request, actual: r.actual, notes };
    }
    case 'copy-from': {
      const key = `${slug}.copy`;
      const r = await send({ method: 'PUT', path: `/${actor.scratch}/${key}`, headers: { 'x-amz-copy-source': `/${bucket}/${victim}` } });
      const copy = await stored(actor.scratch, key);
      if (r.res.status === 200) {
        if (!copy || copy.body !== victimBody || copy.owner !== actor.owner) {
          notes.push(`CopyObject answered 200, but stored: ${JSON.stringify(copy && { ...copy, owner: ownerName(copy.owner) })}`);
        }
      } else if (copy) {
        notes.push(`CopyObject refused, yet ${actor.scratch}/${key} exists`);
      }
      return { request: `${r.request} (x-amz-copy-source: /${bucket}/${victim})`, actual: r.actual, notes };
    }
    case 'multipart': {
      const key = `${slug}.mp`;
      const path = `/${bucket}/${key}`;
      const body = `one part by ${slug}`;
      const created = await send({ method: 'POST', path, query: { uploads: '' } });
      if (created.res.status !== 200) return { request: `${created.request} (CreateMultipartUpload)`, actual: created.actual, notes };
      const uploadId = xmlValue(created.res.body.toString(), 'UploadId') ?? '';
      const part = await send({ method: 'PUT', path, query: { partNumber: '1', uploadId }, body });
      if (part.res.status !== 200) return { request: `${part.request} (UploadPart)`, actual: part.actual, notes };
      const xml =
        '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Part><PartNumber>1</PartNumber><ETag>${String(part.res.headers.etag)}</ETag></Part></CompleteMultipartUpload>`;
      const done = await send({ method: 'POST', path, query: { uploadId }, headers: { 'content-type': 'application/xml' }, body: xml });
      // CompleteMultipartUpload may fail after its 200 status line, in the body.
      const embedded = done.res.status === 200 ? errorCode(done.res.body) : undefined;
      const actual = embedded ? `200 ${embedded}` : done.actual;
      if (actual === '200') {
        const now = await stored(bucket, key);
        if (!now || now.body !== body || now.owner !== actor.owner) notes.push(`completed, but stored: ${JSON.stringify(now && { ...now, owner: ownerName(now.owner) })}`);
      }
      return { request: `${done.request} (CompleteMultipartUpload)`, actual, notes };
    }
    case 'delete-bucket': {
      const r = await send({ method: 'DELETE', path: `/${bucket}` });
      const still = await root.send({ method: 'HEAD', path: `/${bucket}` });
      if (still.status !== 200) notes.push(`the bucket is gone (HEAD ${still.status})`);
      return { request: r.request, actual: r.actual, notes };
    }
  }
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
      return c.actual === wireOf(c.expected, op) ? c.expected : `[${c.actual}]`;
    }),
  ]);
  const header = TABLE_LINES[0].trim().split(/\s+/);
  const widths = header.map((h, i) => Math.max(h.length, ...grid.map((r) => r[i].length)));
  return [header, ...grid].map((r) => r.map((v, i) => v.padEnd(widths[i])).join(' ').trimEnd()).join('\n');
}

describe('RLS matrix: principals × bucket setups × operations (S3)', () => {
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
        .filter((c) => c.actual !== wireOf(c.expected, c.op) || c.notes.length > 0)
        .map((c) => ({
          cell: `${p} × ${c.s.name} × ${c.op}`,
          request: c.request,
          expected: wireOf(c.expected, c.op),
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

describe('around the matrix', () => {
  it('an anonymous ListObjectsV2 of a public bucket needs public_list', async () => {
    const anon = actors.get('anonymous')!;
    const list = () => anon.send({ method: 'GET', path: `/${PUBLIC_LIST_BUCKET}`, query: { 'list-type': '2' } });
    const refused = await list();
    assert.equal(refused.status, 403, refused.body.toString());
    assert.equal(errorCode(refused.body), 'AccessDenied');
    // The objects themselves are readable all along.
    assert.equal((await anon.send({ method: 'GET', path: `/${PUBLIC_LIST_BUCKET}/listed` })).status, 200);

    await patchBucket(PUBLIC_LIST_BUCKET, { public_list: true });
    const listed = await list();
    assert.equal(listed.status, 200, listed.body.toString());
    assert.deepEqual(xmlValues(listed.body.toString(), 'Key'), ['listed']);

    await patchBucket(PUBLIC_LIST_BUCKET, { public_list: false });
    assert.equal((await list()).status, 403, 'public_list off again: refused again');
  });

  // The object-owner half of the member-writes policies (migration 0009:
  // objects.owner_id, not the bucket's, inside the sub-select on buckets).
  for (const p of ['B-key', 'B-jwt'] as const) {
    it(`${p} reads, overwrites and deletes its own objects in every member-writes bucket`, async () => {
      const b = actors.get(p)!;
      const problems: string[] = [];
      await Promise.all(
        SETUPS.filter((s) => s.memberWrites).map(async (s) => {
          const key = `${p}.own.${s.name.replace('/', '-')}`;
          const path = `/${s.bucket}/${key}`;
          await seed('B', s.bucket, key, 'mine');
          const check = (what: string, res: RawResponse, status: number, body?: string) => {
            if (res.status !== status || (body !== undefined && res.body.toString() !== body)) {
              problems.push(`${s.name} ${what}: expected ${status}, got ${describeResponse(res, what.split(' ')[0])} ${res.body.toString().slice(0, 80)}`);
            }
          };
          check('GET', await b.send({ method: 'GET', path }), 200, 'mine');
          check('HEAD', await b.send({ method: 'HEAD', path }), 200);
          check('PUT (overwrite own)', await b.send({ method: 'PUT', path, body: 'mine, again' }), 200);
          const now = await stored(s.bucket, key);
          if (now?.body !== 'mine, again' || now.owner !== B) problems.push(`${s.name}: after the overwrite: ${JSON.stringify(now)}`);
          check('DELETE', await b.send({ method: 'DELETE', path }), 204);
          if (await stored(s.bucket, key)) problems.push(`${s.name}: still there after DELETE`);
        }),
      );
      assert.deepEqual(problems, []);
    });
  }

  it('ListBuckets: refused to anonymous; B sees what it may see; the service role sees all', async () => {
    const names = async (p: PrincipalName) => {
      const res = await actors.get(p)!.send({ method: 'GET', path: '/' });
      assert.equal(res.status, 200, `${p}: ${res.body.toString()}`);
      return xmlValues(res.body.toString(), 'Name').sort();
    };
    const anon = await actors.get('anonymous')!.send({ method: 'GET', path: '/' });
    assert.equal(anon.status, 403, anon.body.toString());
    assert.equal(errorCode(anon.body), 'AccessDenied');

    const every = [...SETUPS.map((s) => s.bucket), SCRATCH.A, SCRATCH.B, PUBLIC_LIST_BUCKET].sort();
    // Everything but A's private bucket without member writes and A's private scratch bucket.
    const forB = [...SETUPS.filter((s) => s.policy !== 'private' || s.memberWrites).map((s) => s.bucket), SCRATCH.B, PUBLIC_LIST_BUCKET].sort();
    assert.deepEqual(await names('B-key'), forB);
    assert.deepEqual(await names('B-jwt'), forB);
    assert.deepEqual(await names('A-key'), every.filter((b) => b !== SCRATCH.B));
    assert.deepEqual(await names('service'), every);
  });
});

// ---------------------------------------------------------------------------
// Object ACLs (migration 0021): every setup × five object lists × the
// principals that read, each cell's GET and GetObjectAcl. The rule, then the
// literal table for A's private bucket (in every other setup the bucket's
// read policy adds readers, never removes any, and the rule states it).

const ACL_KINDS = ['none', 'public-read', 'authenticated-read', 'read-to-B', 'read-acp-to-B'] as const;
type AclKind = (typeof ACL_KINDS)[number];
const ACL_HEADERS: Record<AclKind, () => Record<string, string>> = {
  none: () => ({}),
  'public-read': () => ({ 'x-amz-acl': 'public-read' }),
  'authenticated-read': () => ({ 'x-amz-acl': 'authenticated-read' }),
  'read-to-B': () => ({ 'x-amz-grant-read': `id="${B}"` }),
  'read-acp-to-B': () => ({ 'x-amz-grant-read-acp': `id="${B}"` }),
};
const ACL_READERS = ['anonymous', 'B-key', 'B-jwt', 'A-sts', 'service'] as const;
type AclReader = (typeof ACL_READERS)[number];

/** GET and GET ?acl of A's object with that list, for that reader: 'ok' or 'AD'. */
function expectedAclAnswers(p: AclReader, s: Setup, kind: AclKind): [Answer, Answer] {
  if (p === 'A-sts' || p === 'service') return ['ok', 'ok'];
  const signedIn = p !== 'anonymous';
  const byBucket = s.policy === 'public' || (s.policy === 'authenticated' && signedIn);
  const byAcl = kind === 'public-read' || (kind === 'authenticated-read' && signedIn) || (kind === 'read-to-B' && signedIn);
  const readsAcl = kind === 'read-acp-to-B' && signedIn;
  return [byBucket || byAcl ? 'ok' : 'AD', readsAcl ? 'ok' : 'AD'];
}

const ACL_TABLE = `
reader     none   public-read authenticated-read read-to-B read-acp-to-B
anonymous  AD/AD  ok/AD       AD/AD              AD/AD     AD/AD
B-key      AD/AD  ok/AD       ok/AD              ok/AD     AD/ok
B-jwt      AD/AD  ok/AD       ok/AD              ok/AD     AD/ok
A-sts      ok/ok  ok/ok       ok/ok              ok/ok     ok/ok
service    ok/ok  ok/ok       ok/ok              ok/ok     ok/ok
`;

describe('RLS matrix: object ACLs × bucket setups × readers (GetObject / GetObjectAcl)', () => {
  before(async () => {
    await Promise.all(
      SETUPS.flatMap((s) =>
        ACL_KINDS.map((kind) =>
          expectStatus(seeder.A.send({ method: 'PUT', path: `/${s.bucket}/acl.${kind}`, headers: ACL_HEADERS[kind](), body: kind }), 200, `seed ${kind}`),
        ),
      ),
    );
  });

  it('the literal table is the rule in the private bucket', () => {
    const lines = ACL_TABLE.trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.deepEqual(lines[0], ['reader', ...ACL_KINDS]);
    const privateOff = SETUPS.find((s) => s.name === 'private/off')!;
    for (const [reader, ...cells] of lines.slice(1)) {
      assert.deepEqual(cells, ACL_KINDS.map((k) => expectedAclAnswers(reader as AclReader, privateOff, k).join('/')), reader);
    }
  });

  for (const p of ACL_READERS) {
    it(`${p}: every setup, every list`, async () => {
      const actor = actors.get(p)!;
      const problems: string[] = [];
      await Promise.all(
        SETUPS.flatMap((s) =>
          ACL_KINDS.map(async (kind) => {
            const path = `/${s.bucket}/acl.${kind}`;
            const [get, acl] = await Promise.all([actor.send({ method: 'GET', path }), actor.send({ method: 'GET', path, query: { acl: '' } })]);
            const [wantGet, wantAcl] = expectedAclAnswers(p, s, kind);
            const got = describeResponse(get, 'GET');
            const gotAcl = describeResponse(acl, 'GET');
            if (got !== wireOf(wantGet, 'get')) problems.push(`${s.name} ${kind} GET: expected ${wireOf(wantGet, 'get')}, got ${got}`);
            if (got === '200' && get.body.toString() !== kind) problems.push(`${s.name} ${kind} GET: wrong body`);
            if (gotAcl !== wireOf(wantAcl, 'get')) problems.push(`${s.name} ${kind} GET ?acl: expected ${wireOf(wantAcl, 'get')}, got ${gotAcl}`);
          }),
        ),
      );
      assert.deepEqual(problems, []);
    });
  }

  it('B writing into A’s buckets: a list naming a group only where the bucket grants that group already', async () => {
    const b = actors.get('B-key')!;
    const problems: string[] = [];
    await Promise.all(
      SETUPS.flatMap((s) =>
        (['public-read', 'authenticated-read', 'read-to-B'] as const).map(async (kind) => {
          const headers = kind === 'read-to-B' ? { 'x-amz-grant-read': `id="${A}"` } : ACL_HEADERS[kind]();
          const res = await b.send({ method: 'PUT', path: `/${s.bucket}/b-acl.${kind}`, headers, body: 'b' });
          const mayGive = kind === 'public-read' ? s.policy === 'public' : kind === 'authenticated-read' ? s.policy !== 'private' : true;
          const want = s.memberWrites && mayGive ? '200' : '403 AccessDenied';
          if (describeResponse(res, 'PUT') !== want) problems.push(`${s.name} ${kind}: expected ${want}, got ${describeResponse(res, 'PUT')}`);
        }),
      ),
    );
    assert.deepEqual(problems, []);
  });
});
