// Object bytes served from the API's origin must not run there as a page
// (docs/security.md "Serving public content"): every object response of
// both APIs carries nosniff and a sandboxing Content-Security-Policy, also
// when a signed request overrides the content type. Before, S3 served a
// public text/html or SVG object inline with neither.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { presign } from '../support/principals.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer;
let root: S3RawClient;

const PAGES = {
  'page.html': ['text/html; charset=utf-8', '<script>fetch("/admin/v1/keys")</script>'],
  'image.svg': ['image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
  'page.xhtml': ['application/xhtml+xml', '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'],
  'untyped': ['', '<html><script>alert(1)</script></html>'],
} as const;

before(async () => {
  srv = await startTestServer();
  root = new S3RawClient(srv.url, srv);
  assert.equal((await root.send({ method: 'PUT', path: '/site', headers: { 'x-amz-acl': 'public-read' } })).status, 200);
  for (const [key, [type, body]] of Object.entries(PAGES)) {
    const res = await root.send({ method: 'PUT', path: `/site/${key}`, body, headers: type ? { 'content-type': type } : {} });
    assert.equal(res.status, 200);
  }
  const pdf = await root.send({ method: 'PUT', path: '/site/doc.pdf', body: '%PDF-1.4\n%%EOF\n', headers: { 'content-type': 'application/pdf' } });
  assert.equal(pdf.status, 200);
});

after(() => srv?.stop());

function assertSandboxed(headers: Headers, what: string): void {
  assert.equal(headers.get('x-content-type-options'), 'nosniff', what);
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /(^|;\s*)sandbox(;|$)/, `${what}: ${csp}`);
  assert.match(csp, /default-src 'none'/, what);
}

describe('object responses are never active content on the API origin', () => {
  it('S3 GET and HEAD, anonymous on a public bucket', async () => {
    for (const key of Object.keys(PAGES)) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${srv.url}/site/${key}`, { method });
        assert.equal(res.status, 200, key);
        assertSandboxed(res.headers, `${method} ${key}`);
      }
    }
  });

  it('/storage/v1 public and authenticated downloads', async () => {
    for (const key of Object.keys(PAGES)) {
      const res = await fetch(`${srv.url}/storage/v1/object/public/site/${key}`);
      assert.equal(res.status, 200, key);
      assertSandboxed(res.headers, `public ${key}`);
    }
  });

  it('a presigned URL that asks for text/html gets the sandbox, whatever the stored type', async () => {
    const signed = await presign(srv.url, srv, { method: 'GET', path: '/site/doc.pdf', query: { 'response-content-type': 'text/html' } }, { expiresIn: 300 });
    const res = await fetch(srv.url + signed.path);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html');
    assertSandboxed(res.headers, 'override to text/html');
  });

  it('a PDF keeps nosniff but is not sandboxed (browsers refuse to show sandboxed PDFs)', async () => {
    const res = await fetch(`${srv.url}/site/doc.pdf`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-security-policy'), null);
  });
});
