// POST Object: browser form uploads with a SigV4 or SigV2 POST policy (or
// none: anonymous), as browsers and form libraries send them, against a real
// server: S3's statuses, codes and XML for each behaviour and refusal.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { multipartBody, postForm, signPostPolicy, signPostPolicyV2, type FormPart, type PolicyConditionInput } from './support/post-policy.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;
const BUCKET = 'forms';
/** A bucket made with the canned ACL public-read-write (aerostore grants anonymous readers, never anonymous writers). */
const PUBLIC = 'forms-public';
const errorCode = (body: string) => /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
const errorMessage = (body: string) => /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
const md5 = (data: string) => createHash('md5').update(data).digest('hex');

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
  assert.equal((await s3.send({ method: 'PUT', path: '/other' })).status, 200);
  assert.equal((await s3.send({ method: 'PUT', path: `/${PUBLIC}`, headers: { 'x-amz-acl': 'public-read-write' } })).status, 200);
});
after(() => server?.stop());

interface Upload {
  bucket?: string;
  fields?: Record<string, string>;
  conditions?: PolicyConditionInput[];
  file?: { data: string; filename?: string; type?: string };
  sign?: Partial<Parameters<typeof signPostPolicy>[0]>;
  headers?: Record<string, string>;
  /** Replace the whole body (e.g. a hand-made form). */
  body?: FormData;
}

async function upload(u: Upload): Promise<{ status: number; headers: Headers; body: string }> {
  const bucket = u.bucket ?? BUCKET;
  const signed = signPostPolicy({
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    conditions: u.conditions ?? [{ bucket }, ...Object.entries(u.fields ?? {}).map(([k, v]) => ({ [k]: v }))],
    ...u.sign,
  });
  const body = u.body ?? postForm(u.fields ?? {}, signed, u.file ?? { data: 'hello, form' });
  const res = await fetch(`${server.url}/${bucket}`, { method: 'POST', body, redirect: 'manual', headers: u.headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function stored(key: string, bucket = BUCKET) {
  return s3.send({ method: 'GET', path: `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}` });
}

async function assertAbsent(key: string, bucket = BUCKET) {
  assert.equal((await stored(key, bucket)).status, 404, `${bucket}/${key} must not exist`);
}

async function assertFails(u: Upload, status: number, code: string, message?: RegExp, key?: string) {
  const res = await upload(u);
  assert.equal(res.status, status, res.body);
  assert.equal(errorCode(res.body), code, res.body);
  if (message) assert.match(errorMessage(res.body) ?? '', message);
  if (key) await assertAbsent(key, u.bucket);
}

describe('POST Object: success', () => {
  it('the acl field is the object’s canned ACL: public-read in a private bucket is readable by anyone, alone', async () => {
    const res = await upload({ fields: { key: 'acl/public.txt', acl: 'public-read' }, file: { data: 'for everyone' } });
    assert.equal(res.status, 204, res.body);
    await upload({ fields: { key: 'acl/private.txt', acl: 'private' }, file: { data: 'for the owner' } });
    const anonymous = await fetch(`${server.url}/${BUCKET}/acl/public.txt`);
    assert.equal(anonymous.status, 200);
    assert.equal(await anonymous.text(), 'for everyone');
    assert.equal((await fetch(`${server.url}/${BUCKET}/acl/private.txt`)).status, 403);
    await assertFails({ fields: { key: 'acl/bad.txt', acl: 'everyone' } }, 400, 'InvalidArgument', undefined, 'acl/bad.txt');
  });

  it('stores the file and answers 204 with ETag and Location by default', async () => {
    const res = await upload({ fields: { key: 'plain.txt' }, file: { data: 'hello, form' } });
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers.get('etag'), `"${md5('hello, form')}"`);
    assert.match(res.headers.get('location') ?? '', /\/forms\/plain\.txt$/);
    const got = await stored('plain.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'hello, form');
  });

  it('substitutes ${filename}, stores metadata and headers from the form', async () => {
    const fields = {
      key: 'uploads/${filename}',
      'Content-Type': 'text/plain',
      'Cache-Control': 'max-age=60',
      'Content-Disposition': 'inline',
      'x-amz-meta-owner': 'alice',
      success_action_status: '200',
    };
    const res = await upload({
      fields,
      conditions: [
        { bucket: BUCKET },
        ['starts-with', '$key', 'uploads/'],
        ['starts-with', '$Content-Type', 'text/'],
        ['eq', '$Cache-Control', 'max-age=60'],
        { 'content-disposition': 'inline' },
        ['starts-with', '$x-amz-meta-owner', ''],
        { success_action_status: '200' },
      ],
      file: { data: 'notes', filename: 'notes.txt', type: 'application/x-ignored' },
    });
    assert.equal(res.status, 200, res.body);
    const got = await stored('uploads/notes.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'notes');
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['cache-control'], 'max-age=60');
    assert.equal(got.headers['content-disposition'], 'inline');
    assert.equal(got.headers['x-amz-meta-owner'], 'alice');
  });

  it('answers 201 with a PostResponse document', async () => {
    const res = await upload({ fields: { key: 'created.txt', success_action_status: '201' }, file: { data: 'made' } });
    assert.equal(res.status, 201, res.body);
    assert.match(res.body, /<PostResponse>/);
    assert.match(res.body, /<Bucket>forms<\/Bucket>/);
    assert.match(res.body, /<Key>created\.txt<\/Key>/);
    assert.match(res.body, new RegExp(`<ETag>&quot;${md5('made')}&quot;</ETag>|<ETag>"${md5('made')}"</ETag>`));
    assert.match(res.body, /<Location>http:\/\/[^<]+\/forms\/created\.txt<\/Location>/);
  });

  it('redirects with 303 to success_action_redirect, with bucket, key and etag', async () => {
    const res = await upload({ fields: { key: 'redirected.txt', success_action_redirect: 'https://app.example.com/done?x=1' }, file: { data: 'r' } });
    assert.equal(res.status, 303, res.body);
    const location = new URL(res.headers.get('location') as string);
    assert.equal(location.origin + location.pathname, 'https://app.example.com/done');
    assert.equal(location.searchParams.get('x'), '1');
    assert.equal(location.searchParams.get('bucket'), BUCKET);
    assert.equal(location.searchParams.get('key'), 'redirected.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5('r')}"`);
    assert.equal((await stored('redirected.txt')).status, 200);
  });

  it('stores tags from a tagging field and verifies an x-amz-checksum field', async () => {
    const tagging = '<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>';
    const sha256 = createHash('sha256').update('checked').digest('base64');
    const res = await upload({ fields: { key: 'tagged.txt', tagging, 'x-amz-checksum-sha256': sha256 }, file: { data: 'checked' } });
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers.get('x-amz-checksum-sha256'), sha256);
    const tags = await s3.send({ method: 'GET', path: `/${BUCKET}/tagged.txt`, query: { tagging: '' } });
    assert.match(tags.body.toString(), /<Key>team<\/Key><Value>web<\/Value>/);
    const wrong = createHash('sha256').update('other').digest('base64');
    await assertFails({ fields: { key: 'badsum.txt', 'x-amz-checksum-sha256': wrong }, file: { data: 'checked' } }, 400, 'BadDigest', undefined, 'badsum.txt');
  });

  it('accepts a body within content-length-range and ignores x-ignore-* fields', async () => {
    const res = await upload({
      fields: { key: 'ranged.txt', 'x-ignore-submit': 'Upload' },
      conditions: [{ bucket: BUCKET }, { key: 'ranged.txt' }, ['content-length-range', 3, 5]],
      file: { data: 'abcd' },
    });
    assert.equal(res.status, 204, res.body);
  });

  it('sends CORS headers on the answer, success or failure', async () => {
    const config = `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>POST</AllowedMethod></CORSRule></CORSConfiguration>`;
    const put = await s3.send({ method: 'PUT', path: `/${BUCKET}`, query: { cors: '' }, body: config, headers: { 'content-md5': createHash('md5').update(config).digest('base64') } });
    assert.equal(put.status, 200, put.body.toString());
    const ok = await upload({ fields: { key: 'cors.txt' }, headers: { origin: 'https://app.example.com' } });
    assert.equal(ok.status, 204, ok.body);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const bad = await upload({ fields: { key: 'cors-bad.txt' }, sign: { secretAccessKey: 'wrong' }, headers: { origin: 'https://app.example.com' } });
    assert.equal(errorCode(bad.body), 'SignatureDoesNotMatch');
    assert.equal(bad.headers.get('access-control-allow-origin'), 'https://app.example.com');
  });
});

describe('POST Object: refusals store nothing', () => {
  it('expired policy', async () => {
    await assertFails({ fields: { key: 'expired.txt' }, sign: { expiration: new Date(Date.now() - 1000) } }, 403, 'AccessDenied', /^Invalid according to Policy: Policy expired\.$/, 'expired.txt');
  });

  it('bad signature, unknown key', async () => {
    await assertFails({ fields: { key: 'badsig.txt' }, sign: { secretAccessKey: 'not-the-secret' } }, 403, 'SignatureDoesNotMatch', undefined, 'badsig.txt');
    await assertFails({ fields: { key: 'badkey.txt' }, sign: { accessKeyId: 'AKIDNOSUCHKEY0000000' } }, 403, 'InvalidAccessKeyId', undefined, 'badkey.txt');
  });

  it('malformed policy document', async () => {
    await assertFails({ fields: { key: 'malformed.txt' }, sign: { rawPolicy: '{"expiration": "2099-01-01T00:00:00Z", "conditions": [' } }, 400, 'InvalidPolicyDocument', undefined, 'malformed.txt');
    await assertFails({ fields: { key: 'malformed.txt' }, sign: { rawPolicy: '{"conditions": []}' } }, 400, 'InvalidPolicyDocument', undefined, 'malformed.txt');
  });

  it('a field no condition covers', async () => {
    await assertFails(
      { fields: { key: 'extra.txt', 'x-amz-meta-sneaky': '1' }, conditions: [{ bucket: BUCKET }, { key: 'extra.txt' }] },
      403,
      'AccessDenied',
      /^Invalid according to Policy: Extra input fields: x-amz-meta-sneaky$/,
      'extra.txt',
    );
  });

  it('a failed condition (exact and starts-with)', async () => {
    await assertFails({ fields: { key: 'other-key.txt' }, conditions: [{ bucket: BUCKET }, { key: 'wanted.txt' }] }, 403, 'AccessDenied', /Policy Condition failed/, 'other-key.txt');
    await assertFails({ fields: { key: 'private/x.txt' }, conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'public/']] }, 403, 'AccessDenied', /Policy Condition failed/, 'private/x.txt');
  });

  it('a policy for another bucket', async () => {
    const signed = signPostPolicy({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket: 'other' }, { key: 'cross.txt' }] });
    const res = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: postForm({ key: 'cross.txt' }, signed, { data: 'x' }) });
    const body = await res.text();
    assert.equal(res.status, 403, body);
    assert.equal(errorCode(body), 'AccessDenied');
    await assertAbsent('cross.txt');
    await assertAbsent('cross.txt', 'other');
  });

  it('content-length-range: too large, too small', async () => {
    const conditions: PolicyConditionInput[] = [{ bucket: BUCKET }, ['starts-with', '$key', 'range-'], ['content-length-range', 3, 5]];
    await assertFails({ fields: { key: 'range-big.txt' }, conditions, file: { data: 'abcdefgh' } }, 400, 'EntityTooLarge', undefined, 'range-big.txt');
    await assertFails({ fields: { key: 'range-small.txt' }, conditions, file: { data: 'ab' } }, 400, 'EntityTooSmall', undefined, 'range-small.txt');
  });

  it('too large while streaming: a big file over the range is cut off, not stored', async () => {
    const conditions: PolicyConditionInput[] = [{ bucket: BUCKET }, { key: 'stream-big.bin' }, ['content-length-range', 0, 1024]];
    await assertFails({ fields: { key: 'stream-big.bin' }, conditions, file: { data: 'x'.repeat(256 * 1024) } }, 400, 'EntityTooLarge', undefined, 'stream-big.bin');
  });

  it('the file not last: fields after it are ignored, so the key is missing', async () => {
    const signed = signPostPolicy({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket: BUCKET }, { key: 'late.txt' }] });
    const form = new FormData();
    for (const [name, value] of Object.entries(signed)) form.append(name, value);
    form.append('file', new Blob(['late']), 'late.txt');
    form.append('key', 'late.txt');
    const res = await upload({ body: form });
    assert.equal(res.status, 400, res.body);
    assert.equal(errorCode(res.body), 'InvalidArgument');
    assert.match(errorMessage(res.body) ?? '', /must contain a field named 'key'/);
    await assertAbsent('late.txt');
  });

  it('no file, no policy, not a form', async () => {
    const signed = signPostPolicy({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket: BUCKET }, { key: 'nofile.txt' }] });
    const form = new FormData();
    form.append('key', 'nofile.txt');
    for (const [name, value] of Object.entries(signed)) form.append(name, value);
    const noFile = await upload({ body: form });
    assert.equal(errorCode(noFile.body), 'InvalidArgument', noFile.body);

    const anonymous = new FormData();
    anonymous.append('key', 'anon.txt');
    anonymous.append('file', new Blob(['a']), 'a.txt');
    const anon = await upload({ body: anonymous });
    assert.equal(anon.status, 403, anon.body);
    assert.equal(errorCode(anon.body), 'AccessDenied');
    await assertAbsent('anon.txt');

    const plain = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: 'key=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const text = await plain.text();
    assert.equal(plain.status, 412, text);
    assert.equal(errorCode(text), 'PreconditionFailed');
  });

  it('a missing bucket', async () => {
    await assertFails({ bucket: 'no-such-bucket', fields: { key: 'x.txt' } }, 404, 'NoSuchBucket');
  });
});

/** A SigV2-signed form sent as Python requests' `files=` sends it: every part carries a filename (the field's name), `file` last. */
async function postV2(opts: {
  bucket?: string;
  fields: Array<[string, string]>;
  conditions?: PolicyConditionInput[];
  file?: FormPart;
  sign?: Partial<Parameters<typeof signPostPolicyV2>[0]>;
  /** Replace the signed fields' names or values (case games, a missing signature). */
  signed?: (fields: Array<[string, string]>) => Array<[string, string]>;
  allFilenames?: boolean;
}): Promise<{ status: number; headers: Headers; body: string }> {
  const bucket = opts.bucket ?? BUCKET;
  const conditions = opts.conditions ?? [{ bucket }, ...opts.fields.map(([k, v]) => ({ [k]: v }))];
  const v2 = signPostPolicyV2({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions, ...opts.sign });
  let signed: Array<[string, string]> = [
    ['AWSAccessKeyId', v2.AWSAccessKeyId],
    ['policy', v2.policy],
    ['signature', v2.signature],
  ];
  if (opts.signed) signed = opts.signed(signed);
  const filenames = opts.allFilenames ?? true;
  const parts: FormPart[] = [...opts.fields, ...signed].map(([name, value]) => ({ name, value, filename: filenames ? name : undefined }));
  parts.push(opts.file ?? { name: 'file', value: 'bar', filename: 'file', type: 'text/plain' });
  const { body, contentType } = multipartBody(parts);
  const res = await fetch(`${server.url}/${bucket}`, { method: 'POST', body, headers: { 'content-type': contentType }, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function assertError(res: { status: number; body: string }, status: number, code: string, message?: RegExp) {
  assert.equal(res.status, status, res.body);
  assert.equal(errorCode(res.body), code, res.body);
  if (message) assert.match(errorMessage(res.body) ?? '', message, res.body);
}

describe('POST Object: forms as form libraries send them', () => {
  it('every part carries a filename (requests files=): only `file` is the object, the rest are fields', async () => {
    const res = await postV2({ fields: [['key', 'every-part.txt'], ['Content-Type', 'text/plain'], ['x-amz-meta-origin', 'requests']] });
    assert.equal(res.status, 204, res.body);
    const got = await stored('every-part.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'bar');
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['x-amz-meta-origin'], 'requests');
  });

  it('a `file` part without a filename is the file too (text content)', async () => {
    const res = await postV2({ fields: [['key', 'text-file.txt']], file: { name: 'file', value: 'typed in' }, allFilenames: false });
    assert.equal(res.status, 204, res.body);
    assert.equal((await stored('text-file.txt')).body.toString(), 'typed in');
  });

  it('fields after the file are ignored (with filenames too)', async () => {
    const v2 = signPostPolicyV2({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket: BUCKET }, { key: 'after.txt' }] });
    const { body, contentType } = multipartBody([
      { name: 'key', value: 'after.txt', filename: 'key' },
      ...Object.entries(v2).map(([name, value]) => ({ name, value, filename: name })),
      { name: 'file', value: 'first', filename: 'a.txt' },
      { name: 'x-amz-meta-late', value: 'ignored', filename: 'x-amz-meta-late' },
      { name: 'key', value: 'elsewhere.txt' },
    ]);
    const res = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body, headers: { 'content-type': contentType } });
    assert.equal(res.status, 204, await res.text());
    const got = await stored('after.txt');
    assert.equal(got.body.toString(), 'first');
    assert.equal(got.headers['x-amz-meta-late'], undefined);
    await assertAbsent('elsewhere.txt');
  });

  it('${filename} takes the file part’s name, UTF-8 included, without its path', async () => {
    const res = await postV2({
      fields: [['key', 'named/${filename}']],
      conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'named/']],
      file: { name: 'file', value: 'x', filename: 'C:\\Users\\me\\résumé.txt' },
    });
    assert.equal(res.status, 204, res.body);
    assert.equal((await stored('named/résumé.txt')).status, 200);
  });
});

describe('POST Object: SigV2 POST policies (AWSAccessKeyId + signature)', () => {
  it('stores the file (204), with the policy’s fields', async () => {
    const res = await postV2({ fields: [['key', 'v2.txt'], ['acl', 'private'], ['Content-Type', 'text/plain']] });
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers.get('etag'), `"${md5('bar')}"`);
    assert.equal((await stored('v2.txt')).body.toString(), 'bar');
  });

  it('a bad signature: 403 SignatureDoesNotMatch; an unknown key: 403 InvalidAccessKeyId', async () => {
    assertError(await postV2({ fields: [['key', 'v2-bad.txt']], sign: { secretAccessKey: 'wrong' } }), 403, 'SignatureDoesNotMatch');
    assertError(await postV2({ fields: [['key', 'v2-bad.txt']], signed: (f) => f.map(([k, v]) => [k, k === 'AWSAccessKeyId' ? 'AKIDNOSUCHKEY' : v]) }), 403, 'InvalidAccessKeyId');
    await assertAbsent('v2-bad.txt');
  });

  it('a missing signature or AWSAccessKeyId: 400 InvalidArgument naming it', async () => {
    assertError(await postV2({ fields: [['key', 'v2-bad.txt']], signed: (f) => f.filter(([k]) => k !== 'signature') }), 400, 'InvalidArgument', /must contain a field named 'signature'/);
    assertError(await postV2({ fields: [['key', 'v2-bad.txt']], signed: (f) => f.filter(([k]) => k !== 'AWSAccessKeyId') }), 400, 'InvalidArgument', /must contain a field named 'AWSAccessKeyId'/);
    await assertAbsent('v2-bad.txt');
  });

  it('field and condition names compare case-insensitively (kEy, pOLICy, bUcKeT, StArTs-WiTh, $CoNtEnT-TyPe)', async () => {
    const res = await postV2({
      fields: [['kEy', 'cased.txt'], ['aCl', 'private'], ['Content-Type', 'text/plain']],
      conditions: [{ bUcKeT: BUCKET }, ['StArTs-WiTh', '$KeY', 'cased'], { AcL: 'private' }, ['StArTs-WiTh', '$CoNtEnT-TyPe', 'text/plain'], ['content-length-range', 0, 1024]],
      signed: (f) => f.map(([k, v]) => [k === 'policy' ? 'pOLICy' : k, v]),
    });
    assert.equal(res.status, 204, res.body);
    assert.equal((await stored('cased.txt')).status, 200);
  });

  it('values with $ and backslashes: the key \\$foo.txt under starts-with "\\$foo"', async () => {
    const res = await postV2({ fields: [['key', '\\$foo.txt']], conditions: [{ bucket: BUCKET }, ['starts-with', '$key', '\\$foo']] });
    assert.equal(res.status, 204, res.body);
    assert.equal((await stored('\\$foo.txt')).body.toString(), 'bar');
    // S3's own escape: `\$` in the policy text is a dollar sign.
    const raw = `{"expiration": "${new Date(Date.now() + 3_600_000).toISOString()}", "conditions": [{"bucket": "${BUCKET}"}, ["starts-with", "$key", "\\$price"]]}`;
    const escaped = await postV2({ fields: [['key', '$price-list.txt']], sign: { rawPolicy: raw } });
    assert.equal(escaped.status, 204, escaped.body);
    assert.equal((await stored('$price-list.txt')).status, 200);
  });

  it('x-ignore-* fields need no condition', async () => {
    const res = await postV2({ fields: [['key', 'ignored.txt'], ['x-ignore-submit', 'Upload']], conditions: [{ bucket: BUCKET }, { key: 'ignored.txt' }] });
    assert.equal(res.status, 204, res.body);
  });
});

describe('POST Object: success_action_status and redirects', () => {
  it('200 and 204 with an empty body; anything else is 204', async () => {
    for (const [value, status] of [['200', 200], ['204', 204], ['404', 204], ['ok', 204]] as const) {
      const key = `status-${status}-${value}.txt`;
      const res = await postV2({ fields: [['key', key], ['success_action_status', value]] });
      assert.equal(res.status, status, `${value}: ${res.body}`);
      assert.equal(res.body, '');
      assert.equal(res.headers.get('etag'), `"${md5('bar')}"`);
    }
  });

  it('201: the PostResponse document (Location, Bucket, Key, ETag)', async () => {
    const res = await postV2({ fields: [['key', 'dir/made here.txt'], ['success_action_status', '201']] });
    assert.equal(res.status, 201, res.body);
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    assert.match(res.body, /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<PostResponse>/);
    assert.match(res.body, /<Location>http:\/\/[^<]+\/forms\/dir\/made%20here\.txt<\/Location>/);
    assert.match(res.body, /<Bucket>forms<\/Bucket>/);
    assert.match(res.body, /<Key>dir\/made here\.txt<\/Key>/);
    assert.match(res.body, new RegExp(`<ETag>(&quot;|")${md5('bar')}(&quot;|")</ETag>`));
  });

  it('the legacy `redirect` field: 303 with bucket, key and etag', async () => {
    const res = await postV2({ fields: [['key', 'legacy-redirect.txt'], ['redirect', 'https://app.example.com/uploaded']] });
    assert.equal(res.status, 303, res.body);
    const location = new URL(res.headers.get('location') as string);
    assert.equal(location.origin + location.pathname, 'https://app.example.com/uploaded');
    assert.deepEqual([...location.searchParams.keys()], ['bucket', 'key', 'etag']);
    assert.equal(location.searchParams.get('key'), 'legacy-redirect.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5('bar')}"`);
    assert.match(res.headers.get('location') as string, /etag=%22[0-9a-f]{32}%22$/);
  });
});

describe('POST Object: refusals, as S3 answers them', () => {
  it('a policy without a bucket condition: 403 "Extra input fields: bucket"', async () => {
    const res = await postV2({ fields: [['key', 'no-bucket-cond.txt']], conditions: [{ key: 'no-bucket-cond.txt' }] });
    assertError(res, 403, 'AccessDenied', /^Invalid according to Policy: Extra input fields: bucket$/);
    await assertAbsent('no-bucket-cond.txt');
  });

  it('a policy for another (existing) bucket: 403 "Policy Condition failed" on $bucket', async () => {
    const res = await postV2({ fields: [['key', 'cross.txt']], conditions: [{ bucket: 'other' }, { key: 'cross.txt' }] });
    assertError(res, 403, 'AccessDenied', /^Invalid according to Policy: Policy Condition failed: \["eq", "\$bucket", "other"\]$/);
  });

  it('a missing bucket: 404 NoSuchBucket before the policy is read', async () => {
    const res = await postV2({ bucket: 'no-such-forms', fields: [['key', 'x.txt']], conditions: [{ bucket: 'forms' }, { key: 'x.txt' }] });
    assertError(res, 404, 'NoSuchBucket');
    assert.match(res.body, /<BucketName>no-such-forms<\/BucketName>/);
  });

  it('a field the form lacks but a condition names: 403; a value the condition refuses: 403', async () => {
    const conditions: PolicyConditionInput[] = [{ bucket: BUCKET }, { key: 'lacks.txt' }, ['starts-with', '$x-amz-meta-foo', 'bar']];
    assertError(await postV2({ fields: [['key', 'lacks.txt']], conditions }), 403, 'AccessDenied', /Policy Condition failed: \["starts-with", "\$x-amz-meta-foo", "bar"\]/);
    const eqEmpty: PolicyConditionInput[] = [{ bucket: BUCKET }, { key: 'lacks.txt' }, ['eq', '$x-amz-meta-foo', '']];
    assertError(await postV2({ fields: [['key', 'lacks.txt'], ['x-amz-meta-foo', 'bar-clamp']], conditions: eqEmpty }), 403, 'AccessDenied', /Policy Condition failed/);
    await assertAbsent('lacks.txt');
  });

  it('malformed policies: 400 InvalidPolicyDocument (EXPIRATION, CONDITIONS, a date with a space, empty conditions, content-length-range arguments)', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (const doc of [
      { EXPIRATION: later, conditions: [{ bucket: BUCKET }] },
      { expiration: later, CONDITIONS: [{ bucket: BUCKET }] },
      { expiration: later.replace('T', ' '), conditions: [{ bucket: BUCKET }] },
      { conditions: [{ bucket: BUCKET }] },
      { expiration: later },
      { expiration: later, conditions: [{}] },
      { expiration: later, conditions: [{ bucket: BUCKET }, ['content-length-range', 0]] },
      { expiration: later, conditions: [{ bucket: BUCKET }, ['content-length-range', -1, 0]] },
    ]) {
      const res = await postV2({ fields: [['key', 'malformed.txt']], sign: { rawPolicy: JSON.stringify(doc) } });
      assertError(res, 400, 'InvalidPolicyDocument');
    }
    await assertAbsent('malformed.txt');
  });

  it('content-length-range: 400 EntityTooLarge / EntityTooSmall with the sizes', async () => {
    const big = await postV2({ fields: [['key', 'len.txt']], conditions: [{ bucket: BUCKET }, { key: 'len.txt' }, ['content-length-range', 0, 0]] });
    assertError(big, 400, 'EntityTooLarge');
    assert.match(big.body, /<MaxSizeAllowed>0<\/MaxSizeAllowed>/);
    const small = await postV2({ fields: [['key', 'len.txt']], conditions: [{ bucket: BUCKET }, { key: 'len.txt' }, ['content-length-range', 512, 1024]] });
    assertError(small, 400, 'EntityTooSmall');
    assert.match(small.body, /<ProposedSize>3<\/ProposedSize>/);
    assert.match(small.body, /<MinSizeAllowed>512<\/MinSizeAllowed>/);
    await assertAbsent('len.txt');
  });

  it('no file: 400 InvalidArgument; no key: 400 InvalidArgument', async () => {
    const v2 = signPostPolicyV2({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, conditions: [{ bucket: BUCKET }, { key: 'nofile.txt' }] });
    const { body, contentType } = multipartBody([{ name: 'key', value: 'nofile.txt', filename: 'key' }, ...Object.entries(v2).map(([name, value]) => ({ name, value, filename: name }))]);
    const res = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body, headers: { 'content-type': contentType } });
    assertError({ status: res.status, body: await res.text() }, 400, 'InvalidArgument', /^POST requires exactly one file upload per request\.$/);
    assertError(await postV2({ fields: [['acl', 'private']] }), 400, 'InvalidArgument', /must contain a field named 'key'/);
  });

  it('anonymous forms (no policy) only where anonymous writes are allowed — here, nowhere', async () => {
    for (const bucket of [BUCKET, PUBLIC]) {
      const { body, contentType } = multipartBody([
        { name: 'key', value: 'anonymous.txt', filename: 'key' },
        { name: 'acl', value: 'public-read', filename: 'acl' },
        { name: 'Content-Type', value: 'text/plain', filename: 'Content-Type' },
        { name: 'file', value: 'bar', filename: 'file' },
      ]);
      const res = await fetch(`${server.url}/${bucket}`, { method: 'POST', body, headers: { 'content-type': contentType } });
      assertError({ status: res.status, body: await res.text() }, 403, 'AccessDenied');
      await assertAbsent('anonymous.txt', bucket);
    }
  });
});
