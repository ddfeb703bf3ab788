// Bucket policies and Block Public Access against a real server (issue 17
// §5, §6; migration 0023): the owner A sets policies; B is another user,
// anonymous clients send no credentials at all. Row-level security enforces
// every object read and write here, and SQL sessions under the request
// roles see what the HTTP API shows.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { connectAsApplication, embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf, setBucketSettings, userJwt } from './support/principals.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { S3RawClient, sendRaw, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const A = randomUUID();
const B = randomUUID();
const JWT_SECRET = 's3-bucket-policy-jwt-secret-0123456789abcdef';

let server: TestServer;
let base: URL;
let root: S3RawClient;
let a: S3RawClient;
let b: S3RawClient;
let superuser: postgres.Sql;
let app: postgres.Sql;

before(async () => {
  server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  base = new URL(server.url);
  root = new S3RawClient(server.url, server);
  const [ka, kb] = await Promise.all([A, B].map((u) => createAccessKey(root, u)));
  a = new S3RawClient(server.url, credentialsOf(ka));
  b = new S3RawClient(server.url, credentialsOf(kb));
  superuser = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
  app = await connectAsApplication(superuser, server.dataDir, 'policy_app');
});
after(async () => {
  await app?.end({ timeout: 1 });
  await superuser?.end({ timeout: 1 });
  await server?.stop();
});

function anonymous(method: string, path: string): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host });
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
const get = (client: S3RawClient, path: string): Promise<RawResponse> => client.send({ method: 'GET', path });

function putPolicy(client: S3RawClient, bucket: string, policy: unknown): Promise<RawResponse> {
  return client.send({ method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: typeof policy === 'string' ? policy : JSON.stringify(policy) });
}

function policy(...statements: object[]): object {
  return { Version: '2012-10-17', Statement: statements };
}

/** A bucket of A's with objects at `keys`. */
async function bucketOfA(name: string, keys: string[]): Promise<void> {
  await ok(put(a, `/${name}`, {}, ''), `create ${name}`);
  for (const k of keys) await ok(put(a, `/${name}/${k}`, {}, `content of ${k}`), `put ${k}`);
}

describe('PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy', () => {
  const bucket = 'pol-crud';
  before(() => bucketOfA(bucket, []));

  it('answers NoSuchBucketPolicy for a bucket without one', async () => {
    const res = await a.send({ method: 'GET', path: `/${bucket}`, query: { policy: '' } });
    refused(res, 404, 'NoSuchBucketPolicy', 'GET ?policy');
    assert.equal(xmlValue(res.body.toString(), 'BucketName'), bucket);
  });

  it('stores the document as sent and answers it as JSON; DELETE removes it (204)', async () => {
    const text = JSON.stringify(policy({ Sid: 'r', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/pub/*` }), null, 2);
    const res = await putPolicy(a, bucket, text);
    assert.equal(res.status, 204, res.body.toString());
    const got = await ok(a.send({ method: 'GET', path: `/${bucket}`, query: { policy: '' } }));
    assert.equal(got.body.toString(), text);
    assert.match(String(got.headers['content-type']), /application\/json/);
    refused(await b.send({ method: 'GET', path: `/${bucket}`, query: { policy: '' } }), 403, 'AccessDenied', 'B reads A policy');
    assert.equal((await a.send({ method: 'DELETE', path: `/${bucket}`, query: { policy: '' } })).status, 204);
    refused(await a.send({ method: 'GET', path: `/${bucket}`, query: { policy: '' } }), 404, 'NoSuchBucketPolicy', 'after delete');
  });

  it('refuses a policy from anyone but the owner (or root)', async () => {
    const doc = policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` });
    refused(await putPolicy(b, bucket, doc), 403, 'AccessDenied', 'B sets a policy on A bucket');
    refused(await sendRaw(base, 'PUT', `/${bucket}?policy`, { host: base.host, 'content-length': '2' }, '{}'), 403, 'AccessDenied', 'anonymous');
    assert.equal((await putPolicy(root, bucket, doc)).status, 204);
    assert.equal((await root.send({ method: 'DELETE', path: `/${bucket}`, query: { policy: '' } })).status, 204);
  });

  const MALFORMED: Array<[string, unknown, string]> = [
    ['not JSON', 'nope', "Policies must be valid JSON and the first byte must be '{'"],
    ['broken JSON', '{"Version":', "Policies must be valid JSON and the first byte must be '{'"],
    ['another bucket', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other-bucket/*' }), 'Policy has invalid resource'],
    ['Resource *', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }), 'Policy has invalid resource'],
    ['bucket prefix', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}x/*` }), 'Policy has invalid resource'],
    ['unknown action', policy({ Effect: 'Allow', Principal: '*', Action: 's3:Fly', Resource: `arn:aws:s3:::${bucket}/*` }), 'Policy has invalid action'],
    ['object action on bucket', policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}` }), 'Action does not apply to any resource(s) in statement'],
    ['bad principal', policy({ Effect: 'Allow', Principal: { AWS: 'someone' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), 'Invalid principal in policy'],
    ['no principal', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), 'Missing required field Principal'],
    ['bad effect', policy({ Effect: 'Maybe', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), 'Invalid effect: Maybe'],
  ];
  for (const [what, doc, message] of MALFORMED) {
    it(`answers MalformedPolicy for ${what}`, async () => {
      const res = await putPolicy(a, bucket, doc);
      refused(res, 400, 'MalformedPolicy', what);
      assert.equal(xmlValue(res.body.toString(), 'Message')?.replace(/&apos;/g, "'"), message);
    });
  }
});

describe('Allow: anonymous read of a prefix', () => {
  const bucket = 'pol-public-prefix';
  before(async () => {
    await bucketOfA(bucket, ['public/a.txt', 'private/b.txt']);
    assert.equal(
      (await putPolicy(a, bucket, policy(
        { Sid: 'read', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/public/*` },
        { Sid: 'list', Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': 'public/*' } } },
      ))).status,
      204,
    );
  });

  it('reads the prefix anonymously; its neighbour stays private', async () => {
    const pub = await anonymous('GET', `/${bucket}/public/a.txt`);
    assert.equal(pub.status, 200, pub.body.toString());
    assert.equal(pub.body.toString(), 'content of public/a.txt');
    refused(await anonymous('GET', `/${bucket}/private/b.txt`), 403, 'AccessDenied', 'neighbour');
    assert.equal((await get(b, `/${bucket}/public/a.txt`)).status, 200, 'B through Principal *');
    refused(await get(b, `/${bucket}/private/b.txt`), 403, 'AccessDenied', 'B neighbour');
  });

  it('lists anonymously only with the s3:prefix the condition names', async () => {
    const listed = await anonymous('GET', `/${bucket}?list-type=2&prefix=public/`);
    assert.equal(listed.status, 200, listed.body.toString());
    assert.deepEqual(xmlValues(listed.body.toString(), 'Key'), ['public/a.txt']);
    refused(await anonymous('GET', `/${bucket}?list-type=2&prefix=private/`), 403, 'AccessDenied', 'other prefix');
    refused(await anonymous('GET', `/${bucket}?list-type=2`), 403, 'AccessDenied', 'no prefix');
  });

  it('a SQL session as aerostore_anon sees the same rows', async () => {
    const ctx = { 'aws:sourceip': '127.0.0.1', 'aws:securetransport': 'false' };
    assert.deepEqual(await sqlKeys(superuser, bucket, 'aerostore_anon', null, ctx), ['public/a.txt']);
    assert.deepEqual(await sqlKeys(app, bucket, 'aerostore_anon', null, ctx), ['public/a.txt'], 'an application login: no condition involved');
    assert.deepEqual(await sqlKeys(app, bucket, 'aerostore_authenticated', { sub: A, role: 'authenticated' }, null), ['private/b.txt', 'public/a.txt'], 'the owner');
  });
});

/** The keys `role` with `claims` and `context` sees in `bucket` over SQL, on connection `conn`. */
async function sqlKeys(conn: postgres.Sql, bucket: string, role: string, claims: object | null, context: object | null): Promise<string[]> {
  const [{ id }] = await superuser<{ id: string }[]>`select id from storage.buckets where name = ${bucket}`;
  const rows = await conn.begin(async (tx) => {
    await tx.unsafe(`set local role ${role}`);
    if (claims) await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    if (context) await tx`select set_config('request.context', ${JSON.stringify(context)}, true)`;
    return tx<{ key: string }[]>`select key from storage.objects where bucket_uuid = ${id} order by key`;
  });
  return rows.map((r) => r.key);
}

describe('Deny beats the owner and a public-read ACL', () => {
  const bucket = 'pol-deny';
  before(async () => {
    await bucketOfA(bucket, ['open/x.txt', 'secret/y.txt']);
    await ok(put(a, `/${bucket}/secret/acl.txt`, { 'x-amz-acl': 'public-read' }, 'public by ACL'));
    await ok(put(a, `/${bucket}/open/acl.txt`, { 'x-amz-acl': 'public-read' }, 'public by ACL'));
    assert.equal(
      (await putPolicy(a, bucket, policy({ Effect: 'Deny', Principal: '*', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${bucket}/secret/*` }))).status,
      204,
    );
  });

  it('the owner cannot read or write under the denied prefix; root can', async () => {
    refused(await get(a, `/${bucket}/secret/y.txt`), 403, 'AccessDenied', 'owner GET denied prefix');
    refused(await put(a, `/${bucket}/secret/new.txt`), 403, 'AccessDenied', 'owner PUT denied prefix');
    assert.equal((await get(a, `/${bucket}/open/x.txt`)).status, 200, 'owner reads elsewhere');
    assert.equal((await get(root, `/${bucket}/secret/y.txt`)).status, 200, 'root is not subject to bucket policies');
  });

  it('a Deny on s3:PutObject refuses the owner before the body is sent (Expect: 100-continue)', async () => {
    const path = `/${bucket}/secret/continue.txt`;
    const { headers } = await a.sign({ method: 'PUT', path, headers: { 'content-length': '5', expect: '100-continue' }, body: Readable.from([]) });
    const outcome = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
      let continued = false;
      const req = http.request({ host: base.hostname, port: base.port, method: 'PUT', path, headers });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ continued, status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.deepEqual(outcome, { continued: false, status: 403 });
  });

  it('a public-read object under the denied prefix is not readable anonymously; its neighbour is', async () => {
    refused(await anonymous('GET', `/${bucket}/secret/acl.txt`), 403, 'AccessDenied', 'denied public-read');
    assert.equal((await anonymous('GET', `/${bucket}/open/acl.txt`)).status, 200, 'public-read outside the Deny');
  });

  it('the owner listing its bucket does not see denied rows (RLS), nor does SQL as the owner', async () => {
    const listed = await ok(a.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }));
    assert.deepEqual(xmlValues(listed.body.toString(), 'Key'), ['open/acl.txt', 'open/x.txt']);
    assert.deepEqual(await sqlKeys(superuser, bucket, 'aerostore_authenticated', { sub: A, role: 'authenticated' }, null), ['open/acl.txt', 'open/x.txt']);
  });
});

describe('Deny of s3:GetObject in a public bucket: what is hidden is refused, not missing', () => {
  const bucket = 'pol-deny-public';
  before(async () => {
    await bucketOfA(bucket, ['secret/y.txt', 'open/x.txt']);
    await setBucketSettings(root, bucket, { policy: 'public' });
    assert.equal(
      (await putPolicy(a, bucket, policy({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/secret/*` }))).status,
      204,
    );
  });

  it('B cannot tell a hidden key from a missing one: tagging, ACL and delete are AccessDenied for both', async () => {
    const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
    for (const key of ['secret/y.txt', 'secret/none.txt']) {
      refused(await b.send({ method: 'PUT', path: `/${bucket}/${key}`, query: { tagging: '' }, body: tagging }), 403, 'AccessDenied', `PutObjectTagging ${key}`);
      refused(await b.send({ method: 'PUT', path: `/${bucket}/${key}`, query: { acl: '' }, headers: { 'x-amz-acl': 'private' } }), 403, 'AccessDenied', `PutObjectAcl ${key}`);
      refused(await b.send({ method: 'GET', path: `/${bucket}/${key}`, query: { acl: '' } }), 403, 'AccessDenied', `GetObjectAcl ${key}`);
      refused(await b.send({ method: 'DELETE', path: `/${bucket}/${key}` }), 403, 'AccessDenied', `DeleteObject ${key}`);
    }
    // Outside the Deny, a missing key is what it is.
    refused(await b.send({ method: 'GET', path: `/${bucket}/open/none.txt` }), 404, 'NoSuchKey', 'a missing key elsewhere');
    assert.equal((await get(root, `/${bucket}/secret/y.txt`)).status, 200, 'nothing was deleted');
  });

  it('the owner overwrites, tags and deletes under the read Deny (a write is not a read, migration 0029)', async () => {
    assert.equal((await put(a, `/${bucket}/secret/y.txt`, {}, 'again')).status, 200, 'overwrite');
    const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
    assert.equal((await a.send({ method: 'PUT', path: `/${bucket}/secret/y.txt`, query: { tagging: '' }, body: tagging })).status, 200, 'tag');
    assert.equal((await a.send({ method: 'DELETE', path: `/${bucket}/secret/y.txt` })).status, 204, 'delete');
    assert.equal((await get(root, `/${bucket}/secret/y.txt`)).status, 404, 'gone');
  });
});

describe('Allow: a second user writes into its own folder (${aws:userid})', () => {
  const bucket = 'pol-home';
  before(async () => {
    await bucketOfA(bucket, []);
    assert.equal(
      (await putPolicy(a, bucket, policy(
        { Sid: 'home', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::000000000000:user/${B}` }, Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${bucket}/\${aws:userid}/*` },
      ))).status,
      204,
    );
  });

  it('B writes, reads and deletes under its own id; not elsewhere', async () => {
    const res = await put(b, `/${bucket}/${B}/note.txt`, {}, 'mine');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal((await get(b, `/${bucket}/${B}/note.txt`)).body.toString(), 'mine');
    refused(await put(b, `/${bucket}/${A}/note.txt`), 403, 'AccessDenied', 'B into A folder');
    refused(await put(b, `/${bucket}/note.txt`), 403, 'AccessDenied', 'B at the top');
    assert.equal((await b.send({ method: 'DELETE', path: `/${bucket}/${B}/note.txt` })).status, 204);
  });

  it('B uploads into its folder by multipart too', async () => {
    const key = `/${bucket}/${B}/big.bin`;
    const created = await ok(b.send({ method: 'POST', path: key, query: { uploads: '' } }), 'create');
    const uploadId = xmlValue(created.body.toString(), 'UploadId') as string;
    const part = await ok(b.send({ method: 'PUT', path: key, query: { partNumber: '1', uploadId }, body: 'one part' }), 'part');
    const done = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`;
    await ok(b.send({ method: 'POST', path: key, query: { uploadId }, body: done }), 'complete');
    assert.equal((await get(b, key)).body.toString(), 'one part');
    refused(await b.send({ method: 'POST', path: `/${bucket}/${A}/big.bin`, query: { uploads: '' } }), 403, 'AccessDenied', 'outside its folder');
  });

  it('the same Allow holds over /storage/v1 and for DeleteObjects (the write trial, RLS per key)', async () => {
    const token = await userJwt(JWT_SECRET, B);
    const auth = { authorization: `Bearer ${token}`, apikey: token };
    const upload = (key: string) =>
      fetch(`${server.url}/storage/v1/object/${bucket}/${key}`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'via storage-js' });
    assert.equal((await upload(`${B}/native.txt`)).status, 200);
    assert.equal((await upload(`${A}/native.txt`)).status, 403);
    const listed = await fetch(`${server.url}/storage/v1/object/list/${bucket}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: B }),
    });
    assert.equal(listed.status, 403, 'the policy grants no s3:ListBucket');
    await ok(put(a, `/${bucket}/${A}/kept.txt`), 'A writes into its own bucket');
    const batch = `<Delete><Object><Key>${B}/native.txt</Key></Object><Object><Key>${A}/kept.txt</Key></Object></Delete>`;
    const res = await ok(b.send({ method: 'POST', path: `/${bucket}`, query: { delete: '' }, body: batch, headers: { 'content-md5': createHash('md5').update(batch).digest('base64') } }));
    assert.deepEqual(xmlValues(res.body.toString(), 'Key'), [`${B}/native.txt`, `${A}/kept.txt`]);
    assert.ok(res.body.toString().includes(`<Error><Key>${A}/kept.txt</Key><Code>AccessDenied</Code>`), res.body.toString());
    assert.equal((await get(a, `/${bucket}/${A}/kept.txt`)).status, 200, 'A’s object is still there');
    assert.equal((await get(root, `/${bucket}/${B}/native.txt`)).status, 404, 'B’s object is gone');
  });

  it('a CanonicalUser principal works the same', async () => {
    assert.equal(
      (await putPolicy(a, bucket, policy(
        { Effect: 'Allow', Principal: { CanonicalUser: B }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/\${aws:userid}/*` },
      ))).status,
      204,
    );
    assert.equal((await put(b, `/${bucket}/${B}/two.txt`)).status, 200);
    refused(await put(b, `/${bucket}/${A}/two.txt`), 403, 'AccessDenied', 'B into A folder');
  });
});

describe('Conditions on the request: source address and TLS', () => {
  const bucket = 'pol-conditions';
  before(() => bucketOfA(bucket, ['ip/a.txt', 'tls/b.txt', 'other/c.txt']));

  it('IpAddress allows 127.0.0.1 (the test client) and not a range it is outside of', async () => {
    assert.equal(
      (await putPolicy(a, bucket, policy(
        { Sid: 'lan', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/ip/*`, Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } },
        { Sid: 'far', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/other/*`, Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } },
      ))).status,
      204,
    );
    assert.equal((await anonymous('GET', `/${bucket}/ip/a.txt`)).status, 200);
    refused(await anonymous('GET', `/${bucket}/other/c.txt`), 403, 'AccessDenied', 'outside the range');
  });

  it('an application SQL session cannot claim a source address: the IP condition fails closed there', async () => {
    const ctx = { 'aws:sourceip': '203.0.113.9' };
    assert.deepEqual(await sqlKeys(app, bucket, 'aerostore_anon', null, ctx), []);
    // The server's own login is believed (the server sets it from the socket).
    assert.deepEqual(await sqlKeys(superuser, bucket, 'aerostore_anon', null, ctx), ['other/c.txt']);
  });

  it('aws:SecureTransport false → Deny: plain HTTP is refused even to the owner', async () => {
    assert.equal(
      (await putPolicy(a, bucket, policy(
        { Sid: 'tls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}/tls/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ))).status,
      204,
    );
    refused(await get(a, `/${bucket}/tls/b.txt`), 403, 'AccessDenied', 'owner over HTTP');
    refused(await put(a, `/${bucket}/tls/new.txt`), 403, 'AccessDenied', 'owner PUT over HTTP');
    assert.equal((await get(a, `/${bucket}/other/c.txt`)).status, 200, 'outside the Deny');
    // /storage/v1 is served over the same plain HTTP: the same Deny holds there.
    const bearer = { authorization: `Bearer ${await userJwt(JWT_SECRET, A)}` };
    assert.equal((await fetch(`${server.url}/storage/v1/object/authenticated/${bucket}/tls/b.txt`, { headers: bearer })).status >= 400, true, '/storage/v1');
    assert.equal((await fetch(`${server.url}/storage/v1/object/authenticated/${bucket}/other/c.txt`, { headers: bearer })).status, 200, '/storage/v1 outside');
    // A SQL session of the application is not over TLS either: denied.
    assert.deepEqual(await sqlKeys(app, bucket, 'aerostore_authenticated', { sub: A, role: 'authenticated' }, { 'aws:securetransport': 'true' }), ['ip/a.txt', 'other/c.txt']);
  });
});

describe('Block Public Access', () => {
  const bucket = 'pol-bpa';
  const pab = (flags: Record<string, boolean>) =>
    `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${Object.entries(flags)
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('')}</PublicAccessBlockConfiguration>`;
  const setBlock = (flags: Record<string, boolean>) => a.send({ method: 'PUT', path: `/${bucket}`, query: { publicAccessBlock: '' }, body: pab(flags) });
  const publicPolicy = policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/pub/*` });
  before(() => bucketOfA(bucket, ['pub/a.txt']));

  it('Get of none is NoSuchPublicAccessBlockConfiguration; Put, Get, Delete round-trip', async () => {
    refused(await a.send({ method: 'GET', path: `/${bucket}`, query: { publicAccessBlock: '' } }), 404, 'NoSuchPublicAccessBlockConfiguration', 'none');
    await ok(setBlock({ BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: true, RestrictPublicBuckets: false }));
    const got = (await ok(a.send({ method: 'GET', path: `/${bucket}`, query: { publicAccessBlock: '' } }))).body.toString();
    assert.equal(xmlValue(got, 'BlockPublicAcls'), 'true');
    assert.equal(xmlValue(got, 'IgnorePublicAcls'), 'false');
    assert.equal(xmlValue(got, 'BlockPublicPolicy'), 'true');
    assert.equal(xmlValue(got, 'RestrictPublicBuckets'), 'false');
    refused(await b.send({ method: 'GET', path: `/${bucket}`, query: { publicAccessBlock: '' } }), 403, 'AccessDenied', 'B');
    assert.equal((await a.send({ method: 'DELETE', path: `/${bucket}`, query: { publicAccessBlock: '' } })).status, 204);
    refused(await a.send({ method: 'GET', path: `/${bucket}`, query: { publicAccessBlock: '' } }), 404, 'NoSuchPublicAccessBlockConfiguration', 'deleted');
  });

  it('BlockPublicAcls refuses a public ACL on PUT, for the owner and root alike', async () => {
    await ok(setBlock({ BlockPublicAcls: true }));
    refused(await put(a, `/${bucket}/pub/b.txt`, { 'x-amz-acl': 'public-read' }), 403, 'AccessDenied', 'public-read PUT');
    refused(await put(root, `/${bucket}/pub/b.txt`, { 'x-amz-acl': 'public-read' }), 403, 'AccessDenied', 'root public-read PUT');
    refused(await a.send({ method: 'PUT', path: `/${bucket}`, query: { acl: '' }, headers: { 'x-amz-acl': 'public-read' } }), 403, 'AccessDenied', 'PutBucketAcl');
    assert.equal((await put(a, `/${bucket}/pub/b.txt`, { 'x-amz-acl': 'private' })).status, 200, 'private is fine');
  });

  it('IgnorePublicAcls: public-read objects stop being public', async () => {
    await ok(setBlock({}));
    await ok(put(a, `/${bucket}/acl/p.txt`, { 'x-amz-acl': 'public-read' }));
    assert.equal((await anonymous('GET', `/${bucket}/acl/p.txt`)).status, 200, 'before');
    await ok(setBlock({ IgnorePublicAcls: true }));
    refused(await anonymous('GET', `/${bucket}/acl/p.txt`), 403, 'AccessDenied', 'ignored');
    assert.equal((await get(a, `/${bucket}/acl/p.txt`)).status, 200, 'the owner still reads');
    // The public read preset is a public grant too (AllUsers READ).
    await setBucketSettings(root, bucket, { policy: 'public' });
    refused(await anonymous('GET', `/${bucket}/pub/a.txt`), 403, 'AccessDenied', 'public preset ignored');
    await ok(setBlock({}));
    assert.equal((await anonymous('GET', `/${bucket}/pub/a.txt`)).status, 200, 'public preset, no longer ignored');
    await setBucketSettings(root, bucket, { policy: 'private' });
  });

  it('BlockPublicPolicy refuses a public policy, not a narrowed one', async () => {
    await ok(setBlock({ BlockPublicPolicy: true }));
    refused(await putPolicy(a, bucket, publicPolicy), 403, 'AccessDenied', 'public policy');
    const narrowed = policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/pub/*`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } });
    assert.equal((await putPolicy(a, bucket, narrowed)).status, 204);
  });

  it('RestrictPublicBuckets: a public policy grants signed-in users only', async () => {
    await ok(setBlock({}));
    assert.equal((await putPolicy(a, bucket, publicPolicy)).status, 204);
    assert.equal((await anonymous('GET', `/${bucket}/pub/a.txt`)).status, 200, 'before');
    await ok(setBlock({ RestrictPublicBuckets: true }));
    refused(await anonymous('GET', `/${bucket}/pub/a.txt`), 403, 'AccessDenied', 'anonymous');
    assert.equal((await get(b, `/${bucket}/pub/a.txt`)).status, 200, 'B, signed in');
  });

  it('GetBucketPolicyStatus reports S3 public-ness', async () => {
    await ok(setBlock({}));
    const status = async () => xmlValue((await ok(a.send({ method: 'GET', path: `/${bucket}`, query: { policyStatus: '' } }))).body.toString(), 'IsPublic');
    assert.equal((await putPolicy(a, bucket, publicPolicy)).status, 204);
    assert.equal(await status(), 'true');
    const fixed = policy({ Effect: 'Allow', Principal: { CanonicalUser: B }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/pub/*` });
    assert.equal((await putPolicy(a, bucket, fixed)).status, 204);
    assert.equal(await status(), 'false');
    await ok(a.send({ method: 'DELETE', path: `/${bucket}`, query: { policy: '' } }));
    refused(await a.send({ method: 'GET', path: `/${bucket}`, query: { policyStatus: '' } }), 404, 'NoSuchBucketPolicy', 'none');
    await setBucketSettings(root, bucket, { policy: 'public' });
    assert.equal(await status(), 'true', 'a public read preset');
    await setBucketSettings(root, bucket, { policy: 'private' });
  });
});
