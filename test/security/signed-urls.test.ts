// Issue 13, finding 2: a /storage/v1 signed URL grants what its signer could
// read (or write) when it was signed, and nothing that later takes the name.
// A download token is bound to the bucket's id, the object's id and its
// content (sha256): (a) a key deleted and re-written by someone else, (b) a
// bucket deleted and re-created under the same name, (c) an object made
// private and overwritten — each answers as a missing object and shows
// nothing of the new one. It is read as its signer, so it also stops when
// the signer can no longer read the object. An upload token is bound to the
// bucket's id: a bucket re-created under the same name refuses it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { setBucketSettings, userJwt } from '../support/principals.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SECRET = 'security-signed-urls-test-secret-0123456789';
let srv: TestServer;
let api: string;
let root: S3RawClient;
let asAlice: StorageClient;
let asBob: StorageClient;
let asCarol: StorageClient;

const clientFor = (token: string) => new StorageClient(api, { apikey: token, Authorization: `Bearer ${token}` });

async function createBucketAsRoot(name: string): Promise<void> {
  const res = await root.send({ method: 'PUT', path: `/${name}` });
  assert.equal(res.status, 200, String(res.body));
}

async function upload(client: StorageClient, bucket: string, key: string, text: string, upsert = false): Promise<void> {
  const up = await client.from(bucket).upload(key, Buffer.from(text), { contentType: 'text/plain', upsert });
  assert.equal(up.error, null, String(up.error));
}

async function signDownload(client: StorageClient, bucket: string, key: string): Promise<string> {
  const signed = await client.from(bucket).createSignedUrl(key, 600);
  assert.equal(signed.error, null, String(signed.error));
  return signed.data!.signedUrl;
}

/** What a fetch of the URL answers, as a missing object must: 404 FILE_NOT_FOUND, nothing of any other object. */
async function assertAnswersAsMissing(url: string, secret: string): Promise<void> {
  for (const method of ['GET', 'HEAD']) {
    const res = await fetch(url, { method });
    const text = await res.text();
    assert.equal(res.status, 404, `${method}: ${res.status} ${text}`);
    assert.equal(res.headers.get('etag'), null, method);
    assert.doesNotMatch(res.headers.get('content-type') ?? '', /text\/plain/, method);
    if (method === 'GET') {
      assert.ok(!text.includes(secret), 'the new object’s bytes are not served');
      assert.equal((JSON.parse(text) as { error: string }).error, 'FILE_NOT_FOUND');
    }
  }
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  api = `${srv.url}/storage/v1`;
  root = new S3RawClient(srv.url, { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey });
  asAlice = clientFor(await userJwt(SECRET, randomUUID()));
  asBob = clientFor(await userJwt(SECRET, randomUUID()));
  asCarol = clientFor(await userJwt(SECRET, randomUUID()));
});
after(async () => {
  await srv?.stop();
});

describe('a signed download URL is bound to the object it was signed for', () => {
  it('an unchanged object is served', async () => {
    assert.equal((await asBob.createBucket('bob-plain')).error, null);
    await upload(asBob, 'bob-plain', 'k.txt', 'bob plain');
    const url = await signDownload(asBob, 'bob-plain', 'k.txt');
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'bob plain');
  });

  it('(a) the key deleted and re-written by another member: not served', async () => {
    await createBucketAsRoot('shared-a');
    await setBucketSettings(root, 'shared-a', { member_writes: true });
    await upload(asBob, 'shared-a', 'note.txt', 'bob public note');
    const url = await signDownload(asBob, 'shared-a', 'note.txt');
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await asBob.from('shared-a').remove(['note.txt'])).error, null);
    await upload(asAlice, 'shared-a', 'note.txt', 'alice private secret');
    // Bob cannot read Alice's object himself…
    assert.notEqual((await asBob.from('shared-a').download('note.txt')).error, null);
    // …and neither can the URL he signed for his own.
    await assertAnswersAsMissing(url, 'alice private secret');
  });

  it('(b) the bucket deleted and re-created by another user: not served', async () => {
    assert.equal((await asBob.createBucket('reborn-b')).error, null);
    await upload(asBob, 'reborn-b', 'k.txt', 'bob bytes');
    const url = await signDownload(asBob, 'reborn-b', 'k.txt');
    assert.equal((await asBob.emptyBucket('reborn-b')).error, null);
    assert.equal((await asBob.deleteBucket('reborn-b')).error, null);
    assert.equal((await asAlice.createBucket('reborn-b')).error, null);
    await upload(asAlice, 'reborn-b', 'k.txt', 'alice reborn secret');
    await assertAnswersAsMissing(url, 'alice reborn secret');
  });

  it('(c) the bucket made private and the object overwritten in place: not served', async () => {
    assert.equal((await asCarol.createBucket('authread-c')).error, null);
    await setBucketSettings(root, 'authread-c', { policy: 'authenticated' });
    await upload(asCarol, 'authread-c', 'k.txt', 'carol shared');
    // Bob may read it (authenticated read), so he may sign it.
    const url = await signDownload(asBob, 'authread-c', 'k.txt');
    assert.equal(await (await fetch(url)).text(), 'carol shared');
    await setBucketSettings(root, 'authread-c', { policy: 'private' });
    await upload(asCarol, 'authread-c', 'k.txt', 'carol private secret', true);
    await assertAnswersAsMissing(url, 'carol private secret');
  });

  it('the URL is read as its signer: made private, unchanged, it stops for a signer who lost read access', async () => {
    assert.equal((await asCarol.createBucket('authread-revoke')).error, null);
    await setBucketSettings(root, 'authread-revoke', { policy: 'authenticated' });
    await upload(asCarol, 'authread-revoke', 'k.txt', 'carol once shared');
    const bobs = await signDownload(asBob, 'authread-revoke', 'k.txt');
    const carols = await signDownload(asCarol, 'authread-revoke', 'k.txt');
    await setBucketSettings(root, 'authread-revoke', { policy: 'private' });
    await assertAnswersAsMissing(bobs, 'carol once shared');
    // The owner still reads it: her URL still works.
    assert.equal(await (await fetch(carols)).text(), 'carol once shared');
  });

  it('an overwrite by the signer himself also ends the URL (it names content, not a key)', async () => {
    assert.equal((await asBob.createBucket('bob-over')).error, null);
    await upload(asBob, 'bob-over', 'k.txt', 'version one');
    const url = await signDownload(asBob, 'bob-over', 'k.txt');
    await upload(asBob, 'bob-over', 'k.txt', 'version two', true);
    await assertAnswersAsMissing(url, 'version two');
  });

  it('a batch-signed URL (createSignedUrls) is bound the same way', async () => {
    await createBucketAsRoot('shared-batch');
    await setBucketSettings(root, 'shared-batch', { member_writes: true });
    await upload(asBob, 'shared-batch', 'n.txt', 'bob batch');
    const signed = await asBob.from('shared-batch').createSignedUrls(['n.txt'], 600);
    assert.equal(signed.error, null, String(signed.error));
    const url = signed.data![0].signedUrl as string;
    assert.equal(await (await fetch(url)).text(), 'bob batch');
    assert.equal((await asBob.from('shared-batch').remove(['n.txt'])).error, null);
    await upload(asAlice, 'shared-batch', 'n.txt', 'alice batch secret');
    await assertAnswersAsMissing(url, 'alice batch secret');
  });
});

describe('a signed upload URL is bound to the bucket it was signed for', () => {
  it('a bucket re-created under the same name refuses an old upload token', async () => {
    assert.equal((await asBob.createBucket('reborn-up')).error, null);
    const signed = await asBob.from('reborn-up').createSignedUploadUrl('drop.txt');
    assert.equal(signed.error, null, String(signed.error));
    assert.equal((await asBob.deleteBucket('reborn-up')).error, null);
    // Alice's new bucket takes member writes: Bob could write into it himself, but not with a token signed for the old one.
    assert.equal((await asAlice.createBucket('reborn-up')).error, null);
    await setBucketSettings(root, 'reborn-up', { member_writes: true });
    const used = await asBob.from('reborn-up').uploadToSignedUrl('drop.txt', signed.data!.token, Buffer.from('planted'));
    assert.notEqual(used.error, null, 'the old token is refused');
    const listed = await asAlice.from('reborn-up').list();
    assert.deepEqual(listed.data?.map((o) => o.name), []);
  });

  it('the same bucket still takes its upload token', async () => {
    assert.equal((await asBob.createBucket('still-up')).error, null);
    const signed = await asBob.from('still-up').createSignedUploadUrl('drop.txt');
    assert.equal(signed.error, null, String(signed.error));
    const used = await asBob.from('still-up').uploadToSignedUrl('drop.txt', signed.data!.token, Buffer.from('ok'));
    assert.equal(used.error, null, String(used.error));
  });
});
