// A node:test reporter that prints how long each test file took (server
// start-up in before() hooks included), slowest first, with its number of
// tests and failures: the figures that decide which files belong in
// test:slow (test/support/slow-tests.txt).
//
//   node --import tsx --test --test-concurrency=1 \
//     --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./test/support/file-times-reporter.mjs --test-reporter-destination=/tmp/file-times.txt \
//     $(find src test -name '*.test.ts' | sort)
//
// Plain JavaScript: node loads reporters before --import tsx takes effect.
import path from 'node:path';

export default async function* fileTimes(source) {
  const started = Date.now();
  const files = new Map();
  const of = (file) => {
    let t = files.get(file);
    if (!t) files.set(file, (t = { start: undefined, seconds: undefined, tests: 0, failed: 0 }));
    return t;
  };
  for await (const { type, data } of source) {
    const file = data?.file;
    if (!file) continue;
    if (data.name === file) {
      // The file itself (node >= 20.x reports it as a test of its own).
      if (type === 'test:dequeue') of(file).start = Date.now();
      if (type === 'test:complete') {
        const t = of(file);
        t.seconds = (t.start === undefined ? data.details.duration_ms : Date.now() - t.start) / 1000;
      }
    } else if (data.nesting === 0 && (type === 'test:pass' || type === 'test:fail')) {
      const t = of(file);
      t.tests++;
      if (type === 'test:fail') t.failed++;
    }
  }
  const rows = [...files].map(([file, t]) => ({ file: path.relative(process.cwd(), file), ...t }));
  rows.sort((a, b) => (b.seconds ?? 0) - (a.seconds ?? 0));
  yield `total ${((Date.now() - started) / 1000).toFixed(1)} s, ${rows.length} files\n`;
  for (const r of rows) {
    const s = r.seconds === undefined ? '      ?' : r.seconds.toFixed(1).padStart(7);
    yield `${s} s  ${String(r.tests).padStart(4)} tests${r.failed ? ` ${r.failed} FAILED` : ''}  ${r.file}\n`;
  }
}
