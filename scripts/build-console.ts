// `npm run build:console` (and `npm install`, through `prepare`): bundles the
// web console (console/, Preact + TSX) with esbuild into dist/console/:
// index.html, app.<hash>.js and app.<hash>.css. Everything the page needs is
// in those files (no CDN, nothing fetched at run time); the hashed names can
// be cached for ever, index.html never is (src/http/console.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

// esbuild and preact are devDependencies. A production install
// (`npm ci --omit=dev`, as a container's last stage may do) runs `prepare`
// too, without them: say so and leave the console unbuilt (the server
// answers 503 at /console/ naming this command) rather than fail the
// install. Any other failure fails the build.
const missing = ['esbuild', 'preact'].filter((name) => {
  try {
    import.meta.resolve(name);
    return false;
  } catch {
    return true;
  }
});
if (missing.length) {
  console.error(`build-console: ${missing.join(' and ')} not installed (a production install?): the console is not built. Run npm install, then npm run build:console.`);
  process.exit(process.env.AEROSTORE_CONSOLE_REQUIRED === '1' ? 1 : 0);
}
const { build } = await import('esbuild');
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
