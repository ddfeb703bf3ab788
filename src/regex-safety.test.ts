// Every regular expression the server runs is checked for super-linear
// backtracking (ReDoS) by recheck, a static analyser. Four slipped in before
// this test: an unanchored /,+$/ or /\/+$/ and a /\s*x?\s*$/, quadratic in
// a header (~90 ms for 16 KiB) or a JSON body (1 MB of slashes in a list
// prefix: minutes of CPU).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkSync } from 'recheck';
import ts from 'typescript';

const SRC = import.meta.dirname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each regular-expression literal in `file`, with its line. */
function regexLiterals(file: string): { line: number; source: string; flags: string }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { line: number; source: string; flags: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isRegularExpressionLiteral(node)) {
      const slash = node.text.lastIndexOf('/');
      found.push({ line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, source: node.text.slice(1, slash), flags: node.text.slice(slash + 1) });
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
      assert.fail(`${file}: new RegExp(...) cannot be checked statically; use a literal`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('regular expressions', () => {
  it('none in src/ backtracks super-linearly', () => {
    const unsafe: string[] = [];
    let checked = 0;
    for (const file of sourceFiles(SRC)) {
      for (const { line, source, flags } of regexLiterals(file)) {
        checked++;
        const result = checkSync(source, flags, { randomSeed: 1, timeout: 10_000 });
        if (result.status === 'safe') continue;
        const why = result.status === 'vulnerable' ? `${result.complexity.summary}, attack ${JSON.stringify(result.attack.pattern)}` : result.status;
        unsafe.push(`${file.slice(SRC.length + 1)}:${line} /${source}/${flags}: ${why}`);
      }
    }
    assert.ok(checked > 50, `found only ${checked} regular expressions: is the scan broken?`);
    assert.deepEqual(unsafe, []);
  });

  it('the checker itself finds a known quadratic pattern', () => {
    const result = checkSync(',+$', '', { randomSeed: 1 });
    assert.equal(result.status, 'vulnerable');
  });
});
