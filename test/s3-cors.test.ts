// Bucket CORS: configuration round trip, preflight, and headers on responses.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3RawClient, sendRaw } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;
const CONFIG = `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule><ID>app</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>
    <AllowedHeader>content-type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
  <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
</CORSConfiguration>`;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: '/web' })).status, 200);
  assert.equal((await s3.send({ method: 'PUT', path: '/web/page.txt', body: 'hello' })).status, 200);
});
after(() => server?.stop());

const preflight = (path: string, headers: Record<string, string>) => sendRaw(s3.base, 'OPTIONS', path, headers);

describe('bucket CORS', () => {
  it('has no configuration until one is put, and refuses preflights meanwhile', async () => {
    const none = await s3.send({ method: 'GET', path: '/web', query: { cors: '' } });
    assert.equal(none.status, 404);
    assert.equal(errorCode(none.body), 'NoSuchCORSConfiguration');
    const pre = await preflight('/web/page.txt', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
    assert.equal(pre.status, 403);
    assert.equal(errorCode(pre.body), 'AccessForbidden');
  });

  it('stores rules (Content-MD5 verified) and returns them', async () => {
    const bad = await s3.send({ method: 'PUT', path: '/web', query: { cors: '' }, body: CONFIG, headers: { 'content-md5': createHash('md5').update('x').digest('base64') } });
    assert.equal(errorCode(bad.body), 'BadDigest');
    const ok = await s3.send({ method: 'PUT', path: '/web', query: { cors: '' }, body: CONFIG, headers: { 'content-md5': createHash('md5').update(CONFIG).digest('base64') } });
    assert.equal(ok.status, 200, ok.body.toString());
    const got = (await s3.send({ method: 'GET', path: '/web', query: { cors: '' } })).body.toString();
    assert.match(got, /<ID>app<\/ID>/);
    assert.match(got, /<AllowedMethod>PUT<\/AllowedMethod><AllowedMethod>GET<\/AllowedMethod>/);
    assert.match(got, /<MaxAgeSeconds>600<\/MaxAgeSeconds>/);
    const unsupported = await s3.send({ method: 'PUT', path: '/web', query: { cors: '' }, body: CONFIG.replace('<AllowedMethod>PUT', '<AllowedMethod>PATCH') });
    assert.equal(errorCode(unsupported.body), 'InvalidRequest');
  });

  it('answers preflights from the rules, unauthenticated, sub-resources and all', async () => {
    const pre = await preflight('/web/upload.bin?uploads', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'content-type, x-amz-date',
    });
    assert.equal(pre.status, 200, pre.body.toString());
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(pre.headers['access-control-allow-methods'], 'PUT, GET');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type, x-amz-date');
    assert.equal(pre.headers['access-control-max-age'], '600');
    const anyOrigin = await preflight('/web/page.txt', { origin: 'https://elsewhere.org', 'access-control-request-method': 'GET' });
    assert.equal(anyOrigin.headers['access-control-allow-origin'], '*');
    const refused = await preflight('/web/page.txt', { origin: 'https://elsewhere.org', 'access-control-request-method': 'PUT' });
    assert.equal(refused.status, 403);
    const noOrigin = await preflight('/web/page.txt', { 'access-control-request-method': 'GET' });
    assert.equal(noOrigin.status, 400);
  });

  it('adds CORS headers to actual responses, errors included, and drops them with the configuration', async () => {
    const ok = await s3.send({ method: 'GET', path: '/web/page.txt', headers: { origin: 'https://app.example.com' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(ok.headers['access-control-expose-headers'], 'ETag');
    const denied = await sendRaw(s3.base, 'GET', '/web/page.txt', { origin: 'https://app.example.com' });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['access-control-allow-origin'], 'https://app.example.com', 'the browser may read the error');
    assert.equal((await s3.send({ method: 'DELETE', path: '/web', query: { cors: '' } })).status, 204);
    const after = await s3.send({ method: 'GET', path: '/web/page.txt', headers: { origin: 'https://app.example.com' } });
    assert.equal(after.headers['access-control-allow-origin'], undefined);
  });
});
