// The access matrix for history (issue 18 §2: "row-level security and every
// access rule apply per version"): five principals × three bucket presets
// (each versioned, taking members' writes) × five operations on past
// versions, every cell stated in a literal table and checked against a real
// server, with each cell's effect checked afterwards as the root key.
//
// The rule (docs/security.md "Versions and object lock"): past versions and
// delete markers are read by the root key, the bucket's owner and the
// version's own owner; deleted, retagged or given a retention by the bucket's
// owner, or by the version's owner where the bucket takes members' writes.
// The bucket's read preset (public, authenticated) opens current objects, never
// history.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { S3RawClient, sendRaw, type RawRequest, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const A = randomUUID(); // owns the buckets
const B = randomUUID(); // a member: writes its own versions
const C = randomUUID(); // a signed-in stranger

type Who = 'root' | 'owner' | 'member' | 'stranger' | 'anonymous';
type Op = 'get-own' | 'get-other' | 'list' | 'tag-other' | 'delete-other';
const PRESETS = ['private', 'authenticated', 'public'] as const;

/**
 * Per principal and operation, the same in every preset: 'ok', or the status
 * of the refusal — 403 AccessDenied whether the version exists or not (S3's
 * answer without s3:GetObjectVersion; nothing learnt about others' versions).
 * "own": a past version the member wrote; "other": one the owner wrote.
 * `list`: whether ListObjectVersions shows the owner's past version.
 */
const EXPECTED: Record<Who, Record<Op, 'ok' | 'hidden' | 403>> = {
  root: { 'get-own': 'ok', 'get-other': 'ok', list: 'ok', 'tag-other': 'ok', 'delete-other': 'ok' },
  owner: { 'get-own': 'ok', 'get-other': 'ok', list: 'ok', 'tag-other': 'ok', 'delete-other': 'ok' },
  member: { 'get-own': 'ok', 'get-other': 403, list: 'hidden', 'tag-other': 403, 'delete-other': 403 },
  stranger: { 'get-own': 403, 'get-other': 403, list: 'hidden', 'tag-other': 403, 'delete-other': 403 },
  anonymous: { 'get-own': 403, 'get-other': 403, list: 'hidden', 'tag-other': 403, 'delete-other': 403 },
};

let server: TestServer;
let clients: Record<Exclude<Who, 'anonymous'>, S3RawClient>;
const past: Record<string, { own: string; other: string }> = {};

function send(who: Who, req: RawRequest): Promise<RawResponse> {
  if (who === 'anonymous') {
    const url = new URL(req.path, server.url);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    return sendRaw(new URL(server.url), req.method, `${url.pathname}${url.search}`, req.headers ?? {}, req.body);
  }
  return clients[who].send(req);
}

async function ok(p: Promise<RawResponse>): Promise<RawResponse> {
  const res = await p;
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.body}`);
  return res;
}

before(async () => {
  server = await startTestServer();
  const root = new S3RawClient(server.url, server);
  const [ka, kb, kc] = await Promise.all([A, B, C].map((u) => createAccessKey(root, u)));
  clients = { root, owner: new S3RawClient(server.url, credentialsOf(ka)), member: new S3RawClient(server.url, credentialsOf(kb)), stranger: new S3RawClient(server.url, credentialsOf(kc)) };
  for (const preset of PRESETS) {
    const bucket = `hist-${preset}`;
    await ok(clients.owner.send({ method: 'PUT', path: `/${bucket}` }));
    await setBucketSettings(root, bucket, { policy: preset, member_writes: true });
    await ok(
      clients.owner.send({
        method: 'PUT',
        path: `/${bucket}`,
        query: { versioning: '' },
        body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
      }),
    );
    const write = async (who: 'owner' | 'member', key: string, body: string) =>
      (await ok(clients[who].send({ method: 'PUT', path: `/${bucket}/${key}`, body }))).headers['x-amz-version-id'] as string;
    const other = await write('owner', 'owners', 'owner v1');
    await write('owner', 'owners', 'owner v2');
    const own = await write('member', 'members', 'member v1');
    await write('member', 'members', 'member v2');
    past[preset] = { own, other };
  }
});

after(() => server?.stop());

/** Whether the owner's past version is still there, as the root key sees it. */
async function stillThere(bucket: string, version: string): Promise<boolean> {
  return (await clients.root.send({ method: 'HEAD', path: `/${bucket}/owners`, query: { versionId: version } })).status === 200;
}

describe('history: principal × preset × operation', () => {
  for (const preset of PRESETS) {
    for (const who of ['member', 'stranger', 'anonymous', 'owner', 'root'] as Who[]) {
      it(`${preset} bucket, ${who}`, async () => {
        const bucket = `hist-${preset}`;
        const { own, other } = past[preset];
        const expected = EXPECTED[who];
        const answer = (res: RawResponse) => (res.status >= 200 && res.status < 300 ? 'ok' : res.status);

        const getOwn = await send(who, { method: 'GET', path: `/${bucket}/members`, query: { versionId: own } });
        assert.equal(answer(getOwn), expected['get-own'], `GET the member's past version: ${getOwn.status} ${getOwn.body}`);
        if (getOwn.status === 200) assert.equal(getOwn.body.toString(), 'member v1');
        const getOther = await send(who, { method: 'GET', path: `/${bucket}/owners`, query: { versionId: other } });
        assert.equal(answer(getOther), expected['get-other'], `GET the owner's past version: ${getOther.status} ${getOther.body}`);

        const list = await send(who, { method: 'GET', path: `/${bucket}`, query: { versions: '' } });
        const shows = list.status === 200 && list.body.toString().includes(`<VersionId>${other}</VersionId>`);
        assert.equal(shows ? 'ok' : 'hidden', expected.list, `ListObjectVersions: ${list.status} ${list.body}`);
        if (list.status === 200) assert.doesNotMatch(list.body.toString(), shows ? /$^/ : /owner v1/);

        const tagging = '<Tagging><TagSet><Tag><Key>seen</Key><Value>yes</Value></Tag></TagSet></Tagging>';
        const tag = await send(who, { method: 'PUT', path: `/${bucket}/owners`, query: { tagging: '', versionId: other }, body: tagging });
        assert.equal(answer(tag), expected['tag-other'], `tag the owner's past version: ${tag.status} ${tag.body}`);

        const del = await send(who, { method: 'DELETE', path: `/${bucket}/owners`, query: { versionId: other } });
        assert.equal(answer(del), expected['delete-other'], `delete the owner's past version: ${del.status} ${del.body}`);
        assert.equal(await stillThere(bucket, other), expected['delete-other'] !== 'ok', 'the version is there exactly when the delete was refused');
        if (expected['delete-other'] === 'ok') {
          // Put one back for the principals that follow.
          await ok(clients.owner.send({ method: 'PUT', path: `/${bucket}/owners`, body: 'owner v3' }));
          const listing = (await clients.root.send({ method: 'GET', path: `/${bucket}`, query: { versions: '', prefix: 'owners' } })).body.toString();
          past[preset].other = [...listing.matchAll(/<VersionId>([^<]+)<\/VersionId><IsLatest>false<\/IsLatest>/g)][0][1];
        }
      });
    }
  }
});
