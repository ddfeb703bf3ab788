// Canned ACLs mapped onto bucket read policies, against a real server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
});
after(() => server?.stop());

async function groupsOf(path: string): Promise<string[]> {
  const res = await s3.send({ method: 'GET', path, query: { acl: '' } });
  assert.equal(res.status, 200, res.body.toString());
  const xml = res.body.toString();
  assert.match(xml, /<Permission>FULL_CONTROL<\/Permission>/, 'the owner always has full control');
  return [...xml.matchAll(/<URI>([^<]+)<\/URI><\/Grantee><Permission>READ<\/Permission>/g)].map((m) => m[1]);
}

describe('canned ACLs', () => {
  it('x-amz-acl on CreateBucket sets the policy GetBucketAcl reports', async () => {
    assert.equal((await s3.send({ method: 'PUT', path: '/pub', headers: { 'x-amz-acl': 'public-read' } })).status, 200);
    assert.deepEqual(await groupsOf('/pub'), [ALL_USERS]);
    assert.equal((await s3.send({ method: 'PUT', path: '/priv' })).status, 200);
    assert.deepEqual(await groupsOf('/priv'), []);
  });

  it('PutBucketAcl takes a canned ACL or an AccessControlPolicy document', async () => {
    assert.equal((await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, headers: { 'x-amz-acl': 'authenticated-read' } })).status, 200);
    assert.deepEqual(await groupsOf('/priv'), [AUTH_USERS]);
    const doc = `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><AccessControlList>
      <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>
      </AccessControlList></AccessControlPolicy>`;
    assert.equal((await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, body: doc })).status, 200);
    assert.deepEqual(await groupsOf('/priv'), [ALL_USERS]);
    assert.equal((await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, headers: { 'x-amz-acl': 'private' } })).status, 200);
    assert.deepEqual(await groupsOf('/priv'), []);
  });

  it('refuses unknown canned ACLs, grant headers and malformed documents', async () => {
    const bad = await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, headers: { 'x-amz-acl': 'everyone' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    const grants = await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, headers: { 'x-amz-grant-read': `uri="${ALL_USERS}"` } });
    assert.equal(errorCode(grants.body), 'NotImplemented');
    const malformed = await s3.send({ method: 'PUT', path: '/priv', query: { acl: '' }, body: '<Nope/>' });
    assert.equal(errorCode(malformed.body), 'MalformedACLError');
    assert.equal(errorCode((await s3.send({ method: 'GET', path: '/missing-bucket', query: { acl: '' } })).body), 'NoSuchBucket');
  });

  it('object ACLs follow their bucket and never make one object more public', async () => {
    assert.equal((await s3.send({ method: 'PUT', path: '/pub/o', body: 'x' })).status, 200);
    assert.equal((await s3.send({ method: 'PUT', path: '/priv/o', body: 'x' })).status, 200);
    assert.deepEqual(await groupsOf('/pub/o'), [ALL_USERS]);
    assert.deepEqual(await groupsOf('/priv/o'), []);
    const ok = await s3.send({ method: 'PUT', path: '/priv/o', query: { acl: '' }, headers: { 'x-amz-acl': 'private' } });
    assert.equal(ok.status, 200);
    const refused = await s3.send({ method: 'PUT', path: '/priv/o', query: { acl: '' }, headers: { 'x-amz-acl': 'public-read' } });
    assert.equal(refused.status, 501);
    assert.equal(errorCode(refused.body), 'NotImplemented');
    assert.equal(errorCode((await s3.send({ method: 'GET', path: '/priv/nope', query: { acl: '' } })).body), 'NoSuchKey');
  });
});
