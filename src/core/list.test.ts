import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prefixEnd } from './key-range.ts';
import { commonPrefix, isoMillis } from './list.ts';

const bytes = (s: string) => Buffer.from(s);

describe('prefixEnd', () => {
  it('is the least string above everything sharing the prefix, in UTF-8 byte order', () => {
    for (const p of ['a', 'dir/', 'a\u00ff', '\u{1F600}x', 'z\uD7FF', 'é']) {
      const end = prefixEnd(p)!;
      for (const tail of ['', '\u0001', 'zzz', '\u{10FFFF}\u{10FFFF}', '\uFFFF']) {
        assert.ok(Buffer.compare(bytes(p + tail), bytes(end)) < 0, `${p}+${JSON.stringify(tail)} < ${end}`);
      }
      assert.ok(!end.startsWith(p));
      assert.ok(Buffer.compare(bytes(p), bytes(end)) < 0);
    }
  });

  it('skips the surrogate gap and carries past U+10FFFF', () => {
    assert.equal(prefixEnd('a\uD7FF'), 'a\uE000');
    assert.equal(prefixEnd('ab\u{10FFFF}'), 'ac');
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('\u{10FFFF}'), undefined);
  });
});

describe('commonPrefix', () => {
  it('rolls a key up to the first delimiter after the prefix', () => {
    assert.equal(commonPrefix('a/b/c', '', '/'), 'a/');
    assert.equal(commonPrefix('a/b/c', 'a/', '/'), 'a/b/');
    assert.equal(commonPrefix('a/b', 'a/b', '/'), null);
    assert.equal(commonPrefix('photos::2024::x', 'photos::', '::'), 'photos::2024::');
    assert.equal(commonPrefix('abc', '', ''), null);
  });
});

describe('isoMillis', () => {
  it('writes what Date#toISOString writes, across days, years and before 1970', () => {
    const samples = [0, -1, 1, 86_399_999, 86_400_000, 951_782_400_000, 1_700_000_000_123, 253_402_300_799_999, -62_135_596_800_000];
    for (let ms = 1_600_000_000_000; samples.length < 5000; ms += 3_600_017 * 7 + 13) samples.push(ms, ms + 1, ms - 1);
    for (const ms of samples) assert.equal(isoMillis(ms), new Date(ms).toISOString(), String(ms));
  });
});
