// `npm run lint` (after eslint): the import graph of src/ has no cycle, and
// the layers depend only downwards (docs/architecture.md "Where a request
// goes"): the protocols (s3/, storage-api/, admin/, sts/) are never imported
// by the layers below them. Type-only imports count too: a cycle through
// types is still two modules that cannot be read apart.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Folders (under src/) that none of the listed folders may import from. */
const LAYERS: ReadonlyArray<{ from: readonly string[]; mayNotImport: readonly string[] }> = [
  { from: ['core', 'blobs', 'db', 'principals', 'events', 'scanning', 'maintenance'], mayNotImport: ['s3', 'storage-api', 'admin', 'sts', 'http'] },
  { from: ['storage-api', 'admin'], mayNotImport: ['s3'] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** The src/ files a file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.resolve(path.dirname(file), spec));
}

const files = sourceFiles(SRC);
const known = new Set(files);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => known.has(t))]));
const rel = (f: string) => path.relative(SRC, f);
const problems: string[] = [];

for (const [file, targets] of graph) {
  const top = rel(file).split(path.sep)[0];
  for (const rule of LAYERS) {
    if (!rule.from.includes(top)) continue;
    for (const target of targets) {
      const targetTop = rel(target).split(path.sep)[0];
      if (rule.mayNotImport.includes(targetTop)) problems.push(`layer: ${rel(file)} imports ${rel(target)} (${top}/ may not depend on ${targetTop}/)`);
    }
  }
}

// Cycles: Tarjan's strongly connected components; any component of more than one file is a cycle.
let index = 0;
const indexOf = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
function visit(v: string): void {
  indexOf.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!indexOf.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
  }
  if (low.get(v) === indexOf.get(v)) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) problems.push(`cycle: ${component.map(rel).sort().join(' ↔ ')}`);
  }
}
for (const f of files) if (!indexOf.has(f)) visit(f);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} import problem(s) in src/ (scripts/check-imports.ts)`);
  process.exit(1);
}
console.log(`imports: ${files.length} files, no cycle, layers respected`);
