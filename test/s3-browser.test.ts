// A real browser (Debian's headless Chromium, driven by playwright-core) on
// a page from another origin uploads straight to aerostore: the CORS
// preflight, the upload and the readable response headers all go through
// the browser's own CORS machinery, not a simulation of it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { signPostPolicy } from './support/post-policy.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CHROMIUM = process.env.AEROSTORE_CHROMIUM ?? '/usr/bin/chromium';

let server: TestServer;
let s3: S3RawClient;
let page: http.Server;
let pageOrigin: string;
let browser: Browser;
/** The HTML the app's origin serves at /form (set by a test). */
let formPage = '';

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set AEROSTORE_CHROMIUM)`);
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  // The app's page lives on another origin (another port) than the store.
  page = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    if (req.url?.startsWith('/form')) res.end(formPage);
    else res.end(`<!doctype html><title>app</title><p>uploader</p><p id="url">${req.url?.replace(/[<>&]/g, '')}</p>`);
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  assert.equal((await s3.send({ method: 'PUT', path: '/browser' })).status, 200);
  const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>${pageOrigin}</AllowedOrigin>
    <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>POST</AllowedMethod>
    <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`;
  assert.equal((await s3.send({ method: 'PUT', path: '/browser', query: { cors: '' }, body: cors })).status, 200);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root Chromium needs --no-sandbox; the rest keep it off the (closed) network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  page?.close();
  await server?.stop();
});

describe('uploads from a browser on another origin', () => {
  it('PUTs through a presigned URL after a CORS preflight, and reads the exposed ETag', async () => {
    const { path } = await s3.sign({ method: 'PUT', path: '/browser/from-chromium.txt', presignExpiresIn: 300 });
    const tab = await browser.newPage();
    await tab.goto(pageOrigin);
    const result = await tab.evaluate(async (url) => {
      const res = await fetch(url, { method: 'PUT', body: 'hello from chromium', headers: { 'content-type': 'text/plain' } });
      return { status: res.status, etag: res.headers.get('etag') };
    }, server.url + path);
    assert.equal(result.status, 200);
    assert.match(String(result.etag), /^"[0-9a-f]{32}"$/, 'ETag readable thanks to ExposeHeader');
    const stored = await s3.send({ method: 'GET', path: '/browser/from-chromium.txt' });
    assert.equal(stored.body.toString(), 'hello from chromium');
    assert.equal(stored.headers['content-type'], 'text/plain');
    await tab.close();
  });

  it('uploads through an HTML form with a POST policy and follows success_action_redirect', async () => {
    const redirect = `${pageOrigin}/done`;
    const signed = signPostPolicy({
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      conditions: [
        { bucket: 'browser' },
        ['starts-with', '$key', 'uploads/'],
        ['starts-with', '$Content-Type', 'text/'],
        { success_action_redirect: redirect },
        ['content-length-range', 1, 1024 * 1024],
      ],
    });
    const hidden = { key: 'uploads/${filename}', 'Content-Type': 'text/plain', success_action_redirect: redirect, ...signed };
    formPage =
      '<!doctype html><title>form</title>' +
      `<form id="f" method="post" enctype="multipart/form-data" action="${server.url}/browser">` +
      Object.entries(hidden)
        .map(([name, value]) => `<input type="hidden" name="${name}" value="${String(value).replace(/"/g, '&quot;')}">`)
        .join('') +
      '<input type="file" name="file"><button>upload</button></form>';
    const tab = await browser.newPage();
    await tab.goto(`${pageOrigin}/form`);
    await tab.setInputFiles('input[type=file]', { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('posted from a form') });
    await Promise.all([tab.waitForURL(`${redirect}**`), tab.click('button')]);
    const landed = new URL(tab.url());
    assert.equal(landed.searchParams.get('bucket'), 'browser');
    assert.equal(landed.searchParams.get('key'), 'uploads/note.txt');
    assert.match(String(landed.searchParams.get('etag')), /^"?[0-9a-f]{32}"?$/);
    const stored = await s3.send({ method: 'GET', path: '/browser/uploads/note.txt' });
    assert.equal(stored.status, 200);
    assert.equal(stored.body.toString(), 'posted from a form');
    assert.equal(stored.headers['content-type'], 'text/plain');
    await tab.close();
  });

  it('is stopped by the browser when the bucket does not allow the origin', async () => {
    const { path } = await s3.sign({ method: 'PUT', path: '/browser/blocked.txt', presignExpiresIn: 300 });
    const tab = await browser.newPage();
    // Same page, served from a different origin (localhost vs 127.0.0.1).
    await tab.goto(pageOrigin.replace('127.0.0.1', 'localhost'));
    const outcome = await tab.evaluate(async (url) => {
      try {
        await fetch(url, { method: 'PUT', body: 'nope', headers: { 'content-type': 'text/plain' } });
        return 'sent';
      } catch {
        return 'blocked';
      }
    }, server.url + path);
    assert.equal(outcome, 'blocked');
    assert.equal((await s3.send({ method: 'GET', path: '/browser/blocked.txt' })).status, 404, 'the preflight failed, so no PUT was sent');
    await tab.close();
  });
});
