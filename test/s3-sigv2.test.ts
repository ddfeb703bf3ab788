// Legacy AWS Signature Version 2 against a real server: header and query
// authentication as S3 answered them, the principal resolved from the key as
// for SigV4 (root, stored keys, STS session tokens), the guards (Expires
// capped at a week, aws-chunked refused, the admin and /storage/v1 APIs
// SigV4 only, presigned SigV2 URLs rate-limited like SigV4 ones), and
// AEROSTORE_SIGV2=false. Requests are signed by test/support/sigv2.ts,
// written from the S3 guide independently of the server's code.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { multipartBody, signPostPolicyV2 } from './support/post-policy.ts';
import { assumeRoleWithWebIdentity, createAccessKey, credentialsOf, userJwt } from './support/principals.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';
import { presignV2, signV2Header, type SigV2Credentials, type SigV2Request } from './support/sigv2.ts';
import { S3RawClient, sendRaw, type RawResponse } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const DOMAIN = 's3.sigv2.test';
const JWT_SECRET = 'sigv2-test-jwt-secret-0123456789abcdef';
const BUCKET = 'legacy';
let srv: TestServer;
let root: S3RawClient;
let rootCreds: SigV2Credentials;
let base: URL;

const epoch = (secondsFromNow: number) => Math.floor(Date.now() / 1000) + secondsFromNow;
const md5 = (data: string) => createHash('md5').update(data).digest('base64');
const text = (res: RawResponse) => res.body.toString();

/** A header-signed request. */
function v2(req: SigV2Request & { body?: string }, creds: SigV2Credentials = rootCreds, now?: Date): Promise<RawResponse> {
  const { path, headers } = signV2Header(req, creds, now);
  return sendRaw(base, req.method, path, headers, req.body);
}

/** A presigned URL fetched as a browser or curl would: no credentials but the URL's. */
function presigned(req: SigV2Request & { body?: string }, expires: number, creds: SigV2Credentials = rootCreds): Promise<RawResponse> {
  return sendRaw(base, req.method, presignV2(req, creds, expires), { ...req.headers }, req.body);
}

function assertError(res: RawResponse, status: number, code: string, message?: RegExp): string {
  const body = text(res);
  assert.equal(res.status, status, body);
  assert.equal(errorCode(body), code, body);
  if (message) assert.match(xmlValue(body, 'Message') ?? '', message, body);
  return body;
}

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_DOMAIN: DOMAIN, AEROSTORE_JWT_SECRET: JWT_SECRET, AEROSTORE_RATE_LIMIT_SIGNED_URL: '1:5' } });
  base = new URL(srv.url);
  rootCreds = { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey };
  root = new S3RawClient(srv.url, rootCreds);
  assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
});
after(() => srv?.stop());

describe('SigV2 header authentication', () => {
  it('PUT with Content-Type, Content-MD5 and x-amz-meta-*, then GET, HEAD and DELETE', async () => {
    const body = 'hello, legacy';
    const put = await v2({
      method: 'PUT',
      path: `/${BUCKET}/a%20b/hello.txt`,
      headers: { 'content-type': 'text/plain', 'content-md5': md5(body), 'x-amz-meta-colour': 'blue' },
      body,
    });
    assert.equal(put.status, 200, text(put));
    assert.equal(put.headers.etag, `"${createHash('md5').update(body).digest('hex')}"`);
    const got = await v2({ method: 'GET', path: `/${BUCKET}/a%20b/hello.txt` });
    assert.equal(got.status, 200, text(got));
    assert.equal(text(got), body);
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['x-amz-meta-colour'], 'blue');
    assert.equal((await v2({ method: 'HEAD', path: `/${BUCKET}/a%20b/hello.txt` })).status, 200);
    assert.equal((await v2({ method: 'DELETE', path: `/${BUCKET}/a%20b/hello.txt` })).status, 204);
    assert.equal((await root.send({ method: 'GET', path: `/${BUCKET}/a%20b/hello.txt` })).status, 404);
  });

  it('x-amz-date instead of Date (the Date line empty), as s3cmd and the AWS SDKs send it', async () => {
    const res = await v2({ method: 'PUT', path: `/${BUCKET}/dated.txt`, headers: { 'x-amz-date': new Date().toUTCString() }, body: 'd' });
    assert.equal(res.status, 200, text(res));
  });

  it('ListObjects with unsigned listing parameters; sub-resources (?acl, ?location, ?tagging) signed', async () => {
    await v2({ method: 'PUT', path: `/${BUCKET}/list/one`, body: '1' });
    const list = await v2({ method: 'GET', path: `/${BUCKET}`, query: [['prefix', 'list/'], ['max-keys', '10']] });
    assert.equal(list.status, 200, text(list));
    assert.match(text(list), /<Key>list\/one<\/Key>/);
    const v2list = await v2({ method: 'GET', path: `/${BUCKET}`, query: [['list-type', '2'], ['prefix', 'list/']] });
    assert.match(text(v2list), /<KeyCount>1<\/KeyCount>/);
    const acl = await v2({ method: 'GET', path: `/${BUCKET}`, query: [['acl', '']] });
    assert.equal(acl.status, 200, text(acl));
    assert.match(text(acl), /<AccessControlPolicy/);
    const location = await v2({ method: 'GET', path: `/${BUCKET}`, query: [['location', '']] });
    assert.match(text(location), /<LocationConstraint/);
    const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
    const put = await v2({ method: 'PUT', path: `/${BUCKET}/list/one`, query: [['tagging', '']], headers: { 'content-md5': md5(tagging) }, body: tagging });
    assert.equal(put.status, 200, text(put));
    assert.match(text(await v2({ method: 'GET', path: `/${BUCKET}/list/one`, query: [['tagging', '']] })), /<Key>k<\/Key><Value>v<\/Value>/);
  });

  it('ListBuckets at the service root', async () => {
    const res = await v2({ method: 'GET', path: '/' });
    assert.equal(res.status, 200, text(res));
    assert.match(text(res), new RegExp(`<Name>${BUCKET}</Name>`));
  });

  it('virtual-hosted style: the canonical resource starts with the Host’s bucket', async () => {
    const host = `${BUCKET}.${DOMAIN}:${base.port}`;
    const { path, headers } = signV2Header({ method: 'PUT', path: '/vhost.txt', hostBucket: BUCKET }, rootCreds);
    const put = await sendRaw(base, 'PUT', path, { ...headers, host }, 'v');
    assert.equal(put.status, 200, text(put));
    assert.equal(text(await root.send({ method: 'GET', path: `/${BUCKET}/vhost.txt` })), 'v');
    // Signed for path style, sent virtual-hosted: the bucket the router takes is not the one signed.
    const signedForPath = signV2Header({ method: 'GET', path: '/vhost.txt' }, rootCreds);
    assertError(await sendRaw(base, 'GET', signedForPath.path, { ...signedForPath.headers, host }), 403, 'SignatureDoesNotMatch');
  });

  it('a wrong signature: 403 SignatureDoesNotMatch with the string to sign', async () => {
    const body = assertError(await v2({ method: 'GET', path: `/${BUCKET}/dated.txt` }, { ...rootCreds, secretAccessKey: 'not-the-secret' }), 403, 'SignatureDoesNotMatch', /^The request signature we calculated does not match the signature you provided/);
    assert.equal(xmlValue(body, 'AWSAccessKeyId'), srv.accessKeyId);
    assert.match(xmlValue(body, 'StringToSign') ?? '', /^GET\n\n\n.+\n\/legacy\/dated\.txt$/);
    assert.ok(xmlValue(body, 'SignatureProvided'));
    assert.match(xmlValue(body, 'StringToSignBytes') ?? '', /^47 45 54 0a/);
  });

  it('tampering: another key, an added sub-resource, an added x-amz-* header', async () => {
    const { path, headers } = signV2Header({ method: 'GET', path: `/${BUCKET}/dated.txt` }, rootCreds);
    assertError(await sendRaw(base, 'GET', path.replace('dated', 'other'), headers), 403, 'SignatureDoesNotMatch');
    assertError(await sendRaw(base, 'GET', `${path}?acl`, headers), 403, 'SignatureDoesNotMatch');
    assertError(await sendRaw(base, 'GET', `${path}?%61cl`, headers), 403, 'SignatureDoesNotMatch');
    const put = signV2Header({ method: 'PUT', path: `/${BUCKET}/copy-target` }, rootCreds);
    assertError(await sendRaw(base, 'PUT', put.path, { ...put.headers, 'x-amz-copy-source': `/${BUCKET}/dated.txt` }), 403, 'SignatureDoesNotMatch');
  });

  it('an unknown access key: 403 InvalidAccessKeyId', async () => {
    const body = assertError(await v2({ method: 'GET', path: '/' }, { accessKeyId: 'AKIDNOSUCHKEY', secretAccessKey: 'x' }), 403, 'InvalidAccessKeyId');
    assert.equal(xmlValue(body, 'AWSAccessKeyId'), 'AKIDNOSUCHKEY');
  });

  it('a malformed Authorization header: 400 InvalidArgument', async () => {
    const res = await sendRaw(base, 'GET', '/', { date: new Date().toUTCString(), authorization: `AWS ${srv.accessKeyId}` });
    const body = assertError(res, 400, 'InvalidArgument', /^AWS authorization header is invalid\. {2}Expected AwsAccessKeyId:signature$/);
    assert.equal(xmlValue(body, 'ArgumentName'), 'Authorization');
  });

  it('no Date: 403 AccessDenied; a Date 20 minutes off: 403 RequestTimeTooSkewed', async () => {
    assertError(await sendRaw(base, 'GET', '/', { authorization: `AWS ${srv.accessKeyId}:c2lnbmF0dXJl` }), 403, 'AccessDenied', /^AWS authentication requires a valid Date or x-amz-date header$/);
    const skewed = await v2({ method: 'GET', path: '/' }, rootCreds, new Date(Date.now() - 20 * 60_000));
    const body = assertError(skewed, 403, 'RequestTimeTooSkewed');
    assert.equal(xmlValue(body, 'MaxAllowedSkewMilliseconds'), '900000');
  });

  it('aws-chunked is SigV4 only: 400 InvalidRequest, nothing stored', async () => {
    const res = await v2({ method: 'PUT', path: `/${BUCKET}/chunked.txt`, headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked' }, body: '0\r\n\r\n' });
    assertError(res, 400, 'InvalidRequest', /Signature Version 4/);
    assert.equal((await root.send({ method: 'GET', path: `/${BUCKET}/chunked.txt` })).status, 404);
  });

  it('a signed hex x-amz-content-sha256 is checked against the body', async () => {
    const wrong = createHash('sha256').update('other').digest('hex');
    const res = await v2({ method: 'PUT', path: `/${BUCKET}/hashed.txt`, headers: { 'x-amz-content-sha256': wrong }, body: 'data' });
    assertError(res, 400, 'XAmzContentSHA256Mismatch');
    const right = createHash('sha256').update('data').digest('hex');
    assert.equal((await v2({ method: 'PUT', path: `/${BUCKET}/hashed.txt`, headers: { 'x-amz-content-sha256': right }, body: 'data' })).status, 200);
  });
});

describe('SigV2 query authentication (presigned URLs)', () => {
  before(async () => {
    assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}/shared.html`, body: '<p>shared</p>' })).status, 200);
  });

  it('GET and HEAD with AWSAccessKeyId, Expires and Signature', async () => {
    const got = await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, epoch(300));
    assert.equal(got.status, 200, text(got));
    assert.equal(text(got), '<p>shared</p>');
    assert.equal((await presigned({ method: 'HEAD', path: `/${BUCKET}/shared.html` }, epoch(300))).status, 200);
  });

  it('response-* overrides are signed: applied, and refused when changed', async () => {
    const req: SigV2Request = { method: 'GET', path: `/${BUCKET}/shared.html`, query: [['response-content-type', 'text/plain'], ['response-content-disposition', 'attachment']] };
    const url = presignV2(req, rootCreds, epoch(300));
    const got = await sendRaw(base, 'GET', url, {});
    assert.equal(got.status, 200, text(got));
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['content-disposition'], 'attachment');
    assertError(await sendRaw(base, 'GET', url.replace('text%2Fplain', 'text%2Fhtml'), {}), 403, 'SignatureDoesNotMatch');
    assertError(await sendRaw(base, 'GET', `${url}&response-cache-control=no-store`, {}), 403, 'SignatureDoesNotMatch');
  });

  it('a presigned PUT', async () => {
    const res = await presigned({ method: 'PUT', path: `/${BUCKET}/uploaded.txt`, headers: { 'content-type': 'text/plain' }, body: 'via url' }, epoch(300));
    assert.equal(res.status, 200, text(res));
    const got = await root.send({ method: 'GET', path: `/${BUCKET}/uploaded.txt` });
    assert.equal(text(got), 'via url');
    assert.equal(got.headers['content-type'], 'text/plain');
  });

  it('expired: 403 AccessDenied "Request has expired" with Expires and ServerTime', async () => {
    const expires = epoch(-10);
    const body = assertError(await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, expires), 403, 'AccessDenied', /^Request has expired$/);
    assert.equal(xmlValue(body, 'Expires'), new Date(expires * 1000).toISOString().replace('.000Z', 'Z'));
    assert.match(xmlValue(body, 'ServerTime') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('Expires more than a week from now: 403 AccessDenied (SigV2 has no signing time)', async () => {
    assertError(await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, epoch(30 * 86400)), 403, 'AccessDenied', /at most 604800 seconds/);
    assert.equal((await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, epoch(6 * 86400))).status, 200);
  });

  it('missing or malformed parameters: 403 AccessDenied as S3 words it', async () => {
    assertError(await sendRaw(base, 'GET', `/${BUCKET}/shared.html?AWSAccessKeyId=${srv.accessKeyId}&Signature=abc`, {}), 403, 'AccessDenied', /^Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters$/);
    assertError(await sendRaw(base, 'GET', `/${BUCKET}/shared.html?AWSAccessKeyId=${srv.accessKeyId}&Expires=tomorrow&Signature=abc`, {}), 403, 'AccessDenied', /^Invalid date \(should be seconds since epoch\): tomorrow$/);
  });

  it('a wrong signature, an unknown key; both an Authorization header and query credentials', async () => {
    assertError(await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, epoch(300), { ...rootCreds, secretAccessKey: 'wrong' }), 403, 'SignatureDoesNotMatch');
    assertError(await presigned({ method: 'GET', path: `/${BUCKET}/shared.html` }, epoch(300), { accessKeyId: 'AKIDNOSUCHKEY', secretAccessKey: 'x' }), 403, 'InvalidAccessKeyId');
    const url = presignV2({ method: 'GET', path: `/${BUCKET}/shared.html` }, rootCreds, epoch(300));
    const { headers } = signV2Header({ method: 'GET', path: `/${BUCKET}/shared.html` }, rootCreds);
    assertError(await sendRaw(base, 'GET', url, headers), 400, 'InvalidArgument', /^Only one auth mechanism allowed/);
  });

  it('is rate-limited like a SigV4 presigned URL (503 SlowDown past its burst)', async () => {
    const url = presignV2({ method: 'GET', path: `/${BUCKET}/shared.html` }, rootCreds, epoch(600));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await sendRaw(base, 'GET', url, {})).status);
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200], String(statuses));
    assert.ok(statuses.slice(5).includes(503), String(statuses));
  });
});

describe('the principal comes from the access key, as with SigV4', () => {
  it('a stored user key: its own bucket yes, the root’s private bucket no (same answers as SigV4)', async () => {
    const user = randomUUID();
    const key = credentialsOf(await createAccessKey(root, user));
    const own = `sigv2-${user.slice(0, 8)}`;
    assert.equal((await v2({ method: 'PUT', path: `/${own}` }, key)).status, 200);
    assert.equal((await v2({ method: 'PUT', path: `/${own}/mine.txt`, body: 'm' }, key)).status, 200);
    assert.equal(text(await presigned({ method: 'GET', path: `/${own}/mine.txt` }, epoch(60), key)), 'm');
    const v4 = await new S3RawClient(srv.url, key).send({ method: 'GET', path: `/${BUCKET}/shared.html` });
    const legacy = await v2({ method: 'GET', path: `/${BUCKET}/shared.html` }, key);
    assert.equal(legacy.status, v4.status);
    assert.equal(errorCode(text(legacy)), errorCode(text(v4)));
    assert.equal(v4.status, 403, text(v4));
  });

  it('STS temporary credentials with x-amz-security-token: header, and query (as botocore presigns)', async () => {
    const creds = await assumeRoleWithWebIdentity(srv.url, await userJwt(JWT_SECRET, randomUUID()));
    const list = await v2({ method: 'GET', path: '/' }, creds);
    assert.equal(list.status, 200, text(list));
    const bucket = `sts-${randomUUID().slice(0, 8)}`;
    assert.equal((await v2({ method: 'PUT', path: `/${bucket}` }, creds)).status, 200);
    assert.equal((await v2({ method: 'PUT', path: `/${bucket}/t.txt`, body: 'sts' }, creds)).status, 200);
    const got = await presigned({ method: 'GET', path: `/${bucket}/t.txt` }, epoch(60), creds);
    assert.equal(got.status, 200, text(got));
    assert.equal(text(got), 'sts');
    // Without the token the key is unknown; with another token the signature breaks.
    assertError(await v2({ method: 'GET', path: '/' }, { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }), 403, 'InvalidAccessKeyId');
    // A SigV2 POST form with the session token as a field (covered by the policy, as botocore's presigned POST does).
    const fields = signPostPolicyV2({ ...creds, conditions: [{ bucket }, { key: 'form.txt' }], sessionToken: creds.sessionToken });
    const form = multipartBody([
      { name: 'key', value: 'form.txt' },
      { name: 'x-amz-security-token', value: creds.sessionToken },
      ...Object.entries(fields).map(([name, value]) => ({ name, value })),
      { name: 'file', value: 'posted', filename: 'form.txt' },
    ]);
    const posted = await fetch(`${srv.url}/${bucket}`, { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } });
    assert.equal(posted.status, 204, await posted.text());
    assert.equal(text(await v2({ method: 'GET', path: `/${bucket}/form.txt` }, creds)), 'posted');
    const url = presignV2({ method: 'GET', path: `/${bucket}/t.txt` }, creds, epoch(60));
    const swapped = url.replace(/x-amz-security-token=[^&]+/, `x-amz-security-token=${encodeURIComponent(creds.sessionToken + 'x')}`);
    assert.notEqual((await sendRaw(base, 'GET', swapped, {})).status, 200);
  });
});

describe('SigV2 is for the S3 API only', () => {
  it('the admin API answers a SigV2 request as SigV4-only S3 does', async () => {
    const { path, headers } = signV2Header({ method: 'GET', path: '/admin/v1/keys' }, rootCreds);
    const res = await sendRaw(base, 'GET', path, headers);
    assert.equal(res.status, 400, text(res));
    assert.match(text(res), /Please use AWS4-HMAC-SHA256/);
  });

  it('/storage/v1 too', async () => {
    const { path, headers } = signV2Header({ method: 'GET', path: '/storage/v1/bucket' }, rootCreds);
    const res = await sendRaw(base, 'GET', path, headers);
    assert.equal(res.status, 400, text(res));
    assert.match(text(res), /Please use AWS4-HMAC-SHA256/);
  });
});

describe('AEROSTORE_SIGV2=false', () => {
  let off: TestServer;
  let offBase: URL;
  before(async () => {
    off = await startTestServer({ env: { AEROSTORE_SIGV2: 'false' } });
    offBase = new URL(off.url);
    assert.equal((await new S3RawClient(off.url, off).send({ method: 'PUT', path: '/sigv2-off' })).status, 200);
  });
  after(() => off?.stop());

  it('header and query SigV2: 400 InvalidRequest "Please use AWS4-HMAC-SHA256", as S3 regions without SigV2', async () => {
    const creds = { accessKeyId: off.accessKeyId, secretAccessKey: off.secretAccessKey };
    const { path, headers } = signV2Header({ method: 'GET', path: '/sigv2-off' }, creds);
    const message = /^The authorization mechanism you have provided is not supported\. Please use AWS4-HMAC-SHA256\.$/;
    assertError(await sendRaw(offBase, 'GET', path, headers), 400, 'InvalidRequest', message);
    assertError(await sendRaw(offBase, 'GET', presignV2({ method: 'GET', path: '/sigv2-off' }, creds, epoch(60)), {}), 400, 'InvalidRequest', message);
    // SigV4 is unaffected.
    assert.equal((await new S3RawClient(off.url, off).send({ method: 'GET', path: '/sigv2-off' })).status, 200);
  });

  it('a SigV2 POST policy: 400 InvalidRequest too', async () => {
    const fields = signPostPolicyV2({ accessKeyId: off.accessKeyId, secretAccessKey: off.secretAccessKey, conditions: [{ bucket: 'sigv2-off' }, { key: 'k' }] });
    const form = multipartBody([{ name: 'key', value: 'k' }, ...Object.entries(fields).map(([name, value]) => ({ name, value })), { name: 'file', value: 'x', filename: 'k' }]);
    const res = await fetch(`${off.url}/sigv2-off`, { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } });
    const body = await res.text();
    assert.equal(res.status, 400, body);
    assert.equal(errorCode(body), 'InvalidRequest');
    assert.match(body, /Please use AWS4-HMAC-SHA256/);
  });
});
