// POST Object: browser form uploads with a SigV4 POST policy, against a real server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postForm, signPostPolicy, type PolicyConditionInput } from './support/post-policy.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;
const BUCKET = 'forms';
const errorCode = (body: string) => /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
const errorMessage = (body: string) => /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
const md5 = (data: string) => createHash('md5').update(data).digest('hex');

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
  assert.equal((await s3.send({ method: 'PUT', path: '/other' })).status, 200);
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
