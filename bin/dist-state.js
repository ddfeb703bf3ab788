// Whether dist/ (the compiled server, `npm run build:server`) is the build of
// the sources beside it. Plain JavaScript with no dependencies: bin/aerostore.js
// asks it before it chooses between dist/ and the TypeScript sources, and
// scripts/build-server.mjs before it rebuilds for `npm start`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Written last by scripts/build-server.mjs: its mtime is when the build finished. */
export const STAMP = '.build-stamp';

/** Inputs of the compiled server: a change to any of them makes dist/ stale (tests are not compiled). */
function newestInput(root) {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) {
    if (existsSync(path.join(root, f))) newest = Math.max(newest, statSync(path.join(root, f)).mtimeMs);
  }
  return newest;
}

/**
 * 'fresh': dist/ was built after the last change to src/ (or there is no src/,
 * as in the container image); 'stale': src/ changed since; 'missing': never built.
 */
export function distState(root) {
  const stamp = path.join(root, 'dist', STAMP);
  if (!existsSync(stamp) || !existsSync(path.join(root, 'dist', 'main.js'))) return 'missing';
  if (!existsSync(path.join(root, 'src'))) return 'fresh';
  return newestInput(root) <= statSync(stamp).mtimeMs ? 'fresh' : 'stale';
}
