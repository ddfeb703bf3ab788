// `npm run build:server`: compiles src/ (tests excluded) into dist/ with
// tsc -p tsconfig.build.json, then copies beside the output every file of
// src/ that tsc does not compile but the server reads by path at run time
// (the migrations' .sql, the MD5 worker's .mjs: see db/migrate.ts and
// blobs/md5-offload.ts), then stamps the build (bin/dist-state.js).
// dist/ is emptied first, so a migration renamed or removed in src/ is gone
// from dist/ too; dist/console/ (`npm run build:console`) is left alone.
//
// `--if-stale` (`npm start`'s prestart, and `prepare`): builds only when
// dist/ is missing or older than src/, so a checkout never starts
// yesterday's code, and `npm install` does not compile again what is
// already compiled. That matters for npx: the first `npx aerostore` in a
// checkout installs the checkout into npx's cache as a file: dependency,
// which runs its prepare — a full build, silently, for ~20 s, and one that
// empties dist/ under a server running from it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { distState, STAMP } from '../bin/dist-state.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
/** Another build writes here (the web console); this one never touches it. */
const KEEP = new Set(['console']);

if (process.argv.includes('--if-stale')) {
  const state = distState(ROOT);
  if (state === 'fresh') process.exit(0);
  process.stderr.write(`aerostore: dist/ is ${state === 'missing' ? 'missing' : 'older than src/'}: compiling (npm run build:server) …\n`);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('aerostore: cannot build dist/: TypeScript is not installed (it is a dev dependency: run npm install without --omit=dev)\n');
  process.exit(1);
}

mkdirSync(DIST, { recursive: true });
for (const entry of readdirSync(DIST)) {
  if (!KEEP.has(entry)) rmSync(path.join(DIST, entry), { recursive: true, force: true });
}

const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

let copied = 0;
const copyUncompiled = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, e.name);
    if (e.isDirectory()) copyUncompiled(from);
    else if (!e.name.endsWith('.ts')) {
      const to = path.join(DIST, path.relative(SRC, from));
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(from, to);
      copied++;
    }
  }
};
copyUncompiled(SRC);
writeFileSync(path.join(DIST, STAMP), `built from src/ at ${new Date().toISOString()}\n`);
process.stderr.write(`aerostore: compiled src/ into dist/ (${copied} other files copied beside)\n`);
