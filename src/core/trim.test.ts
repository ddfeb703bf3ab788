import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trimChars } from './trim.ts';

describe('trimChars', () => {
  it('trims the end, and the start when asked', () => {
    assert.equal(trimChars('a,b,,', ','), 'a,b');
    assert.equal(trimChars(',,a', ','), ',,a');
    assert.equal(trimChars(' \t a  b \t', ' \t', { start: true }), 'a  b');
    assert.equal(trimChars(',,,', ','), '');
    assert.equal(trimChars('', '/'), '');
    assert.equal(trimChars('x', '/'), 'x');
  });

  it('takes a run of millions in one pass (a regex here was quadratic)', () => {
    const run = ','.repeat(2_000_000) + 'x' + ','.repeat(2_000_000);
    assert.equal(trimChars(run, ',').length, 2_000_001);
  });
});
