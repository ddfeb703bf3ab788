// The web console (docs/console.md) in a real browser: Debian's headless
// Chromium driven by playwright-core, against a real server. One walk through
// what an operator does — sign in with the root key, create a bucket, make a
// folder and browse into it, upload 20 MiB with a moving progress bar, download
// it and compare, share it and open the link signed out, create and revoke an
// access key, watch an event arrive live — with the page's console and CSP
// violations watched the whole time. Besides: the headers /console is
// served with, the root page's redirect for browsers (and not for S3
// clients), and stored HTML that cannot script the console's origin.
//
// AEROSTORE_CONSOLE_SCREENSHOTS=<dir> also saves screenshots of the views
// there (docs/console/ holds the ones docs/console.md shows).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { S3RawClient } from './support/signer.ts';
import { ROOT, startTestServer, type TestServer } from './support/server.ts';

const CHROMIUM = process.env.AEROSTORE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.AEROSTORE_CONSOLE_SCREENSHOTS;
const BUCKET = 'console-walk';
const JWT_SECRET = 'console-test-jwt-secret-0123456789abcdef';

let server: TestServer;
let s3: S3RawClient;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** What the page said that it should not have: errors, CSP violations. */
const problems: string[] = [];

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function shot(name: string, target: Page = page): Promise<void> {
  if (!SHOTS) return;
  await mkdir(SHOTS, { recursive: true });
  await target.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A GET with the path exactly as given (fetch would resolve `..`). */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: target, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` until it holds (a write the page made may land a moment after the page shows it). */
async function expectEventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function watch(p: Page): void {
  p.on('console', (m) => {
    // A fetch answered 4xx logs "Failed to load resource" (a user's console asks for service-role views): not a fault of the page.
    if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) problems.push(`console.${m.type()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set AEROSTORE_CHROMIUM)`);
  // The console as the source says now (npm install builds it too).
  await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/build-console.ts')], { cwd: ROOT });
  server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  s3 = new S3RawClient(server.url, server);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  // CSP violations are reported to the page as events; collect them before any script of the page runs.
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`);
  page = await context.newPage();
  watch(page);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('serving the console', () => {
  it('serves /console/ with a strict CSP and the other protective headers', async () => {
    const res = await fetch(`${server.url}/console/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('set-cookie'), null);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|style=/, 'no inline script or style');
    const js = /src="(app\.[0-9a-f]+\.js)"/.exec(html)?.[1];
    assert.ok(js, 'the page names its hashed bundle');
    const asset = await fetch(`${server.url}/console/${js}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    // Only the built files by their flat names: anything else is the page itself, never a file from elsewhere.
    for (const sneaky of ['/console/..%2f..%2fpackage.json', '/console/%2e%2e/package.json', '/console/x/../../package.json']) {
      const res = await rawGet(sneaky);
      assert.equal(res.status, 200, sneaky);
      assert.match(res.body, /<div id="app">/, sneaky);
    }
    assert.equal((await fetch(`${server.url}/console/app.0000000000.js`)).status, 404);
    const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/console/');
  });

  it('sends a browser opening the root page to the console, and leaves ListBuckets alone', async () => {
    const navigation = await fetch(`${server.url}/`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate' } });
    assert.equal(navigation.status, 302);
    assert.equal(navigation.headers.get('location'), '/console/');
    const list = await s3.send({ method: 'GET', path: '/' });
    assert.equal(list.status, 200);
    assert.match(list.body.toString(), /<ListAllMyBucketsResult/);
    // Unsigned and not a browser: the S3 refusal it always was.
    const anonymous = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.equal(anonymous.status, 403);
    // Each console request is in the access log like any other.
    await new Promise((r) => setTimeout(r, 200));
    const lines = server.log().split('\n').filter((l) => l.includes('"api":"console"'));
    assert.ok(lines.length >= 2, 'console requests are logged');
  });
});

describe('an operator in the console', () => {
  const big = randomBytes(20 * 1024 * 1024);

  it('signs in with the root key from the root page', async () => {
    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByLabel('Access key ID').fill(server.accessKeyId);
    await page.getByLabel('Secret access key').fill(server.secretAccessKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Buckets' }).waitFor();
    await page.getByText('service role').waitFor();
    // Nothing of the secret in the URL, in localStorage, in sessionStorage in clear, or in a cookie.
    const kept = await page.evaluate<Record<string, string>>(`({ local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage), cookie: document.cookie, url: location.href })`);
    for (const [where, text] of Object.entries(kept)) assert.ok(!text.includes(server.secretAccessKey), `the secret is not in ${where}`);
    assert.match(kept.session, /aerostore\.console\.session/, 'the session is kept (encrypted) for a reload');
    await page.reload();
    await page.getByRole('heading', { name: 'Buckets' }).waitFor();
  });

  it('creates a bucket and deletes it after a confirmation', async () => {
    await page.getByLabel('New bucket name').fill('short-lived');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    const row = page.getByRole('row', { name: /short-lived/ });
    await row.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Delete the bucket "short-lived"? It must be empty.').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await s3.send({ method: 'HEAD', path: '/short-lived' })).status, 200, 'cancelled: still there');
    await row.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete bucket' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await s3.send({ method: 'HEAD', path: '/short-lived' })).status, 404);
  });

  it('creates a bucket, makes a folder and browses into it', async () => {
    await page.getByLabel('New bucket name').fill(BUCKET);
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.getByRole('link', { name: BUCKET }).click();
    await page.getByRole('heading', { name: BUCKET }).waitFor();
    await page.getByRole('button', { name: 'New folder' }).click();
    await page.getByLabel('Folder name').fill('reports');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByRole('link', { name: /reports\// }).click();
    await page.getByRole('heading', { name: 'reports' }).waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'reports' }).waitFor();
    assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/reports/` })).status, 200, 'the folder is an empty object ending in /');
  });

  it('uploads 20 MiB in parts with a progress bar that moves', async () => {
    // Slow the upload link so the bar has time to be seen (and photographed) moving.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 10 * 1024 * 1024 });
    // A string, not a function: tsx's transform would give a function a helper the page does not have.
    await page.evaluate(`(() => {
      const seen = (window.progressSeen = []);
      const look = () => {
        const bar = document.querySelector('progress');
        if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
        requestAnimationFrame(look);
      };
      look();
    })()`);
    await page.locator('#upload-input').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: big });
    // Polled from here: waitForFunction evaluates its predicate with eval, which the console's CSP refuses (as it should).
    const moving = `(() => { const bar = document.querySelector('progress'); return bar !== null && bar.value > 0 && bar.value < bar.max; })()`;
    while (!(await page.evaluate<boolean>(moving))) await new Promise((r) => setTimeout(r, 20));
    await shot('upload-progress');
    await page.locator('.uploads li', { hasText: 'big.bin' }).getByText('done').waitFor({ timeout: 60_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const seen = await page.evaluate<number[]>('window.progressSeen');
    const between = seen.filter((v) => v > 0 && v < big.length);
    assert.ok(between.length >= 3, `the bar moved through several values (${seen.join(', ')})`);
    assert.ok(
      between.every((v, i) => i === 0 || v >= between[i - 1]),
      'and only forward',
    );
    const head = await s3.send({ method: 'HEAD', path: `/${BUCKET}/reports/big.bin` });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), big.length);
    assert.match(String(head.headers.etag), /-3"$/, 'three 8 MiB parts: a multipart ETag');
    await page.getByRole('cell', { name: 'big.bin', exact: true }).waitFor();
    await shot('objects');
  });

  it('resumes a cancelled multipart upload where it stopped', async () => {
    const file = path.join(server.dataDir, 'resume.bin');
    const bytes = randomBytes(20 * 1024 * 1024);
    await writeFile(file, bytes);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024 });
    await page.locator('#upload-input').setInputFiles(file);
    const row = page.locator('.uploads li', { hasText: 'resume.bin' });
    // Into the second part, then the connection goes (Cancel stands for it: the XHR is aborted mid-part).
    const intoPartTwo = `(() => { const bars = [...document.querySelectorAll('.uploads li')].filter((li) => li.textContent.includes('resume.bin')); const bar = bars[0]?.querySelector('progress'); return !!bar && bar.value > 9 * 1024 * 1024; })()`;
    while (!(await page.evaluate<boolean>(intoPartTwo))) await new Promise((r) => setTimeout(r, 20));
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.getByText('cancelled').waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.locator('#upload-input').setInputFiles(file);
    await page.locator('.uploads li', { hasText: 'resume.bin' }).getByText('done').waitFor({ timeout: 60_000 });
    const got = await s3.send({ method: 'GET', path: `/${BUCKET}/reports/resume.bin` });
    assert.equal(sha256(got.body), sha256(bytes));
    await new Promise((r) => setTimeout(r, 200));
    const lines = server
      .log()
      .split('\n')
      .filter((l) => l.includes('"key":"reports/resume.bin"'))
      .map((l) => JSON.parse(l) as { op?: string; status?: number; aborted?: boolean });
    assert.equal(lines.filter((l) => l.op === 'CreateMultipartUpload').length, 1, 'one upload, resumed');
    assert.ok(lines.some((l) => l.op === 'ListParts' && l.status === 200), 'the second attempt asked which parts were there');
    assert.equal(lines.filter((l) => l.op === 'UploadPart' && l.status === 200 && !l.aborted).length, 3, 'part 1 was not sent again');
  });

  it('discards a cancelled multipart upload on the server', async () => {
    const file = path.join(server.dataDir, 'discard.bin');
    await writeFile(file, randomBytes(9 * 1024 * 1024));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
    await page.locator('#upload-input').setInputFiles(file);
    const row = page.locator('.uploads li', { hasText: 'discard.bin' });
    // Once its first part is on the way (so the multipart upload exists on the server).
    await expectEventually(async () => Number(await row.locator('progress').getAttribute('value')) > 0, 'the first part is being sent');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.getByText('cancelled').waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const pending = async () => (await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { uploads: '' } })).body.toString();
    await expectEventually(async () => (await pending()).includes('<Key>reports/discard.bin</Key>'), 'the upload was started');
    await row.getByRole('button', { name: 'Discard' }).click();
    await row.waitFor({ state: 'detached' });
    assert.doesNotMatch(await pending(), /discard\.bin/, 'aborted on the server');
    assert.deepEqual(await page.evaluate<string[]>(`Object.keys(sessionStorage).filter((k) => k.includes('discard.bin'))`), [], 'and forgotten');
  });

  it('downloads the object with the same bytes', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download big.bin' }).click()]);
    assert.equal(download.suggestedFilename(), 'big.bin');
    const got = await readFile((await download.path())!);
    assert.equal(sha256(got), sha256(big));
  });

  it('makes a share link that works signed out', async () => {
    await page.getByRole('button', { name: 'Share big.bin' }).click();
    await page.getByLabel('Link expires after').selectOption({ label: '1 day' });
    await page.getByRole('button', { name: 'Create link' }).click();
    const url = await page.getByLabel(/Share link/).inputValue();
    assert.match(url, /X-Amz-Expires=86400/);
    assert.ok(url.startsWith(`${server.url}/${BUCKET}/reports/big.bin?`));
    await page.getByRole('button', { name: 'Close' }).click();
    const stranger = await browser.newContext({ acceptDownloads: true });
    try {
      const tab = await stranger.newPage();
      const [download] = await Promise.all([tab.waitForEvent('download'), tab.goto(url).catch(() => undefined)]);
      assert.equal(sha256(await readFile((await download.path())!)), sha256(big));
      const res = await stranger.request.get(url);
      assert.equal(res.status(), 200);
      assert.equal(sha256(await res.body()), sha256(big));
      const cut = await stranger.request.get(url.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=' + '0'.repeat(64)));
      assert.equal(cut.status(), 403, 'a tampered link is refused');
    } finally {
      await stranger.close();
    }
  });

  it('copies and moves an object', async () => {
    await page.getByRole('button', { name: 'Copy or move big.bin' }).click();
    await page.getByLabel('To key').fill('reports/big-copy.bin');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByRole('cell', { name: 'big-copy.bin', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Copy or move big-copy.bin' }).click();
    await page.getByLabel('To key').fill('archive/big-copy.bin');
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await page.getByRole('cell', { name: 'big-copy.bin', exact: true }).waitFor({ state: 'detached' });
    assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/reports/big-copy.bin` })).status, 404);
    assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/archive/big-copy.bin` })).status, 200);
  });

  it('shows bucket figures, dedup savings included, to the service role', async () => {
    await page.getByRole('link', { name: 'Buckets', exact: true }).first().click();
    const row = page.getByRole('row', { name: new RegExp(BUCKET) });
    // big.bin, resume.bin and the copy of big.bin (stored once): 60 MiB named, 20 MiB saved.
    await row.getByRole('cell', { name: '60.0 MiB' }).waitFor();
    await row.getByRole('cell', { name: '20.0 MiB' }).waitFor();
    await shot('buckets');
  });

  it("changes a bucket's access, versioning and CORS in its settings", async () => {
    await page.getByRole('row', { name: new RegExp(BUCKET) }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: `Settings of ${BUCKET}` }).waitFor();
    const anonymousHead = async () => (await fetch(`${server.url}/${BUCKET}/reports/big.bin`, { method: 'HEAD' })).status;
    assert.equal(await anonymousHead(), 403);
    await page.getByLabel('Access').selectOption('public');
    await page.getByLabel(/File size limit/).fill('50MB');
    await page.getByRole('button', { name: 'Save access and limits' }).click();
    await page.getByText('Saved.').first().waitFor();
    assert.equal(await anonymousHead(), 200, 'public: anyone reads');
    await page.getByLabel('Access').selectOption('private');
    await page.getByRole('button', { name: 'Save access and limits' }).click();
    await expectEventually(async () => (await anonymousHead()) === 403, 'private again');
    await page.getByRole('button', { name: 'Enable versioning' }).click();
    await page.getByText('Versioning: Enabled').waitFor();
    assert.match((await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { versioning: '' } })).body.toString(), /<Status>Enabled<\/Status>/);
    const cors = '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>';
    await page.getByLabel(/CORS configuration/).fill(cors);
    await page.getByRole('button', { name: 'Save CORS configuration' }).click();
    await expectEventually(async () => (await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { cors: '' } })).body.toString().includes('https://app.example'), 'CORS stored');
  });

  it("shows an object's versions and edits its tags", async () => {
    for (const body of ['first', 'second']) assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}/notes.txt`, body })).status, 200);
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: BUCKET }).click();
    await page.getByRole('button', { name: 'Details of notes.txt' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('content-length').waitFor();
    await expectEventually(async () => (await dialog.getByRole('button', { name: 'Download this version' }).count()) === 2, 'two versions listed');
    await dialog.getByRole('button', { name: 'Add tag' }).click();
    await dialog.getByLabel('Tag key').fill('team');
    await dialog.getByLabel('Value').fill('ops');
    await dialog.getByRole('button', { name: 'Save tags' }).click();
    await expectEventually(async () => (await s3.send({ method: 'GET', path: `/${BUCKET}/notes.txt`, query: { tagging: '' } })).body.toString().includes('<Value>ops</Value>'), 'tag stored');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('deletes a folder and everything in it, after saying how much', async () => {
    await page.getByRole('row', { name: /archive\// }).getByRole('button', { name: 'Delete folder' }).click();
    await page.getByRole('dialog').getByText('the 1 object(s) in it').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('link', { name: /archive\// }).waitFor({ state: 'detached' });
    assert.equal((await s3.send({ method: 'HEAD', path: `/${BUCKET}/archive/big-copy.bin` })).status, 404);
  });

  it('creates an access key, shows its secret once, and revokes it', async () => {
    await page.getByRole('link', { name: 'Access keys' }).click();
    await page.getByRole('heading', { name: 'Access keys' }).waitFor();
    await page.getByLabel('Name (optional)').fill('console test');
    await page.getByRole('button', { name: 'Create key' }).click();
    const id = await page.locator('#new-key-id').inputValue();
    const secret = await page.locator('#new-key-secret').inputValue();
    assert.match(id, /^[A-Z0-9]{16,}$/);
    assert.ok(secret.length >= 30);
    const asKey = new S3RawClient(server.url, { accessKeyId: id, secretAccessKey: secret });
    assert.equal((await asKey.send({ method: 'GET', path: '/' })).status, 200, 'the new key signs requests');
    await page.getByRole('button', { name: 'I have stored the secret' }).click();
    await page.getByRole('cell', { name: id, exact: true }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone from the page');
    await shot('keys');
    await page.getByRole('button', { name: `Revoke ${id}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('cell', { name: id, exact: true }).waitFor({ state: 'detached' });
    assert.equal((await asKey.send({ method: 'GET', path: '/' })).status, 403, 'the revoked key is refused');
  });

  it("tails events live, and shows a webhook's deliveries", async () => {
    // A receiver on 127.0.0.1 that takes every delivery.
    let received = 0;
    const receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await s3.send({
        method: 'POST',
        path: '/admin/v1/webhooks',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bucket: BUCKET, url: hookUrl, event_types: ['storage.object.created'] }),
      });
      assert.equal(created.status, 201, created.body.toString());
      await page.getByRole('link', { name: 'Events' }).click();
      await page.getByText('Stream: live').waitFor();
      assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}/reports/live.txt`, body: 'hello' })).status, 200);
      await page.locator('.events li', { hasText: 'storage.object.created' }).filter({ hasText: 'reports/live.txt' }).waitFor();
      await expectEventually(async () => received > 0, 'the webhook delivered');
      const hook = page.locator('.webhooks > li', { hasText: hookUrl });
      await hook.getByRole('button', { name: 'Deliveries' }).click();
      await hook.locator('.state-delivered').first().waitFor();
      await shot('events');
    } finally {
      receiver.close();
    }
  });

  it('shows the server: version, disk, stored totals, and charts drawn from its own metrics', async () => {
    await page.getByRole('link', { name: 'Server' }).click();
    await page.getByRole('heading', { name: 'Server' }).waitFor();
    await page.locator('.cards dt', { hasText: 'database' }).waitFor();
    // /admin/v1/server, as the service role sees it.
    await page.getByText(/^0\.1\.0 \(Node v\d+/).waitFor();
    await page.getByText(/ of \d+(\.\d)? [KMGT]iB$/).first().waitFor();
    await page.locator('.cards dd', { hasText: / objects, .* blobs, / }).waitFor();
    // /admin/v1/metrics, scraped a second apart: the console's own requests move the counters.
    await expectEventually(async () => (await page.locator('.chart polyline').count()) === 5, 'five lines in four charts', 15_000);
    const requests = await page.getByRole('img', { name: /^Requests: all/ }).getAttribute('aria-label');
    assert.match(String(requests), /\/s; peak/);
    await shot('server');
  });

  it('shows the quarantine', async () => {
    await page.getByRole('link', { name: 'Quarantine' }).click();
    await page.getByText('Nothing is quarantined.').waitFor();
  });

  it('fits a phone-sized screen', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    try {
      const tab = await phone.newPage();
      watch(tab);
      await tab.goto(`${server.url}/console/`);
      await tab.getByLabel('Access key ID').fill(server.accessKeyId);
      await tab.getByLabel('Secret access key').fill(server.secretAccessKey);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('link', { name: BUCKET }).waitFor();
      const width = await tab.evaluate<number>('document.documentElement.scrollWidth');
      assert.ok(width <= 390, `no sideways scrolling (${width} px)`);
      await shot('buckets-phone', tab);
      await tab.getByRole('link', { name: BUCKET }).click();
      await tab.getByRole('link', { name: /reports\// }).click();
      await tab.getByText('big.bin', { exact: true }).waitFor();
      const objectsWidth = await tab.evaluate<number>('document.documentElement.scrollWidth');
      assert.ok(objectsWidth <= 390, `nor in a folder (${objectsWidth} px)`);
      await shot('objects-phone', tab);
    } finally {
      await phone.close();
    }
  });

  it('signs out and forgets the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const kept = await page.evaluate<string[]>(`Object.keys(sessionStorage).filter((k) => k.startsWith('aerostore.'))`);
    assert.deepEqual(kept, []);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

});

describe('a user signed in with a JWT', () => {
  it('gets temporary credentials through STS and sees only what the user may', async () => {
    const userId = '6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b';
    const token = await new SignJWT({ sub: userId, role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const user = await browser.newContext();
    try {
      const tab = await user.newPage();
      watch(tab);
      await tab.goto(`${server.url}/console/`);
      await tab.getByRole('button', { name: 'JWT' }).click();
      await tab.getByLabel('JSON Web Token').fill(token);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('heading', { name: 'Buckets' }).waitFor();
      assert.equal(await tab.getByRole('link', { name: 'Access keys' }).count(), 0, 'no service-role views');
      assert.equal(await tab.locator('.who', { hasText: 'service role' }).count(), 0);
      await tab.getByText('Sizes and dedup savings are shown to the service role only.').waitFor();
      await tab.getByText('No buckets yet.').waitFor();
      assert.equal(await tab.getByRole('link', { name: BUCKET }).count(), 0, "the root's private bucket is not listed");
      await tab.getByLabel('New bucket name').fill('user-bucket');
      await tab.getByRole('button', { name: 'Create bucket' }).click();
      await tab.getByRole('link', { name: 'user-bucket' }).click();
      await tab.locator('#upload-input').setInputFiles({ name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('from a user') });
      await tab.locator('.uploads li', { hasText: 'small.txt' }).getByText('done').waitFor();
      const stored = await s3.send({ method: 'GET', path: '/user-bucket/small.txt' });
      assert.equal(stored.body.toString(), 'from a user');
      assert.equal(stored.headers['content-type'], 'text/plain');
      // Dropped on the page rather than chosen: the same upload.
      const dropped = await tab.evaluateHandle(`(() => { const dt = new DataTransfer(); dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' })); return dt; })()`);
      await tab.dispatchEvent('section.dropzone', 'dragover', { dataTransfer: dropped });
      await tab.dispatchEvent('section.dropzone', 'drop', { dataTransfer: dropped });
      await tab.locator('.uploads li', { hasText: 'dropped.txt' }).getByText('done').waitFor();
      assert.equal((await s3.send({ method: 'GET', path: '/user-bucket/dropped.txt' })).body.toString(), 'dropped bytes');
      // The prefix search narrows the folder's listing.
      await tab.getByLabel('Search by prefix').fill('dro');
      await tab.getByRole('cell', { name: 'small.txt', exact: true }).waitFor({ state: 'detached' });
      await tab.getByRole('cell', { name: 'dropped.txt', exact: true }).waitFor();
      // A dialog is keyboard-operable: Escape closes it and focus returns to the button that opened it.
      await tab.getByRole('button', { name: 'Details of dropped.txt' }).focus();
      await tab.keyboard.press('Enter');
      await tab.getByRole('dialog').getByText('content-type').waitFor();
      await tab.keyboard.press('Escape');
      await tab.getByRole('dialog').waitFor({ state: 'detached' });
      await expectEventually(
        async () => (await tab.evaluate<string | null>(`document.activeElement?.getAttribute('aria-label') ?? null`)) === 'Details of dropped.txt',
        'focus back on the Details button',
        5_000,
      );
      // 31 minutes without a click or a key: the session is not restored, and it is wiped.
      await tab.evaluate(`sessionStorage.setItem('aerostore.console.active', String(Date.now() - 31 * 60_000))`);
      await tab.reload();
      await tab.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.deepEqual(await tab.evaluate<string[]>(`Object.keys(sessionStorage).filter((k) => k.startsWith('aerostore.'))`), []);
    } finally {
      await user.close();
    }
  });
});

describe('the pages', () => {
  it('logged no error and no CSP violation', () => {
    assert.deepEqual(problems, []);
  });
});

describe('stored content and the console origin', () => {
  it('runs no script of an uploaded HTML page on the console origin', async () => {
    const html = '<!doctype html><title>stored</title><script>document.title = "ran:" + (typeof sessionStorage);</script><p>hi</p>';
    assert.equal((await s3.send({ method: 'PUT', path: `/${BUCKET}/page.html`, body: html, headers: { 'content-type': 'text/html' } })).status, 200);
    const { path: signed } = await s3.sign({ method: 'GET', path: `/${BUCKET}/page.html`, presignExpiresIn: 300 });
    const tab = await context.newPage();
    try {
      const res = await tab.goto(server.url + signed);
      assert.ok(res);
      assert.match((await res.headerValue('content-security-policy')) ?? '', /^sandbox/);
      assert.equal(await tab.title(), 'stored', 'the script did not run');
    } finally {
      await tab.close();
    }
  });
});
