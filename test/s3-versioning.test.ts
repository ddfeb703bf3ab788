// Object versioning held to Amazon S3's documented behaviour (issue 18 §1–§2),
// written from S3's API reference and user guide, not from the server's code:
// Put/GetBucketVersioning; version ids on every write (PUT, POST, copy,
// multipart, concurrent PUTs); GET, HEAD, DELETE, copy, part copy, tagging,
// ACL and GetObjectAttributes by version id; delete markers (404 with the
// marker's headers, 405 by id, undelete); DeleteObjects with and without
// version ids; ListObjectVersions' order, IsLatest, delimiter, markers and
// encoding; the Suspended state's `null` version; deduplication of versions
// into one blob, its collection, and fsck; conditional writes against the
// current version; who may see history (owner, member, others, anonymous);
// events. test/s3-versions.test.ts covers a bucket that never had versioning.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { runAerostore } from './support/aerostore-cli.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { postForm, signPostPolicy } from './support/post-policy.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { S3RawClient, encodeKey, sendRaw, type RawRequest, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const A = randomUUID(); // a user who owns buckets of its own
const B = randomUUID(); // a member writing into A's bucket
const C = randomUUID(); // another user
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

let server: TestServer;
let base: URL;
let s3: S3RawClient; // the root key (service role)
let a: S3RawClient;
let b: S3RawClient;
let c: S3RawClient;
let db: postgres.Sql;

before(async () => {
  server = await startTestServer();
  base = new URL(server.url);
  s3 = new S3RawClient(server.url, server);
  const [ka, kb, kc] = await Promise.all([A, B, C].map((u) => createAccessKey(s3, u)));
  a = new S3RawClient(server.url, credentialsOf(ka));
  b = new S3RawClient(server.url, credentialsOf(kb));
  c = new S3RawClient(server.url, credentialsOf(kc));
  db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
});
after(async () => {
  await db?.end({ timeout: 1 });
  await server?.stop();
});

// ---- helpers ---------------------------------------------------------------

function show(res: RawResponse): string {
  return `${res.status} ${JSON.stringify(res.headers)} ${res.body.toString().slice(0, 600)}`;
}

async function ok(p: Promise<RawResponse>, status = 200): Promise<RawResponse> {
  const res = await p;
  assert.equal(res.status, status, show(res));
  return res;
}

function refused(res: RawResponse, status: number, code: string | undefined, what = ''): void {
  assert.equal(res.status, status, `${what}: ${show(res)}`);
  if (code) assert.equal(errorCode(res.body), code, `${what}: ${show(res)}`);
}

const header = (res: RawResponse, name: string) => res.headers[name] as string | undefined;
const versionOf = (res: RawResponse) => header(res, 'x-amz-version-id');
const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');
const md5b64 = (s: string) => createHash('md5').update(s).digest('base64');
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

const versioningXml = (status: string, extra = '') => `<VersioningConfiguration ${NS}><Status>${status}</Status>${extra}</VersioningConfiguration>`;
const putVersioning = (bucket: string, status: string, client = s3, extra = '') =>
  client.send({ method: 'PUT', path: `/${bucket}`, query: { versioning: '' }, body: versioningXml(status, extra) });
const getVersioning = (bucket: string, client = s3) => client.send({ method: 'GET', path: `/${bucket}`, query: { versioning: '' } });

async function versionedBucket(name: string, client = s3): Promise<void> {
  await ok(client.send({ method: 'PUT', path: `/${name}` }));
  await ok(putVersioning(name, 'Enabled', client));
}

/** PUT, asserting 200; the response (its x-amz-version-id is the new version). */
const put = (bucket: string, key: string, body: string | Buffer, headers: Record<string, string> = {}, client = s3) =>
  ok(client.send({ method: 'PUT', path: `/${bucket}/${key}`, body, headers }));

const get = (bucket: string, key: string, versionId?: string, client = s3, method = 'GET') =>
  client.send({ method, path: `/${bucket}/${key}`, query: versionId === undefined ? {} : { versionId } });
const head = (bucket: string, key: string, versionId?: string, client = s3) => get(bucket, key, versionId, client, 'HEAD');
const del = (bucket: string, key: string, versionId?: string, client = s3) => get(bucket, key, versionId, client, 'DELETE');

/** No credentials at all, as curl or a browser sends it. */
function anonymous(method: string, path: string): Promise<RawResponse> {
  return sendRaw(base, method, path, { host: base.host });
}

interface Entry {
  kind: 'Version' | 'DeleteMarker';
  key: string;
  versionId: string;
  isLatest: string;
  etag?: string;
  size?: string;
  lastModified?: string;
  owner?: string;
}

/** The Version and DeleteMarker entries of a ListVersionsResult, in document order. */
function entriesOf(xml: string): Entry[] {
  return [...xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)].map(([, kind, inner]) => ({
    kind: kind as Entry['kind'],
    key: xmlValue(inner, 'Key')!,
    versionId: xmlValue(inner, 'VersionId')!,
    isLatest: xmlValue(inner, 'IsLatest')!,
    etag: xmlValue(inner, 'ETag')?.replaceAll('&quot;', '"').replaceAll('&#34;', '"'),
    size: xmlValue(inner, 'Size'),
    lastModified: xmlValue(inner, 'LastModified'),
    owner: xmlValue(/<Owner>[\s\S]*?<\/Owner>/.exec(inner)?.[0] ?? '', 'ID'),
  }));
}

/** The CommonPrefixes of a listing. */
const prefixesOf = (xml: string) => [...xml.matchAll(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>\s*<\/CommonPrefixes>/g)].map((m) => m[1]);

async function listVersions(bucket: string, query: Record<string, string> = {}, client = s3): Promise<string> {
  const res = await ok(client.send({ method: 'GET', path: `/${bucket}`, query: { versions: '', ...query } }));
  return res.body.toString();
}

/** "key kind versionId latest" lines: a listing compared at a glance. */
const summary = (entries: Entry[]) => entries.map((e) => `${e.key} ${e.kind === 'Version' ? 'v' : 'm'} ${e.versionId}${e.isLatest === 'true' ? ' latest' : ''}`);

/** Every page from the start, following NextKeyMarker / NextVersionIdMarker. */
async function walkVersions(bucket: string, query: Record<string, string>): Promise<{ lines: string[]; prefixes: string[]; pages: number }> {
  const lines: string[] = [];
  const prefixes: string[] = [];
  let marker: Record<string, string> = {};
  for (let pages = 1; pages < 200; pages++) {
    const xml = await listVersions(bucket, { ...query, ...marker });
    const entries = entriesOf(xml);
    const cps = prefixesOf(xml);
    assert.ok(entries.length + cps.length <= Number(query['max-keys']), `page ${pages} over max-keys: ${xml}`);
    lines.push(...summary(entries));
    prefixes.push(...cps);
    if (xmlValue(xml, 'IsTruncated') !== 'true') return { lines, prefixes, pages };
    const nextKey = xmlValue(xml, 'NextKeyMarker');
    const nextVersion = xmlValue(xml, 'NextVersionIdMarker');
    assert.ok(nextKey, `a truncated page names NextKeyMarker: ${xml}`);
    if (entries.length > 0 && cps.length === 0) {
      const last = entries.at(-1)!;
      assert.equal(nextKey, last.key, 'NextKeyMarker is the last key listed');
      assert.equal(nextVersion, last.versionId, 'NextVersionIdMarker is the last version listed');
    }
    marker = { 'key-marker': nextKey!, ...(nextVersion ? { 'version-id-marker': nextVersion } : {}) };
  }
  assert.fail('more than 200 pages');
}

function deleteXml(objects: Array<{ key: string; versionId?: string }>, quiet = false): string {
  const items = objects
    .map((o) => `<Object><Key>${o.key}</Key>${o.versionId ? `<VersionId>${o.versionId}</VersionId>` : ''}</Object>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Delete ${NS}>${quiet ? '<Quiet>true</Quiet>' : ''}${items}</Delete>`;
}
const deleteObjects = (bucket: string, xml: string, client = s3) =>
  client.send({
    method: 'POST',
    path: `/${bucket}`,
    query: { delete: '' },
    body: xml,
    headers: { 'content-type': 'application/xml', 'content-md5': md5b64(xml) },
  });

/** The <Deleted> entries of a DeleteObjects answer, each as its child elements in order. */
function deletedOf(xml: string): Array<Array<[string, string]>> {
  return [...xml.matchAll(/<Deleted>([\s\S]*?)<\/Deleted>/g)].map(([, inner]) =>
    [...inner.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map(([, tag, text]) => [tag, text] as [string, string]),
  );
}

async function bucketId(name: string): Promise<string> {
  const [row] = await db<{ id: string }[]>`select id from storage.buckets where name = ${name}`;
  return row.id;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- PutBucketVersioning / GetBucketVersioning ------------------------------

describe('PutBucketVersioning and GetBucketVersioning', () => {
  it('a bucket that never had versioning answers an empty VersioningConfiguration, without Status or MfaDelete', async () => {
    await ok(s3.send({ method: 'PUT', path: '/vcfg-never' }));
    const res = await ok(getVersioning('vcfg-never'));
    const xml = res.body.toString();
    assert.match(xml, /<VersioningConfiguration[^>]*(\/>|>\s*<\/VersioningConfiguration>)/, xml);
    assert.doesNotMatch(xml, /<Status>/);
    assert.doesNotMatch(xml, /<MfaDelete>/);
  });

  it('Enabled, then Suspended, then Enabled again, each read back', async () => {
    await ok(s3.send({ method: 'PUT', path: '/vcfg' }));
    for (const status of ['Enabled', 'Suspended', 'Enabled']) {
      await ok(putVersioning('vcfg', status));
      const xml = (await ok(getVersioning('vcfg'))).body.toString();
      assert.equal(xmlValue(xml, 'Status'), status, xml);
      assert.doesNotMatch(xml, /<MfaDelete>/, 'never configured with MFA delete: no MfaDelete element');
    }
  });

  it('refuses a Status other than Enabled or Suspended as MalformedXML, and a body that is not XML', async () => {
    await ok(s3.send({ method: 'PUT', path: '/vcfg-bad' }));
    for (const status of ['Disabled', 'enabled']) {
      refused(await putVersioning('vcfg-bad', status), 400, 'MalformedXML', `Status ${JSON.stringify(status)}`);
    }
    refused(
      await s3.send({ method: 'PUT', path: '/vcfg-bad', query: { versioning: '' }, body: '<VersioningConfiguration><Status>Enabled' }),
      400,
      'MalformedXML',
      'truncated XML',
    );
    const xml = (await ok(getVersioning('vcfg-bad'))).body.toString();
    assert.doesNotMatch(xml, /<Status>/, 'nothing was changed');
  });

  it('answers MFA delete as not supported: 400 InvalidRequest without the x-amz-mfa header, nothing changed', async () => {
    // S3 ("Configuring MFA delete"): enabling or changing MFA delete needs the
    // x-amz-mfa header, over HTTPS, from the account's root user; without it
    // the request fails with InvalidRequest. This server has no MFA devices.
    await ok(s3.send({ method: 'PUT', path: '/vcfg-mfa' }));
    const res = await putVersioning('vcfg-mfa', 'Enabled', s3, '<MfaDelete>Enabled</MfaDelete>');
    refused(res, 400, 'InvalidRequest', 'MfaDelete Enabled');
    const xml = (await ok(getVersioning('vcfg-mfa'))).body.toString();
    assert.doesNotMatch(xml, /<Status>|<MfaDelete>/, xml);
  });

  it('answers NoSuchBucket for a bucket that does not exist', async () => {
    refused(await putVersioning('vcfg-missing', 'Enabled'), 404, 'NoSuchBucket');
    refused(await getVersioning('vcfg-missing'), 404, 'NoSuchBucket');
  });

  it('only the bucket owner (or the root key) may change it; another user is refused AccessDenied', async () => {
    await ok(a.send({ method: 'PUT', path: '/vcfg-owned' }));
    refused(await putVersioning('vcfg-owned', 'Enabled', c), 403, 'AccessDenied', 'another user enables it');
    refused(await getVersioning('vcfg-owned', c), 403, 'AccessDenied', 'another user reads it');
    assert.doesNotMatch((await ok(getVersioning('vcfg-owned', a))).body.toString(), /<Status>/, 'unchanged');
    await ok(putVersioning('vcfg-owned', 'Enabled', a));
    assert.equal(xmlValue((await ok(getVersioning('vcfg-owned', a))).body.toString(), 'Status'), 'Enabled');
    await ok(putVersioning('vcfg-owned', 'Suspended'), 200);
    assert.equal(xmlValue((await ok(getVersioning('vcfg-owned', a))).body.toString(), 'Status'), 'Suspended');
    refused(await putVersioning('vcfg-owned', 'Enabled', c), 403, 'AccessDenied', 'another user re-enables it');
    refused(await anonymous('PUT', '/vcfg-owned?versioning'), 403, 'AccessDenied', 'anonymous');
  });
});

// ---- reads and writes in an Enabled bucket ----------------------------------

describe('an Enabled bucket: versions on write, reads by version id', () => {
  const bucket = 'ver';
  const bodies = ['first body', 'second, longer body', 'third', 'fourth version of it', 'fifth'];
  const ids: string[] = [];
  const etags: string[] = [];

  before(async () => {
    await versionedBucket(bucket);
    for (const [i, body] of bodies.entries()) {
      const res = await put(bucket, 'doc.txt', body, { 'content-type': `text/x-v${i}`, 'x-amz-meta-n': String(i) });
      ids.push(versionOf(res)!);
      etags.push(header(res, 'etag')!);
    }
  });

  it('each PUT answers a new, distinct x-amz-version-id (never "null")', () => {
    assert.equal(ids.length, bodies.length);
    for (const id of ids) assert.ok(id && id !== 'null', `version id ${id}`);
    assert.equal(new Set(ids).size, ids.length, `distinct: ${ids.join(' ')}`);
    assert.deepEqual(etags, bodies.map((b) => `"${md5(b)}"`));
  });

  it('GET and HEAD without versionId serve the latest, with its x-amz-version-id', async () => {
    const latest = await ok(get(bucket, 'doc.txt'));
    assert.equal(latest.body.toString(), bodies.at(-1));
    assert.equal(versionOf(latest), ids.at(-1));
    const h = await ok(head(bucket, 'doc.txt'));
    assert.equal(versionOf(h), ids.at(-1));
    assert.equal(header(h, 'etag'), etags.at(-1));
    assert.equal(header(h, 'x-amz-delete-marker'), undefined);
  });

  it('GET and HEAD with ?versionId= serve that version: bytes, ETag, Content-Type, metadata', async () => {
    for (const [i, id] of ids.entries()) {
      const g = await ok(get(bucket, 'doc.txt', id));
      assert.equal(g.body.toString(), bodies[i], `body of version ${i}`);
      assert.equal(versionOf(g), id);
      assert.equal(header(g, 'etag'), etags[i]);
      assert.equal(header(g, 'content-type'), `text/x-v${i}`);
      assert.equal(header(g, 'x-amz-meta-n'), String(i));
      const h = await ok(head(bucket, 'doc.txt', id));
      assert.equal(versionOf(h), id);
      assert.equal(header(h, 'etag'), etags[i]);
      assert.equal(header(h, 'content-length'), String(Buffer.byteLength(bodies[i])));
      assert.equal(header(h, 'x-amz-meta-n'), String(i));
    }
  });

  it('a ranged GET of a past version ranges over that version', async () => {
    const r = await ok(s3.send({ method: 'GET', path: `/${bucket}/doc.txt`, query: { versionId: ids[1] }, headers: { range: 'bytes=0-5' } }), 206);
    assert.equal(r.body.toString(), bodies[1].slice(0, 6));
    assert.equal(versionOf(r), ids[1]);
  });

  it('a version id that does not exist (any more) is 404 NoSuchVersion; a malformed one is 400 InvalidArgument', async () => {
    await put(bucket, 'gone.txt', 'one');
    const doomed = versionOf(await put(bucket, 'gone.txt', 'two'))!;
    await ok(del(bucket, 'gone.txt', doomed), 204);
    refused(await get(bucket, 'gone.txt', doomed), 404, 'NoSuchVersion', 'GET of a deleted version');
    assert.equal((await head(bucket, 'gone.txt', doomed)).status, 404, 'HEAD of a deleted version');
    // An id of this bucket's shape, but of another key.
    refused(await get(bucket, 'gone.txt', ids[0]), 404, 'NoSuchVersion', 'a version id of another key');
    refused(await get(bucket, 'doc.txt', 'abc'), 400, 'InvalidArgument', 'versionId=abc');
    refused(await get(bucket, 'doc.txt', ''), 400, 'InvalidArgument', 'an empty versionId');
  });

  it('versionId=null in a bucket whose versions all have ids is 404 NoSuchVersion', async () => {
    refused(await get(bucket, 'doc.txt', 'null'), 404, 'NoSuchVersion');
  });
});

// ---- delete markers ---------------------------------------------------------

describe('delete markers', () => {
  const bucket = 'vdel';
  let v1: string;
  let v2: string;
  let marker: string;

  before(async () => {
    await versionedBucket(bucket);
    v1 = versionOf(await put(bucket, 'k', 'one'))!;
    v2 = versionOf(await put(bucket, 'k', 'two'))!;
  });

  it('DELETE without versionId answers 204 with x-amz-delete-marker: true and the new marker’s version id', async () => {
    const res = await ok(del(bucket, 'k'), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    marker = versionOf(res)!;
    assert.ok(marker && marker !== 'null' && marker !== v1 && marker !== v2, `marker id ${marker}`);
  });

  it('then GET is 404 NoSuchKey with x-amz-delete-marker: true and the marker’s version id; HEAD the same', async () => {
    const g = await get(bucket, 'k');
    refused(g, 404, 'NoSuchKey', 'GET');
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    assert.equal(versionOf(g), marker);
    const h = await head(bucket, 'k');
    assert.equal(h.status, 404, show(h));
    assert.equal(header(h, 'x-amz-delete-marker'), 'true');
    assert.equal(versionOf(h), marker);
  });

  it('the key is gone from ListObjects and ListObjectsV2, its versions stay readable by id', async () => {
    const v2list = (await ok(s3.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }))).body.toString();
    assert.deepEqual(xmlValues(v2list, 'Key'), []);
    const v1list = (await ok(s3.send({ method: 'GET', path: `/${bucket}` }))).body.toString();
    assert.deepEqual(xmlValues(v1list, 'Key'), []);
    assert.equal((await ok(get(bucket, 'k', v1))).body.toString(), 'one');
    assert.equal((await ok(get(bucket, 'k', v2))).body.toString(), 'two');
  });

  it('GET or HEAD of the marker’s version id is 405 MethodNotAllowed with x-amz-delete-marker: true and Last-Modified', async () => {
    const g = await get(bucket, 'k', marker);
    refused(g, 405, 'MethodNotAllowed', 'GET ?versionId=<marker>');
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    assert.ok(header(g, 'last-modified'), 'Last-Modified on the 405');
    const h = await head(bucket, 'k', marker);
    assert.equal(h.status, 405, show(h));
    assert.equal(header(h, 'x-amz-delete-marker'), 'true');
  });

  it('a second simple DELETE adds a second marker', async () => {
    const res = await ok(del(bucket, 'k'), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    const second = versionOf(res)!;
    assert.notEqual(second, marker);
    const entries = entriesOf(await listVersions(bucket));
    assert.deepEqual(summary(entries), [`k m ${second} latest`, `k m ${marker}`, `k v ${v2}`, `k v ${v1}`]);
    // Remove it again by id: the first marker is latest again.
    const undo = await ok(del(bucket, 'k', second), 204);
    assert.equal(header(undo, 'x-amz-delete-marker'), 'true');
    assert.equal(versionOf(undo), second);
  });

  it('DELETE ?versionId=<marker> answers 204 with x-amz-delete-marker: true, and the object is back', async () => {
    const res = await ok(del(bucket, 'k', marker), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    assert.equal(versionOf(res), marker);
    const g = await ok(get(bucket, 'k'));
    assert.equal(g.body.toString(), 'two');
    assert.equal(versionOf(g), v2);
    assert.equal(header(g, 'x-amz-delete-marker'), undefined);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), [`k v ${v2} latest`, `k v ${v1}`]);
  });

  it('DELETE ?versionId=<current> removes exactly it: the previous version becomes current', async () => {
    const res = await ok(del(bucket, 'k', v2), 204);
    assert.equal(versionOf(res), v2);
    assert.notEqual(header(res, 'x-amz-delete-marker'), 'true');
    const g = await ok(get(bucket, 'k'));
    assert.equal(g.body.toString(), 'one');
    assert.equal(versionOf(g), v1);
    refused(await get(bucket, 'k', v2), 404, 'NoSuchVersion');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), [`k v ${v1} latest`]);
  });

  it('DELETE ?versionId=<noncurrent> removes exactly it; the current version stays', async () => {
    const v3 = versionOf(await put(bucket, 'k', 'three'))!;
    await ok(del(bucket, 'k', v1), 204);
    const g = await ok(get(bucket, 'k'));
    assert.equal(g.body.toString(), 'three');
    assert.equal(versionOf(g), v3);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), [`k v ${v3} latest`]);
    // The last version deleted by id: the key is gone for good, no marker left.
    await ok(del(bucket, 'k', v3), 204);
    refused(await get(bucket, 'k'), 404, 'NoSuchKey');
    assert.equal(header(await get(bucket, 'k'), 'x-amz-delete-marker'), undefined, 'no marker: nothing is there');
    assert.deepEqual(entriesOf(await listVersions(bucket)), []);
  });

  it('a simple DELETE of a key that never existed still writes a marker (S3 does)', async () => {
    const res = await ok(del(bucket, 'never'), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    const m = versionOf(res)!;
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'never' }))), [`never m ${m} latest`]);
    await ok(del(bucket, 'never', m), 204);
  });
});

// ---- DeleteObjects ------------------------------------------------------------

describe('DeleteObjects in an Enabled bucket', () => {
  const bucket = 'vmulti';
  let a1: string;
  let a2: string;
  let b1: string;

  before(async () => {
    await versionedBucket(bucket);
    a1 = versionOf(await put(bucket, 'a', 'a one'))!;
    a2 = versionOf(await put(bucket, 'a', 'a two'))!;
    b1 = versionOf(await put(bucket, 'b', 'b one'))!;
  });

  it('without VersionId: a marker per key, <DeleteMarker>true</DeleteMarker> and <DeleteMarkerVersionId>', async () => {
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'a' }])));
    const [entry, ...rest] = deletedOf(res.body.toString());
    assert.deepEqual(rest, [], res.body.toString());
    // S3's examples put Key first; the API reference lists the rest alphabetically.
    assert.deepEqual(entry[0], ['Key', 'a'], res.body.toString());
    const fields = new Map(entry);
    assert.equal(fields.get('DeleteMarker'), 'true', res.body.toString());
    const marker = fields.get('DeleteMarkerVersionId')!;
    assert.ok(marker && marker !== a1 && marker !== a2, res.body.toString());
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'a' }))), [`a m ${marker} latest`, `a v ${a2}`, `a v ${a1}`]);

    // The marker by VersionId: Deleted carries VersionId, DeleteMarker true, and the marker's id again.
    const undo = await ok(deleteObjects(bucket, deleteXml([{ key: 'a', versionId: marker }])));
    const [u] = deletedOf(undo.body.toString());
    assert.deepEqual(u[0], ['Key', 'a'], undo.body.toString());
    assert.deepEqual(
      Object.fromEntries(u),
      { Key: 'a', VersionId: marker, DeleteMarker: 'true', DeleteMarkerVersionId: marker },
      undo.body.toString(),
    );
    assert.equal((await ok(get(bucket, 'a'))).body.toString(), 'a two');
  });

  it('with VersionId: exactly that version goes, <Deleted> carries its VersionId and no DeleteMarker true', async () => {
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'a', versionId: a2 }, { key: 'b', versionId: b1 }])));
    const deleted = deletedOf(res.body.toString());
    assert.equal(deleted.length, 2, res.body.toString());
    const byKey = new Map(deleted.map((d) => [d.find(([t]) => t === 'Key')![1], new Map(d)]));
    assert.equal(byKey.get('a')!.get('VersionId'), a2);
    assert.equal(byKey.get('b')!.get('VersionId'), b1);
    for (const d of byKey.values()) assert.notEqual(d.get('DeleteMarker'), 'true');
    assert.equal((await ok(get(bucket, 'a'))).body.toString(), 'a one', 'a1 is current again');
    refused(await get(bucket, 'b'), 404, 'NoSuchKey');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), [`a v ${a1} latest`]);
  });

  it('a malformed VersionId is an <Error> entry for that key only', async () => {
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'a', versionId: 'abc' }, { key: 'c' }])));
    const xml = res.body.toString();
    const errors = [...xml.matchAll(/<Error>([\s\S]*?)<\/Error>/g)].map((m) => m[1]);
    assert.equal(errors.length, 1, xml);
    assert.equal(xmlValue(errors[0], 'Key'), 'a');
    // S3's reference names no code for this; AWS answers NoSuchVersion in a
    // DeleteObjects entry where a single DeleteObject answers InvalidArgument.
    assert.ok(['InvalidArgument', 'NoSuchVersion'].includes(xmlValue(errors[0], 'Code')!), xml);
    assert.deepEqual(deletedOf(xml).map((d) => d[0]), [['Key', 'c']]);
    assert.equal((await ok(get(bucket, 'a'))).body.toString(), 'a one');
  });

  it('a well-formed version id that no longer exists is reported Deleted, as S3 does (deletes are idempotent)', async () => {
    const gone = versionOf(await put(bucket, 'idem', 'x'))!;
    await ok(del(bucket, 'idem', gone), 204);
    const again = await ok(del(bucket, 'idem', gone), 204);
    assert.equal(versionOf(again), gone);
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'idem', versionId: gone }])));
    assert.deepEqual(deletedOf(res.body.toString()).map((d) => Object.fromEntries(d)), [{ Key: 'idem', VersionId: gone }], res.body.toString());
    assert.deepEqual(entriesOf(await listVersions(bucket, { prefix: 'idem' })), [], 'no marker was written');
  });

  it('Quiet mode answers no <Deleted> entries, and the versions are gone', async () => {
    const more = versionOf(await put(bucket, 'q', 'q'))!;
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'q', versionId: more }], true)));
    assert.deepEqual(deletedOf(res.body.toString()), []);
    assert.deepEqual(entriesOf(await listVersions(bucket, { prefix: 'q' })), []);
  });
});

// ---- ListObjectVersions -----------------------------------------------------

describe('ListObjectVersions', () => {
  const bucket = 'vlist';
  /** What a listing must show, newest first within each key, keys ascending. */
  const expected = new Map<string, Array<{ kind: 'v' | 'm'; id: string; body?: string }>>();

  async function write(key: string, body: string) {
    const id = versionOf(await put(bucket, key, body))!;
    expected.set(key, [{ kind: 'v', id, body }, ...(expected.get(key) ?? [])]);
  }
  async function remove(key: string) {
    const res = await ok(del(bucket, key), 204);
    expected.set(key, [{ kind: 'm', id: versionOf(res)! }, ...(expected.get(key) ?? [])]);
  }
  const expectedLines = () =>
    [...expected.keys()].sort().flatMap((key) => expected.get(key)!.map((e, i) => `${key} ${e.kind} ${e.id}${i === 0 ? ' latest' : ''}`));

  before(async () => {
    await versionedBucket(bucket);
    // ~30 versions and markers over keys with and without a '/', written interleaved.
    const keys = ['alpha', 'dir/one', 'dir/two', 'dir/sub/deep', 'zeta', 'beta'];
    for (let round = 0; round < 4; round++) {
      for (const key of keys) await write(key, `${key} #${round}`);
      if (round === 1) await remove('alpha');
      if (round === 2) {
        await remove('dir/two');
        await remove('zeta');
      }
    }
    await remove('beta');
    await remove('beta'); // two markers in a row
    await write('gamma', 'only one');
  });

  it('lists Version and DeleteMarker entries in S3’s order: keys ascending, each key newest first, IsLatest once per key', async () => {
    const xml = await listVersions(bucket);
    assert.match(xml, /^<\?xml[^>]*>\s*<ListVersionsResult/);
    assert.equal(xmlValue(xml, 'Name'), bucket);
    assert.equal(xmlValue(xml, 'IsTruncated'), 'false');
    const entries = entriesOf(xml);
    assert.ok(entries.length >= 30, `${entries.length} entries`);
    assert.deepEqual(summary(entries), expectedLines());
    for (const key of expected.keys()) {
      assert.equal(entries.filter((e) => e.key === key && e.isLatest === 'true').length, 1, `IsLatest once for ${key}`);
    }
  });

  it('each Version carries ETag, Size, LastModified, Owner and StorageClass; each DeleteMarker LastModified and Owner, no ETag or Size', async () => {
    const xml = await listVersions(bucket);
    const bodies = new Map([...expected.values()].flat().filter((e) => e.kind === 'v').map((e) => [e.id, e.body!]));
    for (const e of entriesOf(xml)) {
      assert.match(e.lastModified ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `LastModified of ${e.key} ${e.versionId}`);
      assert.equal(e.owner, 'aerostore', `Owner of ${e.key} ${e.versionId}: the root key's canonical id`);
      if (e.kind === 'Version') {
        const body = bodies.get(e.versionId)!;
        assert.equal(e.etag, `"${md5(body)}"`, `ETag of ${e.versionId}`);
        assert.equal(e.size, String(Buffer.byteLength(body)));
      } else {
        assert.equal(e.etag, undefined);
        assert.equal(e.size, undefined);
      }
    }
    const versionBlocks = [...xml.matchAll(/<Version>([\s\S]*?)<\/Version>/g)].map((m) => m[1]);
    for (const v of versionBlocks) assert.equal(xmlValue(v, 'StorageClass'), 'STANDARD');
  });

  it('LastModified never increases down a key’s entries (newest first, markers by time)', async () => {
    const entries = entriesOf(await listVersions(bucket));
    for (const key of expected.keys()) {
      const times = entries.filter((e) => e.key === key).map((e) => Date.parse(e.lastModified!));
      for (let i = 1; i < times.length; i++) assert.ok(times[i] <= times[i - 1], `${key}: ${times.join(' ')}`);
    }
  });

  it('prefix narrows to the keys under it', async () => {
    const xml = await listVersions(bucket, { prefix: 'dir/' });
    assert.equal(xmlValue(xml, 'Prefix'), 'dir/');
    assert.deepEqual(summary(entriesOf(xml)), expectedLines().filter((l) => l.startsWith('dir/')));
  });

  it('delimiter rolls keys up into CommonPrefixes (all of their versions counted once)', async () => {
    const root = await listVersions(bucket, { delimiter: '/' });
    assert.deepEqual(prefixesOf(root), ['dir/']);
    assert.deepEqual(summary(entriesOf(root)), expectedLines().filter((l) => !l.includes('/')));
    const dir = await listVersions(bucket, { delimiter: '/', prefix: 'dir/' });
    assert.deepEqual(prefixesOf(dir), ['dir/sub/']);
    assert.deepEqual(summary(entriesOf(dir)), expectedLines().filter((l) => /^dir\/[^/ ]+ /.test(l)));
    // A page of one entry that is the common prefix.
    const one = await listVersions(bucket, { delimiter: '/', 'max-keys': '1', 'key-marker': 'beta' });
    assert.equal(xmlValue(one, 'IsTruncated'), 'true');
    assert.deepEqual(prefixesOf(one), ['dir/']);
    assert.deepEqual(entriesOf(one), []);
    assert.equal(xmlValue(one, 'NextKeyMarker'), 'dir/');
  });

  for (const maxKeys of ['1', '2', '7']) {
    it(`max-keys ${maxKeys}: the pages, joined, are the one-page listing (key-marker + version-id-marker)`, async () => {
      const all = expectedLines();
      const { lines, pages } = await walkVersions(bucket, { 'max-keys': maxKeys });
      assert.deepEqual(lines, all);
      assert.ok(pages >= Math.ceil(all.length / Number(maxKeys)), `${pages} pages`);
    });
  }

  it('max-keys 2 with a delimiter: pages joined give the same entries and prefixes', async () => {
    const { lines, prefixes } = await walkVersions(bucket, { 'max-keys': '2', delimiter: '/' });
    assert.deepEqual(lines, expectedLines().filter((l) => !l.includes('/')));
    assert.deepEqual(prefixes, ['dir/']);
  });

  it('key-marker alone starts after every version of that key; version-id-marker within it', async () => {
    const after = await listVersions(bucket, { 'key-marker': 'beta' });
    assert.deepEqual(summary(entriesOf(after)), expectedLines().filter((l) => l.split(' ')[0] > 'beta'));
    const betas = expected.get('beta')!;
    const within = await listVersions(bucket, { 'key-marker': 'beta', 'version-id-marker': betas[1].id });
    const lines = summary(entriesOf(within));
    assert.deepEqual(lines, expectedLines().filter((l) => l.split(' ')[0] > 'beta' || (l.startsWith('beta ') && betas.slice(2).some((b) => l.includes(b.id)))));
    assert.equal(xmlValue(within, 'KeyMarker'), 'beta');
    assert.equal(xmlValue(within, 'VersionIdMarker'), betas[1].id);
  });

  it('version-id-marker without key-marker is refused as S3 refuses it (400 InvalidArgument)', async () => {
    const res = await s3.send({ method: 'GET', path: `/${bucket}`, query: { versions: '', 'version-id-marker': expected.get('beta')![0].id } });
    refused(res, 400, 'InvalidArgument');
  });

  it('encoding-type=url encodes Key, Prefix, KeyMarker and NextKeyMarker', async () => {
    await put(bucket, encodeKey('enc/a b+ü'), 'e1');
    await put(bucket, encodeKey('enc/a b+ü'), 'e2');
    const xml = await listVersions(bucket, { prefix: 'enc/a ', 'encoding-type': 'url', 'max-keys': '1', 'key-marker': 'enc/a' });
    assert.equal(xmlValue(xml, 'EncodingType'), 'url');
    assert.equal(xmlValue(xml, 'Prefix'), 'enc/a%20');
    assert.equal(xmlValue(xml, 'KeyMarker'), 'enc/a');
    assert.deepEqual(entriesOf(xml).map((e) => e.key), ['enc/a%20b%2B%C3%BC']);
    assert.equal(xmlValue(xml, 'NextKeyMarker'), 'enc/a%20b%2B%C3%BC');
  });
});

describe('ListObjectVersions entries as ListObjectsV2 writes them', () => {
  it('write each awkward key, its LastModified, ETag and Size exactly as ListObjectsV2 writes them, with and without encoding-type=url', async () => {
    const bucket = 'vtext';
    await versionedBucket(bucket);
    const keys = ['a&b<c>d', 'cr\rlf\nend', "bang!quote'(paren)*star", 'plus+percent%25 space', 'é/ü/😀', 'tab\tx', 'q"uote', '~tilde-_.'];
    for (const key of keys) await put(bucket, encodeKey(key), `body of ${key}`);
    for (const encoding of [{}, { 'encoding-type': 'url' }] as Record<string, string>[]) {
      const objects = (await ok(s3.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', ...encoding } }))).body.toString();
      const fields = (xml: string, element: string) =>
        [...xml.matchAll(new RegExp(`<${element}>([\\s\\S]*?)</${element}>`, 'g'))].map(([, inner]) =>
          ['Key', 'LastModified', 'ETag', 'Size'].map((f) => new RegExp(`<${f}>([^<]*)</${f}>`).exec(inner)?.[1]).join(' | '),
        );
      const versions = await listVersions(bucket, encoding);
      assert.deepEqual(fields(versions, 'Version'), fields(objects, 'Contents'), JSON.stringify(encoding));
      assert.equal(fields(versions, 'Version').length, keys.length);
    }
  });
});

describe('ListObjectVersions key order', () => {
  it('keys in UTF-8 byte order (as S3 lists them), across current and noncurrent versions and every page size', async () => {
    const bucket = 'vorder';
    await versionedBucket(bucket);
    // UTF-8 byte order; JavaScript's UTF-16 order would put the emoji before U+FF21.
    const keys = ['B', 'a', 'a/b', 'a0', 'z', 'é', '\uFF21', '😀'];
    const byKey = new Map<string, string[]>();
    for (const key of [...keys].reverse()) {
      // Two versions each (one current, one noncurrent); 'é' hidden by a marker.
      const v1 = versionOf(await put(bucket, encodeKey(key), `${key} one`))!;
      const v2 = versionOf(await put(bucket, encodeKey(key), `${key} two`))!;
      const marker = key === 'é' ? versionOf(await ok(del(bucket, encodeKey(key)), 204)) : undefined;
      byKey.set(key, [...(marker ? [`${key} m ${marker} latest`, `${key} v ${v2}`] : [`${key} v ${v2} latest`]), `${key} v ${v1}`]);
    }
    const expectedLines = keys.flatMap((key) => byKey.get(key)!);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), expectedLines);
    for (const maxKeys of ['1', '3']) {
      assert.deepEqual((await walkVersions(bucket, { 'max-keys': maxKeys })).lines, expectedLines, `max-keys ${maxKeys}`);
    }
    const { lines, prefixes } = await walkVersions(bucket, { 'max-keys': '1', delimiter: '/' });
    assert.deepEqual(prefixes, ['a/']);
    assert.deepEqual(lines, expectedLines.filter((l) => !l.startsWith('a/')));
  });
});

// ---- Suspended --------------------------------------------------------------

describe('a Suspended bucket: the null version', () => {
  const bucket = 'vsusp';
  let e1: string;
  let e2: string;

  before(async () => {
    await versionedBucket(bucket);
    e1 = versionOf(await put(bucket, 'k', 'enabled one'))!;
    e2 = versionOf(await put(bucket, 'k', 'enabled two'))!;
    await ok(putVersioning(bucket, 'Suspended'));
  });

  it('a PUT writes version "null" beside the versions written while Enabled', async () => {
    const res = await put(bucket, 'k', 'null one');
    const id = versionOf(res);
    assert.ok(id === undefined || id === 'null', `x-amz-version-id ${id}`);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), ['k v null latest', `k v ${e2}`, `k v ${e1}`]);
    assert.equal((await ok(get(bucket, 'k'))).body.toString(), 'null one');
    assert.equal((await ok(get(bucket, 'k', 'null'))).body.toString(), 'null one');
  });

  it('a second PUT replaces the null version; the Enabled versions stay, readable by id', async () => {
    await put(bucket, 'k', 'null two');
    const entries = entriesOf(await listVersions(bucket));
    assert.deepEqual(summary(entries), ['k v null latest', `k v ${e2}`, `k v ${e1}`]);
    assert.equal(entries[0].etag, `"${md5('null two')}"`);
    assert.equal((await ok(get(bucket, 'k', 'null'))).body.toString(), 'null two');
    assert.equal((await ok(get(bucket, 'k', e1))).body.toString(), 'enabled one');
    assert.equal((await ok(get(bucket, 'k', e2))).body.toString(), 'enabled two');
  });

  it('a DELETE removes the null version and adds a null delete marker', async () => {
    const res = await ok(del(bucket, 'k'), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    assert.equal(versionOf(res), 'null');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), ['k m null latest', `k v ${e2}`, `k v ${e1}`]);
    const g = await get(bucket, 'k');
    refused(g, 404, 'NoSuchKey');
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    refused(await get(bucket, 'k', 'null'), 405, 'MethodNotAllowed', 'the null version is now a marker');
  });

  it('a PUT over the null marker replaces it with a null version', async () => {
    await put(bucket, 'k', 'null three');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket))), ['k v null latest', `k v ${e2}`, `k v ${e1}`]);
    assert.equal((await ok(get(bucket, 'k'))).body.toString(), 'null three');
  });

  it('a DELETE of a key whose latest is an Enabled version keeps that version and adds a null marker', async () => {
    await ok(putVersioning(bucket, 'Enabled'));
    const e3 = versionOf(await put(bucket, 'j', 'enabled j'))!;
    await ok(putVersioning(bucket, 'Suspended'));
    const res = await ok(del(bucket, 'j'), 204);
    assert.equal(header(res, 'x-amz-delete-marker'), 'true');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'j' }))), ['j m null latest', `j v ${e3}`]);
    assert.equal((await ok(get(bucket, 'j', e3))).body.toString(), 'enabled j');
  });

  it('re-Enabled: a new PUT gets an id, and the null version becomes noncurrent, still readable', async () => {
    await ok(putVersioning(bucket, 'Enabled'));
    const e4 = versionOf(await put(bucket, 'k', 'enabled again'))!;
    assert.ok(e4 && e4 !== 'null');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'k' }))), [`k v ${e4} latest`, 'k v null', `k v ${e2}`, `k v ${e1}`]);
    assert.equal((await ok(get(bucket, 'k', 'null'))).body.toString(), 'null three');
    // Paging through the null version: version-id-marker=null continues after it.
    const { lines } = await walkVersions(bucket, { 'max-keys': '1', prefix: 'k' });
    assert.deepEqual(lines, [`k v ${e4} latest`, 'k v null', `k v ${e2}`, `k v ${e1}`]);
    await ok(del(bucket, 'k', 'null'), 204);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'k' }))), [`k v ${e4} latest`, `k v ${e2}`, `k v ${e1}`]);
  });

  it('an unversioned object written before versioning was enabled is the null version, kept on overwrite', async () => {
    await ok(s3.send({ method: 'PUT', path: '/vlater' }));
    await put('vlater', 'old', 'from before');
    await ok(putVersioning('vlater', 'Enabled'));
    const v = versionOf(await put('vlater', 'old', 'after'))!;
    assert.deepEqual(summary(entriesOf(await listVersions('vlater'))), [`old v ${v} latest`, 'old v null']);
    assert.equal((await ok(get('vlater', 'old', 'null'))).body.toString(), 'from before');
  });
});

// ---- deduplication and collection -------------------------------------------

describe('versions share content-addressed blobs', () => {
  it('a thousand versions of the same bytes are one blob; it stays until the last version goes', async () => {
    const bucket = 'vdedup';
    await versionedBucket(bucket);
    const id = await bucketId(bucket);
    const body = 'the same bytes, a thousand times';
    // The first alone (it is the one kept below), the rest ten at a time.
    const ids = [versionOf(await put(bucket, 'same', body))!];
    while (ids.length < 1000) ids.push(...(await Promise.all(Array.from({ length: Math.min(10, 1000 - ids.length) }, () => put(bucket, 'same', body)))).map((r) => versionOf(r)!));
    assert.equal(new Set(ids).size, 1000);
    const blobs = () => db<{ sha256: string; ref_count: number }[]>`select sha256, ref_count from storage.blobs where bucket_id = ${id}`;
    const rows = await blobs();
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].sha256, sha256(body));
    assert.equal(rows[0].ref_count, 1000);
    // One page holds all thousand (max-keys defaults to 1,000); 999 leaves one for the next page.
    const full = await listVersions(bucket);
    assert.equal(entriesOf(full).length, 1000);
    assert.equal(xmlValue(full, 'IsTruncated'), 'false');
    const paged = await walkVersions(bucket, { 'max-keys': '999' });
    assert.equal(paged.pages, 2);
    assert.deepEqual(paged.lines, summary(entriesOf(full)));
    assert.equal(summary(entriesOf(full)).at(-1), `same v ${ids[0]}`, 'the first version written is listed last');

    // Delete all but the oldest, in DeleteObjects batches of up to 1000.
    const doomed = ids.slice(1);
    const res = await ok(deleteObjects(bucket, deleteXml(doomed.map((v) => ({ key: 'same', versionId: v })), true)));
    assert.doesNotMatch(res.body.toString(), /<Error>/);
    const [kept] = await blobs();
    assert.equal(kept?.ref_count, 1, 'one version left, one reference');
    const g = await ok(get(bucket, 'same'));
    assert.equal(g.body.toString(), body);
    assert.equal(versionOf(g), ids[0]);

    // A delete marker holds no reference; deleting the last version frees the blob.
    await ok(del(bucket, 'same'), 204);
    assert.equal((await blobs())[0]?.ref_count, 1, 'a marker does not release the version it hides');
    await ok(del(bucket, 'same', ids[0]), 204);
    await eventually('the blob is collected', async () => {
      const left = await blobs();
      return left.length === 0 || left.every((r) => r.ref_count === 0);
    });
  });

  it('the same bytes under several keys and versions count every reference', async () => {
    const bucket = 'vdedup2';
    await versionedBucket(bucket);
    const id = await bucketId(bucket);
    const v = [
      versionOf(await put(bucket, 'x', 'shared'))!,
      versionOf(await put(bucket, 'y', 'shared'))!,
      versionOf(await put(bucket, 'x', 'other'))!,
      versionOf(await put(bucket, 'x', 'shared'))!,
    ];
    const count = async (content: string) =>
      (await db<{ ref_count: number }[]>`select ref_count from storage.blobs where bucket_id = ${id} and sha256 = ${sha256(content)}`)[0]?.ref_count ?? 0;
    assert.equal(await count('shared'), 3);
    assert.equal(await count('other'), 1);
    await ok(del(bucket, 'x', v[2]), 204);
    await eventually('"other" is released', async () => (await count('other')) === 0);
    assert.equal(await count('shared'), 3);
    assert.equal((await ok(get(bucket, 'x'))).body.toString(), 'shared');
  });
});

/** `aerostore fsck --json <args>` beside the running server, and its report. */
async function fsckCli(args: readonly string[]): Promise<{ code: number | null; report: Record<string, any>; stderr: string }> {
  const { code, stdout, stderr } = await runAerostore(server.dataDir, ['fsck', '--json', ...args]);
  try {
    return { code, report: JSON.parse(stdout), stderr };
  } catch {
    throw new Error(`fsck printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
  }
}

describe('fsck understands versions', () => {
  it('noncurrent versions and versions behind a marker are references: fsck --deep is clean, --repair collects nothing of theirs', async () => {
    const bucket = 'vfsck';
    await versionedBucket(bucket);
    const id = await bucketId(bucket);
    const alpha = versionOf(await put(bucket, 'k', 'alpha, noncurrent'))!;
    await put(bucket, 'k', 'beta, current');
    const gamma = versionOf(await put(bucket, 'm', 'gamma, behind a marker'))!;
    await ok(del(bucket, 'm'), 204);
    await put(bucket, 'n', 'alpha, noncurrent'); // the same bytes as k's old version, current here

    const check = await fsckCli(['--deep', '--bucket', bucket]);
    assert.equal(check.code, 0, JSON.stringify(check.report.problems ?? check.report) + check.stderr);
    assert.deepEqual(check.report.found, {}, JSON.stringify(check.report.problems));
    const repair = await fsckCli(['--repair', '--grace-minutes', '0', '--bucket', bucket]);
    assert.equal(repair.code, 0, JSON.stringify(repair.report.problems) + repair.stderr);
    assert.deepEqual(repair.report.repaired, {}, JSON.stringify(repair.report.problems));

    const refs = Object.fromEntries(
      (await db<{ sha256: string; ref_count: number }[]>`select sha256, ref_count from storage.blobs where bucket_id = ${id}`).map((r) => [r.sha256, r.ref_count]),
    );
    assert.deepEqual(refs, { [sha256('alpha, noncurrent')]: 2, [sha256('beta, current')]: 1, [sha256('gamma, behind a marker')]: 1 });
    assert.equal((await ok(get(bucket, 'k', alpha))).body.toString(), 'alpha, noncurrent');
    assert.equal((await ok(get(bucket, 'm', gamma))).body.toString(), 'gamma, behind a marker');
  });
});

// ---- copy and multipart -----------------------------------------------------

describe('copies and multipart uploads of versions', () => {
  const bucket = 'vcopy';
  let old: string;
  let cur: string;

  before(async () => {
    await versionedBucket(bucket);
    old = versionOf(await put(bucket, 'src', 'old source bytes', { 'x-amz-meta-era': 'old' }))!;
    cur = versionOf(await put(bucket, 'src', 'current source bytes', { 'x-amz-meta-era': 'current' }))!;
  });

  const copy = (dest: string, source: string, headers: Record<string, string> = {}) =>
    s3.send({ method: 'PUT', path: `/${bucket}/${dest}`, headers: { 'x-amz-copy-source': source, ...headers } });

  it('CopyObject from ?versionId= copies that version, answering x-amz-copy-source-version-id and the new x-amz-version-id', async () => {
    const res = await ok(copy('dest', `/${bucket}/src?versionId=${encodeURIComponent(old)}`));
    assert.equal(header(res, 'x-amz-copy-source-version-id'), old);
    const made = versionOf(res);
    assert.ok(made && made !== old && made !== cur && made !== 'null', `new version ${made}`);
    assert.equal(xmlValue(res.body.toString(), 'ETag'), `"${md5('old source bytes')}"`);
    const g = await ok(get(bucket, 'dest'));
    assert.equal(g.body.toString(), 'old source bytes');
    assert.equal(header(g, 'x-amz-meta-era'), 'old');
    assert.equal(versionOf(g), made);
  });

  it('CopyObject without a version id copies the current version and names it', async () => {
    const res = await ok(copy('dest2', `/${bucket}/src`));
    assert.equal(header(res, 'x-amz-copy-source-version-id'), cur);
    assert.equal((await ok(get(bucket, 'dest2'))).body.toString(), 'current source bytes');
  });

  it('restoring a previous version by copying it over its own key makes it current as a new version', async () => {
    const res = await ok(copy('src', `/${bucket}/src?versionId=${encodeURIComponent(old)}`));
    const restored = versionOf(res)!;
    const g = await ok(get(bucket, 'src'));
    assert.equal(g.body.toString(), 'old source bytes');
    assert.equal(versionOf(g), restored);
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'src' }))), [`src v ${restored} latest`, `src v ${cur}`, `src v ${old}`]);
  });

  it('a copy source whose latest is a delete marker is 404 NoSuchKey; a malformed source version id 400 InvalidArgument', async () => {
    await put(bucket, 'hidden', 'hidden bytes');
    await ok(del(bucket, 'hidden'), 204);
    refused(await copy('x', `/${bucket}/hidden`), 404, 'NoSuchKey', 'copy of a deleted key');
    refused(await copy('x', `/${bucket}/src?versionId=abc`), 400, 'InvalidArgument', 'a malformed source version id');
  });

  // CopyObject and UploadPartCopy ("Versioning"): a delete marker named as the
  // copy source's version is an HTTP 400 — a marker is not a version to copy.
  it('a delete marker named by version id as the copy source is 400 InvalidRequest', async () => {
    await put(bucket, 'hidden2', 'hidden bytes');
    const marker = versionOf(await ok(del(bucket, 'hidden2'), 204))!;
    refused(await copy('x', `/${bucket}/hidden2?versionId=${encodeURIComponent(marker)}`), 400, 'InvalidRequest', 'copy of a marker by id');
  });

  async function multipart(key: string, part: Omit<RawRequest, 'method' | 'path'>): Promise<{ part: RawResponse; done: RawResponse }> {
    const init = await ok(s3.send({ method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' } }));
    const uploadId = xmlValue(init.body.toString(), 'UploadId')!;
    const partRes = await ok(s3.send({ method: 'PUT', path: `/${bucket}/${key}`, ...part, query: { partNumber: '1', uploadId } }));
    const etag = header(partRes, 'etag') ?? xmlValue(partRes.body.toString(), 'ETag')!.replaceAll('&quot;', '"');
    const done = await ok(
      s3.send({
        method: 'POST',
        path: `/${bucket}/${key}`,
        query: { uploadId },
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`,
      }),
    );
    return { part: partRes, done };
  }

  it('UploadPartCopy from a version copies that version’s bytes; CompleteMultipartUpload answers x-amz-version-id', async () => {
    const { part, done } = await multipart('mp', { headers: { 'x-amz-copy-source': `/${bucket}/src?versionId=${encodeURIComponent(old)}` } });
    assert.equal(xmlValue(part.body.toString(), 'ETag')!.replaceAll('&quot;', '"'), `"${md5('old source bytes')}"`);
    const made = versionOf(done);
    assert.ok(made && made !== 'null', `CompleteMultipartUpload x-amz-version-id: ${show(done)}`);
    const g = await ok(get(bucket, 'mp'));
    assert.equal(g.body.toString(), 'old source bytes');
    assert.equal(versionOf(g), made);
  });

  it('UploadPartCopy answers x-amz-copy-source-version-id', async () => {
    const { part } = await multipart('mp-header', { headers: { 'x-amz-copy-source': `/${bucket}/src?versionId=${encodeURIComponent(cur)}` } });
    assert.equal(header(part, 'x-amz-copy-source-version-id'), cur);
  });

  it('a second multipart upload of the same key adds a version; the first stays readable', async () => {
    const first = versionOf((await multipart('mp2', { body: 'first upload' })).done)!;
    const second = versionOf((await multipart('mp2', { body: 'second upload' })).done)!;
    assert.ok(first && second && first !== second, `${first} ${second}`);
    assert.equal((await ok(get(bucket, 'mp2'))).body.toString(), 'second upload');
    assert.equal((await ok(get(bucket, 'mp2', first))).body.toString(), 'first upload');
    assert.deepEqual(summary(entriesOf(await listVersions(bucket, { prefix: 'mp2' }))), [`mp2 v ${second} latest`, `mp2 v ${first}`]);
  });
});

// ---- every write makes a version; the bucket holds them ----------------------

describe('every kind of write makes a version', () => {
  const bucket = 'vwrites';

  before(() => versionedBucket(bucket));

  const postObject = (key: string, data: string) => {
    const signed = signPostPolicy({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket }, { key }] });
    return fetch(`${server.url}/${bucket}`, { method: 'POST', body: postForm({ key }, signed, { data }) });
  };

  it('POST Object (a browser form) makes a version; the one it replaced stays', async () => {
    const first = versionOf(await put(bucket, 'form.txt', 'put first'))!;
    const res = await postObject('form.txt', 'posted second');
    assert.equal(res.status, 204, await res.text());
    const entries = entriesOf(await listVersions(bucket, { prefix: 'form.txt' }));
    assert.equal(entries.length, 2, JSON.stringify(entries));
    assert.deepEqual(summary(entries).slice(1), [`form.txt v ${first}`]);
    assert.ok(entries[0].versionId !== first && entries[0].versionId !== 'null' && entries[0].isLatest === 'true');
    assert.equal((await ok(get(bucket, 'form.txt'))).body.toString(), 'posted second');
    assert.equal((await ok(get(bucket, 'form.txt', first))).body.toString(), 'put first');
  });

  it('POST Object answers x-amz-version-id', async () => {
    const res = await postObject('form2.txt', 'posted');
    assert.equal(res.status, 204, await res.text());
    const posted = res.headers.get('x-amz-version-id');
    assert.ok(posted && posted !== 'null', `x-amz-version-id ${posted}`);
    assert.equal(entriesOf(await listVersions(bucket, { prefix: 'form2.txt' }))[0]?.versionId, posted);
  });

  it('concurrent PUTs of one key each make a version; exactly one is latest, and it is what GET serves', async () => {
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => put(bucket, 'race', `writer ${i}`)));
  const ids = results.map((r) => versionOf(r)!);
  assert.equal(new Set(ids).size, 10);
  const entries = entriesOf(await listVersions(bucket, { prefix: 'race' }));
  assert.deepEqual(entries.map((e) => e.versionId).sort(), [...ids].sort());
  const latest = entries.filter((e) => e.isLatest === 'true');
  assert.equal(latest.length, 1);
  assert.equal(latest[0].versionId, entries[0].versionId, 'the newest entry is the latest');
    const g = await ok(get(bucket, 'race'));
    assert.equal(versionOf(g), latest[0].versionId);
    assert.equal(header(g, 'etag'), latest[0].etag);
  });

  it('ListObjects and ListObjectsV2 show each key once, at its current version', async () => {
    await put(bucket, 'twice', 'one');
    await put(bucket, 'twice', 'two, current');
    const xml = (await ok(s3.send({ method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: 'twice' } }))).body.toString();
    assert.deepEqual(xmlValues(xml, 'Key'), ['twice']);
    assert.equal(xmlValue(xml, 'Size'), String('two, current'.length));
  });

  it('GetObjectAcl and PutObjectAcl take the current version’s id', async () => {
    await put(bucket, 'acl-cur', 'old');
    const cur = versionOf(await put(bucket, 'acl-cur', 'new'))!;
    await ok(s3.send({ method: 'PUT', path: `/${bucket}/acl-cur`, query: { acl: '', versionId: cur }, headers: { 'x-amz-acl': 'public-read' } }));
    const acl = (await ok(s3.send({ method: 'GET', path: `/${bucket}/acl-cur`, query: { acl: '', versionId: cur } }))).body.toString();
    assert.match(acl, /AllUsers<\/URI>\s*<\/Grantee>\s*<Permission>READ</, acl);
  });

  it(
    'PutObjectAcl and GetObjectAcl with ?versionId= of a past version change and read that version’s ACL only',
    async () => {
      const old = versionOf(await put(bucket, 'acl', 'old'))!;
      await put(bucket, 'acl', 'new');
      await ok(s3.send({ method: 'PUT', path: `/${bucket}/acl`, query: { acl: '', versionId: old }, headers: { 'x-amz-acl': 'public-read' } }));
      const oldAcl = (await ok(s3.send({ method: 'GET', path: `/${bucket}/acl`, query: { acl: '', versionId: old } }))).body.toString();
      assert.match(oldAcl, /AllUsers<\/URI>\s*<\/Grantee>\s*<Permission>READ</, oldAcl);
      const curAcl = (await ok(s3.send({ method: 'GET', path: `/${bucket}/acl`, query: { acl: '' } }))).body.toString();
      assert.doesNotMatch(curAcl, /AllUsers/, 'the current version keeps its own ACL');
    },
  );

  it('DeleteBucket is refused with BucketNotEmpty while versions or markers remain', async () => {
    await ok(s3.send({ method: 'PUT', path: '/vnotempty' }));
    await ok(putVersioning('vnotempty', 'Enabled'));
    const v = versionOf(await put('vnotempty', 'k', 'x'))!;
    const marker = versionOf(await ok(del('vnotempty', 'k'), 204))!;
    refused(await s3.send({ method: 'DELETE', path: '/vnotempty' }), 409, 'BucketNotEmpty', 'a version and a marker left');
    await ok(del('vnotempty', 'k', v), 204);
    refused(await s3.send({ method: 'DELETE', path: '/vnotempty' }), 409, 'BucketNotEmpty', 'a marker left');
    await ok(del('vnotempty', 'k', marker), 204);
    await ok(s3.send({ method: 'DELETE', path: '/vnotempty' }), 204);
  });
});

// ---- tagging and attributes by version --------------------------------------

describe('tagging and GetObjectAttributes with ?versionId=', () => {
  const bucket = 'vtag';
  let v1: string;
  let v2: string;
  const tagging = (tags: Record<string, string>) =>
    `<Tagging ${NS}><TagSet>${Object.entries(tags)
      .map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`)
      .join('')}</TagSet></Tagging>`;
  const tagsOf = (xml: string) => Object.fromEntries([...xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)].map((m) => [m[1], m[2]]));

  before(async () => {
    await versionedBucket(bucket);
    v1 = versionOf(await put(bucket, 't', 'tagged one', { 'x-amz-tagging': 'era=one' }))!;
    v2 = versionOf(await put(bucket, 't', 'tagged two, longer', { 'x-amz-tagging': 'era=two' }))!;
  });

  it('GetObjectTagging reads each version’s tags, answering x-amz-version-id', async () => {
    const one = await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '', versionId: v1 } }));
    assert.deepEqual(tagsOf(one.body.toString()), { era: 'one' });
    assert.equal(versionOf(one), v1);
    const cur = await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '' } }));
    assert.deepEqual(tagsOf(cur.body.toString()), { era: 'two' });
    assert.equal(versionOf(cur), v2);
  });

  it('PutObjectTagging and DeleteObjectTagging change only the version named', async () => {
    const put1 = await ok(s3.send({ method: 'PUT', path: `/${bucket}/t`, query: { tagging: '', versionId: v1 }, body: tagging({ era: 'retagged', x: 'y' }) }));
    assert.equal(versionOf(put1), v1);
    const one = await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '', versionId: v1 } }));
    assert.deepEqual(tagsOf(one.body.toString()), { era: 'retagged', x: 'y' });
    const two = await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '', versionId: v2 } }));
    assert.deepEqual(tagsOf(two.body.toString()), { era: 'two' });
    const gone = await ok(s3.send({ method: 'DELETE', path: `/${bucket}/t`, query: { tagging: '', versionId: v1 } }), 204);
    assert.equal(versionOf(gone), v1);
    assert.deepEqual(tagsOf((await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '', versionId: v1 } }))).body.toString()), {});
    assert.deepEqual(tagsOf((await ok(s3.send({ method: 'GET', path: `/${bucket}/t`, query: { tagging: '' } }))).body.toString()), { era: 'two' });
  });

  it('tagging of an unknown version is 404 NoSuchVersion', async () => {
    const doomed = versionOf(await put(bucket, 'u', 'x'))!;
    await ok(del(bucket, 'u', doomed), 204);
    refused(await s3.send({ method: 'GET', path: `/${bucket}/u`, query: { tagging: '', versionId: doomed } }), 404, 'NoSuchVersion');
  });

  it('GetObjectAttributes answers the named version’s ETag and size, with x-amz-version-id', async () => {
    const attrs = (versionId?: string) =>
      s3.send({
        method: 'GET',
        path: `/${bucket}/t`,
        query: { attributes: '', ...(versionId ? { versionId } : {}) },
        headers: { 'x-amz-object-attributes': 'ETag,ObjectSize' },
      });
    const one = await ok(attrs(v1));
    assert.equal(xmlValue(one.body.toString(), 'ETag'), md5('tagged one'));
    assert.equal(xmlValue(one.body.toString(), 'ObjectSize'), String('tagged one'.length));
    assert.equal(versionOf(one), v1);
    const cur = await ok(attrs());
    assert.equal(xmlValue(cur.body.toString(), 'ETag'), md5('tagged two, longer'));
    assert.equal(versionOf(cur), v2);
    const marker = versionOf(await ok(del(bucket, 't'), 204))!;
    const deleted = await attrs();
    assert.equal(deleted.status, 404, show(deleted));
    assert.equal(header(deleted, 'x-amz-delete-marker'), 'true');
    assert.equal((await ok(attrs(v1))).status, 200, 'a past version is still there');
    await ok(del(bucket, 't', marker), 204);
  });
});

// ---- conditional writes -----------------------------------------------------

describe('conditional writes against the current version', () => {
  const bucket = 'vcond';

  before(() => versionedBucket(bucket));

  it('If-None-Match: * succeeds on a key whose latest version is a delete marker (the key does not exist)', async () => {
    await put(bucket, 'k', 'was here');
    await ok(del(bucket, 'k'), 204);
    const res = await put(bucket, 'k', 'created again', { 'if-none-match': '*' });
    assert.ok(versionOf(res));
    refused(await s3.send({ method: 'PUT', path: `/${bucket}/k`, body: 'again', headers: { 'if-none-match': '*' } }), 412, 'PreconditionFailed');
  });

  it('If-Match with the current ETag succeeds; with an older version’s ETag it is 412, nothing written', async () => {
    const first = await put(bucket, 'm', 'first');
    const second = await put(bucket, 'm', 'second');
    const stale = await s3.send({ method: 'PUT', path: `/${bucket}/m`, body: 'third', headers: { 'if-match': header(first, 'etag')! } });
    refused(stale, 412, 'PreconditionFailed', 'If-Match with the old ETag');
    assert.equal(entriesOf(await listVersions(bucket, { prefix: 'm' })).length, 2, 'no version written');
    await put(bucket, 'm', 'third', { 'if-match': header(second, 'etag')! });
    assert.equal((await ok(get(bucket, 'm'))).body.toString(), 'third');
  });

  it('If-Match on a key whose latest is a delete marker is 404 NoSuchKey', async () => {
    const first = await put(bucket, 'dm', 'body');
    await ok(del(bucket, 'dm'), 204);
    refused(await s3.send({ method: 'PUT', path: `/${bucket}/dm`, body: 'x', headers: { 'if-match': header(first, 'etag')! } }), 404, 'NoSuchKey');
  });
});

// ---- who may see history ----------------------------------------------------

describe('access to past versions', () => {
  const bucket = 'vpub';
  let old: string;
  let cur: string;

  before(async () => {
    await versionedBucket(bucket, a);
    old = versionOf(await put(bucket, 'doc', 'the old secret', {}, a))!;
    cur = versionOf(await put(bucket, 'doc', 'the public text', {}, a))!;
    await put(bucket, 'removed', 'deleted secret', {}, a);
    await ok(del(bucket, 'removed', undefined, a), 204);
    await ok(a.send({ method: 'PUT', path: `/${bucket}`, query: { acl: '' }, headers: { 'x-amz-acl': 'public-read' } }));
  });

  it('the owner reads past versions and lists them', async () => {
    assert.equal((await ok(get(bucket, 'doc', old, a))).body.toString(), 'the old secret');
    const lines = summary(entriesOf(await listVersions(bucket, {}, a)));
    assert.equal(lines.length, 4, lines.join('\n'));
  });

  /**
   * The bucket's history stays hidden: refused outright (S3's answer without
   * s3:ListBucketVersions), or a listing of current versions only.
   */
  function assertNoHistory(res: RawResponse, what: string): void {
    if (res.status === 403) return refused(res, 403, 'AccessDenied', what);
    assert.equal(res.status, 200, `${what}: ${show(res)}`);
    const entries = entriesOf(res.body.toString());
    assert.ok(entries.every((e) => e.kind === 'Version' && e.isLatest === 'true'), `${what} shows history: ${res.body}`);
    assert.ok(!entries.some((e) => e.versionId === old), `${what} shows the old version`);
  }

  /** A past version is refused as S3 refuses it without s3:GetObjectVersion: 403 AccessDenied, never served. */
  function assertPastRefused(res: RawResponse, what: string): void {
    assert.equal(res.status, 403, `${what}: ${show(res)}`);
    if (res.body.length) assert.equal(errorCode(res.body), 'AccessDenied', `${what}: ${show(res)}`);
    assert.doesNotMatch(res.body.toString(), /old secret/);
  }

  it('anonymously the current object is served', async () => {
    const current = await anonymous('GET', `/${bucket}/doc`);
    assert.equal(current.status, 200, show(current));
    assert.equal(current.body.toString(), 'the public text');
  });

  it('anonymously no past version is served, and no history is listed', async () => {
    assertPastRefused(await anonymous('GET', `/${bucket}/doc?versionId=${encodeURIComponent(old)}`), 'anonymous GET of a past version');
    assertPastRefused(await anonymous('HEAD', `/${bucket}/doc?versionId=${encodeURIComponent(old)}`), 'anonymous HEAD of a past version');
    assertNoHistory(await anonymous('GET', `/${bucket}?versions`), 'anonymous ListObjectVersions');
  });

  it('another user reads the current object, but no past version and no history', async () => {
    assert.equal((await ok(get(bucket, 'doc', undefined, c))).body.toString(), 'the public text');
    assertPastRefused(await get(bucket, 'doc', old, c), 'C reads a past version');
    assertPastRefused(await head(bucket, 'doc', old, c), 'C HEADs a past version');
    assertPastRefused(await c.send({ method: 'GET', path: `/${bucket}/doc`, query: { tagging: '', versionId: old } }), 'C reads a past version’s tags');
    assertNoHistory(await c.send({ method: 'GET', path: `/${bucket}`, query: { versions: '' } }), 'C lists versions');
    refused(await get(bucket, 'removed', undefined, c), 404, 'NoSuchKey', 'C GETs a deleted key');
  });

  it('another user may not delete or retag a version of a bucket it does not own', async () => {
    refused(await del(bucket, 'doc', old, c), 403, 'AccessDenied', 'C deletes a past version');
    refused(await del(bucket, 'doc', cur, c), 403, 'AccessDenied', 'C deletes the current version');
    refused(
      await c.send({ method: 'PUT', path: `/${bucket}/doc`, query: { tagging: '', versionId: old }, body: `<Tagging ${NS}><TagSet/></Tagging>` }),
      403,
      'AccessDenied',
      'C retags a past version',
    );
    assert.equal((await ok(get(bucket, 'doc', old, a))).body.toString(), 'the old secret');
  });
});

describe('a member’s versions in a bucket that takes members’ writes', () => {
  const bucket = 'vmembers';
  let own: string[];

  before(async () => {
    await versionedBucket(bucket, a);
    await setBucketSettings(s3, bucket, { policy: 'authenticated', member_writes: true });
    own = [versionOf(await put(bucket, 'b.txt', 'b first', {}, b))!, versionOf(await put(bucket, 'b.txt', 'b second', {}, b))!];
  });

  it('the member reads its own past versions; the bucket’s owner does too', async () => {
    assert.equal((await ok(get(bucket, 'b.txt', own[0], b))).body.toString(), 'b first');
    assert.equal((await ok(get(bucket, 'b.txt', own[0], a))).body.toString(), 'b first');
    const entries = entriesOf(await listVersions(bucket, {}, a));
    assert.deepEqual(summary(entries), [`b.txt v ${own[1]} latest`, `b.txt v ${own[0]}`]);
    assert.deepEqual(entries.map((e) => e.owner), [B, B], 'each version’s Owner is its writer');
  });

  it('another reader of the bucket reads the current version only', async () => {
    assert.equal((await ok(get(bucket, 'b.txt', undefined, c))).body.toString(), 'b second');
    refused(await get(bucket, 'b.txt', own[0], c), 403, 'AccessDenied', 'another reader GETs a member’s past version');
  });
});

// ---- events ---------------------------------------------------------------

describe('events carry the version id', () => {
  it('storage.object.created and storage.object.deleted name the version written, the marker, the version removed', async () => {
    const bucket = 'vevents';
    await versionedBucket(bucket);
    const v1 = versionOf(await put(bucket, 'e', 'one'))!;
    const v2 = versionOf(await put(bucket, 'e', 'two'))!;
    const marker = versionOf(await ok(del(bucket, 'e'), 204))!;
    await ok(del(bucket, 'e', v1), 204);
    const events = await db<{ type: string; key: string; payload: Record<string, unknown> }[]>`
      select type, key, payload from storage.events where bucket = ${bucket} and type like 'storage.object.%' order by id`;
    const seen = events.map((e) => `${e.type} ${e.key} ${e.payload.version_id}`);
    assert.deepEqual(seen, [
      `storage.object.created e ${v1}`,
      `storage.object.created e ${v2}`,
      `storage.object.deleted e ${marker}`,
      `storage.object.deleted e ${v1}`,
    ]);
  });

  it('a copy, a multipart completion and DeleteObjects name their versions too', async () => {
    const bucket = 'vevents2';
    await versionedBucket(bucket);
    const src = versionOf(await put(bucket, 'src', 'source'))!;
    const copied = versionOf(await ok(s3.send({ method: 'PUT', path: `/${bucket}/copy`, headers: { 'x-amz-copy-source': `/${bucket}/src?versionId=${encodeURIComponent(src)}` } })))!;
    const init = await ok(s3.send({ method: 'POST', path: `/${bucket}/mp`, query: { uploads: '' } }));
    const uploadId = xmlValue(init.body.toString(), 'UploadId')!;
    const part = await ok(s3.send({ method: 'PUT', path: `/${bucket}/mp`, query: { partNumber: '1', uploadId }, body: 'one part' }));
    const done = await ok(
      s3.send({
        method: 'POST',
        path: `/${bucket}/mp`,
        query: { uploadId },
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${header(part, 'etag')}</ETag></Part></CompleteMultipartUpload>`,
      }),
    );
    const completed = versionOf(done)!;
    const res = await ok(deleteObjects(bucket, deleteXml([{ key: 'copy' }, { key: 'mp', versionId: completed }])));
    const marker = new Map(deletedOf(res.body.toString()).find((d) => d[0][1] === 'copy')!).get('DeleteMarkerVersionId');
    const events = await db<{ type: string; key: string; payload: Record<string, unknown> }[]>`
      select type, key, payload from storage.events where bucket = ${bucket} and type like 'storage.object.%' order by id`;
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.key} ${e.payload.version_id}`),
      [
        `storage.object.created src ${src}`,
        `storage.object.created copy ${copied}`,
        `storage.object.created mp ${completed}`,
        `storage.object.deleted copy ${marker}`,
        `storage.object.deleted mp ${completed}`,
      ],
    );
  });
});
