// In a bucket open to member writes, key names are one namespace shared by
// its members, as the names in a shared directory are: a write onto a key
// another member holds is refused (403), a free key is taken (200), so a
// member learns that a name is taken. docs/security.md ("Threat model")
// accepts that, as S3 itself reveals which bucket names exist; this pins
// down that nothing more leaks — not the object's size, ETag, owner or
// bytes, over either API — and that the taken object is left untouched.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAccessKey, credentialsOf, setBucketSettings, userJwt } from '../support/principals.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SECRET = 'member-writes-test-secret-0123456789abcdef';
const OWNER = randomUUID();
const MEMBER = randomUUID();
let srv: TestServer;
let owner: S3RawClient;
let member: S3RawClient;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  const root = new S3RawClient(srv.url, srv);
  owner = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, OWNER)));
  member = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, MEMBER)));
  assert.equal((await owner.send({ method: 'PUT', path: '/dropbox' })).status, 200);
  await setBucketSettings(root, 'dropbox', { member_writes: true });
  assert.equal((await owner.send({ method: 'PUT', path: '/dropbox/taken.txt', body: 'owner bytes, 27 of them....' })).status, 200);
});

after(() => srv?.stop());

describe('member writes: a taken name is all a member learns', () => {
  it('over S3: 403 without details for a taken key, 200 for a free one', async () => {
    const refused = await member.send({ method: 'PUT', path: '/dropbox/taken.txt', body: 'member bytes' });
    assert.equal(refused.status, 403);
    const body = refused.body.toString();
    assert.match(body, /<Code>AccessDenied<\/Code>/);
    // The random RequestId may hold "27" (it did, in CI): look at the rest.
    assert.doesNotMatch(body.replace(/<RequestId>[0-9A-F]*<\/RequestId>/, ''), /27|ETag|Size|Owner|owner bytes/i);
    assert.equal((await member.send({ method: 'GET', path: '/dropbox/taken.txt' })).status, 403);
    assert.equal((await member.send({ method: 'HEAD', path: '/dropbox/taken.txt' })).status, 403);
    // A missing key reads the same as a taken one: reads reveal nothing.
    assert.equal((await member.send({ method: 'GET', path: '/dropbox/free-for-now.txt' })).status, 403);
    assert.equal((await member.send({ method: 'PUT', path: '/dropbox/free.txt', body: 'member bytes' })).status, 200);
    assert.equal((await owner.send({ method: 'GET', path: '/dropbox/taken.txt' })).body.toString(), 'owner bytes, 27 of them....');
  });

  it('over /storage/v1: the same', async () => {
    const token = await userJwt(SECRET, MEMBER);
    const upload = (key: string) =>
      fetch(`${srv.url}/storage/v1/object/dropbox/${key}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'x-upsert': 'true' },
        body: 'member bytes',
      });
    const refused = await upload('taken.txt');
    assert.equal(refused.status, 403);
    assert.doesNotMatch(await refused.text(), /27|etag|size|owner bytes/i);
    assert.equal((await upload('free-native.txt')).status, 200);
    assert.equal((await owner.send({ method: 'GET', path: '/dropbox/taken.txt' })).body.toString(), 'owner bytes, 27 of them....');
  });
});
