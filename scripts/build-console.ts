// `npm run build:console` (and `npm install`, through `prepare`): bundles the
// web console (console/, Preact + TSX) with esbuild into dist/console/:
// index.html, app.<hash>.js and app.<hash>.css. Everything the page needs is
// in those files (no CDN, nothing fetched at run time); the hashed names can
// be cached for ever, index.html never is (src/http/console.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'console');
const OUT = path.join(ROOT, 'dist', 'console');

const started = performance.now();
const result = await build({
  entryPoints: { app: path.join(SRC, 'main.tsx'), 'app-style': path.join(SRC, 'app.css') },
  bundle: true,
  write: false,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: OUT,
  legalComments: 'none',
  logLevel: 'warning',
});

await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
const names: Record<string, string> = {};
for (const file of result.outputFiles) {
  const ext = path.extname(file.path);
  const hash = createHash('sha256').update(file.contents).digest('hex').slice(0, 12);
  const name = `app.${hash}${ext}`;
  names[`app${ext}`] = name;
  await writeFile(path.join(OUT, name), file.contents);
}
const html = (await readFile(path.join(SRC, 'index.html'), 'utf8')).replace(/\{\{(app\.(?:js|css))\}\}/g, (_, n: string) => {
  if (!names[n]) throw new Error(`build-console: no output for ${n}`);
  return names[n];
});
await writeFile(path.join(OUT, 'index.html'), html);
console.error(`console built into ${path.relative(ROOT, OUT)}/ (${Object.values(names).join(', ')}) in ${Math.round(performance.now() - started)} ms`);
