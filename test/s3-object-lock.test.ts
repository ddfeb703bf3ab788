// Object lock (issue 18 §3; migration 0025) against a real server: the
// bucket configuration and its default retention, retention and legal hold
// per version, the x-amz-object-lock-* headers, GOVERNANCE bypass only for a
// principal that may, COMPLIANCE and legal holds for no one — over S3, and
// over SQL as the database superuser, since the rule is Postgres's.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf } from './support/principals.ts';
import { postForm, signPostPolicy } from './support/post-policy.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';
import { S3RawClient, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const OWNER = randomUUID();
const OTHER = randomUUID();
let server: TestServer;
let root: S3RawClient;
let owner: S3RawClient;
let other: S3RawClient;
let db: postgres.Sql;

const FUTURE = '2099-01-01T00:00:00.000Z';
const lockConfig = (rule = '') =>
  `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule}</ObjectLockConfiguration>`;
const versionOf = (r: RawResponse) => r.headers['x-amz-version-id'] as string;

function ok(r: RawResponse, status = 200): RawResponse {
  assert.equal(r.status, status, r.body.toString());
  return r;
}

function refused(r: RawResponse, status: number, code: string): void {
  assert.equal(r.status, status, r.body.toString());
  assert.equal(errorCode(r.body), code);
}

before(async () => {
  server = await startTestServer();
  root = new S3RawClient(server.url, server);
  owner = new S3RawClient(server.url, credentialsOf(await createAccessKey(root, OWNER)));
  other = new S3RawClient(server.url, credentialsOf(await createAccessKey(root, OTHER)));
  ok(await owner.send({ method: 'PUT', path: '/locked', headers: { 'x-amz-bucket-object-lock-enabled': 'true' } }));
  db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
});

after(async () => {
  await db?.end({ timeout: 1 });
  await server?.stop();
});

describe('object lock configuration', () => {
  it('comes with versioning Enabled for good, and a default retention that the owner sets', async () => {
    assert.equal(xmlValue(ok(await owner.send({ method: 'GET', path: '/locked', query: { versioning: '' } })).body.toString(), 'Status'), 'Enabled');
    refused(
      await owner.send({
        method: 'PUT',
        path: '/locked',
        query: { versioning: '' },
        body: '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>',
      }),
      409,
      'InvalidBucketState',
    );
    const got = ok(await owner.send({ method: 'GET', path: '/locked', query: { 'object-lock': '' } })).body.toString();
    assert.equal(xmlValue(got, 'ObjectLockEnabled'), 'Enabled');
    assert.equal(xmlValue(got, 'Mode'), undefined);

    const rule = '<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>2</Days></DefaultRetention></Rule>';
    refused(await other.send({ method: 'PUT', path: '/locked', query: { 'object-lock': '' }, body: lockConfig(rule) }), 403, 'AccessDenied');
    for (const bad of [
      '<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule>',
      '<Rule><DefaultRetention><Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule>',
    ]) {
      refused(await owner.send({ method: 'PUT', path: '/locked', query: { 'object-lock': '' }, body: lockConfig(bad) }), 400, 'MalformedXML');
    }
    refused(
      await owner.send({
        method: 'PUT',
        path: '/locked',
        query: { 'object-lock': '' },
        body: lockConfig('<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule>'),
      }),
      400,
      'InvalidArgument',
    );
    ok(await owner.send({ method: 'PUT', path: '/locked', query: { 'object-lock': '' }, body: lockConfig(rule) }));
    const set = ok(await owner.send({ method: 'GET', path: '/locked', query: { 'object-lock': '' } })).body.toString();
    assert.equal(xmlValue(set, 'Mode'), 'GOVERNANCE');
    assert.equal(xmlValue(set, 'Days'), '2');

    // A new version gets the default: retained for two days from now.
    const put = ok(await owner.send({ method: 'PUT', path: '/locked/by-default', body: 'kept' }));
    const head = ok(await owner.send({ method: 'HEAD', path: '/locked/by-default' }));
    assert.equal(head.headers['x-amz-object-lock-mode'], 'GOVERNANCE');
    const until = Date.parse(head.headers['x-amz-object-lock-retain-until-date'] as string);
    assert.ok(Math.abs(until - (Date.now() + 2 * 86_400_000)) < 60_000, `retained until ${new Date(until).toISOString()}`);
    refused(await owner.send({ method: 'DELETE', path: '/locked/by-default', query: { versionId: versionOf(put) } }), 403, 'AccessDenied');
    // Back to no default for the tests below.
    ok(await owner.send({ method: 'PUT', path: '/locked', query: { 'object-lock': '' }, body: lockConfig() }));
  });

  it('is refused on a bucket without versioning, and absent on one without lock', async () => {
    ok(await owner.send({ method: 'PUT', path: '/unlocked' }));
    refused(await owner.send({ method: 'GET', path: '/unlocked', query: { 'object-lock': '' } }), 404, 'ObjectLockConfigurationNotFoundError');
    refused(await owner.send({ method: 'PUT', path: '/unlocked', query: { 'object-lock': '' }, body: lockConfig() }), 409, 'InvalidBucketState');
    refused(
      await owner.send({ method: 'PUT', path: '/unlocked/x', body: 'x', headers: { 'x-amz-object-lock-legal-hold': 'ON' } }),
      400,
      'InvalidRequest',
    );
  });
});

describe('retention and legal hold', () => {
  it('GOVERNANCE holds a version against deletion until a principal that may bypass asks to', async () => {
    const put = ok(
      await owner.send({
        method: 'PUT',
        path: '/locked/gov',
        body: 'governed',
        headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': FUTURE },
      }),
    );
    const v = versionOf(put);
    const retention = ok(await owner.send({ method: 'GET', path: '/locked/gov', query: { retention: '', versionId: v } })).body.toString();
    assert.equal(xmlValue(retention, 'Mode'), 'GOVERNANCE');
    assert.equal(xmlValue(retention, 'RetainUntilDate'), FUTURE);
    // Overwriting and deleting without a version id keep the version: allowed.
    ok(await owner.send({ method: 'PUT', path: '/locked/gov', body: 'newer' }));
    ok(await owner.send({ method: 'DELETE', path: '/locked/gov' }), 204);
    assert.equal(ok(await owner.send({ method: 'GET', path: '/locked/gov', query: { versionId: v } })).body.toString(), 'governed');
    // Deleting it, or shortening its retention, without the bypass: refused.
    refused(await owner.send({ method: 'DELETE', path: '/locked/gov', query: { versionId: v } }), 403, 'AccessDenied');
    const shorter = '<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2098-01-01T00:00:00Z</RetainUntilDate></Retention>';
    refused(await owner.send({ method: 'PUT', path: '/locked/gov', query: { retention: '', versionId: v }, body: shorter }), 403, 'AccessDenied');
    // Lengthening needs no bypass.
    const longer = '<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2100-01-01T00:00:00Z</RetainUntilDate></Retention>';
    ok(await owner.send({ method: 'PUT', path: '/locked/gov', query: { retention: '', versionId: v }, body: longer }));
    // A principal that may not bypass asks in vain.
    const bypass = { 'x-amz-bypass-governance-retention': 'true' };
    refused(await other.send({ method: 'DELETE', path: '/locked/gov', query: { versionId: v }, headers: bypass }), 403, 'AccessDenied');
    ok(await owner.send({ method: 'DELETE', path: '/locked/gov', query: { versionId: v }, headers: bypass }), 204);
    refused(await owner.send({ method: 'GET', path: '/locked/gov', query: { versionId: v } }), 404, 'NoSuchVersion');
  });

  it('COMPLIANCE and legal holds give way to no one: not the root key, not the bypass, not SQL', async () => {
    const put = ok(
      await owner.send({
        method: 'PUT',
        path: '/locked/comp',
        body: 'compliant',
        headers: { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': FUTURE },
      }),
    );
    const v = versionOf(put);
    const bypass = { 'x-amz-bypass-governance-retention': 'true' };
    refused(await root.send({ method: 'DELETE', path: '/locked/comp', query: { versionId: v }, headers: bypass }), 403, 'AccessDenied');
    const governance = `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>${FUTURE}</RetainUntilDate></Retention>`;
    refused(await root.send({ method: 'PUT', path: '/locked/comp', query: { retention: '', versionId: v }, body: governance, headers: bypass }), 403, 'AccessDenied');

    const held = ok(await owner.send({ method: 'PUT', path: '/locked/held', body: 'held', headers: { 'x-amz-object-lock-legal-hold': 'ON' } }));
    const h = versionOf(held);
    assert.equal(xmlValue(ok(await owner.send({ method: 'GET', path: '/locked/held', query: { 'legal-hold': '', versionId: h } })).body.toString(), 'Status'), 'ON');
    assert.equal(ok(await owner.send({ method: 'HEAD', path: '/locked/held' })).headers['x-amz-object-lock-legal-hold'], 'ON');
    refused(await root.send({ method: 'DELETE', path: '/locked/held', query: { versionId: h }, headers: bypass }), 403, 'AccessDenied');

    // The database refuses the superuser too: the rule is checked at commit, whoever writes.
    const [bucket] = await db<{ id: string }[]>`select id from storage.buckets where name = 'locked'`;
    for (const [key, version] of [['comp', v], ['held', h]]) {
      await assert.rejects(
        db`delete from storage.objects where bucket_uuid = ${bucket.id} and key = ${key} and version = ${version}`,
        (err: { code?: string }) => err.code === 'AS010',
        `SQL delete of ${key}`,
      );
    }
    await assert.rejects(
      db`update storage.objects set retain_until = now() where bucket_uuid = ${bucket.id} and key = 'comp'`,
      (err: { code?: string }) => err.code === 'AS010',
    );
    // DeleteObjects reports the locked version alone and deletes the rest.
    const loose = ok(await owner.send({ method: 'PUT', path: '/locked/loose', body: 'loose' }));
    const doc = `<Delete><Object><Key>held</Key><VersionId>${h}</VersionId></Object><Object><Key>loose</Key><VersionId>${versionOf(loose)}</VersionId></Object></Delete>`;
    const batch = ok(await owner.send({ method: 'POST', path: '/locked', query: { delete: '' }, body: doc, headers: { 'content-md5': createHash('md5').update(doc).digest('base64') } })).body.toString();
    assert.match(batch, /<Error><Key>held<\/Key><VersionId>[^<]+<\/VersionId><Code>AccessDenied<\/Code>/);
    assert.match(batch, /<Deleted><Key>loose<\/Key>/);
    // Released, the hold no longer protects it.
    ok(await owner.send({ method: 'PUT', path: '/locked/held', query: { 'legal-hold': '', versionId: h }, body: '<LegalHold><Status>OFF</Status></LegalHold>' }));
    ok(await owner.send({ method: 'DELETE', path: '/locked/held', query: { versionId: h } }), 204);
    // A bucket holding locked versions cannot be deleted.
    refused(await root.send({ method: 'DELETE', path: '/locked' }), 409, 'BucketNotEmpty');
  });

  it('refuses malformed lock headers with S3’s errors, and a retention date in the past', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-amz-object-lock-mode': 'GOVERNANCE' }, 'InvalidArgument'],
      [{ 'x-amz-object-lock-mode': 'SOMETIMES', 'x-amz-object-lock-retain-until-date': FUTURE }, 'InvalidArgument'],
      [{ 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': 'tomorrow' }, 'InvalidArgument'],
      [{ 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2001-01-01T00:00:00Z' }, 'InvalidArgument'],
      [{ 'x-amz-object-lock-legal-hold': 'MAYBE' }, 'InvalidArgument'],
    ];
    for (const [headers, code] of cases) {
      refused(await owner.send({ method: 'PUT', path: '/locked/bad', body: 'x', headers }), 400, code);
    }
  });

  it('takes the lock as POST Object form fields, and names the version in x-amz-version-id', async () => {
    const keyCreds = await createAccessKey(root, OWNER);
    const fields = { key: 'posted', 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': FUTURE };
    const signed = signPostPolicy({
      accessKeyId: keyCreds.access_key_id,
      secretAccessKey: keyCreds.secret_access_key,
      conditions: [{ bucket: 'locked' }, ...Object.entries(fields).map(([k, v]) => ({ [k]: v }))],
    });
    const res = await fetch(`${server.url}/locked`, { method: 'POST', body: postForm(fields, signed, { data: 'posted' }) });
    assert.equal(res.status, 204, await res.text());
    const v = res.headers.get('x-amz-version-id') as string;
    assert.ok(v, 'POST Object names the version');
    const head = ok(await owner.send({ method: 'HEAD', path: '/locked/posted', query: { versionId: v } }));
    assert.equal(head.headers['x-amz-object-lock-mode'], 'GOVERNANCE');
    refused(await owner.send({ method: 'DELETE', path: '/locked/posted', query: { versionId: v } }), 403, 'AccessDenied');
  });

  it('gives a multipart upload’s object the lock asked for at creation', async () => {
    const created = ok(
      await owner.send({
        method: 'POST',
        path: '/locked/mp',
        query: { uploads: '' },
        headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': FUTURE },
      }),
    );
    const uploadId = xmlValue(created.body.toString(), 'UploadId') as string;
    const part = ok(await owner.send({ method: 'PUT', path: '/locked/mp', query: { partNumber: '1', uploadId }, body: 'only part' }));
    const done = ok(
      await owner.send({
        method: 'POST',
        path: '/locked/mp',
        query: { uploadId },
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`,
      }),
    );
    const v = versionOf(done);
    assert.ok(v, 'CompleteMultipartUpload names the new version');
    const head = ok(await owner.send({ method: 'HEAD', path: '/locked/mp', query: { versionId: v } }));
    assert.equal(head.headers['x-amz-object-lock-mode'], 'GOVERNANCE');
    refused(await owner.send({ method: 'DELETE', path: '/locked/mp', query: { versionId: v } }), 403, 'AccessDenied');
  });
});
