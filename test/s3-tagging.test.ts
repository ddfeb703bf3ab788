// Object tagging: Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject,
// CreateMultipartUpload and CopyObject, x-amz-tagging-count on GET/HEAD.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3RawClient, type RawResponse } from './support/signer.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from './support/principals.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;
const BUCKET = 'tags';

const errorCode = (res: RawResponse) => /<Code>([^<]*)<\/Code>/.exec(res.body.toString())?.[1];
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function taggingXml(pairs: ReadonlyArray<readonly [string, string]>): string {
  const tags = pairs.map(([k, v]) => `<Tag><Key>${xmlEscape(k)}</Key><Value>${xmlEscape(v)}</Value></Tag>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${tags}</TagSet></Tagging>`;
}

const put = (key: string, body: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/${BUCKET}/${key}`, body, headers });
const putTagging = (key: string, body: string, headers: Record<string, string> = {}, bucket = BUCKET) =>
  s3.send({ method: 'PUT', path: `/${bucket}/${key}`, query: { tagging: '' }, body, headers });
const getTaggingRaw = (key: string, bucket = BUCKET) => s3.send({ method: 'GET', path: `/${bucket}/${key}`, query: { tagging: '' } });
const deleteTagging = (key: string) => s3.send({ method: 'DELETE', path: `/${BUCKET}/${key}`, query: { tagging: '' } });

/** The object's tags as [key, value] pairs, sorted by key. */
async function tagsOf(key: string): Promise<Array<[string, string]>> {
  const res = await getTaggingRaw(key);
  assert.equal(res.status, 200, res.body.toString());
  const xml = res.body.toString();
  assert.match(xml, /^<\?xml[^>]*>\s*<Tagging xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><TagSet>/);
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return [...xml.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)]
    .map((m): [string, string] => [unescape(m[1]), unescape(m[2])])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
});
after(() => server?.stop());

describe('PutObjectTagging / GetObjectTagging / DeleteObjectTagging', () => {
  it('an object starts with an empty tag set', async () => {
    assert.equal((await put('plain', 'x')).status, 200);
    const res = await getTaggingRaw('plain');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/xml');
    assert.match(res.body.toString(), /<TagSet><\/TagSet>/);
    assert.deepEqual(await tagsOf('plain'), []);
  });

  it('puts, replaces and deletes tags, leaving the object (ETag, Last-Modified, body) alone', async () => {
    assert.equal((await put('obj', 'hello')).status, 200);
    const head0 = await s3.send({ method: 'HEAD', path: `/${BUCKET}/obj` });
    await new Promise((r) => setTimeout(r, 1100));
    const set = await putTagging('obj', taggingXml([['project', 'aerostore'], ['tier', 'gold plated'], ['empty', '']]));
    assert.equal(set.status, 200, set.body.toString());
    assert.deepEqual(await tagsOf('obj'), [['empty', ''], ['project', 'aerostore'], ['tier', 'gold plated']]);
    const head1 = await s3.send({ method: 'HEAD', path: `/${BUCKET}/obj` });
    assert.equal(head1.headers.etag, head0.headers.etag);
    assert.equal(head1.headers['last-modified'], head0.headers['last-modified']);
    assert.equal(head1.headers['x-amz-tagging-count'], '3');

    // A PUT replaces the whole set.
    assert.equal((await putTagging('obj', taggingXml([['only', 'one']]))).status, 200);
    assert.deepEqual(await tagsOf('obj'), [['only', 'one']]);
    // An empty TagSet removes every tag.
    assert.equal((await putTagging('obj', '<Tagging><TagSet/></Tagging>')).status, 200);
    assert.deepEqual(await tagsOf('obj'), []);

    assert.equal((await putTagging('obj', taggingXml([['a', '1']]))).status, 200);
    const del = await deleteTagging('obj');
    assert.equal(del.status, 204);
    assert.deepEqual(await tagsOf('obj'), []);
    const got = await s3.send({ method: 'GET', path: `/${BUCKET}/obj` });
    assert.equal(got.body.toString(), 'hello');
    assert.equal(got.headers['x-amz-tagging-count'], undefined);
  });

  it('accepts every allowed character, Unicode letters, and the longest key and value', async () => {
    assert.equal((await put('chars', 'x')).status, 200);
    const pairs: Array<[string, string]> = [
      ['+- =._:/@', '+- =._:/@'],
      ['日本語キー', 'Ünïcödé välüé 123'],
      ['é'.repeat(128), 'ß'.repeat(256)],
      ['k', '  padded  '],
    ];
    const res = await putTagging('chars', taggingXml(pairs));
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(await tagsOf('chars'), [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  });

  it('verifies Content-MD5 and x-amz-checksum-* of the body', async () => {
    assert.equal((await put('digest', 'x')).status, 200);
    const body = taggingXml([['a', 'b']]);
    const good = createHash('md5').update(body).digest('base64');
    assert.equal((await putTagging('digest', body, { 'content-md5': good })).status, 200);
    const wrong = createHash('md5').update('other').digest('base64');
    const bad = await putTagging('digest', taggingXml([['c', 'd']]), { 'content-md5': wrong });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'BadDigest');
    const badSum = await putTagging('digest', taggingXml([['c', 'd']]), { 'x-amz-checksum-crc32': 'AAAAAA==' });
    assert.equal(badSum.status, 400);
    assert.equal(errorCode(badSum), 'BadDigest');
    assert.deepEqual(await tagsOf('digest'), [['a', 'b']]);
  });

  const refusals: Array<{ what: string; body: string; code: string; message?: RegExp }> = [
    {
      what: 'more than 10 tags',
      body: taggingXml(Array.from({ length: 11 }, (_, i) => [`k${i}`, `v${i}`] as [string, string])),
      code: 'BadRequest',
      message: /Object tags cannot be greater than 10/,
    },
    { what: 'a key of 129 characters', body: taggingXml([['k'.repeat(129), 'v']]), code: 'InvalidTag', message: /TagKey you have provided is invalid/ },
    { what: 'a Unicode key of 129 characters', body: taggingXml([['é'.repeat(129), 'v']]), code: 'InvalidTag' },
    { what: 'a value of 257 characters', body: taggingXml([['k', 'v'.repeat(257)]]), code: 'InvalidTag', message: /TagValue you have provided is invalid/ },
    { what: 'an empty key', body: taggingXml([['', 'v']]), code: 'InvalidTag' },
    { what: 'a key with a disallowed character', body: taggingXml([['a*b', 'v']]), code: 'InvalidTag' },
    { what: 'a key with &', body: taggingXml([['a&b', 'v']]), code: 'InvalidTag' },
    { what: 'a value with a disallowed character', body: taggingXml([['k', 'v#1']]), code: 'InvalidTag' },
    { what: 'a duplicate key', body: taggingXml([['k', '1'], ['k', '2']]), code: 'InvalidTag', message: /multiple Tags with the same key/ },
    { what: 'a key prefixed aws:', body: taggingXml([['aws:cloudformation', 'v']]), code: 'InvalidTag', message: /System tags cannot be added\/updated by requester/ },
    { what: 'a key prefixed AWS: (any case)', body: taggingXml([['AWS:x', 'v']]), code: 'InvalidTag' },
    { what: 'an empty body', body: '', code: 'MalformedXML' },
    { what: 'a body that is not XML', body: 'tags please', code: 'MalformedXML' },
    { what: 'unclosed XML', body: '<Tagging><TagSet><Tag><Key>a</Key>', code: 'MalformedXML' },
    { what: 'another root element', body: '<Tags><TagSet/></Tags>', code: 'MalformedXML' },
    { what: 'no TagSet', body: '<Tagging></Tagging>', code: 'MalformedXML' },
    { what: 'a Tag without a Value', body: '<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>', code: 'MalformedXML' },
    { what: 'a Tag without a Key', body: '<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>', code: 'MalformedXML' },
    { what: 'a DOCTYPE', body: '<!DOCTYPE x [<!ENTITY e "a">]><Tagging><TagSet/></Tagging>', code: 'MalformedXML' },
  ];

  it('refuses invalid tag sets and bodies with the S3 error, keeping the tags it had', async () => {
    assert.equal((await put('strict', 'x')).status, 200);
    assert.equal((await putTagging('strict', taggingXml([['keep', 'me']]))).status, 200);
    for (const r of refusals) {
      const res = await putTagging('strict', r.body);
      assert.equal(res.status, 400, `${r.what}: ${res.body.toString()}`);
      assert.equal(errorCode(res), r.code, `${r.what}: ${res.body.toString()}`);
      if (r.message) assert.match(res.body.toString(), r.message, r.what);
    }
    // Exactly 10 is allowed.
    const ten = taggingXml(Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${i}`] as [string, string]));
    assert.equal((await putTagging('strict', ten)).status, 200);
    assert.equal((await tagsOf('strict')).length, 10);
  });

  it('answers NoSuchKey for a missing object and NoSuchBucket for a missing bucket', async () => {
    for (const res of [
      await getTaggingRaw('never-there'),
      await putTagging('never-there', taggingXml([['a', 'b']])),
      await deleteTagging('never-there'),
    ]) {
      assert.equal(res.status, 404, res.body.toString());
      assert.equal(errorCode(res), 'NoSuchKey');
    }
    // Tagging a missing key creates nothing.
    assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/never-there` })).status, 404);
    const noBucket = await getTaggingRaw('k', 'no-such-bucket');
    assert.equal(noBucket.status, 404);
    assert.equal(errorCode(noBucket), 'NoSuchBucket');
    const noBucketPut = await putTagging('k', taggingXml([['a', 'b']]), {}, 'no-such-bucket');
    assert.equal(noBucketPut.status, 404);
    assert.equal(errorCode(noBucketPut), 'NoSuchBucket');
  });
});

describe('PutBucketTagging / GetBucketTagging / DeleteBucketTagging (issue 16.6)', () => {
  const putBucketTagging = (body: string, bucket = BUCKET, client = s3) => client.send({ method: 'PUT', path: `/${bucket}`, query: { tagging: '' }, body });
  const getBucketTagging = (bucket = BUCKET, client = s3) => client.send({ method: 'GET', path: `/${bucket}`, query: { tagging: '' } });
  const deleteBucketTagging = (bucket = BUCKET, client = s3) => client.send({ method: 'DELETE', path: `/${bucket}`, query: { tagging: '' } });

  it('a bucket has no tag set until one is put: NoSuchTagSet, then the tags, then NoSuchTagSet again after a delete', async () => {
    const none = await getBucketTagging();
    assert.equal(none.status, 404);
    assert.equal(errorCode(none), 'NoSuchTagSet');
    assert.match(none.body.toString(), /<Message>The TagSet does not exist<\/Message>/);
    assert.match(none.body.toString(), new RegExp(`<BucketName>${BUCKET}</BucketName>`));

    const set = await putBucketTagging(taggingXml([['project', 'aerostore'], ['cost centre', 'R+D: 42/ü @x'], ['empty', '']]));
    assert.equal(set.status, 204, set.body.toString());
    const got = await getBucketTagging();
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/xml');
    const xml = got.body.toString();
    assert.match(xml, /^<\?xml[^>]*>\s*<Tagging xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><TagSet><Tag>/);
    const pairs = [...xml.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)].map((m) => [m[1], m[2]]).sort();
    assert.deepEqual(pairs, [['cost centre', 'R+D: 42/ü @x'], ['empty', ''], ['project', 'aerostore']]);

    // A PUT replaces the whole set; the objects' tags are not the bucket's.
    assert.equal((await putBucketTagging(taggingXml([['only', 'one']]))).status, 204);
    assert.match((await getBucketTagging()).body.toString(), /<TagSet><Tag><Key>only<\/Key><Value>one<\/Value><\/Tag><\/TagSet>/);
    assert.equal((await put('bucket-tags-elsewhere', 'x')).status, 200);
    assert.deepEqual(await tagsOf('bucket-tags-elsewhere'), []);

    const del = await deleteBucketTagging();
    assert.equal(del.status, 204);
    assert.equal(errorCode(await getBucketTagging()), 'NoSuchTagSet');
    assert.equal((await deleteBucketTagging()).status, 204, 'deleting no tag set is no error');
    // An empty tag set leaves the bucket without one, as a delete does.
    assert.equal((await putBucketTagging(taggingXml([['a', '1']]))).status, 204);
    assert.equal((await putBucketTagging('<Tagging><TagSet/></Tagging>')).status, 204);
    assert.equal(errorCode(await getBucketTagging()), 'NoSuchTagSet');
  });

  it('takes up to 50 tags and refuses what S3 refuses, keeping the tags it had', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => [`k${i}`, `v${i}`] as [string, string]);
    assert.equal((await putBucketTagging(taggingXml(fifty))).status, 204);
    const refusals: Array<[string, string, string, RegExp]> = [
      ['51 tags', taggingXml([...fifty, ['k50', 'v']]), 'BadRequest', /Bucket tag count cannot be greater than 50/],
      ['a key of 129 characters', taggingXml([['k'.repeat(129), 'v']]), 'InvalidTag', /The TagKey you have provided is invalid/],
      ['a value of 257 characters', taggingXml([['k', 'v'.repeat(257)]]), 'InvalidTag', /The TagValue you have provided is invalid/],
      ['a disallowed character', taggingXml([['k', 'a;b']]), 'InvalidTag', /The TagValue you have provided is invalid/],
      ['an aws: key', taggingXml([['aws:x', 'v']]), 'InvalidTag', /System tags cannot be added\/updated by requester/],
      ['a duplicate key', taggingXml([['k', '1'], ['k', '2']]), 'InvalidTag', /Cannot provide multiple Tags with the same key/],
      ['no document', '', 'MalformedXML', /./],
      ['another document', '<Tags><TagSet/></Tags>', 'MalformedXML', /./],
    ];
    for (const [what, body, code, message] of refusals) {
      const res = await putBucketTagging(body);
      assert.equal(res.status, 400, `${what}: ${res.body}`);
      assert.equal(errorCode(res), code, what);
      assert.match(res.body.toString(), message, what);
    }
    assert.equal([...(await getBucketTagging()).body.toString().matchAll(/<Tag>/g)].length, 50);
    assert.equal((await deleteBucketTagging()).status, 204);
  });

  it('is the bucket owner’s: NoSuchBucket for a missing bucket, AccessDenied for anyone else', async () => {
    for (const res of [await getBucketTagging('no-such-bucket'), await putBucketTagging(taggingXml([['a', 'b']]), 'no-such-bucket'), await deleteBucketTagging('no-such-bucket')]) {
      assert.equal(res.status, 404);
      assert.equal(errorCode(res), 'NoSuchBucket');
    }
    const other = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, randomUUID())));
    await setBucketSettings(s3, BUCKET, { policy: 'authenticated', member_writes: true });
    try {
      for (const res of [await getBucketTagging(BUCKET, other), await putBucketTagging(taggingXml([['a', 'b']]), BUCKET, other), await deleteBucketTagging(BUCKET, other)]) {
        assert.equal(res.status, 403, res.body.toString());
        assert.equal(errorCode(res), 'AccessDenied');
      }
    } finally {
      await setBucketSettings(s3, BUCKET, { policy: 'private', member_writes: false });
    }
  });
});

describe('x-amz-tagging on writes', () => {
  // These need commitObject/referenceCopy to store the write's tags (the
  // lead's edit to src/core/objects.ts and src/core/copy.ts).

  it('PutObject stores the header tags; GET and HEAD report x-amz-tagging-count', async () => {
    const res = await put('hdr', 'body', { 'x-amz-tagging': 'project=aero&note=a%20b%2Bc&flag' });
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(await tagsOf('hdr'), [['flag', ''], ['note', 'a b+c'], ['project', 'aero']]);
    const got = await s3.send({ method: 'GET', path: `/${BUCKET}/hdr` });
    assert.equal(got.headers['x-amz-tagging-count'], '3');
    const head = await s3.send({ method: 'HEAD', path: `/${BUCKET}/hdr` });
    assert.equal(head.headers['x-amz-tagging-count'], '3');
    // '+' is a space in a URL-encoded query.
    assert.equal((await put('plus', 'body', { 'x-amz-tagging': 'a+b=c+d' })).status, 200);
    assert.deepEqual(await tagsOf('plus'), [['a b', 'c d']]);
  });

  it('an overwrite without x-amz-tagging leaves the new object untagged', async () => {
    assert.equal((await put('over', 'one', { 'x-amz-tagging': 'a=1' })).status, 200);
    assert.deepEqual(await tagsOf('over'), [['a', '1']]);
    assert.equal((await put('over', 'two')).status, 200);
    assert.deepEqual(await tagsOf('over'), []);
    const head = await s3.send({ method: 'HEAD', path: `/${BUCKET}/over` });
    assert.equal(head.headers['x-amz-tagging-count'], undefined);
  });

  it('refuses an invalid x-amz-tagging before storing anything', async () => {
    const cases: Array<[string, string]> = [
      [Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&'), 'BadRequest'],
      ['aws:x=1', 'InvalidTag'],
      [`${'k'.repeat(129)}=v`, 'InvalidTag'],
      [`k=${'v'.repeat(257)}`, 'InvalidTag'],
      ['k=a%2Ab', 'InvalidTag'],
      ['k=1&k=2', 'InvalidArgument'],
      // A pair without a name is no query parameter: the header is refused, not the tag.
      ['=1', 'InvalidArgument'],
      ['k=%E0%A4%A', 'InvalidArgument'],
    ];
    for (const [header, code] of cases) {
      const res = await put('refused', 'body', { 'x-amz-tagging': header });
      assert.equal(res.status, 400, `${header}: ${res.body.toString()}`);
      assert.equal(errorCode(res), code, `${header}: ${res.body.toString()}`);
      assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/refused` })).status, 404, header);
    }
  });

  it('CopyObject keeps the source tags (COPY) or takes x-amz-tagging (REPLACE)', async () => {
    assert.equal((await put('src', 'copy me', { 'x-amz-tagging': 'a=1&b=2' })).status, 200);
    const copy = (key: string, headers: Record<string, string> = {}, bucket = BUCKET) =>
      s3.send({ method: 'PUT', path: `/${bucket}/${key}`, headers: { 'x-amz-copy-source': `/${BUCKET}/src`, ...headers } });

    const plain = await copy('copy-default');
    assert.equal(plain.status, 200, plain.body.toString());
    assert.deepEqual(await tagsOf('copy-default'), [['a', '1'], ['b', '2']]);

    const kept = await copy('copy-copy', { 'x-amz-tagging-directive': 'COPY', 'x-amz-tagging': 'ignored=yes' });
    assert.equal(kept.status, 200, kept.body.toString());
    assert.deepEqual(await tagsOf('copy-copy'), [['a', '1'], ['b', '2']]);

    const replaced = await copy('copy-replace', { 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'c=3' });
    assert.equal(replaced.status, 200, replaced.body.toString());
    assert.deepEqual(await tagsOf('copy-replace'), [['c', '3']]);

    const cleared = await copy('copy-cleared', { 'x-amz-tagging-directive': 'REPLACE' });
    assert.equal(cleared.status, 200, cleared.body.toString());
    assert.deepEqual(await tagsOf('copy-cleared'), []);

    // Across buckets the bytes are streamed through the PUT path: same rules.
    assert.equal((await s3.send({ method: 'PUT', path: '/tags-other' })).status, 200);
    assert.equal((await copy('x-copy', {}, 'tags-other')).status, 200);
    const other = await s3.send({ method: 'GET', path: '/tags-other/x-copy', query: { tagging: '' } });
    assert.equal([...other.body.toString().matchAll(/<Tag>/g)].length, 2, other.body.toString());
    assert.equal((await copy('x-replace', { 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'z=9' }, 'tags-other')).status, 200);
    const otherHead = await s3.send({ method: 'HEAD', path: '/tags-other/x-replace' });
    assert.equal(otherHead.headers['x-amz-tagging-count'], '1');

    const bad = await copy('copy-bad', { 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'aws:no=1' });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'InvalidTag');
    const badDirective = await copy('copy-bad', { 'x-amz-tagging-directive': 'MERGE' });
    assert.equal(badDirective.status, 400);
    assert.equal(errorCode(badDirective), 'InvalidArgument');
  });

  it('tags given at CreateMultipartUpload are the object tags after Complete', async () => {
    const bad = await s3.send({ method: 'POST', path: `/${BUCKET}/mpu-bad`, query: { uploads: '' }, headers: { 'x-amz-tagging': 'k=1&k=2' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'InvalidArgument');

    const created = await s3.send({ method: 'POST', path: `/${BUCKET}/mpu`, query: { uploads: '' }, headers: { 'x-amz-tagging': 'stage=multi&n=1' } });
    assert.equal(created.status, 200, created.body.toString());
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] as string;
    const part = await s3.send({ method: 'PUT', path: `/${BUCKET}/mpu`, query: { partNumber: '1', uploadId }, body: 'the only part' });
    assert.equal(part.status, 200, part.body.toString());
    const complete = await s3.send({
      method: 'POST',
      path: `/${BUCKET}/mpu`,
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`,
    });
    assert.equal(complete.status, 200, complete.body.toString());
    assert.deepEqual(await tagsOf('mpu'), [['n', '1'], ['stage', 'multi']]);
    const head = await s3.send({ method: 'HEAD', path: `/${BUCKET}/mpu` });
    assert.equal(head.headers['x-amz-tagging-count'], '2');
  });
});
