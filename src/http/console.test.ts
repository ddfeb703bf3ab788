import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { consoleApp, isConsoleNavigation } from './console.ts';

describe('isConsoleNavigation', () => {
  const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

  it('is a browser opening the service root', () => {
    assert.equal(isConsoleNavigation('GET', '/', browser), true);
    assert.equal(isConsoleNavigation('GET', '/', { 'sec-fetch-mode': 'navigate' }), true);
    assert.equal(isConsoleNavigation('GET', '/', { accept: 'text/html' }), true, 'curl -H "Accept: text/html", an older browser');
  });

  it('is never an S3 client listing buckets, or anything else', () => {
    assert.equal(isConsoleNavigation('GET', '/', { ...browser, authorization: 'AWS4-HMAC-SHA256 Credential=...' }), false, 'signed: ListBuckets');
    assert.equal(isConsoleNavigation('GET', '/?X-Amz-Signature=00', browser), false, 'a query: presigned ListBuckets');
    assert.equal(isConsoleNavigation('GET', '/', {}), false, 'no Accept: an S3 client');
    assert.equal(isConsoleNavigation('GET', '/', { accept: '*/*' }), false);
    assert.equal(isConsoleNavigation('GET', '/', { accept: 'application/xml' }), false);
    assert.equal(isConsoleNavigation('HEAD', '/', browser), false);
    assert.equal(isConsoleNavigation('POST', '/', browser), false, 'STS or a form POST');
    assert.equal(isConsoleNavigation('GET', '/bucket', browser), false, 'a bucket opened in a browser stays S3');
  });
});

describe('consoleApp', () => {
  it('says how to build the console when it is not built, with the same protective headers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'console-none-'));
    try {
      const res = await consoleApp({ region: 'us-east-1', dir }).request('/console/');
      assert.equal(res.status, 503);
      assert.match(await res.text(), /npm run build:console/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('serves the page for any route, the built files by name, and the region', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'console-built-'));
    try {
      await writeFile(path.join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
      await writeFile(path.join(dir, 'app.0123456789ab.js'), 'export {};');
      const app = consoleApp({ region: 'eu-west-3', dir });
      for (const route of ['/console/', '/console/anything', '/console/index.html']) {
        const res = await app.request(route);
        assert.equal(res.status, 200, route);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.match(await res.text(), /id="app"/);
      }
      const js = await app.request('/console/app.0123456789ab.js');
      assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.match(js.headers.get('cache-control') ?? '', /immutable/);
      assert.equal((await app.request('/console/app.ffffffffffff.js')).status, 404);
      assert.deepEqual(await (await app.request('/console/config.json')).json(), { region: 'eu-west-3' });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
