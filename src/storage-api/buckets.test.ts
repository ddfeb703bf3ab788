import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSize } from './buckets.ts';

describe('parseSize', () => {
  it('reads numbers and sizes with binary units', () => {
    assert.equal(parseSize(1024), 1024);
    assert.equal(parseSize('10MB'), 10 * 1024 ** 2);
    assert.equal(parseSize(' 1.5 gb '), 1.5 * 1024 ** 3);
    assert.equal(parseSize('7\tKB'), 7 * 1024);
    assert.equal(parseSize('512'), 512);
    for (const bad of [0, -1, 1.5, '', 'MB', '10 XB', '1e3', '0.1b', '10 MB x', '9999999999 TB']) assert.equal(parseSize(bad), undefined, String(bad));
  });

  it('stays linear on long runs of spaces (the regex used to try every split of them)', () => {
    const hostile = `100${' '.repeat(200_000)}x`;
    const started = performance.now();
    assert.equal(parseSize(hostile), undefined);
    const took = performance.now() - started;
    assert.ok(took < 1000, `took ${took.toFixed(0)} ms`);
  });
});
