// The web console (docs/console.md) at /console: the files that
// scripts/build-console.ts wrote to dist/console/, served as they are. The
// console is a single-page app that signs its own requests in the browser;
// the server keeps no session for it and sets no cookie. What the server adds
// is the headers that keep the page to itself: a Content-Security-Policy that
// allows only its own script and style (no inline script, no eval, nothing
// from elsewhere, no framing), nosniff, no referrer.
//
// A browser opening the service root (`GET /` as a navigation, no
// credentials, no query) is sent here; every S3 client's `GET /` is the
// ListBuckets it always was (isConsoleNavigation).
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { Hono } from 'hono';
import type { HttpEnv } from './env.ts';

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/** A built asset's name: flat, no path, a known type. Hashed names (app.3f2a9c1b.js) never change content. */
const ASSET = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[a-z]+$/;
const HASHED = /\.[0-9a-f]{8,}\.[a-z]+$/;

/**
 * The folder of the built console: dist/console/ of the package that holds
 * this file (found by walking up to package.json, so that the source and a
 * compiled copy of it both find it), or AEROSTORE_CONSOLE_DIR.
 */
export function consoleDir(): string {
  if (process.env.AEROSTORE_CONSOLE_DIR) return process.env.AEROSTORE_CONSOLE_DIR;
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'console');
}

/**
 * Whether `GET /` is a person's browser opening the service root rather than
 * an S3 client listing buckets: no credentials of any kind, no query, and a
 * navigation (Sec-Fetch-Mode, which browsers send) or an Accept that asks for
 * HTML. S3 clients sign ListBuckets; an unsigned one is refused anyway.
 */
export function isConsoleNavigation(method: string | undefined, target: string, headers: IncomingHttpHeaders): boolean {
  if (method !== 'GET' || target !== '/' || headers.authorization !== undefined) return false;
  if (headers['sec-fetch-mode'] === 'navigate') return true;
  const accept = headers.accept ?? '';
  return /(^|,)\s*text\/html/i.test(accept);
}

export function consoleApp({ region, dir = consoleDir() }: { region: string; dir?: string }): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  });
  app.get('/console', (c) => c.redirect('/console/', 301));
  // What the page needs to sign requests: the region of the credential scope. Nothing secret.
  app.get('/console/config.json', (c) => c.json({ region }, 200, { 'cache-control': 'no-store' }));
  app.get('/console/*', async (c) => {
    const rest = c.req.path.slice('/console/'.length);
    // Anything that is not a built file is the app's page (it routes on the fragment).
    const name = ASSET.test(rest) && rest !== 'index.html' ? rest : 'index.html';
    const file = path.join(dir, name);
    const found = await stat(file).then((s) => s.isFile(), () => false);
    if (!found) {
      if (name !== 'index.html') return c.text('Not found.\n', 404);
      return c.text('The console is not built: run `npm run build:console` (npm install does it), then reload.\n', 503, { 'cache-control': 'no-store' });
    }
    const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
    const cache = name === 'index.html' ? 'no-store' : HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache';
    const body = await readFile(file);
    return c.body(new Uint8Array(body), 200, { 'content-type': type, 'content-length': String(body.length), 'cache-control': cache });
  });
  return app;
}
