// Versions over /storage/v1 (issue 18 §5): an owner lists a key's versions,
// downloads a past one, restores one (and undeletes a deleted object); a
// stranger sees none of that history; /object/copy takes sourceVersionId,
// as Supabase's copy body does.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { userJwt } from './support/principals.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'storage-versions-jwt-secret-0123456789';
const OWNER = randomUUID();
const STRANGER = randomUUID();
let srv: TestServer;
let ownerToken: string;
let strangerToken: string;

interface Listed {
  versions: Array<{ version_id: string; is_latest: boolean; delete_marker: boolean; size: number | null }>;
  next_cursor: string | null;
}

const api = (token: string, path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}/storage/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

async function versions(token: string, key: string, query = ''): Promise<Listed> {
  const res = await api(token, `/object/versions/docs/${key}${query}`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Listed;
}

async function upload(body: string): Promise<void> {
  const res = await api(ownerToken, '/object/docs/report.txt', { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
  assert.equal(res.status, 200, await res.text());
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET } });
  [ownerToken, strangerToken] = await Promise.all([userJwt(SECRET, OWNER), userJwt(SECRET, STRANGER)]);
  const created = await api(ownerToken, '/bucket', { method: 'POST', body: JSON.stringify({ name: 'docs', public: true }) });
  assert.equal(created.status, 200, await created.text());
  const root = new S3RawClient(srv.url, srv);
  const enabled = await root.send({
    method: 'PUT',
    path: '/docs',
    query: { versioning: '' },
    body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
  });
  assert.equal(enabled.status, 200, enabled.body.toString());
});

after(() => srv?.stop());

describe('/storage/v1 versions', () => {
  it('lists, downloads and restores a key’s versions for its owner, newest first, with a cursor', async () => {
    for (const body of ['first', 'second', 'third']) await upload(body);
    const all = await versions(ownerToken, 'report.txt');
    assert.deepEqual(all.versions.map((v) => [v.size, v.is_latest]), [[5, true], [6, false], [5, false]]);
    const [third, second, first] = all.versions.map((v) => v.version_id);

    const page = await versions(ownerToken, 'report.txt', '?limit=2');
    assert.deepEqual(page.versions.map((v) => v.version_id), [third, second]);
    assert.equal(page.next_cursor, second);
    const rest = await versions(ownerToken, 'report.txt', `?limit=2&cursor=${second}`);
    assert.deepEqual(rest.versions.map((v) => v.version_id), [first]);
    assert.equal(rest.next_cursor, null);

    const old = await api(ownerToken, `/object/docs/report.txt?versionId=${first}`);
    assert.equal(await old.text(), 'first');
    const info = (await (await api(ownerToken, `/object/info/docs/report.txt?versionId=${second}`)).json()) as { version_id: string; size: number };
    assert.deepEqual([info.version_id, info.size], [second, 6]);

    const restored = await api(ownerToken, '/object/restore/docs/report.txt', { method: 'POST', body: JSON.stringify({ versionId: first }) });
    assert.equal(restored.status, 200, await restored.clone().text());
    assert.equal(await (await api(ownerToken, '/object/docs/report.txt')).text(), 'first');
    assert.equal((await versions(ownerToken, 'report.txt')).versions.length, 4, 'restoring adds a version; none is lost');
  });

  it('undeletes a deleted object, and refuses to “restore” one that is not deleted without a version id', async () => {
    const notDeleted = await api(ownerToken, '/object/restore/docs/report.txt', { method: 'POST', body: '{}' });
    assert.equal(notDeleted.status, 400);
    const removed = await api(ownerToken, '/object/docs/report.txt', { method: 'DELETE' });
    assert.equal(removed.status, 200, await removed.text());
    assert.equal((await api(ownerToken, '/object/docs/report.txt')).status, 404);
    const latest = (await versions(ownerToken, 'report.txt')).versions[0];
    assert.deepEqual([latest.delete_marker, latest.is_latest], [true, true]);
    const undeleted = await api(ownerToken, '/object/restore/docs/report.txt', { method: 'POST', body: '{}' });
    assert.equal(undeleted.status, 200, await undeleted.clone().text());
    assert.equal(await (await api(ownerToken, '/object/docs/report.txt')).text(), 'first');
  });

  it('shows a stranger the current object of a public bucket, and none of its history', async () => {
    const mine = await versions(ownerToken, 'report.txt');
    const past = mine.versions.find((v) => !v.is_latest && !v.delete_marker)?.version_id as string;
    const theirs = await versions(strangerToken, 'report.txt');
    assert.deepEqual(theirs.versions.map((v) => v.is_latest), [true], 'the current version only');
    assert.equal((await api(strangerToken, '/object/docs/report.txt')).status, 200);
    const old = await api(strangerToken, `/object/docs/report.txt?versionId=${past}`);
    assert.equal(old.status, 403, 'refused, whether it exists or not');
    const restore = await api(strangerToken, '/object/restore/docs/report.txt', { method: 'POST', body: JSON.stringify({ versionId: past }) });
    assert.ok(restore.status === 403 || restore.status === 404, `a stranger's restore answered ${restore.status}`);
  });

  it('takes sourceVersionId in /object/copy, as Supabase’s copy body has it, and storage-js downloads the copy', async () => {
    const first = (await versions(ownerToken, 'report.txt')).versions.at(-1)?.version_id as string;
    const client = new StorageClient(`${srv.url}/storage/v1`, { apikey: ownerToken, Authorization: `Bearer ${ownerToken}` });
    const res = await api(ownerToken, '/object/copy', {
      method: 'POST',
      body: JSON.stringify({ bucketId: 'docs', sourceKey: 'report.txt', destinationKey: 'copy-of-first.txt', sourceVersionId: first }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { data, error } = await client.from('docs').download('copy-of-first.txt');
    assert.equal(error, null);
    assert.equal(await data?.text(), 'first');
  });
});
