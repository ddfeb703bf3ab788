// AEROSTORE_BUCKET_CREATORS=service: only the service role creates buckets;
// users still work in the buckets they are given.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { errorCode } from './support/s3-xml.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let srv: TestServer;
let root: S3RawClient;
let user: S3RawClient;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_BUCKET_CREATORS: 'service' } });
  root = new S3RawClient(srv.url, srv);
  user = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, randomUUID())));
});
after(() => srv?.stop());

it('a user may not create a bucket; the service role may, and may let the user write into it', async () => {
  const refused = await user.send({ method: 'PUT', path: '/user-made' });
  assert.equal(refused.status, 403);
  assert.equal(errorCode(refused.body.toString()), 'AccessDenied');
  assert.equal((await root.send({ method: 'HEAD', path: '/user-made' })).status, 404, 'nothing was created');

  assert.equal((await root.send({ method: 'PUT', path: '/service-made' })).status, 200);
  assert.equal((await user.send({ method: 'PUT', path: '/service-made/x', body: 'x' })).status, 403, 'not the owner, no member writes');
  await setBucketSettings(root, 'service-made', { member_writes: true });
  assert.equal((await user.send({ method: 'PUT', path: '/service-made/x', body: 'x' })).status, 200);
  assert.equal((await user.send({ method: 'GET', path: '/service-made/x' })).body.toString(), 'x');
});
