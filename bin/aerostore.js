#!/usr/bin/env node
// The `aerostore` command (`npx aerostore …` from a checkout): the compiled
// server in dist/ (built by npm install's prepare, or npm run build). From a
// checkout whose src/ changed since that build, it runs the sources through
// tsx instead (a dev dependency), so the command never runs stale code and
// costs no rebuild.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { distState } from './dist-state.js';

const root = path.resolve(import.meta.dirname, '..');
const state = distState(root);
if (state === 'fresh') {
  await import('../dist/main.js');
} else if (existsSync(path.join(root, 'src', 'main.ts'))) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`aerostore: dist/ is ${state === 'missing' ? 'missing' : 'older than src/'} and tsx is not installed: run npm run build\n`);
    process.exit(1);
  }
  register();
  await import('../src/main.ts');
} else {
  process.stderr.write('aerostore: dist/main.js is missing: run npm run build\n');
  process.exit(1);
}
