// S3 ACLs against a real server (issue 17 §4; migration 0021): canned ACLs on
// buckets and objects, every grant header, AccessControlPolicy documents,
// e-mail and unknown grantees, Object Ownership, and who sees what — as the
// owner A, a member B (access key and JWT), a third user C and an anonymous
// client with no credentials at all (a browser, curl). Row-level security
// enforces every read here; test/rls-sql.test.ts checks that SQL sessions
// see the same.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAccessKey, credentialsOf, setBucketSettings, userJwt } from './support/principals.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { S3RawClient, sendRaw, type RawRequest, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 's3-acl-jwt-secret-0123456789abcdef';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
const A = randomUUID();
const B = randomUUID();
const C = randomUUID();

let server: TestServer;
let base: URL;
let root: S3RawClient;
let a: S3RawClient;
let b: S3RawClient;
let c: S3RawClient;
let bJwt: string;

before(async () => {
  server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  base = new URL(server.url);
  root = new S3RawClient(server.url, server);
  const [ka, kb, kc] = await Promise.all([A, B, C].map((u) => createAccessKey(root, u)));
  a = new S3RawClient(server.url, credentialsOf(ka));
  b = new S3RawClient(server.url, credentialsOf(kb));
  c = new S3RawClient(server.url, credentialsOf(kc));
  bJwt = await userJwt(JWT_SECRET, B);
});
after(() => server?.stop());

/** No credentials at all, as curl or a browser sends it. */
function anonymous(method: string, path: string, body?: string): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, body);
}

/** B with its JWT (a bearer token, no SigV4). */
function bearer(method: string, path: string, token = bJwt): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host, authorization: `Bearer ${token}` });
}

async function ok(p: Promise<RawResponse>, what = ''): Promise<RawResponse> {
  const res = await p;
  assert.ok(res.status >= 200 && res.status < 300, `${what} ${res.status} ${res.body}`);
  return res;
}

function refused(res: RawResponse, status: number, code: string | undefined, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body}`);
  if (code) assert.equal(errorCode(res.body), code, `${what}: ${res.body}`);
}

const put = (client: S3RawClient, path: string, headers: Record<string, string> = {}, body = 'x'): Promise<RawResponse> =>
  client.send({ method: 'PUT', path, headers, body });

const getAcl = (client: S3RawClient, path: string): Promise<RawResponse> => client.send({ method: 'GET', path, query: { acl: '' } });
const putAcl = (client: S3RawClient, path: string, req: Omit<RawRequest, 'method' | 'path'>): Promise<RawResponse> =>
  client.send({ method: 'PUT', path, query: { acl: '' }, ...req });

/** The grants of an AccessControlPolicy as `grantee PERMISSION` lines (a group by its last path segment), in order. */
function grantsOf(xml: string): string[] {
  return [...xml.matchAll(/<Grant><Grantee[^>]*>(.*?)<\/Grantee><Permission>([A-Z_]+)<\/Permission><\/Grant>/g)].map(([, grantee, permission]) => {
    const id = /<ID>([^<]+)<\/ID>/.exec(grantee)?.[1];
    const uri = /<URI>([^<]+)<\/URI>/.exec(grantee)?.[1];
    return `${id ?? uri?.split('/').pop()} ${permission}`;
  });
}

async function aclOf(client: S3RawClient, path: string): Promise<{ owner: string | undefined; grants: string[]; xml: string }> {
  const res = await ok(getAcl(client, path), `GET ${path}?acl`);
  const xml = res.body.toString();
  return { owner: xmlValue(/<Owner>.*?<\/Owner>/s.exec(xml)?.[0] ?? '', 'ID'), grants: grantsOf(xml), xml };
}

function acp(owner: string, grants: string): string {
  return `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${owner}</ID></Owner><AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`;
}
const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const userGrant = (id: string, permission: string) =>
  `<Grant><Grantee ${XSI} xsi:type="CanonicalUser"><ID>${id}</ID></Grantee><Permission>${permission}</Permission></Grant>`;
const groupGrant = (uri: string, permission: string) => `<Grant><Grantee ${XSI} xsi:type="Group"><URI>${uri}</URI></Grantee><Permission>${permission}</Permission></Grant>`;
const emailGrant = (email: string, permission: string) =>
  `<Grant><Grantee ${XSI} xsi:type="AmazonCustomerByEmail"><EmailAddress>${email}</EmailAddress></Grantee><Permission>${permission}</Permission></Grant>`;

/** Who may GET `path`: anonymous, B by key, B by JWT, C by key. */
async function readers(path: string): Promise<string> {
  const [anon, bKey, bBearer, cKey] = await Promise.all([
    anonymous('GET', path),
    b.send({ method: 'GET', path }),
    bearer('GET', path),
    c.send({ method: 'GET', path }),
  ]);
  return [anon.status === 200 ? 'anon' : '', bKey.status === 200 ? 'B' : '', bBearer.status === 200 ? 'B-jwt' : '', cKey.status === 200 ? 'C' : '']
    .filter(Boolean)
    .join(' ');
}

describe('canned ACLs on objects, in a private bucket', () => {
  before(async () => {
    await ok(put(a, '/objects-private', {}, ''));
  });

  // canned ACL → who reads it besides its owner, and the grants GetObjectAcl reports
  const CASES: Array<[string, string, (owner: string) => string[]]> = [
    ['private', '', (o) => [`${o} FULL_CONTROL`]],
    ['public-read', 'anon B B-jwt C', (o) => [`${o} FULL_CONTROL`, 'AllUsers READ']],
    ['public-read-write', 'anon B B-jwt C', (o) => [`${o} FULL_CONTROL`, 'AllUsers READ', 'AllUsers WRITE']],
    ['authenticated-read', 'B B-jwt C', (o) => [`${o} FULL_CONTROL`, 'AuthenticatedUsers READ']],
    ['aws-exec-read', '', (o) => [`${o} FULL_CONTROL`]],
    // A owns the bucket and writes the object: the bucket owner is named once.
    ['bucket-owner-read', '', (o) => [`${o} FULL_CONTROL`]],
    ['bucket-owner-full-control', '', (o) => [`${o} FULL_CONTROL`]],
    ['log-delivery-write', '', (o) => [`${o} FULL_CONTROL`, 'LogDelivery WRITE', 'LogDelivery READ_ACP']],
  ];
  for (const [canned, expectedReaders, expectedGrants] of CASES) {
    it(`x-amz-acl: ${canned} on PutObject`, async () => {
      const path = `/objects-private/${canned}`;
      await ok(put(a, path, { 'x-amz-acl': canned }));
      assert.equal(await readers(path), expectedReaders);
      const acl = await aclOf(a, path);
      assert.equal(acl.owner, A);
      assert.deepEqual(acl.grants, expectedGrants(A));
    });
  }

  it('a public-read object is served to curl; its neighbours, the listing and the bucket stay private', async () => {
    await ok(put(a, '/objects-private/public.txt', { 'x-amz-acl': 'public-read', 'content-type': 'text/plain' }, 'hello world'));
    await ok(put(a, '/objects-private/neighbour.txt', {}, 'secret'));
    const got = await anonymous('GET', '/objects-private/public.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'hello world');
    assert.equal((await anonymous('HEAD', '/objects-private/public.txt')).status, 200);
    refused(await anonymous('GET', '/objects-private/neighbour.txt'), 403, 'AccessDenied', 'the neighbour');
    refused(await anonymous('GET', '/objects-private/missing.txt'), 403, 'AccessDenied', 'a missing key (no listing right: no telling)');
    refused(await anonymous('GET', '/objects-private'), 403, 'AccessDenied', 'anonymous listing');
    refused(await anonymous('GET', '/objects-private/public.txt?acl'), 403, 'AccessDenied', 'the ACL itself (no READ_ACP)');
    // A signed-in stranger reads it too (AllUsers), not its neighbour.
    assert.equal((await c.send({ method: 'GET', path: '/objects-private/public.txt' })).status, 200);
    refused(await c.send({ method: 'GET', path: '/objects-private/neighbour.txt' }), 403, 'AccessDenied', 'C reads the neighbour');
    // An overwrite without an ACL makes it private again: the ACL belongs to the object written.
    await ok(put(a, '/objects-private/public.txt', {}, 'now private'));
    refused(await anonymous('GET', '/objects-private/public.txt'), 403, 'AccessDenied', 'after an overwrite');
  });

  it('public-read-write grants no anonymous write', async () => {
    await ok(put(a, '/objects-private/rw', { 'x-amz-acl': 'public-read-write' }));
    refused(await anonymous('PUT', '/objects-private/rw', 'overwritten'), 403, 'AccessDenied', 'anonymous overwrite');
    assert.equal((await a.send({ method: 'GET', path: '/objects-private/rw' })).body.toString(), 'x');
  });

  it('refuses an unknown canned ACL, and a canned ACL together with grant headers', async () => {
    refused(await put(a, '/objects-private/bad', { 'x-amz-acl': 'everyone' }), 400, 'InvalidArgument', 'unknown canned ACL');
    refused(
      await put(a, '/objects-private/bad', { 'x-amz-acl': 'private', 'x-amz-grant-read': `id="${B}"` }),
      400,
      'InvalidRequest',
      'canned + grants',
    );
    assert.equal((await a.send({ method: 'HEAD', path: '/objects-private/bad' })).status, 404, 'nothing was stored');
  });
});

describe('grant headers', () => {
  before(async () => {
    await ok(put(a, '/grants', {}, ''));
  });

  it('x-amz-grant-read to one user: that user reads it (by key and JWT), nobody else', async () => {
    await ok(put(a, '/grants/to-b', { 'x-amz-grant-read': `id="${B}"` }));
    assert.equal(await readers('/grants/to-b'), 'B B-jwt');
    assert.deepEqual((await aclOf(a, '/grants/to-b')).grants, [`${B} READ`]);
    // Reading the object is not reading its ACL.
    refused(await getAcl(b, '/grants/to-b'), 403, 'AccessDenied', 'B reads the ACL');
    // Nor listing the bucket.
    refused(await b.send({ method: 'GET', path: '/grants', query: { 'list-type': '2' } }), 403, 'AccessDenied', 'B lists');
  });

  it('several grantees in one header, several headers, a group', async () => {
    await ok(
      put(a, '/grants/many', {
        'x-amz-grant-read': `id="${B}", id=${C}`,
        'x-amz-grant-read-acp': `uri="${AUTH_USERS}"`,
        'x-amz-grant-full-control': `id="${A}"`,
      }),
    );
    assert.equal(await readers('/grants/many'), 'B B-jwt C');
    assert.deepEqual((await aclOf(a, '/grants/many')).grants, [`${B} READ`, `${C} READ`, 'AuthenticatedUsers READ_ACP', `${A} FULL_CONTROL`]);
    assert.equal((await getAcl(c, '/grants/many')).status, 200, 'AuthenticatedUsers READ_ACP: C reads the ACL');
    refused(await anonymous('GET', '/grants/many?acl'), 403, 'AccessDenied', 'anonymous is no AuthenticatedUser');
  });

  it('x-amz-grant-read-acp alone: the ACL, not the object', async () => {
    await ok(put(a, '/grants/acp-only', { 'x-amz-grant-read-acp': `id="${B}"` }));
    assert.equal((await getAcl(b, '/grants/acp-only')).status, 200);
    refused(await b.send({ method: 'GET', path: '/grants/acp-only' }), 403, 'AccessDenied', 'B reads the object');
    refused(await putAcl(b, '/grants/acp-only', { headers: { 'x-amz-acl': 'private' } }), 403, 'AccessDenied', 'B writes the ACL');
  });

  it('x-amz-grant-write-acp: changes the ACL, never the object; public grants stay the bucket owner’s', async () => {
    await ok(put(a, '/grants/wacp', { 'x-amz-grant-write-acp': `id="${B}"` }, 'original'));
    refused(await b.send({ method: 'GET', path: '/grants/wacp' }), 403, 'AccessDenied', 'B reads the object');
    // B may grant C read (and keep its own WRITE_ACP)...
    await ok(putAcl(b, '/grants/wacp', { headers: { 'x-amz-grant-read': `id="${C}"`, 'x-amz-grant-write-acp': `id="${B}"` } }), 'B grants C');
    assert.equal(await readers('/grants/wacp'), 'C');
    // ...but not make A's object public in A's private bucket.
    refused(await putAcl(b, '/grants/wacp', { headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'B makes it public');
    refused(await putAcl(b, '/grants/wacp', { headers: { 'x-amz-grant-read': `uri="${AUTH_USERS}"` } }), 403, 'AccessDenied', 'B grants all users');
    assert.equal(await readers('/grants/wacp'), 'C');
    // Nor write the object: WRITE_ACP is not WRITE.
    refused(await put(b, '/grants/wacp', {}, 'replaced'), 403, 'AccessDenied', 'B overwrites');
    assert.equal((await a.send({ method: 'GET', path: '/grants/wacp' })).body.toString(), 'original');
    // The owner, as ever, sets anything.
    await ok(putAcl(a, '/grants/wacp', { headers: { 'x-amz-acl': 'public-read' } }));
    assert.equal(await readers('/grants/wacp'), 'anon B B-jwt C');
  });

  it('x-amz-grant-full-control: read, read and write the ACL', async () => {
    await ok(put(a, '/grants/full', { 'x-amz-grant-full-control': `id="${B}"` }));
    assert.equal((await b.send({ method: 'GET', path: '/grants/full' })).status, 200);
    assert.equal((await getAcl(b, '/grants/full')).status, 200);
    await ok(putAcl(b, '/grants/full', { headers: { 'x-amz-grant-read': `id="${C}"` } }));
    assert.equal(await readers('/grants/full'), 'C', 'B replaced the ACL and so dropped its own grant');
  });

  it('x-amz-grant-write on an object is stored and, as on S3, grants nothing', async () => {
    await ok(put(a, '/grants/write', { 'x-amz-grant-write': `id="${B}"` }));
    assert.deepEqual((await aclOf(a, '/grants/write')).grants, [`${B} WRITE`]);
    refused(await put(b, '/grants/write'), 403, 'AccessDenied', 'B writes');
  });

  it('e-mail and unknown grantees are refused as S3 refuses them, and nothing is stored', async () => {
    refused(await put(a, '/grants/email', { 'x-amz-grant-read': 'emailAddress="someone@example.com"' }), 400, 'UnresolvableGrantByEmailAddress', 'email');
    refused(await put(a, '/grants/email', { 'x-amz-grant-read': 'id="not-a-user"' }), 400, 'InvalidArgument', 'bad id');
    refused(
      await put(a, '/grants/email', { 'x-amz-grant-read': 'id="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"' }),
      400,
      'InvalidArgument',
      "an AWS account's canonical id",
    );
    refused(await put(a, '/grants/email', { 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/Everyone"' }), 400, 'InvalidArgument', 'bad group');
    refused(await put(a, '/grants/email', { 'x-amz-grant-read': 'ide="x"' }), 400, 'InvalidArgument', 'bad type');
    refused(await put(a, '/grants/email', { 'x-amz-grant-read': 'id=' }), 400, 'InvalidArgument', 'no value');
    assert.equal((await a.send({ method: 'HEAD', path: '/grants/email' })).status, 404);
  });
});

describe('PutObjectAcl and GetObjectAcl', () => {
  before(async () => {
    await ok(put(a, '/acp', {}, ''));
    await ok(put(a, '/acp/o', {}, 'body'));
  });

  it('GetObjectAcl answers as S3: Owner, xsi:type, the owner’s FULL_CONTROL', async () => {
    const { xml } = await aclOf(a, '/acp/o');
    assert.match(xml, new RegExp(`<Owner><ID>${A}</ID><DisplayName>${A}</DisplayName></Owner>`));
    assert.match(
      xml,
      new RegExp(
        `<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${A}</ID><DisplayName>${A}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList>`,
      ),
    );
  });

  it('an AccessControlPolicy with CanonicalUser, AllUsers and AuthenticatedUsers grants', async () => {
    await ok(putAcl(a, '/acp/o', { body: acp(A, userGrant(A, 'FULL_CONTROL') + userGrant(C, 'READ') + groupGrant(AUTH_USERS, 'READ_ACP')) }));
    assert.deepEqual((await aclOf(a, '/acp/o')).grants, [`${A} FULL_CONTROL`, `${C} READ`, 'AuthenticatedUsers READ_ACP']);
    assert.equal(await readers('/acp/o'), 'C');
    const { xml } = await aclOf(b, '/acp/o');
    assert.match(xml, /xsi:type="Group"><URI>http:\/\/acs\.amazonaws\.com\/groups\/global\/AuthenticatedUsers<\/URI>/);
    await ok(putAcl(a, '/acp/o', { body: acp(A, userGrant(A, 'FULL_CONTROL') + groupGrant(ALL_USERS, 'READ')) }));
    assert.equal(await readers('/acp/o'), 'anon B B-jwt C');
    // ETag and Last-Modified are the object's, not its ACL's.
    const head = await a.send({ method: 'HEAD', path: '/acp/o' });
    await ok(putAcl(a, '/acp/o', { headers: { 'x-amz-acl': 'private' } }));
    const after = await a.send({ method: 'HEAD', path: '/acp/o' });
    assert.equal(after.headers.etag, head.headers.etag);
    assert.equal(after.headers['last-modified'], head.headers['last-modified']);
    assert.equal(await readers('/acp/o'), '');
  });

  it('what GetObjectAcl answers, PutObjectAcl takes back (the read-modify-write of s3cmd and the SDKs)', async () => {
    const { xml } = await aclOf(a, '/acp/o');
    const withPublic = xml.replace('</AccessControlList>', `${groupGrant(ALL_USERS, 'READ')}</AccessControlList>`);
    await ok(putAcl(a, '/acp/o', { body: withPublic }));
    assert.equal(await readers('/acp/o'), 'anon B B-jwt C');
    await ok(putAcl(a, '/acp/o', { body: xml }));
    assert.equal(await readers('/acp/o'), '');
  });

  it('refuses e-mail grantees, unknown ids, malformed documents, and a body with the headers', async () => {
    refused(await putAcl(a, '/acp/o', { body: acp(A, emailGrant('x@example.com', 'READ')) }), 400, 'UnresolvableGrantByEmailAddress', 'email');
    refused(await putAcl(a, '/acp/o', { body: acp(A, userGrant('nobody', 'READ')) }), 400, 'InvalidArgument', 'unknown id');
    refused(await putAcl(a, '/acp/o', { body: acp(A, userGrant(B, 'EVERYTHING')) }), 400, 'MalformedACLError', 'bad permission');
    refused(await putAcl(a, '/acp/o', { body: acp(A, '<Grant><Permission>READ</Permission></Grant>') }), 400, 'MalformedACLError', 'no grantee');
    refused(await putAcl(a, '/acp/o', { body: '<Nope/>' }), 400, 'MalformedACLError', 'not an ACL');
    refused(await putAcl(a, '/acp/o', { headers: { 'x-amz-acl': 'private' }, body: acp(A, '') }), 400, 'UnexpectedContent', 'both');
    refused(await putAcl(a, '/acp/o', { headers: { 'x-amz-acl': 'everyone' } }), 400, 'InvalidArgument', 'unknown canned');
    assert.equal(await readers('/acp/o'), '', 'unchanged');
  });

  it('answers a missing key, and a key it may not see, as S3 does', async () => {
    refused(await getAcl(a, '/acp/missing'), 404, 'NoSuchKey', 'owner, missing key');
    refused(await putAcl(a, '/acp/missing', { headers: { 'x-amz-acl': 'private' } }), 404, 'NoSuchKey', 'owner puts on a missing key');
    refused(await getAcl(c, '/acp/o'), 403, 'AccessDenied', 'C, no READ_ACP');
    refused(await getAcl(c, '/acp/missing'), 403, 'AccessDenied', 'C, missing key: no telling');
    refused(await putAcl(c, '/acp/o', { headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'C writes the ACL');
    refused(await anonymous('PUT', '/acp/o?acl'), 403, 'AccessDenied', 'anonymous writes the ACL');
    refused(await getAcl(a, '/missing-bucket/o'), 404, 'NoSuchBucket', 'missing bucket');
  });
});

describe('member writes: who may make an object public', () => {
  before(async () => {
    for (const [name, policy] of [
      ['members-private', 'private'],
      ['members-signed-in', 'authenticated'],
      ['members-public', 'public'],
    ] as const) {
      await ok(put(a, `/${name}`, {}, ''));
      await setBucketSettings(root, name, { member_writes: true, policy });
    }
    await ok(put(a, '/members-private/owners', {}, 'the owner’s'));
  });

  it('a member may share its own object with named users, not publish it from the owner’s private bucket', async () => {
    refused(await put(b, '/members-private/b-public', { 'x-amz-acl': 'public-read' }), 403, 'AccessDenied', 'B public-read');
    refused(await put(b, '/members-private/b-public', { 'x-amz-acl': 'authenticated-read' }), 403, 'AccessDenied', 'B authenticated-read');
    refused(await put(b, '/members-private/b-public', { 'x-amz-grant-read': `uri="${ALL_USERS}"` }), 403, 'AccessDenied', 'B AllUsers grant');
    assert.equal((await a.send({ method: 'HEAD', path: '/members-private/b-public' })).status, 404, 'refused before anything was stored');
    await ok(put(b, '/members-private/b-shared', { 'x-amz-grant-read': `id="${C}"` }), 'B shares with C');
    assert.equal(await readers('/members-private/b-shared'), 'B B-jwt C');
    // On its own object B has FULL_CONTROL (ObjectWriter), but a public grant is still the bucket owner's.
    refused(await putAcl(b, '/members-private/b-shared', { headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'B PutObjectAcl public');
    await ok(putAcl(b, '/members-private/b-shared', { headers: { 'x-amz-acl': 'private' } }), 'B PutObjectAcl private');
    assert.equal(await readers('/members-private/b-shared'), 'B B-jwt');
    // The bucket owner may publish it.
    await ok(putAcl(a, '/members-private/b-shared', { headers: { 'x-amz-acl': 'public-read' } }), 'A publishes B’s object');
    assert.equal(await readers('/members-private/b-shared'), 'anon B B-jwt C');
    assert.deepEqual((await aclOf(b, '/members-private/b-shared')).grants, [`${B} FULL_CONTROL`, 'AllUsers READ'], 'owned by B, as written');
    // B never changes the ACL of A's object.
    refused(await putAcl(b, '/members-private/owners', { headers: { 'x-amz-acl': 'private' } }), 403, 'AccessDenied', 'B on A’s object');
    refused(await getAcl(b, '/members-private/owners'), 403, 'AccessDenied', 'B reads A’s ACL');
  });

  it('a multipart upload and a copy are held to the same rule', async () => {
    refused(
      await b.send({ method: 'POST', path: '/members-private/mp', query: { uploads: '' }, headers: { 'x-amz-acl': 'public-read' } }),
      403,
      'AccessDenied',
      'CreateMultipartUpload public-read',
    );
    await ok(put(b, '/members-private/src', {}, 'source'));
    refused(
      await b.send({ method: 'PUT', path: '/members-private/copy', headers: { 'x-amz-copy-source': '/members-private/src', 'x-amz-acl': 'public-read' } }),
      403,
      'AccessDenied',
      'CopyObject public-read',
    );
  });

  it('where the bucket already grants a group, a member may grant it too', async () => {
    await ok(put(b, '/members-public/b-public', { 'x-amz-acl': 'public-read' }));
    await ok(put(b, '/members-signed-in/b-signed-in', { 'x-amz-acl': 'authenticated-read' }));
    refused(await put(b, '/members-signed-in/b-public', { 'x-amz-acl': 'public-read' }), 403, 'AccessDenied', 'public-read in an authenticated bucket');
    assert.deepEqual((await aclOf(b, '/members-public/b-public')).grants, [`${B} FULL_CONTROL`, 'AllUsers READ']);
  });
});

describe('canned ACLs and grants on buckets', () => {
  it('x-amz-acl on CreateBucket: every canned ACL, as GetBucketAcl reports it and as it applies', async () => {
    const CASES: Array<[string, string[], { anonList: number; bList: number }]> = [
      ['private', [`${A} FULL_CONTROL`], { anonList: 403, bList: 403 }],
      ['public-read', [`${A} FULL_CONTROL`, 'AllUsers READ'], { anonList: 200, bList: 200 }],
      // Anonymous writes are never granted: it reads as public-read.
      ['public-read-write', [`${A} FULL_CONTROL`, 'AllUsers READ'], { anonList: 200, bList: 200 }],
      ['authenticated-read', [`${A} FULL_CONTROL`, 'AuthenticatedUsers READ'], { anonList: 403, bList: 200 }],
      ['bucket-owner-read', [`${A} FULL_CONTROL`], { anonList: 403, bList: 403 }],
      ['bucket-owner-full-control', [`${A} FULL_CONTROL`], { anonList: 403, bList: 403 }],
      ['log-delivery-write', [`${A} FULL_CONTROL`, 'LogDelivery WRITE', 'LogDelivery READ_ACP'], { anonList: 403, bList: 403 }],
    ];
    for (const [canned, grants, expected] of CASES) {
      const name = `bucket-${canned}`;
      await ok(a.send({ method: 'PUT', path: `/${name}`, headers: { 'x-amz-acl': canned } }), `create ${name}`);
      await ok(put(a, `/${name}/o`, {}, 'in the bucket'));
      assert.deepEqual((await aclOf(a, `/${name}`)).grants, grants, canned);
      assert.equal((await anonymous('GET', `/${name}`)).status, expected.anonList, `${canned}: anonymous ListObjects`);
      assert.equal((await anonymous('GET', `/${name}/o`)).status, expected.anonList, `${canned}: anonymous GetObject`);
      assert.equal((await b.send({ method: 'GET', path: `/${name}`, query: { 'list-type': '2' } })).status, expected.bList, `${canned}: B lists`);
      refused(await anonymous('PUT', `/${name}/anon`, 'x'), 403, 'AccessDenied', `${canned}: anonymous PutObject`);
      refused(await put(b, `/${name}/b`), 403, 'AccessDenied', `${canned}: B PutObject`);
    }
  });

  it('PutBucketAcl: canned, grant headers, documents; AuthenticatedUsers WRITE is member writes', async () => {
    await ok(a.send({ method: 'PUT', path: '/bucket-acl' }));
    await ok(putAcl(a, '/bucket-acl', { headers: { 'x-amz-grant-read': `uri="${AUTH_USERS}"`, 'x-amz-grant-write': `uri="${AUTH_USERS}"` } }));
    assert.deepEqual((await aclOf(a, '/bucket-acl')).grants, [`${A} FULL_CONTROL`, 'AuthenticatedUsers READ', 'AuthenticatedUsers WRITE']);
    await ok(put(b, '/bucket-acl/b-own'), 'B writes as a member');
    await ok(putAcl(a, '/bucket-acl', { body: acp(A, userGrant(A, 'FULL_CONTROL') + groupGrant(ALL_USERS, 'READ')) }));
    assert.deepEqual((await aclOf(a, '/bucket-acl')).grants, [`${A} FULL_CONTROL`, 'AllUsers READ']);
    assert.equal((await anonymous('GET', '/bucket-acl')).status, 200, 'public-read: anonymous listing');
    refused(await put(b, '/bucket-acl/b-again'), 403, 'AccessDenied', 'member writes are gone with the ACL that granted them');
    await ok(putAcl(a, '/bucket-acl', { headers: { 'x-amz-acl': 'private' } }));
    assert.deepEqual((await aclOf(a, '/bucket-acl')).grants, [`${A} FULL_CONTROL`]);
    assert.equal((await anonymous('GET', '/bucket-acl')).status, 403);
  });

  it('refuses what it does not grant: anonymous writes, e-mail, unknown ids', async () => {
    refused(await putAcl(a, '/bucket-acl', { headers: { 'x-amz-grant-write': `uri="${ALL_USERS}"` } }), 501, 'NotImplemented', 'anonymous writes');
    refused(await putAcl(a, '/bucket-acl', { body: acp(A, emailGrant('x@example.com', 'READ')) }), 400, 'UnresolvableGrantByEmailAddress', 'email');
    refused(await putAcl(a, '/bucket-acl', { body: acp(A, userGrant('nobody', 'READ')) }), 400, 'InvalidArgument', 'unknown id');
    refused(await putAcl(b, '/bucket-acl', { headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'B sets A’s bucket ACL');
    refused(await getAcl(b, '/bucket-acl'), 403, 'AccessDenied', 'B reads A’s bucket ACL');
    assert.deepEqual((await aclOf(a, '/bucket-acl')).grants, [`${A} FULL_CONTROL`], 'unchanged');
  });

  it('grants to named users: READ reads and lists, WRITE writes as a member, READ_ACP and WRITE_ACP the ACL', async () => {
    await ok(a.send({ method: 'PUT', path: '/bucket-users' }));
    await ok(put(a, '/bucket-users/a-own', {}, 'A wrote this'));
    const list = (client: S3RawClient) => client.send({ method: 'GET', path: '/bucket-users', query: { 'list-type': '2' } });
    refused(await b.send({ method: 'GET', path: '/bucket-users/a-own' }), 403, 'AccessDenied', 'B before any grant');

    await ok(putAcl(a, '/bucket-users', { headers: { 'x-amz-grant-read': `id="${B}"`, 'x-amz-grant-read-acp': `id="${C}"` } }));
    assert.deepEqual((await aclOf(a, '/bucket-users')).grants, [`${A} FULL_CONTROL`, `${B} READ`, `${C} READ_ACP`]);
    // B reads and lists (by key and by JWT); C, anonymous: nothing but what READ_ACP gives C.
    assert.equal((await ok(b.send({ method: 'GET', path: '/bucket-users/a-own' }))).body.toString(), 'A wrote this');
    await ok(bearer('GET', '/bucket-users/a-own'), 'B by JWT');
    // The same row-level security serves /storage/v1.
    assert.equal((await ok(bearer('GET', '/storage/v1/object/authenticated/bucket-users/a-own'))).body.toString(), 'A wrote this');
    const listed = await sendRaw(base, 'POST', '/storage/v1/object/list/bucket-users', { host: base.host, authorization: `Bearer ${bJwt}`, 'content-type': 'application/json' }, JSON.stringify({ prefix: '' }));
    assert.deepEqual((JSON.parse(listed.body.toString()) as { name: string }[]).map((o) => o.name), ['a-own'], `/storage/v1 list: ${listed.body}`);
    assert.deepEqual(xmlValues((await ok(list(b))).body.toString(), 'Key'), ['a-own']);
    refused(await put(b, '/bucket-users/b-new'), 403, 'AccessDenied', 'READ writes nothing');
    refused(await c.send({ method: 'GET', path: '/bucket-users/a-own' }), 403, 'AccessDenied', 'READ_ACP reads no object');
    refused(await list(c), 403, 'AccessDenied', 'READ_ACP lists nothing');
    assert.deepEqual((await aclOf(c, '/bucket-users')).grants, [`${A} FULL_CONTROL`, `${B} READ`, `${C} READ_ACP`], 'C reads the ACL');
    refused(await getAcl(b, '/bucket-users'), 403, 'AccessDenied', 'READ is not READ_ACP');
    refused(await anonymous('GET', '/bucket-users/a-own'), 403, 'AccessDenied', 'anonymous');
    refused(await putAcl(c, '/bucket-users', { headers: { 'x-amz-grant-read': `id="${C}"` } }), 403, 'AccessDenied', 'READ_ACP is not WRITE_ACP');

    // WRITE: B writes new objects and changes its own, never A's.
    await ok(putAcl(a, '/bucket-users', { headers: { 'x-amz-grant-write': `id="${B}"`, 'x-amz-grant-write-acp': `id="${C}"` } }));
    await ok(put(b, '/bucket-users/b-new', {}, 'B wrote this'));
    await ok(put(b, '/bucket-users/b-new', {}, 'B overwrote it'));
    refused(await put(b, '/bucket-users/a-own', {}, 'B overwrites A'), 403, 'AccessDenied', 'WRITE overwrites only its own');
    refused(await b.send({ method: 'DELETE', path: '/bucket-users/a-own' }), 403, 'AccessDenied', 'WRITE deletes only its own');
    refused(await b.send({ method: 'GET', path: '/bucket-users/a-own' }), 403, 'AccessDenied', 'the READ grant was replaced');
    await ok(b.send({ method: 'DELETE', path: '/bucket-users/b-new' }));
    assert.equal((await ok(a.send({ method: 'GET', path: '/bucket-users/a-own' }))).body.toString(), 'A wrote this');

    // WRITE_ACP: C changes the grants to users — and may not open the bucket to a group.
    await ok(putAcl(c, '/bucket-users', { headers: { 'x-amz-grant-write': `id="${B}"`, 'x-amz-grant-write-acp': `id="${C}"`, 'x-amz-grant-read': `id="${C}"` } }));
    assert.equal((await ok(c.send({ method: 'GET', path: '/bucket-users/a-own' }))).body.toString(), 'A wrote this', 'C granted itself READ');
    refused(await putAcl(c, '/bucket-users', { headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'a group grant is the owner’s');
    refused(await putAcl(c, '/bucket-users', { headers: { 'x-amz-grant-write-acp': `id="${C}"`, 'x-amz-grant-read': `uri="${AUTH_USERS}"` } }), 403, 'AccessDenied', 'AuthenticatedUsers too');
    assert.equal((await anonymous('GET', '/bucket-users/a-own')).status, 403, 'still private');
    assert.deepEqual((await aclOf(a, '/bucket-users')).grants, [`${A} FULL_CONTROL`, `${C} READ`, `${B} WRITE`, `${C} WRITE_ACP`]);

    // Object Ownership BucketOwnerEnforced cannot come while users are granted; private takes them all back.
    refused(
      await a.send({ method: 'PUT', path: '/bucket-users', query: { ownershipControls: '' }, body: '<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>' }),
      400,
      'InvalidBucketAclWithObjectOwnership',
      'enforced over user grants',
    );
    await ok(putAcl(a, '/bucket-users', { headers: { 'x-amz-acl': 'private' } }));
    refused(await c.send({ method: 'GET', path: '/bucket-users/a-own' }), 403, 'AccessDenied', 'C after private');
    refused(await put(b, '/bucket-users/b-again'), 403, 'AccessDenied', 'B after private');
    refused(await getAcl(c, '/bucket-users'), 403, 'AccessDenied', 'C’s READ_ACP is gone');
  });

  it('the root key’s buckets and objects name the root as "aerostore", which grants take back', async () => {
    await ok(root.send({ method: 'PUT', path: '/root-bucket' }));
    await ok(put(root, '/root-bucket/o', { 'x-amz-acl': 'public-read' }));
    const acl = await aclOf(root, '/root-bucket/o');
    assert.equal(acl.owner, 'aerostore');
    assert.deepEqual(acl.grants, ['aerostore FULL_CONTROL', 'AllUsers READ']);
    await ok(putAcl(root, '/root-bucket', { body: acp('aerostore', userGrant('aerostore', 'FULL_CONTROL') + groupGrant(LOG_DELIVERY, 'WRITE')) }));
    assert.deepEqual((await aclOf(root, '/root-bucket')).grants, ['aerostore FULL_CONTROL', 'LogDelivery WRITE']);
    assert.equal((await anonymous('GET', '/root-bucket/o')).status, 200);
  });
});

describe('Object Ownership', () => {
  before(async () => {
    await ok(a.send({ method: 'PUT', path: '/owned' }));
    await ok(put(a, '/owned/public', { 'x-amz-acl': 'public-read' }));
  });

  const controls = (ownership: string) =>
    `<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ObjectOwnership>${ownership}</ObjectOwnership></Rule></OwnershipControls>`;
  const putControls = (client: S3RawClient, bucket: string, ownership: string) =>
    client.send({ method: 'PUT', path: `/${bucket}`, query: { ownershipControls: '' }, body: controls(ownership) });

  it('none set: ObjectWriter behaviour, and GetBucketOwnershipControls answers OwnershipControlsNotFoundError', async () => {
    refused(await a.send({ method: 'GET', path: '/owned', query: { ownershipControls: '' } }), 404, 'OwnershipControlsNotFoundError', 'none set');
    assert.equal((await anonymous('GET', '/owned/public')).status, 200);
  });

  it('BucketOwnerEnforced disables ACLs: refused on every write, ignored on stored objects, restored when lifted', async () => {
    refused(await putControls(b, 'owned', 'BucketOwnerEnforced'), 403, 'AccessDenied', 'B sets A’s controls');
    await ok(putControls(a, 'owned', 'BucketOwnerEnforced'));
    const got = await ok(a.send({ method: 'GET', path: '/owned', query: { ownershipControls: '' } }));
    assert.equal(xmlValue(got.body.toString(), 'ObjectOwnership'), 'BucketOwnerEnforced');
    refused(await anonymous('GET', '/owned/public'), 403, 'AccessDenied', 'the stored public-read no longer counts');
    refused(await put(a, '/owned/new', { 'x-amz-acl': 'public-read' }), 400, 'AccessControlListNotSupported', 'PutObject public-read');
    refused(await put(a, '/owned/new', { 'x-amz-grant-read': `id="${B}"` }), 400, 'AccessControlListNotSupported', 'PutObject grant');
    refused(
      await a.send({ method: 'POST', path: '/owned/new', query: { uploads: '' }, headers: { 'x-amz-acl': 'public-read' } }),
      400,
      'AccessControlListNotSupported',
      'CreateMultipartUpload',
    );
    refused(await putAcl(a, '/owned/public', { headers: { 'x-amz-acl': 'public-read' } }), 400, 'AccessControlListNotSupported', 'PutObjectAcl');
    refused(await putAcl(a, '/owned', { headers: { 'x-amz-acl': 'public-read' } }), 400, 'AccessControlListNotSupported', 'PutBucketAcl');
    // What S3 still takes: bucket-owner-full-control, and no ACL at all.
    await ok(put(a, '/owned/new', { 'x-amz-acl': 'bucket-owner-full-control' }));
    await ok(put(a, '/owned/plain'));
    await ok(putAcl(a, '/owned', { headers: { 'x-amz-acl': 'private' } }));
    // Reading ACLs still works; the bucket owner owns everything.
    assert.deepEqual((await aclOf(a, '/owned/public')).grants, [`${A} FULL_CONTROL`]);
    // Lifted: the object's own list counts again.
    assert.equal((await a.send({ method: 'DELETE', path: '/owned', query: { ownershipControls: '' } })).status, 204);
    refused(await a.send({ method: 'GET', path: '/owned', query: { ownershipControls: '' } }), 404, 'OwnershipControlsNotFoundError', 'deleted');
    assert.equal((await anonymous('GET', '/owned/public')).status, 200);
  });

  it('BucketOwnerEnforced cannot come with a bucket ACL beyond the owner’s', async () => {
    refused(
      await a.send({ method: 'PUT', path: '/enforced-public', headers: { 'x-amz-acl': 'public-read', 'x-amz-object-ownership': 'BucketOwnerEnforced' } }),
      400,
      'InvalidBucketAclWithObjectOwnership',
      'CreateBucket',
    );
    await ok(a.send({ method: 'PUT', path: '/enforced-logs', headers: { 'x-amz-acl': 'log-delivery-write' } }));
    refused(await putControls(a, 'enforced-logs', 'BucketOwnerEnforced'), 400, 'InvalidBucketAclWithObjectOwnership', 'with LogDelivery grants');
    await ok(a.send({ method: 'PUT', path: '/enforced-new', headers: { 'x-amz-object-ownership': 'BucketOwnerEnforced' } }));
    const got = await ok(a.send({ method: 'GET', path: '/enforced-new', query: { ownershipControls: '' } }));
    assert.equal(xmlValue(got.body.toString(), 'ObjectOwnership'), 'BucketOwnerEnforced');
    refused(await a.send({ method: 'PUT', path: '/enforced-bad', headers: { 'x-amz-object-ownership': 'Nobody' } }), 400, 'InvalidArgument', 'bad header');
    refused(await putControls(a, 'enforced-new', 'Nobody'), 400, 'MalformedXML', 'bad document');
  });

  it('BucketOwnerPreferred: an object written with bucket-owner-full-control belongs to the bucket owner', async () => {
    await ok(a.send({ method: 'PUT', path: '/preferred' }));
    await setBucketSettings(root, 'preferred', { member_writes: true });
    await ok(putControls(a, 'preferred', 'BucketOwnerPreferred'));
    await ok(put(b, '/preferred/given', { 'x-amz-acl': 'bucket-owner-full-control' }, 'given'));
    await ok(put(b, '/preferred/kept', {}, 'kept'));
    const given = await aclOf(a, '/preferred/given');
    assert.equal(given.owner, A);
    assert.deepEqual(given.grants, [`${B} FULL_CONTROL`, `${A} FULL_CONTROL`]);
    assert.equal((await aclOf(b, '/preferred/kept')).owner, B);
    const listed = (await ok(a.send({ method: 'GET', path: '/preferred', query: { 'list-type': '2', 'fetch-owner': 'true' } }))).body.toString();
    assert.deepEqual(xmlValues(listed, 'ID'), [A, B]);
    // B gave it away: as a member it may no longer overwrite or delete it, but reads it (its FULL_CONTROL grant).
    assert.equal((await b.send({ method: 'GET', path: '/preferred/given' })).status, 200);
    refused(await put(b, '/preferred/given', {}, 'mine again'), 403, 'AccessDenied', 'B overwrites');
    refused(await b.send({ method: 'DELETE', path: '/preferred/given' }), 403, 'AccessDenied', 'B deletes');
    assert.equal((await b.send({ method: 'DELETE', path: '/preferred/kept' })).status, 204);
  });
});

describe('writes that carry an ACL', () => {
  before(async () => {
    await ok(a.send({ method: 'PUT', path: '/writes' }));
    await ok(put(a, '/writes/source', { 'x-amz-acl': 'public-read' }, 'source'));
  });

  it('CopyObject: the copy gets the request’s ACL, never the source’s', async () => {
    await ok(a.send({ method: 'PUT', path: '/writes/copy-plain', headers: { 'x-amz-copy-source': '/writes/source' } }));
    assert.equal(await readers('/writes/copy-plain'), '');
    await ok(a.send({ method: 'PUT', path: '/writes/copy-shared', headers: { 'x-amz-copy-source': '/writes/source', 'x-amz-grant-read': `id="${C}"` } }));
    assert.equal(await readers('/writes/copy-shared'), 'C');
    // Across buckets (the bytes are streamed through PutObject).
    await ok(a.send({ method: 'PUT', path: '/writes-other' }));
    await ok(a.send({ method: 'PUT', path: '/writes-other/copy', headers: { 'x-amz-copy-source': '/writes/source', 'x-amz-acl': 'public-read' } }));
    assert.equal(await readers('/writes-other/copy'), 'anon B B-jwt C');
  });

  it('CreateMultipartUpload: the ACL is applied at Complete', async () => {
    const created = await ok(a.send({ method: 'POST', path: '/writes/mp', query: { uploads: '' }, headers: { 'x-amz-acl': 'public-read' } }));
    const uploadId = xmlValue(created.body.toString(), 'UploadId') as string;
    const part = await ok(a.send({ method: 'PUT', path: '/writes/mp', query: { partNumber: '1', uploadId }, body: 'one part' }));
    refused(await anonymous('GET', '/writes/mp'), 403, 'AccessDenied', 'not there before Complete');
    const done = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`;
    await ok(a.send({ method: 'POST', path: '/writes/mp', query: { uploadId }, body: done }));
    const got = await anonymous('GET', '/writes/mp');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'one part');
  });

  it('/storage/v1: a granted user reads through the same RLS; /object/public serves public buckets only', async () => {
    await ok(put(a, '/writes/for-b', { 'x-amz-grant-read': `id="${B}"` }, 'for B'));
    const got = await bearer('GET', '/storage/v1/object/writes/for-b');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'for B');
    assert.equal((await bearer('GET', '/storage/v1/object/authenticated/writes/for-b')).status, 200);
    assert.equal((await bearer('GET', '/storage/v1/object/writes/source')).status, 200, 'public-read: any signed-in user');
    // Supabase's public URL is for public buckets: a public-read object in a private bucket is not served there.
    assert.equal((await anonymous('GET', '/storage/v1/object/public/writes/source')).status, 403);
    // Its anonymous reads go through RLS like S3's.
    assert.equal((await anonymous('GET', '/storage/v1/object/writes/source')).status, 200);
    assert.equal((await anonymous('GET', '/storage/v1/object/writes/for-b')).status, 403);
  });
});
