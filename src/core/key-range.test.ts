// compareKeys against the order it stands for: UTF-8 bytes (Postgres "C").
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compareKeys } from './key-range.ts';

const byBytes = (x: string, y: string) => Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));

it('orders keys as their UTF-8 bytes compare, surrogate pairs and U+E000–U+FFFF included', () => {
  const samples = ['a', 'b', 'ab', '', 'é', '\uffff', '\ue000', '😀', '\u{10ffff}', 'a😀', 'a\uffff', 'z', '~', '\u0001', '中', 'a/b', 'a0'];
  for (const x of samples) for (const y of samples) assert.equal(Math.sign(compareKeys(x, y)), byBytes(x, y), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  // Random keys over an alphabet that mixes every UTF-8 length.
  const alphabet = ['a', 'z', '/', 'é', 'ÿ', '中', '\ud7ff', '\ue000', '\uffff', '😀', '\u{10000}', '\u{10ffff}'];
  const random = () => Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  for (let i = 0; i < 5000; i++) {
    const [x, y] = [random(), random()];
    assert.equal(Math.sign(compareKeys(x, y)), byBytes(x, y), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  }
});
